//! `[notify]` checked: the compliance addresses parse, the mode is known,
//! the digest time is a time, and every text names only placeholders that
//! exist (a typo like `{ruels}` would otherwise go out to every sender).

use super::raw::RawNotify;
use crate::text::address;
use chrono::NaiveTime;

/// When compliance hears about holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ComplianceMode {
    /// Per hold, when a fired rule says `notify_compliance`.
    Rule,
    EveryHold,
    /// One summary a day of what is still held.
    Digest,
    Off,
}

#[derive(Debug, Clone)]
pub struct Notify {
    pub(crate) from: String,
    pub compliance: Vec<String>,
    pub(crate) mode: ComplianceMode,
    pub(crate) digest_at: NaiveTime,
    pub(crate) texts: RawNotify,
    /// The outbox's first retry delay (doubling, at most an hour).
    pub(crate) retry: std::time::Duration,
    /// A notice this old is given up.
    pub(crate) give_up: std::time::Duration,
}

pub(crate) const PLACEHOLDERS: &[&str] =
    &["id", "rules", "recipients", "received", "comment", "firm"];

impl Notify {
    pub(crate) fn compile(
        raw: &RawNotify,
        internal_domains: &[String],
    ) -> Result<Notify, Vec<String>> {
        let mut problems = Vec::new();
        let mode = match raw.compliance_mode.as_str() {
            "rule" => ComplianceMode::Rule,
            "every-hold" => ComplianceMode::EveryHold,
            "digest" => ComplianceMode::Digest,
            "off" => ComplianceMode::Off,
            other => {
                problems.push(format!(
                    "[notify] compliance_mode: {other:?} is not rule, every-hold, digest or off"
                ));
                ComplianceMode::Off
            }
        };
        // HH:MM, or HH:MM:SS to the second (a test can schedule it a few
        // seconds ahead and watch the real job run).
        let digest_at = NaiveTime::parse_from_str(&raw.digest_at, "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(&raw.digest_at, "%H:%M:%S"))
            .unwrap_or_else(|_| {
                problems.push(format!(
                    "[notify] digest_at: {:?} is not HH:MM (or HH:MM:SS)",
                    raw.digest_at
                ));
                NaiveTime::MIN
            });
        let default_from = format!(
            "matterwall@{}",
            internal_domains.first().map_or("localhost", String::as_str)
        );
        let from = raw.from.clone().unwrap_or(default_from);
        for a in std::iter::once(&from).chain(&raw.compliance) {
            if let Err(why) = address::parse(a) {
                problems.push(format!("[notify] {a:?}: {why}"));
            }
        }
        for (key, text) in texts(raw) {
            // The sender's release paragraph also has its link and hours.
            let known: Vec<&str> = match key {
                "sender_release_text" => [PLACEHOLDERS, LINK_PLACEHOLDERS].concat(),
                "delayed_subject" | "delayed_text" => [PLACEHOLDERS, DELAY_PLACEHOLDERS].concat(),
                _ => PLACEHOLDERS.to_vec(),
            };
            if let Some(bad) = unknown_placeholder(text, &known) {
                problems.push(format!(
                    "[notify] {key}: unknown placeholder {{{bad}}} (known: {})",
                    known.join(", ")
                ));
            }
        }
        for (key, text) in [
            ("sender_release_text", &raw.sender_release_text),
            ("delayed_text", &raw.delayed_text),
        ] {
            if !text.contains("{link}") {
                problems.push(format!(
                    "[notify] {key} must contain {{link}}: the sender needs the link"
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Notify {
            from,
            compliance: raw.compliance.clone(),
            mode,
            digest_at,
            texts: raw.clone(),
            retry: std::time::Duration::from_secs(raw.retry_seconds.max(1)),
            give_up: std::time::Duration::from_secs(raw.give_up_hours.saturating_mul(3600)),
        })
    }
}

/// What `sender_release_text` takes besides [`PLACEHOLDERS`].
pub(crate) const LINK_PLACEHOLDERS: &[&str] = &["link", "hours"];
/// What `delayed_subject` and `delayed_text` take besides [`PLACEHOLDERS`].
pub(crate) const DELAY_PLACEHOLDERS: &[&str] = &["link", "due"];

fn texts(raw: &RawNotify) -> [(&'static str, &str); 10] {
    [
        ("held_subject", &raw.held_subject),
        ("held_text", &raw.held_text),
        ("rejected_subject", &raw.rejected_subject),
        ("rejected_text", &raw.rejected_text),
        ("compliance_subject", &raw.compliance_subject),
        ("compliance_text", &raw.compliance_text),
        ("digest_subject", &raw.digest_subject),
        ("sender_release_text", &raw.sender_release_text),
        ("delayed_subject", &raw.delayed_subject),
        ("delayed_text", &raw.delayed_text),
    ]
}

fn unknown_placeholder(text: &str, known: &[&str]) -> Option<String> {
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let close = after.find('}')?;
        let name = &after[..close];
        if !known.contains(&name) {
            return Some(name.to_string());
        }
        rest = &after[close + 1..];
    }
    None
}

/// `text` with each `{name}` replaced by its value, in one pass: a value
/// that itself contains `{id}` (a reviewer's comment) stays as written.
pub(crate) fn fill(text: &str, values: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len() + 128);
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let hit = after.find('}').and_then(|close| {
            let name = &after[..close];
            values
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (close, *v))
        });
        match hit {
            Some((close, value)) => {
                out.push_str(value);
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_is_one_pass() {
        let t = fill("{id}: {comment}", &[("id", "42"), ("comment", "see {id}")]);
        assert_eq!(t, "42: see {id}");
    }

    #[test]
    fn a_typo_in_a_placeholder_is_a_config_error() {
        let raw = RawNotify {
            held_text: "held: {ruels}".into(),
            ..RawNotify::default()
        };
        let e = Notify::compile(&raw, &["firm.example".into()]).unwrap_err();
        assert!(
            e[0].contains("held_text: unknown placeholder {ruels}"),
            "{e:?}"
        );
    }

    #[test]
    fn defaults_compile() {
        let n = Notify::compile(&RawNotify::default(), &["firm.example".into()]).unwrap();
        assert_eq!(n.from, "matterwall@firm.example");
        assert_eq!(n.mode, ComplianceMode::Rule);
    }
}
