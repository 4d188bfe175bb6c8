//! Attachments: the type is decided from the bytes (magic), not from the
//! declared Content-Type or file name, and each type goes to its reader.
//! What cannot be read is reported uninspectable with the reason; it is never
//! silently skipped.

use super::{mime::looks_binary, AttachmentFact, Ctx};

/// What the bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Pdf,
    Zip,
    Gzip,
    Tar,
    Rtf,
    /// OLE2 compound file: `.msg`, legacy `.doc`/`.xls`.
    Ole,
    Tnef,
    /// Already encrypted by the sender (S/MIME, PGP).
    Encrypted,
    /// Images, audio, video: carry no text we read.
    Media,
    Text,
    Unknown,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Pdf => "pdf",
            Kind::Zip => "zip",
            Kind::Gzip => "gzip",
            Kind::Tar => "tar",
            Kind::Rtf => "rtf",
            Kind::Ole => "ole",
            Kind::Tnef => "tnef",
            Kind::Encrypted => "encrypted",
            Kind::Media => "media",
            Kind::Text => "text",
            Kind::Unknown => "unknown",
        }
    }
}

/// Decides the kind from the first bytes, with the declared type only to
/// recognise sender-encrypted content, which has no reliable magic.
pub fn sniff(declared: &str, bytes: &[u8]) -> Kind {
    let starts = |m: &[u8]| bytes.starts_with(m);
    if matches!(
        declared,
        "application/pkcs7-mime"
            | "application/x-pkcs7-mime"
            | "application/pgp-encrypted"
            | "application/pkcs7-encrypted"
    ) || starts(b"-----BEGIN PGP MESSAGE-----")
    {
        return Kind::Encrypted;
    }
    if starts(b"%PDF-") {
        Kind::Pdf
    } else if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        Kind::Zip
    } else if starts(b"\x1f\x8b") {
        Kind::Gzip
    } else if bytes.get(257..262) == Some(b"ustar") {
        Kind::Tar
    } else if starts(b"{\\rtf") {
        Kind::Rtf
    } else if starts(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1") {
        Kind::Ole
    } else if starts(b"\x78\x9f\x3e\x22") {
        Kind::Tnef
    } else if is_media(bytes) {
        Kind::Media
    } else if std::str::from_utf8(bytes).is_ok_and(|t| !looks_binary(t))
        || bytes.is_empty()
        || declared.starts_with("text/") && !looks_binary(&String::from_utf8_lossy(bytes))
    {
        Kind::Text
    } else {
        Kind::Unknown
    }
}

fn is_media(b: &[u8]) -> bool {
    const MAGIC: &[&[u8]] = &[
        b"\x89PNG\r\n\x1a\n",
        b"\xff\xd8\xff",
        b"GIF87a",
        b"GIF89a",
        b"ID3",
        b"OggS",
        b"fLaC",
        b"\x1a\x45\xdf\xa3",
    ];
    MAGIC.iter().any(|m| b.starts_with(m))
        || (b.starts_with(b"RIFF") && matches!(b.get(8..12), Some(b"WEBP" | b"WAVE" | b"AVI ")))
        || b.get(4..8) == Some(b"ftyp")
}

/// Reads one attachment's bytes at `loc`.
pub fn read(ctx: &mut Ctx, loc: &str, declared: &str, bytes: &[u8], depth: usize) {
    let kind = sniff(declared, bytes);
    ctx.out.attachments.push(AttachmentFact {
        location: loc.to_string(),
        content_type: declared.to_string(),
        detected: kind.name().to_string(),
        size: bytes.len(),
    });
    if depth > ctx.limits.max_depth {
        let max = ctx.limits.max_depth;
        return ctx.uninspectable(loc, format!("nested deeper than the limit of {max}"));
    }
    match kind {
        Kind::Text => ctx.text(loc, String::from_utf8_lossy(bytes)),
        Kind::Encrypted => ctx.uninspectable(loc, "encrypted by the sender"),
        Kind::Media => {}
        Kind::Unknown => ctx.uninspectable(loc, "unknown binary format"),
        other => ctx.uninspectable(
            loc,
            format!("{} attachments are not read yet", other.name()),
        ),
    }
}
