//! The audit trail (DESIGN §8): append-only, hash-chained. Each entry's hash
//! is SHA-256 over the previous entry's hash and the entry's canonical form,
//! so editing, inserting or deleting an entry breaks the chain from there on.
//!
//! A chain alone does not catch a deleted *last* entry (what is left is still
//! a valid chain), nor a chain rewritten from some point on. So the store also
//! keeps a **head** (last seq and hash) in a separate record authenticated with
//! a key that lives outside the database (the store's key file): someone who
//! can edit the database but cannot read the key file can neither truncate
//! nor rewrite the trail unnoticed. Someone who has both (root on the host)
//! can; against that, export the trail regularly and keep the last hash
//! elsewhere — a later `verify` of an exported copy shows the divergence.
//!
//! What an entry holds is chosen by the caller: ids, envelope, rule names,
//! user names, comments — never message content or matched text.
//!
//! The walk in [`verify`] is backend-neutral: it reads entries through
//! [`AuditLog`] in pages, so it works the same on any store.

use super::{AuditLog, StoreError};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// The `prev_hash` of the first entry.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, as the caller describes it.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// A user name, `cli:NAME`, or `system` / `smtp` for the server itself.
    pub(crate) actor: String,
    /// `verdict`, `release`, `reject`, `login`, `login-failed`, `reload`, …
    pub(crate) kind: String,
    /// Ids and names only; never message content.
    pub(crate) details: Value,
}

impl AuditEvent {
    /// An event by `actor` (a user, `cli:NAME` or `system`) of kind `kind`; `details` holds ids and names only, never content.
    pub fn new(actor: impl Into<String>, kind: &str, details: Value) -> AuditEvent {
        AuditEvent {
            actor: actor.into(),
            kind: kind.to_string(),
            details,
        }
    }
}

/// One stored entry, as `audit export` writes it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry {
    /// Position in the chain, from 1.
    pub seq: u64,
    pub(crate) time: String,
    pub(crate) actor: String,
    /// What happened (`held`, `released`, `login`…).
    pub kind: String,
    /// Ids and names only; never message content.
    pub details: Value,
    pub(crate) prev_hash: String,
    pub(crate) hash: String,
}

/// The head record: the last entry's seq and hash, and whether the key
/// that authenticates it agrees.
#[derive(Debug, Clone)]
pub struct AuditHead {
    /// The last entry's seq (0: empty trail).
    pub seq: u64,
    pub(crate) hash: String,
    /// False when the head's MAC does not verify under the key: someone rewrote the trail.
    pub authentic: bool,
}

/// What the audit log page and `GET /api/audit` filter on.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only entries of this kind.
    pub kind: Option<String>,
    /// Only entries by this actor.
    pub actor: Option<String>,
    /// Entries whose details name this message id.
    pub message: Option<String>,
    /// Only entries with a seq below this (paging backwards from the newest).
    pub before: Option<u64>,
    /// At most this many entries.
    pub limit: usize,
}

/// The details as stored: the caller's, with `"node"` naming the node that
/// wrote the entry (issue #13). It sits inside `details`, so the entry hash
/// covers it and `audit verify` and older entries need no new format. A
/// caller that names a node itself (a copied entry) keeps its own.
pub(crate) fn stamp_node(details: &Value, node: &str) -> Value {
    match details {
        Value::Object(map) if !map.contains_key("node") => {
            let mut map = map.clone();
            map.insert("node".into(), node.into());
            Value::Object(map)
        }
        other => other.clone(),
    }
}

/// JSON with object keys sorted and no spaces: the same bytes whatever
/// order a map was built or stored in (a PostgreSQL `jsonb` column reorders).
pub(crate) fn canonical(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The entry's hash: SHA-256 over `prev_hash` and the canonical JSON array
/// `[seq, time, actor, kind, details]` (JSON, so no field can bleed into the
/// next whatever characters it holds).
pub fn entry_hash(
    prev_hash: &str,
    seq: u64,
    time: &str,
    actor: &str,
    kind: &str,
    details: &Value,
) -> String {
    let body = Value::Array(vec![
        seq.into(),
        time.into(),
        actor.into(),
        kind.into(),
        details.clone(),
    ]);
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(canonical(&body).as_bytes());
    hex(&h.finalize())
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The input the head's key authenticates.
pub(crate) fn head_message(seq: u64, hash: &str) -> String {
    format!("matterwall audit head v1\n{seq}\n{hash}")
}

/// Why `verify` failed, naming the first bad entry it can pin down.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// `None` when the head record itself is missing or forged.
    pub(crate) seq: Option<u64>,
    pub(crate) reason: String,
}

impl std::fmt::Display for Broken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.seq {
            Some(seq) => write!(f, "seq {seq}: {}", self.reason),
            None => write!(f, "{}", self.reason),
        }
    }
}

fn broken(seq: u64, reason: impl Into<String>) -> Broken {
    Broken {
        seq: Some(seq),
        reason: reason.into(),
    }
}

/// The result of a walk: how many entries are intact, or the first break.
pub(crate) type Verified = Result<u64, Broken>;

/// Walks the whole chain and checks it against the head.
pub fn verify<L: AuditLog + ?Sized>(log: &L) -> Result<Verified, StoreError> {
    Ok(verify_from(log, None)?.map(|last| last.map_or(0, |e| e.seq)))
}

/// Walks the chain on from `start` (an entry already trusted, e.g. the one
/// a signed checkpoint names; `None`: from the first entry) and checks the
/// end against the head. Returns the last entry, or the first break.
pub(crate) fn verify_from<L: AuditLog + ?Sized>(
    log: &L,
    start: Option<AuditEntry>,
) -> Result<Result<Option<AuditEntry>, Broken>, StoreError> {
    const PAGE: usize = 1000;
    let mut last = start;
    loop {
        let after = last.as_ref().map_or(0, |e| e.seq);
        let page = log.audit_after(after, PAGE)?;
        for e in &page {
            if let Err(b) = check_link(last.as_ref(), e) {
                return Ok(Err(b));
            }
            last = Some(e.clone());
        }
        if page.len() < PAGE {
            break;
        }
    }
    Ok(check_head(log.audit_head()?, last.as_ref()).map(|_| last))
}

/// The entry with this seq, if the store has it.
pub(crate) fn entry_at<L: AuditLog + ?Sized>(
    log: &L,
    seq: u64,
) -> Result<Option<AuditEntry>, StoreError> {
    let found = log.audit_after(seq.saturating_sub(1), 1)?;
    Ok(found.into_iter().next().filter(|e| e.seq == seq))
}

/// One entry against its predecessor.
fn check_link(prev: Option<&AuditEntry>, e: &AuditEntry) -> Result<(), Broken> {
    let (want_seq, want_prev) = prev.map_or((1, GENESIS), |p| (p.seq + 1, p.hash.as_str()));
    if e.seq > want_seq {
        return Err(broken(want_seq, "missing (deleted)"));
    }
    if e.seq < want_seq {
        return Err(broken(e.seq, "out of order or duplicated (inserted)"));
    }
    let again = entry_hash(&e.prev_hash, e.seq, &e.time, &e.actor, &e.kind, &e.details);
    if again != e.hash {
        return Err(broken(e.seq, "edited: its content does not match its hash"));
    }
    if e.prev_hash != want_prev {
        // This entry is consistent, so the predecessor's hash is not the one
        // this entry recorded when it was written: the predecessor changed.
        return Err(broken(
            e.seq - 1,
            format!(
                "edited or replaced: seq {} recorded another hash for it",
                e.seq
            ),
        ));
    }
    Ok(())
}

fn check_head(head: Option<AuditHead>, last: Option<&AuditEntry>) -> Verified {
    let head = match (head, last) {
        (None, None) => return Ok(0),
        (None, Some(_)) => {
            return Err(Broken {
                seq: None,
                reason: "the head record is missing".into(),
            })
        }
        (Some(h), _) => h,
    };
    if !head.authentic {
        return Err(Broken {
            seq: None,
            reason: "the head record was altered (its authentication fails)".into(),
        });
    }
    let (last_seq, last_hash) = last.map_or((0, GENESIS), |e| (e.seq, e.hash.as_str()));
    if last_seq < head.seq {
        return Err(broken(last_seq + 1, "missing (deleted from the end)"));
    }
    if last_seq > head.seq {
        return Err(broken(
            head.seq + 1,
            "inserted: the trail goes past its recorded head",
        ));
    }
    if last_hash != head.hash {
        return Err(broken(
            last_seq,
            "edited or replaced: the head recorded another hash for it",
        ));
    }
    Ok(last_seq)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_sorts_keys_at_every_depth() {
        let a = json!({"b": 1, "a": {"z": [1, {"y": 2, "x": "é\"<"}], "c": null}});
        assert_eq!(
            canonical(&a),
            r#"{"a":{"c":null,"z":[1,{"x":"é\"<","y":2}]},"b":1}"#
        );
    }

    #[test]
    fn hash_covers_every_field() {
        let d = json!({"message": "abc"});
        let base = entry_hash(GENESIS, 1, "t", "alice", "release", &d);
        assert_eq!(base.len(), 64);
        for other in [
            entry_hash(GENESIS, 2, "t", "alice", "release", &d),
            entry_hash(GENESIS, 1, "u", "alice", "release", &d),
            entry_hash(GENESIS, 1, "t", "bob", "release", &d),
            entry_hash(GENESIS, 1, "t", "alice", "reject", &d),
            entry_hash(
                GENESIS,
                1,
                "t",
                "alice",
                "release",
                &json!({"message": "abd"}),
            ),
            entry_hash(&"1".repeat(64), 1, "t", "alice", "release", &d),
        ] {
            assert_ne!(base, other);
        }
    }
}
