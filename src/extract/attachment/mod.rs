//! Attachments: the type is decided from the bytes (magic), not from the
//! declared Content-Type or file name, and each type goes to its reader.
//! What cannot be read is reported uninspectable with the reason; it is never
//! silently skipped.
//!
//! This module owns the sniff; each format has its own reader, a leaf that
//! returns what it found inside for [`super::walk`] to dispatch:
//! [`archive`] (ZIP, gzip, tar), [`office`] (OOXML and ODF, which are ZIPs),
//! [`pdf`] (with [`pdfscan`], its bounded pre-decoding of streams), [`rtf`],
//! [`ole`] (Outlook `.msg`, encrypted and legacy Office), [`tnef`]
//! (`winmail.dat`) and [`lzfu`] (Outlook's compressed RTF bodies). Every byte
//! any of them inflates is charged to the message's limits while it is read
//! ([`bounded`]), so a bomb stops at the budget instead of allocating past it.
//!
//! Nesting: no reader reads another. A container returns its members (and
//! an archive that is an office document says so), and the walker reads
//! each one deeper, so depth, the byte budget and the time limit hold across
//! any mix of containers; each member is located as `LOC/member-path`.
//! [`xml`] (XML to text) is shared by the office and PDF readers.

pub(crate) mod archive;
pub(crate) mod bounded;
pub(crate) mod cms;
pub mod lzfu;
pub(crate) mod office;
pub(crate) mod ole;
pub(crate) mod pdf;
pub(crate) mod pdfscan;
pub(crate) mod rtf;
pub(crate) mod tnef;
pub(crate) mod xml;

use super::text::{self, looks_binary};

/// What the bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// PDF: text of every page's content streams.
    Pdf,
    /// ZIP, and the OOXML and ODF documents inside one.
    Zip,
    /// gzip: one member, decompressed within the budget.
    Gzip,
    /// POSIX or GNU tar: each member in turn.
    Tar,
    /// Rich Text Format: the text a reader would show.
    Rtf,
    /// OLE2 compound file: `.msg`, legacy `.doc`/`.xls`.
    Ole,
    /// `winmail.dat` (TNEF): its body and attachments.
    Tnef,
    /// An RFC 5322 message (`.eml`) carried as a file.
    Message,
    /// Already encrypted by the sender (S/MIME, PGP).
    Encrypted,
    /// An S/MIME CMS object: signed data is read, enveloped data is not.
    Cms,
    /// A detached OpenPGP signature: no content.
    Signature,
    /// Images, audio, video: carry no text we read.
    Media,
    /// Plain text in a known or detected charset.
    Text,
    /// Nothing we can read: uninspectable unless the rules allow it.
    Unknown,
}

impl Kind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Kind::Pdf => "pdf",
            Kind::Zip => "zip",
            Kind::Gzip => "gzip",
            Kind::Tar => "tar",
            Kind::Rtf => "rtf",
            Kind::Ole => "ole",
            Kind::Tnef => "tnef",
            Kind::Message => "message",
            Kind::Encrypted => "encrypted",
            Kind::Cms => "cms",
            Kind::Signature => "signature",
            Kind::Media => "media",
            Kind::Text => "text",
            Kind::Unknown => "unknown",
        }
    }
}

/// Decides the kind from the first bytes, with the declared type only to
/// recognise S/MIME and PGP objects, whose magic is weak or absent.
pub(crate) fn sniff(declared: &str, bytes: &[u8]) -> Kind {
    let starts = |m: &[u8]| bytes.starts_with(m);
    if let Some(kind) = sniff_crypto(declared, bytes) {
        return kind;
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
    } else if looks_like_message(bytes) {
        Kind::Message
    } else if bytes.is_empty()
        || text::is_text(bytes)
        || (declared.starts_with("text/") && !looks_binary(&String::from_utf8_lossy(bytes)))
    {
        Kind::Text
    } else {
        Kind::Unknown
    }
}

/// Signatures, S/MIME objects and ciphertext, by declared type or content.
fn sniff_crypto(declared: &str, bytes: &[u8]) -> Option<Kind> {
    let armored = |label: &str| {
        let t = String::from_utf8_lossy(bytes);
        let t = t.trim();
        t.starts_with(&format!("-----BEGIN PGP {label}-----"))
            && t.ends_with(&format!("-----END PGP {label}-----"))
    };
    match declared {
        "application/pkcs7-mime"
        | "application/x-pkcs7-mime"
        | "application/pkcs7-signature"
        | "application/x-pkcs7-signature" => return Some(Kind::Cms),
        "application/pgp-signature" if armored("SIGNATURE") => return Some(Kind::Signature),
        "application/pgp-encrypted" | "application/pkcs7-encrypted" => {
            return Some(Kind::Encrypted)
        }
        _ => {}
    }
    if bytes.starts_with(b"-----BEGIN PGP MESSAGE-----") || cms_starts_as(bytes, false) {
        Some(Kind::Encrypted)
    } else if cms_starts_as(bytes, true) {
        Some(Kind::Cms)
    } else {
        None
    }
}

/// True when `bytes` start like a DER/BER ContentInfo of the given type.
pub(crate) fn cms_starts_as(bytes: &[u8], signed: bool) -> bool {
    // SEQUENCE, length, then the OID 1.2.840.113549.1.7.{2,3}.
    const PREFIX: &[u8] = b"\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07";
    let want = if signed { 2 } else { 3 };
    bytes.first() == Some(&0x30)
        && (2..=6).any(|at| {
            bytes.get(at..at + PREFIX.len()) == Some(PREFIX)
                && bytes.get(at + PREFIX.len()) == Some(&want)
        })
}

/// A header block (`Name: value` lines up to a blank line) that names a
/// sender or a MIME version: an `.eml` saved as a file. Reading it as a
/// message still yields its text if the guess is wrong.
fn looks_like_message(bytes: &[u8]) -> bool {
    let head = String::from_utf8_lossy(bytes.get(..bytes.len().min(8192)).unwrap_or_default());
    let mut lines = head.lines().take_while(|l| !l.trim().is_empty()).peekable();
    let Some(first) = lines.peek() else {
        return false;
    };
    if !is_header_line(first) {
        return false;
    }
    lines.any(|l| {
        let l = l.to_ascii_lowercase();
        l.starts_with("from:") || l.starts_with("mime-version:") || l.starts_with("received:")
    })
}

fn is_header_line(line: &str) -> bool {
    match line.split_once(':') {
        Some((name, _)) => {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        }
        None => false,
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
