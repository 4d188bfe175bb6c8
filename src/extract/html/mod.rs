//! HTML to text the way a browser lays it out, for scanning.
//!
//! A small tokenizer that follows the HTML5 tokenization rules where they
//! decide which characters end up next to each other (comments, bogus
//! comments such as `<![CDATA[]]>` and `<?x>`, raw-text elements such as
//! `<style>` and `<script>`, attribute quoting), rather than a DOM: the goal is
//! every piece of text, placed as the recipient sees it, and it must never fail.
//!
//! One markup gives several texts ([`HtmlText`]), all scanned:
//!
//! * **layout**: the body text with inline tags joining words (`Harrow<b>gate`
//!   reads `Harrowgate`) and block tags separating them; text hidden by CSS
//!   stays in place (it was sent, and a reader without CSS shows it);
//! * **visible**: the same without elements a browser does not render
//!   (`display:none`, `visibility:hidden`, the `hidden` attribute, `<template>`),
//!   so that `Harrow<span hidden>x</span>gate` reads `Harrowgate` as in a browser;
//! * **asides**: text that was sent but is not part of the flow, each piece on
//!   its own line so it neither splits a word nor glues onto one: comments,
//!   `<style>`/`<script>` content, `<title>`, hidden elements, and the
//!   attributes a person may read (`alt`, `title`, …).
//!
//! Which classes, ids and tags a `<style>` block hides or makes inline is read
//! by [`css`]; character references, including the legacy forms browsers accept
//! without a `;`, by [`entities`].

pub(crate) mod css;
pub(crate) mod entities;
mod tokens;

use css::StyleRules;
use tokens::{Tag, Token, Tokenizer};

/// Tags that start a new line (or cell) in a browser's rendering, so the
/// words on either side do not run together.
const BLOCK_TAGS: &[&str] = &[
    "address",
    "article",
    "aside",
    "blockquote",
    "body",
    "br",
    "caption",
    "center",
    "dd",
    "details",
    "dialog",
    "dir",
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
    "hgroup",
    "hr",
    "html",
    "legend",
    "li",
    "listing",
    "main",
    "menu",
    "nav",
    "ol",
    "option",
    "p",
    "pre",
    "section",
    "summary",
    "table",
    "tbody",
    "td",
    "tfoot",
    "th",
    "thead",
    "tr",
    "ul",
];

/// `display` values that start a new line (`none`, `contents` and the
/// `inline` family do not; anything else is invalid and ignored).
const BLOCK_DISPLAYS: &[&str] = &["block", "list-item", "table", "flex", "grid", "flow-root"];

/// Elements with no content and no end tag.
const VOID_TAGS: &[&str] = &[
    "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
    "track", "wbr",
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

/// The texts of one HTML document (see the module doc).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct HtmlText {
    pub(crate) layout: String,
    pub(crate) visible: String,
    pub(crate) asides: String,
}

impl HtmlText {
    /// The distinct non-empty texts, layout first.
    pub(crate) fn views(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::with_capacity(3);
        for t in [&self.layout, &self.visible, &self.asides] {
            if !t.trim().is_empty() && !out.contains(&t.as_str()) {
                out.push(t);
            }
        }
        out
    }
}

/// All the texts of `html` in one string, one view per line block: for
/// callers that keep one segment per document (the layout view comes first).
pub(crate) fn to_text(html: &str) -> String {
    parse(html).views().join("\n")
}

/// Reads `html` into its layout, visible and aside texts.
pub(crate) fn parse(html: &str) -> HtmlText {
    let rules = StyleRules::from_document(html);
    let mut b = Builder::default();
    for token in Tokenizer::new(html) {
        match token {
            Token::Text(t) => b.text(&entities::decode(t)),
            Token::Aside(t) => b.aside(&t),
            Token::Start(tag) => b.start(&tag, &rules),
            Token::End(name) => b.end(&name),
        }
    }
    b.out
}

/// Builds the three texts as tokens arrive.
#[derive(Default)]
struct Builder {
    out: HtmlText,
    /// The element that hid the text (name, open count of that name).
    hidden: Option<(String, usize)>,
    /// Open elements and whether each breaks words, so that an end tag
    /// breaks only where its start tag did (a stray `</div>` does not).
    open: Vec<(String, bool)>,
    /// How many of each name are in `open`: a stray end tag is told without
    /// a scan, so hostile markup stays linear.
    open_names: std::collections::HashMap<String, usize>,
}

impl Builder {
    fn text(&mut self, t: &str) {
        self.out.layout.push_str(t);
        if self.hidden.is_some() {
            self.out.asides.push_str(t);
        } else {
            self.out.visible.push_str(t);
        }
    }

    /// Text beside the flow, on a line of its own.
    fn aside(&mut self, t: &str) {
        if !t.trim().is_empty() {
            self.out.asides.push_str(t);
            self.out.asides.push('\n');
        }
    }

    fn separate(&mut self) {
        self.out.layout.push(' ');
        if self.hidden.is_some() {
            self.out.asides.push('\n');
        } else {
            self.out.visible.push(' ');
        }
    }

    fn start(&mut self, tag: &Tag, rules: &StyleRules) {
        for (name, value) in &tag.attributes {
            if TEXT_ATTRIBUTES.contains(&name.as_str()) {
                self.aside(value);
            }
        }
        let block = is_block(tag, rules);
        if block {
            self.separate();
        }
        let void = VOID_TAGS.contains(&tag.name.as_str());
        if !void && self.open.len() < 4096 {
            self.open.push((tag.name.clone(), block));
            *self.open_names.entry(tag.name.clone()).or_default() += 1;
        }
        match &mut self.hidden {
            Some((name, open)) if *name == tag.name && !void => *open += 1,
            Some(_) => {}
            None if !void && is_hidden(tag, rules) => {
                self.hidden = Some((tag.name.clone(), 1));
                self.out.asides.push('\n');
            }
            None => {}
        }
    }

    fn end(&mut self, name: &str) {
        if let Some((hidden, open)) = &mut self.hidden {
            if hidden == name {
                *open -= 1;
                if *open == 0 {
                    self.hidden = None;
                    self.out.asides.push('\n');
                }
            }
        }
        let is_open = self.open_names.get(name).is_some_and(|&n| n > 0);
        let at = if is_open {
            self.open.iter().rposition(|(n, _)| n == name)
        } else {
            None
        };
        let block = match at {
            Some(at) => {
                let block = self.open[at].1;
                for (closed, _) in self.open.drain(at..) {
                    if let Some(n) = self.open_names.get_mut(&closed) {
                        *n -= 1;
                    }
                }
                block
            }
            // A stray `</p>` or `</br>` still makes a paragraph or a break.
            None => matches!(name, "p" | "br"),
        };
        if block {
            self.separate();
        }
    }
}

/// A block element breaks words unless its style makes it inline.
fn is_block(tag: &Tag, rules: &StyleRules) -> bool {
    // An unknown value is ignored by browsers, leaving the tag's default.
    match tag.attr("style").and_then(css::inline_display).as_deref() {
        Some(d) if d.starts_with("inline") || matches!(d, "contents" | "none") => return false,
        Some(d) if BLOCK_DISPLAYS.iter().any(|b| d.starts_with(b)) => return true,
        _ => {}
    }
    BLOCK_TAGS.contains(&tag.name.as_str()) && !rules.makes_inline(tag)
}

/// An element a browser does not render (its text is not in `innerText`).
fn is_hidden(tag: &Tag, rules: &StyleRules) -> bool {
    if tag.name == "template" {
        return true;
    }
    if let Some(style) = tag.attr("style") {
        if let Some(hidden) = css::hides(style) {
            return hidden;
        }
    }
    tag.attr("hidden").is_some() || rules.hides(tag)
}

#[cfg(test)]
mod tests;
