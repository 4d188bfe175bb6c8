//! The sender's release link (issue #18, DESIGN §7): `sender_release = true`
//! puts a link in the held notice that lets the sender, proven by having
//! received the notice in their own mailbox, release the message with a
//! written justification. The link is `{review url}/sender/{id}.{expires}.{tag}`:
//! `tag` is an HMAC under a subkey of the store's key file over the message
//! id, its sender and the expiry, so it cannot be forged, moved to another
//! message or extended, and any node (all read the same key file) can check
//! it without a table. It works once: the release moves the message out of
//! `held`, and every link to a message that is not held is inert.

use super::notify::{self, SelfRelease};
use super::release::{self, ReleaseError, Released};
use crate::check::Verdict;
use crate::config::Config;
use crate::store::{AuditEntry, AuditEvent, AuditFilter, Handle, Store, StoreError};

/// The audit actor of a release by the message's own sender: never a
/// review user's name (those have no colon), so the trail and the page
/// say plainly who decided.
pub(crate) const ACTOR_PREFIX: &str = "sender:";

/// How long one sender's "stopped" notice keeps compliance from being told
/// again: less than a day, so tomorrow's first refusal tells them anew.
const STOPPED_PERIOD: std::time::Duration = std::time::Duration::from_secs(20 * 3600);

/// A link's token, split into what it names; not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token {
    /// The held message.
    pub(crate) id: String,
    /// When the link stops working (Unix seconds).
    pub(crate) expires: i64,
    tag: String,
}

/// Why a token does not open its message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refused {
    /// Not signed by this firm's key for this message and sender.
    Forged,
    /// Past its expiry.
    Expired,
}

/// What the tag covers: the purpose, so a tag made for something else
/// never opens a release, then the id, the sender and the expiry.
fn signed(id: &str, sender: &str, expires: i64) -> Vec<u8> {
    format!("sender-release\0{id}\0{sender}\0{expires}").into_bytes()
}

/// The link for a message about to be held, when its verdict lets the
/// sender release it and sender release is on (`[review]
/// sender_release_per_day` above 0), or when it is delayed (undo-send: the
/// link cancels it); `None` otherwise.
pub(crate) fn for_hold(
    cfg: &Config,
    store: &Handle,
    id: &str,
    sender: &str,
    verdict: &Verdict,
) -> Option<String> {
    let may_release = cfg.review.sender_release_per_day > 0 && verdict.sender_may_release();
    if !may_release && verdict.delay().is_none() {
        return None;
    }
    let hours = i64::try_from(cfg.review.sender_link_hours).unwrap_or(i64::MAX / 7200);
    let expires = chrono::Utc::now()
        .timestamp()
        .saturating_add(hours.saturating_mul(3600));
    let tag = store.sign_link(&signed(id, sender, expires));
    Some(format!("{}/sender/{id}.{expires}.{tag}", cfg.review_url()))
}

impl Token {
    /// Splits `text`; `None` when it is not shaped like a token (the page
    /// then answers as for an unknown message).
    pub(crate) fn parse(text: &str) -> Option<Token> {
        let mut parts = text.split('.');
        let (id, expires, tag) = (parts.next()?, parts.next()?, parts.next()?);
        let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
        if parts.next().is_some() || !hex(id, 16) || !hex(tag, 64) {
            return None;
        }
        Some(Token {
            id: id.to_string(),
            expires: expires.parse().ok()?,
            tag: tag.to_string(),
        })
    }

    /// Checks the token against the held message's sender at `now` (Unix
    /// seconds): the signature first, so an expired forgery reads as forged.
    pub(crate) fn check(&self, store: &Handle, sender: &str, now: i64) -> Result<(), Refused> {
        if !store.link_signed(&signed(&self.id, sender, self.expires), &self.tag) {
            return Err(Refused::Forged);
        }
        if now >= self.expires {
            return Err(Refused::Expired);
        }
        Ok(())
    }
}

/// Why a sender's release did not happen.
#[derive(Debug)]
pub(crate) enum SenderReleaseError {
    /// `[review] sender_release_per_day` reached: it stays held.
    Stopped,
    /// The release itself failed (see [`ReleaseError`]).
    Release(ReleaseError),
}

impl From<StoreError> for SenderReleaseError {
    fn from(e: StoreError) -> Self {
        SenderReleaseError::Release(ReleaseError::Store(e))
    }
}

/// Releases `id` for its `sender`, with the `justification` (checked by
/// the caller): stopped when the sender has released
/// `sender_release_per_day` messages in the last 24 hours (audited, and
/// compliance told once a day); else the same exactly-once release a
/// reviewer's is, audited as `release` by `sender:ADDRESS` with the
/// justification as its comment, and compliance told per
/// `[notify] compliance_mode`.
pub(crate) async fn release(
    cfg: &Config,
    store: Handle,
    id: &str,
    sender: &str,
    justification: &str,
) -> Result<Released, SenderReleaseError> {
    let actor = format!("{ACTOR_PREFIX}{sender}");
    if over_limit(cfg, &store, &actor).await? {
        stopped(cfg, &store, id, sender, &actor).await?;
        return Err(SenderReleaseError::Stopped);
    }
    let done = release::release(cfg, store.clone(), id, &actor, Some(justification))
        .await
        .map_err(SenderReleaseError::Release)?;
    let told = SelfRelease {
        seq: 0,
        id: id.to_string(),
        sender: sender.to_string(),
        at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        justification: justification.to_string(),
    };
    tell_compliance(cfg, &store, &told).await;
    Ok(done)
}

/// Compliance's notice of a sender release (per `[notify] compliance_mode`),
/// queued claimed by us and tried at once, as a delivery report is; the
/// outbox job retries it if the next hop does not take it now. The release
/// is done already: a notice that cannot be queued is logged, and the
/// release with its justification is in the trail and the digest anyway.
async fn tell_compliance(cfg: &Config, store: &Handle, told: &SelfRelease) {
    let Some(n) = notify::on_self_release(cfg, told) else {
        return;
    };
    let details =
        serde_json::json!({"message": told.id, "to": "compliance", "about": "self-release"});
    let event = AuditEvent::new("system", "notice-queued", details);
    let lease = notify::lease(cfg);
    match store
        .run(move |st| st.queue_notices(vec![n], event, lease))
        .await
    {
        Ok(queued) => {
            for n in queued {
                notify::settle(cfg, store, n).await;
            }
        }
        Err(e) => {
            tracing::error!(id = %told.id, error = %e, "cannot queue compliance's notice of a sender release")
        }
    }
}

/// True when `actor` has made `[review] sender_release_per_day` releases
/// in the last 24 hours (by the trail, so every node counts the same).
/// Checked before each release; two releases pressed at the same instant
/// may both pass the check, which is bounded by the sender's own mail.
async fn over_limit(cfg: &Config, store: &Handle, actor: &str) -> Result<bool, StoreError> {
    let limit = usize::try_from(cfg.review.sender_release_per_day).unwrap_or(usize::MAX);
    let filter = AuditFilter {
        kind: Some("release".into()),
        actor: Some(actor.to_string()),
        limit,
        ..AuditFilter::default()
    };
    let since = day_ago();
    let recent = store.run(move |st| st.audit_query(&filter)).await?;
    Ok(recent.iter().filter(|e| e.time >= since).count() >= limit)
}

/// Audits the refusal and tells compliance, at most once a day per sender
/// across the cluster (the job claim), so reloading the page does not
/// flood their mailbox.
async fn stopped(
    cfg: &Config,
    store: &Handle,
    id: &str,
    sender: &str,
    actor: &str,
) -> Result<(), StoreError> {
    let details = serde_json::json!({"message": id, "limit": cfg.review.sender_release_per_day});
    store
        .append(AuditEvent::new(actor, "sender-release-stopped", details))
        .await?;
    let notices: Vec<_> = notify::on_sender_stopped(cfg, sender, id)
        .into_iter()
        .collect();
    let job = format!("sender-stopped:{sender}");
    let claim = move |st: &dyn Store| st.claim_job_with(&job, STOPPED_PERIOD, notices);
    if store.run(claim).await? {
        store.outbox().wake.notify_one();
    }
    Ok(())
}

/// 24 hours ago, as the trail writes times.
fn day_ago() -> String {
    (chrono::Utc::now() - chrono::Duration::hours(24))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The sender releases since `since` (an RFC 3339 time), newest first,
/// from the last `scan` release entries of the trail.
pub fn self_releases(
    store: &dyn Store,
    since: &str,
    scan: usize,
) -> Result<Vec<SelfRelease>, StoreError> {
    let filter = AuditFilter {
        kind: Some("release".into()),
        limit: scan,
        ..AuditFilter::default()
    };
    let entries = store.audit_query(&filter)?;
    Ok(entries
        .iter()
        .filter(|e| e.time.as_str() >= since)
        .filter_map(as_self_release)
        .collect())
}

/// The digest's list: what senders released in the last 24 hours.
pub fn self_releases_today(store: &dyn Store) -> Result<Vec<SelfRelease>, StoreError> {
    self_releases(store, &day_ago(), 10_000)
}

fn as_self_release(e: &AuditEntry) -> Option<SelfRelease> {
    let sender = e.actor.strip_prefix(ACTOR_PREFIX)?;
    Some(SelfRelease {
        seq: e.seq,
        id: e.details["message"].as_str()?.to_string(),
        sender: sender.to_string(),
        at: e.time.clone(),
        justification: e.details["comment"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::Token;

    #[test]
    fn only_well_shaped_tokens_parse() {
        let tag = "ab".repeat(32);
        let good = format!("0123456789abcdef.1700000000.{tag}");
        let t = Token::parse(&good).unwrap();
        assert_eq!(
            (t.id.as_str(), t.expires),
            ("0123456789abcdef", 1_700_000_000)
        );
        for bad in [
            String::new(),
            format!("0123456789abcdef.1700000000.{tag}.x"),
            format!("0123456789abcdeg.1700000000.{tag}"),
            format!("0123456789abcdef.soon.{tag}"),
            format!("0123456789abcdef.1700000000.{}", &tag[1..]),
            format!("../../etc.1700000000.{tag}"),
        ] {
            assert!(Token::parse(&bad).is_none(), "{bad}");
        }
    }
}
