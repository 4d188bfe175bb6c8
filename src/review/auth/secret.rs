//! Random secrets (session ids, CSRF tokens, API tokens) and the digests
//! the store keeps instead of them.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// 256 random bits, URL-safe base64, after `prefix` (`mwt_` marks an API
/// token, so a leaked one is recognisable in a scan).
pub fn random_token(prefix: &str) -> String {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).expect("the OS random source failed");
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(b))
}

/// What the store keeps for a session id or an API token.
pub fn digest(token: &str) -> String {
    crate::store::audit::hex(&Sha256::digest(token.as_bytes()))
}

/// Compares secrets without an early exit, so timing says nothing about
/// how much of a guess was right.
pub(crate) fn ct_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_digests() {
        let t = random_token("mwt_");
        assert!(t.starts_with("mwt_") && t.len() == 4 + 43);
        assert_ne!(t, random_token("mwt_"));
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(ct_eq("abc", "abc"));
        assert!(!ct_eq("abc", "abd") && !ct_eq("abc", "ab"));
    }
}
