//! The second opinion on every part. `mail-parser` is liberal and picks one
//! reading where a message is ambiguous (for example, with two
//! `Content-Transfer-Encoding` headers it honours the last, most clients the
//! first). Here each part's raw header block and body are re-read:
//!
//! * every distinct transfer encoding the headers name, decoded leniently
//!   (base64 ignoring characters outside its alphabet, as RFC 2045 says;
//!   `x-uuencode` as Python's `email` and several clients decode it), and
//!   the raw bytes themselves, become extra views of the same location, each
//!   decoded under every plausible reading of its charset (for ISO-2022-JP
//!   also without no-op escape pairs) and read by [`text::scan`];
//! * text whose declared charset gives binary is re-read by detection;
//! * the preamble and epilogue of every multipart, which the parser drops,
//!   are scanned at the multipart's location;
//! * a multipart with a quoted-printable or base64 transfer encoding (not
//!   allowed by RFC 2045, yet sent) is read both ways: as the parser reads
//!   it, encoding ignored, and decoded first then parsed again;
//! * conflicting `Content-Type`, `Content-Transfer-Encoding` or `boundary`
//!   values (a boundary in two forms included, see [`super::params`]), and a
//!   multipart whose delimiter count differs from the parts the parser found,
//!   make the part uninspectable: a recipient's client may see a different
//!   message from the one we scanned.

use super::params::param_values;
use super::{attachment, mime, text, uuencode, Ctx};
use base64::Engine;
use mail_parser::{Message, MessagePart, MimeHeaders, PartType};
use std::collections::HashMap;

/// Structure checks over every part of `msg`, in one pass over its bytes
/// however deep the nesting (a per-part rescan would be quadratic).
pub fn check_message(ctx: &mut Ctx, prefix: &str, msg: &Message) {
    let raw = msg.raw_message();
    let loc = if prefix.is_empty() {
        "body".to_string()
    } else {
        format!("{prefix}body")
    };
    // Parts the parser found under each boundary string.
    let mut expected: HashMap<String, usize> = HashMap::new();
    for part in &msg.parts {
        let headers = header_block(raw, part);
        let types = header_values(headers, "content-type");
        if distinct(types.iter().map(|t| media_type(t))) > 1 {
            ctx.uninspectable(&loc, "conflicting Content-Type headers");
        }
        let boundaries: Vec<String> = types
            .iter()
            .flat_map(|t| param_values(t, "boundary"))
            .collect();
        if distinct(boundaries.iter().cloned()) > 1 {
            ctx.uninspectable(&loc, "conflicting boundary parameters");
        }
        if let (PartType::Multipart(children), Some(b)) = (&part.body, boundaries.first()) {
            *expected.entry(b.clone()).or_default() += children.len();
            preamble_and_epilogue(ctx, &loc, body_bytes(raw, part), b);
        }
    }
    if !expected.is_empty() {
        check_delimiters(ctx, &loc, raw, &expected);
    }
}

/// The text before a multipart's first delimiter and after its closing one:
/// not a part, but some clients show it, so it is scanned.
fn preamble_and_epilogue(ctx: &mut Ctx, loc: &str, body: &[u8], boundary: &str) {
    let delimiter = format!("--{boundary}");
    let mut first: Option<usize> = None;
    let mut after_close: Option<usize> = None;
    let mut at = 0;
    for line in body.split_inclusive(|&b| b == b'\n') {
        let trimmed = trim_line_end(line.strip_suffix(b"\n").unwrap_or(line));
        if let Some(rest) = trimmed.strip_prefix(delimiter.as_bytes()) {
            if rest.is_empty() {
                first.get_or_insert(at);
            } else if rest == b"--" {
                first.get_or_insert(at);
                after_close = Some(at + line.len());
                break;
            }
        }
        at += line.len();
    }
    let preamble = &body[..first.unwrap_or(0)];
    let epilogue = after_close.map_or(&[][..], |end| &body[end..]);
    for bytes in [preamble, epilogue] {
        if !bytes.is_empty() {
            let text = text::decode(bytes).unwrap_or_else(|| String::from_utf8_lossy(bytes).into());
            ctx.text(loc, text);
        }
    }
}

/// Counts `--boundary` lines independently of the parser and compares.
fn check_delimiters(ctx: &mut Ctx, loc: &str, raw: &[u8], expected: &HashMap<String, usize>) {
    let mut opens: HashMap<&str, usize> = HashMap::new();
    let mut closed: HashMap<&str, bool> = HashMap::new();
    for line in raw.split(|&b| b == b'\n') {
        let Some(rest) = trim_line_end(line).strip_prefix(b"--") else {
            continue;
        };
        let Ok(rest) = std::str::from_utf8(rest) else {
            continue;
        };
        if let Some((b, _)) = expected.get_key_value(rest) {
            *opens.entry(b.as_str()).or_default() += 1;
        } else if let Some((b, _)) = rest
            .strip_suffix("--")
            .and_then(|r| expected.get_key_value(r))
        {
            closed.insert(b.as_str(), true);
        }
    }
    for (boundary, &parsed) in expected {
        let found = opens.get(boundary.as_str()).copied().unwrap_or(0);
        if !closed.contains_key(boundary.as_str()) {
            ctx.anomaly(loc, "multipart without its closing boundary");
        }
        if found != parsed {
            ctx.uninspectable(
                loc,
                format!(
                    "MIME structure is ambiguous: {found} delimiters but {parsed} parts parsed"
                ),
            );
        }
    }
}

fn trim_line_end(line: &[u8]) -> &[u8] {
    let mut end = line.len();
    while end > 0 && matches!(line[end - 1], b'\r' | b' ' | b'\t') {
        end -= 1;
    }
    &line[..end]
}

/// Extra text views of a text part: other decodings and the raw bytes, each
/// read the way [`text::scan`] reads the primary text.
pub fn alternatives(
    ctx: &mut Ctx,
    loc: &str,
    msg: &Message,
    part: &MessagePart,
    primary: &str,
    form: text::Form,
) {
    let label = part.content_type().and_then(|c| c.attribute("charset"));
    let charset = label.and_then(charset);
    for bytes in decoded_views(ctx, loc, msg, part) {
        if decodes_to_itself(&bytes, charset, primary) {
            continue;
        }
        for text in to_texts(&bytes, charset) {
            if text != primary {
                text::scan(ctx, loc, &text, form);
            }
        }
    }
}

/// The text of a part whose declared charset gives binary: each decoding of
/// its transfer encoding, read with the charset found by detection.
pub fn detected_text(
    ctx: &mut Ctx,
    loc: &str,
    msg: &Message,
    part: &MessagePart,
) -> Option<String> {
    decoded_views(ctx, loc, msg, part)
        .iter()
        .rev()
        .find_map(|bytes| text::decode(bytes))
}

/// Other decodings of a binary part, read as attachments too when they differ.
pub fn binary_alternatives(
    ctx: &mut Ctx,
    loc: &str,
    msg: &Message,
    part: &MessagePart,
    primary: &[u8],
    ctype: &str,
    depth: usize,
) {
    for bytes in decoded_views(ctx, loc, msg, part) {
        if bytes != primary && !looks_like_transfer_encoding(&bytes) {
            attachment::read(ctx, loc, ctype, &bytes, depth);
        }
    }
}

/// Raw base64 or QP text of a binary part is not a second document.
fn looks_like_transfer_encoding(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
}

/// Every distinct decoding the part's transfer-encoding headers allow, plus the
/// raw body. Records conflicts and anomalies as it goes.
fn decoded_views(ctx: &mut Ctx, loc: &str, msg: &Message, part: &MessagePart) -> Vec<Vec<u8>> {
    let raw = msg.raw_message();
    let body = body_bytes(raw, part);
    let ctes: Vec<String> = header_values(header_block(raw, part), "content-transfer-encoding")
        .iter()
        .map(|v| super::params::strip_comments(v).trim().to_ascii_lowercase())
        .collect();
    if distinct(ctes.iter().cloned()) > 1 {
        ctx.uninspectable(
            loc,
            format!(
                "conflicting Content-Transfer-Encoding headers ({})",
                ctes.join(", ")
            ),
        );
    }
    let mut views: Vec<Vec<u8>> = vec![body.to_vec()];
    for cte in &ctes {
        let decoded = match cte.as_str() {
            "base64" => Some(lenient_base64(ctx, loc, body)),
            "quoted-printable" => Some(quoted_printable(body)),
            uu if uuencode::is_cte(uu) => uuencode::decode_cte(ctx, loc, body),
            "7bit" | "8bit" | "binary" | "" => None,
            other => {
                ctx.uninspectable(
                    loc,
                    format!("unsupported Content-Transfer-Encoding {other:?}"),
                );
                None
            }
        };
        if let Some(d) = decoded.filter(|d| !views.contains(d)) {
            views.push(d);
        }
    }
    views
}

/// RFC 2045 §6.8: characters outside the alphabet are ignored; data after the
/// padding and missing padding are tolerated. Either is an anomaly.
pub fn lenient_base64(ctx: &mut Ctx, loc: &str, body: &[u8]) -> Vec<u8> {
    let mut clean: Vec<u8> = Vec::with_capacity(body.len());
    let mut stray = false;
    for &b in body {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => clean.push(b),
            b'=' | b'\r' | b'\n' | b' ' | b'\t' => {}
            _ => stray = true,
        }
    }
    if stray {
        ctx.anomaly(loc, "base64 with characters outside its alphabet (ignored)");
    }
    if clean.len() % 4 == 1 {
        clean.pop(); // one leftover character carries no whole byte
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    engine.decode(&clean).unwrap_or_default()
}

/// Lenient quoted-printable: soft breaks joined, valid escapes (either case)
/// decoded, invalid ones kept as written.
pub fn quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'=' {
            out.push(body[i]);
            i += 1;
            continue;
        }
        let rest = &body[i + 1..];
        let ws = rest
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        if rest[ws..].starts_with(b"\r\n") {
            i += 1 + ws + 2;
        } else if rest[ws..].starts_with(b"\n") {
            i += 1 + ws + 1;
        } else if let Some(v) = rest
            .get(..2)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b'=');
            i += 1;
        }
    }
    out
}

/// True when `bytes` are `primary`'s own bytes and the charset reads them
/// unchanged (UTF-8, or ASCII text in an ASCII-compatible charset): the
/// common case of a plain part, settled without decoding it again.
fn decodes_to_itself(bytes: &[u8], charset: Option<Charset>, primary: &str) -> bool {
    if bytes != primary.as_bytes() {
        return false;
    }
    match charset {
        None => true,
        Some(enc) => enc == encoding_rs::UTF_8 || (enc.is_ascii_compatible() && bytes.is_ascii()),
    }
}

/// A part's declared charset, when encoding_rs knows its label (an unknown
/// one is read as UTF-8, lossily).
type Charset = &'static encoding_rs::Encoding;

fn charset(label: &str) -> Option<Charset> {
    encoding_rs::Encoding::for_label(label.trim().as_bytes())
}

/// Every plausible text of `bytes` under `charset`. For a stateful charset
/// (ISO-2022-*) that includes the reading without escape sequences that
/// switch and switch straight back: glibc and Python drop such a no-op pair,
/// where WHATWG decoders write U+FFFD, so `Harrow ESC $B ESC (B gate` is
/// `Harrowgate` in some clients.
fn to_texts(bytes: &[u8], charset: Option<Charset>) -> Vec<String> {
    let Some(enc) = charset else {
        return vec![String::from_utf8_lossy(bytes).into_owned()];
    };
    let mut out = vec![enc.decode_without_bom_handling(bytes).0.into_owned()];
    if enc == encoding_rs::ISO_2022_JP {
        let pruned = without_empty_escapes(bytes);
        if pruned != bytes {
            out.push(enc.decode_without_bom_handling(&pruned).0.into_owned());
        }
    }
    out
}

/// The ISO-2022-JP encoded words of a raw header value (RFC 2047) read with
/// no-op escape pairs removed, adjacent words' bytes joined first (a pair may
/// straddle two words). `None` when there is no such word.
pub fn iso2022_encoded_words(raw: &str) -> Option<String> {
    let mut out = String::new();
    let mut bytes: Vec<u8> = Vec::new();
    let mut rest = raw;
    let mut found = false;
    while let Some(start) = rest.find("=?") {
        let word = &rest[start + 2..];
        let mut fields = word.splitn(4, '?');
        let (Some(charset), Some(enc), Some(text)) = (fields.next(), fields.next(), fields.next())
        else {
            break;
        };
        // The encoded text ends at the next `?`, which must open the `?=`.
        let end = charset.len() + enc.len() + text.len() + 2;
        if !word[end..].starts_with("?=") {
            break;
        }
        let between = &rest[..start];
        if !between.trim().is_empty() || !charset.to_ascii_lowercase().starts_with("iso-2022-jp") {
            flush(&mut out, &mut bytes);
            out.push_str(between);
        }
        if charset.to_ascii_lowercase().starts_with("iso-2022-jp") {
            found = true;
            match enc {
                "B" | "b" => {
                    use base64::Engine;
                    let engine = base64::engine::general_purpose::STANDARD_NO_PAD;
                    bytes.extend(
                        engine
                            .decode(text.trim_end_matches('='))
                            .unwrap_or_default(),
                    );
                }
                _ => bytes.extend(quoted_printable(text.replace('_', " ").as_bytes())),
            }
        } else {
            out.push_str(&rest[start..start + 2 + end + 2]);
        }
        rest = &word[end + 2..];
    }
    flush(&mut out, &mut bytes);
    out.push_str(rest);
    return found.then_some(out);

    fn flush(out: &mut String, bytes: &mut Vec<u8>) {
        let pruned = without_empty_escapes(bytes);
        out.push_str(
            &encoding_rs::ISO_2022_JP
                .decode_without_bom_handling(&pruned)
                .0,
        );
        bytes.clear();
    }
}

/// `bytes` with every ISO 2022 escape sequence removed that is directly
/// followed by another (it selects a character set no character uses).
pub fn without_empty_escapes(bytes: &[u8]) -> Vec<u8> {
    let escape_len = |at: usize| -> Option<usize> {
        match bytes.get(at..at + 3)? {
            [0x1b, b'(' | b'$', b'@' | b'A'..=b'J'] => Some(3),
            [0x1b, b'$', b'(' | b')'] => bytes.get(at + 3).map(|_| 4),
            _ => None,
        }
    };
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(len) = escape_len(i) {
            if bytes.get(i + len) == Some(&0x1b) && escape_len(i + len).is_some() {
                i += len;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// The second reading of a multipart with a transfer encoding: clients
/// differ on whether to decode it before finding its parts, so the body is
/// decoded and parsed again under the same Content-Type, and whatever that
/// shows is scanned beside the parser's reading. Where the two readings
/// find different delimiters the structure itself is in doubt
/// (uninspectable, like any other disagreement); encodings other than
/// quoted-printable and base64 leave no second reading: uninspectable.
pub fn encoded_multipart(
    ctx: &mut Ctx,
    prefix: &str,
    loc: &str,
    msg: &Message,
    part: &MessagePart,
    depth: usize,
) {
    let raw = msg.raw_message();
    let body = body_bytes(raw, part);
    let encoding = part.content_transfer_encoding().unwrap_or_default();
    let decoded = match encoding.trim().to_ascii_lowercase().as_str() {
        "quoted-printable" => quoted_printable(body),
        "base64" => lenient_base64(ctx, loc, body),
        _ => {
            return ctx.uninspectable(
                loc,
                "multipart with a transfer encoding (not allowed by RFC 2045)",
            );
        }
    };
    if decoded == body {
        return;
    }
    let ctypes = header_values(header_block(raw, part), "content-type");
    let boundaries = ctypes.iter().flat_map(|c| param_values(c, "boundary"));
    let delimiters = |bytes: &[u8]| -> Vec<usize> {
        let b: Vec<String> = boundaries.clone().map(|b| format!("--{b}")).collect();
        let lines = bytes.split(|c| *c == b'\n');
        b.iter()
            .map(|d| {
                lines
                    .clone()
                    .filter(|l| l.starts_with(d.as_bytes()))
                    .count()
            })
            .collect()
    };
    if delimiters(body) != delimiters(&decoded) {
        ctx.uninspectable(
            loc,
            "multipart whose parts differ once its transfer encoding is decoded",
        );
    }
    let mut again = format!(
        "Content-Type: {}\r\n\r\n",
        ctypes.first().map_or("", |c| c.as_str())
    )
    .into_bytes();
    again.extend_from_slice(&decoded);
    mime::walk_raw(ctx, prefix, &again, depth + 1);
}

/// The second reading of a multipart whose boundary the parser missed
/// (mail-parser loses a value that starts on a continuation line, which
/// clients unfold and read): where the raw header block, unfolded, names
/// exactly one boundary, the part is parsed again under a normalised
/// Content-Type and walked. False when it names none, or several (then
/// [`check_message`] has already called them conflicting).
pub fn missed_boundary(
    ctx: &mut Ctx,
    prefix: &str,
    msg: &Message,
    part: &MessagePart,
    depth: usize,
) -> bool {
    let raw = msg.raw_message();
    let ctypes = header_values(header_block(raw, part), "content-type");
    let mut found: Vec<String> = ctypes
        .iter()
        .flat_map(|c| param_values(c, "boundary"))
        .collect();
    found.sort();
    found.dedup();
    let [boundary] = found.as_slice() else {
        return false;
    };
    // RFC 2046 boundaries hold neither; one that does cannot be re-quoted.
    if boundary.is_empty() || boundary.contains(['"', '\\', '\r', '\n']) {
        return false;
    }
    let media = ctypes.first().map(|c| media_type(c)).unwrap_or_default();
    let mut again = format!("Content-Type: {media}; boundary=\"{boundary}\"\r\n\r\n").into_bytes();
    again.extend_from_slice(body_bytes(raw, part));
    mime::walk_raw(ctx, prefix, &again, depth + 1);
    true
}

fn header_block<'a>(raw: &'a [u8], part: &MessagePart) -> &'a [u8] {
    raw.get(part.offset_header as usize..part.offset_body as usize)
        .unwrap_or_default()
}

fn body_bytes<'a>(raw: &'a [u8], part: &MessagePart) -> &'a [u8] {
    raw.get(part.offset_body as usize..part.offset_end as usize)
        .unwrap_or_default()
}

/// Values of every header called `name` in a raw header block, unfolded.
pub fn header_values(block: &[u8], name: &str) -> Vec<String> {
    let text = String::from_utf8_lossy(block);
    let mut values: Vec<String> = Vec::new();
    let mut current: Option<String> = None;
    for line in text.split('\n') {
        let line = line.trim_end_matches('\r');
        if line.starts_with([' ', '\t']) {
            if let Some(v) = current.as_mut() {
                // A value that starts on the continuation line has no
                // leading space to keep.
                if !v.is_empty() {
                    v.push(' ');
                }
                v.push_str(line.trim());
            }
            continue;
        }
        values.extend(current.take());
        if let Some((n, v)) = line.split_once(':') {
            if n.trim().eq_ignore_ascii_case(name) {
                current = Some(v.trim().to_string());
            }
        }
    }
    values.extend(current);
    values.iter().map(|v| v.trim().to_string()).collect()
}

fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

fn distinct(items: impl Iterator<Item = String>) -> usize {
    let mut seen: Vec<String> = items.collect();
    seen.sort();
    seen.dedup();
    seen.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_decodes_to_itself_only_when_its_charset_reads_it_unchanged() {
        let text = "plain ASCII text";
        assert!(decodes_to_itself(text.as_bytes(), None, text));
        assert!(decodes_to_itself(text.as_bytes(), charset("utf-8"), text));
        assert!(decodes_to_itself(
            text.as_bytes(),
            charset(" ISO-8859-1"),
            text
        ));
        assert!(!decodes_to_itself(
            text.as_bytes(),
            charset("utf-16le"),
            text
        ));
        assert!(!decodes_to_itself(b"other bytes", None, text));
        let accented = "café";
        assert!(decodes_to_itself(
            accented.as_bytes(),
            charset("utf-8"),
            accented
        ));
        assert!(!decodes_to_itself(
            accented.as_bytes(),
            charset("iso-8859-1"),
            accented
        ));
    }

    #[test]
    fn iso2022_words_are_joined_then_pruned() {
        // "Harrow ESC $B" and "ESC (B gate" in two words: the pair straddles them.
        let raw = "=?ISO-2022-JP?B?SGFycm93GyRC?= =?iso-2022-jp?Q?=1B(Bgate?= Shipping";
        assert_eq!(
            iso2022_encoded_words(raw).as_deref(),
            Some("Harrowgate Shipping")
        );
        assert_eq!(iso2022_encoded_words("=?utf-8?q?x?= plain"), None);
    }

    #[test]
    fn qp_soft_breaks_and_bad_escapes() {
        assert_eq!(
            quoted_printable(b"Harrow=\r\ngate =3d =ZZ =c3=a9"),
            "Harrowgate = =ZZ é".as_bytes()
        );
    }

    #[test]
    fn base64_with_garbage() {
        let limits = Default::default();
        let mut ctx = Ctx::new(&limits);
        assert_eq!(
            lenient_base64(&mut ctx, "body", b"SGVs!bG8*gd29y\r\nbGQ"),
            b"Hello world"
        );
        assert_eq!(ctx.out.anomalies.len(), 1);
    }

    #[test]
    fn folded_duplicate_headers() {
        let block = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\nContent-Transfer-Encoding:\r\n quoted-printable\r\n\r\n";
        assert_eq!(
            header_values(block, "content-transfer-encoding"),
            vec!["base64", "quoted-printable"]
        );
    }
}
