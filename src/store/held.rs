//! The quarantine's records as callers see them: what the act stage hands
//! over, what a listing shows, and how the review queue asks for a page.

use serde::{Deserialize, Serialize};

/// Where a held message is in its life: `held → releasing → released`,
/// `releasing → held` (the next hop refused), `held → rejected | expired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HeldStatus {
    Held,
    Releasing,
    Released,
    Rejected,
    Expired,
}

impl HeldStatus {
    /// Every status, in the order the queue's tabs show them.
    pub const ALL: [HeldStatus; 5] = [
        HeldStatus::Held,
        HeldStatus::Releasing,
        HeldStatus::Released,
        HeldStatus::Rejected,
        HeldStatus::Expired,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            HeldStatus::Held => "held",
            HeldStatus::Releasing => "releasing",
            HeldStatus::Released => "released",
            HeldStatus::Rejected => "rejected",
            HeldStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<HeldStatus> {
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
    Pass,
    Encrypt,
    Hold,
    Reject,
}

impl Action {
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
    pub from: String,
    pub to: Vec<String>,
    pub action: Action,
    pub rules: Vec<String>,
    /// Ids of the clients and matters mentioned (for the queue's filters;
    /// ids, not the words that matched).
    pub clients: Vec<String>,
    pub matters: Vec<String>,
    /// The Subject as decoded (encrypted at rest: it is content).
    pub subject: String,
    /// The full verdict as JSON (encrypted at rest: it names matched text).
    pub verdict_json: String,
    pub raw: Vec<u8>,
}

/// What a listing shows: the envelope, the verdict's names and ids, and the
/// subject; no body, no matched text.
#[derive(Debug, Clone, Serialize)]
pub struct HeldSummary {
    pub id: String,
    pub received_at: String,
    pub status: HeldStatus,
    pub from: String,
    pub to: Vec<String>,
    pub action: Action,
    pub rules: Vec<String>,
    pub clients: Vec<String>,
    pub matters: Vec<String>,
    pub subject: String,
    pub size: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Who released or rejected it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reviewed_by: Option<String>,
}

/// One held message, decrypted.
#[derive(Debug, Clone)]
pub struct HeldMessage {
    pub summary: HeldSummary,
    pub verdict_json: String,
    pub raw: Vec<u8>,
}

/// The column the queue is sorted by.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum HeldSort {
    #[default]
    Received,
    Sender,
    Size,
    Status,
}

impl HeldSort {
    pub fn parse(s: &str) -> Option<HeldSort> {
        Some(match s {
            "received" => HeldSort::Received,
            "sender" => HeldSort::Sender,
            "size" => HeldSort::Size,
            "status" => HeldSort::Status,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            HeldSort::Received => "received",
            HeldSort::Sender => "sender",
            HeldSort::Size => "size",
            HeldSort::Status => "status",
        }
    }
}

/// A page of the queue. Every filter given must hold.
#[derive(Debug, Clone, Default)]
pub struct HeldQuery {
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
    pub sort: HeldSort,
    pub ascending: bool,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct HeldPage {
    pub items: Vec<HeldSummary>,
    /// How many match the filters, over all pages.
    pub total: u64,
    /// How many more would match but are behind the caller's walls
    /// (`hide_matters`): the queue says so, without showing them.
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

/// The associated data every sealed part of a held record is bound to
/// (issue #15): its id, received time, envelope and the verdict columns the
/// queue shows, exactly as stored. Rewriting any of them in the file makes
/// the content fail to open, so a release refuses instead of sending it
/// elsewhere. Records sealed before this binding (id only) no longer open:
/// the product is pre-release, so no fallback that would weaken it.
pub(crate) fn binding(
    id: &str,
    received_at: &str,
    envelope: &str,
    action: &str,
    rules: &str,
) -> String {
    serde_json::json!([
        "matterwall held v2",
        id,
        received_at,
        envelope,
        action,
        rules
    ])
    .to_string()
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
