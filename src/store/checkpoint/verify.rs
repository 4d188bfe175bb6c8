//! Checking a trail against checkpoint lines: what `audit verify` and the
//! review interface's verify page report (truncation, rollback, forged or
//! unreadable lines, a key or file that went missing).

use super::{authentic, read, read_key, rolled_back, truncated, Checkpoint, Lines, Paths};
use crate::store::audit;
use crate::store::{AuditLog, StoreError};
use ed25519_dalek::VerifyingKey;
use std::path::Path;

/// What `audit verify` found in the checkpoint lines.
#[derive(Debug, Default)]
pub struct Report {
    /// Every problem, one sentence each: forged or unreadable lines,
    /// truncation, rollback.
    pub problems: Vec<String>,
    /// The newest authentic checkpoint.
    pub newest: Option<Checkpoint>,
    /// How many lines were authentic.
    pub checked: usize,
}

/// Checks every line of `lines` (from `file`, for the messages) against
/// `key` and against the chain: each authentic checkpoint's seq must still
/// be in the chain (`chain_end`: where an intact chain ends) with the same
/// hash.
pub fn check<L: AuditLog + ?Sized>(
    log: &L,
    file: &Path,
    lines: &Lines,
    key: &VerifyingKey,
    chain_end: Option<u64>,
) -> Result<Report, StoreError> {
    let mut r = Report::default();
    let at = |n: &usize| format!("{} line {n}", file.display());
    for (n, line) in lines {
        let cp = match line {
            Ok(cp) => cp,
            Err(e) => {
                r.problems
                    .push(format!("checkpoint unreadable: {}: {e}", at(n)));
                continue;
            }
        };
        if !authentic(cp, key) {
            r.problems.push(format!(
                "checkpoint FORGED: {}: its signature does not verify with the checkpoint key",
                at(n)
            ));
            continue;
        }
        r.checked += 1;
        if r.newest.as_ref().is_none_or(|c| c.seq < cp.seq) {
            r.newest = Some(cp.clone());
        }
    }
    let Some(newest) = &r.newest else {
        return Ok(r);
    };
    // The newest tells truncation; every one tells a rewrite behind it.
    if newest.seq > 0 && audit::entry_at(log, newest.seq)?.is_none() {
        r.problems.push(format!(
            "audit trail {}",
            truncated(newest, chain_end).reason
        ));
    }
    for (_, line) in lines {
        let Ok(cp) = line else { continue };
        if cp.seq == 0 || !authentic(cp, key) {
            continue;
        }
        if let Some(e) = audit::entry_at(log, cp.seq)? {
            if e.hash != cp.hash {
                r.problems.push(format!(
                    "audit trail at seq {}: {}",
                    cp.seq,
                    rolled_back(cp).reason
                ));
            }
        }
    }
    Ok(r)
}

/// Checks the trail against the checkpoint lines in `file` (the configured
/// one or a copy kept elsewhere) signed by the key at `paths.key`.
/// `None`: never checkpointed (no key, no file), nothing to compare. A key
/// without a file, a file without a key, or a file without a checkpoint is
/// a problem in the report: checkpoints existed and are gone.
pub fn check_files<L: AuditLog + ?Sized>(
    log: &L,
    paths: &Paths,
    file: &Path,
    chain_end: Option<u64>,
) -> Result<Option<Report>, StoreError> {
    let key = read_key(&paths.key)?;
    let lines = read(file)?;
    let gone = |problem: String| Report {
        problems: vec![problem],
        ..Report::default()
    };
    Ok(match (key, lines) {
        (None, None) => None,
        (None, Some(_)) => Some(gone(format!(
            "checkpoint key {} is missing: the checkpoints cannot be checked",
            paths.key.display()
        ))),
        (Some(_), None) => Some(gone(format!(
            "checkpoint file {} is missing",
            file.display()
        ))),
        (Some(key), Some(lines)) => {
            let mut r = check(log, file, &lines, &key.verifying_key(), chain_end)?;
            if r.newest.is_none() && r.problems.is_empty() {
                r.problems.push(format!(
                    "checkpoint file {} has no checkpoint",
                    file.display()
                ));
            }
            Some(r)
        }
    })
}
