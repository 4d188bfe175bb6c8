//! Hold: commit the message to the quarantine (fsync'd) together with the
//! verdict's audit entry and the notices the hold causes (the outbox), and
//! only then 250.

use super::{store_tempfail, tempfail, Tempfail};
use crate::check::Verdict;
use crate::smtp::codec::Reply;
use crate::smtp::session::Transaction;
use crate::store::{AuditEvent, Handle, NewHeld, NewNotice};

pub(crate) async fn hold(
    store: Handle,
    id: &str,
    tx: &Transaction,
    verdict: &Verdict,
    raw: Vec<u8>,
    (event, notices): (AuditEvent, Vec<NewNotice>),
) -> Reply {
    let verdict_json = match verdict.held_json() {
        Ok(j) => j,
        Err(e) => {
            tracing::error!(id, error = %e, "cannot encode the verdict");
            return tempfail(Tempfail::Internal);
        }
    };
    let mut msg = NewHeld {
        id: id.to_string(),
        from: tx.from.clone(),
        to: tx.rcpts.clone(),
        action: verdict.action,
        rules: verdict.rule_names(),
        clients: verdict.clients.clone(),
        matters: verdict.matters.clone(),
        subject: String::new(),
        verdict_json,
        raw,
        two_person: verdict
            .rules
            .iter()
            .any(|r| r.two_person && r.mode == crate::policy::rules::Mode::Enforce),
        delay: verdict.delay(),
    };
    let stored = store.run(move |st| {
        msg.subject = subject(&msg.raw);
        st.hold_with(msg, event, notices)
    });
    match stored.await {
        Ok(id) => {
            store.outbox().wake.notify_one();
            Reply::new(250, format!("2.0.0 held as {id}"))
        }
        Err(e) => {
            tracing::error!(id, error = %e, "cannot store the held message; answering 4xx");
            store_tempfail(&e)
        }
    }
}

/// The decoded Subject, for the review queue (sealed at rest like the rest).
/// A parser panic here must not turn a hold into a 451: no subject instead.
fn subject(raw: &[u8]) -> String {
    std::panic::catch_unwind(|| {
        mail_parser::MessageParser::default()
            .parse_headers(raw)
            .and_then(|m| m.subject().map(str::to_string))
    })
    .ok()
    .flatten()
    .unwrap_or_default()
}
