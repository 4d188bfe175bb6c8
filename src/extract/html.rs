//! HTML to text for scanning. Tags are dropped (inline tags without a space,
//! so `Harrow<b>gate</b>` reads `Harrowgate`; block tags become a space),
//! entities are decoded, and text a reader may not see but a recipient still
//! receives is kept: comments, `display:none` text, `alt`, `title`, `value`
//! and `placeholder` attributes. A small tokenizer rather than an HTML5 parser:
//! the goal is every piece of text, not a DOM, and it must never fail.

/// Tags after which the words on either side do not run together.
const BLOCK_TAGS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "br",
    "dd",
    "div",
    "dl",
    "dt",
    "fieldset",
    "figcaption",
    "figure",
    "footer",
    "form",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "head",
    "header",
    "hr",
    "li",
    "main",
    "nav",
    "ol",
    "option",
    "p",
    "pre",
    "section",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "title",
    "tr",
    "ul",
    "body",
    "html",
    "img",
    "input",
    "textarea",
    "select",
];

/// Attributes whose values are text a person may read.
const TEXT_ATTRIBUTES: &[&str] = &[
    "alt",
    "title",
    "value",
    "placeholder",
    "aria-label",
    "label",
    "summary",
];

pub fn to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut text = String::new();
    let mut rest = html;
    while let Some(lt) = rest.find('<') {
        text.push_str(&rest[..lt]);
        rest = &rest[lt..];
        if let Some(body) = rest.strip_prefix("<!--") {
            let end = body.find("-->").unwrap_or(body.len());
            text.push(' ');
            text.push_str(&body[..end]);
            text.push(' ');
            rest = body.get(end + 3..).unwrap_or("");
            continue;
        }
        let Some(gt) = tag_end(rest) else {
            // An unterminated `<` is text, as browsers show it.
            text.push_str(rest);
            rest = "";
            break;
        };
        let tag = &rest[1..gt];
        rest = &rest[gt + 1..];
        let name = tag_name(tag);
        if name.is_empty() {
            text.push('<');
            text.push_str(tag);
            text.push('>');
            continue;
        }
        let attributes = attribute_text(tag);
        if BLOCK_TAGS.contains(&name.as_str()) || !attributes.is_empty() {
            flush(&mut out, &mut text);
            out.push(' ');
            if !attributes.is_empty() {
                out.push_str(&attributes);
                out.push(' ');
            }
        }
    }
    text.push_str(rest);
    flush(&mut out, &mut text);
    out
}

fn flush(out: &mut String, text: &mut String) {
    out.push_str(&html_escape::decode_html_entities(text));
    text.clear();
}

/// The `>` that closes the tag starting at `s[0] == '<'`, skipping quoted values.
fn tag_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return Some(i),
            _ => {}
        }
    }
    None
}

fn tag_name(tag: &str) -> String {
    tag.trim_start_matches('/')
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_ascii_lowercase()
}

/// The values of text-bearing attributes, entity-decoded, space-separated.
fn attribute_text(tag: &str) -> String {
    let mut found = Vec::new();
    let lower = tag.to_ascii_lowercase();
    for attr in TEXT_ATTRIBUTES {
        let mut from = 0;
        while let Some(pos) = lower[from..].find(attr).map(|p| p + from) {
            from = pos + attr.len();
            let before_ok = pos == 0 || lower.as_bytes()[pos - 1].is_ascii_whitespace();
            let after = lower[from..].trim_start();
            if !before_ok || !after.starts_with('=') {
                continue;
            }
            let value_at = tag.len() - after.len() + 1;
            let value = tag[value_at..].trim_start();
            let v = match value.chars().next() {
                Some(q @ ('"' | '\'')) => value[1..].split(q).next().unwrap_or(""),
                _ => value
                    .split(|c: char| c.is_whitespace() || c == '>')
                    .next()
                    .unwrap_or(""),
            };
            found.push(html_escape::decode_html_entities(v).into_owned());
        }
    }
    found.join(" ")
}

#[cfg(test)]
mod tests {
    use super::to_text;

    #[test]
    fn table() {
        let cases = [
            (
                "<p>Re: <b>Corz</b>en&nbsp;Holdings</p>",
                "Corzen\u{a0}Holdings",
            ),
            ("Harrow<b>gate</b>", "Harrowgate"),
            ("&#83;&#69;&#67;", "SEC"),
            ("<img alt=\"Acme Corp logo\" src=x>", "Acme Corp logo"),
            (
                "<span style=\"display:none\">Hidden Name</span>",
                "Hidden Name",
            ),
            ("<!-- secret Acme --><p>x</p>", "secret Acme"),
            ("a<br>b", "a b"),
            ("5 < 6 and x", "5 < 6 and x"),
        ];
        for (html, want) in cases {
            let got = to_text(html);
            assert!(got.contains(want), "{html:?} gave {got:?}");
        }
    }
}
