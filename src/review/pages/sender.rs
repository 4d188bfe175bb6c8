//! The sender's release page (issue #18, DESIGN §7): where the link in a
//! held notice leads. No login: the signed link is the proof, since only
//! the sender's own mailbox received it. Opening it (a GET, which mail
//! scanners follow by themselves) changes nothing; the release is a POST
//! with a justification of at least [`MIN_JUSTIFICATION`] characters.
//!
//! The page shows no message content beyond the subject, the recipients and
//! the rules that held it. A link that is forged, mangled or names no
//! message answers one 404 whatever the reason, so it tells a guesser
//! nothing; an expired link says so, and one whose message is no longer
//! held says what became of it.

use super::render;
use crate::act::release::ReleaseError;
use crate::act::sender_link::{self, Refused, SenderReleaseError, Token};
use crate::check::HeldVerdict;
use crate::review::actions;
use crate::review::ReviewState;
use crate::store::{HeldMessage, HeldStatus, StoreError};
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// The shortest justification taken: a sentence, not "ok".
pub(crate) const MIN_JUSTIFICATION: usize = 20;

#[derive(Deserialize, Default)]
pub(crate) struct SenderForm {
    #[serde(default)]
    justification: String,
}

/// What the page shows: the form (`open`), the outcome, or why not.
#[derive(Template)]
#[template(path = "sender.html")]
struct SenderPage {
    firm: String,
    open: bool,
    released: bool,
    message: Option<String>,
    id: String,
    subject: String,
    recipients: Vec<String>,
    rules: Vec<String>,
    token: String,
    justification: String,
    min: usize,
}

impl SenderPage {
    fn new(s: &ReviewState, token: &str) -> SenderPage {
        SenderPage {
            firm: s.engine.load().config.firm_name.clone(),
            open: false,
            released: false,
            message: None,
            id: String::new(),
            subject: String::new(),
            recipients: Vec::new(),
            rules: Vec::new(),
            token: token.to_string(),
            justification: String::new(),
            min: MIN_JUSTIFICATION,
        }
    }

    fn about(mut self, msg: &HeldMessage) -> SenderPage {
        let sum = &msg.summary;
        self.id = sum.id.clone();
        self.subject = sum.subject.clone();
        self.recipients = sum.to.clone();
        self.rules = sum.rules.clone();
        self
    }

    fn say(mut self, message: impl Into<String>) -> SenderPage {
        self.message = Some(message.into());
        self
    }

    fn respond(self, status: StatusCode) -> Response {
        match render(&self) {
            Ok(html) => (status, html).into_response(),
            Err(e) => e.into_response(),
        }
    }
}

/// A page that stops here, rendered with its status code.
type Stop = Response;

/// The message the link names, checked: signed for this message and its
/// sender, not expired, still held, and one its sender may release.
async fn open(s: &ReviewState, token: &str) -> Result<(Token, HeldMessage), Stop> {
    let page = || SenderPage::new(s, token);
    let unknown = || {
        let p =
            page().say("This link is not valid. Use the link in the notice exactly as it came.");
        p.respond(StatusCode::NOT_FOUND)
    };
    let t = Token::parse(token).ok_or_else(unknown)?;
    let id = t.id.clone();
    let msg = match s.store.run(move |st| st.get(&id)).await {
        Ok(m) => m,
        Err(StoreError::NotFound(_) | StoreError::Destroyed(_)) => return Err(unknown()),
        Err(e) => return Err(unavailable(page(), &e)),
    };
    let now = chrono::Utc::now().timestamp();
    match t.check(&s.store, &msg.summary.from, now) {
        Err(Refused::Forged) => return Err(unknown()),
        Err(Refused::Expired) => {
            let p = page().about(&msg).say(
                "This link has expired. The message is still held: a reviewer will decide, \
                 or ask compliance quoting the reference.",
            );
            return Err(p.respond(StatusCode::GONE));
        }
        Ok(()) => {}
    }
    match why_not(s, page().about(&msg), &msg) {
        Some(stop) => Err(stop),
        None => Ok((t, msg)),
    }
}

/// Why the sender may not release `msg` now, if so: it must still be held,
/// and the sealed verdict and the live setting must both allow it.
fn why_not(s: &ReviewState, page: SenderPage, msg: &HeldMessage) -> Option<Stop> {
    let status = msg.summary.status;
    if status != HeldStatus::Held {
        let p = page.say(format!("This message is no longer held: it was {status}."));
        return Some(p.respond(StatusCode::CONFLICT));
    }
    let on = s.engine.load().config.review.sender_release_per_day > 0;
    if !on || !HeldVerdict::parse(&msg.verdict_json).sender_may_release() {
        let p = page.say("This message cannot be released by its sender; a reviewer will decide.");
        return Some(p.respond(StatusCode::FORBIDDEN));
    }
    None
}

fn unavailable(page: SenderPage, e: &StoreError) -> Stop {
    tracing::error!(error = %e, "store failure on the sender's release page");
    let p = page.say("The service is not available just now. Try the link again later.");
    p.respond(StatusCode::SERVICE_UNAVAILABLE)
}

/// `GET /sender/{token}`: the form, or why not.
pub(crate) async fn page(State(s): State<ReviewState>, Path(token): Path<String>) -> Response {
    match open(&s, &token).await {
        Ok((_, msg)) => {
            let mut p = SenderPage::new(&s, &token).about(&msg);
            p.open = true;
            p.respond(StatusCode::OK)
        }
        Err(stop) => stop,
    }
}

/// `POST /sender/{token}`: releases with the justification.
pub(crate) async fn submit(
    State(s): State<ReviewState>,
    Path(token): Path<String>,
    Form(f): Form<SenderForm>,
) -> Response {
    let (t, msg) = match open(&s, &token).await {
        Ok(m) => m,
        Err(stop) => return stop,
    };
    let mut again = SenderPage::new(&s, &token).about(&msg);
    again.open = true;
    again.justification = f.justification.clone();
    let justification = match justified(&f.justification) {
        Ok(j) => j,
        Err(why) => return again.say(why).respond(StatusCode::BAD_REQUEST),
    };
    let engine = s.engine.load_full();
    let sender = msg.summary.from.clone();
    let store = s.store.clone();
    let done = sender_link::release(&engine.config, store, &t.id, &sender, &justification).await;
    let page = SenderPage::new(&s, &token).about(&msg);
    match done {
        Ok(_) => {
            let mut p = page.say("Released. The message has gone to the next hop, and your justification is on record.");
            p.released = true;
            p.respond(StatusCode::OK)
        }
        Err(e) => refused(page, e),
    }
}

/// A justification: at least [`MIN_JUSTIFICATION`] characters, within the
/// comment rules every review action has.
fn justified(raw: &str) -> Result<String, String> {
    let j = actions::comment(raw).map_err(|e| e.message().replace("comment", "justification"))?;
    if j.chars().count() < MIN_JUSTIFICATION {
        return Err(format!(
            "Write at least {MIN_JUSTIFICATION} characters: why may this message go to these recipients?"
        ));
    }
    Ok(j)
}

fn refused(page: SenderPage, e: SenderReleaseError) -> Response {
    let (status, why) = match e {
        SenderReleaseError::Stopped => (
            StatusCode::TOO_MANY_REQUESTS,
            "You have released as many of your own messages today as the firm allows. \
             This one stays held for a reviewer; compliance has been told."
                .to_string(),
        ),
        SenderReleaseError::Release(ReleaseError::Store(StoreError::WrongStatus {
            status,
            ..
        })) => (
            StatusCode::CONFLICT,
            format!("This message is no longer held: it was {status}."),
        ),
        SenderReleaseError::Release(ReleaseError::Store(e)) => return unavailable(page, &e),
        SenderReleaseError::Release(ReleaseError::NotDelivered { .. }) => (
            StatusCode::BAD_GATEWAY,
            "The next mail server did not take the message; it is still held. Try again later."
                .to_string(),
        ),
        SenderReleaseError::Release(ReleaseError::Uncertain { .. }) => (
            StatusCode::BAD_GATEWAY,
            "The connection to the next mail server broke while sending: compliance will check \
             whether it went. Do not send it again."
                .to_string(),
        ),
    };
    page.say(why).respond(status)
}

#[cfg(test)]
mod tests {
    use super::justified;

    #[test]
    fn a_justification_is_a_sentence() {
        assert!(justified("ok").is_err());
        assert!(justified("   the client asked   ").is_err());
        assert!(justified("a\u{7}the client asked for it today").is_err());
        let j = justified("  The client asked for this today.  ").unwrap();
        assert_eq!(j, "The client asked for this today.");
    }
}
