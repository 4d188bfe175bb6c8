//! Extraction: one raw message in, text segments with locations out, plus the
//! parts that could not be inspected and why.
//!
//! A location says where the text was: `subject`, `header:to`, `body`,
//! `attachment:NAME`, and for anything nested, the path joined with `/`
//! (`attachment:fwd.eml/body`, `attachment:bundle.zip/memo.docx`).
//!
//! One walker ([`walk`]) owns the recursion over parts, messages and
//! containers: depth, the byte and time budgets and the location path are
//! enforced there, once. Every reader is a leaf: given bytes it reports
//! text and flags into [`Ctx`] and returns the [`Child`]ren it found, which
//! the walker reads in turn (containers hand them over one at a time, so
//! only the members on the current path are in memory).
//!
//! One liberal parser is not trusted (DESIGN §2): `mail-parser` gives the
//! structure and the decoded text, and [`views`] re-reads each part's raw bytes
//! under every plausible transfer encoding, so the detector scans the union of
//! all views; where the views disagree about the structure, the message is
//! reported uninspectable. Each text is read as the recipient's client shows
//! it ([`text`]: charset detection, `format=flowed`, calendar folding;
//! [`html`]: layout, visible and aside texts), signed S/MIME is opened
//! ([`attachment::cms`]), and uuencode is decoded ([`uuencode`]: the
//! transfer encoding, and files pasted into text, read as attachments).

pub mod attachment;
pub(crate) mod codec;
pub(crate) mod html;
pub(crate) mod mime;
pub(crate) mod params;
pub(crate) mod text;
pub(crate) mod uuencode;
pub(crate) mod views;
pub mod walk;

use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::time::{Duration, Instant};

/// Extraction limits (`[limits]` in the TOML); exceeding one makes the part
/// uninspectable, never passes it. Extraction owns them; the config reads them.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    /// Nesting of messages, archives and documents past which a part is uninspectable.
    pub max_depth: usize,
    /// Bytes all decompression together may produce (zip bombs stop here).
    pub max_decompressed_bytes: u64,
    /// Members per archive.
    pub max_archive_entries: usize,
    /// Decompressed size over compressed size past which a member is a bomb.
    pub max_compression_ratio: u64,
    /// Wall-clock time for the whole message.
    pub max_scan_millis: u64,
    /// MIME parts and archive members, all together.
    pub max_parts: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: 32,
            max_decompressed_bytes: 256 * 1024 * 1024,
            max_archive_entries: 10_000,
            max_compression_ratio: 200,
            max_scan_millis: 20_000,
            max_parts: 5_000,
        }
    }
}

/// A piece of text and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Where the text was found (`body`, `attachment[1]/report.pdf`…).
    pub location: String,
    /// The text as a reader would see it, decoded.
    pub text: String,
}

/// A part that could not be inspected (or an anomaly worth showing a reviewer).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Flag {
    /// The part, named as for a segment.
    pub location: String,
    /// Why it could not be read, for the reviewer and the log.
    pub reason: String,
}

/// An attachment, for rules that look at attachment types.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AttachmentFact {
    pub(crate) location: String,
    pub(crate) content_type: String,
    /// The type decided from the bytes (`pdf`, `zip`, `text`, …).
    pub(crate) detected: String,
    pub(crate) size: usize,
}

#[derive(Debug, Default)]
/// Everything extraction read from one message: the text to scan, what it could not read, and what it found attached.
pub struct Extraction {
    /// The text of every part and member, in message order.
    pub segments: Vec<Segment>,
    /// Parts that could not be read.
    pub uninspectable: Vec<Flag>,
    /// Oddities that were decoded anyway (base64 with stray characters…).
    pub anomalies: Vec<Flag>,
    /// One fact per attachment, for rules on attachment types.
    pub attachments: Vec<AttachmentFact>,
}

/// The running state of one extraction: output plus the budgets the limits set.
pub struct Ctx<'a> {
    /// The budgets this extraction must stay within.
    pub limits: &'a Limits,
    /// What has been read so far.
    pub out: Extraction,
    /// Parts and members seen so far (against `max_parts`).
    pub parts: usize,
    /// Bytes produced by decompression so far (archives, compressed streams).
    pub decompressed: u64,
    pub(crate) deadline: Instant,
}

impl<'a> Ctx<'a> {
    /// A fresh extraction: nothing read yet, the clock started now.
    pub fn new(limits: &'a Limits) -> Self {
        Ctx {
            limits,
            out: Extraction::default(),
            parts: 0,
            decompressed: 0,
            deadline: Instant::now() + Duration::from_millis(limits.max_scan_millis),
        }
    }

    pub(crate) fn text(&mut self, location: &str, text: impl Into<String>) {
        let text = text.into();
        if !text.trim().is_empty() {
            self.out.segments.push(Segment {
                location: location.to_string(),
                text,
            });
        }
    }

    pub(crate) fn uninspectable(&mut self, location: &str, reason: impl Into<String>) {
        let flag = Flag {
            location: location.to_string(),
            reason: reason.into(),
        };
        if !self.out.uninspectable.contains(&flag) {
            self.out.uninspectable.push(flag);
        }
    }

    pub(crate) fn anomaly(&mut self, location: &str, reason: impl Into<String>) {
        let flag = Flag {
            location: location.to_string(),
            reason: reason.into(),
        };
        if !self.out.anomalies.contains(&flag) {
            self.out.anomalies.push(flag);
        }
    }

    /// True (and the part flagged) when the time budget is spent.
    pub(crate) fn out_of_time(&mut self, location: &str) -> bool {
        if Instant::now() > self.deadline {
            self.uninspectable(
                location,
                format!(
                    "scan time limit of {} ms reached",
                    self.limits.max_scan_millis
                ),
            );
            return true;
        }
        false
    }

    /// Charges `n` decompressed bytes; false (and the part flagged) over budget.
    pub(crate) fn charge(&mut self, location: &str, n: u64) -> bool {
        self.decompressed += n;
        if self.decompressed > self.limits.max_decompressed_bytes {
            let max = self.limits.max_decompressed_bytes;
            self.uninspectable(
                location,
                format!("over the limit of {max} decompressed bytes per message"),
            );
            return false;
        }
        true
    }
}

/// Extracts every segment of a raw message.
pub fn extract(raw: &[u8], limits: &Limits) -> Extraction {
    let mut ctx = Ctx::new(limits);
    walk::raw_message(&mut ctx, "", raw, 0);
    ctx.out
}

/// Something a reader found inside what it read, for the walker to read
/// next. Bytes are borrowed from the reader's input where they can be (a
/// stored ZIP member), owned where they had to be decoded.
pub(crate) enum Child<'a> {
    /// A file (an attachment, an archive member): its type is sniffed from
    /// the bytes and it is recorded as an attachment at `loc`. One level
    /// deeper than its container.
    File {
        loc: String,
        declared: String,
        bytes: Cow<'a, [u8]>,
    },
    /// The inflated content of a compressed stream (gzip), read at the
    /// stream's own location as what its bytes are. One level deeper.
    Inflated { loc: String, bytes: Vec<u8> },
    /// An RFC 5322 message, located under `prefix` (`attachment:fwd.eml/`).
    /// One level deeper.
    Message {
        prefix: String,
        bytes: Cow<'a, [u8]>,
    },
    /// A ZIP that is an OOXML (`odf` false) or ODF document: read as one,
    /// in place.
    Office {
        loc: String,
        bytes: &'a [u8],
        odf: bool,
    },
    /// A message storage in an OLE file (an embedded `.msg`), located at
    /// `loc`. One level deeper.
    OleMessage {
        loc: String,
        file: &'a [u8],
        dir: String,
    },
    /// An Outlook compressed-RTF body (MS-OXRTFCP), read in place.
    CompressedRtf { loc: String, bytes: Cow<'a, [u8]> },
}

impl Child<'_> {
    /// Whether the child sits one level deeper than its container (else it
    /// is another reading of the same thing, at the same depth).
    pub(crate) fn nested(&self) -> bool {
        !matches!(self, Child::Office { .. } | Child::CompressedRtf { .. })
    }
}

/// A reader's children, handed over one at a time: each call reports what
/// the reader finds up to the next child into `ctx` and returns that child,
/// or `None` when there are no more. The walker reads each before asking
/// for the next, so a container never holds all its members at once.
pub(crate) trait Children<'a> {
    fn next_child(&mut self, ctx: &mut Ctx) -> Option<Child<'a>>;
}

impl<'a, F: FnMut(&mut Ctx) -> Option<Child<'a>>> Children<'a> for F {
    fn next_child(&mut self, ctx: &mut Ctx) -> Option<Child<'a>> {
        self(ctx)
    }
}

/// A reader's children, boxed: what every container reader returns.
pub(crate) type Found<'a> = Box<dyn Children<'a> + 'a>;

/// No children.
pub(crate) fn none<'a>() -> Found<'a> {
    Box::new(|_: &mut Ctx| None)
}

/// The children in `list`, in order (for readers whose children are
/// already in memory anyway, or are only locations).
pub(crate) fn listed<'a>(list: Vec<Child<'a>>) -> Found<'a> {
    let mut list = list.into_iter();
    Box::new(move |_: &mut Ctx| list.next())
}

/// Where a message's own bytes start in the offsets its parser gave: 0
/// for a message parsed on its own; a message nested in another
/// (`message/rfc822`) keeps the outer message's offsets while its raw
/// bytes are only its own slice of the outer ones.
pub(crate) fn offset_base(msg: &mail_parser::Message) -> usize {
    let own = msg.raw_message().len();
    msg.parts
        .first()
        .map_or(0, |root| (root.offset_end as usize).saturating_sub(own))
}

/// The bytes of `msg` between two offsets its parser gave (empty when they
/// are out of its bounds).
pub(crate) fn raw_between<'m>(msg: &'m mail_parser::Message<'_>, start: u32, end: u32) -> &'m [u8] {
    let base = offset_base(msg);
    let (start, end) = (start as usize, end as usize);
    let range = start.saturating_sub(base)..end.saturating_sub(base);
    msg.raw_message().get(range).unwrap_or_default()
}

/// Joins a location prefix (`""` at the top, `attachment:fwd.eml/` inside) and a leaf.
/// Inside a container the `attachment:` of the leaf is dropped, so a PDF in a
/// forwarded message is `attachment:fwd.eml/brief.pdf`.
pub(crate) fn at(prefix: &str, leaf: &str) -> String {
    match leaf.strip_prefix("attachment:") {
        Some(name) if !prefix.is_empty() => format!("{prefix}{name}"),
        _ => format!("{prefix}{leaf}"),
    }
}
