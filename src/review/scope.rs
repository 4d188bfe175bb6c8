//! Reviewer scope (issue #18): a reviewer may be limited to clients, named
//! by id or by the `group` column of `clients.csv`; they see and act only on
//! mail that mentions at least one of them. What that means for each page
//! is decided in one place, [`super::walls`]: mail outside a reviewer's
//! scope is hidden exactly as mail behind an ethical wall. This module
//! resolves a user's scope against the live dictionaries, reads which
//! clients a held message mentions, and checks a scope an admin sets.
//!
//! Scope binds the **reviewer** role only: admins and auditors run the
//! system and answer for all of it (walls still bind them). A scope is
//! stored as given and resolved at every request, so a client or group a
//! reload removed simply matches nothing: a scope never widens by itself.

use crate::check::HeldVerdict;
use crate::config::Config;
use crate::store::{HeldMessage, Role, Scope, User};
use std::collections::BTreeSet;

/// The client ids `user` may review, under the loaded dictionaries; `None`
/// for a user who is not limited (no scope, or not a reviewer).
pub(crate) fn resolve(cfg: &Config, user: &User) -> Option<BTreeSet<String>> {
    let scope = user
        .scope
        .as_ref()
        .filter(|_| user.role == Role::Reviewer)?;
    let dict = &cfg.dict;
    let by_id = scope
        .clients
        .iter()
        .filter(|id| dict.client(id).is_some())
        .cloned();
    let by_group = dict
        .clients
        .iter()
        .filter(|c| c.group.as_ref().is_some_and(|g| scope.groups.contains(g)))
        .map(|c| c.id.clone());
    Some(by_id.chain(by_group).collect())
}

/// The clients held message `msg` mentions by its record's column *and* by
/// its sealed verdict: a client counts only when both name it, so editing
/// the unsealed column cannot widen a scope, and a verdict that does not
/// open or parse narrows it to nothing.
pub(crate) fn mentioned(cfg: &Config, msg: &HeldMessage) -> BTreeSet<String> {
    let sealed = sealed_clients(cfg, &HeldVerdict::parse(&msg.verdict_json));
    msg.summary
        .clients
        .iter()
        .filter(|c| sealed.contains(*c))
        .cloned()
        .collect()
}

/// The clients a sealed verdict names. One sealed before verdicts listed
/// them is read from its matches: client matches by id, matter matches
/// through the loaded `matters.csv` (a scan, for old records only).
fn sealed_clients(cfg: &Config, verdict: &HeldVerdict) -> BTreeSet<String> {
    if let Some(clients) = &verdict.clients {
        return clients.iter().cloned().collect();
    }
    verdict
        .matches
        .iter()
        .filter_map(|m| match m.kind.as_str() {
            "client" => Some(m.id.clone()),
            "matter" => cfg.dict.client_of_matter(&m.id).map(str::to_string),
            _ => None,
        })
        .collect()
}

/// A comma-separated list as typed (`C-1, C-2`): trimmed, empty items
/// dropped, each kept once in the order given.
pub fn parse_list(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        if !out.iter().any(|x| x == item) {
            out.push(item.to_string());
        }
    }
    out
}

/// The scope typed as two comma-separated lists (client ids, groups) for a
/// user of `role`: see [`checked`].
pub fn from_lists(
    cfg: &Config,
    role: Role,
    clients: &str,
    groups: &str,
) -> Result<Option<Scope>, String> {
    let scope = Scope {
        clients: parse_list(clients),
        groups: parse_list(groups),
    };
    checked(cfg, role, scope)
}

/// `scope` for a user of `role`: `None` when it names nothing (no limit),
/// else the scope, refused with a reason naming what is wrong: a role
/// other than reviewer, an id not in `clients.csv`, a group no client has.
pub fn checked(cfg: &Config, role: Role, scope: Scope) -> Result<Option<Scope>, String> {
    if scope.clients.is_empty() && scope.groups.is_empty() {
        return Ok(None);
    }
    if role != Role::Reviewer {
        return Err(format!(
            "a scope limits reviewers only; an {} sees every client (ethical walls still apply)",
            role.as_str()
        ));
    }
    let dict = &cfg.dict;
    let file = dict.sources.clients.display();
    let unknown = |names: &[String], known: &dyn Fn(&str) -> bool| -> String {
        let out: Vec<&str> = names
            .iter()
            .map(String::as_str)
            .filter(|n| !known(n))
            .collect();
        out.join(", ")
    };
    let ids = unknown(&scope.clients, &|id| dict.client(id).is_some());
    if !ids.is_empty() {
        return Err(format!("unknown client id(s) {ids} (not in {file})"));
    }
    let groups = unknown(&scope.groups, &|g| dict.has_group(g));
    if !groups.is_empty() {
        return Err(format!(
            "unknown group(s) {groups} (no client in {file} has it in its `group` column)"
        ));
    }
    Ok(Some(scope))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        let table: [(&str, &[&str]); 4] = [
            ("", &[]),
            (" , ,", &[]),
            ("C-1, C-2,C-1", &["C-1", "C-2"]),
            (" Shipping & Energy ", &["Shipping & Energy"]),
        ];
        for (text, want) in table {
            assert_eq!(parse_list(text), want, "{text:?}");
        }
    }
}
