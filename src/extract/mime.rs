//! MIME parts, read one at a time: `mail-parser` gives the structure and the
//! decoded text; this module reports what a part says about itself (its
//! location, type, name, the text of the headers that carry it) and reads a
//! text part's own text. The walker ([`super::walk`]) goes from part to part
//! and into nested messages; [`super::views`] adds the other plausible
//! readings of each part.

use super::{at, codec, none, raw_between, text, uuencode, Child, Ctx, Found};
use mail_parser::{
    Address, HeaderName, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};

/// Headers whose display text is scanned (never the addresses themselves: a
/// message *to* a client's domain does not mention the client).
const ADDRESS_HEADERS: &[(&str, HeaderName<'static>)] = &[
    ("header:from", HeaderName::From),
    ("header:to", HeaderName::To),
    ("header:cc", HeaderName::Cc),
    ("header:bcc", HeaderName::Bcc),
    ("header:reply-to", HeaderName::ReplyTo),
    ("header:sender", HeaderName::Sender),
];

/// Parses a raw message (`None`: not one).
pub(crate) fn parse(raw: &[u8]) -> Option<Message<'_>> {
    MessageParser::default().parse(raw)
}

/// Bytes that do not parse as a message: uninspectable, their text read as
/// it is.
pub(crate) fn unparseable(ctx: &mut Ctx, prefix: &str, raw: &[u8]) {
    let loc = at(prefix, "body");
    ctx.uninspectable(&loc, "not a parseable message");
    ctx.text(&loc, String::from_utf8_lossy(raw));
}

/// The text of the headers that carry it: subject (with its ISO-2022-JP
/// encoded words re-read), comments, keywords, thread topic and the display
/// names of the address headers.
pub(crate) fn headers(ctx: &mut Ctx, prefix: &str, msg: &Message) {
    for header in msg.headers() {
        match &header.name {
            HeaderName::Subject => {
                if let Some(s) = header.value.as_text() {
                    ctx.text(&at(prefix, "subject"), s);
                }
                let value = raw_between(msg, header.offset_start, header.offset_end);
                let value = String::from_utf8_lossy(value);
                if let Some(s) = codec::iso2022_encoded_words(&value) {
                    ctx.text(&at(prefix, "subject"), s);
                }
            }
            HeaderName::Comments | HeaderName::Keywords => {
                if let Some(list) = header.value.as_text_list() {
                    ctx.text(&at(prefix, "header:keywords"), list.join(" "));
                } else if let Some(s) = header.value.as_text() {
                    ctx.text(&at(prefix, "header:comments"), s);
                }
            }
            HeaderName::Other(name) if name.eq_ignore_ascii_case("thread-topic") => {
                if let Some(s) = header.value.as_text() {
                    ctx.text(&at(prefix, "header:thread-topic"), s);
                }
            }
            name => {
                if let Some((loc, _)) = ADDRESS_HEADERS.iter().find(|(_, h)| h == name) {
                    if let Some(addr) = header.value.as_address() {
                        ctx.text(&at(prefix, loc), display_names(addr));
                    }
                    let value = raw_between(msg, header.offset_start, header.offset_end);
                    if let Some(names) = joined_display_names(value) {
                        ctx.text(&at(prefix, loc), names);
                    }
                }
            }
        }
    }
}

fn display_names(addr: &Address) -> String {
    let mut names: Vec<&str> = Vec::new();
    match addr {
        Address::List(list) => names.extend(list.iter().filter_map(|a| a.name.as_deref())),
        Address::Group(groups) => {
            for g in groups {
                names.extend(g.name.as_deref());
                names.extend(g.addresses.iter().filter_map(|a| a.name.as_deref()));
            }
        }
    }
    names.join("\n")
}

/// The display names of a raw address header whose encoded words are
/// decoded first, wherever they stand, and the blanks between them
/// dropped: the parser keeps a blank between two words inside quotes
/// ("Harrow gate"), where Outlook and Python's `email` join them. The
/// decoded value is parsed again as an address list. `None` when it has
/// no encoded word.
fn joined_display_names(value: &[u8]) -> Option<String> {
    let decoded = codec::encoded_words_anywhere(&String::from_utf8_lossy(value))?;
    let again = format!("To: {}\r\n\r\n", decoded.trim());
    let msg = MessageParser::default().parse(again.as_bytes())?;
    msg.to().map(display_names)
}

/// What a part says about itself, reported at `loc`: its attachment name
/// (text), and whether its type can be read at all. Returns its type.
pub(crate) fn part_head(ctx: &mut Ctx, loc: &str, part: &MessagePart) -> String {
    if let Some(name) = part.attachment_name() {
        ctx.text(loc, name);
    }
    let ctype = content_type(part);
    if let Some(why) = unreadable_type(&ctype) {
        ctx.uninspectable(loc, why);
    }
    ctype
}

/// Whether the part's Content-Type names a boundary (as the parser read it).
pub(crate) fn has_boundary(part: &MessagePart) -> bool {
    part.content_type()
        .and_then(|c| c.attribute("boundary"))
        .is_some()
}

/// Types whose content cannot be fully seen in this one message, whatever
/// the parser made of the body.
fn unreadable_type(ctype: &str) -> Option<&'static str> {
    match ctype {
        "multipart/encrypted" => Some("encrypted by the sender (multipart/encrypted)"),
        "message/partial" => Some("a fragment of a message split over several (message/partial)"),
        "message/external-body" => {
            Some("content stored outside the message (message/external-body)")
        }
        _ => None,
    }
}

/// A transfer encoding other than the identity ones.
pub(crate) fn encoded(part: &MessagePart) -> bool {
    part.content_transfer_encoding().is_some_and(|e| {
        !matches!(
            e.trim().to_ascii_lowercase().as_str(),
            "7bit" | "8bit" | "binary"
        )
    })
}

/// How a text part is written: HTML, and `format=flowed` with its `delsp`.
pub(crate) fn form(part: &MessagePart, html: bool) -> text::Form {
    let param = |name: &str| {
        part.content_type()
            .and_then(|c| c.attributes())
            .and_then(|attrs| attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name)))
            .map(|a| a.value.trim().to_ascii_lowercase())
    };
    let flowed = param("format").is_some_and(|f| f == "flowed");
    text::Form {
        html,
        flowed: flowed.then(|| param("delsp").is_some_and(|d| d == "yes")),
    }
}

/// A text part's own flags: ciphertext pasted into it.
pub(crate) fn text_flags(ctx: &mut Ctx, loc: &str, body: &str) {
    if body.contains("-----BEGIN PGP MESSAGE-----") {
        ctx.uninspectable(loc, "encrypted by the sender (PGP)");
    }
}

/// A text part's text, scanned with every reading [`text::scan`] derives
/// (after its files and its binary-looking re-reading, which the walker has
/// read first).
pub(crate) fn text_body(
    ctx: &mut Ctx,
    loc: &str,
    part: &MessagePart,
    body: &str,
    form: text::Form,
) {
    if part.is_encoding_problem {
        ctx.anomaly(
            loc,
            "charset or transfer encoding could not be decoded cleanly",
        );
    }
    text::scan(ctx, loc, body, form);
}

/// Files inside text that the recipient's client may decode. A uuencoded
/// block (`begin 644 name` … `end`) is shown as an attachment: it is
/// returned as a file at `LOC/name`, one block at a time, for the walker to
/// read through the attachment readers and their limits. When uuencode is
/// the part's transfer encoding, the decoded bytes are the part's text
/// instead (read as a view by [`super::views`]), so they are only checked
/// for being text. yEnc is not decoded: uninspectable.
pub(crate) fn encoded_files<'a>(
    ctx: &mut Ctx,
    loc: &str,
    part: &MessagePart,
    body: &'a str,
) -> Found<'a> {
    if !carries_encoded_file(body) {
        return none();
    }
    if body.lines().any(|l| l.starts_with("=ybegin ")) {
        ctx.uninspectable(loc, "yEnc file inside text");
    }
    let cte = part.content_transfer_encoding().unwrap_or_default();
    let as_cte = uuencode::is_cte(
        &super::params::strip_comments(cte)
            .trim()
            .to_ascii_lowercase(),
    );
    let loc = loc.to_string();
    let mut blocks = uuencode::each_block(body);
    Box::new(move |ctx: &mut Ctx| {
        for block in blocks.by_ref() {
            let file = format!("{loc}/{}", block.name.replace('/', "_"));
            match block.data {
                Ok(data) if as_cte => {
                    if !data.is_empty() && text::decode(&data).is_none() {
                        ctx.uninspectable(&loc, "binary content that claims to be text");
                    }
                }
                Ok(data) => {
                    if !block.ended {
                        ctx.anomaly(&file, "uuencoded file without its end line");
                    }
                    return Some(Child::File {
                        loc: file,
                        declared: String::new(),
                        bytes: data.into(),
                    });
                }
                // The transfer encoding's own failure is recorded by `views`.
                Err(_) if as_cte => {}
                Err(_) => {
                    ctx.uninspectable(&file, "uuencoded file inside text that does not decode")
                }
            }
        }
        None
    })
}

/// A line that opens a uuencoded (`begin 644 name`) or yEnc (`=ybegin `)
/// file. Only lines holding the word `begin` can, so the search jumps from
/// one to the next instead of splitting the whole text into lines.
fn carries_encoded_file(text: &str) -> bool {
    text.match_indices("begin").any(|(at, _)| {
        let start = text[..at].rfind('\n').map_or(0, |n| n + 1);
        let end = text[at..].find('\n').map_or(text.len(), |n| at + n);
        let line = text[start..end].trim_end_matches('\r');
        is_uuencode_begin(line) || line.starts_with("=ybegin ")
    })
}

/// `begin 644 name`: a uuencode header (mode is three or four octal digits).
fn is_uuencode_begin(line: &str) -> bool {
    uuencode::begin_name(line).is_some()
}

/// `type/subtype`, lower case; `text/plain` when absent (RFC 2045 default).
pub(crate) fn content_type(part: &MessagePart) -> String {
    match part.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub).to_ascii_lowercase(),
            None => ct.ctype().to_ascii_lowercase(),
        },
        None => "text/plain".into(),
    }
}

/// `body` for the message's text and HTML bodies, `attachment:NAME` otherwise.
pub(crate) fn part_location(prefix: &str, msg: &Message, id: u32, part: &MessagePart) -> String {
    let in_body = msg.text_body.contains(&id) || msg.html_body.contains(&id);
    if in_body && part.attachment_name().is_none() {
        return at(prefix, "body");
    }
    if matches!(part.body, PartType::Multipart(_)) && part.attachment_name().is_none() {
        return at(prefix, "body");
    }
    let name = part
        .attachment_name()
        .map(|n| n.replace('/', "_"))
        .unwrap_or_else(|| format!("part-{id}"));
    at(prefix, &format!("attachment:{name}"))
}

#[cfg(test)]
mod tests {
    use super::carries_encoded_file;

    #[test]
    fn encoded_files_are_found_on_their_own_lines_only() {
        assert!(carries_encoded_file("begin 644 secret.pdf\r\nM86)C\r\n"));
        assert!(carries_encoded_file(
            "Hi,\r\n  begin 0644 a.doc\r\nM\r\nend\r\n"
        ));
        assert!(carries_encoded_file(
            "text\n=ybegin line=128 size=9 name=x\n"
        ));
        assert!(!carries_encoded_file(
            "At the beginning we begin 644 times.\r\n"
        ));
        assert!(!carries_encoded_file("begin 9999 x\r\nbegin here\r\n"));
        assert!(!carries_encoded_file(" =ybegin indented\n"));
        assert!(!carries_encoded_file(""));
    }
}
