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

use super::codec::{
    encoded_words_anywhere, lenient_base64, lenient_base64_unless, quoted_printable,
    without_empty_escapes,
};
use super::params::param_values;
use super::{raw_between, text, uuencode, Ctx};
use mail_parser::{Message, MessagePart, MimeHeaders, PartType};
use std::borrow::Cow;
use std::collections::HashMap;

/// Structure checks over every part of `msg`, in one pass over its bytes
/// however deep the nesting (a per-part rescan would be quadratic).
pub(crate) fn check_message(ctx: &mut Ctx, prefix: &str, msg: &Message) {
    let raw = msg.raw_message();
    let loc = if prefix.is_empty() {
        "body".to_string()
    } else {
        format!("{prefix}body")
    };
    // Parts the parser found under each boundary string.
    let mut expected: HashMap<String, usize> = HashMap::new();
    for part in &msg.parts {
        let headers = header_block(msg, part);
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
            preamble_and_epilogue(ctx, &loc, body_bytes(msg, part), b);
        }
    }
    if !expected.is_empty() {
        check_delimiters(ctx, &loc, raw, &expected);
    }
    swallowed_body(ctx, &loc, msg);
}

/// Clients end a message's headers at its first empty line. Where the
/// parser's headers run on past it (mail-parser reads a `Date:` that ends
/// in `UT` on a bare LF as going on over the blank line: the body of a
/// real message in the SpamAssassin corpus vanished that way), the bytes it
/// took for headers are what clients show as the body: they are scanned
/// as text. A multipart whose parts went that way cannot be read.
fn swallowed_body(ctx: &mut Ctx, loc: &str, msg: &Message) {
    let raw = msg.raw_message();
    let Some(root) = msg.parts.first() else {
        return;
    };
    let Some(split) = header_end(raw) else { return };
    let parsed = header_block(msg, root).len();
    if parsed <= split {
        return;
    }
    let swallowed = &raw[split..parsed];
    ctx.anomaly(loc, "the parser read past the end of the headers");
    let types = header_values(&raw[..split], "content-type");
    if types
        .iter()
        .any(|t| media_type(t).starts_with("multipart/"))
    {
        ctx.uninspectable(loc, "a multipart whose body the parser took for headers");
    }
    let text = text::decode(swallowed).unwrap_or_else(|| String::from_utf8_lossy(swallowed).into());
    ctx.text(loc, text);
}

/// Where the header section ends as clients read it: just after its first
/// empty line (CRLF or bare LF). `None` when there is none.
fn header_end(raw: &[u8]) -> Option<usize> {
    let mut at = 0;
    for line in raw.split_inclusive(|&b| b == b'\n') {
        at += line.len();
        if matches!(line, b"\n" | b"\r\n") {
            return Some(at);
        }
    }
    None
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
pub(crate) fn alternatives(
    ctx: &mut Ctx,
    loc: &str,
    msg: &Message,
    part: &MessagePart,
    primary: &str,
    form: text::Form,
) {
    let label = part.content_type().and_then(|c| c.attribute("charset"));
    let charset = label.and_then(charset);
    // A decoding that is the primary's own bytes, read unchanged, adds nothing.
    let known = reads_unchanged(primary.as_bytes(), charset).then_some(primary.as_bytes());
    for bytes in decoded_views(ctx, loc, msg, part, known) {
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

/// Text that looks binary under its declared charset is re-read by
/// detection (UTF-16 with a BOM, a wrong label) and scanned: only what is
/// binary under every reading is flagged.
pub(crate) fn binary_text(
    ctx: &mut Ctx,
    loc: &str,
    msg: &Message,
    part: &MessagePart,
    body: &str,
    form: text::Form,
) {
    if text::looks_binary(body) {
        match detected_text(ctx, loc, msg, part) {
            Some(detected) => text::scan(ctx, loc, &detected, form),
            None => ctx.uninspectable(loc, "binary content that claims to be text"),
        }
    }
}

/// The text of a part whose declared charset gives binary: each decoding of
/// its transfer encoding, read with the charset found by detection.
fn detected_text(ctx: &mut Ctx, loc: &str, msg: &Message, part: &MessagePart) -> Option<String> {
    decoded_views(ctx, loc, msg, part, None)
        .iter()
        .rev()
        .find_map(|bytes| text::decode(bytes))
}

/// Other decodings of a binary part, to be read as attachments too: those
/// that differ from the parser's.
pub(crate) fn binary_alternatives<'m>(
    ctx: &mut Ctx,
    loc: &str,
    msg: &'m Message,
    part: &MessagePart,
    primary: &[u8],
) -> Vec<Cow<'m, [u8]>> {
    let mut views = decoded_views(ctx, loc, msg, part, Some(primary));
    views.retain(|bytes| **bytes != *primary && !looks_like_transfer_encoding(bytes));
    views
}

/// Raw base64 or QP text of a binary part is not a second document.
fn looks_like_transfer_encoding(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace())
}

/// Every distinct decoding the part's transfer-encoding headers allow, plus the
/// raw body (borrowed, not copied), less any decoding that is exactly
/// `known`: a reading the caller has already read (the parser's). A base64
/// attachment is compared with it as it is decoded, so the usual one, which
/// decodes as the parser decoded it, is not held twice. Records conflicts
/// and anomalies as it goes.
fn decoded_views<'m>(
    ctx: &mut Ctx,
    loc: &str,
    msg: &'m Message,
    part: &MessagePart,
    known: Option<&[u8]>,
) -> Vec<Cow<'m, [u8]>> {
    let body = body_bytes(msg, part);
    let ctes: Vec<String> = header_values(header_block(msg, part), "content-transfer-encoding")
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
    let mut views: Vec<Cow<'m, [u8]>> = vec![Cow::Borrowed(body)];
    for cte in &ctes {
        let decoded = decode(ctx, loc, body, cte, known).filter(|d| known != Some(&d[..]));
        if let Some(d) = decoded.filter(|d| !views.iter().any(|v| **v == **d)) {
            views.push(Cow::Owned(d));
        }
    }
    views
}

/// `body` decoded under one transfer encoding; `None` for the identity
/// encodings, an unsupported one (flagged), or a base64 decoding that is
/// `known`.
fn decode(
    ctx: &mut Ctx,
    loc: &str,
    body: &[u8],
    cte: &str,
    known: Option<&[u8]>,
) -> Option<Vec<u8>> {
    match cte {
        "base64" => match known {
            Some(known) => lenient_base64_unless(ctx, loc, body, known),
            None => Some(lenient_base64(ctx, loc, body)),
        },
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
    }
}

/// True when `bytes` are `primary`'s own bytes and the charset reads them
/// unchanged (UTF-8, or ASCII text in an ASCII-compatible charset): the
/// common case of a plain part, settled without decoding it again.
fn decodes_to_itself(bytes: &[u8], charset: Option<Charset>, primary: &str) -> bool {
    bytes == primary.as_bytes() && reads_unchanged(bytes, charset)
}

/// True when `charset` reads `bytes` as the UTF-8 they already are.
fn reads_unchanged(bytes: &[u8], charset: Option<Charset>) -> bool {
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

/// The second reading of a multipart with a transfer encoding: clients
/// differ on whether to decode it before finding its parts, so the body is
/// decoded and parsed again under the same Content-Type, and whatever that
/// shows is scanned beside the parser's reading. Where the two readings
/// find different delimiters the structure itself is in doubt
/// (uninspectable, like any other disagreement); encodings other than
/// quoted-printable and base64 leave no second reading: uninspectable.
/// Returns the message to parse and walk again, if any.
pub(crate) fn encoded_multipart(
    ctx: &mut Ctx,
    loc: &str,
    msg: &Message,
    part: &MessagePart,
) -> Option<Vec<u8>> {
    let body = body_bytes(msg, part);
    let encoding = part.content_transfer_encoding().unwrap_or_default();
    let decoded = match encoding.trim().to_ascii_lowercase().as_str() {
        "quoted-printable" => quoted_printable(body),
        "base64" => lenient_base64(ctx, loc, body),
        _ => {
            ctx.uninspectable(
                loc,
                "multipart with a transfer encoding (not allowed by RFC 2045)",
            );
            return None;
        }
    };
    if decoded == body {
        return None;
    }
    let ctypes = header_values(header_block(msg, part), "content-type");
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
    Some(again)
}

/// The second reading of a multipart whose boundary the parser missed
/// (mail-parser loses a value that starts on a continuation line, which
/// clients unfold and read): where the raw header block, unfolded, names
/// exactly one boundary, the part is returned under a normalised
/// Content-Type, to be parsed again and walked. `None` when it names none,
/// or several (then [`check_message`] has already called them conflicting).
pub(crate) fn missed_boundary(msg: &Message, part: &MessagePart) -> Option<Vec<u8>> {
    let ctypes = header_values(header_block(msg, part), "content-type");
    let mut found: Vec<String> = ctypes
        .iter()
        .flat_map(|c| param_values(c, "boundary"))
        .collect();
    found.sort();
    found.dedup();
    let [boundary] = found.as_slice() else {
        return None;
    };
    // RFC 2046 boundaries hold neither; one that does cannot be re-quoted.
    if boundary.is_empty() || boundary.contains(['"', '\\', '\r', '\n']) {
        return None;
    }
    let media = ctypes.first().map(|c| media_type(c)).unwrap_or_default();
    let mut again = format!("Content-Type: {media}; boundary=\"{boundary}\"\r\n\r\n").into_bytes();
    again.extend_from_slice(body_bytes(msg, part));
    Some(again)
}

/// The other names of a part, reported at `loc` beside the parser's
/// attachment name: clients differ on which of `filename*`, `filename`
/// and `name` they show, and decode encoded words inside the quotes.
pub(crate) fn other_names(ctx: &mut Ctx, loc: &str, msg: &Message, part: &MessagePart) {
    let parsed = part.attachment_name();
    for name in file_names(msg, part) {
        if Some(name.as_str()) != parsed {
            ctx.text(loc, name);
        }
    }
}

/// Every file name a part's raw headers give it, as clients may read
/// them: `name` of each Content-Type and `filename` of each
/// Content-Disposition, in every form (RFC 2231 or not), each also with
/// encoded words decoded. Distinct, in header order.
fn file_names(msg: &Message, part: &MessagePart) -> Vec<String> {
    let block = header_block(msg, part);
    let types = header_values(block, "content-type");
    let dispositions = header_values(block, "content-disposition");
    let plain = types.iter().flat_map(|t| param_values(t, "name")).chain(
        dispositions
            .iter()
            .flat_map(|d| param_values(d, "filename")),
    );
    let mut names: Vec<String> = Vec::new();
    for name in plain {
        let decoded = encoded_words_anywhere(&name);
        for n in std::iter::once(name).chain(decoded) {
            if !names.contains(&n) {
                names.push(n);
            }
        }
    }
    names
}

fn header_block<'m>(msg: &'m Message, part: &MessagePart) -> &'m [u8] {
    raw_between(msg, part.offset_header, part.offset_body)
}

fn body_bytes<'m>(msg: &'m Message, part: &MessagePart) -> &'m [u8] {
    raw_between(msg, part.offset_body, part.offset_end)
}

/// Values of every header called `name` in a raw header block, unfolded.
pub(crate) fn header_values(block: &[u8], name: &str) -> Vec<String> {
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
    fn folded_duplicate_headers() {
        let block = b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\nContent-Transfer-Encoding:\r\n quoted-printable\r\n\r\n";
        assert_eq!(
            header_values(block, "content-transfer-encoding"),
            vec!["base64", "quoted-printable"]
        );
    }
}
