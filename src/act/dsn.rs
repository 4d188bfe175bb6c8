//! Delivery status notifications (RFC 3464) for recipients the next hop
//! refused permanently while it accepted others. The upstream client was
//! answered `250` for the message as a whole (the accepted copies went
//! out, and a failure reply would make it retry and duplicate them), so the
//! sender must hear about the refused ones from us: nothing acknowledged is
//! ever silently dropped.
//!
//! The report carries the original header block only (`text/rfc822-headers`),
//! not the body: it names what failed without copying content around again.
//! It is sent with the null reverse path (`MAIL FROM:<>`, RFC 5321 §4.5.5),
//! so it can never cause a bounce loop; a message that itself came with the
//! null sender gets no report, for the same reason. A release from the
//! quarantine that the next hop takes for some recipients only gets the
//! same report ([`super::release`]). The report goes
//! through the store's outbox (retried while the next hop is down); when
//! the next hop refuses it for good, it is held in the quarantine instead,
//! where compliance sees it: still nothing lost.

use super::notify;
use crate::check::Verdict;
use crate::config::Config;
use crate::smtp::codec::Reply;
use crate::smtp::session::Transaction;
use crate::store::{AuditEvent, Handle, NewHeld, NewNotice};

/// The rule name a report is held under when it cannot be sent.
pub(crate) const UNSENT_RULE: &str = "undeliverable-report";

/// Queues the report for `refused` to the sender of message `id` in the
/// outbox (with an audit entry saying it is owed), then tries it at once:
/// the client's `250` waits for the attempt, as it did before there was an
/// outbox, but a next hop that is down, or our death, no longer loses it.
pub(crate) async fn report(
    cfg: &Config,
    store: Handle,
    id: &str,
    tx: &Transaction,
    raw: &[u8],
    refused: &[(String, Reply)],
) {
    let Some(notice) = notice(cfg, id, &tx.from, raw, refused) else {
        return;
    };
    let fallback = notice.clone();
    let details = serde_json::json!({"message": id, "to": tx.from, "refused": refused.len()});
    let event = AuditEvent::new("smtp", "report-queued", details);
    let lease = notify::lease(cfg);
    let queued = store
        .run(move |st| st.queue_notices(vec![notice], event, lease))
        .await;
    match queued {
        Ok(notices) => {
            for n in notices {
                notify::settle(cfg, &store, n).await;
            }
        }
        Err(e) => {
            // The store is failing: one direct attempt, as before the
            // outbox, rather than nothing.
            tracing::error!(id, error = %e, "cannot queue the delivery report; sending it once");
            if notify::send(cfg, id, vec![fallback]).await == 0 {
                tracing::error!(
                    id,
                    "delivery report lost: the store and the next hop both failed"
                );
            }
        }
    }
}

/// The report to `sender` of message `id` for `refused`, as a notice to
/// queue; `None` when nobody was refused or the sender is `<>`.
pub(crate) fn notice(
    cfg: &Config,
    id: &str,
    sender: &str,
    raw: &[u8],
    refused: &[(String, Reply)],
) -> Option<NewNotice> {
    if refused.is_empty() || sender.is_empty() {
        return None;
    }
    Some(NewNotice {
        kind: "dsn".into(),
        about: id.to_string(),
        to: vec![sender.to_string()],
        raw: compose(&cfg.smtp.hostname, id, sender, raw, refused),
    })
}

/// Keeps an unsendable report in the quarantine under [`UNSENT_RULE`].
pub(crate) async fn hold_unsent(store: Handle, id: &str, sender: &str, dsn: Vec<u8>) {
    let verdict = Verdict::internal(UNSENT_RULE);
    let msg = NewHeld {
        id: crate::store::new_id(),
        from: String::new(),
        to: vec![sender.to_string()],
        action: crate::store::held::Action::Hold,
        rules: vec![UNSENT_RULE.into()],
        clients: Vec::new(),
        matters: Vec::new(),
        subject: "Undelivered Mail Returned to Sender".into(),
        verdict_json: verdict.held_json().unwrap_or_default(),
        raw: dsn,
        two_person: false,
        delay: None,
    };
    // The hold is audited like any verdict: what was held, for whom, why.
    let details = serde_json::json!({"message": msg.id, "from": "", "to": msg.to,
        "action": "hold", "rules": msg.rules, "report_for": id});
    let event = AuditEvent::new("smtp", "verdict", details);
    match store.run(move |st| st.hold(msg, event)).await {
        Ok(held) => tracing::warn!(id, held = %held, "delivery report held"),
        _ => tracing::error!(
            id,
            "cannot hold the delivery report: it is in this log line only"
        ),
    }
}

/// The RFC 3464 `multipart/report` for the refused recipients.
pub(crate) fn compose(
    hostname: &str,
    id: &str,
    sender: &str,
    raw: &[u8],
    refused: &[(String, Reply)],
) -> Vec<u8> {
    let now = chrono::Utc::now().to_rfc2822();
    let boundary = format!("=_matterwall_dsn_{id}");
    let mut human = format!(
        "Your message (matterwall reference {id}) could not be delivered to\r\n\
         the recipients below. It was delivered to the others.\r\n\r\n"
    );
    let mut machine = format!("Reporting-MTA: dns; {hostname}\r\nArrival-Date: {now}\r\n");
    for (rcpt, reply) in refused {
        let said = printable(&reply.to_string());
        human.push_str(&format!("  <{rcpt}>: {said}\r\n"));
        machine.push_str(&format!(
            "\r\nFinal-Recipient: rfc822; {rcpt}\r\nAction: failed\r\nStatus: {}\r\n\
             Remote-MTA: dns; next-hop\r\nDiagnostic-Code: smtp; {said}\r\n",
            status(reply)
        ));
    }
    let mut out = format!(
        "From: Mail Delivery System <MAILER-DAEMON@{hostname}>\r\n\
         To: <{sender}>\r\n\
         Subject: Undelivered Mail Returned to Sender\r\n\
         Date: {now}\r\n\
         Message-ID: <{id}.dsn@{hostname}>\r\n\
         Auto-Submitted: auto-replied\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/report; report-type=delivery-status;\r\n\
         \tboundary=\"{boundary}\"\r\n\r\n\
         --{boundary}\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n{human}\r\n\
         --{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n{machine}\r\n\
         --{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
    )
    .into_bytes();
    out.extend_from_slice(header_block(raw));
    out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    out
}

/// The enhanced status code the reply gave, else the class's generic one.
fn status(reply: &Reply) -> String {
    let first = reply.text.split_whitespace().next().unwrap_or_default();
    let parts: Vec<&str> = first.split('.').collect();
    let numeric = parts.len() == 3 && parts.iter().all(|p| p.parse::<u16>().is_ok());
    if numeric && first.starts_with('5') {
        first.to_string()
    } else {
        "5.0.0".into()
    }
}

/// The original header block, without the blank line that ends it (the
/// session refused bare line ends, so the block is CRLF throughout).
fn header_block(raw: &[u8]) -> &[u8] {
    let end = memchr::memmem::find(raw, b"\r\n\r\n").unwrap_or(raw.len());
    &raw[..end]
}

/// The next hop's words, as printable ASCII on one line.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::{MessageParser, MimeHeaders};

    #[test]
    fn report_is_a_well_formed_multipart_report() {
        let raw = b"From: a@firm.example\r\nSubject: plans\r\n\r\nsecret body\r\n";
        let refused = vec![(
            "x@other.example".to_string(),
            Reply::new(550, "5.1.1 no such user"),
        )];
        let dsn = compose("mw.firm.example", "abc123", "a@firm.example", raw, &refused);
        let text = String::from_utf8(dsn.clone()).unwrap();
        assert!(!text.contains("secret body"), "the body is not copied");
        assert!(text.contains("Status: 5.1.1\r\n"));
        assert!(text.contains("Final-Recipient: rfc822; x@other.example\r\n"));
        let msg = MessageParser::default().parse(&dsn).unwrap();
        assert_eq!(msg.subject(), Some("Undelivered Mail Returned to Sender"));
        let ct = msg.content_type().unwrap();
        assert_eq!(ct.ctype(), "multipart");
        assert_eq!(ct.attribute("report-type"), Some("delivery-status"));
        assert_eq!(msg.parts.len(), 4, "root + three parts");
    }

    #[test]
    fn status_falls_back_to_generic() {
        assert_eq!(status(&Reply::new(550, "mailbox unavailable")), "5.0.0");
        assert_eq!(status(&Reply::new(550, "5.7.1 denied")), "5.7.1");
    }
}
