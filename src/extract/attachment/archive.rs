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
//! A ZIP that is an OOXML or ODF document goes to [`super::office`] instead,
//! so that its text is reported at the document's own location.
//!
//! Members are found through the central directory; local headers that it
//! does not list (the streaming-parser differential) make the archive
//! uninspectable rather than silently unread.

use super::bounded::{self, Stop};
use super::{office, read_member, Ctx};
use std::io::{Cursor, Read};

/// Opens a ZIP: an office document, or an archive of members.
pub fn zip(ctx: &mut Ctx, loc: &str, bytes: &[u8], depth: usize) {
    let mut archive = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(a) => a,
        Err(e) => return ctx.uninspectable(loc, format!("corrupt zip: {e}")),
    };
    if archive.len() > ctx.limits.max_archive_entries {
        let max = ctx.limits.max_archive_entries;
        return ctx.uninspectable(loc, format!("more than {max} archive entries"));
    }
    if hidden_local_entries(bytes, &mut archive) {
        ctx.uninspectable(
            loc,
            "zip local headers disagree with its central directory (hidden entries)",
        );
    }
    if office::is_office(&archive) {
        return office::read(ctx, loc, &mut archive, depth);
    }
    for i in 0..archive.len() {
        if ctx.out_of_time(loc) {
            return;
        }
        let Some((name, data)) = zip_member(ctx, loc, &mut archive, i) else {
            continue;
        };
        read_member(ctx, &format!("{loc}/{name}"), &data, depth + 1);
    }
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

/// The name and inflated bytes of member `i`; `None` (flagged if it matters)
/// for directories, encrypted, over-limit or corrupt members.
pub fn zip_member<R: Read + std::io::Seek>(
    ctx: &mut Ctx,
    loc: &str,
    archive: &mut zip::ZipArchive<R>,
    i: usize,
) -> Option<(String, Vec<u8>)> {
    let (name, encrypted, size, compressed) = match archive.by_index_raw(i) {
        Ok(f) => (
            String::from_utf8_lossy(f.name_raw()).into_owned(),
            f.encrypted(),
            f.size(),
            f.compressed_size(),
        ),
        Err(e) => {
            ctx.uninspectable(loc, format!("corrupt zip: {e}"));
            return None;
        }
    };
    let member = format!("{loc}/{name}");
    if encrypted {
        ctx.uninspectable(&member, "password-protected zip");
        return None;
    }
    if name.ends_with('/') || !bounded::declared_ratio_ok(ctx, &member, size, compressed) {
        return None;
    }
    let file = match archive.by_index(i) {
        Ok(f) => f,
        Err(e) => {
            ctx.uninspectable(&member, format!("corrupt zip member: {e}"));
            return None;
        }
    };
    match bounded::read_all(ctx, &member, file, compressed) {
        Ok(data) => Some((name, data)),
        Err(Stop::Limit) => None,
        Err(Stop::Corrupt(e)) => {
            ctx.uninspectable(&member, format!("corrupt zip member: {e}"));
            None
        }
    }
}

/// Inflates a gzip stream (all members) and reads what is inside at the same
/// location: `bundle.tar.gz/memo.docx`, not `bundle.tar.gz/bundle.tar/…`.
pub fn gzip(ctx: &mut Ctx, loc: &str, bytes: &[u8], depth: usize) {
    let decoder = flate2::read::MultiGzDecoder::new(bytes);
    match bounded::read_all(ctx, loc, decoder, bytes.len() as u64) {
        Ok(inner) => {
            let kind = super::sniff("", &inner);
            super::dispatch(ctx, loc, kind, "", &inner, depth + 1);
        }
        Err(Stop::Limit) => {}
        Err(Stop::Corrupt(e)) => ctx.uninspectable(loc, format!("corrupt gzip: {e}")),
    }
}

/// Reads each regular file of a tar archive. Tar does not compress, so its
/// members are bounded by the input itself; only the entry count is limited.
pub fn tar(ctx: &mut Ctx, loc: &str, bytes: &[u8], depth: usize) {
    let mut archive = tar::Archive::new(bytes);
    let entries = match archive.entries() {
        Ok(e) => e,
        Err(e) => return ctx.uninspectable(loc, format!("corrupt tar: {e}")),
    };
    for (count, entry) in entries.enumerate() {
        if count >= ctx.limits.max_archive_entries {
            let max = ctx.limits.max_archive_entries;
            return ctx.uninspectable(loc, format!("more than {max} archive entries"));
        }
        if ctx.out_of_time(loc) {
            return;
        }
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => return ctx.uninspectable(loc, format!("corrupt tar: {e}")),
        };
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let member = format!("{loc}/{name}");
        let mut data = Vec::new();
        match (&mut entry).take(bytes.len() as u64).read_to_end(&mut data) {
            Ok(_) => read_member(ctx, &member, &data, depth + 1),
            Err(e) => ctx.uninspectable(&member, format!("corrupt tar member: {e}")),
        }
    }
}
