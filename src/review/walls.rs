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

use super::actions::{self, ActionError};
use super::ReviewState;
use crate::check::HeldVerdict;
use crate::config::Config;
use crate::store::{HeldMessage, HeldPage, HeldQuery, HeldSummary, Role, User};
use crate::text::address::normalise_address;
use std::collections::BTreeSet;

/// The matter numbers one user is walled off from.
#[derive(Debug, Clone, Default)]
pub(crate) struct Wall {
    matters: BTreeSet<String>,
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
    /// The wall of user `name` under the loaded dictionaries. A name that is
    /// not an address is walled from nothing (walls name addresses).
    pub(crate) fn for_user(cfg: &Config, name: &str) -> Wall {
        let Ok(address) = normalise_address(name) else {
            return Wall::default();
        };
        let m = &cfg.dict.matters;
        let matters = m
            .screened_from(&address)
            .into_iter()
            .map(|i| m.number(i).to_string())
            .collect();
        Wall { matters }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.matters.is_empty()
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

/// The wall of `user` under the live config.
pub(crate) fn of(s: &ReviewState, user: &User) -> Wall {
    Wall::for_user(&s.engine.load().config, &user.name)
}

/// Loads held message `id` for `user` as far as their wall lets them see
/// it. A hidden one is `NotFound`, worded as for an unknown id, and the
/// refused look is audited (who tried, which id: an auditor may ask why).
pub(crate) async fn load_for(
    s: &ReviewState,
    user: &User,
    id: &str,
) -> Result<(HeldMessage, Sight), ActionError> {
    let key = id.to_string();
    let msg = s.store.run(move |st| st.get(&key)).await?;
    let sight = Wall::sight(user.role, of(s, user).blocks(&msg));
    if sight == Sight::Hidden {
        let details = serde_json::json!({"message": id, "reason": "ethical wall"});
        actions::audit(&s.store, &user.name, "walled", details).await?;
        return Err(ActionError::NotFound(format!("no held message {id}")));
    }
    Ok((msg, sight))
}

/// One page of the queue for `user`: a reviewer's walled messages are left
/// out (and counted in `hidden`); an admin's or auditor's are listed with
/// their subject withheld.
pub(crate) async fn query(
    s: &ReviewState,
    user: &User,
    mut q: HeldQuery,
) -> Result<HeldPage, ActionError> {
    let wall = of(s, user);
    if user.role == Role::Reviewer {
        q.hide_matters = wall.matters();
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
