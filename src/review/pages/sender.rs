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
use crate::store::{HeldMessage, HeldStatus, Review, StoreError};
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
    /// The outcome is good news (released, cancelled).
    ok: bool,
    /// The sender may release it (`sender_release`).
    can_release: bool,
    /// Undo-send: when it goes by itself; the page offers to cancel.
    due: Option<String>,
    message: Option<String>,
    id: String,
    subject: String,
    recipients: Vec<String>,
    rules: Vec<String>,
    token: String,
    justification: String,
    min: usize,
    /// `[review] sender_release_per_day` above 0.
    release_on: bool,
}

impl SenderPage {
    fn new(s: &ReviewState, token: &str) -> SenderPage {
        let engine = s.engine.load();
        SenderPage {
            firm: engine.config.firm_name.clone(),
            release_on: engine.config.review.sender_release_per_day > 0,
            open: false,
            ok: false,
            can_release: false,
            due: None,
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
        let verdict = HeldVerdict::parse(&msg.verdict_json);
        self.can_release = self.release_on && verdict.sender_may_release();
        if verdict.delay().is_some() {
            self.due = Some(sum.due_at.as_deref().map(super::when).unwrap_or_default());
        }
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
    match why_not(page().about(&msg), &msg) {
        Some(stop) => Err(stop),
        None => Ok((t, msg)),
    }
}

/// Why the sender may not release `msg` now, if so: it must still be held,
/// and the sealed verdict and the live setting must both allow it.
fn why_not(page: SenderPage, msg: &HeldMessage) -> Option<Stop> {
    let status = msg.summary.status;
    if status != HeldStatus::Held {
        let p = page.say(format!("This message is no longer held: it was {status}."));
        return Some(p.respond(StatusCode::CONFLICT));
    }
    if !page.can_release && page.due.is_none() {
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
    if !again.can_release {
        let p =
            again.say("This message cannot be released by its sender; it can only be cancelled.");
        return p.respond(StatusCode::FORBIDDEN);
    }
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
            p.ok = true;
            p.respond(StatusCode::OK)
        }
        Err(e) => refused(page, e),
    }
}

/// `POST /sender/{token}/cancel`: undo-send, the sender stops a delayed
/// message before its due time (it becomes `rejected`, by
/// `sender:ADDRESS`; nobody is notified: the sender did it).
pub(crate) async fn cancel(State(s): State<ReviewState>, Path(token): Path<String>) -> Response {
    let (t, msg) = match open(&s, &token).await {
        Ok(m) => m,
        Err(stop) => return stop,
    };
    let page = SenderPage::new(&s, &token).about(&msg);
    if page.due.is_none() {
        let p = page.say("This message is not waiting to be sent; a reviewer will decide.");
        return p.respond(StatusCode::FORBIDDEN);
    }
    let actor = format!("{}{}", sender_link::ACTOR_PREFIX, msg.summary.from);
    let id = t.id.clone();
    let cancelled = s
        .store
        .run(move |st| {
            let by = Review {
                actor: &actor,
                comment: Some(CANCELLED),
            };
            st.reject_with(&id, &by, Vec::new())
        })
        .await;
    match cancelled {
        Ok(()) => {
            let mut p = page.say("Cancelled. The message will not be sent.");
            p.ok = true;
            p.respond(StatusCode::OK)
        }
        Err(StoreError::WrongStatus { status, .. }) => page
            .say(format!("Too late: the message was {status}."))
            .respond(StatusCode::CONFLICT),
        Err(e) => unavailable(page, &e),
    }
}

/// The comment a sender's cancellation records.
pub(crate) const CANCELLED: &str = "cancelled by the sender before the due time (undo-send)";

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
