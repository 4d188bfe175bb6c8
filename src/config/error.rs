//! Configuration errors: every one names the file, the line (or TOML key) and
//! the reason, so an administrator can fix a 100,000-row export without guessing.

use std::fmt;
use std::path::PathBuf;

/// One problem found while loading the configuration or a dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based line, when the problem is tied to one.
    pub line: Option<usize>,
    pub reason: String,
}

impl Problem {
    pub fn at(file: impl Into<PathBuf>, line: Option<usize>, reason: impl Into<String>) -> Self {
        Problem {
            file: file.into(),
            line,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}: {}", self.file.display(), line, self.reason),
            None => write!(f, "{}: {}", self.file.display(), self.reason),
        }
    }
}

/// Every problem found in one load; the load is refused if there is any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl ConfigError {
    pub fn one(problem: Problem) -> Self {
        ConfigError {
            problems: vec![problem],
        }
    }
}

impl fmt::Display for ConfigError {
    /// The first problem on one line (what `check` prints before exiting 2),
    /// with a count of the others.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.problems.as_slice() {
            [] => write!(f, "configuration refused"),
            [only] => write!(f, "{only}"),
            [first, rest @ ..] => write!(f, "{first} (and {} more problems)", rest.len()),
        }
    }
}

impl std::error::Error for ConfigError {}
