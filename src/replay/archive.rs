//! Mail archives as a stream of messages: an mbox file (recognised by its
//! first `From ` line), a Maildir (a folder with `cur/` or `new/`), or a tree
//! of `.eml` files (or any file that starts with a header field: MH folders,
//! `.txt` exports), in a stable order (names sorted), one message at a time.
//!
//! Memory is bounded whatever the archive's size: an mbox is read line by
//! line (a line is read in pieces of at most [`PIECE`] bytes), a message is
//! kept only up to the size cap the caller gives, and a folder lists only
//! its own entries. A message over the cap is reported as skipped, not cut:
//! a truncated message would get a verdict it does not deserve.

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Lines are read in pieces of at most this many bytes, so that a file
/// with no line break cannot make one read unbounded.
const PIECE: u64 = 64 * 1024;

/// One message of an archive, or why it could not be read.
#[derive(Debug)]
pub struct Entry {
    /// Where it is: a file's path, or `mbox-path@offset` (the byte offset
    /// of its `From ` line) for a message inside an mbox.
    pub(crate) label: String,
    pub(crate) bytes: Result<Vec<u8>, String>,
}

/// Messages of the archives at some paths, in order (see the module doc).
pub struct Archive {
    /// What is still to read, the next on top.
    stack: Vec<Source>,
    max_message: usize,
}

enum Source {
    /// A path the caller named (a file is a message even without `.eml`).
    Named(PathBuf),
    /// A path found inside a folder.
    Found(PathBuf),
    Mbox(Box<Mbox>),
}

impl Archive {
    /// The messages under `paths`; a message bigger than `max_message`
    /// bytes is reported as an error entry.
    pub fn open(paths: &[PathBuf], max_message: usize) -> Archive {
        let stack = paths.iter().rev().cloned().map(Source::Named).collect();
        Archive { stack, max_message }
    }

    /// The sum of the sizes of the files under `paths`, for a progress bar
    /// (what cannot be read counts nothing).
    pub fn total_bytes(paths: &[PathBuf]) -> u64 {
        fn walk(p: &Path) -> u64 {
            match std::fs::metadata(p) {
                Ok(m) if m.is_dir() => sorted(p).iter().map(|c| walk(c)).sum(),
                Ok(m) => m.len(),
                Err(_) => 0,
            }
        }
        paths.iter().map(|p| walk(p)).sum()
    }

    fn path(&mut self, path: PathBuf, named: bool) -> Option<Entry> {
        let label = path.display().to_string();
        let meta = match std::fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => return Some(unreadable(label, e)),
        };
        if meta.is_dir() {
            let children = if is_maildir(&path) {
                maildir_files(&path)
            } else {
                sorted(&path)
            };
            let found = children.into_iter().rev().map(Source::Found);
            self.stack.extend(found);
            return None;
        }
        let mut head = [0u8; 256];
        let n = File::open(&path)
            .and_then(|mut f| f.read(&mut head))
            .unwrap_or(0);
        let head = &head[..n];
        if head.starts_with(b"From ") {
            match Mbox::open(&path, self.max_message) {
                Ok(m) => self.stack.push(Source::Mbox(Box::new(m))),
                Err(e) => return Some(unreadable(label, e)),
            }
            return None;
        }
        let eml = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("eml"));
        let in_maildir = path
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|d| d == "cur" || d == "new");
        (named || eml || in_maildir || starts_with_header(head))
            .then(|| self.file(label, &path, meta.len()))
    }

    fn file(&self, label: String, path: &Path, len: u64) -> Entry {
        if len > self.max_message as u64 {
            return too_large(label, self.max_message);
        }
        let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"));
        Entry { label, bytes }
    }
}

impl Iterator for Archive {
    type Item = Entry;

    fn next(&mut self) -> Option<Entry> {
        loop {
            let entry = match self.stack.pop()? {
                Source::Named(p) => self.path(p, true),
                Source::Found(p) => self.path(p, false),
                Source::Mbox(mut m) => match m.next() {
                    Some(e) => {
                        self.stack.push(Source::Mbox(m));
                        Some(e)
                    }
                    None => None,
                },
            };
            if entry.is_some() {
                return entry;
            }
        }
    }
}

fn unreadable(label: String, e: std::io::Error) -> Entry {
    Entry {
        label,
        bytes: Err(format!("cannot read: {e}")),
    }
}

fn too_large(label: String, max: usize) -> Entry {
    Entry {
        label,
        bytes: Err(format!("larger than {max} bytes: not scanned")),
    }
}

/// A folder's entries, sorted by name, hidden ones left out (`.DS_Store`,
/// a Maildir++ folder is found through its parent's listing instead).
fn sorted(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| !n.to_string_lossy().starts_with('.'))
        })
        .collect();
    out.sort();
    out
}

fn is_maildir(dir: &Path) -> bool {
    dir.join("cur").is_dir() || dir.join("new").is_dir()
}

/// A Maildir's messages: `cur/` then `new/` (`tmp/` holds deliveries in
/// progress, not messages), then its Maildir++ sub-folders (`.Sent`, …).
fn maildir_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = sorted(&dir.join("cur"));
    out.extend(sorted(&dir.join("new")));
    let Ok(read) = std::fs::read_dir(dir) else {
        return out;
    };
    let mut subs: Vec<PathBuf> = read
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                && is_maildir(p)
        })
        .collect();
    subs.sort();
    out.extend(subs);
    out
}

/// The messages of one mbox file. A message starts at a `From ` line at the
/// start of the file or after an empty line; `>From `, `>>From `… lines are
/// unquoted by one `>` (mboxrd; mboxo quotes only `>From `, read the same).
struct Mbox {
    reader: BufReader<File>,
    path: String,
    max: usize,
    /// Byte offset of the next read.
    offset: u64,
    /// The current message: its `From ` line's offset and its bytes so far.
    start: Option<u64>,
    message: Vec<u8>,
    too_large: bool,
    /// Whether the next piece starts a line, and whether the last whole
    /// line was empty (a `From ` line after it starts a message).
    at_line_start: bool,
    after_empty: bool,
    /// Inside a `From ` line longer than a piece: its rest is not content.
    in_from_line: bool,
    line: Vec<u8>,
}

impl Mbox {
    fn open(path: &Path, max: usize) -> std::io::Result<Mbox> {
        Ok(Mbox {
            reader: BufReader::with_capacity(256 * 1024, File::open(path)?),
            path: path.display().to_string(),
            max,
            offset: 0,
            start: None,
            message: Vec::new(),
            too_large: false,
            at_line_start: true,
            after_empty: true,
            in_from_line: false,
            line: Vec::with_capacity(1024),
        })
    }

    /// The next message, or `None` at the end of the file.
    fn next(&mut self) -> Option<Entry> {
        loop {
            self.line.clear();
            let at = self.offset;
            let read = (&mut self.reader)
                .take(PIECE)
                .read_until(b'\n', &mut self.line);
            let n = match read {
                Ok(n) => n,
                Err(e) => {
                    let label = format!("{}@{at}", self.path);
                    self.start = None;
                    self.offset = u64::MAX;
                    return Some(unreadable(label, e));
                }
            };
            if n == 0 {
                return self.start.take().map(|s| self.finish(s));
            }
            self.offset += n as u64;
            let line_start = self.at_line_start;
            self.at_line_start = self.line.ends_with(b"\n");
            if !line_start && self.in_from_line {
                self.in_from_line = !self.at_line_start;
                continue;
            }
            if line_start && self.after_empty && self.line.starts_with(b"From ") {
                let done = self.start.replace(at).map(|s| self.finish(s));
                self.after_empty = false;
                self.in_from_line = !self.at_line_start;
                if done.is_some() {
                    return done;
                }
                continue;
            }
            if line_start {
                self.after_empty = matches!(&self.line[..], b"\n" | b"\r\n");
            }
            let unquoted = line_start && is_quoted_from(&self.line);
            self.push(usize::from(unquoted));
        }
    }

    /// Appends the current line (less `skip` leading bytes) to the message,
    /// within the size cap.
    fn push(&mut self, skip: usize) {
        let piece = &self.line[skip..];
        if self.message.len() + piece.len() > self.max {
            self.too_large = true;
            self.message = Vec::new();
        }
        if !self.too_large {
            self.message.extend_from_slice(piece);
        }
    }

    /// The message that started at `start`, less the empty line that
    /// separates it from the next.
    fn finish(&mut self, start: u64) -> Entry {
        let label = format!("{}@{start}", self.path);
        if std::mem::take(&mut self.too_large) {
            return too_large(label, self.max);
        }
        let mut bytes = std::mem::take(&mut self.message);
        if bytes.ends_with(b"\r\n\r\n") {
            bytes.truncate(bytes.len() - 2);
        } else if bytes.ends_with(b"\n\n") {
            bytes.truncate(bytes.len() - 1);
        }
        Entry {
            label,
            bytes: Ok(bytes),
        }
    }
}

/// Whether a file found in a folder starts like a message (a header field
/// name and a colon), so an MH folder (`1`, `2`, …) or an export with `.txt`
/// names is read, and notes, indexes and JSON beside the mail are not.
fn starts_with_header(head: &[u8]) -> bool {
    let name = head
        .iter()
        .take_while(|&&b| b.is_ascii_alphanumeric() || b == b'-')
        .count();
    name > 0 && head.get(name) == Some(&b':')
}

/// `>From `, `>>From `…: a body line the writer quoted.
fn is_quoted_from(line: &[u8]) -> bool {
    let quotes = line.iter().take_while(|&&b| b == b'>').count();
    quotes > 0 && line[quotes..].starts_with(b"From ")
}

#[cfg(test)]
mod tests;
