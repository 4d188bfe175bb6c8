//! Rules: named conditions over the facts of one message, each with an action.
//! Compiled from the TOML once per load; evaluating one is a handful of
//! comparisons.

use super::recipients::RecipientStatus;
use super::Facts;
use crate::config::raw::{FirstContact, RawPolicy, RawRule};
use serde::{Deserialize, Serialize};

/// Actions by severity: when several rules fire, the greatest wins. The
/// type lives with the store, which keeps it on every held record.
pub use crate::store::held::Action;

/// Whether a rule acts (`enforce`) or only reports what it would have done
/// (`monitor`: how firms trial a new rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Mode {
    Enforce,
    Monitor,
}

/// A rule that fired, as it was when it fired: the verdict carries this,
/// so what acts on it (and a reviewer reading it after a reload that renamed
/// or changed the rule) sees the rule that decided, not the live one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FiredRule {
    /// The rule's name as written in the rules file.
    pub name: String,
    pub(crate) action: Action,
    pub(crate) mode: Mode,
    /// `release = "two-person"`: a held message needs an approval and a
    /// release by two different reviewers (issue #18). Sealed with the
    /// verdict, so editing the database cannot lift it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) two_person: bool,
    /// `sender_release = true`: the sender may release what this rule
    /// held, with a justification (issue #18). Sealed like `two_person`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) sender_release: bool,
    /// Undo-send (issue #18): the message waits this many seconds, then
    /// goes unless cancelled or decided. Sealed, so the release job reads
    /// the delay from the seal, not from a column anyone could edit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) delay_seconds: Option<u64>,
}

impl Mode {
    pub(crate) fn parse(s: &str) -> Result<Self, String> {
        match s {
            "enforce" => Ok(Mode::Enforce),
            "monitor" => Ok(Mode::Monitor),
            other => Err(format!("unknown mode {other:?} (enforce, monitor)")),
        }
    }
}

#[derive(Debug, Clone)]
/// One `[[rule]]`, compiled: its conditions checked against each verdict.
pub struct Rule {
    pub(crate) name: String,
    pub(crate) action: Action,
    /// For `encrypt`: what happens to a recipient without a usable key.
    pub(crate) fallback: Action,
    pub(crate) mode: Mode,
    pub(crate) when: When,
    pub(crate) add_header: Option<(String, String)>,
    pub(crate) notice: Option<String>,
    pub(crate) notify_sender: bool,
    pub(crate) notify_compliance: bool,
    /// `split = true`: hold only the recipients the rule fires for.
    pub(crate) split: bool,
    /// `release = "two-person"`.
    pub(crate) two_person: bool,
    /// `sender_release = true`.
    pub(crate) sender_release: bool,
    /// `delay_minutes`, in seconds.
    pub(crate) delay_seconds: Option<u64>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct When {
    pub(crate) mentions: Option<bool>,
    pub(crate) client: Vec<String>,
    pub(crate) matter: Vec<String>,
    pub(crate) detector: Vec<String>,
    pub(crate) min_matches: Option<usize>,
    pub(crate) any_recipient: Option<RecipientStatus>,
    pub(crate) all_recipients: Option<RecipientStatus>,
    pub(crate) screened: Option<bool>,
    pub(crate) sender: Vec<String>,
    pub(crate) uninspectable: Option<bool>,
    pub(crate) attachment_type: Vec<String>,
    pub(crate) min_size: Option<u64>,
    pub(crate) max_size: Option<u64>,
    /// Issue #18: tested per recipient (see `policy::first_contact`).
    pub(crate) first_contact: Option<FirstContact>,
}

impl Rule {
    /// Compiles one `[[rule]]`, checking names against what was loaded.
    pub(crate) fn compile(
        raw: &RawRule,
        global_mode: Mode,
        detectors: &[&str],
    ) -> Result<Rule, String> {
        let action = Action::parse(&raw.action)?;
        let fallback = match raw.fallback.as_deref() {
            None => Action::Hold,
            Some(_) if action != Action::Encrypt => {
                return Err("`fallback` only applies to encrypt".into())
            }
            Some(f) => Action::parse(f)?,
        };
        if fallback == Action::Encrypt {
            return Err("the fallback of encrypt cannot be encrypt".into());
        }
        let mode = match raw.mode.as_deref() {
            None => global_mode,
            Some(m) => Mode::parse(m)?,
        };
        let w = &raw.when;
        let status = |s: &Option<String>| s.as_deref().map(RecipientStatus::parse).transpose();
        let (any_recipient, all_recipients) =
            (status(&w.any_recipient)?, status(&w.all_recipients)?);
        for d in &w.detector {
            if !detectors.contains(&d.as_str()) {
                return Err(format!(
                    "unknown detector {d:?}: declare it in a [[detector]] table"
                ));
            }
        }
        let add_header = match &raw.add_header {
            None => None,
            Some(h) => {
                let (name, value) = h
                    .split_once(':')
                    .ok_or("add_header must be `Name: value`")?;
                let name = name.trim();
                if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic() && b != b':') {
                    return Err(format!("bad header name {name:?}"));
                }
                if value.chars().any(|c| c.is_control()) {
                    return Err(
                        "add_header's value must be one line, without control characters".into(),
                    );
                }
                Some((name.to_string(), value.trim().to_string()))
            }
        };
        if raw.split && action != Action::Hold {
            return Err("`split` only applies to hold".into());
        }
        let two_person = match raw.release.as_deref() {
            None | Some("one-person") => false,
            Some("two-person") => true,
            Some(other) => {
                return Err(format!(
                    "unknown release {other:?} (one-person, two-person)"
                ))
            }
        };
        let holds =
            action == Action::Hold || (action == Action::Encrypt && fallback == Action::Hold);
        if two_person && !holds {
            return Err("`release` only applies to a rule that can hold".into());
        }
        check_sender_release(raw, action, two_person)?;
        let delay_seconds = raw.delay_minutes.map(delay_in_seconds).transpose()?;
        check_delay(raw, action, two_person)?;
        let lower = |v: &[String]| v.iter().map(|s| s.to_ascii_lowercase()).collect();
        Ok(Rule {
            name: raw.name.clone(),
            action,
            fallback,
            mode,
            when: When {
                mentions: w.mentions,
                client: w.client.clone(),
                matter: w.matter.clone(),
                detector: w.detector.clone(),
                min_matches: w.min_matches,
                any_recipient,
                all_recipients,
                screened: w.screened,
                sender: lower(&w.sender),
                uninspectable: w.uninspectable,
                attachment_type: lower(&w.attachment_type),
                min_size: w.min_size,
                max_size: w.max_size,
                first_contact: w.first_contact,
            },
            add_header,
            notice: raw.notice.clone(),
            notify_sender: raw.notify_sender,
            notify_compliance: raw.notify_compliance,
            split: raw.split,
            two_person,
            sender_release: raw.sender_release,
            delay_seconds,
        })
    }

    /// This rule as a verdict records it when it fires.
    pub(crate) fn fired(&self) -> FiredRule {
        FiredRule {
            name: self.name.clone(),
            action: self.action,
            mode: self.mode,
            two_person: self.two_person,
            sender_release: self.sender_release,
            delay_seconds: self.delay_seconds,
        }
    }

    /// True when every condition holds for `facts`.
    pub(crate) fn fires(&self, facts: &Facts) -> bool {
        let w = &self.when;
        let eq = |want: Option<bool>, have: bool| want.is_none_or(|w| w == have);
        eq(w.mentions, facts.mentions)
            && (w.client.is_empty() || w.client.iter().any(|c| facts.client_ids.contains(c)))
            && (w.matter.is_empty() || w.matter.iter().any(|m| facts.matter_numbers.contains(m)))
            && (w.detector.is_empty() || w.detector.iter().any(|d| facts.detectors.contains(d)))
            && w.min_matches.is_none_or(|n| facts.match_count >= n)
            && w.any_recipient
                .is_none_or(|s| facts.recipients.iter().any(|r| r.has(s)))
            && w.all_recipients
                .is_none_or(|s| facts.recipients.iter().all(|r| r.has(s)))
            && eq(w.screened, facts.screened)
            && (w.sender.is_empty() || w.sender.iter().any(|s| sender_matches(s, &facts.sender)))
            && eq(w.uninspectable, facts.uninspectable)
            && (w.attachment_type.is_empty()
                || w.attachment_type
                    .iter()
                    .any(|t| facts.attachment_types.contains(t)))
            && w.min_size.is_none_or(|n| facts.size >= n)
            && w.max_size.is_none_or(|n| facts.size <= n)
            && w.first_contact
                .is_none_or(|fc| super::first_contact::fires(fc, &facts.recipients))
    }
}

/// `sender_release` is for a sender's own judgement on a hold rule; never
/// for an ethical wall (the sender may be the one walled off), for content
/// nobody could read, nor beside four-eyes (DESIGN §7). Refused at load, so
/// a rules file cannot promise what will not happen.
fn check_sender_release(raw: &RawRule, action: Action, two_person: bool) -> Result<(), String> {
    if !raw.sender_release {
        return Ok(());
    }
    if action != Action::Hold {
        return Err("`sender_release` only applies to hold".into());
    }
    if raw.when.screened == Some(true) {
        return Err(
            "`sender_release` is never allowed on an ethical wall (screened = true)".into(),
        );
    }
    if raw.when.uninspectable == Some(true) {
        return Err("`sender_release` is never allowed for uninspectable content".into());
    }
    if two_person {
        return Err("`sender_release` and release = \"two-person\" contradict each other".into());
    }
    Ok(())
}

/// The longest undo-send delay: a week (a held message's notice link and
/// a reviewer's attention are both measured in days, not months).
const MAX_DELAY_MINUTES: f64 = 7.0 * 24.0 * 60.0;

/// `delay_minutes` (or `[policy] delay_external_minutes`) in whole
/// seconds: more than zero, at most [`MAX_DELAY_MINUTES`].
pub(crate) fn delay_in_seconds(minutes: f64) -> Result<u64, String> {
    if !(minutes > 0.0 && minutes <= MAX_DELAY_MINUTES) {
        return Err(format!(
            "a delay of {minutes} minutes: expected more than 0 and at most {MAX_DELAY_MINUTES}"
        ));
    }
    Ok(((minutes * 60.0).round() as u64).max(1))
}

/// Undo-send releases by itself at the due time, so never what a wall or
/// unreadable content held, never beside four-eyes, and only on a hold
/// rule (a split's held part would need its own clock: not offered).
fn check_delay(raw: &RawRule, action: Action, two_person: bool) -> Result<(), String> {
    if raw.delay_minutes.is_none() {
        return Ok(());
    }
    if action != Action::Hold {
        return Err("`delay_minutes` only applies to hold".into());
    }
    if raw.when.screened == Some(true) || raw.when.uninspectable == Some(true) {
        return Err(
            "`delay_minutes` would release by itself what a wall or unreadable content held".into(),
        );
    }
    if two_person || raw.split {
        return Err("`delay_minutes` goes with neither release = \"two-person\" nor split".into());
    }
    Ok(())
}

/// A sender pattern is an address or a domain (subdomains included).
fn sender_matches(pattern: &str, sender: &str) -> bool {
    if pattern.contains('@') {
        return pattern == sender;
    }
    sender
        .rsplit_once('@')
        .is_some_and(|(_, d)| crate::text::address::within(d, pattern))
}

/// Compiles `[policy]` and every `[[rule]]` against the declared detector
/// names; each problem (naming the rule) is added to `problems`.
pub(crate) fn compile_all(
    policy: &RawPolicy,
    raw: &[RawRule],
    detectors: &[&str],
    problems: &mut Vec<String>,
) -> Vec<Rule> {
    let global_mode = match policy.mode.as_deref() {
        None | Some("enforce") => Mode::Enforce,
        Some("monitor") => Mode::Monitor,
        Some(other) => {
            problems.push(format!(
                "[policy] mode {other:?}: expected enforce or monitor"
            ));
            Mode::Enforce
        }
    };
    let mut rules: Vec<Rule> = Vec::new();
    for r in raw {
        if rules.iter().any(|o| o.name == r.name) {
            problems.push(format!("[[rule]] {:?}: duplicate name", r.name));
            continue;
        }
        match Rule::compile(r, global_mode, detectors) {
            Ok(rule) => rules.push(rule),
            Err(e) => problems.push(format!("[[rule]] {:?}: {e}", r.name)),
        }
    }
    if rules.is_empty() {
        problems.push("no [[rule]] tables: with no rules every message would pass".into());
    }
    rules
}

/// `[policy] delay_external_minutes`, in seconds (none: no delay).
/// A policy in monitor mode changes nothing, so it delays nothing either.
pub(crate) fn delay_external(policy: &RawPolicy, problems: &mut Vec<String>) -> Option<u64> {
    let minutes = policy.delay_external_minutes?;
    if policy.mode.as_deref() == Some("monitor") {
        return None;
    }
    delay_in_seconds(minutes)
        .map_err(|e| problems.push(format!("[policy] delay_external_minutes: {e}")))
        .ok()
}

#[cfg(test)]
mod tests {
    use super::{Mode, Rule};
    use crate::config::raw::RawRule;

    fn compile(toml_rule: &str) -> Result<Rule, String> {
        let raw: RawRule = toml::from_str(toml_rule).unwrap();
        Rule::compile(&raw, Mode::Enforce, &[])
    }

    #[test]
    fn sender_release_only_where_a_sender_may_judge() {
        let ok = "name = \"r\"\naction = \"hold\"\nsender_release = true\n";
        assert!(compile(ok).unwrap().sender_release);
        for (extra, why) in [
            ("when = { screened = true }\n", "ethical wall"),
            ("when = { uninspectable = true }\n", "uninspectable"),
            ("release = \"two-person\"\n", "contradict"),
        ] {
            let e = compile(&format!("{ok}{extra}")).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
        let e = compile("name = \"r\"\naction = \"encrypt\"\nsender_release = true\n").unwrap_err();
        assert!(e.contains("only applies to hold"), "{e}");
    }

    #[test]
    fn a_delay_is_for_what_a_sender_may_take_back() {
        let ok = "name = \"r\"\naction = \"hold\"\ndelay_minutes = 0.5\n";
        assert_eq!(compile(ok).unwrap().delay_seconds, Some(30));
        for (extra, why) in [
            ("when = { screened = true }\n", "wall"),
            ("when = { uninspectable = true }\n", "unreadable"),
            ("release = \"two-person\"\n", "two-person"),
            ("split = true\n", "split"),
        ] {
            let e = compile(&format!("{ok}{extra}")).unwrap_err();
            assert!(e.contains(why), "{e}");
        }
        for bad in ["0", "-1", "20000", "nan"] {
            let r = format!("name = \"r\"\naction = \"hold\"\ndelay_minutes = {bad}\n");
            assert!(compile(&r).unwrap_err().contains("a delay of"), "{bad}");
        }
        let e = compile("name = \"r\"\naction = \"pass\"\ndelay_minutes = 1\n").unwrap_err();
        assert!(e.contains("only applies to hold"), "{e}");
    }
}
