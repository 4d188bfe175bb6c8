//! How a matter-number candidate is written, judged before it counts.
//!
//! The index ([`super::matter`]) matches on letters and digits alone, so the
//! Outlook reply header `Sent: Wednesday, 17 January 2024 01:17` reads as
//! `2024 01 17` and would be matter `2024-0117`; with year-plus-sequence
//! numbering a firm has a matter for almost every `HH:MM`. Here the original
//! text behind a candidate is read again: separators may stand only at the
//! number's group boundaries, and numbers of other kinds (amounts, dates,
//! phone numbers) are told apart. This runs only for candidates, which are
//! rare, so it may allocate.

use super::layout::{invisible, is_dash};
use super::matter::digitish;
use rustc_hash::FxHashMap;
use std::ops::Range;

/// A character that renders as nothing (normalisation drops it).
fn blank(c: char) -> bool {
    c.is_control() || invisible(c)
}

/// Whether the text behind a candidate keeps the dictionary number's shape.
///
/// The index matches on letters and digits alone, so `17 January 2024 01:17`
/// reads as `2024 01 17` and would be matter `2024-0117`. A separator in the
/// text may only stand where the number has a group boundary (a separator in
/// the dictionary, or a change between letters and digits), and only one of
/// DESIGN §2's separators (`-` `/` `.` `_`, any dash, whitespace) or a `:`
/// where the number itself has one. A run that reads as a grouped thousands
/// number, a date or a phone number is not a matter number either, unless it
/// is written exactly as the dictionary writes it.
///
/// `norm` is the normalised text, `map` its byte map into `original`, and
/// `range` the candidate in `norm` (whole words).
pub(crate) fn keeps_shape(
    number: &str,
    original: &str,
    norm: &str,
    map: &[u32],
    range: &Range<usize>,
) -> bool {
    let groups = Groups::of(number);
    let Some(written) = Written::of(original, norm, map, range) else {
        return false;
    };
    let mut at = 0;
    for (len, sep) in &written.words {
        at += len;
        let Some(sep) = sep else { continue };
        let Some(&colon) = groups.boundaries.get(&at) else {
            return false; // a separator inside a group
        };
        if !separator_allowed(sep, colon) {
            return false;
        }
    }
    written.literal(number) || !written.looks_like_other_number(original)
}

/// The group boundaries of a dictionary number, by count of letters and
/// digits before them, and whether the number writes a `:` there.
struct Groups {
    boundaries: FxHashMap<usize, bool>,
}

impl Groups {
    fn of(number: &str) -> Groups {
        let mut boundaries = FxHashMap::default();
        let (mut count, mut pending, mut colon, mut last) = (0, false, false, None);
        for c in number.chars() {
            let folded = crate::text::normalise::normalise(c.encode_utf8(&mut [0; 4]), None);
            let alnum: Vec<u8> = folded.bytes().filter(u8::is_ascii_alphanumeric).collect();
            if alnum.is_empty() {
                pending = true;
                colon |= c == ':';
                continue;
            }
            for b in alnum {
                let kind = digitish(b);
                if count > 0 && (pending || last != Some(kind)) {
                    boundaries.insert(count, colon && pending);
                }
                (pending, colon, last) = (false, false, Some(kind));
                count += 1;
            }
        }
        Groups { boundaries }
    }
}

/// How a candidate is written in the original text: each word's length in
/// letters and digits, and the separator text after it (none after the last).
struct Written<'a> {
    words: Vec<(usize, Option<&'a str>)>,
    /// The candidate as written, first character to last.
    span: Range<usize>,
}

impl<'a> Written<'a> {
    fn of(original: &'a str, norm: &str, map: &[u32], range: &Range<usize>) -> Option<Written<'a>> {
        let end_of = |i: usize| {
            let at = map[i] as usize;
            at + original[at..].chars().next().map_or(0, char::len_utf8)
        };
        let mut words = Vec::new();
        let mut start = range.start;
        for word in norm[range.clone()].split(' ') {
            let end = start + word.len();
            let sep = if end < range.end {
                let (from, to) = (end_of(end - 1), map[end + 1] as usize);
                // One character that is itself a word break (`½`) is not text
                // a writer separated.
                Some(original.get(from..to).filter(|_| from < to)?)
            } else {
                None
            };
            words.push((word.len(), sep));
            start = end + 1;
        }
        Some(Written {
            words,
            span: map[range.start] as usize..end_of(range.end - 1),
        })
    }

    /// Written exactly as the dictionary writes it (what the firm chose to
    /// call the matter is never dismissed as a date or an amount).
    fn literal(&self, number: &str) -> bool {
        let groups = number
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .count();
        self.words.len() == groups
            && self
                .words
                .iter()
                .all(|(_, s)| s.is_none_or(|s| number.contains(s)))
    }

    /// A thousands-grouped amount (`12.345`, `1 234 567`), a date
    /// (`17.01.2024`, `2024-01-17`) or a phone number (`+44 2024 0117`):
    /// digit groups only, judged with the digit groups around them.
    fn looks_like_other_number(&self, original: &str) -> bool {
        let text = &original[self.span.clone()];
        if !text.chars().all(|c| c.is_numeric() || !c.is_alphanumeric()) {
            return false;
        }
        let run = DigitRun::around(original, self.span.clone());
        run.thousands() || run.date() || run.phone()
    }
}

/// A separator the text may put at a group boundary: whitespace around at
/// most one mark, with at most one line break (a number wrapped at the end of
/// a line; a blank line between two groups is two paragraphs).
fn separator_allowed(sep: &str, colon_here: bool) -> bool {
    if sep.matches('\n').count() > 1 || sep.matches('\r').count() > 1 {
        return false;
    }
    let mut marks = 0;
    for c in sep.chars() {
        if c.is_whitespace() || blank(c) {
            continue;
        }
        // DESIGN §2's marks, their full-width forms and the slashes that
        // look like `/`.
        let mark = matches!(
            c,
            '-' | '/' | '.' | '_' | '\u{FF0F}' | '\u{FF0E}' | '\u{FF3F}'
        ) || matches!(c, '\u{2044}' | '\u{2215}')
            || is_dash(c)
            || (c == ':' && colon_here);
        if !mark {
            return false;
        }
        marks += 1;
    }
    marks <= 1
}

/// The digit groups around a candidate, joined by single separators: what
/// the reader sees as one number.
struct DigitRun {
    /// Each group's digits (ASCII) and its byte span in the original.
    groups: Vec<(String, Range<usize>)>,
    /// The separator between group `i` and `i + 1`.
    seps: Vec<char>,
    /// A `+` before the first group, or a group in parentheses.
    phone_marks: bool,
    candidate: Range<usize>,
}

const RUN_SEPARATORS: &[char] = &[
    ' ', '-', '.', '/', ',', '\'', '\u{A0}', '\u{202F}', '\u{2009}',
];

impl DigitRun {
    fn around(original: &str, candidate: Range<usize>) -> DigitRun {
        let mut start = candidate.start;
        while let Some(s) = group_before(original, start) {
            start = s;
        }
        let lead = &original[..start];
        let mut run = DigitRun {
            groups: Vec::new(),
            seps: Vec::new(),
            phone_marks: lead.trim_end_matches([' ', '(']).ends_with('+') || lead.ends_with('('),
            candidate,
        };
        let mut at = start;
        loop {
            let end = at + group_len(original[at..].chars());
            run.groups.push((digits_of(&original[at..end]), at..end));
            let Some((sep, len, paren)) = joint(original[end..].chars()) else {
                break;
            };
            run.seps.push(sep);
            run.phone_marks |= paren;
            at = end + len;
        }
        run
    }

    fn thousands(&self) -> bool {
        let same = self.seps.windows(2).all(|w| w[0] == w[1]);
        self.groups.len() >= 2
            && same
            && self.seps.first().is_some_and(|s| *s != '-' && *s != '/')
            && (1..=3).contains(&self.groups[0].0.len())
            && self.groups[1..].iter().all(|(g, _)| g.len() == 3)
    }

    /// Any three groups around the candidate that read as a date.
    fn date(&self) -> bool {
        (0..self.groups.len().saturating_sub(2)).any(|i| {
            let [a, b, c] = [&self.groups[i], &self.groups[i + 1], &self.groups[i + 2]];
            let overlaps = a.1.start < self.candidate.end && self.candidate.start < c.1.end;
            overlaps && self.seps[i] == self.seps[i + 1] && is_date(&a.0, &b.0, &c.0)
        })
    }

    /// Ten or more digits led by `+`, a trunk `0` or parentheses.
    fn phone(&self) -> bool {
        let digits: usize = self.groups.iter().map(|(g, _)| g.len()).sum();
        let trunk = self.groups.len() > 1 && self.groups[0].0.starts_with('0');
        digits >= 10 && (self.phone_marks || trunk)
    }
}

/// The start of the digit group joined to the one that starts at `at`.
fn group_before(original: &str, at: usize) -> Option<usize> {
    let before = &original[..at];
    let (_, len, _) = joint(before.chars().rev())?;
    let end = at - len;
    Some(end - group_len(original[..end].chars().rev()))
}

/// Bytes of digits (and invisible characters) at the start of `chars`.
fn group_len(chars: impl Iterator<Item = char>) -> usize {
    chars
        .take_while(|&c| c.is_numeric() || blank(c))
        .map(char::len_utf8)
        .sum()
}

/// What joins two digit groups (read from either side): one run separator,
/// perhaps beside a parenthesis, then a digit. Gives the separator (a space
/// for a bare parenthesis), its byte length and whether a parenthesis was seen.
fn joint(chars: impl Iterator<Item = char>) -> Option<(char, usize, bool)> {
    let (mut sep, mut len, mut paren) = (None, 0, false);
    for c in chars.take(4) {
        if c.is_numeric() {
            return (len > 0).then(|| (sep.unwrap_or(' '), len, paren));
        }
        if c == '(' || c == ')' {
            paren = true;
        } else if RUN_SEPARATORS.contains(&c) && sep.is_none() {
            sep = Some(c);
        } else {
            return None;
        }
        len += c.len_utf8();
    }
    None
}

/// The ASCII digits of a group.
fn digits_of(group: &str) -> String {
    group
        .chars()
        .filter_map(|c| c.to_digit(10).or_else(|| fullwidth_digit(c)))
        .map(|d| char::from(b'0' + d as u8))
        .collect()
}

fn fullwidth_digit(c: char) -> Option<u32> {
    ('\u{FF10}'..='\u{FF19}')
        .contains(&c)
        .then(|| c as u32 - 0xFF10)
}

/// Year-month-day, day-month-year or month-day-year, with real ranges.
fn is_date(a: &str, b: &str, c: &str) -> bool {
    let n = |s: &str| s.parse::<u32>().ok();
    let (Some(x), Some(y), Some(z)) = (n(a), n(b), n(c)) else {
        return false;
    };
    let small = |s: &str| (1..=2).contains(&s.len());
    let year = |s: &str, v: u32| s.len() == 2 || (s.len() == 4 && (1900..=2100).contains(&v));
    let md = |m: u32, d: u32| (1..=12).contains(&m) && (1..=31).contains(&d);
    (a.len() == 4 && year(a, x) && small(b) && small(c) && md(y, z))
        || (small(a) && small(b) && year(c, z) && (md(y, x) || md(x, y)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::text::normalise::normalise;

    /// Whether `number` is found in `text`: every run of whole words whose
    /// letters and digits are the number's (as the index finds candidates),
    /// judged by `keeps_shape`.
    fn found(number: &str, text: &str) -> bool {
        let key = |s: &str| -> String {
            s.bytes()
                .filter(u8::is_ascii_alphanumeric)
                .map(|b| if b == b'o' { b'0' } else { b })
                .map(char::from)
                .collect()
        };
        let want = key(&normalise(number, None));
        let mut map = Vec::new();
        let norm = normalise(text, Some(&mut map));
        let starts: Vec<usize> = (1..norm.len())
            .filter(|&i| norm.as_bytes()[i - 1] == b' ' && norm.as_bytes()[i] != b' ')
            .collect();
        let ends: Vec<usize> = (1..=norm.len())
            .filter(|&i| {
                norm.as_bytes()[i - 1] != b' ' && norm.as_bytes().get(i).is_none_or(|&b| b == b' ')
            })
            .collect();
        starts.iter().any(|&s| {
            ends.iter()
                .filter(|&&e| e > s && key(&norm[s..e]) == want)
                .any(|&e| keeps_shape(number, text, &norm, &map, &(s..e)))
        })
    }

    #[test]
    fn accepted_variants_match() {
        let cases = [
            ("2024-0117", "ref 2024-0117."),
            ("2024-0117", "ref 2024 0117"),
            ("2024-0117", "ref 20240117"),
            ("2024-0117", "ref 2024/0117,"),
            ("2024-0117", "ref 2024.0117"),
            ("2024-0117", "ref 2024_0117"),
            (
                "2024-0117",
                "ref \u{FF12}\u{FF10}\u{FF12}\u{FF14}\u{2010}\u{FF10}\u{FF11}\u{FF11}\u{FF17}",
            ),
            ("2024-0117", "ref 2024\u{2013}0117"),
            ("2024-0117", "ref 2024\u{2014}0117"),
            ("2024-0117", "ref 2024\u{2011}0117"),
            ("2024-0117", "ref 2024\u{2212}0117"),
            ("2024-0117", "ref 2O24-O117"),
            ("2024-0117", "ref 2024 - 0117"),
            ("2024-0117", "ref 2024-\r\n0117"),
            ("2024-0117", "ref 2024\n    0117"),
            ("2024-0117", "ref 20\u{200B}24-01\u{00AD}17"),
            ("2024-0117", "ref 2024\u{00A0}0117"),
            ("2024-0117", "matter 2024-0117-01"),
            ("2024-0117", "matters 2024-0117/2024-0118"),
            ("2024-0117", "matter 2024-0117 12 pages"),
            ("LIT/22/0931", "LIT.22.0931"),
            ("LIT/22/0931", "lit 22 0931"),
            ("LIT/22/0931", "LIT22/0931"),
            ("1:23-cv-04512", "Case 1:23-cv-04512 filed"),
            ("1:23-cv-04512", "Case 123cv04512 filed"),
            ("1:23-cv-04512", "Case 1-23-cv-04512 filed"),
            ("M559768", "file M559768"),
            ("M559768", "file M-559768"),
            ("12-345", "ref 12-345"),
        ];
        for (number, text) in cases {
            assert!(found(number, text), "{number} in {text:?}");
        }
    }

    #[test]
    fn other_shapes_do_not_match() {
        let cases = [
            // a separator inside a group, or a `:` the number does not have
            ("2024-0117", "Sent: Wednesday, 17 January 2024 01:17"),
            ("2024-0117", "On 17 Jan 2024, at 01:17, A <a@b.c> wrote:"),
            (
                "2024-0117",
                "Le mer. 17 janv. 2024 \u{e0} 01:17, A a \u{e9}crit :",
            ),
            ("2024-0117", "Am 17.01.2024 um 01:17 schrieb A:"),
            ("2024-0117", "2024-01-17 and 2024/01/17 and 2024.01.17"),
            ("2024-0117", "2024 01 17"),
            ("2024-0117", "20:24 01:17"),
            ("2024-0117", "2024:0117"),
            ("2024-0117", "2024 -- 0117"),
            ("2024-0117", "2024, 0117"),
            (
                "2024-0117",
                "September 18-20, 2024\n   \n\n   0117 visitors",
            ),
            ("2024-0117", "in 2024\r\n\r\n0117 was"),
            ("2024-0117", "2,024,0117"),
            ("2024-0117", "2024\u{00BD}0117"),
            ("1:23-cv-04512", "1 23 c v 04512"),
            ("LIT/22/0931", "LIT 2 20 931"),
            ("M559768", "M 559 768"),
            // thousands, dates and phone numbers
            ("12-345", "a total of 12 345 and 12.345"),
            ("1-234-567", "EUR 1.234.567"),
            ("17-01-2024", "am 17.01.2024 um"),
            ("2024-0117", "tel +44 20 2024 0117"),
            ("2024-0117", "tel 020 2024 0117"),
            ("2024-0117", "tel (020) 2024 0117"),
        ];
        for (number, text) in cases {
            assert!(!found(number, text), "{number} in {text:?}");
        }
    }

    #[test]
    fn the_number_as_the_firm_writes_it_always_counts() {
        assert!(found("17-01-2024", "matter 17-01-2024"));
        assert!(found("12.345", "matter 12.345"));
    }

    #[test]
    fn group_boundaries() {
        let cases: [(&str, &[(usize, bool)]); 4] = [
            ("2024-0117", &[(4, false)]),
            ("1:23-cv-04512", &[(1, true), (3, false), (5, false)]),
            ("M559768", &[(1, false)]),
            ("LIT/22/0931", &[(3, false), (5, false)]),
        ];
        for (number, want) in cases {
            let mut got: Vec<(usize, bool)> = Groups::of(number).boundaries.into_iter().collect();
            got.sort_unstable();
            assert_eq!(got, want, "{number}");
        }
    }
}
