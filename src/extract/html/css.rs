//! Just enough CSS to know what a browser hides or runs inline: the
//! `display` and `visibility` of a `style` attribute, and the simple selectors
//! (`tag`, `.class`, `#id` and their compounds) of `<style>` rules that set them.
//!
//! It errs towards "hidden" and "inline" (a pseudo-class or attribute
//! selector is ignored, so `span[x]` counts as `span`): the cost is only that
//! the visible view drops or joins a little more, while the layout and aside
//! views still carry every character.

use super::tokens::Tag;

/// `display`/`visibility` as a declaration list sets them (last one wins).
#[derive(Debug, Default)]
struct Display {
    display: Option<String>,
    visibility: Option<String>,
}

fn declarations(style: &str) -> Display {
    let mut d = Display::default();
    for decl in style.split(';') {
        let Some((prop, value)) = decl.split_once(':') else {
            continue;
        };
        let value = value
            .trim()
            .trim_end_matches("!important")
            .trim()
            .to_ascii_lowercase();
        match prop.trim().to_ascii_lowercase().as_str() {
            "display" => d.display = Some(value),
            "visibility" => d.visibility = Some(value),
            _ => {}
        }
    }
    d
}

impl Display {
    fn hidden(&self) -> bool {
        self.display.as_deref() == Some("none")
            || matches!(self.visibility.as_deref(), Some("hidden" | "collapse"))
    }
}

/// `Some(true)` when a `style` attribute hides its element, `Some(false)`
/// when it sets a visible `display` (which overrides the `hidden` attribute),
/// `None` when it says nothing about either.
pub(crate) fn hides(style: &str) -> Option<bool> {
    let d = declarations(style);
    if d.hidden() {
        Some(true)
    } else if d.display.is_some() {
        Some(false)
    } else {
        None
    }
}

/// The `display` a `style` attribute sets, if any.
pub(crate) fn inline_display(style: &str) -> Option<String> {
    declarations(style).display
}

/// One compound selector: every part given must match.
#[derive(Debug, Default, PartialEq, Eq)]
struct Selector {
    tag: Option<String>,
    id: Option<String>,
    classes: Vec<String>,
}

impl Selector {
    fn parse(compound: &str) -> Option<Selector> {
        // Drop pseudo-classes and attribute selectors (see the module doc).
        let base: String = compound
            .split([':', '['])
            .next()
            .unwrap_or("")
            .to_ascii_lowercase();
        let mut sel = Selector::default();
        let mut parts = base.split_inclusive(['.', '#']).peekable();
        let mut kind = ' ';
        let mut first = true;
        for piece in parts.by_ref() {
            let (word, next) = match piece.chars().last() {
                Some(c @ ('.' | '#')) => (&piece[..piece.len() - 1], c),
                _ => (piece, ' '),
            };
            match (kind, first) {
                (_, true) if !word.is_empty() && word != "*" => sel.tag = Some(word.into()),
                ('.', _) if !word.is_empty() => sel.classes.push(word.into()),
                ('#', _) if !word.is_empty() => sel.id = Some(word.into()),
                _ => {}
            }
            first = false;
            kind = next;
        }
        (sel != Selector::default()).then_some(sel)
    }

    fn matches(&self, tag: &Tag) -> bool {
        let classes: Vec<String> = tag
            .attr("class")
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect();
        self.tag.as_ref().is_none_or(|t| *t == tag.name)
            && self
                .id
                .as_ref()
                .is_none_or(|id| tag.attr("id").is_some_and(|v| v.eq_ignore_ascii_case(id)))
            && self.classes.iter().all(|c| classes.contains(c))
    }
}

/// Selectors kept per document; real mail has a few dozen that hide or
/// inline anything, and each start tag is checked against all of them.
const MAX_SELECTORS: usize = 512;

/// The `<style>` rules of one document that hide elements or make them inline.
#[derive(Debug, Default)]
pub(crate) struct StyleRules {
    hidden: Vec<Selector>,
    inline: Vec<Selector>,
}

impl StyleRules {
    pub(crate) fn from_document(html: &str) -> Self {
        let mut rules = StyleRules::default();
        let lower = html.to_ascii_lowercase();
        let mut from = 0;
        while let Some(open) = lower[from..].find("<style").map(|i| i + from) {
            let Some(body) = lower[open..].find('>').map(|i| open + i + 1) else {
                break;
            };
            let end = lower[body..]
                .find("</style")
                .map_or(html.len(), |i| body + i);
            rules.add_sheet(&html[body..end]);
            from = end;
        }
        rules
    }

    fn add_sheet(&mut self, sheet: &str) {
        let sheet = strip_comments(sheet);
        for block in sheet.split('}') {
            let Some((head, decls)) = block.rsplit_once('{') else {
                continue;
            };
            let selectors = head.rsplit('{').next().unwrap_or(head);
            let d = declarations(decls);
            let inline = d
                .display
                .as_deref()
                .is_some_and(|v| v.starts_with("inline") || v == "contents");
            for selector in selectors.split(',') {
                // The element matched is the last compound of a complex selector.
                let last = selector
                    .rsplit(|c: char| c.is_whitespace() || matches!(c, '>' | '+' | '~'))
                    .find(|s| !s.is_empty());
                let Some(sel) = last.and_then(Selector::parse) else {
                    continue;
                };
                // Bounded: every start tag is matched against every selector.
                if self.hidden.len() + self.inline.len() >= MAX_SELECTORS {
                    return;
                }
                if d.hidden() {
                    self.hidden.push(sel);
                } else if inline {
                    self.inline.push(sel);
                }
            }
        }
    }

    pub(crate) fn hides(&self, tag: &Tag) -> bool {
        self.hidden.iter().any(|s| s.matches(tag))
    }

    pub(crate) fn makes_inline(&self, tag: &Tag) -> bool {
        self.inline.iter().any(|s| s.matches(tag))
    }
}

fn strip_comments(css: &str) -> String {
    let mut out = String::with_capacity(css.len());
    let mut rest = css;
    while let Some(i) = rest.find("/*") {
        out.push_str(&rest[..i]);
        rest = rest[i + 2..]
            .find("*/")
            .map_or("", |j| &rest[i + 2 + j + 2..]);
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(name: &str, attrs: &[(&str, &str)]) -> Tag {
        Tag {
            name: name.into(),
            attributes: attrs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        }
    }

    #[test]
    fn style_attributes() {
        assert_eq!(hides("display:none"), Some(true));
        assert_eq!(
            hides("color:red; VISIBILITY : hidden !important"),
            Some(true)
        );
        assert_eq!(hides("display:none; display:block"), Some(false));
        assert_eq!(hides("font-size:0"), None);
    }

    #[test]
    fn sheets_hide_and_inline_by_selector() {
        let rules = StyleRules::from_document(
            "<STYLE>/* x */ .a, div#b > span.c:hover { display : none } \
             @media screen { p.i { display:inline-block } } [x] {}</style>",
        );
        assert!(rules.hides(&tag("span", &[("class", "z A")])));
        assert!(rules.hides(&tag("span", &[("class", "c")])));
        assert!(!rules.hides(&tag("b", &[("class", "c")])));
        assert!(rules.makes_inline(&tag("p", &[("class", "i")])));
        assert!(!rules.makes_inline(&tag("p", &[])));
    }
}
