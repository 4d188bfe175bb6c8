//! Archives: ZIP, gzip and tar, opened recursively by sniffing each member's
//! bytes (a `.txt` inside that is really a ZIP is opened as a ZIP).
//!
//! Crates: `zip` (read side only, deflate through `flate2`'s pure-Rust
//! backend), `flate2` for gzip, `tar` without its filesystem features. No
//! member is ever written to disk: a member's name, even `../../etc/passwd`
//! (zip slip), is only location text. Limits: entries per archive, the
//! declared and the actual compression ratio per member, and every inflated
//! byte charged to the message budget (see [`super::bounded`]).
//!
//! A ZIP that is an OOXML or ODF document is reported as one (a
//! [`Child::Office`]), so that its text is read at the document's own
//! location; otherwise its members are handed to the walker one at a time
//! ([`Found`]), a stored member borrowed from the archive's bytes.
//!
//! Members are found through the central directory; local headers that it
//! does not list (the streaming-parser differential) make the archive
//! uninspectable rather than silently unread.

use super::bounded::{self, Stop};
use super::Kind;
use crate::extract::{listed, none, Child, Ctx, Found};
use std::io::{Cursor, Read};

/// Opens a ZIP: an office document, or an archive whose members are
/// returned one at a time.
pub(crate) fn zip<'a>(ctx: &mut Ctx, loc: &str, bytes: &'a [u8]) -> Found<'a> {
    let mut archive = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(a) => a,
        Err(e) => {
            ctx.uninspectable(loc, format!("corrupt zip: {e}"));
            return none();
        }
    };
    if archive.len() > ctx.limits.max_archive_entries {
        let max = ctx.limits.max_archive_entries;
        ctx.uninspectable(loc, format!("more than {max} archive entries"));
        return none();
    }
    if hidden_local_entries(bytes, &mut archive) {
        ctx.uninspectable(
            loc,
            "zip local headers disagree with its central directory (hidden entries)",
        );
    }
    if let Some(odf) = office_package(&archive) {
        let loc = loc.to_string();
        return listed(vec![Child::Office { loc, bytes, odf }]);
    }
    let loc = loc.to_string();
    let mut next = 0;
    Box::new(move |ctx: &mut Ctx| {
        while next < archive.len() {
            let i = next;
            next += 1;
            if let Some((name, data)) = bounded::zip_member(ctx, &loc, bytes, &mut archive, i) {
                return Some(Child::File {
                    loc: format!("{loc}/{name}"),
                    declared: String::new(),
                    bytes: data,
                });
            }
        }
        None
    })
}

/// `Some(odf)` for an OOXML (`[Content_Types].xml`) or ODF (a manifest and
/// `content.xml`) package.
fn office_package<R: Read + std::io::Seek>(archive: &zip::ZipArchive<R>) -> Option<bool> {
    let odf = archive.index_for_name("META-INF/manifest.xml").is_some()
        && archive.index_for_name("content.xml").is_some();
    (odf || archive.index_for_name("[Content_Types].xml").is_some()).then_some(odf)
}

/// True when a local file header sits outside every entry the central
/// directory lists: a streaming unzipper (and some mail clients) would show
/// an entry that a central-directory reader never sees (RELIABILITY 35).
/// Spans run from each listed local header to the end of its data, so a
/// stored ZIP inside a member is not mistaken for a hidden entry.
fn hidden_local_entries<R: Read + std::io::Seek>(
    bytes: &[u8],
    archive: &mut zip::ZipArchive<R>,
) -> bool {
    let mut spans: Vec<(u64, u64)> = Vec::new();
    let mut directory = bytes.len() as u64;
    for i in 0..archive.len() {
        let Ok(f) = archive.by_index_raw(i) else {
            return false; // reported as corrupt by the member loop
        };
        let start = f.header_start();
        directory = directory.min(f.central_header_start());
        spans.push((
            start,
            start + local_header_len(bytes, start) + f.compressed_size(),
        ));
    }
    let mut from = 0usize;
    let limit = usize::try_from(directory).unwrap_or(bytes.len());
    let scan = bytes.get(..limit).unwrap_or(bytes);
    while let Some(at) = scan
        .get(from..)
        .and_then(|b| memchr::memmem::find(b, b"PK\x03\x04"))
    {
        let pos = (from + at) as u64;
        if !spans.iter().any(|&(s, e)| pos >= s && pos < e.max(s + 1)) {
            return true;
        }
        from += at + 4;
    }
    false
}

/// The length of the local file header at `at` (30 bytes, name, extra field).
fn local_header_len(bytes: &[u8], at: u64) -> u64 {
    let at = usize::try_from(at).unwrap_or(usize::MAX);
    let field = |off: usize| {
        bytes
            .get(at.saturating_add(off)..at.saturating_add(off + 2))
            .map_or(0, |b| u64::from(u16::from_le_bytes([b[0], b[1]])))
    };
    30 + field(26) + field(28)
}

/// Inflates a gzip stream (all members): what is inside is read at the same
/// location, `bundle.tar.gz/memo.docx`, not `bundle.tar.gz/bundle.tar/…`.
pub(crate) fn gzip<'a>(ctx: &mut Ctx, loc: &str, bytes: &[u8]) -> Found<'a> {
    let decoder = flate2::read::MultiGzDecoder::new(bytes);
    match bounded::read_all(ctx, loc, decoder, bytes.len() as u64) {
        Ok(inner) => listed(vec![Child::Inflated {
            loc: loc.to_string(),
            bytes: inner,
        }]),
        Err(Stop::Limit) => none(),
        Err(Stop::Corrupt(e)) => {
            ctx.uninspectable(loc, format!("corrupt gzip: {e}"));
            none()
        }
    }
}

/// One regular file of a tar archive, or where the archive stopped.
enum TarEntry {
    File { name: String, at: usize, len: usize },
    TooMany,
    Corrupt(String),
}

/// The regular files of a tar archive, each borrowed from `bytes`. Tar does
/// not compress, so its members are bounded by the input itself; only the
/// entry count is limited. The headers are listed first (names and offsets
/// only), then the members are handed over one at a time.
pub(crate) fn tar<'a>(ctx: &mut Ctx, loc: &str, bytes: &'a [u8]) -> Found<'a> {
    let entries = match tar_entries(bytes, ctx.limits.max_archive_entries) {
        Ok(e) => e,
        Err(e) => {
            ctx.uninspectable(loc, format!("corrupt tar: {e}"));
            return none();
        }
    };
    let loc = loc.to_string();
    let mut entries = entries.into_iter();
    Box::new(move |ctx: &mut Ctx| match entries.next()? {
        TarEntry::File { name, at, len } => {
            // A member cut short by the end of the input is read as far as it goes.
            let end = at.saturating_add(len).min(bytes.len());
            Some(Child::File {
                loc: format!("{loc}/{name}"),
                declared: String::new(),
                bytes: std::borrow::Cow::Borrowed(bytes.get(at..end).unwrap_or_default()),
            })
        }
        TarEntry::TooMany => {
            let max = ctx.limits.max_archive_entries;
            ctx.uninspectable(&loc, format!("more than {max} archive entries"));
            None
        }
        TarEntry::Corrupt(e) => {
            ctx.uninspectable(&loc, format!("corrupt tar: {e}"));
            None
        }
    })
}

fn tar_entries(bytes: &[u8], max: usize) -> std::io::Result<Vec<TarEntry>> {
    let mut archive = tar::Archive::new(bytes);
    let mut out = Vec::new();
    for (count, entry) in archive.entries()?.enumerate() {
        if count >= max {
            out.push(TarEntry::TooMany);
            break;
        }
        let entry = match entry {
            Ok(e) => e,
            Err(e) => {
                out.push(TarEntry::Corrupt(e.to_string()));
                break;
            }
        };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        out.push(TarEntry::File {
            name: String::from_utf8_lossy(&entry.path_bytes()).into_owned(),
            at: usize::try_from(entry.raw_file_position()).unwrap_or(usize::MAX),
            len: usize::try_from(entry.size()).unwrap_or(usize::MAX),
        });
    }
    Ok(out)
}

/// A ZIP appended to a file of another kind (a PDF or JPEG that is also a
/// ZIP: ZIP readers find the archive from the end, so the recipient can open
/// it): true (and an anomaly noted) when the walker should read `bytes` as
/// a ZIP as well, at the same location. Only an end-of-central-directory
/// record that opens as a ZIP counts, so stray bytes raise nothing.
pub(crate) fn appended_zip(ctx: &mut Ctx, loc: &str, kind: Kind, bytes: &[u8]) -> bool {
    // A ZIP is read as one anyway; a tar may hold a stored ZIP as its last member.
    if matches!(kind, Kind::Zip | Kind::Tar | Kind::Encrypted | Kind::Cms) {
        return false;
    }
    // The EOCD record is within the last 64 KiB + 22 bytes.
    let tail = bytes
        .get(bytes.len().saturating_sub(65_557)..)
        .unwrap_or(bytes);
    if memchr::memmem::find(tail, b"PK\x05\x06").is_none() {
        return false;
    }
    if zip::ZipArchive::new(Cursor::new(bytes)).is_err() {
        return false;
    }
    ctx.anomaly(
        loc,
        format!("a ZIP archive is appended to this {} file", kind.name()),
    );
    true
}
