//! Notices about held mail (DESIGN §4 modifiers, §7): the sender is told a
//! message is held (its reference and the rule names, never the matched
//! text, nor the subject, which may be what matched), and later that a
//! reviewer rejected it, with the reviewer's comment; compliance gets a
//! message per hold or a daily digest (`[notify] compliance_mode`).
//!
//! Notices go through the next hop with the null reverse path, so a notice
//! that cannot be delivered never bounces back into another notice. They
//! are queued in the store's outbox in the transaction of what causes them
//! (the hold, the rejection, the digest's claim) and sent by the outbox
//! job (`server.rs`, one attempt each through [`settle`]), which retries
//! until the next hop accepts: a node that dies or a next hop that is down
//! loses none.

use crate::check::Verdict;
use crate::config::notify::{fill, ComplianceMode};
use crate::config::Config;
use crate::smtp::codec::MailParams;
use crate::smtp::relay::{self, RelayConfig};
use crate::store::{Delivery, Handle, HeldStatus, HeldSummary, NewNotice, QueuedNotice};
use base64::Engine;

/// What the rules and `[notify]` ask for once message `id` is held;
/// `release_link`, when the sender may release it themselves (issue #18),
/// goes into the sender's notice with `[notify] sender_release_text`.
pub(crate) fn on_hold(
    cfg: &Config,
    id: &str,
    from: &str,
    to: &[String],
    verdict: &Verdict,
    release_link: Option<&str>,
) -> Vec<NewNotice> {
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
    if let (Some(delay), Some(link)) = (verdict.delay(), release_link) {
        // Undo-send: the sender always hears, since the link is the point.
        if is_internal_sender(cfg, from) {
            out.push(delayed(cfg, id, from, delay, link, &values));
        }
    } else if verdict.modifiers.notify_sender && is_internal_sender(cfg, from) {
        let mut text = t.held_text.clone();
        if let Some(link) = release_link {
            let hours = cfg.review.sender_link_hours.to_string();
            let more = [("link", link), ("hours", hours.as_str())];
            text = format!("{text}\n{}", fill(&t.sender_release_text, &more));
        }
        out.push(compose(
            cfg,
            ("held", id),
            vec![from.to_string()],
            &t.held_subject,
            &text,
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
            ("compliance", id),
            n.compliance.clone(),
            &t.compliance_subject,
            &t.compliance_text,
            &values,
        ));
    }
    out
}

/// The sender's notice of a delayed message (undo-send): when it goes, and
/// the link that cancels it. The due time is this node's clock plus the
/// delay, to the minute; the store's is within the same second.
fn delayed(
    cfg: &Config,
    id: &str,
    from: &str,
    delay: std::time::Duration,
    link: &str,
    values: &[(&str, &str)],
) -> NewNotice {
    let t = &cfg.notify.texts;
    let due = chrono::Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
    let due = due.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    let mut all = values.to_vec();
    all.extend([("due", due.as_str()), ("link", link)]);
    compose(
        cfg,
        ("delayed", id),
        vec![from.to_string()],
        &t.delayed_subject,
        &t.delayed_text,
        &all,
    )
}

/// The sender's notice that a reviewer rejected `held`, with the comment.
pub fn on_reject(cfg: &Config, held: &HeldSummary, comment: &str) -> Option<NewNotice> {
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
        ("rejected", &held.id),
        to,
        &t.rejected_subject,
        &t.rejected_text,
        &values,
    ))
}

/// The daily digest of what is still held, and of what senders released
/// themselves since the last one (issue #18); `None` when there is
/// neither, or nobody is to get it.
pub fn digest(
    cfg: &Config,
    held: &[HeldSummary],
    self_released: &[SelfRelease],
) -> Option<NewNotice> {
    let waiting: Vec<&HeldSummary> = held
        .iter()
        .filter(|h| h.status == HeldStatus::Held)
        .collect();
    if (waiting.is_empty() && self_released.is_empty()) || cfg.notify.compliance.is_empty() {
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
    if !self_released.is_empty() {
        text.push_str(&format!(
            "\n{} message(s) were released by their senders in the last 24 hours:\n",
            self_released.len()
        ));
        for r in self_released {
            text.push_str(&self_release_line(r));
        }
    }
    let to = cfg.notify.compliance.clone();
    let subject = cfg.notify.texts.digest_subject.clone();
    Some(compose(
        cfg,
        ("digest", "digest"),
        to,
        &subject,
        "{comment}",
        &[("comment", &text)],
    ))
}

/// A release by the message's own sender through the link in its held
/// notice (issue #18), as compliance reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfRelease {
    /// The release's place in the audit trail.
    pub seq: u64,
    /// The message.
    pub id: String,
    /// Who released it (the message's sender).
    pub sender: String,
    /// When (the audit entry's time).
    pub at: String,
    /// The sender's justification, as written.
    pub justification: String,
}

fn self_release_line(r: &SelfRelease) -> String {
    let quoted = r.justification.replace('\n', "\n    > ");
    format!("{}  {}  {}\n    > {quoted}\n", r.id, r.at, r.sender)
}

/// Compliance's notice of one sender release, in `rule` and `every-hold`
/// modes (the digest carries them in `digest` mode; `off` is off).
pub(crate) fn on_self_release(cfg: &Config, r: &SelfRelease) -> Option<NewNotice> {
    let n = &cfg.notify;
    let per_message = matches!(n.mode, ComplianceMode::Rule | ComplianceMode::EveryHold);
    if !per_message || n.compliance.is_empty() {
        return None;
    }
    let text = format!(
        "A sender released their own held message with this justification:\n\n{}",
        self_release_line(r)
    );
    Some(compose(
        cfg,
        ("self-release", &r.id),
        n.compliance.clone(),
        "Released by its sender: {id}",
        "{comment}",
        &[("id", &r.id), ("comment", &text)],
    ))
}

/// Compliance's notice that `sender` reached `[review]
/// sender_release_per_day` and was stopped from releasing `id`: in every
/// mode but `off`, since a person has to look.
pub(crate) fn on_sender_stopped(cfg: &Config, sender: &str, id: &str) -> Option<NewNotice> {
    let n = &cfg.notify;
    if n.mode == ComplianceMode::Off || n.compliance.is_empty() {
        return None;
    }
    let text = format!(
        "{sender} has released {} of their own held messages in the last 24 hours,\n\
         the most [review] sender_release_per_day allows, and was stopped from\n\
         releasing {id}. It stays held for a reviewer.\n",
        cfg.review.sender_release_per_day
    );
    Some(compose(
        cfg,
        ("sender-stopped", id),
        n.compliance.clone(),
        "Sender release stopped: {id}",
        "{comment}",
        &[("id", id), ("comment", &text)],
    ))
}

/// Sends each notice now, once, in its own SMTP transaction; failures are
/// logged. Only for a delivery report the store cannot queue (the store is
/// failing); everything else goes through the outbox.
pub(crate) async fn send(cfg: &Config, about: &str, notices: Vec<NewNotice>) -> usize {
    let mut sent = 0;
    for n in crate::store::outbox::deliverable(notices) {
        match attempt(cfg, &n.to, &n.raw).await {
            Delivery::Sent => {
                sent += 1;
                tracing::info!(id = about, kind = n.kind, "notice sent");
            }
            Delivery::Retry { why, .. } | Delivery::GiveUp { why } => {
                tracing::warn!(id = about, kind = n.kind, why, "notice not sent")
            }
        }
    }
    sent
}

/// One attempt at a queued notice: [`Delivery::Sent`] only on the next
/// hop's `250` after DATA; a permanent refusal (5xx) gives up; anything
/// else (4xx, no connection, a timeout) is retried. The retry's delay is
/// set by [`settle`].
pub(crate) async fn deliver(cfg: &Config, n: &QueuedNotice) -> Delivery {
    attempt(cfg, &n.to, &n.raw).await
}

/// How long a node's claim on the daily digest keeps other nodes (and the
/// command line's `quarantine digest`) off it: less than a day, so
/// tomorrow's run is free whatever the clocks' drift.
pub const DIGEST_PERIOD: std::time::Duration = std::time::Duration::from_secs(20 * 3600);

/// How long a claim on a notice keeps other nodes off it: twice the
/// longest one attempt can take under the next hop's timeouts (connect, a
/// dozen commands and one per compliance address, the final dot), so a
/// live node is never overtaken, and a dead node's claim lapses in that
/// time (it takes its own back at once when it starts again).
pub fn lease(cfg: &Config) -> std::time::Duration {
    let rc = RelayConfig::from_config(cfg);
    let commands = 12 + cfg.notify.compliance.len() as u32;
    let attempt = rc.connect_timeout + rc.command_timeout * commands + rc.data_done_timeout;
    attempt * 2
}

/// Tries the claimed notice `n` once and records the outcome in the store:
/// `sent` on the next hop's `250`; a retry after `[notify] retry_seconds`
/// doubling per attempt (at most an hour); given up on a 5xx or once
/// `[notify] give_up_hours` old. A delivery report given up is held in the
/// quarantine instead ([`super::dsn::hold_unsent`]): still nothing lost.
pub async fn settle(cfg: &Config, store: &Handle, n: QueuedNotice) -> Delivery {
    let tried = deliver(cfg, &n).await;
    if tried == Delivery::Sent {
        crate::failpoint::hit("outbox-send");
    }
    let outcome = crate::store::outbox::schedule(cfg.notify.retry, cfg.notify.give_up, &n, tried);
    let (id, how) = (n.id.clone(), outcome.clone());
    if let Err(e) = store.run(move |st| st.settle_notice(&id, &how)).await {
        // Left as claimed: the lease lapses and it is tried again (a
        // duplicate if the next hop had it; never a loss).
        tracing::error!(notice = %n.id, error = %e, "cannot record the notice's outcome");
    }
    store.outbox().count(&outcome);
    log(&n, &outcome);
    if matches!(outcome, Delivery::GiveUp { .. }) && n.kind == "dsn" {
        let sender = n.to.first().cloned().unwrap_or_default();
        super::dsn::hold_unsent(store.clone(), &n.about, &sender, n.raw).await;
    }
    outcome
}

/// One line per attempt: ids, kind, the next hop's words; never content.
fn log(n: &QueuedNotice, d: &Delivery) {
    let (id, about, kind, attempts) = (&n.id, &n.about, &n.kind, n.attempts);
    match d {
        Delivery::Sent => {
            tracing::info!(notice = %id, about = %about, kind = %kind, attempts, to = ?n.to, "notice sent")
        }
        Delivery::Retry { why, after } => {
            tracing::warn!(notice = %id, about = %about, kind = %kind, attempts,
            why = %why, retry_in_s = after.as_secs(), "notice not sent; will retry")
        }
        Delivery::GiveUp { why } => {
            tracing::error!(notice = %id, about = %about, kind = %kind, attempts,
            why = %why, "notice given up")
        }
    }
}

async fn attempt(cfg: &Config, to: &[String], raw: &[u8]) -> Delivery {
    let rc = RelayConfig::from_config(cfg);
    let retry = |why: String| Delivery::Retry {
        why,
        after: std::time::Duration::ZERO,
    };
    match relay::relay(&rc, "", &MailParams::default(), to, raw).await {
        Ok(o) => match o.data {
            Some(r) if r.is_positive() => Delivery::Sent,
            Some(r) if r.code >= 500 => Delivery::GiveUp { why: r.to_string() },
            Some(r) => retry(r.to_string()),
            // DATA not sent: every recipient refused, or one temporarily.
            None => match o.refused.iter().map(|(_, r)| r).min_by_key(|r| r.code) {
                Some(r) if r.code >= 500 => Delivery::GiveUp { why: r.to_string() },
                Some(r) => retry(r.to_string()),
                None => retry("no recipient accepted".into()),
            },
        },
        Err(relay::RelayError::Refused { reply, .. }) if reply.code >= 500 => Delivery::GiveUp {
            why: reply.to_string(),
        },
        Err(e) => retry(e.to_string()),
    }
}

/// Only the firm's own people are told about holds: an outside address in
/// MAIL FROM would turn notices into backscatter.
fn is_internal_sender(cfg: &Config, from: &str) -> bool {
    crate::text::address::parse(from).is_ok_and(|a| cfg.is_internal(&a.domain))
}

/// `(kind, about)`: what the notice is, and the message it is about.
fn compose(
    cfg: &Config,
    (kind, about): (&str, &str),
    to: Vec<String>,
    subject: &str,
    text: &str,
    values: &[(&str, &str)],
) -> NewNotice {
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
    NewNotice {
        kind: kind.to_string(),
        about: about.to_string(),
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
