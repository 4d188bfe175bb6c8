//! Rule modifiers that change the message on its way out (DESIGN §4): added
//! header fields and a confidentiality notice appended to the text and HTML
//! bodies. Applied to what leaves for the next hop (pass, and the plaintext
//! of an encrypted copy), never to what is held: a held message is kept as
//! the sender wrote it, and release relays that original.
//!
//! A body part that gets a notice is re-encoded as UTF-8 base64 whatever it
//! was: appending to quoted-printable or to a legacy charset in place would
//! need one code path per encoding, and base64 of UTF-8 is read by every
//! client. Everything outside the changed parts stays byte for byte.

use crate::policy::Modifiers;
use base64::Engine;
use mail_parser::{MessageParser, PartType};
use std::borrow::Cow;
use std::ops::Range;

/// `raw` with `m`'s headers and notices; `raw` itself, borrowed, when there
/// are none (most mail: no copy of a big message just to relay it).
pub(crate) fn apply<'a>(raw: &'a [u8], m: &Modifiers) -> Cow<'a, [u8]> {
    let body = if m.notices.is_empty() {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(with_notices(raw, &m.notices.join("\r\n\r\n")))
    };
    if m.add_headers.is_empty() {
        return body;
    }
    let mut out = Vec::with_capacity(body.len() + 512);
    for (name, value) in &m.add_headers {
        out.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    out.extend_from_slice(&body);
    Cow::Owned(out)
}

/// One body part to rewrite: its header and body ranges in `raw`, and the
/// new header block and body.
struct Edit {
    headers: Range<usize>,
    body: Range<usize>,
    new_headers: Vec<u8>,
    new_body: Vec<u8>,
}

fn with_notices(raw: &[u8], notice: &str) -> Vec<u8> {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return raw.to_vec();
    };
    let mut ids: Vec<u32> = msg
        .text_body
        .iter()
        .chain(&msg.html_body)
        .copied()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let mut edits: Vec<Edit> = ids
        .iter()
        .filter_map(|&id| msg.part(id))
        .filter_map(|part| edit(raw, part, notice))
        .collect();
    edits.sort_by_key(|e| e.headers.start);
    splice(raw, &edits)
}

/// The rewrite of one text or HTML part, or `None` for any other part.
fn edit(raw: &[u8], part: &mail_parser::MessagePart, notice: &str) -> Option<Edit> {
    let (kind, text) = match &part.body {
        PartType::Text(t) => ("plain", format!("{}\r\n\r\n{notice}\r\n", t.trim_end())),
        PartType::Html(h) => ("html", html_with_notice(h, notice)),
        _ => return None,
    };
    let headers = part.offset_header as usize..part.offset_body as usize;
    let body = part.offset_body as usize..part.offset_end as usize;
    let mut new_headers = without_content_headers(&raw[headers.clone()]);
    new_headers.extend_from_slice(
        format!(
            "Content-Type: text/{kind}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        )
        .as_bytes(),
    );
    let trailing = trailing_newline(&raw[body.clone()]);
    let mut new_body = wrap76(&base64::engine::general_purpose::STANDARD.encode(text));
    new_body.extend_from_slice(trailing);
    Some(Edit {
        headers,
        body,
        new_headers,
        new_body,
    })
}

/// The notice as its own paragraph, before `</body>` when there is one.
fn html_with_notice(html: &str, notice: &str) -> String {
    let para = format!(
        "<p class=\"matterwall-notice\">{}</p>",
        html_escape::encode_text(notice).replace('\n', "<br>")
    );
    match html.to_ascii_lowercase().rfind("</body") {
        Some(at) => format!("{}{para}\r\n{}", &html[..at], &html[at..]),
        None => format!("{html}\r\n{para}\r\n"),
    }
}

/// The header block minus Content-Type and Content-Transfer-Encoding (with
/// their continuation lines) and minus the blank line that ends it.
fn without_content_headers(block: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(block.len());
    let mut skipping = false;
    for line in block.split_inclusive(|&b| b == b'\n') {
        if line.iter().all(|b| b.is_ascii_whitespace()) {
            break;
        }
        let continuation = matches!(line[0], b' ' | b'\t');
        if !continuation {
            let name = line.split(|&b| b == b':').next().unwrap_or_default();
            let name = String::from_utf8_lossy(name).trim().to_ascii_lowercase();
            skipping = name == "content-type" || name == "content-transfer-encoding";
        }
        if !skipping {
            out.extend_from_slice(line);
            if !line.ends_with(b"\n") {
                out.extend_from_slice(b"\r\n");
            }
        }
    }
    out
}

/// The line break a part's body ends with, so the boundary line that
/// follows keeps its own.
fn trailing_newline(body: &[u8]) -> &'static [u8] {
    if body.ends_with(b"\r\n") || body.ends_with(b"\n") {
        b"\r\n"
    } else {
        b""
    }
}

fn wrap76(b64: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(b64.len() + b64.len() / 38 + 2);
    for (i, chunk) in b64.as_bytes().chunks(76).enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(chunk);
    }
    out
}

/// `raw` with each edit's ranges replaced; edits are sorted and disjoint.
fn splice(raw: &[u8], edits: &[Edit]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 1024);
    let mut at = 0;
    for e in edits {
        if e.headers.start < at {
            continue;
        }
        out.extend_from_slice(&raw[at..e.headers.start]);
        out.extend_from_slice(&e.new_headers);
        out.extend_from_slice(&e.new_body);
        at = e.body.end;
    }
    out.extend_from_slice(&raw[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(text: &str) -> Modifiers {
        Modifiers {
            notices: vec![text.into()],
            ..Modifiers::default()
        }
    }

    fn parsed_bodies(raw: &[u8]) -> (Vec<String>, Vec<String>) {
        let msg = MessageParser::default().parse(raw).unwrap();
        let texts = (0..msg.text_body_count())
            .filter_map(|i| msg.body_text(i).map(|t| t.into_owned()))
            .collect();
        let htmls = (0..msg.html_body_count())
            .filter_map(|i| msg.body_html(i).map(|t| t.into_owned()))
            .collect();
        (texts, htmls)
    }

    #[test]
    fn no_modifiers_is_the_same_bytes() {
        let raw = b"From: a@b\r\nSubject: x\r\n\r\nHello\r\n";
        assert_eq!(&*apply(raw, &Modifiers::default()), &raw[..]);
    }

    #[test]
    fn headers_go_on_top() {
        let m = Modifiers {
            add_headers: vec![("X-Matterwall".into(), "checked".into())],
            ..Modifiers::default()
        };
        let raw = b"From: a@b\r\n\r\nHello\r\n";
        assert_eq!(
            &*apply(raw, &m),
            b"X-Matterwall: checked\r\nFrom: a@b\r\n\r\nHello\r\n"
        );
    }

    #[test]
    fn notice_on_a_single_part_latin1_qp_body() {
        let raw = b"From: a@b\r\nSubject: s\r\nContent-Type: text/plain; charset=iso-8859-1\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\nCaf=E9 cr=E8me\r\n";
        let out = apply(raw, &notice("CONFIDENTIAL: privileged"));
        let (texts, _) = parsed_bodies(&out);
        assert_eq!(texts.len(), 1);
        assert!(texts[0].starts_with("Café crème"), "{:?}", texts[0]);
        assert!(texts[0].contains("CONFIDENTIAL: privileged"));
        let s = String::from_utf8_lossy(&out);
        assert!(s.starts_with("From: a@b\r\nSubject: s\r\n"));
        assert_eq!(s.matches("Content-Type").count(), 1);
    }

    #[test]
    fn notice_on_both_alternatives_and_attachment_untouched() {
        let raw = b"From: a@b\r\nContent-Type: multipart/mixed; boundary=\"M\"\r\n\r\n\
--M\r\nContent-Type: multipart/alternative; boundary=\"A\"\r\n\r\n\
--A\r\nContent-Type: text/plain\r\n\r\nPlain body\r\n\
--A\r\nContent-Type: text/html\r\n\r\n<html><body><p>Html body</p></body></html>\r\n\
--A--\r\n\
--M\r\nContent-Type: application/pdf; name=\"a.pdf\"\r\nContent-Disposition: attachment; filename=\"a.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--M--\r\n";
        let out = apply(raw, &notice("Notice <privileged> & confidential"));
        let (texts, htmls) = parsed_bodies(&out);
        assert!(texts[0].starts_with("Plain body"));
        assert!(texts[0].ends_with("Notice <privileged> & confidential\r\n"));
        assert!(htmls[0].contains("<p>Html body</p><p class=\"matterwall-notice\">Notice &lt;privileged&gt; &amp; confidential</p>"));
        assert!(htmls[0].ends_with("</body></html>"));
        let s = String::from_utf8_lossy(&out);
        assert!(s.contains("filename=\"a.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--M--\r\n"));
        let msg = MessageParser::default().parse(&out).unwrap();
        assert_eq!(msg.attachments().count(), 1);
    }
}
