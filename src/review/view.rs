//! A held message as the reviewer sees it: headers, the body as plain text,
//! the attachments, and each match's snippet split around the matched words.
//! Everything here is plain data for the templates, which escape it all;
//! nothing in a held message is ever passed through as markup.

use crate::detect::Match;
use mail_parser::{Address, MessageParser, MessagePart, MimeHeaders};

/// The body shown on the page is cut here (the raw message is still whole
/// in the store); a reviewer needs to read, not to scroll a megabyte.
pub(crate) const MAX_BODY_CHARS: usize = 100_000;

#[derive(Debug, Default)]
pub(crate) struct Parsed {
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: String,
    pub(crate) body_truncated: bool,
    pub(crate) attachments: Vec<AttachmentView>,
}

#[derive(Debug, Clone)]
pub(crate) struct AttachmentView {
    pub(crate) index: usize,
    pub(crate) name: String,
    pub(crate) content_type: String,
    pub(crate) size: usize,
}

fn addresses(a: Option<&Address<'_>>) -> String {
    a.map(|a| {
        a.iter()
            .map(|x| match (x.name(), x.address()) {
                (Some(n), Some(ad)) => format!("{n} <{ad}>"),
                (None, Some(ad)) => ad.to_string(),
                (Some(n), None) => n.to_string(),
                (None, None) => String::new(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    })
    .unwrap_or_default()
}

fn content_type(p: &MessagePart<'_>) -> String {
    match p.content_type() {
        Some(ct) => match ct.subtype() {
            Some(sub) => format!("{}/{}", ct.ctype(), sub),
            None => ct.ctype().to_string(),
        },
        None => "application/octet-stream".into(),
    }
}

/// Parses for display; a parser panic on hostile input shows an empty view
/// (the verdict and matches, from the store, still show).
pub(crate) fn parse(raw: &[u8]) -> Parsed {
    std::panic::catch_unwind(|| parse_inner(raw)).unwrap_or_default()
}

fn parse_inner(raw: &[u8]) -> Parsed {
    let Some(msg) = MessageParser::default().parse(raw) else {
        return Parsed::default();
    };
    let headers = vec![
        ("From", addresses(msg.from())),
        ("To", addresses(msg.to())),
        ("Cc", addresses(msg.cc())),
        ("Subject", msg.subject().unwrap_or("").to_string()),
        (
            "Date",
            msg.date().map(|d| d.to_rfc3339()).unwrap_or_default(),
        ),
    ];
    let text: String = (0..msg.text_body_count())
        .filter_map(|i| msg.body_text(i))
        .collect::<Vec<_>>()
        .join("\n\n");
    let body_truncated = text.chars().count() > MAX_BODY_CHARS;
    let body = text.chars().take(MAX_BODY_CHARS).collect();
    let attachments = msg
        .attachments()
        .enumerate()
        .map(|(index, p)| AttachmentView {
            index,
            name: p
                .attachment_name()
                .map(str::to_string)
                .unwrap_or_else(|| format!("attachment-{}", index + 1)),
            content_type: content_type(p),
            size: p.contents().len(),
        })
        .collect();
    Parsed {
        headers: headers.into_iter().filter(|(_, v)| !v.is_empty()).collect(),
        body,
        body_truncated,
        attachments,
    }
}

/// The `index`th attachment's name and decoded bytes.
pub(crate) fn attachment(raw: &[u8], index: usize) -> Option<(String, Vec<u8>)> {
    std::panic::catch_unwind(|| {
        let msg = MessageParser::default().parse(raw)?;
        let p = msg.attachments().nth(index)?;
        let name = p
            .attachment_name()
            .map(str::to_string)
            .unwrap_or_else(|| format!("attachment-{}", index + 1));
        Some((name, p.contents().to_vec()))
    })
    .ok()
    .flatten()
}

/// A file name safe in a `Content-Disposition` header: printable ASCII
/// without quotes, backslashes, separators or leading dots; everything else
/// becomes `_`. The UTF-8 original goes in `filename*` (RFC 6266),
/// percent-encoded, so nothing in it can end the header or add a field.
pub(crate) fn content_disposition(name: &str) -> String {
    let mut ascii: String = name
        .chars()
        .take(150)
        .map(|c| match c {
            ' '..='~' if !"\"\\/;:%*?<>|".contains(c) => c,
            _ => '_',
        })
        .collect();
    ascii = ascii.trim_start_matches(['.', ' ']).to_string();
    if ascii.is_empty() {
        ascii = "attachment".into();
    }
    let encoded: String = name
        .chars()
        .take(150)
        .collect::<String>()
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// One match for the page: the snippet split around the matched words.
#[derive(Debug, Clone, Default)]
pub(crate) struct MatchView {
    pub(crate) kind: String,
    pub(crate) id: String,
    /// The client's name or the matter's description, from the dictionary.
    pub(crate) label: String,
    pub(crate) location: String,
    pub(crate) before: String,
    pub(crate) mark: String,
    pub(crate) after: String,
}

/// Splits `snippet` at the first occurrence of `text` (whitespace runs in
/// `text` collapsed, as the snippet's are). When it is not found, the whole
/// snippet comes first and the text is marked after it.
pub(crate) fn highlight(snippet: &str, text: &str) -> (String, String, String) {
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match snippet.find(&text).filter(|_| !text.is_empty()) {
        Some(at) => (
            snippet[..at].to_string(),
            text.clone(),
            snippet[at + text.len()..].to_string(),
        ),
        None => (format!("{snippet} — "), text, String::new()),
    }
}

/// The matches in a stored verdict, ready for the page.
pub(crate) fn matches(found: &[Match], label: impl Fn(&str, &str) -> String) -> Vec<MatchView> {
    found
        .iter()
        .map(|m| {
            let (before, mark, after) = highlight(&m.snippet, &m.text);
            MatchView {
                label: label(&m.kind, &m.id),
                kind: m.kind.clone(),
                id: m.id.clone(),
                location: m.location.clone(),
                before,
                mark,
                after,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highlight_splits_or_falls_back() {
        let (b, m, a) = highlight(
            "for Harrowgate Shipping in matter",
            "Harrowgate\n  Shipping",
        );
        assert_eq!(
            (b.as_str(), m.as_str(), a.as_str()),
            ("for ", "Harrowgate Shipping", " in matter")
        );
        let (b, m, a) = highlight("nothing here", "x");
        assert_eq!(
            (b.as_str(), m.as_str(), a.as_str()),
            ("nothing here — ", "x", "")
        );
    }

    #[test]
    fn disposition_is_inert() {
        let d = content_disposition("..\\evil\"; filename=x.html\r\nSet-Cookie: a=b<script>.pdf");
        assert!(d.starts_with("attachment; filename=\"_evil_"), "{d}");
        assert!(!d.contains('\r') && !d.contains('\n'));
        let quoted = d.split('"').nth(1).unwrap();
        assert!(!quoted.contains(';') && !quoted.contains('<'));
        assert!(d.ends_with("filename*=UTF-8''..%5Cevil%22%3B%20filename%3Dx.html%0D%0ASet-Cookie%3A%20a%3Db%3Cscript%3E.pdf"));
        assert_eq!(
            content_disposition("bréf.pdf"),
            "attachment; filename=\"br_f.pdf\"; filename*=UTF-8''br%C3%A9f.pdf"
        );
        assert!(content_disposition("").contains("filename=\"attachment\""));
    }

    #[test]
    fn parses_body_and_attachments() {
        let raw = b"From: \"<b>Eve</b>\" <e@x.example>\r\nSubject: <script>x</script>\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\nhello <img src=x onerror=alert(1)>\r\n--b\r\n\
Content-Type: application/pdf; name=\"a<b>.pdf\"\r\nContent-Disposition: attachment; filename=\"a<b>.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--b--\r\n";
        let p = parse(raw);
        assert!(p.body.contains("<img src=x onerror=alert(1)>"));
        assert_eq!(
            p.headers[0],
            ("From", "<b>Eve</b> <e@x.example>".to_string())
        );
        assert_eq!(p.attachments.len(), 1);
        assert_eq!(p.attachments[0].name, "a<b>.pdf");
        let (name, bytes) = attachment(raw, 0).unwrap();
        assert_eq!(
            (name.as_str(), bytes.as_slice()),
            ("a<b>.pdf", &b"%PDF-1.4\n"[..])
        );
        assert!(attachment(raw, 1).is_none());
    }
}
