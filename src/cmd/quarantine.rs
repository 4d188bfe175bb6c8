//! `matterwall quarantine list|show|release|approve|resolve|reject|digest|expire`:
//! the store from the command line, for administrators. Release, approve,
//! resolve and reject are audited with the acting user as `cli:$USER`.
//!
//! Four-eyes (issue #18): `release` refuses a two-person message that no
//! one else approved, rather than quietly recording an approval: a script
//! that runs `release` expects the message to leave or the command to
//! fail, never an exit 0 with the message still held. `approve` is the
//! first reviewer's step, said out loud.

use anyhow::{bail, Context, Result};
use matterwall::act::{notify, release, sender_link};
use matterwall::config::Config;
use matterwall::store::{
    self, Delivery, Handle, HeldSummary, QueuedNotice, Review, Store, StoreError,
};
use std::sync::Arc;

pub(crate) fn open_store(cfg: &Config) -> Result<Arc<dyn Store>> {
    store::open(
        &cfg.store.url,
        &cfg.dir,
        cfg.store.key_file.as_deref(),
        cfg.store.node.as_deref(),
    )
    .context("cannot open the store")
}

pub(crate) fn list(cfg: &Config, json: bool) -> Result<()> {
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
    let awaiting = h
        .awaiting
        .as_deref()
        .map(|a| format!("  ({a})"))
        .unwrap_or_default();
    format!(
        "{}  {}  {:<9}  {:<7}  {} -> {}  [{}]{awaiting}",
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
pub(crate) fn show(cfg: &Config, id: &str, raw: bool) -> Result<()> {
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
pub(crate) fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{user}")
}

pub(crate) fn release(cfg: &Config, id: &str, comment: Option<&str>) -> Result<()> {
    let store = open_store(cfg)?;
    let actor = cli_actor();
    let done = runtime()?.block_on(release::release(
        cfg,
        Handle::new(store),
        id,
        &actor,
        comment,
    ));
    let done = match done {
        Err(release::ReleaseError::Store(e @ store::StoreError::FourEyes(_))) => {
            bail!(
                "{e} (the first reviewer runs `matterwall quarantine approve {id} --comment TEXT`)"
            )
        }
        other => other?,
    };
    println!("{id}: released");
    if !done.refused.is_empty() {
        bail!(
            "{id}: the next hop refused {} (the sender gets a delivery report)",
            done.refused.join(", ")
        );
    }
    Ok(())
}

/// Four-eyes (issue #18): the first reviewer's approval; a second,
/// different person then releases.
pub fn approve(cfg: &Config, id: &str, comment: &str) -> Result<()> {
    let store = open_store(cfg)?;
    let actor = cli_actor();
    let by = Review {
        actor: &actor,
        comment: Some(comment),
    };
    store.approve(id, &by)?;
    println!("{id}: approved by {actor}, awaiting a second reviewer");
    Ok(())
}

/// Settles a message stuck in `releasing`: the operator has looked at the
/// next hop's log, which is the only place that knows whether it went.
pub(crate) fn resolve(cfg: &Config, id: &str, delivered: bool) -> Result<()> {
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

/// Rejects, the sender's notice (with the comment, when there is one)
/// queued in the rejection's transaction, then tried once here.
pub(crate) fn reject(cfg: &Config, id: &str, comment: Option<&str>) -> Result<()> {
    let store = open_store(cfg)?;
    let actor = cli_actor();
    let why = comment.unwrap_or("(none)");
    // A damaged record may still be rejected; its sender is not told (the
    // envelope cannot be trusted), as in the review interface.
    let notices = match store.get(id) {
        Ok(m) => notify::on_reject(cfg, &m.summary, why)
            .into_iter()
            .collect(),
        Err(StoreError::Damaged(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    let by = Review {
        actor: &actor,
        comment,
    };
    let queued = store.reject_queueing(id, &by, notices, Some(notify::lease(cfg)))?;
    println!("{id}: rejected");
    for outcome in send_now(cfg, store, queued)? {
        match outcome {
            Delivery::Sent => println!("{id}: the sender was told"),
            Delivery::Retry { why, .. } => println!(
                "{id}: the sender's notice is queued (the next hop said: {why}); \
                 the serve process's outbox retries it"
            ),
            Delivery::GiveUp { why } => {
                eprintln!("{id}: the sender could not be told ({why}); the rejection stands")
            }
        }
    }
    Ok(())
}

/// Sends compliance the digest of what is held now (what `serve` sends
/// daily at `[notify] digest_at` in `digest` mode); for cron or by hand.
/// It claims the day's digest for the cluster, as `serve` does, so cron on
/// every node (or cron beside `serve`) sends one digest, not one per node.
pub(crate) fn digest(cfg: &Config) -> Result<()> {
    let store = open_store(cfg)?;
    let held = store.list()?;
    let self_released = sender_link::self_releases_today(store.as_ref())?;
    let Some(n) = notify::digest(cfg, &held, &self_released) else {
        println!("nothing held, or no [notify] compliance address: no digest sent");
        return Ok(());
    };
    let lease = Some(notify::lease(cfg));
    let claimed = store.claim_job_queueing("digest", notify::DIGEST_PERIOD, vec![n], lease)?;
    let Some(queued) = claimed else {
        println!(
            "a digest went out less than {} hours ago (from this node or another): not sent again",
            notify::DIGEST_PERIOD.as_secs() / 3600
        );
        return Ok(());
    };
    let to = cfg.notify.compliance.join(", ");
    for outcome in send_now(cfg, store, queued)? {
        match outcome {
            Delivery::Sent => println!("digest sent to {to}"),
            Delivery::Retry { why, .. } => println!(
                "digest queued (the next hop said: {why}); the serve process's outbox retries it"
            ),
            Delivery::GiveUp { why } => bail!("the next hop refused the digest: {why}"),
        }
    }
    Ok(())
}

/// One attempt at each notice this command queued (and claimed): the
/// operator sees the outcome, and a notice the next hop did not take stays
/// in the outbox for the serve process's job (as does one whose attempt
/// this command did not live to record, once its claim lapses).
fn send_now(
    cfg: &Config,
    store: Arc<dyn Store>,
    queued: Vec<QueuedNotice>,
) -> Result<Vec<Delivery>> {
    let store = Handle::new(store);
    runtime()?.block_on(async {
        let mut out = Vec::new();
        for n in queued {
            out.push(notify::settle(cfg, &store, n).await);
        }
        Ok(out)
    })
}

/// Applies the retention period, and forgets first contacts past
/// `first_contact_days`, now (what `serve` does hourly).
pub(crate) fn expire(engine: &matterwall::engine::Engine) -> Result<()> {
    let cfg = &engine.config;
    let st = open_store(cfg)?;
    let gone = store::apply_retention(&*st, cfg.store.retention_days)?;
    for (id, was) in &gone {
        println!("{id}: expired (was {was}); content destroyed");
    }
    println!("{} message(s) expired", gone.len());
    let age = engine.policy.first_contact_max_age();
    let forgotten = store::forget_old_contacts(&*st, age)?;
    println!("{forgotten} first-contact pair(s) forgotten");
    Ok(())
}

fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}
