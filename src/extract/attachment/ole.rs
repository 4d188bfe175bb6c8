//! OLE2 compound files, through the `cfb` crate (the compound-file reader the
//! Rust ecosystem uses, e.g. by `calamine`): Outlook `.msg` messages,
//! password-protected OOXML (which Office wraps in OLE with an
//! `EncryptionInfo` stream) and legacy `.doc`/`.xls`/`.ppt`.
//!
//! A `.msg` gives its subject, bodies (plain, HTML, and compressed RTF,
//! returned for the walker to decode with [`super::lzfu`]), sender and
//! recipient display names, and each attachment's name and data, returned
//! one at a time (an attached `.msg` is an OLE storage inside this one: it
//! is returned as a [`Child::OleMessage`], which the walker reads with
//! [`message`]).
//!
//! Legacy binary Office files are not parsed: their text is taken by a string
//! scan of every stream (runs of UTF-16LE and of 8-bit code-page text, which is
//! how Word 97–2003 and Excel's shared strings store text). That finds names a
//! reader would find, plus some noise; the part also gets an anomaly so a
//! reviewer knows the reading was approximate.

use crate::extract::{at, html, none, text, Child, Ctx, Found};
use std::borrow::Cow;
use std::io::{Cursor, Read, Seek};

type Ole<'a> = cfb::CompoundFile<Cursor<&'a [u8]>>;

/// `.msg` string properties that carry text (UTF-16 `001F` or 8-bit `001E`):
/// subject, body, sender, display To/Cc/Bcc, conversation topic.
const MSG_TEXT: &[(&str, &str)] = &[
    ("0037", "subject"),
    ("0070", "subject"),
    ("1000", "body"),
    ("0C1A", "header:from"),
    ("0E04", "header:to"),
    ("0E03", "header:cc"),
    ("0E02", "header:bcc"),
];

/// Minimum run length for the legacy string scan.
const MIN_RUN: usize = 4;

/// Reads the compound file at `loc`.
pub(crate) fn read<'a>(ctx: &mut Ctx, loc: &str, bytes: &'a [u8]) -> Found<'a> {
    let mut file = match cfb::CompoundFile::open(Cursor::new(bytes)) {
        Ok(f) => f,
        Err(e) => {
            ctx.uninspectable(loc, format!("corrupt OLE file: {e}"));
            return none();
        }
    };
    if file.exists("/EncryptionInfo") || file.exists("/EncryptedPackage") {
        ctx.uninspectable(loc, "encrypted Office document");
        return none();
    }
    if file.exists("/__properties_version1.0") {
        return message(ctx, loc, bytes, "/");
    }
    legacy(ctx, loc, &mut file, bytes.len() as u64);
    none()
}

/// One stream's bytes, bounded by the file size (a lying directory entry
/// cannot make it longer than the file).
fn stream(file: &mut Ole, path: &str, max: u64) -> Option<Vec<u8>> {
    let s = file.open_stream(path).ok()?;
    let mut out = Vec::new();
    s.take(max).read_to_end(&mut out).ok()?;
    Some(out)
}

/// Reads the message storage `dir` (`/`, or an embedded message's storage)
/// of the OLE file `bytes`, located at `loc`: its texts now, then its
/// compressed-RTF body and its attachments, one at a time.
pub(crate) fn message<'a>(ctx: &mut Ctx, loc: &str, bytes: &'a [u8], dir: &str) -> Found<'a> {
    let mut file = match cfb::CompoundFile::open(Cursor::new(bytes)) {
        Ok(f) => f,
        Err(e) => {
            ctx.uninspectable(loc, format!("corrupt OLE file: {e}"));
            return none();
        }
    };
    // The file size: the bound on any stream.
    let max = bytes.len() as u64;
    let prefix = format!("{loc}/");
    for (tag, leaf) in MSG_TEXT {
        if let Some(text) = string_prop(&mut file, dir, tag, max) {
            ctx.text(&at(&prefix, leaf), text);
        }
    }
    let mut rtf = stream(&mut file, &join(dir, "__substg1.0_10090102"), max).map(|rtf| {
        Child::CompressedRtf {
            loc: format!("{prefix}body"),
            bytes: Cow::Owned(rtf),
        }
    });
    let dir = dir.to_string();
    let mut attachments: Option<std::vec::IntoIter<String>> = None;
    let mut n = 0;
    Box::new(move |ctx: &mut Ctx| {
        if let Some(body) = rtf.take() {
            return Some(body);
        }
        if attachments.is_none() {
            html_body(ctx, &prefix, &mut file, &dir, max);
            attachments = Some(attachment_dirs(&mut file, &dir)?.into_iter());
        }
        for att in attachments.as_mut()?.by_ref() {
            if n >= ctx.limits.max_archive_entries {
                return None;
            }
            n += 1;
            if let Some(child) = attachment(ctx, &prefix, &mut file, (&att, max), bytes) {
                return Some(child);
            }
        }
        None
    })
}

fn html_body(ctx: &mut Ctx, prefix: &str, file: &mut Ole, dir: &str, max: u64) {
    if let Some(markup) = stream(file, &join(dir, "__substg1.0_10130102"), max) {
        let markup = String::from_utf8_lossy(&markup);
        ctx.text(&format!("{prefix}body"), html::to_text(&markup));
    }
}

/// The storages of a message's attachments; `None` when it cannot be listed.
fn attachment_dirs(file: &mut Ole, dir: &str) -> Option<Vec<String>> {
    let entries = file.read_storage(dir).ok()?;
    Some(
        entries
            .filter(|e| e.is_storage() && e.name().starts_with("__attach_version1.0_"))
            .map(|e| e.path().to_string_lossy().into_owned())
            .collect(),
    )
}

/// One `.msg` attachment: its name is text; its data is returned as a file,
/// an embedded message as the storage to read in place.
fn attachment<'a>(
    ctx: &mut Ctx,
    prefix: &str,
    file: &mut Ole,
    (dir, max): (&str, u64),
    bytes: &'a [u8],
) -> Option<Child<'a>> {
    let name = string_prop(file, dir, "3707", max)
        .or_else(|| string_prop(file, dir, "3704", max))
        .unwrap_or_else(|| dir.rsplit('/').next().unwrap_or(dir).to_string());
    let loc = format!("{prefix}{}", name.replace('/', "_"));
    ctx.text(&loc, name);
    let embedded = join(dir, "__substg1.0_3701000D");
    if file.is_storage(&embedded) {
        return Some(Child::OleMessage {
            loc,
            file: bytes,
            dir: embedded,
        });
    }
    let data = stream(file, &join(dir, "__substg1.0_37010102"), max)?;
    Some(Child::File {
        loc,
        declared: String::new(),
        bytes: Cow::Owned(data),
    })
}

/// A string property in its UTF-16 (`001F`) or 8-bit (`001E`) form.
fn string_prop(file: &mut Ole, dir: &str, tag: &str, max: u64) -> Option<String> {
    if let Some(b) = stream(file, &join(dir, &format!("__substg1.0_{tag}001F")), max) {
        return Some(text::utf16le(&b));
    }
    let b = stream(file, &join(dir, &format!("__substg1.0_{tag}001E")), max)?;
    Some(encoding_rs::WINDOWS_1252.decode(&b).0.into_owned())
}

fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// Legacy Office: a string scan of every stream.
fn legacy<R: Read + Seek>(ctx: &mut Ctx, loc: &str, file: &mut cfb::CompoundFile<R>, max: u64) {
    let paths: Vec<String> = file
        .walk()
        .filter(|e| e.is_stream())
        .map(|e| e.path().to_string_lossy().into_owned())
        .collect();
    let mut text = String::new();
    for path in paths {
        let mut data = Vec::new();
        let ok = file
            .open_stream(&path)
            .and_then(|s| s.take(max).read_to_end(&mut data));
        if ok.is_ok() {
            text.push_str(&string_scan(&data));
        }
    }
    ctx.anomaly(loc, "legacy Office format read by string scan");
    ctx.text(loc, text);
}

/// Runs of printable UTF-16LE and of printable 8-bit text, one per line.
pub(crate) fn string_scan(data: &[u8]) -> String {
    let mut out = String::new();
    for offset in 0..2 {
        let units = data
            .get(offset..)
            .unwrap_or_default()
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]));
        let chars = char::decode_utf16(units).map(|c| c.unwrap_or('\0'));
        collect_runs(chars, &mut out);
    }
    let latin = encoding_rs::WINDOWS_1252.decode(data).0;
    collect_runs(latin.chars(), &mut out);
    out
}

fn collect_runs(chars: impl Iterator<Item = char>, out: &mut String) {
    let mut run = String::new();
    for c in chars.chain(std::iter::once('\0')) {
        if (c.is_alphanumeric() || c == ' ' || c.is_ascii_punctuation()) && c != '\0' {
            run.push(c);
            continue;
        }
        if run.chars().filter(|c| c.is_alphanumeric()).count() >= MIN_RUN {
            out.push_str(&run);
            out.push('\n');
        }
        run.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_scan_table() {
        let utf16: Vec<u8> = "Acme Holdings"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (utf16, "Acme Holdings"),
            (
                b"\x00\x01Harrowgate Shipping\x00\x02".to_vec(),
                "Harrowgate Shipping",
            ),
            (b"M\xfcller GmbH\x00".to_vec(), "Müller GmbH"),
        ];
        for (data, want) in cases {
            assert!(string_scan(&data).contains(want), "{want}");
        }
        assert!(!string_scan(b"\x00ab\x00").contains("ab"));
    }

    #[test]
    fn not_ole_is_corrupt() {
        let limits = crate::extract::Limits::default();
        let mut ctx = Ctx::new(&limits);
        read(&mut ctx, "a", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 truncated");
        assert!(ctx.out.uninspectable[0].reason.starts_with("corrupt OLE"));
    }
}
