//! OpenPGP (RFC 9580 / 4880) in PGP/MIME (RFC 3156): the inner entity is
//! encrypted as one binary literal-data packet in a SEIPD v1 packet (AES-256
//! with the modification-detection code), with one PKESK per recipient key
//! (the recipient's, and the firm's archive key), ASCII-armored, and sent as
//! `multipart/encrypted; protocol="application/pgp-encrypted"`.
//!
//! Crate: rpgp (`pgp`), not sequoia-openpgp. rpgp is pure Rust (sequoia's
//! default crypto backend is nettle, a C library CI would have to install),
//! it is independently audited and carries Delta Chat's encrypted mail in
//! production. 0.17 is its newest release for this crate's rust-version
//! (1.85). SEIPD v1 rather than v2 (AEAD): GnuPG 2.2 and 2.4, which most
//! correspondents run, read only v1; only version 4 keys are accepted for
//! the same reason (see `config::certs::openpgp`).

use crate::config::certs::openpgp::{EncryptionKey, PgpKey};
use pgp::composed::{ArmorOptions, MessageBuilder};
use pgp::crypto::sym::SymmetricKeyAlgorithm;
use rand::rngs::OsRng;
use std::time::SystemTime;

/// `inner` encrypted to every key in `keys`, ASCII-armored (CRLF lines).
pub(crate) fn encrypt(inner: &[u8], keys: &[&PgpKey], now: SystemTime) -> Result<Vec<u8>, String> {
    let mut builder = MessageBuilder::from_bytes("", inner.to_vec())
        .seipd_v1(OsRng, SymmetricKeyAlgorithm::AES256);
    for key in keys {
        let result = match key.encryption_key(now) {
            Some(EncryptionKey::Subkey(k)) => builder.encrypt_to_key(OsRng, k),
            Some(EncryptionKey::Primary(k)) => builder.encrypt_to_key(OsRng, k),
            None => return Err("no valid encryption subkey at this time".into()),
        };
        result.map_err(|e| format!("OpenPGP: {e}"))?;
    }
    let armored = builder
        .to_armored_string(OsRng, ArmorOptions::default())
        .map_err(|e| format!("OpenPGP: {e}"))?;
    Ok(crlf(armored.as_bytes()))
}

/// LF line ends (how rpgp armors) to CRLF, as SMTP carries text.
fn crlf(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + text.len() / 60 + 2);
    for line in text.split_inclusive(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The whole message: the outer headers in clear, then RFC 3156's two parts.
pub(crate) fn message(outer_headers: &[u8], armored: &[u8]) -> Vec<u8> {
    let b = super::entity::boundary();
    let mut out = outer_headers.to_vec();
    out.extend_from_slice(
        format!(
            "MIME-Version: 1.0\r\n\
             Content-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\";\r\n \
             boundary=\"{b}\"\r\n\r\n\
             This is an OpenPGP/MIME encrypted message (RFC 3156).\r\n\
             --{b}\r\n\
             Content-Type: application/pgp-encrypted\r\n\
             Content-Description: PGP/MIME version identification\r\n\r\n\
             Version: 1\r\n\r\n\
             --{b}\r\n\
             Content-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\
             Content-Description: OpenPGP encrypted message\r\n\
             Content-Disposition: inline; filename=\"encrypted.asc\"\r\n\r\n"
        )
        .as_bytes(),
    );
    out.extend_from_slice(armored);
    out.extend_from_slice(format!("\r\n--{b}--\r\n").as_bytes());
    out
}
