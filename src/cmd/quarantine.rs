//! `matterwall quarantine list|show|release|reject`: the store from the
//! command line, for administrators. Release and reject are audited with
//! the acting user as `cli:$USER`.

use anyhow::{bail, Context, Result};
use matterwall::act::release;
use matterwall::config::Config;
use matterwall::store::{self, HeldSummary, Review, Store};
use std::sync::Arc;

pub fn open_store(cfg: &Config) -> Result<Arc<dyn Store>> {
    let s = store::open(&cfg.store.url, &cfg.dir, cfg.store.key_file.as_deref())
        .context("cannot open the store")?;
    Ok(Arc::new(s))
}

pub fn list(cfg: &Config, json: bool) -> Result<()> {
    let held = open_store(cfg)?.list()?;
    if json {
        println!("{}", serde_json::to_string(&held)?);
        return Ok(());
    }
    for h in &held {
        println!("{}", line(h));
    }
    println!("{} message(s)", held.len());
    Ok(())
}

fn line(h: &HeldSummary) -> String {
    format!(
        "{}  {}  {:<9}  {:<7}  {} -> {}  [{}]",
        h.id,
        h.received_at,
        h.status,
        h.action,
        h.from,
        h.to.join(", "),
        h.rules.join(", ")
    )
}

/// Prints the summary and verdict, and the raw message only with `raw`:
/// content goes to a terminal only when asked for.
pub fn show(cfg: &Config, id: &str, raw: bool) -> Result<()> {
    let msg = open_store(cfg)?.get(id)?;
    if raw {
        use std::io::Write;
        std::io::stdout().write_all(&msg.raw)?;
        return Ok(());
    }
    println!("{}", line(&msg.summary));
    if let Some(c) = &msg.summary.comment {
        println!("comment: {c}");
    }
    println!("{}", msg.verdict_json);
    Ok(())
}

/// Who acts from the command line, as the audit trail names them.
pub fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

pub fn release(cfg: &Config, id: &str, comment: Option<&str>) -> Result<()> {
    let store = open_store(cfg)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let actor = cli_actor();
    let done = rt.block_on(release::release(cfg, store, id, &actor, comment))?;
    println!("{id}: released");
    if !done.refused.is_empty() {
        bail!("{id}: the next hop refused {}", done.refused.join(", "));
    }
    Ok(())
}

pub fn reject(cfg: &Config, id: &str, comment: Option<&str>) -> Result<()> {
    let actor = cli_actor();
    open_store(cfg)?.reject(
        id,
        &Review {
            actor: &actor,
            comment,
        },
    )?;
    println!("{id}: rejected");
    Ok(())
}
