//! Extraction: one raw message in, text segments with locations out, plus the
//! parts that could not be inspected and why.
//!
//! A location says where the text was: `subject`, `header:to`, `body`,
//! `attachment:NAME`, and for anything nested, the path joined with `/`
//! (`attachment:fwd.eml/body`, `attachment:bundle.zip/memo.docx`).
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
pub mod html;
pub mod mime;
pub mod params;
pub mod text;
pub mod uuencode;
pub mod views;

use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// Extraction limits (`[limits]` in the TOML); exceeding one makes the part
/// uninspectable, never passes it. Extraction owns them; the config reads them.
#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub max_depth: usize,
    pub max_decompressed_bytes: u64,
    pub max_archive_entries: usize,
    pub max_compression_ratio: u64,
    pub max_scan_millis: u64,
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
    pub location: String,
    pub text: String,
}

/// A part that could not be inspected (or an anomaly worth showing a reviewer).
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Flag {
    pub location: String,
    pub reason: String,
}

/// An attachment, for rules that look at attachment types.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct AttachmentFact {
    pub location: String,
    pub content_type: String,
    /// The type decided from the bytes (`pdf`, `zip`, `text`, …).
    pub detected: String,
    pub size: usize,
}

#[derive(Debug, Default)]
pub struct Extraction {
    pub segments: Vec<Segment>,
    pub uninspectable: Vec<Flag>,
    /// Oddities that were decoded anyway (base64 with stray characters…).
    pub anomalies: Vec<Flag>,
    pub attachments: Vec<AttachmentFact>,
}

/// The running state of one extraction: output plus the budgets the limits set.
pub struct Ctx<'a> {
    pub limits: &'a Limits,
    pub out: Extraction,
    pub parts: usize,
    /// Bytes produced by decompression so far (archives, compressed streams).
    pub decompressed: u64,
    pub deadline: Instant,
}

impl<'a> Ctx<'a> {
    pub fn new(limits: &'a Limits) -> Self {
        Ctx {
            limits,
            out: Extraction::default(),
            parts: 0,
            decompressed: 0,
            deadline: Instant::now() + Duration::from_millis(limits.max_scan_millis),
        }
    }

    pub fn text(&mut self, location: &str, text: impl Into<String>) {
        let text = text.into();
        if !text.trim().is_empty() {
            self.out.segments.push(Segment {
                location: location.to_string(),
                text,
            });
        }
    }

    pub fn uninspectable(&mut self, location: &str, reason: impl Into<String>) {
        let flag = Flag {
            location: location.to_string(),
            reason: reason.into(),
        };
        if !self.out.uninspectable.contains(&flag) {
            self.out.uninspectable.push(flag);
        }
    }

    pub fn anomaly(&mut self, location: &str, reason: impl Into<String>) {
        let flag = Flag {
            location: location.to_string(),
            reason: reason.into(),
        };
        if !self.out.anomalies.contains(&flag) {
            self.out.anomalies.push(flag);
        }
    }

    /// True (and the part flagged) when the time budget is spent.
    pub fn out_of_time(&mut self, location: &str) -> bool {
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
    pub fn charge(&mut self, location: &str, n: u64) -> bool {
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
    mime::walk_raw(&mut ctx, "", raw, 0);
    ctx.out
}

/// Joins a location prefix (`""` at the top, `attachment:fwd.eml/` inside) and a leaf.
/// Inside a container the `attachment:` of the leaf is dropped, so a PDF in a
/// forwarded message is `attachment:fwd.eml/brief.pdf`.
pub fn at(prefix: &str, leaf: &str) -> String {
    match leaf.strip_prefix("attachment:") {
        Some(name) if !prefix.is_empty() => format!("{prefix}{name}"),
        _ => format!("{prefix}{leaf}"),
    }
}
