//! `matterwall quarantine list|show|release|resolve|reject|digest|expire`:
//! the store from the command line, for administrators. Release, resolve
//! and reject are audited with the acting user as `cli:$USER`.

use anyhow::{bail, Context, Result};
use matterwall::act::{notify, release};
use matterwall::config::Config;
use matterwall::store::{self, Handle, HeldSummary, Review, Store};
use std::sync::Arc;

pub fn open_store(cfg: &Config) -> Result<Arc<dyn Store>> {
    store::open(
        &cfg.store.url,
        &cfg.dir,
        cfg.store.key_file.as_deref(),
        cfg.store.node.as_deref(),
    )
    .context("cannot open the store")
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
    let actor = cli_actor();
    let done = runtime()?.block_on(release::release(
        cfg,
        Handle::new(store),
        id,
        &actor,
        comment,
    ))?;
    println!("{id}: released");
    if !done.refused.is_empty() {
        bail!("{id}: the next hop refused {}", done.refused.join(", "));
    }
    Ok(())
}

/// Settles a message stuck in `releasing`: the operator has looked at the
/// next hop's log, which is the only place that knows whether it went.
pub fn resolve(cfg: &Config, id: &str, delivered: bool) -> Result<()> {
    let store = open_store(cfg)?;
    if delivered {
        store.finish_release(id, &[])?;
        println!("{id}: marked released");
    } else {
        let why = format!("{}: the next hop did not get it", cli_actor());
        store.abort_release(id, &why)?;
        println!("{id}: back in the queue as held; release it again when ready");
    }
    Ok(())
}

/// Rejects, then tells the sender, with the comment when there is one.
pub fn reject(cfg: &Config, id: &str, comment: Option<&str>) -> Result<()> {
    let store = open_store(cfg)?;
    let actor = cli_actor();
    store.reject(
        id,
        &Review {
            actor: &actor,
            comment,
        },
    )?;
    println!("{id}: rejected");
    let held = store.get(id)?.summary;
    if let Some(notice) = notify::on_reject(cfg, &held, comment.unwrap_or("(none)")) {
        if runtime()?.block_on(notify::send(cfg, id, vec![notice])) == 0 {
            eprintln!("{id}: the sender could not be told (see the log); the rejection stands");
        }
    }
    Ok(())
}

/// Sends compliance the digest of what is held now (what `serve` sends
/// daily at `[notify] digest_at` in `digest` mode); for cron or by hand.
pub fn digest(cfg: &Config) -> Result<()> {
    let held = open_store(cfg)?.list()?;
    match notify::digest(cfg, &held) {
        None => println!("nothing held, or no [notify] compliance address: no digest sent"),
        Some(n) => {
            if runtime()?.block_on(notify::send(cfg, "digest", vec![n])) == 0 {
                bail!("the next hop did not take the digest");
            }
            println!("digest sent to {}", cfg.notify.compliance.join(", "));
        }
    }
    Ok(())
}

/// Applies the retention period now (what `serve` does hourly).
pub fn expire(cfg: &Config) -> Result<()> {
    let gone = store::apply_retention(&*open_store(cfg)?, cfg.store.retention_days)?;
    for (id, was) in &gone {
        println!("{id}: expired (was {was}); content destroyed");
    }
    println!("{} message(s) expired", gone.len());
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
