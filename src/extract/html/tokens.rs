//! The HTML5 tokenizer states that decide which characters a browser shows
//! side by side: text, tags with their attributes, comments (including the
//! abrupt `<!-->` and `--!>` forms), bogus comments (`<!…>`, `<?…>`, `</1>`,
//! and so `<![CDATA[…]]>` outside SVG/MathML, which ends at its first `>`), and
//! the raw-text elements whose content is never markup (`<style>`, `<script>`…).
//! Anything unterminated at the end of the input is handed back as aside
//! text rather than dropped.

/// Elements whose content is raw text, up to their end tag.
const RAW_TEXT: &[&str] = &[
    "script", "style", "xmp", "iframe", "noembed", "noframes", "noscript",
];
/// Elements whose content is text with character references (RCDATA).
const RCDATA: &[&str] = &["title", "textarea"];

/// A start tag: lower-case name, attributes with values decoded, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tag {
    pub(crate) name: String,
    pub(crate) attributes: Vec<(String, String)>,
}

impl Tag {
    /// The first value of attribute `name` (browsers ignore later duplicates).
    pub(crate) fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Token<'a> {
    /// Character data in the flow (references not yet decoded).
    Text(&'a str),
    /// Text beside the flow: comments, raw-text content, leftovers.
    Aside(String),
    Start(Tag),
    End(String),
}

pub(crate) struct Tokenizer<'a> {
    src: &'a str,
    /// `src` in ASCII lower case (same byte offsets), for end-tag searches.
    lower: String,
    pos: usize,
    /// Inside a raw-text or RCDATA element: its name.
    raw: Option<String>,
}

impl<'a> Tokenizer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Tokenizer {
            src,
            lower: src.to_ascii_lowercase(),
            pos: 0,
            raw: None,
        }
    }

    fn rest(&self) -> &'a str {
        &self.src[self.pos..]
    }

    /// Consumes up to (not including) byte offset `end` and returns it.
    fn take(&mut self, end: usize) -> &'a str {
        let s = &self.src[self.pos..end];
        self.pos = end;
        s
    }

    /// Content of a raw-text element, up to `</name` followed by a delimiter.
    fn raw_text(&mut self, name: &str) -> Token<'a> {
        let needle = format!("</{name}");
        let mut from = self.pos;
        let end = loop {
            match self.lower[from..].find(&needle) {
                Some(i) => {
                    let at = from + i;
                    let next = self.src.as_bytes().get(at + needle.len());
                    if matches!(
                        next,
                        None | Some(b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>')
                    ) {
                        break at;
                    }
                    from = at + needle.len();
                }
                None => break self.src.len(),
            }
        };
        let content = self.take(end);
        if RCDATA.contains(&name) {
            Token::Aside(super::entities::decode(content).into_owned())
        } else {
            Token::Aside(content.to_string())
        }
    }

    /// A comment or bogus comment starting at `<`; `skip` bytes of opener.
    fn bogus_comment(&mut self, skip: usize) -> Token<'a> {
        let body = self.pos + skip;
        let end = self.src[body..]
            .find('>')
            .map_or(self.src.len(), |i| body + i);
        let text = self.src[body..end].to_string();
        self.pos = (end + 1).min(self.src.len());
        Token::Aside(text)
    }

    fn comment(&mut self) -> Token<'a> {
        let body = self.pos + 4;
        let rest = &self.src[body..];
        if rest.starts_with('>') || rest.starts_with("->") {
            // `<!-->` and `<!--->`: empty comments, closed at once.
            self.pos = body + if rest.starts_with('>') { 1 } else { 2 };
            return Token::Aside(String::new());
        }
        let close = [("-->", 3), ("--!>", 4)]
            .iter()
            .filter_map(|(m, len)| rest.find(m).map(|i| (i, *len)))
            .min();
        let (len, skip) = close.unwrap_or((rest.len(), 0));
        self.pos = body + len + skip;
        Token::Aside(rest[..len].to_string())
    }

    /// A start or end tag at `<`; `None` when the input ends inside it.
    fn tag(&mut self, end_tag: bool) -> Option<Token<'a>> {
        let bytes = self.src.as_bytes();
        let mut i = self.pos + if end_tag { 2 } else { 1 };
        let name_start = i;
        while i < bytes.len() && !is_delim(bytes[i]) {
            i += 1;
        }
        let name = self.src[name_start..i].to_ascii_lowercase();
        let (attributes, end) = attributes(self.src, i)?;
        self.pos = end;
        if end_tag {
            return Some(Token::End(name));
        }
        if RAW_TEXT.contains(&name.as_str()) || RCDATA.contains(&name.as_str()) {
            self.raw = Some(name.clone());
        }
        Some(Token::Start(Tag { name, attributes }))
    }
}

impl<'a> Iterator for Tokenizer<'a> {
    type Item = Token<'a>;

    fn next(&mut self) -> Option<Token<'a>> {
        if self.pos >= self.src.len() {
            return None;
        }
        if let Some(name) = self.raw.take() {
            return Some(self.raw_text(&name));
        }
        let rest = self.rest();
        match rest.find('<') {
            Some(0) => {}
            Some(lt) => return Some(Token::Text(self.take(self.pos + lt))),
            None => return Some(Token::Text(self.take(self.src.len()))),
        }
        let next = rest.as_bytes().get(1).copied();
        let token = match next {
            _ if rest.starts_with("<!--") => self.comment(),
            Some(b'!') => self.bogus_comment(2),
            Some(b'?') => self.bogus_comment(1),
            Some(b'/') => match rest.as_bytes().get(2) {
                Some(c) if c.is_ascii_alphabetic() => {
                    self.tag(true).unwrap_or_else(|| self.leftover())
                }
                Some(b'>') => {
                    self.pos += 3;
                    Token::Aside(String::new())
                }
                Some(_) => self.bogus_comment(2),
                None => Token::Text(self.take(self.src.len())),
            },
            Some(c) if c.is_ascii_alphabetic() => {
                self.tag(false).unwrap_or_else(|| self.leftover())
            }
            _ => Token::Text(self.take(self.pos + 1)),
        };
        Some(token)
    }
}

impl Tokenizer<'_> {
    /// A tag cut off by the end of the input: browsers drop it; it is kept aside.
    fn leftover(&mut self) -> Token<'static> {
        let rest = self.rest().to_string();
        self.pos = self.src.len();
        Token::Aside(rest)
    }
}

fn is_delim(b: u8) -> bool {
    matches!(b, b'\t' | b'\n' | b'\x0c' | b'\r' | b' ' | b'/' | b'>')
}

/// Attributes from byte `i` to the tag's `>`: the list and the offset after
/// `>`, or `None` at the end of the input (as the HTML5 attribute states).
fn attributes(src: &str, mut i: usize) -> Option<(Vec<(String, String)>, usize)> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        if *bytes.get(i)? == b'>' {
            return Some((out, i + 1));
        }
        let start = i;
        i += 1; // the first character may be `=`
        while i < bytes.len() && !is_delim(bytes[i]) && bytes[i] != b'=' {
            i += 1;
        }
        let name = src[start..i].to_ascii_lowercase();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if bytes.get(i) == Some(&b'=') {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            let (v, next) = attribute_value(src, i)?;
            value = super::entities::decode(v).into_owned();
            i = next;
        }
        out.push((name, value));
    }
}

/// A quoted or unquoted value at `i`: the raw value and the offset after it.
fn attribute_value(src: &str, i: usize) -> Option<(&str, usize)> {
    let bytes = src.as_bytes();
    match bytes.get(i)? {
        q @ (b'"' | b'\'') => {
            let end = src[i + 1..].find(*q as char)? + i + 1;
            Some((&src[i + 1..end], end + 1))
        }
        _ => {
            let mut end = i;
            while end < bytes.len() && !bytes[end].is_ascii_whitespace() && bytes[end] != b'>' {
                end += 1;
            }
            Some((&src[i..end], end))
        }
    }
}
