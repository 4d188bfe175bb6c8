//! Names and aliases: a strong one that ordinary mail is full of (short, a
//! common word, a place), the same text for two clients, and an alias that
//! is the first word(s) of another client's name. Compared normalised, the
//! way the detector matches them.

use super::words::{norm, Common, Words};
use super::{at_client, line_of, Warning};
use crate::config::dictionary::{ClientIdx, Dictionaries};
use std::collections::HashMap;

/// A strong identifier shorter than this many letters and digits is
/// initials or an abbreviation, and ordinary mail is full of those.
pub(crate) const MIN_LETTERS: usize = 4;

/// One name or alias of a client.
struct Entry<'a> {
    client: ClientIdx,
    text: &'a str,
    norm: String,
    is_name: bool,
    weak: bool,
}

impl Entry<'_> {
    fn describe(&self, dict: &Dictionaries) -> String {
        let id = &dict.clients[self.client as usize].id;
        let what = if self.is_name { "name" } else { "alias" };
        let tilde = if self.weak { "~" } else { "" };
        format!("client {id} {what} \"{tilde}{}\"", self.text)
    }

    /// How to make it weak: an alias gets `~`; a name cannot be weak, so it
    /// is written in full and the short form becomes a weak alias.
    fn weaken(&self) -> String {
        if self.is_name {
            format!(
                "write the client's full name in `name` and add \"~{}\" to `aliases` (weak: it counts only beside a strong identifier)",
                self.text
            )
        } else {
            format!(
                "mark it weak: \"~{}\" (it then counts only beside a strong identifier of the client)",
                self.text
            )
        }
    }
}

fn entries(dict: &Dictionaries) -> Vec<Entry<'_>> {
    let mut out = Vec::new();
    for (c, client) in dict.clients.iter().enumerate() {
        let c = c as ClientIdx;
        out.push(Entry {
            client: c,
            text: &client.name,
            norm: norm(&client.name),
            is_name: true,
            weak: false,
        });
        out.extend(client.aliases.iter().map(|a| Entry {
            client: c,
            text: &a.text,
            norm: norm(&a.text),
            is_name: false,
            weak: a.weak,
        }));
    }
    out
}

pub(crate) fn check(dict: &Dictionaries, words: &Words, out: &mut Vec<Warning>) {
    let all = entries(dict);
    for e in all.iter().filter(|e| !e.weak) {
        if let Some(w) = ordinary(dict, words, e) {
            out.push(w);
        }
    }
    duplicates(dict, &all, out);
    prefixes(dict, &all, out);
}

/// The first reason a strong entry matches ordinary mail, if any.
fn ordinary(dict: &Dictionaries, words: &Words, e: &Entry) -> Option<Warning> {
    let letters = e.norm.chars().filter(|c| c.is_alphanumeric()).count();
    let (class, problem) = if letters < MIN_LETTERS {
        let why = format!(
            "shorter than {MIN_LETTERS} letters: initials and abbreviations like it are everywhere in mail"
        );
        ("short", why)
    } else {
        match words.common(&e.norm)? {
            Common::Word(rank) => ("common-word", format!(
                "a common English word (number {rank} of the 25,000 most frequent): it will match ordinary mail"
            )),
            Common::Listed => ("common-word", "in the --words list: it will match ordinary mail".into()),
            Common::Place => ("place", "a place name: it will match ordinary mail about the place".into()),
        }
    };
    Some(at_client(
        dict,
        e.client,
        class,
        e.describe(dict),
        problem,
        e.weaken(),
    ))
}

/// The same text for two clients, where at least one of them has it strong:
/// a message about one mentions both, and every recipient is unauthorised
/// for one of them.
fn duplicates(dict: &Dictionaries, all: &[Entry], out: &mut Vec<Warning>) {
    let mut first: HashMap<&str, &Entry> = HashMap::new();
    for e in all {
        let Some(prev) = first.get(e.norm.as_str()).copied() else {
            first.insert(&e.norm, e);
            continue;
        };
        if prev.client == e.client || (prev.weak && e.weak) {
            continue;
        }
        out.push(at_client(
            dict,
            e.client,
            "duplicate",
            e.describe(dict),
            format!(
                "also {}{}: a message about one mentions both",
                prev.describe(dict),
                line_of(dict, prev.client)
            ),
            "keep it on the client it belongs to, or mark it weak (~) on both".into(),
        ));
    }
}

/// A strong alias that is the first word(s) of another client's name:
/// every mention of that client mentions this one too.
fn prefixes(dict: &Dictionaries, all: &[Entry], out: &mut Vec<Warning>) {
    // Every proper word-prefix of every name, to the clients it begins.
    let mut starts: HashMap<&str, Vec<ClientIdx>> = HashMap::new();
    for e in all.iter().filter(|e| e.is_name) {
        for (i, _) in e.norm.match_indices(' ') {
            starts.entry(&e.norm[..i]).or_default().push(e.client);
        }
    }
    for e in all.iter().filter(|e| !e.is_name && !e.weak) {
        let Some(others) = starts.get(e.norm.as_str()) else {
            continue;
        };
        for &other in others.iter().filter(|&&o| o != e.client).take(3) {
            let name = &dict.clients[other as usize];
            out.push(at_client(
                dict,
                e.client,
                "alias-prefix",
                e.describe(dict),
                format!(
                    "the first word(s) of client {}'s name \"{}\"{}: mail about {} mentions this client too",
                    name.id,
                    name.name,
                    line_of(dict, other),
                    name.id
                ),
                format!(
                    "use a longer alias, or mark it weak: \"~{}\"",
                    e.text
                ),
            ));
        }
    }
}
