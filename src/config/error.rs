//! Configuration errors: every one names the file, the line (or TOML key) and
//! the reason, so an administrator can fix a 100,000-row export without guessing.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem found while loading the configuration or a dictionary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub(crate) file: PathBuf,
    /// 1-based line, when the problem is tied to one.
    pub(crate) line: Option<usize>,
    pub(crate) reason: String,
}

impl Problem {
    pub(crate) fn at(
        file: impl Into<PathBuf>,
        line: Option<usize>,
        reason: impl Into<String>,
    ) -> Self {
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

/// The problems of one load as it goes: every check pushes here instead of
/// stopping, so the administrator sees them all in one refusal. It knows the
/// file being read (the TOML, or a dictionary while [`Problems::reading`]
/// it), so a check says only the line and the reason.
#[derive(Debug)]
pub(crate) struct Problems {
    file: PathBuf,
    found: Vec<Problem>,
}

impl Problems {
    /// Collects problems found in `file` unless told another.
    pub(crate) fn new(file: impl Into<PathBuf>) -> Self {
        Problems {
            file: file.into(),
            found: Vec::new(),
        }
    }

    /// A problem with the current file as a whole (a TOML key, not a line).
    pub(crate) fn add(&mut self, reason: impl Into<String>) {
        let problem = Problem::at(&self.file, None, reason);
        self.found.push(problem);
    }

    /// A problem on one line of the current file.
    pub(crate) fn line(&mut self, line: usize, reason: impl Into<String>) {
        let problem = Problem::at(&self.file, Some(line), reason);
        self.found.push(problem);
    }

    /// A problem already tied to its own file (a key or certificate the
    /// setting names).
    pub(crate) fn push(&mut self, problem: Problem) {
        self.found.push(problem);
    }

    /// Runs `check` with `file` as the current file, then goes back: a
    /// dictionary's rows are reported against the dictionary.
    pub(crate) fn reading<T>(&mut self, file: &Path, check: impl FnOnce(&mut Problems) -> T) -> T {
        let outer = std::mem::replace(&mut self.file, file.to_path_buf());
        let out = check(self);
        self.file = outer;
        out
    }

    /// What was found so far, in the order found (the order they are shown).
    #[cfg(test)]
    pub(crate) fn found(&self) -> &[Problem] {
        &self.found
    }

    /// How many problems were found so far: a check of one section
    /// compares it before and after.
    pub(crate) fn count(&self) -> usize {
        self.found.len()
    }

    /// `Ok(value())` when nothing was found; the value is only made then,
    /// since it may rely on checks having passed.
    pub(crate) fn or_refuse<T>(self, value: impl FnOnce() -> T) -> Result<T, ConfigError> {
        if self.found.is_empty() {
            Ok(value())
        } else {
            Err(ConfigError {
                problems: self.found,
            })
        }
    }
}

/// Every problem found in one load; the load is refused if there is any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl ConfigError {
    pub(crate) fn one(problem: Problem) -> Self {
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
