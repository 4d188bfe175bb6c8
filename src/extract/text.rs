//! Text as the recipient's client shows it, once the bytes are known to be
//! text: the charset when none (or a wrong one) is declared, found the way
//! browsers find it (a BOM, UTF-8, then Firefox's detector `chardetng`);
//! `format=flowed` unflowed (RFC 3676, with `delsp=yes`); iCalendar and vCard
//! lines unfolded (RFC 5545 §3.1, RFC 6350 §3.2) and their `\n`, `\,` escapes
//! read; and HTML read into its views ([`super::html`]).
//!
//! Every derived text is scanned *beside* the text it came from: a reading
//! that joins a word is added, never substituted, so no view is lost.

use super::{html, Ctx};
use chardetng::EncodingDetector;
use encoding_rs::{Encoding, UTF_16BE, UTF_16LE};

/// How a text part is written, from its declared type and parameters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Form {
    pub(crate) html: bool,
    /// `format=flowed`; the flag is `delsp=yes`.
    pub(crate) flowed: Option<bool>,
}

/// Scans `text` and every reading derived from it at `loc`.
pub(crate) fn scan(ctx: &mut Ctx, loc: &str, text: &str, form: Form) {
    if form.html {
        for view in html::parse(text).views() {
            ctx.text(loc, view);
        }
        return;
    }
    ctx.text(loc, text);
    if let Some(delsp) = form.flowed {
        let unflowed = unflow(text, delsp);
        if unflowed != text {
            ctx.text(loc, unflowed);
        }
    }
    if let Some(unfolded) = unfold_directory(text) {
        ctx.text(loc, unfolded);
    }
}

/// Reads bytes that [`decode`] calls text, as HTML too when they look like it.
pub(crate) fn read_bytes(ctx: &mut Ctx, loc: &str, declared: &str, bytes: &[u8]) {
    let text = decode(bytes).unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned());
    let html = declared == "text/html" || looks_like_html(&text);
    if html {
        // The markup itself was sent too (a `.html` opened as text shows it).
        ctx.text(loc, &text);
    }
    scan(ctx, loc, &text, Form { html, flowed: None });
}

/// Whether `bytes` are text under some plausible encoding, judged on their
/// first 64 KiB, so sniffing a large binary costs no full decode.
pub(crate) fn is_text(bytes: &[u8]) -> bool {
    const PREFIX: usize = 64 * 1024;
    if bytes.len() <= PREFIX {
        return decode(bytes).is_some();
    }
    let mut head = &bytes[..PREFIX];
    // A multi-byte UTF-8 character cut by the prefix is not an error.
    if let Err(e) = std::str::from_utf8(head) {
        if e.error_len().is_none() {
            head = &head[..e.valid_up_to()];
        }
    }
    decode(head).is_some()
}

/// The text in `bytes` under the encoding a browser would pick when none is
/// trusted: a BOM, else UTF-8 when valid, else UTF-16 by its zero bytes, else
/// chardetng's guess. `None` when the result is binary all the same.
pub(crate) fn decode(bytes: &[u8]) -> Option<String> {
    if let Some((enc, bom)) = Encoding::for_bom(bytes) {
        let text = enc.decode_without_bom_handling(&bytes[bom..]).0;
        return (!looks_binary(&text)).then(|| text.into_owned());
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        if !looks_binary(text) {
            return Some(text.to_string());
        }
    }
    // A guess must read as clean text: any single-byte charset turns
    // arbitrary bytes into characters, so binary is told by its controls.
    let text = guess(bytes).decode_without_bom_handling(bytes).0;
    let sample = text.chars().take(4096);
    let (mut n, mut odd) = (0usize, 0usize);
    for c in sample {
        n += 1;
        if c == '\0' || c == '\u{FFFD}' || (c.is_control() && !c.is_whitespace()) {
            odd += 1;
        }
    }
    (odd * 100 <= n && !text.contains('\0')).then(|| text.into_owned())
}

/// UTF-16LE code units, read lossily, trailing NULs dropped (how MAPI
/// stores a Unicode string property).
pub(crate) fn utf16le(b: &[u8]) -> String {
    let units: Vec<u16> = b
        .chunks_exact(2)
        .map(|c| u16::from_le_bytes([c[0], c[1]]))
        .collect();
    String::from_utf16_lossy(&units)
        .trim_end_matches('\0')
        .to_string()
}

/// Text with NULs, or where more than a tenth of the characters are controls
/// or replacement characters, is binary.
pub(crate) fn looks_binary(text: &str) -> bool {
    let sample: Vec<char> = text.chars().take(4096).collect();
    if sample.is_empty() {
        return false;
    }
    let odd = sample
        .iter()
        .filter(|&&c| c == '\0' || c == '\u{FFFD}' || (c.is_control() && !c.is_whitespace()))
        .count();
    sample.contains(&'\0') || odd * 10 > sample.len()
}

fn guess(bytes: &[u8]) -> &'static Encoding {
    if let Some(utf16) = utf16_by_zeros(bytes) {
        return utf16;
    }
    let mut detector = EncodingDetector::new();
    detector.feed(bytes, true);
    detector.guess(None, true)
}

/// UTF-16 without a BOM: mostly-Latin text has a zero in nearly every other
/// byte, on the odd side for little endian.
fn utf16_by_zeros(bytes: &[u8]) -> Option<&'static Encoding> {
    let sample = &bytes[..bytes.len().min(4096) & !1];
    if sample.len() < 8 {
        return None;
    }
    let pairs = sample.len() / 2;
    let zeros = |parity: usize| {
        sample
            .iter()
            .skip(parity)
            .step_by(2)
            .filter(|&&b| b == 0)
            .count()
    };
    let (even, odd) = (zeros(0), zeros(1));
    if odd * 10 >= pairs * 7 && even * 10 <= pairs {
        Some(UTF_16LE)
    } else if even * 10 >= pairs * 7 && odd * 10 <= pairs {
        Some(UTF_16BE)
    } else {
        None
    }
}

fn looks_like_html(text: &str) -> bool {
    let head: String = text
        .trim_start_matches('\u{feff}')
        .trim_start()
        .chars()
        .take(256)
        .collect::<String>()
        .to_ascii_lowercase();
    head.starts_with("<!doctype html") || head.starts_with("<html") || head.contains("<body")
}

/// RFC 3676 §4.2: a line ending in a space is joined to the next (after
/// removing that space when `delsp=yes`); space-stuffing is removed; the
/// signature separator `-- ` and quote-depth changes end a paragraph.
pub(crate) fn unflow(text: &str, delsp: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut open: Option<usize> = None; // quote depth of a paragraph still flowing
    for line in text.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        let depth = line.bytes().take_while(|&b| b == b'>').count();
        let body = &line[depth..];
        let body = body.strip_prefix(' ').unwrap_or(body);
        if open.is_some_and(|d| d != depth) {
            out.push('\n');
        }
        if open.is_none() || open != Some(depth) {
            out.push_str(&line[..depth]);
        }
        let flowed = body.ends_with(' ') && body != "-- ";
        if flowed {
            out.push_str(if delsp { &body[..body.len() - 1] } else { body });
            open = Some(depth);
        } else {
            out.push_str(body);
            out.push('\n');
            open = None;
        }
    }
    out
}

/// An iCalendar or vCard body unfolded and unescaped, or `None` when the
/// text is neither.
pub(crate) fn unfold_directory(text: &str) -> Option<String> {
    let head = text
        .get(..text.len().min(2048))
        .unwrap_or(text)
        .to_ascii_uppercase();
    if !head.contains("BEGIN:VCALENDAR") && !head.contains("BEGIN:VCARD") {
        return None;
    }
    // A line break followed by one space or tab is a fold: both go.
    let unfolded = text
        .replace("\r\n ", "")
        .replace("\r\n\t", "")
        .replace("\n ", "")
        .replace("\n\t", "");
    let mut out = String::with_capacity(unfolded.len());
    let mut chars = unfolded.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flowed_lines_join_and_delsp_removes_the_space() {
        assert_eq!(
            unflow("Harrow \r\ngate Shipping\r\n", true),
            "Harrowgate Shipping\n\n"
        );
        assert_eq!(
            unflow("Harrowgate \r\nShipping\r\n", false),
            "Harrowgate Shipping\n\n"
        );
        assert_eq!(unflow("> a \r\n> b\r\nc\r\n", false), ">a b\nc\n\n");
        assert_eq!(
            unflow(" From here\r\n-- \r\nsig\r\n", false),
            "From here\n-- \nsig\n\n"
        );
    }

    #[test]
    fn directory_lines_unfold_and_unescape() {
        let ics = "BEGIN:VCALENDAR\r\nSUMMARY:Call with Harrow\r\n gate Shipping\\, re \\nTamarind\r\nEND:VCALENDAR\r\n";
        let got = unfold_directory(ics).unwrap();
        assert!(
            got.contains("Call with Harrowgate Shipping, re \nTamarind"),
            "{got}"
        );
        assert_eq!(unfold_directory("plain text\r\n folded"), None);
    }

    #[test]
    fn legacy_and_utf16_text_is_read() {
        let got = decode(b"Soci\xe9t\xe9 G\xe9n\xe9rale des Eaux");
        assert_eq!(got.as_deref(), Some("Société Générale des Eaux"));
        let le: Vec<u8> = "Harrowgate"
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(decode(&le).unwrap(), "Harrowgate");
        let mut bom = vec![0xfe, 0xff];
        bom.extend("Harrowgate".encode_utf16().flat_map(u16::to_be_bytes));
        assert_eq!(decode(&bom).unwrap(), "Harrowgate");
        assert_eq!(decode(b"\x00\x01\x02\x03\xff\xfe\x00\x00\x10\x11"), None);
    }
}
