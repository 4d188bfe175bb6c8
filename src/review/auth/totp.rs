//! Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps,
//! 6 digits — what every authenticator app does by default), the base32
//! secret encoding (RFC 4648) and the `otpauth://` URI apps scan.

use hmac::{Hmac, Mac};
use sha1::Sha1;

pub(crate) const STEP_SECS: u64 = 30;

/// A fresh 160-bit secret (RFC 4226 recommends 160).
pub fn new_secret() -> Vec<u8> {
    let mut s = vec![0u8; 20];
    getrandom::getrandom(&mut s).expect("the OS random source failed");
    s
}

/// The 6-digit code for time step `step`.
pub fn code(secret: &[u8], step: u64) -> u32 {
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("any key length");
    mac.update(&step.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let at = (h[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([h[at] & 0x7f, h[at + 1], h[at + 2], h[at + 3]]);
    bin % 1_000_000
}

/// The time step `given` matches at `unix_secs`, allowing one step of clock
/// drift either way; the caller records it so it cannot be used twice.
pub(crate) fn check(secret: &[u8], given: &str, unix_secs: u64) -> Option<u64> {
    let given = given.trim();
    if given.len() != 6 || !given.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let want: u32 = given.parse().ok()?;
    let now = unix_secs / STEP_SECS;
    [now.saturating_sub(1), now, now + 1]
        .into_iter()
        .find(|&step| code(secret, step) == want)
}

/// RFC 4648 base32 without padding, as authenticator apps expect.
pub(crate) fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    for chunk in bytes.chunks(5) {
        let mut buf = [0u8; 5];
        buf[..chunk.len()].copy_from_slice(chunk);
        let n = u64::from_be_bytes([0, 0, 0, buf[0], buf[1], buf[2], buf[3], buf[4]]);
        let chars = (chunk.len() * 8).div_ceil(5);
        for i in 0..chars {
            out.push(ALPHABET[((n >> (35 - i * 5)) & 31) as usize] as char);
        }
    }
    out
}

/// The URI to put in a QR code or paste into an authenticator app.
pub fn otpauth_uri(issuer: &str, user: &str, secret: &[u8]) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits=6&period={STEP_SECS}",
        enc(issuer),
        enc(user),
        base32(secret),
        enc(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (8 digits there; the last 6 here).
    #[test]
    fn rfc6238_vectors() {
        let secret = b"12345678901234567890";
        for (t, want) in [
            (59u64, 94287082u32),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
        ] {
            assert_eq!(code(secret, t / STEP_SECS), want % 1_000_000, "t={t}");
        }
        let now = 1234567890;
        let c = format!("{:06}", code(secret, now / STEP_SECS + 1));
        assert_eq!(check(secret, &c, now), Some(now / STEP_SECS + 1));
        let far = format!("{:06}", code(secret, now / STEP_SECS + 3));
        assert_eq!(check(secret, &far, now), None);
        assert_eq!(check(secret, "12345", now), None);
    }

    #[test]
    fn base32_rfc4648_vectors() {
        for (raw, want) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(raw.as_bytes()), want);
        }
        let uri = otpauth_uri("matterwall", "a b", b"12345678901234567890");
        assert!(uri.starts_with(
            "otpauth://totp/matterwall:a%20b?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&"
        ));
    }
}
