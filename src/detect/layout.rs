//! The text the built-in pattern detectors read: the segment as written, with
//! its separators, line breaks, tabs and letter case kept (normalised text has
//! lost all four, which is what let an SSN match a ZIP+4 code and a card
//! number run across table cells), but with the forms that only *look*
//! different made plain: full-width digits and letters become ASCII, every
//! Unicode dash is `-`, every other space is ` ` (a line or paragraph
//! separator is `\n`), and characters that render as nothing are dropped.
//!
//! Most mail is ASCII: then the layout *is* the segment, borrowed, and offsets
//! need no map; otherwise the map back is built only when something matched.

use std::borrow::Cow;
use std::ops::Range;
use unicode_normalization::char::decompose_compatible;

/// A segment's layout text, and the way back to the segment's offsets.
pub(crate) struct Layout<'a> {
    pub(crate) text: Cow<'a, str>,
    original: &'a str,
}

impl<'a> Layout<'a> {
    pub(crate) fn of(original: &'a str) -> Layout<'a> {
        let plain = original
            .bytes()
            .all(|b| (0x20..0x7f).contains(&b) || matches!(b, b'\t' | b'\n' | b'\r'));
        let text = if plain {
            Cow::Borrowed(original)
        } else {
            let mut text = String::with_capacity(original.len());
            original.chars().for_each(|c| push(&mut text, c));
            Cow::Owned(text)
        };
        Layout { text, original }
    }

    /// The segment's byte ranges behind ranges of the layout text. The map
    /// from one to the other is built here, only for a segment with hits.
    pub(crate) fn original_ranges(&self, ranges: &mut [Range<usize>]) {
        if matches!(self.text, Cow::Borrowed(_)) {
            return;
        }
        let mut map = Vec::with_capacity(self.text.len());
        let mut text = String::with_capacity(self.text.len());
        for (at, c) in self.original.char_indices() {
            let before = text.len();
            push(&mut text, c);
            map.extend(std::iter::repeat_n(at as u32, text.len() - before));
        }
        for r in ranges {
            let start = map[r.start] as usize;
            let last = map[r.end - 1] as usize;
            let end = last
                + self.original[last..]
                    .chars()
                    .next()
                    .map_or(0, char::len_utf8);
            *r = start..end;
        }
    }
}

fn push(text: &mut String, c: char) {
    match c {
        '\t' | '\n' | '\r' => text.push(c),
        '\u{2028}' | '\u{2029}' | '\u{85}' => text.push('\n'),
        c if c.is_control() || invisible(c) => {}
        c if is_dash(c) => text.push('-'),
        c if c.is_whitespace() => text.push(' '),
        c if c.is_ascii() => text.push(c),
        c => {
            let mut parts = String::new();
            decompose_compatible(c, |d| parts.push(d));
            // Full-width and other compatibility forms of one ASCII letter or
            // digit read as that letter or digit; anything else stays as is.
            let mut chars = parts.chars();
            match (chars.next(), chars.next()) {
                (Some(a), None) if a.is_ascii_alphanumeric() => text.push(a),
                _ => text.push(c),
            }
        }
    }
}

/// Unicode dashes (general category Pd) and the minus sign.
pub(crate) fn is_dash(c: char) -> bool {
    matches!(
        c,
        '\u{058A}' | '\u{05BE}' | '\u{1400}' | '\u{1806}' | '\u{2010}'
            ..='\u{2015}'
                | '\u{2212}'
                | '\u{2E17}'
                | '\u{2E1A}'
                | '\u{2E3A}'
                | '\u{2E3B}'
                | '\u{2E40}'
                | '\u{301C}'
                | '\u{3030}'
                | '\u{30A0}'
                | '\u{FE31}'
                | '\u{FE32}'
                | '\u{FE58}'
                | '\u{FE63}'
                | '\u{FF0D}'
    )
}

/// Characters that render as nothing and are used to split a number
/// invisibly (the same set normalisation drops).
pub(crate) fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{E0000}'..='\u{E007F}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            ("4111 1111", "4111 1111"),
            ("a\tb\r\nc", "a\tb\r\nc"),
            ("４１１１‐１１１１", "4111-1111"),
            ("123\u{2013}45\u{2212}6789", "123-45-6789"),
            ("41\u{200B}11\u{00AD}1", "41111"),
            ("GB82\u{00A0}WEST", "GB82 WEST"),
            ("line\u{2028}next", "line\nnext"),
            ("Café", "Café"),
            ("x\u{0001}y", "xy"),
        ];
        for (input, want) in cases {
            assert_eq!(Layout::of(input).text, want, "input {input:?}");
        }
    }

    #[test]
    fn ranges_map_back_to_the_segment() {
        let input = "card ４１１１‐１ end";
        let l = Layout::of(input);
        let start = l.text.find('4').unwrap();
        // Two ranges: the map is built once for all of them.
        let mut r = vec![start..start + 6, start..start + 1];
        l.original_ranges(&mut r);
        assert_eq!(&input[r[0].clone()], "４１１１‐１");
        assert_eq!(&input[r[1].clone()], "４");
        let mut plain = vec![4..7, 0..3];
        Layout::of("abc 123").original_ranges(&mut plain);
        assert_eq!(plain, vec![4..7, 0..3]);
    }
}
