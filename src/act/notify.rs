//! Notices about held mail (DESIGN §4 modifiers, §7): the sender is told a
//! message is held (its reference and the rule names, never the matched
//! text, nor the subject, which may be what matched), and later that a
//! reviewer rejected it, with the reviewer's comment; compliance gets a
//! message per hold or a daily digest (`[notify] compliance_mode`).
//!
//! Notices go through the next hop with the null reverse path, so a notice
//! that cannot be delivered never bounces back into another notice. They
//! are sent after the held message is committed and its `250` given: a
//! notice that fails is logged and counted, and the held message it was
//! about is safe in the store either way.

use crate::check::Verdict;
use crate::config::notify::{fill, ComplianceMode};
use crate::config::Config;
use crate::smtp::codec::MailParams;
use crate::smtp::relay::{self, RelayConfig};
use crate::store::{HeldStatus, HeldSummary};
use base64::Engine;

/// One notice, ready for the next hop.
#[derive(Debug, Clone)]
pub struct Notice {
    pub kind: &'static str,
    pub to: Vec<String>,
    pub raw: Vec<u8>,
}

/// What the rules and `[notify]` ask for once message `id` is held.
pub fn on_hold(
    cfg: &Config,
    id: &str,
    from: &str,
    to: &[String],
    verdict: &Verdict,
) -> Vec<Notice> {
    let n = &cfg.notify;
    let t = &n.texts;
    let rules = verdict.rule_names().join(", ");
    let recipients = to.join(", ");
    let received = chrono::Utc::now().to_rfc2822();
    let values = [
        ("id", id),
        ("rules", rules.as_str()),
        ("recipients", recipients.as_str()),
        ("received", received.as_str()),
        ("comment", ""),
        ("firm", cfg.firm_name.as_str()),
    ];
    let mut out = Vec::new();
    if verdict.modifiers.notify_sender && is_internal_sender(cfg, from) {
        out.push(compose(
            cfg,
            "held",
            vec![from.to_string()],
            &t.held_subject,
            &t.held_text,
            &values,
        ));
    }
    let to_compliance = match n.mode {
        ComplianceMode::Rule => verdict.modifiers.notify_compliance,
        ComplianceMode::EveryHold => true,
        ComplianceMode::Digest | ComplianceMode::Off => false,
    };
    if to_compliance && !n.compliance.is_empty() {
        out.push(compose(
            cfg,
            "compliance",
            n.compliance.clone(),
            &t.compliance_subject,
            &t.compliance_text,
            &values,
        ));
    }
    out
}

/// The sender's notice that a reviewer rejected `held`, with the comment.
pub fn on_reject(cfg: &Config, held: &HeldSummary, comment: &str) -> Option<Notice> {
    if !is_internal_sender(cfg, &held.from) {
        return None;
    }
    let t = &cfg.notify.texts;
    let rules = held.rules.join(", ");
    let recipients = held.to.join(", ");
    let values = [
        ("id", held.id.as_str()),
        ("rules", rules.as_str()),
        ("recipients", recipients.as_str()),
        ("received", held.received_at.as_str()),
        ("comment", comment),
        ("firm", cfg.firm_name.as_str()),
    ];
    let to = vec![held.from.clone()];
    Some(compose(
        cfg,
        "rejected",
        to,
        &t.rejected_subject,
        &t.rejected_text,
        &values,
    ))
}

/// The daily digest of what is still held; `None` when nothing is, or
/// nobody is to get it.
pub fn digest(cfg: &Config, held: &[HeldSummary]) -> Option<Notice> {
    let waiting: Vec<&HeldSummary> = held
        .iter()
        .filter(|h| h.status == HeldStatus::Held)
        .collect();
    if waiting.is_empty() || cfg.notify.compliance.is_empty() {
        return None;
    }
    let mut text = format!("{} message(s) are held awaiting review.\n\n", waiting.len());
    for h in &waiting {
        text.push_str(&format!(
            "{}  {}  {} -> {}  [{}]\n",
            h.id,
            h.received_at,
            h.from,
            h.to.join(", "),
            h.rules.join(", ")
        ));
    }
    let to = cfg.notify.compliance.clone();
    let subject = cfg.notify.texts.digest_subject.clone();
    Some(compose(
        cfg,
        "digest",
        to,
        &subject,
        "{comment}",
        &[("comment", &text)],
    ))
}

/// Sends each notice in its own transaction; failures are logged.
pub async fn send(cfg: &Config, about: &str, notices: Vec<Notice>) -> usize {
    let rc = RelayConfig::from_config(cfg);
    let mut sent = 0;
    for mut n in notices {
        // Never to the null reverse path: `<>` is no mailbox (RFC 5321
        // §4.5.5), and a notice to it would be a bounce of a bounce.
        n.to.retain(|t| !t.is_empty());
        if n.to.is_empty() {
            continue;
        }
        let result = relay::relay(&rc, "", &MailParams::default(), &n.to, &n.raw).await;
        match result {
            Ok(o) if o.data.as_ref().is_some_and(|r| r.is_positive()) => {
                sent += 1;
                tracing::info!(id = about, kind = n.kind, to = ?o.accepted, "notice sent");
            }
            Ok(o) => {
                tracing::warn!(id = about, kind = n.kind, refused = ?o.refused, data = ?o.data, "notice refused by the next hop")
            }
            Err(e) => tracing::warn!(id = about, kind = n.kind, error = %e, "notice not sent"),
        }
    }
    sent
}

/// Only the firm's own people are told about holds: an outside address in
/// MAIL FROM would turn notices into backscatter.
fn is_internal_sender(cfg: &Config, from: &str) -> bool {
    crate::text::address::parse(from).is_ok_and(|a| cfg.is_internal(&a.domain))
}

fn compose(
    cfg: &Config,
    kind: &'static str,
    to: Vec<String>,
    subject: &str,
    text: &str,
    values: &[(&str, &str)],
) -> Notice {
    let subject = header_text(&fill(subject, values));
    let body = fill(text, values)
        .replace("\r\n", "\n")
        .replace('\n', "\r\n");
    let b64 = base64::engine::general_purpose::STANDARD.encode(body.as_bytes());
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(76)
        .map(|c| std::str::from_utf8(c).unwrap_or_default())
        .collect();
    let raw = format!(
        "From: {firm} compliance <{from}>\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n\
         Message-ID: <{mid}.{kind}@{host}>\r\nAuto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{body}\r\n",
        firm = header_text(&cfg.firm_name).replace(['<', '>', '"'], ""),
        from = cfg.notify.from,
        to = to.iter().map(|a| format!("<{a}>")).collect::<Vec<_>>().join(", "),
        date = chrono::Utc::now().to_rfc2822(),
        mid = crate::store::new_id(),
        host = cfg.smtp.hostname,
        body = lines.join("\r\n"),
    );
    Notice {
        kind,
        to,
        raw: raw.into_bytes(),
    }
}

/// One header line's text: control characters dropped, and RFC 2047
/// encoded when it is not plain ASCII.
fn header_text(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if clean.is_ascii() {
        clean
    } else {
        format!(
            "=?utf-8?b?{}?=",
            base64::engine::general_purpose::STANDARD.encode(clean)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_ascii_subjects_are_encoded_and_controls_dropped() {
        assert_eq!(header_text("a\r\nb"), "a  b");
        assert_eq!(header_text("Café"), "=?utf-8?b?Q2Fmw6k=?=");
    }
}
