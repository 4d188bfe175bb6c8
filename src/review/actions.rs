//! What the web pages and the API both do to the store: release, reject
//! (which tells the sender, with the comment), the audit entry for reading
//! held content, and the input checks in front of them. One place, so the two faces
//! cannot drift apart in what they accept or audit.

use super::ReviewState;
use crate::act::notify;
use crate::act::release::{self, ReleaseError, Released};
use crate::store::{AuditEvent, Handle, Review, StoreError};

/// Why an action was refused, as both faces report it.
#[derive(Debug)]
pub(crate) enum ActionError {
    BadInput(String),
    NotFound(String),
    /// The user's role or wall does not allow it.
    Forbidden(String),
    /// The message is not in a state that allows it.
    Conflict(String),
    /// The next hop did not (certainly) take a release.
    Upstream(String),
    Internal(String),
}

impl ActionError {
    pub(crate) fn message(&self) -> &str {
        match self {
            ActionError::BadInput(m)
            | ActionError::NotFound(m)
            | ActionError::Forbidden(m)
            | ActionError::Conflict(m)
            | ActionError::Upstream(m)
            | ActionError::Internal(m) => m,
        }
    }
}

impl From<StoreError> for ActionError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) | StoreError::Destroyed(_) => {
                ActionError::NotFound(e.to_string())
            }
            StoreError::Damaged(_) => ActionError::Internal(e.to_string()),
            StoreError::WrongStatus { .. } | StoreError::Exists(_) => {
                ActionError::Conflict(e.to_string())
            }
            StoreError::Invalid(_) => ActionError::BadInput(e.to_string()),
            StoreError::FourEyes(_) => ActionError::Forbidden(e.to_string()),
            other => {
                tracing::error!(error = %other, "store failure in the review interface");
                ActionError::Internal("the store failed; see the server log".into())
            }
        }
    }
}

/// Longest comment kept; the audit trail is not a document store.
pub(crate) const MAX_COMMENT: usize = 2000;

/// A reviewer's comment: required, trimmed, bounded, no control characters
/// other than line breaks and tabs.
pub(crate) fn comment(raw: &str) -> Result<String, ActionError> {
    let c = raw.trim();
    if c.is_empty() {
        return Err(ActionError::BadInput("a comment is required".into()));
    }
    if c.chars().count() > MAX_COMMENT {
        return Err(ActionError::BadInput(format!(
            "the comment is longer than {MAX_COMMENT} characters"
        )));
    }
    if c.chars()
        .any(|ch| ch.is_control() && ch != '\n' && ch != '\t' && ch != '\r')
    {
        return Err(ActionError::BadInput(
            "the comment has control characters".into(),
        ));
    }
    Ok(c.replace("\r\n", "\n"))
}

/// Appends one audit entry. Reading held content (`view`, `download`) is
/// audited before the content is shown, and a failed write refuses the
/// request: content nobody could account for afterwards is not shown.
pub(crate) async fn audit(
    store: &Handle,
    actor: &str,
    kind: &str,
    details: serde_json::Value,
) -> Result<(), ActionError> {
    store
        .append(AuditEvent::new(actor, kind, details))
        .await
        .map(|_| ())
        .map_err(|_| ActionError::Internal("the audit trail cannot be written".into()))
}

pub(crate) async fn release(
    state: &ReviewState,
    actor: &str,
    id: &str,
    raw_comment: &str,
) -> Result<Released, ActionError> {
    let c = comment(raw_comment)?;
    let engine = state.engine.load_full();
    let cfg = &engine.config;
    release::release(cfg, state.store.clone(), id, actor, Some(&c))
        .await
        .map_err(|e| match e {
            ReleaseError::Store(s) => ActionError::from(s),
            e @ (ReleaseError::NotDelivered { .. } | ReleaseError::Uncertain { .. }) => {
                ActionError::Upstream(e.to_string())
            }
        })
}

/// Four-eyes (issue #18): the first reviewer's approval of a two-person
/// message, with a comment; the store refuses the sender, a second
/// approval, and a message that needs only one reviewer.
pub(crate) async fn approve(
    state: &ReviewState,
    actor: &str,
    id: &str,
    raw_comment: &str,
) -> Result<(), ActionError> {
    let c = comment(raw_comment)?;
    let (who, key) = (actor.to_string(), id.to_string());
    state
        .store
        .run(move |s| {
            let by = Review {
                actor: &who,
                comment: Some(&c),
            };
            s.approve(&key, &by)
        })
        .await?;
    Ok(())
}

pub(crate) async fn reject(
    state: &ReviewState,
    actor: &str,
    id: &str,
    raw_comment: &str,
) -> Result<(), ActionError> {
    let c = comment(raw_comment)?;
    let (who, key, why) = (actor.to_string(), id.to_string(), c.clone());
    let engine = state.engine.load_full();
    // The sender's notice, with the comment, is queued in the rejection's
    // transaction; the outbox job sends it.
    state
        .store
        .run(move |s| {
            let by = Review {
                actor: &who,
                comment: Some(&why),
            };
            // A damaged record may still be rejected; its sender is not
            // told (the envelope cannot be trusted).
            let notices = match s.get(&key) {
                Ok(m) => notify::on_reject(&engine.config, &m.summary, &why),
                Err(StoreError::Damaged(_)) => None,
                Err(e) => return Err(e),
            };
            s.reject_with(&key, &by, notices.into_iter().collect())
        })
        .await?;
    state.store.outbox().wake.notify_one();
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn comments() {
        assert!(super::comment("  ").is_err());
        assert!(super::comment("a\u{7}b").is_err());
        assert!(super::comment(&"x".repeat(2001)).is_err());
        assert_eq!(super::comment(" ok\r\nfine ").unwrap(), "ok\nfine");
    }
}
