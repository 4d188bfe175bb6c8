//! The text of an XML part, for the readers that meet XML: OOXML and ODF
//! packages ([`super::office`]) and PDF metadata streams ([`super::pdf`]).
//! `quick-xml` reads it: it expands no entities and no DTD, so there is no
//! XML bomb to defuse.

use quick_xml::escape::unescape;
use quick_xml::events::{BytesStart, Event};

/// Elements that end a line of text: paragraphs, headings, cells, rows,
/// shared strings, list items.
const BLOCK: &[&[u8]] = &[
    b"p",
    b"h",
    b"tc",
    b"tr",
    b"c",
    b"row",
    b"si",
    b"table-cell",
    b"table-row",
    b"list-item",
    b"comment",
    b"note",
    b"annotation",
];

/// Empty elements that stand for whitespace.
const SPACE: &[&[u8]] = &[b"tab", b"s", b"br", b"cr", b"line-break"];

/// Attributes that carry document text: sheet names (`<sheet name=…>` in
/// XLSX, `table:name` in ODS).
const TEXT_ATTRS: &[&[u8]] = &[b"name"];

/// The text of one XML part; a malformed part yields the text read so far
/// (a reader that gives up on bad XML would let a broken tag hide a name).
pub(crate) fn xml_text(xml: &[u8]) -> String {
    // quick-xml reads UTF-8 only and stops at the first bad byte, which
    // would let one stray byte hide the rest of a document: bad bytes become
    // U+FFFD first, as the text of a part always was read.
    let xml = String::from_utf8_lossy(xml);
    let mut reader = quick_xml::Reader::from_str(&xml);
    // A lone `&` (`AT&T`) is text, not the end of the part.
    reader.config_mut().allow_dangling_amp = true;
    let mut state = State::default();
    // The raw text between two tags: quick-xml hands it over in pieces,
    // cut at each `&…;` reference.
    let mut raw = String::new();
    loop {
        let event = reader.read_event();
        match &event {
            Ok(Event::Text(t)) => raw.push_str(t),
            Ok(Event::GeneralRef(r)) => {
                raw.push('&');
                raw.push_str(r);
                raw.push(';');
            }
            _ => state.text(&take_text(&mut raw)),
        }
        match event {
            Ok(Event::Start(e)) => state.start(&e, false),
            Ok(Event::Empty(e)) => state.start(&e, true),
            Ok(Event::End(e)) => state.end(e.local_name().as_ref().as_bytes()),
            Ok(Event::CData(t)) => state.text(&t),
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    state.out
}

/// The text gathered so far with its references resolved; one that cannot
/// be (`&nbsp;`, a bad `&#…;`) leaves the whole run as written, so nothing
/// is dropped.
fn take_text(raw: &mut String) -> String {
    let text = match unescape(raw) {
        Ok(text) => text.into_owned(),
        Err(_) => raw.clone(),
    };
    raw.clear();
    text
}

#[derive(Default)]
struct State {
    out: String,
    depth: usize,
    /// Inside a spreadsheet cell whose value is a shared-string index.
    shared_cell: bool,
    in_value: bool,
}

impl State {
    fn start(&mut self, e: &BytesStart, empty: bool) {
        let name = e.local_name();
        let name = name.as_ref().as_bytes();
        match name {
            b"c" => self.shared_cell = has_attr(e, b"t", b"s"),
            b"v" => self.in_value = !empty,
            _ => {}
        }
        for attr in attributes(e) {
            let key = attr.key.local_name();
            if TEXT_ATTRS.contains(&key.as_ref().as_bytes()) && is_sheet_or_table(name) {
                if let Ok(v) = unescape(&attr.value) {
                    self.out.push_str(&v);
                    self.out.push('\n');
                }
            }
        }
        if empty {
            if SPACE.contains(&name) {
                self.out.push(' ');
            } else if name == b"noBreakHyphen" {
                self.out.push('-'); // Word's non-breaking hyphen: 2024<hyphen>0117
            }
        } else {
            self.depth += 1;
        }
    }

    fn end(&mut self, name: &[u8]) {
        self.depth = self.depth.saturating_sub(1);
        if name == b"v" {
            self.in_value = false;
        }
        // Children and grandchildren of the root are fields: docProps/core.xml
        // (`dc:title` under the root), ODF meta.xml (under `office:meta`).
        if BLOCK.contains(&name) || self.depth <= 2 {
            self.out.push('\n');
        }
    }

    fn text(&mut self, text: &str) {
        if !(self.in_value && self.shared_cell) {
            self.out.push_str(text);
        }
    }
}

fn is_sheet_or_table(name: &[u8]) -> bool {
    name == b"sheet" || name == b"table"
}

fn has_attr(e: &BytesStart, key: &[u8], value: &[u8]) -> bool {
    attributes(e).any(|a| a.key.as_ref().as_bytes() == key && a.value.as_bytes() == value)
}

/// A tag's attributes, duplicates included: a repeated `name=` must not hide
/// a sheet name. (The check also cost time quadratic in the attribute count
/// before quick-xml 0.41, RUSTSEC-2026-0194; the scan-time budget is only
/// checked between events.)
fn attributes<'a>(
    e: &'a BytesStart<'a>,
) -> impl Iterator<Item = quick_xml::events::attributes::Attribute<'a>> + 'a {
    let mut attributes = e.attributes();
    attributes.with_checks(false);
    attributes.flatten()
}
