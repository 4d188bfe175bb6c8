//! Release from quarantine, exactly once even across a crash:
//! `held → releasing` is committed before anything is sent; after the next
//! hop accepted, `releasing → released`. A failure that certainly left the
//! next hop without the message goes back to `held`. A failure after the
//! body was sent (or a crash mid-relay) leaves the record in `releasing`:
//! it is reported at start and by `quarantine list`, never re-sent blindly,
//! because the next hop may already have it. A person decides.
//!
//! Each step writes its audit entry in the store's transaction: `release`
//! (who, with what comment) before sending, then `released` or
//! `release-failed`; an uncertain outcome is audited as `release-uncertain`.
//! Recipients the next hop refused (5xx) while it took the others are named
//! in `released`, and the sender gets a delivery report for them (RFC 3464,
//! [`super::dsn`]) through the outbox, queued in that same transaction.
//! Once released, the outside domains the next hop took are learned for
//! first contact (issue #18); a failure there is logged and counted only.

use super::{dsn, notify};
use crate::config::Config;
use crate::smtp::codec::{MailParams, Reply};
use crate::smtp::relay::{self, RelayConfig};
use crate::store::{AuditEvent, Handle, HeldMessage, Review, StoreError};
use thiserror::Error;

#[derive(Debug, Error)]
/// Why a release did not end in `released`; each variant says what state the message is left in.
pub enum ReleaseError {
    #[error(transparent)]
    /// The store failed: before sending, the message is unchanged; after the next hop's 250, it stays `releasing` (never re-sent blindly).
    Store(#[from] StoreError),
    #[error("the next hop did not take message {id}: {why}; it is held again")]
    /// The next hop certainly did not take it (refused, or no connection): it is `held` again.
    NotDelivered {
        /// The message.
        id: String,
        /// The next hop's reply or the connection error.
        why: String,
    },
    #[error("message {id} may or may not have reached the next hop ({why}); it stays 'releasing' for a person to check")]
    /// The connection broke after DATA: it may have been delivered, so it stays `releasing` for a person.
    Uncertain {
        /// The message.
        id: String,
        /// Where the conversation broke.
        why: String,
    },
}

/// What a successful release reports: recipients the next hop refused.
#[derive(Debug, Default)]
pub struct Released {
    /// Recipients the next hop refused (5xx on RCPT); the others got the message.
    pub refused: Vec<String>,
}

/// `releasing → released`, the refused recipients named in its audit
/// entry; the sender's delivery report for them (the accepted copies went,
/// so only a report tells the sender) is queued in the same transaction and
/// tried at once, the outbox job retrying it if the next hop does not take
/// it now. Returns the refused recipients.
async fn finish(
    cfg: &Config,
    store: &Handle,
    id: &str,
    msg: &HeldMessage,
    refused: &[(String, Reply)],
) -> Result<Vec<String>, ReleaseError> {
    let names: Vec<String> = refused.iter().map(|(r, _)| r.clone()).collect();
    for (rcpt, reply) in refused {
        tracing::warn!(id, rcpt = %rcpt, reply = reply.code, "next hop refused a recipient of a release");
    }
    let report = dsn::notice(cfg, id, &msg.summary.from, &msg.raw, refused);
    let (key, r, lease) = (id.to_string(), names.clone(), notify::lease(cfg));
    let queued = store
        .run(move |st| {
            st.finish_release_queueing(&key, &r, report.into_iter().collect(), Some(lease))
        })
        .await?;
    for n in queued {
        notify::settle(cfg, store, n).await;
    }
    Ok(names)
}

/// Releases `id` on behalf of `actor` (a user name or `cli:NAME`).
pub async fn release(
    cfg: &Config,
    store: Handle,
    id: &str,
    actor: &str,
    comment: Option<&str>,
) -> Result<Released, ReleaseError> {
    let (key, who, why) = (
        id.to_string(),
        actor.to_string(),
        comment.map(str::to_string),
    );
    let msg = store
        .run(move |st| {
            let by = Review {
                actor: &who,
                comment: why.as_deref(),
            };
            st.begin_release(&key, &by)
        })
        .await?;
    let sum = &msg.summary;
    let params = MailParams {
        size: None,
        eight_bit: msg.raw.iter().any(|b| *b >= 0x80),
        smtputf8: !sum.from.is_ascii() || sum.to.iter().any(|t| !t.is_ascii()),
    };
    let rc = RelayConfig::from_config(cfg);
    let result = relay::relay(&rc, &sum.from, &params, &sum.to, &msg.raw).await;
    let failed = match result {
        Ok(o)
            if o.data
                .as_ref()
                .is_some_and(|r| (200..300).contains(&r.code)) =>
        {
            crate::failpoint::hit("release-sent");
            let refused = finish(cfg, &store, id, &msg, &o.refused).await?;
            // Released mail went: its outside domains are known from now on.
            let went = (sum.to.as_slice(), refused.as_slice());
            super::first_contact::learn(cfg, &store, id, &sum.from, went).await;
            return Ok(Released { refused });
        }
        Ok(o) => match (o.data.as_ref(), o.refused.first()) {
            (Some(r), _) | (None, Some((_, r))) => format!("{r}"),
            (None, None) => "no recipient".into(),
        },
        Err(e) if e.maybe_delivered() => {
            let why = e.to_string();
            let event = AuditEvent::new(
                actor,
                "release-uncertain",
                serde_json::json!({"message": id, "reason": why}),
            );
            // The record stays `releasing` whatever happens here; a failed
            // audit write is logged, and the error below is reported anyway.
            store.append_or_log("release-uncertain", event).await;
            return Err(ReleaseError::Uncertain {
                id: id.to_string(),
                why,
            });
        }
        Err(e) => e.to_string(),
    };
    let (key, why) = (id.to_string(), failed.clone());
    store.run(move |st| st.abort_release(&key, &why)).await?;
    Err(ReleaseError::NotDelivered {
        id: id.to_string(),
        why: failed,
    })
}
