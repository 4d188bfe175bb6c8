//! `matterwall audit verify` and `matterwall audit export`.

use super::quarantine::open_store;
use anyhow::Result;
use matterwall::config::Config;
use matterwall::store::audit;
use std::io::Write;
use std::process::ExitCode;

/// Walks the chain; exit 0 when intact, 1 naming the first bad entry.
pub fn verify(cfg: &Config) -> Result<ExitCode> {
    let store = open_store(cfg)?;
    match audit::verify(store.as_ref())? {
        Ok(n) => {
            println!("audit trail intact: {n} entries");
            Ok(ExitCode::SUCCESS)
        }
        Err(broken) => {
            println!("audit trail BROKEN at {broken}");
            Ok(ExitCode::from(1))
        }
    }
}

/// Every entry, oldest first, one JSON object per line on standard output.
pub fn export(cfg: &Config) -> Result<ExitCode> {
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
