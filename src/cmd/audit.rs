//! `matterwall audit verify [--checkpoint FILE]`, `audit checkpoint` and
//! `audit export`.

use super::quarantine::open_store;
use anyhow::{Context, Result};
use matterwall::config::Config;
use matterwall::store::audit;
use matterwall::store::checkpoint::{self, Checkpointer, Paths};
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

/// Where this config keeps its checkpoints and their key.
fn paths(cfg: &Config) -> Paths {
    cfg.checkpoints().paths
}

/// Walks the chain, then checks it against the checkpoint lines (`file`, or
/// the configured one); exit 0 when both hold, 1 naming every problem.
pub(crate) fn verify(cfg: &Config, file: Option<&Path>) -> Result<ExitCode> {
    let store = open_store(cfg)?;
    let chain = audit::verify(store.as_ref())?;
    let mut ok = match &chain {
        Ok(n) => {
            println!("audit trail intact: {n} entries");
            true
        }
        Err(broken) => {
            println!("audit trail BROKEN at {broken}");
            false
        }
    };
    let paths = paths(cfg);
    let file = file.unwrap_or(&paths.file);
    let end = chain.as_ref().ok().copied();
    match checkpoint::check_files(store.as_ref(), &paths, file, end)? {
        // Never checkpointed: said on stderr, so stdout stays the one line
        // scripts already read.
        None => eprintln!("no checkpoints yet: truncation and rollback are not checked"),
        Some(r) => {
            for p in &r.problems {
                println!("{p}");
            }
            match (&r.newest, r.problems.is_empty()) {
                (Some(cp), true) => println!(
                    "checkpoints: {} checked; the newest (seq {}, {}) matches",
                    r.checked, cp.seq, cp.time
                ),
                _ => ok = false,
            }
        }
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Signs the trail's end now (after checking it extends the last one).
pub(crate) fn checkpoint(cfg: &Config) -> Result<ExitCode> {
    let store = open_store(cfg)?;
    let mut c = Checkpointer::open(paths(cfg)).context("cannot open the checkpoint key")?;
    match c.write(store.as_ref(), false) {
        Ok(Some(cp)) => {
            println!(
                "checkpoint: seq {} {} signed by {} in {}",
                cp.seq,
                cp.hash,
                cp.key,
                c.paths.file.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Ok(None) => Ok(ExitCode::SUCCESS),
        Err(e) => {
            println!("no checkpoint written: {e}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Every entry, oldest first, one JSON object per line on standard output.
pub(crate) fn export(cfg: &Config) -> Result<ExitCode> {
    let store = open_store(cfg)?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut after = 0;
    loop {
        let page = store.audit_after(after, 1000)?;
        for e in &page {
            serde_json::to_writer(&mut out, e)?;
            out.write_all(b"\n")?;
        }
        match page.last() {
            Some(e) if page.len() == 1000 => after = e.seq,
            _ => break,
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
