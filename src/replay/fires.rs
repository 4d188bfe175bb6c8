//! `dictionaries lint --against PATH`: for every client name and alias, how
//! many messages of an archive it fires in, highest first, so that an
//! administrator sees which entries would flood the queue before enforcing.
//!
//! The archive is replayed through the engine like `replay` does; a client
//! match is counted for the entry whose normalised text equals the matched
//! words' (the detector matches normalised text, so that is the entry that
//! fired). A weak alias counts only where it was corroborated, as in policy.

use super::archive::Entry;
use super::run::{self, Options, Policies};
use crate::config::lint::words::norm;
use crate::engine::Engine;
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::AtomicBool;

/// One name or alias and the messages it fired in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The client id the entry belongs to.
    pub client: String,
    /// The entry as written, `~` before a weak alias.
    pub entry: String,
    /// True for the client's name, false for an alias.
    pub is_name: bool,
    /// Its line in the clients file, when known.
    pub line: Option<usize>,
    /// Messages it fired in.
    pub messages: u64,
    /// The first message it fired in.
    pub example: Option<String>,
}

/// Every name and alias of the engine's dictionaries, with the messages of
/// `entries` each fired in, most first (then in dictionary order).
pub fn count(
    engine: &Engine,
    entries: impl Iterator<Item = Entry> + Send,
    options: &Options,
    stop: &AtomicBool,
) -> (Vec<Fired>, u64) {
    let mut counts: HashMap<(String, String), (u64, String)> = HashMap::new();
    let mut messages = 0;
    let policies = Policies { a: engine, b: None };
    run::run(policies, entries, options, stop, |judged| {
        let Ok(outcome) = &judged.outcome else {
            return;
        };
        messages += 1;
        let fired: BTreeSet<(String, String)> = outcome
            .a
            .matches
            .iter()
            .filter(|m| m.kind == "client")
            .map(|m| (m.id.clone(), norm(&m.text)))
            .collect();
        for key in fired {
            let e = counts.entry(key).or_insert((0, judged.label.clone()));
            e.0 += 1;
        }
    });
    (table(engine, &counts), messages)
}

fn table(engine: &Engine, counts: &HashMap<(String, String), (u64, String)>) -> Vec<Fired> {
    let dict = &engine.config.dict;
    let mut out = Vec::new();
    for (c, client) in dict.clients.iter().enumerate() {
        let line = dict.sources.client_line(c as u32);
        let name = std::iter::once((client.name.clone(), &client.name, true));
        let aliases = client.aliases.iter().map(|a| {
            let shown = if a.weak {
                format!("~{}", a.text)
            } else {
                a.text.clone()
            };
            (shown, &a.text, false)
        });
        for (shown, text, is_name) in name.chain(aliases) {
            let hit = counts.get(&(client.id.clone(), norm(text)));
            out.push(Fired {
                client: client.id.clone(),
                entry: shown,
                is_name,
                line,
                messages: hit.map_or(0, |h| h.0),
                example: hit.map(|h| h.1.clone()),
            });
        }
    }
    // Stable: equal counts keep dictionary order.
    out.sort_by_key(|f| std::cmp::Reverse(f.messages));
    out
}
