//! `matterwall dictionaries lint`: warnings about dictionary entries that
//! will match ordinary mail or authorise the wrong people, each with file,
//! line and a suggested fix. Never load errors: the load rules stay as they
//! are, and a dictionary that loads is linted as loaded (the loader's own
//! [`Dictionaries`], with the line of every entry), never parsed twice.
//!
//! Classes: a strong name or alias that is short, a common word or a place
//! ([`names`]); the same text for two clients, an alias that begins another
//! client's name ([`names`]); a webmail or shared client domain, a
//! co-counsel domain that is the firm's or a client's ([`domains`]); a matter
//! number shaped like a date or a year ([`matters`]).

pub(crate) mod domains;
pub(crate) mod matters;
pub(crate) mod names;
pub(crate) mod words;

use super::dictionary::{ClientIdx, Dictionaries};
use super::Config;
use std::fmt;
use std::path::PathBuf;
pub use words::Words;

/// One warning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub(crate) file: PathBuf,
    pub(crate) line: Option<usize>,
    /// What is wrong with which entry, e.g. `client C-1 alias "Apple"`.
    pub(crate) entry: String,
    pub(crate) problem: String,
    pub(crate) fix: String,
    /// A short name of the class, for tests and scripts (`common-word`, …).
    pub(crate) class: &'static str,
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(
            f,
            ": warning[{}]: {}: {}\n    fix: {}",
            self.class, self.entry, self.problem, self.fix
        )
    }
}

/// Every warning for `cfg`'s dictionaries, by file and line.
pub fn lint(cfg: &Config, words: &Words) -> Vec<Warning> {
    let mut out = Vec::new();
    names::check(&cfg.dict, words, &mut out);
    domains::check(cfg, words, &mut out);
    matters::check(&cfg.dict, &mut out);
    out.sort_by(|a, b| (&a.file, a.line).cmp(&(&b.file, b.line)));
    out
}

/// A warning about client `c` (on its line of the clients file).
fn at_client(
    dict: &Dictionaries,
    c: ClientIdx,
    class: &'static str,
    entry: String,
    problem: String,
    fix: String,
) -> Warning {
    Warning {
        file: dict.sources.clients.clone(),
        line: dict.sources.client_line(c),
        entry,
        problem,
        fix,
        class,
    }
}

/// `(line N)` for client `c`, where the other half of a conflict is.
fn line_of(dict: &Dictionaries, c: ClientIdx) -> String {
    dict.sources
        .client_line(c)
        .map(|l| format!(" (line {l})"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests;
