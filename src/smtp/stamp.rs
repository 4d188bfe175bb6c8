//! The loop stamp (issue 14): every message matterwall sends on — relayed,
//! released, encrypted, a notice or a delivery report — carries
//! `X-Matterwall-Stamp: v=1; t=UNIX; h=MAC`, where MAC is HMAC-SHA256 under
//! the installation's stamp key ([`crate::config::stamp::StampKey`]) of the
//! time and the message's `Message-ID`. The firm's transport rule lets a
//! message past matterwall only when it carries the stamp *and* comes from
//! matterwall's addresses; matterwall itself strips any stamp it receives
//! before scanning (a sender cannot forge one to skip the filter), and can
//! tell its own stamp from a forgery ([`verify`]).

use super::intake::values;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub(crate) const FIELD: &str = "X-Matterwall-Stamp";

fn mac(key: &[u8; 32], time: u64, message_id: &str) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length");
    m.update(b"matterwall-stamp-v1\0");
    m.update(time.to_string().as_bytes());
    m.update(b"\0");
    m.update(message_id.trim().as_bytes());
    m
}

fn message_id(raw: &[u8]) -> String {
    values(raw, "Message-ID")
        .into_iter()
        .next()
        .unwrap_or_default()
}

/// The stamp's header line (CRLF included) for `raw` at `time`.
pub(crate) fn line(key: &[u8; 32], raw: &[u8], time: u64) -> Vec<u8> {
    let h = B64.encode(mac(key, time, &message_id(raw)).finalize().into_bytes());
    format!("{FIELD}: v=1; t={time}; h={h}\r\n").into_bytes()
}

/// Why a stamp does not verify.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum StampError {
    #[error("no X-Matterwall-Stamp")]
    /// The message carries no stamp.
    Missing,
    #[error("more than one X-Matterwall-Stamp")]
    /// The message carries more than one stamp.
    Several,
    #[error("a malformed X-Matterwall-Stamp")]
    /// The stamp does not parse.
    Malformed,
    #[error("an X-Matterwall-Stamp not made with this installation's key")]
    /// The stamp's MAC does not verify under our key.
    Forged,
}

/// Checks the message's one stamp against `key` and its `Message-ID`;
/// returns the time it was made (seconds since the epoch).
pub fn verify(key: &[u8; 32], raw: &[u8]) -> Result<u64, StampError> {
    let stamps = values(raw, FIELD);
    let value = match stamps.as_slice() {
        [] => return Err(StampError::Missing),
        [one] => one,
        _ => return Err(StampError::Several),
    };
    let mut time = None;
    let mut h = None;
    for part in value.split(';') {
        match part.trim().split_once('=') {
            Some(("v", v)) if v != "1" => return Err(StampError::Malformed),
            Some(("t", t)) => time = t.parse::<u64>().ok(),
            Some(("h", m)) => h = B64.decode(m).ok(),
            _ => {}
        }
    }
    let (Some(time), Some(h)) = (time, h) else {
        return Err(StampError::Malformed);
    };
    mac(key, time, &message_id(raw))
        .verify_slice(&h)
        .map(|_| time)
        .map_err(|_| StampError::Forged)
}

/// Removes every `X-Matterwall-Stamp` field (with its continuation lines)
/// from the header block; every other byte stays. Returns how many went.
pub(crate) fn strip(raw: Vec<u8>) -> (Vec<u8>, usize) {
    if values(&raw, FIELD).is_empty() {
        return (raw, 0);
    }
    let header_end = super::intake::header_block(&raw).len();
    let mut out: Vec<u8> = Vec::with_capacity(raw.len());
    let (mut pos, mut removed, mut dropping) = (0, 0, false);
    while pos < header_end {
        let end = memchr::memchr(b'\n', &raw[pos..header_end]).map_or(header_end, |i| pos + i + 1);
        let line = &raw[pos..end];
        if !matches!(line.first(), Some(b' ' | b'\t')) {
            dropping = is_stamp(line);
            removed += usize::from(dropping);
        }
        if !dropping {
            out.extend_from_slice(line);
        }
        pos = end;
    }
    out.extend_from_slice(&raw[header_end..]);
    (out, removed)
}

fn is_stamp(line: &[u8]) -> bool {
    let name = line.split(|b| *b == b':').next().unwrap_or_default();
    line.contains(&b':') && name.trim_ascii().eq_ignore_ascii_case(FIELD.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];
    const MSG: &[u8] = b"Message-ID: <1@firm.example>\r\nFrom: a@firm.example\r\n\r\nX-Matterwall-Stamp: in the body stays\r\n";

    fn stamped(key: &[u8; 32], raw: &[u8]) -> Vec<u8> {
        let mut out = line(key, raw, 1_700_000_000);
        out.extend_from_slice(raw);
        out
    }

    #[test]
    fn ours_verifies_and_a_forgery_does_not() {
        let ours = stamped(&KEY, MSG);
        assert_eq!(verify(&KEY, &ours), Ok(1_700_000_000));
        assert_eq!(verify(&[8; 32], &ours), Err(StampError::Forged));
        assert_eq!(verify(&KEY, MSG), Err(StampError::Missing));
        // The same stamp on another message (other Message-ID) fails.
        let moved = String::from_utf8(ours.clone())
            .unwrap()
            .replace("<1@", "<2@");
        assert_eq!(verify(&KEY, moved.as_bytes()), Err(StampError::Forged));
        let twice = stamped(&KEY, &ours);
        assert_eq!(verify(&KEY, &twice), Err(StampError::Several));
    }

    #[test]
    fn strip_removes_every_stamp_field_and_nothing_else() {
        let raw = b"x-matterwall-stamp: v=1; t=1;\r\n h=forged\r\nMessage-ID: <1@firm.example>\r\nX-Matterwall-Stamp : again\r\nX-Matterwall-Stamps: other field\r\n\r\nX-Matterwall-Stamp: in the body stays\r\n".to_vec();
        let (out, n) = strip(raw);
        assert_eq!(n, 2);
        assert_eq!(
            out,
            b"Message-ID: <1@firm.example>\r\nX-Matterwall-Stamps: other field\r\n\r\nX-Matterwall-Stamp: in the body stays\r\n"
        );
        let (same, n) = strip(MSG.to_vec());
        assert_eq!((same.as_slice(), n), (MSG, 0));
    }
}
