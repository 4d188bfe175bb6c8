//! Text normalisation, applied once per segment before detection and, with the
//! same function, to every dictionary name at load time.
//!
//! Per character: compatibility decomposition (NFKD, so full-width digits and
//! ligatures become ASCII), combining marks dropped (accents), zero-width and
//! soft-hyphen characters dropped, common homoglyphs mapped to Latin,
//! lower-cased; every other character that is not a letter or digit
//! (whitespace, punctuation, dashes, symbols) is a separator, and every run of
//! separators becomes one space. The output starts with a space.
//!
//! So the text is words and single spaces: a name is found by the pattern
//! " name" followed by a space or the end (word boundaries for free, and the
//! automaton idles at its root inside words), and a matter number's groups are
//! joined by spaces whatever separators were written. Working per character (not per string) keeps an exact map from each
//! output byte back to the input, which the reviewer's snippet needs.
//!
//! The hot path is ASCII: those bytes are handled without any table look-up.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Normalises `input`. When `map` is given, it receives, for every byte of the
/// output, the byte offset in `input` of the character it came from.
pub fn normalise(input: &str, mut map: Option<&mut Vec<u32>>) -> String {
    let mut out = String::with_capacity(input.len() + 1);
    out.push(' ');
    if let Some(map) = map.as_deref_mut() {
        map.push(0);
    }
    let mut last_space = true;
    let bytes = input.as_bytes();
    let mut offset = 0;
    while offset < bytes.len() {
        let before = out.len();
        let width = if bytes[offset].is_ascii() {
            push_ascii(&mut out, bytes[offset], &mut last_space);
            1
        } else {
            let ch = input[offset..].chars().next().unwrap_or_default();
            push_unicode(&mut out, ch, &mut last_space);
            ch.len_utf8()
        };
        if let Some(map) = map.as_deref_mut() {
            map.extend(std::iter::repeat_n(offset as u32, out.len() - before));
        }
        offset += width;
    }
    out
}

/// What an ASCII byte becomes: dropped (control characters carry no text),
/// a separator, or itself in lower case.
const DROP: u8 = 0;
const SEPARATOR: u8 = 1;
const ASCII_CLASS: [u8; 128] = {
    let mut t = [SEPARATOR; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if (c < 0x20 && !c.is_ascii_whitespace() && c != 0x0b) || c == 0x7f {
            t[b] = DROP;
        } else if c.is_ascii_alphanumeric() {
            t[b] = c.to_ascii_lowercase();
        }
        b += 1;
    }
    t
};

fn push_ascii(out: &mut String, b: u8, last_space: &mut bool) {
    match ASCII_CLASS[b as usize] {
        DROP => {}
        SEPARATOR => {
            if !*last_space {
                out.push(' ');
                *last_space = true;
            }
        }
        c => {
            out.push(c as char);
            *last_space = false;
        }
    }
}

fn push_unicode(out: &mut String, ch: char, last_space: &mut bool) {
    if let Some(latin) = homoglyph(ch) {
        out.push(latin);
        *last_space = false;
        return;
    }
    decompose_compatible(ch, |c| push_decomposed(out, c, last_space));
}

fn push_decomposed(out: &mut String, c: char, last_space: &mut bool) {
    if c.is_ascii() {
        return push_ascii(out, c as u8, last_space);
    }
    if is_combining_mark(c) || is_invisible(c) {
        return;
    }
    if let Some(latin) = homoglyph(c) {
        out.push(latin);
    } else if c == 'ß' {
        out.push_str("ss");
    } else if c.is_alphanumeric() {
        out.extend(c.to_lowercase());
    } else {
        return push_ascii(out, b' ', last_space);
    }
    *last_space = false;
}

/// Characters that render as nothing and are used to split a word invisibly.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}'
        | '\u{FFA0}' | '\u{E0000}'..='\u{E007F}')
}

/// Letters from other scripts that look like a Latin letter, mapped to it
/// (lower case). Drawn from Unicode's confusables for Cyrillic and Greek, the
/// scripts that appear in real evasion.
pub(crate) fn homoglyph(c: char) -> Option<char> {
    Some(match c {
        // Cyrillic
        'а' | 'А' => 'a',
        'В' | 'в' => 'b',
        'с' | 'С' | 'ϲ' | 'Ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'Е' | 'ё' | 'Ё' => 'e',
        'Н' | 'н' | 'һ' | 'Һ' => 'h',
        'і' | 'І' | 'ӏ' | 'Ӏ' => 'i',
        'ј' | 'Ј' => 'j',
        'К' | 'к' => 'k',
        'М' | 'м' => 'm',
        'о' | 'О' => 'o',
        'р' | 'Р' => 'p',
        'ԛ' | 'Ԛ' => 'q',
        'ѕ' | 'Ѕ' => 's',
        'Т' | 'т' => 't',
        'у' | 'У' | 'ү' | 'Ү' => 'y',
        'х' | 'Х' => 'x',
        'ԝ' | 'Ԝ' => 'w',
        // Greek
        'Α' | 'α' => 'a',
        'Β' | 'β' => 'b',
        'Ε' | 'ε' => 'e',
        'Ζ' => 'z',
        'Η' => 'h',
        'Ι' | 'ι' => 'i',
        'Κ' | 'κ' => 'k',
        'Μ' => 'm',
        'Ν' | 'ν' => 'v',
        'Ο' | 'ο' | 'σ' => 'o',
        'Ρ' | 'ρ' => 'p',
        'Τ' | 'τ' => 't',
        'Υ' | 'υ' => 'u',
        'Χ' | 'χ' => 'x',
        // Latin lookalikes outside ASCII that NFKD leaves alone
        'ı' => 'i',
        'ł' | 'Ł' => 'l',
        'ø' | 'Ø' => 'o',
        'đ' | 'Đ' => 'd',
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let cases = [
            ("Harrowgate Shipping", " harrowgate shipping"),
            ("Harrowgate\r\n   Shipping", " harrowgate shipping"),
            ("  lead and trail  ", " lead and trail "),
            ("Ac\u{200B}me", " acme"),
            ("Ac\u{00AD}me", " acme"),
            ("C\u{043E}rzen", " corzen"), // Cyrillic o
            ("Café Crème", " cafe creme"),
            ("２０２４‐０１１７", " 2024 0117"),
            ("2024\u{2013}0117", " 2024 0117"),
            ("LIT/22/0931.", " lit 22 0931 "),
            ("non\u{00A0}breaking", " non breaking"),
            ("O'Brien & Co., Ltd", " o brien co ltd"),
            ("«Acme»", " acme "),
            ("Straße", " strasse"),
            ("ﬁrm", " firm"),
            ("e\u{0301}", " e"),
        ];
        for (input, want) in cases {
            assert_eq!(normalise(input, None), want, "input {input:?}");
        }
    }

    #[test]
    fn map_points_back_to_the_original() {
        let input = "Ré: Ac\u{200B}ME";
        let mut map = Vec::new();
        let out = normalise(input, Some(&mut map));
        assert_eq!(out.len(), map.len());
        let start = out.find("acme").unwrap();
        let end = start + 4;
        let from = map[start] as usize;
        let to = map[end - 1] as usize;
        assert_eq!(&input[from..=to], "Ac\u{200B}ME");
    }
}
