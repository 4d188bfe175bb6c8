//! Character references as a browser decodes them in text. `html-escape`
//! decodes the exact `&name;` and `&#n;` forms; browsers also accept numeric
//! references without the `;` (`&#72arrowgate` shows `Harrowgate`), the legacy
//! named ones without it (`Soci&eacutet&eacute`), and map `&#128;`–`&#159;`
//! through windows-1252 (`&#150;` is an en dash). Those are handled here.

use std::borrow::Cow;

/// Named references that browsers decode without a trailing `;` (WHATWG).
const LEGACY: &[&str] = &[
    "AElig", "AMP", "Aacute", "Acirc", "Agrave", "Aring", "Atilde", "Auml", "COPY", "Ccedil",
    "ETH", "Eacute", "Ecirc", "Egrave", "Euml", "GT", "Iacute", "Icirc", "Igrave", "Iuml", "LT",
    "Ntilde", "Oacute", "Ocirc", "Ograve", "Oslash", "Otilde", "Ouml", "QUOT", "REG", "THORN",
    "Uacute", "Ucirc", "Ugrave", "Uuml", "Yacute", "aacute", "acirc", "acute", "aelig", "agrave",
    "amp", "aring", "atilde", "auml", "brvbar", "ccedil", "cedil", "cent", "copy", "curren", "deg",
    "divide", "eacute", "ecirc", "egrave", "eth", "euml", "frac12", "frac14", "frac34", "gt",
    "iacute", "icirc", "iexcl", "igrave", "iquest", "iuml", "laquo", "lt", "macr", "micro",
    "middot", "nbsp", "not", "ntilde", "oacute", "ocirc", "ograve", "ordf", "ordm", "oslash",
    "otilde", "ouml", "para", "plusmn", "pound", "quot", "raquo", "reg", "sect", "shy", "sup1",
    "sup2", "sup3", "szlig", "thorn", "times", "uacute", "ucirc", "ugrave", "uml", "uuml",
    "yacute", "yen", "yuml",
];

/// Decodes every character reference in `text`.
pub(crate) fn decode(text: &str) -> Cow<'_, str> {
    if !text.contains('&') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let used = if let Some(num) = after.strip_prefix('#') {
            numeric(num, &mut out).map(|n| n + 1)
        } else {
            named(after, &mut out)
        };
        match used {
            Some(n) => rest = &after[n..],
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// `&#…` after the `#`: bytes consumed, or `None` when no digits follow.
fn numeric(s: &str, out: &mut String) -> Option<usize> {
    let (hex, digits_at) = match s.as_bytes().first() {
        Some(b'x' | b'X') => (true, 1),
        _ => (false, 0),
    };
    let digits = s[digits_at..]
        .bytes()
        .take_while(|b| {
            if hex {
                b.is_ascii_hexdigit()
            } else {
                b.is_ascii_digit()
            }
        })
        .count();
    if digits == 0 {
        return None;
    }
    let value = u32::from_str_radix(&s[digits_at..digits_at + digits], if hex { 16 } else { 10 })
        .unwrap_or(u32::MAX);
    out.push(code_point(value));
    let end = digits_at + digits;
    Some(if s[end..].starts_with(';') {
        end + 1
    } else {
        end
    })
}

/// The character a numeric reference stands for (HTML5 §13.2.5.80).
fn code_point(value: u32) -> char {
    if (0x80..=0x9f).contains(&value) {
        let byte = [value as u8];
        let (text, _, _) = encoding_rs::WINDOWS_1252.decode(&byte);
        return text.chars().next().unwrap_or('\u{FFFD}');
    }
    match char::from_u32(value) {
        Some('\0') | None => '\u{FFFD}',
        Some(c) => c,
    }
}

/// `&name;` or a legacy `&name`: bytes consumed after `&`, if it is one.
fn named(s: &str, out: &mut String) -> Option<usize> {
    // No reference name is longer than 32 characters (legacy ones than 6):
    // bounding the run keeps a long run of letters after `&` linear.
    let run = s
        .bytes()
        .take(40)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    if run == 0 {
        return None;
    }
    if run < 40 && s[run..].starts_with(';') {
        let full = &s[..=run];
        let raw = format!("&{full}");
        let decoded = html_escape::decode_html_entities(&raw);
        if decoded != raw {
            out.push_str(&decoded);
            return Some(run + 1);
        }
    }
    let legacy = (1..=run.min(6))
        .rev()
        .find(|&n| LEGACY.contains(&&s[..n]))?;
    let decoded = html_escape::decode_html_entities(&format!("&{};", &s[..legacy])).into_owned();
    out.push_str(&decoded);
    Some(legacy)
}

#[cfg(test)]
mod tests {
    use super::decode;

    #[test]
    fn references_as_browsers_read_them() {
        let cases = [
            ("&#72;arrow", "Harrow"),
            ("&#72arrowgate", "Harrowgate"),
            ("&#x48;&#X61rrow", "Harrow"),
            ("Soci&eacutet&eacute;", "Société"),
            ("&#150;", "\u{2013}"),
            ("&amp;&ampx &nosuch; &", "&&x &nosuch; &"),
            ("&notit;", "\u{ac}it;"),
            ("&Sopf;", "\u{1d54a}"),
            ("&#0;&#1114112;", "\u{FFFD}\u{FFFD}"),
            ("plain", "plain"),
        ];
        for (input, want) in cases {
            assert_eq!(decode(input), want, "{input}");
        }
    }
}
