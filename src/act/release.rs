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

use crate::config::Config;
use crate::smtp::codec::MailParams;
use crate::smtp::relay::{self, RelayConfig};
use crate::store::{AuditEvent, Handle, Review, StoreError};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the next hop did not take message {id}: {why}; it is held again")]
    NotDelivered { id: String, why: String },
    #[error("message {id} may or may not have reached the next hop ({why}); it stays 'releasing' for a person to check")]
    Uncertain { id: String, why: String },
}

/// What a successful release reports: recipients the next hop refused.
#[derive(Debug, Default)]
pub struct Released {
    pub refused: Vec<String>,
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
            let key = id.to_string();
            let refused: Vec<String> = o.refused.into_iter().map(|(r, _)| r).collect();
            let r = refused.clone();
            store.run(move |st| st.finish_release(&key, &r)).await?;
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
