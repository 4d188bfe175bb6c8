//! Ethical walls for the people who review held mail (RELIABILITY §3,
//! issue #15 finding 4). A review user whose name is a firm address listed
//! in a matter's `screened` column is walled off from that matter: mail that
//! mentions it is kept from them as the policy keeps it from the screened
//! sender or recipient.
//!
//! What "kept from" means depends on the role:
//! - a **reviewer** does not see the message at all: it is left out of the
//!   queue (which says how many are hidden) and every page, download and API
//!   call for it answers 404, exactly as for an id that does not exist;
//! - an **admin** or **auditor** sees that it exists (id, status, time,
//!   envelope, rules: what running the system needs) but not its content
//!   (subject, body, matches, attachments);
//! - nobody walled off may release or reject it.
//!
//! The matters a message mentions are read from the held record's stored
//! matter ids *and* from its sealed verdict, so clearing the (unsealed)
//! column in the database file does not lift the wall on the message page.
//! Walls are per matter, like the policy's: a message that names only the
//! client is not walled.
//!
//! Reviewer scope (issue #18, [`super::scope`]) is decided here too, as
//! one more reason to keep a message from a user: mail that mentions no
//! client in a scoped reviewer's scope is hidden exactly as walled mail
//! (left out with a count, 404, no action), and walls apply on top.

use super::actions::{self, ActionError};
use super::{scope, ReviewState};
use crate::check::HeldVerdict;
use crate::config::Config;
use crate::store::{HeldMessage, HeldPage, HeldQuery, HeldSummary, Role, User};
use crate::text::address::normalise_address;
use std::collections::BTreeSet;

/// What one user is kept from: the matter numbers they are walled off
/// from, and, for a scoped reviewer, the only clients they may see.
#[derive(Debug, Clone, Default)]
pub(crate) struct Wall {
    matters: BTreeSet<String>,
    /// Issue #18: the client ids in a reviewer's scope, resolved against
    /// the loaded dictionaries; `None`: not limited.
    scope: Option<BTreeSet<String>>,
}

/// Why a message is kept from a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bar {
    /// It mentions a matter they are screened from.
    Wall,
    /// It mentions no client in their scope (reviewers only).
    Scope,
}

/// What a user may see of one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sight {
    /// Not walled: everything.
    Full,
    /// Walled admin or auditor: that it exists, not what it says.
    Withheld,
    /// Walled reviewer: nothing; it answers as if it did not exist.
    Hidden,
}

impl Wall {
    /// The wall and scope of `user` under the loaded dictionaries. A name
    /// that is not an address is walled from nothing (walls name addresses).
    pub(crate) fn for_user(cfg: &Config, user: &User) -> Wall {
        let scope = scope::resolve(cfg, user);
        let Ok(address) = normalise_address(&user.name) else {
            return Wall {
                scope,
                ..Wall::default()
            };
        };
        let m = &cfg.dict.matters;
        let matters = m
            .screened_from(&address)
            .into_iter()
            .map(|i| m.number(i).to_string())
            .collect();
        Wall { matters, scope }
    }

    /// Walled from no matter (the scope aside: it binds reviewers only,
    /// through `only_clients` and [`Wall::bar`]).
    pub(crate) fn is_empty(&self) -> bool {
        self.matters.is_empty()
    }

    /// The client ids in scope, for the queue query's `only_clients`.
    pub(crate) fn scope(&self) -> Option<Vec<String>> {
        self.scope.as_ref().map(|s| s.iter().cloned().collect())
    }

    /// Whether client `id` is one this user may see (the queue's client
    /// filter offers only those).
    pub(crate) fn allows_client(&self, id: &str) -> bool {
        self.scope.as_ref().is_none_or(|s| s.contains(id))
    }

    /// Why a stored message is kept from this user, if it is: a wall
    /// first (it binds every role), then the scope.
    pub(crate) fn bar(&self, cfg: &Config, msg: &HeldMessage) -> Option<Bar> {
        if self.blocks(msg) {
            return Some(Bar::Wall);
        }
        let scope = self.scope.as_ref()?;
        scope::mentioned(cfg, msg)
            .is_disjoint(scope)
            .then_some(Bar::Scope)
    }

    /// The matter numbers, for the queue query's `hide_matters`.
    pub(crate) fn matters(&self) -> Vec<String> {
        self.matters.iter().cloned().collect()
    }

    /// Whether a listed message mentions a walled matter.
    pub(crate) fn blocks_summary(&self, s: &HeldSummary) -> bool {
        s.matters.iter().any(|m| self.matters.contains(m))
    }

    /// Whether a stored message mentions a walled matter, by its column or
    /// by its sealed verdict.
    pub(crate) fn blocks(&self, msg: &HeldMessage) -> bool {
        if self.is_empty() {
            return false;
        }
        self.blocks_summary(&msg.summary)
            || HeldVerdict::parse(&msg.verdict_json)
                .matches
                .iter()
                .any(|m| m.kind == "matter" && self.matters.contains(&m.id))
    }

    /// What `role` may see of a message this wall does (`blocked`) or
    /// does not block.
    pub(crate) fn sight(role: Role, blocked: bool) -> Sight {
        match (blocked, role) {
            (false, _) => Sight::Full,
            (true, Role::Reviewer) => Sight::Hidden,
            (true, Role::Admin | Role::Auditor) => Sight::Withheld,
        }
    }
}

/// A listed message with its content (the subject) taken out.
pub(crate) fn withhold(mut s: HeldSummary) -> HeldSummary {
    s.subject = "(withheld: you are screened from a matter it mentions)".into();
    s
}

/// The wall and scope of `user` under the live config.
pub(crate) fn of(s: &ReviewState, user: &User) -> Wall {
    Wall::for_user(&s.engine.load().config, user)
}

/// What `user` may see of `msg` under the live config, and why not all.
fn sight_of(s: &ReviewState, user: &User, msg: &HeldMessage) -> (Sight, Option<Bar>) {
    let engine = s.engine.load();
    let cfg = &engine.config;
    match Wall::for_user(cfg, user).bar(cfg, msg) {
        None => (Sight::Full, None),
        Some(Bar::Wall) => (Wall::sight(user.role, true), Some(Bar::Wall)),
        // Only a reviewer has a scope, and a reviewer's barred mail is hidden.
        Some(Bar::Scope) => (Sight::Hidden, Some(Bar::Scope)),
    }
}

/// Loads held message `id` for `user` as far as their wall and scope let
/// them see it. A hidden one is `NotFound`, worded as for an unknown id,
/// and the refused look is audited (who tried, which id: an auditor may
/// ask why) as `walled` or `out-of-scope`.
pub(crate) async fn load_for(
    s: &ReviewState,
    user: &User,
    id: &str,
) -> Result<(HeldMessage, Sight), ActionError> {
    let key = id.to_string();
    let msg = s.store.run(move |st| st.get(&key)).await?;
    let (sight, bar) = sight_of(s, user, &msg);
    if sight == Sight::Hidden {
        let (kind, reason) = match bar {
            Some(Bar::Scope) => ("out-of-scope", "reviewer scope"),
            _ => ("walled", "ethical wall"),
        };
        let details = serde_json::json!({"message": id, "reason": reason});
        actions::audit(&s.store, &user.name, kind, details).await?;
        return Err(ActionError::NotFound(format!("no held message {id}")));
    }
    Ok((msg, sight))
}

/// One page of the queue for `user`: a reviewer's walled and out-of-scope
/// messages are left out (and counted in `hidden`); an admin's or
/// auditor's walled ones are listed with their subject withheld.
pub(crate) async fn query(
    s: &ReviewState,
    user: &User,
    mut q: HeldQuery,
) -> Result<HeldPage, ActionError> {
    let wall = of(s, user);
    if user.role == Role::Reviewer {
        q.hide_matters = wall.matters();
        q.only_clients = wall.scope();
    }
    let mut page = s.store.run(move |st| st.query(&q)).await?;
    if !wall.is_empty() && user.role != Role::Reviewer {
        page.items = page
            .items
            .into_iter()
            .map(|h| {
                if wall.blocks_summary(&h) {
                    withhold(h)
                } else {
                    h
                }
            })
            .collect();
    }
    Ok(page)
}

/// Refuses a release or reject by a user walled off from the message:
/// `NotFound` for a reviewer (as if it did not exist), `Forbidden` for an
/// admin, who can see that it exists.
pub(crate) async fn may_act(s: &ReviewState, user: &User, id: &str) -> Result<(), ActionError> {
    match load_for(s, user, id).await? {
        (_, Sight::Full) => Ok(()),
        _ => Err(ActionError::Forbidden(
            "You are screened from a matter this message mentions; ask another reviewer.".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_sees_what() {
        assert_eq!(Wall::sight(Role::Reviewer, false), Sight::Full);
        assert_eq!(Wall::sight(Role::Reviewer, true), Sight::Hidden);
        assert_eq!(Wall::sight(Role::Admin, true), Sight::Withheld);
        assert_eq!(Wall::sight(Role::Auditor, true), Sight::Withheld);
    }
}
