//! The built-in detectors, shaped like the real thing so that ordinary mail
//! does not trip them (DESIGN §2). They read the layout text
//! ([`super::layout`]), where separators, line breaks and case survive:
//!
//! - **US SSN** `AAA-GG-SSSS` with one separator (`-`, `.` or a space) used
//!   throughout, without the SSA's never-issued ranges (area 000, 666,
//!   900–999; group 00; serial 0000). Nine bare digits count only beside a
//!   keyword (`SSN`, `social security`).
//! - **Payment card**: 13–19 digits unseparated, or in the issuers' groupings
//!   (4-4-4-4, 4-4-4-4-3, Amex 4-6-5, Diners 4-6-4) with one separator (a
//!   space, `-` or `.`), on one line; Luhn, and a known issuer prefix for
//!   that length.
//! - **IBAN**: upper-case country code, electronic or paper form (groups of
//!   four), the country's fixed length and BBAN format from the ISO 13616
//!   registry (the `iban_validate` crate carries it), and mod 97.
//!
//! None counts inside a longer run of digits: a number joined to another digit
//! group by its own separator or by `-` `.` `/` `:` `,` (a ZIP+4 code, an IP
//! and port, a date, a list of figures, a phone number led by `+`).
//!
//! The regexes are ASCII-only so that they stay on the regex crate's DFA and
//! combine into one `RegexSet` pass; the context checks run only on the rare
//! candidates the regex finds.

use super::pattern;
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Builtin {
    Ssn,
    Card,
    Iban,
}

const SSN: &str = r"(?-u)\b(?:\d{3}-\d{2}-\d{4}|\d{3} \d{2} \d{4}|\d{3}\.\d{2}\.\d{4}|\d{9})\b";
// One alternative per separator: the regex crate has no backreferences.
const CARD: &str = concat!(
    r"(?-u)\b(?:",
    r"\d{4}(?: \d{4}){3}(?: \d{3})?|\d{4} \d{6} \d{4,5}|",
    r"\d{4}(?:-\d{4}){3}(?:-\d{3})?|\d{4}-\d{6}-\d{4,5}|",
    r"\d{4}(?:\.\d{4}){3}(?:\.\d{3})?|\d{4}\.\d{6}\.\d{4,5}|",
    r"\d{13,19})\b"
);
const IBAN: &str =
    r"(?-u)\b[A-Z]{2}\d{2}(?:[A-Z0-9]{11,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)\b";

/// Characters that join digit groups into one longer number whatever
/// separator the candidate itself uses.
const JOINERS: &[u8] = b"-./:,";

impl Builtin {
    pub(crate) fn parse(name: &str) -> Option<Builtin> {
        Some(match name {
            "ssn" => Builtin::Ssn,
            "card" => Builtin::Card,
            "iban" => Builtin::Iban,
            _ => return None,
        })
    }

    pub(crate) fn pattern(self) -> &'static str {
        match self {
            Builtin::Ssn => SSN,
            Builtin::Card => CARD,
            Builtin::Iban => IBAN,
        }
    }

    /// Whether the regex match `r` of the layout `text` is the real thing.
    pub(crate) fn accept(self, text: &str, r: Range<usize>) -> bool {
        let s = &text[r.clone()];
        match self {
            Builtin::Ssn => {
                let sep = separator(s);
                pattern::ssn(s)
                    && !joined(text, &r, sep)
                    && (sep.is_some() || beside_keyword(text, &r))
            }
            Builtin::Card => {
                let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_digit).collect();
                pattern::luhn(s) && known_issuer(&digits) && !joined(text, &r, separator(s))
            }
            Builtin::Iban => {
                let compact: String = s.chars().filter(|c| *c != ' ').collect();
                compact.parse::<iban::Iban>().is_ok() && !joined(text, &r, Some(b' '))
            }
        }
    }
}

/// The candidate's own separator, if it has one.
fn separator(s: &str) -> Option<u8> {
    s.bytes().find(|b| !b.is_ascii_alphanumeric())
}

/// Whether the candidate continues, on either side, into another group of
/// digits: through its own separator or one of [`JOINERS`]. A `+` before it
/// marks an international phone number. (Letters need no check: an ASCII one
/// fails the regex's `\b`, and text in scripts without spaces, such as
/// Japanese, writes a number right after a word.)
fn joined(text: &str, r: &Range<usize>, sep: Option<u8>) -> bool {
    let b = text.as_bytes();
    let joins = |c: u8| JOINERS.contains(&c) || Some(c) == sep;
    let before = |i: usize| r.start.checked_sub(i).map(|i| b[i]);
    let after = |i: usize| b.get(r.end + i - 1).copied();
    before(1) == Some(b'+')
        || (before(1).is_some_and(joins) && before(2).is_some_and(|c| c.is_ascii_digit()))
        || (after(1).is_some_and(joins) && after(2).is_some_and(|c| c.is_ascii_digit()))
}

/// `SSN` or `social security` just before the number (only punctuation and a
/// few words between, no other digits) or just after it.
fn beside_keyword(text: &str, r: &Range<usize>) -> bool {
    let lower = |s: &str| s.to_ascii_lowercase();
    let mut from = r.start.saturating_sub(40);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    let before = lower(&text[from..r.start]);
    let keyword_before = ["ssn", "social security", "soc. sec.", "ss#"]
        .iter()
        .filter_map(|k| before.rfind(k).map(|at| (at, k.len())))
        .any(|(at, len)| {
            let gap = &before[at + len..];
            let starts_word = !before[..at].ends_with(|c: char| c.is_ascii_alphanumeric());
            starts_word && gap.len() <= 24 && !gap.bytes().any(|c| c.is_ascii_digit())
        });
    let mut to = (r.end + 24).min(text.len());
    while !text.is_char_boundary(to) {
        to -= 1;
    }
    let after = lower(&text[r.end..to]);
    let keyword_after = ["ssn", "social security"].iter().any(|k| {
        after
            .find(k)
            .is_some_and(|at| !after[..at].bytes().any(|c| c.is_ascii_alphanumeric()))
    });
    keyword_before || keyword_after
}

/// Issuer identification ranges of the card schemes, with the lengths each
/// issues: (low, high, digits compared, shortest, longest).
const ISSUERS: &[(u32, u32, usize, usize, usize)] = &[
    (4, 4, 1, 13, 13),       // Visa
    (4, 4, 1, 16, 16),       // Visa
    (4, 4, 1, 19, 19),       // Visa
    (51, 55, 2, 16, 16),     // Mastercard
    (2221, 2720, 4, 16, 16), // Mastercard 2-series
    (34, 34, 2, 15, 15),     // American Express
    (37, 37, 2, 15, 15),     // American Express
    (300, 305, 3, 14, 19),   // Diners Club
    (3095, 3095, 4, 14, 19), // Diners Club
    (36, 36, 2, 14, 19),     // Diners Club
    (38, 39, 2, 14, 19),     // Diners Club
    (3528, 3589, 4, 16, 19), // JCB
    (6011, 6011, 4, 16, 19), // Discover
    (644, 649, 3, 16, 19),   // Discover
    (65, 65, 2, 16, 19),     // Discover, RuPay, Troy
    (62, 62, 2, 16, 19),     // UnionPay
    (81, 82, 2, 16, 19),     // UnionPay, RuPay
    (2200, 2204, 4, 16, 19), // Mir
    (50, 50, 2, 13, 19),     // Maestro, Verve, RuPay
    (56, 58, 2, 13, 19),     // Maestro
    (60, 60, 2, 16, 19),     // RuPay
    (63, 63, 2, 13, 19),     // Maestro
    (67, 67, 2, 13, 19),     // Maestro
    (9792, 9792, 4, 16, 16), // Troy
];

fn known_issuer(digits: &[u8]) -> bool {
    let prefix = |n: usize| {
        digits
            .iter()
            .take(n)
            .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'))
    };
    ISSUERS.iter().any(|&(lo, hi, n, min, max)| {
        (min..=max).contains(&digits.len()) && (lo..=hi).contains(&prefix(n))
    })
}

#[cfg(test)]
mod tests;
