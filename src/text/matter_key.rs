//! The matter-number key, in one place for the dictionary loader (which
//! checks every number) and the detector (which looks keys up): a number's
//! letters and digits alone, normalised and lower-case, `o` read as `0`,
//! packed base-37 into a `u128` (so at most [`MAX_KEY`] of them).

use super::normalise::normalise;

pub(crate) const MAX_KEY: usize = 24;
/// Separators a dictionary number may be written with (normalisation turns
/// each into a space, as it does in the text).
const SEPARATORS: &[u8] = b" -/._:";

/// Checks a dictionary matter number: it must reduce to a key of 1..=24 letters
/// and digits with at least one digit (a digit-less number would match words).
pub(crate) fn check_number(number: &str) -> Result<(), String> {
    let norm = normalise(number, None);
    let alnum: Vec<u8> = norm.bytes().filter(u8::is_ascii_alphanumeric).collect();
    if alnum.is_empty() || !alnum.iter().any(u8::is_ascii_digit) {
        return Err("a matter number needs at least one digit".into());
    }
    if alnum.len() > MAX_KEY {
        return Err(format!("more than {MAX_KEY} letters and digits"));
    }
    if norm
        .bytes()
        .any(|b| !b.is_ascii_alphanumeric() && !SEPARATORS.contains(&b))
    {
        return Err(
            "only letters, digits and the separators - / . _ : and space are allowed".into(),
        );
    }
    Ok(())
}

#[inline]
fn symbol(b: u8) -> u128 {
    match b {
        b'o' => 1,
        b'0'..=b'9' => (b - b'0') as u128 + 1,
        b'a'..=b'z' => (b - b'a') as u128 + 11,
        _ => unreachable!("only lower-case ASCII letters and digits reach the key"),
    }
}

/// Packs lower-case letters and digits into a key (caller bounds the length).
#[inline]
pub(crate) fn pack(bytes: impl Iterator<Item = u8>) -> u128 {
    bytes.fold(0u128, |acc, b| acc * 37 + symbol(b))
}

/// The letters and digits of a dictionary matter number, as its key packs them.
pub(crate) fn key_bytes(number: &str) -> Vec<u8> {
    let norm = normalise(number, None);
    norm.bytes().filter(u8::is_ascii_alphanumeric).collect()
}
