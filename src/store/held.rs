//! The quarantine's records as callers see them: what the act stage hands
//! over, what a listing shows, and how the review queue asks for a page.

use super::crypto::Sealer;
use serde::{Deserialize, Serialize};

/// Where a held message is in its life: `held → releasing → released`,
/// `releasing → held` (the next hop refused), `held → rejected | expired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeldStatus {
    /// In the quarantine, waiting for a reviewer.
    Held,
    /// A release is under way, or a node died in one: never re-sent blindly.
    Releasing,
    /// The next hop accepted it.
    Released,
    /// Refused by a reviewer; the sender was told.
    Rejected,
    /// Past retention: its content is destroyed.
    Expired,
}

impl HeldStatus {
    /// Every status, in the order the queue's tabs show them.
    pub(crate) const ALL: [HeldStatus; 5] = [
        HeldStatus::Held,
        HeldStatus::Releasing,
        HeldStatus::Released,
        HeldStatus::Rejected,
        HeldStatus::Expired,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            HeldStatus::Held => "held",
            HeldStatus::Releasing => "releasing",
            HeldStatus::Released => "released",
            HeldStatus::Rejected => "rejected",
            HeldStatus::Expired => "expired",
        }
    }

    pub(crate) fn parse(s: &str) -> Option<HeldStatus> {
        Self::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl std::fmt::Display for HeldStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// What a verdict does with a message. Actions order by severity: when
/// several rules fire, the greatest wins. Decided by the policy; defined
/// here, the lowest layer that keeps one, so a held record's action is the
/// same type from the verdict to the row and back (stored, and shown in the
/// API's JSON, as the lowercase name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Relayed unchanged.
    Pass,
    /// Relayed encrypted to each recipient's key.
    Encrypt,
    /// Kept for a reviewer.
    Hold,
    /// Refused with a 5xx.
    Reject,
}

impl Action {
    /// The action as written in a rule (`pass`, `encrypt`, `hold`, `reject`).
    pub fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "pass" => Action::Pass,
            "encrypt" => Action::Encrypt,
            "hold" => Action::Hold,
            "reject" => Action::Reject,
            other => {
                return Err(format!(
                    "unknown action {other:?} (pass, encrypt, hold, reject)"
                ))
            }
        })
    }

    /// The action as stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pass => "pass",
            Action::Encrypt => "encrypt",
            Action::Hold => "hold",
            Action::Reject => "reject",
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// A message to hold, as the act stage hands it over.
#[derive(Debug, Clone)]
pub struct NewHeld {
    /// From [`super::new_id`]: the same id names the message in the log line.
    pub id: String,
    /// The envelope sender.
    pub from: String,
    /// The envelope recipients.
    pub to: Vec<String>,
    /// What the rules decided.
    pub action: Action,
    /// The enforced rules that fired, by name.
    pub rules: Vec<String>,
    /// Ids of the clients and matters mentioned (for the queue's filters;
    /// ids, not the words that matched).
    pub clients: Vec<String>,
    /// Matter numbers mentioned.
    pub matters: Vec<String>,
    /// The Subject as decoded (encrypted at rest: it is content).
    pub subject: String,
    /// The full verdict as JSON (encrypted at rest: it names matched text).
    pub verdict_json: String,
    /// The message as received (encrypted at rest).
    pub raw: Vec<u8>,
    /// Issue #18: a rule asked for `release = "two-person"` (four-eyes).
    pub two_person: bool,
    /// Issue #18, undo-send: the message goes by itself this long after it
    /// is held, unless cancelled or decided first.
    pub delay: Option<std::time::Duration>,
}

/// What a listing shows: the envelope, the verdict's names and ids, and the
/// subject; no body, no matched text.
#[derive(Debug, Clone, Serialize)]
pub struct HeldSummary {
    /// The message id (also in the log line and the audit trail).
    pub id: String,
    /// RFC 3339, UTC, by the store's clock.
    pub received_at: String,
    /// Where it is in its life.
    pub status: HeldStatus,
    /// The envelope sender.
    pub from: String,
    /// The envelope recipients.
    pub to: Vec<String>,
    /// What the rules decided.
    pub action: Action,
    /// The enforced rules that fired, by name.
    pub rules: Vec<String>,
    pub(crate) clients: Vec<String>,
    pub(crate) matters: Vec<String>,
    /// The Subject as decoded.
    pub subject: String,
    pub(crate) size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The reviewer's comment on release or reject.
    pub comment: Option<String>,
    /// Who released or rejected it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewed_by: Option<String>,
    /// Issue #18: needs an approval and a release by two reviewers.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub two_person: bool,
    /// The first reviewer of a two-person message, once they approved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub approved_by: Option<String>,
    /// What a held two-person message waits for, as the queue, the page
    /// and the API say it ([`four_eyes_note`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<String>,
    /// Undo-send (issue #18): when it goes by itself if still held (RFC
    /// 3339, UTC). Only a pointer for the release job, which reads the
    /// delay again from the sealed verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
}

/// `received_at` (as the store writes times) plus `delay`, written the same
/// way, so due times compare as text in SQL; `None` without a delay.
pub(crate) fn due_at(received_at: &str, delay: Option<std::time::Duration>) -> Option<String> {
    let delay = chrono::Duration::from_std(delay?).ok()?;
    let received = chrono::DateTime::parse_from_rfc3339(received_at).ok()?;
    let due = received.with_timezone(&chrono::Utc) + delay;
    Some(due.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// "approved by X, awaiting a second reviewer" (or "awaiting two
/// reviewers") for a held two-person message; nothing otherwise.
pub(crate) fn four_eyes_note(
    two_person: bool,
    status: HeldStatus,
    approved_by: Option<&str>,
) -> Option<String> {
    if !two_person || status != HeldStatus::Held {
        return None;
    }
    Some(match approved_by {
        Some(by) => format!("approved by {by}, awaiting a second reviewer"),
        None => "awaiting two reviewers".into(),
    })
}

/// One held message, decrypted.
#[derive(Debug, Clone)]
pub struct HeldMessage {
    /// What a listing shows of it.
    pub summary: HeldSummary,
    /// The verdict as held (rules with the action and mode that fired).
    pub verdict_json: String,
    /// The message as received.
    pub raw: Vec<u8>,
}

/// The column the queue is sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HeldSort {
    #[default]
    /// When it was received (the default, newest first).
    Received,
    /// The envelope sender.
    Sender,
    /// The message's size.
    Size,
    /// Its status.
    Status,
}

impl HeldSort {
    pub(crate) fn parse(s: &str) -> Option<HeldSort> {
        Some(match s {
            "received" => HeldSort::Received,
            "sender" => HeldSort::Sender,
            "size" => HeldSort::Size,
            "status" => HeldSort::Status,
            _ => return None,
        })
    }
}

/// A page of the queue. Every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct HeldQuery {
    /// Only messages in this status.
    pub status: Option<HeldStatus>,
    /// A client id, exactly.
    pub client: Option<String>,
    /// A matter number, exactly.
    pub matter: Option<String>,
    /// Part of the envelope sender, any case.
    pub sender: Option<String>,
    /// A rule name, exactly.
    pub rule: Option<String>,
    /// Received at or after this RFC 3339 time.
    pub since: Option<String>,
    /// Received before this RFC 3339 time.
    pub until: Option<String>,
    /// Ethical walls (issue #15): messages that mention any of these
    /// matter numbers are left out, and counted in [`HeldPage::hidden`].
    pub hide_matters: Vec<String>,
    /// Reviewer scope (issue #18): with `Some`, only messages that mention
    /// at least one of these client ids (none, for an empty list); the
    /// rest are counted in [`HeldPage::hidden`] like walled ones.
    pub only_clients: Option<Vec<String>>,
    /// The column to sort by.
    pub sort: HeldSort,
    /// Oldest (or smallest) first.
    pub ascending: bool,
    /// Rows to skip (paging).
    pub offset: usize,
    /// At most this many rows.
    pub limit: usize,
}

#[derive(Debug, Clone, Serialize)]
/// One page of the queue.
pub struct HeldPage {
    /// The rows of this page.
    pub items: Vec<HeldSummary>,
    /// How many match the filters, over all pages.
    pub total: u64,
    /// How many more would match but are behind the caller's walls
    /// (`hide_matters`) or outside their scope (`only_clients`): the queue
    /// says so, without showing them.
    pub hidden: u64,
}

/// The audit kinds that change a held record's status, and the status each
/// leaves it in.
pub(crate) const STATUS_KINDS: [(&str, HeldStatus); 6] = [
    ("verdict", HeldStatus::Held),
    ("release", HeldStatus::Releasing),
    ("released", HeldStatus::Released),
    ("release-failed", HeldStatus::Held),
    ("reject", HeldStatus::Rejected),
    ("expired", HeldStatus::Expired),
];

/// The one decision both backends make before a status change (issue #15):
/// the audit trail's last status entry for `id` (`last_kind`) must leave it
/// in `from`, since the status column alone can be set back to `held` by
/// anyone who can write the file, the chained trail not without `audit
/// verify` seeing it. Resolving a `releasing` record the trail still calls
/// held sends nothing (an administrator says what happened), so it is
/// allowed: a crash, or a hand edit, between the two is resolved the same
/// way. On refusal `status` reads the record's column (asked only then) to
/// tell an unknown id, an honest wrong status and a damaged record apart.
pub(crate) fn trail_allows(
    id: &str,
    from: HeldStatus,
    last_kind: Option<&str>,
    status: impl FnOnce() -> Result<Option<HeldStatus>, super::StoreError>,
) -> Result<(), super::StoreError> {
    use super::StoreError;
    let trail = last_kind.and_then(|k| STATUS_KINDS.iter().find(|(n, _)| *n == k).map(|(_, s)| *s));
    let resolving = from == HeldStatus::Releasing && trail == Some(HeldStatus::Held);
    if trail == Some(from) || resolving {
        return Ok(());
    }
    match (status()?, trail) {
        (None, _) => Err(StoreError::NotFound(id.to_string())),
        // The trail says it is elsewhere: an honest wrong-status refusal.
        (Some(status), Some(t)) if status == t => Err(StoreError::WrongStatus {
            id: id.to_string(),
            status,
            wanted: from,
        }),
        _ => {
            tracing::error!(
                message = id,
                "held status disagrees with the audit trail: refused"
            );
            Err(StoreError::Damaged(id.to_string()))
        }
    }
}

/// The refusal when a guarded status change matched no row: the record's
/// status column (`status`, read after the UPDATE) says which.
pub(crate) fn refusal(
    id: &str,
    status: Option<HeldStatus>,
    wanted: HeldStatus,
) -> super::StoreError {
    use super::StoreError;
    match status {
        None => StoreError::NotFound(id.to_string()),
        Some(status) => StoreError::WrongStatus {
            id: id.to_string(),
            status,
            wanted,
        },
    }
}

/// A held record's subject, opened: empty when it has none (expired),
/// `(damaged)` when its seal fails (a listing still shows the rest).
pub(crate) fn open_subject(
    sealer: &Sealer,
    id: &str,
    nonce: Option<&[u8]>,
    sealed: Option<&[u8]>,
) -> String {
    match (nonce, sealed) {
        (Some(n), Some(s)) => sealer
            .open(format!("{id}/subject").as_bytes(), n, s)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|| "(damaged)".into()),
        _ => String::new(),
    }
}

/// The columns a held record's content is read from, as stored.
pub(crate) struct SealedContent<'a> {
    pub received_at: &'a str,
    pub envelope: &'a str,
    pub action: &'a str,
    pub rules: &'a str,
    pub raw: (&'a [u8], &'a [u8]),
    pub verdict: (&'a [u8], &'a [u8]),
}

/// Opens a held record's content and verdict (each a nonce and its
/// ciphertext) against its [`binding`]; an expired record has none left,
/// and a seal that fails is [`StoreError::Damaged`](super::StoreError::Damaged),
/// logged by id only.
pub(crate) fn open_content(
    sealer: &Sealer,
    summary: HeldSummary,
    c: SealedContent<'_>,
) -> Result<HeldMessage, super::StoreError> {
    use super::StoreError;
    let id = summary.id.as_str();
    if summary.status == HeldStatus::Expired {
        return Err(StoreError::Destroyed(id.to_string()));
    }
    let damaged = || {
        // No content in the log: the id says which record to look at.
        tracing::error!(
            message = id,
            "held record fails its seal: tampered or damaged"
        );
        StoreError::Damaged(id.to_string())
    };
    let bound = binding(
        id,
        c.received_at,
        c.envelope,
        (c.action, c.rules),
        summary.two_person,
    );
    let raw = sealer
        .open(bound.as_bytes(), c.raw.0, c.raw.1)
        .ok_or_else(damaged)?;
    let aad = format!("{bound}/verdict");
    let verdict = sealer
        .open(aad.as_bytes(), c.verdict.0, c.verdict.1)
        .ok_or_else(damaged)?;
    Ok(HeldMessage {
        summary,
        verdict_json: String::from_utf8_lossy(&verdict).into_owned(),
        raw,
    })
}

/// The associated data every sealed part of a held record is bound to
/// (issue #15): its id, received time, envelope and the verdict columns the
/// queue shows, exactly as stored. Rewriting any of them in the file makes
/// the content fail to open, so a release refuses instead of sending it
/// elsewhere. Records sealed before this binding (id only) no longer open:
/// the product is pre-release, so no fallback that would weaken it.
/// A two-person record (issue #18) binds that too, so clearing the
/// column cannot let one reviewer release it; other records bind what
/// they always did.
pub(crate) fn binding(
    id: &str,
    received_at: &str,
    envelope: &str,
    (action, rules): (&str, &str),
    two_person: bool,
) -> String {
    let mut v = serde_json::json!([
        "matterwall held v2",
        id,
        received_at,
        envelope,
        action,
        rules
    ]);
    if two_person {
        v.as_array_mut()
            .expect("an array")
            .push("two-person".into());
    }
    v.to_string()
}

/// Four-eyes (issue #18): may `actor` approve `msg` as its first reviewer?
/// Only a two-person message, not yet approved, and not by its sender.
pub(crate) fn may_approve(msg: &HeldSummary, actor: &str) -> Result<(), super::StoreError> {
    use super::StoreError::FourEyes;
    if !msg.two_person {
        return Err(FourEyes(format!(
            "message {} needs one reviewer: release or reject it",
            msg.id
        )));
    }
    if is_sender(msg, actor) {
        return Err(FourEyes(
            "the sender cannot review their own message".into(),
        ));
    }
    if let Some(by) = &msg.approved_by {
        return Err(FourEyes(format!(
            "message {} is already approved by {by}; a second reviewer releases it",
            msg.id
        )));
    }
    Ok(())
}

/// Four-eyes: may `actor` release `msg`, which the audit trail says
/// `approver` approved (read from the chained trail, not the column)? A
/// one-person message always; a two-person one only once approved, by
/// someone else, and never by its sender.
pub(crate) fn may_release(
    msg: &HeldSummary,
    actor: &str,
    approver: Option<&str>,
) -> Result<(), super::StoreError> {
    use super::StoreError::FourEyes;
    if !msg.two_person {
        return Ok(());
    }
    if is_sender(msg, actor) {
        return Err(FourEyes(
            "the sender cannot review their own message".into(),
        ));
    }
    match approver {
        None => Err(FourEyes(format!(
            "message {} needs two reviewers: a first one approves it, a second one releases it",
            msg.id
        ))),
        Some(a) if a == actor => Err(FourEyes(format!(
            "message {} was approved by {a}: a different reviewer must release it",
            msg.id
        ))),
        Some(_) => Ok(()),
    }
}

/// Review users named by their firm address (as walls need) are matched
/// against the envelope sender, in any case.
fn is_sender(msg: &HeldSummary, actor: &str) -> bool {
    !msg.from.is_empty() && msg.from.eq_ignore_ascii_case(actor.trim())
}

#[cfg(test)]
mod tests {
    use super::{trail_allows, HeldStatus};
    use crate::store::StoreError;

    fn decide(from: HeldStatus, last: Option<&str>, column: Option<HeldStatus>) -> String {
        match trail_allows("m1", from, last, || Ok(column)) {
            Ok(()) => "ok".into(),
            Err(StoreError::NotFound(_)) => "not found".into(),
            Err(StoreError::WrongStatus { .. }) => "wrong status".into(),
            Err(StoreError::Damaged(_)) => "damaged".into(),
            Err(e) => e.to_string(),
        }
    }

    fn summary(two_person: bool, approved_by: Option<&str>) -> super::HeldSummary {
        super::HeldSummary {
            id: "m1".into(),
            received_at: String::new(),
            status: HeldStatus::Held,
            from: "A.Partner@firm.example".into(),
            to: vec!["x@y.example".into()],
            action: super::Action::Hold,
            rules: Vec::new(),
            clients: Vec::new(),
            matters: Vec::new(),
            subject: String::new(),
            size: 0,
            comment: None,
            reviewed_by: None,
            two_person,
            approved_by: approved_by.map(str::to_string),
            awaiting: None,
            due_at: None,
        }
    }

    #[test]
    fn four_eyes_needs_two_different_reviewers_neither_the_sender() {
        use super::{may_approve, may_release};
        let sender = "a.partner@firm.example";
        assert!(may_approve(&summary(false, None), "rita").is_err());
        assert!(may_approve(&summary(true, None), "rita").is_ok());
        assert!(may_approve(&summary(true, None), sender).is_err());
        assert!(may_approve(&summary(true, Some("rita")), "ravi").is_err());
        assert!(may_release(&summary(false, None), "rita", None).is_ok());
        let two = summary(true, Some("rita"));
        assert!(
            may_release(&two, "ravi", None).is_err(),
            "the trail decides"
        );
        assert!(may_release(&two, "rita", Some("rita")).is_err());
        assert!(may_release(&two, sender, Some("rita")).is_err());
        assert!(may_release(&two, "ravi", Some("rita")).is_ok());
    }

    #[test]
    fn the_trail_decides_and_the_column_only_names_the_refusal() {
        use HeldStatus::*;
        let cases = [
            (Held, Some("verdict"), Some(Held), "ok"),
            (Releasing, Some("release"), Some(Releasing), "ok"),
            (Releasing, Some("release-failed"), Some(Releasing), "ok"),
            (Held, Some("released"), Some(Released), "wrong status"),
            (Held, Some("reject"), Some(Held), "damaged"),
            (Held, None, Some(Held), "damaged"),
            (Held, None, None, "not found"),
        ];
        for (from, last, column, want) in cases {
            assert_eq!(
                decide(from, last, column),
                want,
                "{from} {last:?} {column:?}"
            );
        }
    }
}
