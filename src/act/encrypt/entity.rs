//! Taking a message apart for encryption, byte for byte: the *inner entity*
//! that gets encrypted is the original content part exactly — its
//! `Content-*` header fields as written (folding kept) and the body — so
//! decrypting gives back what the sender wrote. The *outer headers* that stay
//! in clear are the few that delivery and threading need; every other field
//! (X-Mailer, Comments, Keywords, …, which may name a client) is left out.

/// Header fields kept in clear on an encrypted copy, besides any the rules'
/// `add_header` modifiers name.
const OUTER: &[&str] = &[
    "from",
    "sender",
    "reply-to",
    "to",
    "cc",
    "date",
    "message-id",
    "in-reply-to",
    "references",
    "subject",
];

/// Exchange's own organisation headers (`X-MS-Exchange-Organization-*`),
/// kept exactly as received: Exchange Online reads them when the copy comes
/// back (attribution, direction, loop detection); they name no client.
const EXCHANGE_ORG: &str = "x-ms-exchange-organization-";

/// One header field: its lower-case name and where its raw bytes are
/// (continuation lines and the final CRLF included).
struct Field {
    name: String,
    range: std::ops::Range<usize>,
}

/// A message split at the first empty line.
pub(crate) struct Split<'a> {
    raw: &'a [u8],
    fields: Vec<Field>,
    body: &'a [u8],
}

pub(crate) fn split(raw: &[u8]) -> Split<'_> {
    let mut fields: Vec<Field> = Vec::new();
    let mut pos = 0;
    let mut body: &[u8] = &[];
    while pos < raw.len() {
        let end = raw[pos..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(raw.len(), |i| pos + i + 1);
        let line = &raw[pos..end];
        if line == b"\r\n" || line == b"\n" {
            body = &raw[end..];
            break;
        }
        let continues = matches!(line.first(), Some(b' ' | b'\t'));
        match fields.last_mut() {
            // A continuation line belongs to the field above it.
            Some(last) if continues => last.range.end = end,
            _ => fields.push(Field {
                name: field_name(line),
                range: pos..end,
            }),
        }
        pos = end;
    }
    Split { raw, fields, body }
}

/// The lower-case name before the colon; empty for a line that has none.
fn field_name(line: &[u8]) -> String {
    match line.iter().position(|b| *b == b':') {
        Some(i) => String::from_utf8_lossy(&line[..i])
            .trim()
            .to_ascii_lowercase(),
        None => String::new(),
    }
}

impl Split<'_> {
    /// The original content part: `Content-*` fields, an empty line, the body.
    pub(crate) fn inner_entity(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 512);
        for f in self
            .fields
            .iter()
            .filter(|f| f.name.starts_with("content-"))
        {
            out.extend_from_slice(&self.raw[f.range.clone()]);
            ensure_crlf(&mut out);
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(self.body);
        out
    }

    /// The fields that stay in clear, in their original order; the Subject
    /// replaced by `neutral_subject` when one is set. `extra` names fields
    /// the rules added (lower case), which are kept too.
    pub(crate) fn outer_headers(&self, neutral_subject: Option<&str>, extra: &[String]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut subject_done = false;
        for f in &self.fields {
            let keep = OUTER.contains(&f.name.as_str())
                || extra.contains(&f.name)
                || f.name.starts_with(EXCHANGE_ORG);
            if !keep {
                continue;
            }
            match (f.name.as_str(), neutral_subject) {
                ("subject", Some(s)) if !subject_done => {
                    out.extend_from_slice(&subject_field(s));
                    subject_done = true;
                }
                ("subject", Some(_)) => {}
                _ => {
                    out.extend_from_slice(&self.raw[f.range.clone()]);
                    ensure_crlf(&mut out);
                }
            }
        }
        if let (Some(s), false) = (neutral_subject, subject_done) {
            out.extend_from_slice(&subject_field(s));
        }
        out
    }
}

fn ensure_crlf(out: &mut Vec<u8>) {
    if out.ends_with(b"\r\n") {
        return;
    }
    if out.ends_with(b"\n") {
        out.pop();
    }
    out.extend_from_slice(b"\r\n");
}

/// `Subject: TEXT`, as RFC 2047 encoded words when TEXT is not ASCII.
fn subject_field(text: &str) -> Vec<u8> {
    if text.is_ascii() {
        return format!("Subject: {text}\r\n").into_bytes();
    }
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD;
    // Encoded words of at most 75 characters (RFC 2047 §2): 45 bytes of
    // UTF-8, cut on character boundaries, encode to 60.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(format!("=?UTF-8?B?{}?=", b64.encode(&chunk)));
            chunk.clear();
        }
        chunk.push(c);
    }
    words.push(format!("=?UTF-8?B?{}?=", b64.encode(&chunk)));
    format!("Subject: {}\r\n", words.join("\r\n ")).into_bytes()
}

/// Base64 in 76-character CRLF lines, as MIME bodies carry it.
pub(crate) fn base64_lines(data: &[u8]) -> Vec<u8> {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD.encode(data);
    let mut out = Vec::with_capacity(text.len() + text.len() / 38 + 2);
    for line in text.as_bytes().chunks(76) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// A fresh MIME boundary: random, and of a shape (`=_`) that base64 and
/// ASCII armor never produce.
pub(crate) fn boundary() -> String {
    format!("=_matterwall_{}", crate::store::new_id())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MSG: &[u8] = b"Received: from x\r\nFrom: a@firm.example\r\nTo: b@client.example,\r\n c@client.example\r\nSubject: Harrowgate\r\nX-Mailer: Outlook\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n\tboundary=\"b1\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n--b1\r\nbody\r\n--b1--\r\n";

    #[test]
    fn inner_is_the_content_part_exactly() {
        let s = split(MSG);
        assert_eq!(
            s.inner_entity(),
            b"Content-Type: multipart/mixed;\r\n\tboundary=\"b1\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n--b1\r\nbody\r\n--b1--\r\n"
        );
    }

    #[test]
    fn outer_keeps_addressing_only() {
        let s = split(MSG);
        assert_eq!(
            s.outer_headers(None, &[]),
            b"From: a@firm.example\r\nTo: b@client.example,\r\n c@client.example\r\nSubject: Harrowgate\r\n"
        );
        let neutral = s.outer_headers(Some("Encrypted message"), &["x-mailer".into()]);
        assert_eq!(
            neutral,
            b"From: a@firm.example\r\nTo: b@client.example,\r\n c@client.example\r\nSubject: Encrypted message\r\nX-Mailer: Outlook\r\n"
        );
    }

    #[test]
    fn exchange_organisation_headers_stay_exactly_on_the_copy() {
        let raw = b"X-MS-Exchange-Organization-AuthAs: Internal\r\nFrom: a@firm.example\r\nx-ms-exchange-organization-network-message-id:\r\n\t0b1c2d3e\r\nX-MS-Exchange-CrossTenant-Id: t\r\n\r\nhi\r\n";
        assert_eq!(
            split(raw).outer_headers(None, &[]),
            b"X-MS-Exchange-Organization-AuthAs: Internal\r\nFrom: a@firm.example\r\nx-ms-exchange-organization-network-message-id:\r\n\t0b1c2d3e\r\n"
        );
    }

    #[test]
    fn neutral_subject_is_added_when_there_was_none_and_encoded_when_not_ascii() {
        let s = split(b"From: a@b.c\r\n\r\nhi\r\n");
        assert_eq!(
            s.outer_headers(Some("Message chiffr\u{e9}"), &[]),
            b"From: a@b.c\r\nSubject: =?UTF-8?B?TWVzc2FnZSBjaGlmZnLDqQ==?=\r\n"
        );
        assert_eq!(s.inner_entity(), b"\r\nhi\r\n");
    }

    #[test]
    fn no_empty_line_means_no_body() {
        let s = split(b"Subject: x\r\nContent-Type: text/plain\r\n");
        assert_eq!(s.inner_entity(), b"Content-Type: text/plain\r\n\r\n");
    }

    #[test]
    fn base64_lines_are_76_wide() {
        let out = base64_lines(&[0u8; 100]);
        let lines: Vec<&[u8]> = out.split(|b| *b == b'\n').collect();
        assert_eq!(lines[0].len(), 77);
        assert!(out.ends_with(b"\r\n"));
    }
}
