//! The text of an XML part, for the readers that meet XML: OOXML and ODF
//! packages ([`super::office`]) and PDF metadata streams ([`super::pdf`]).
//! `quick-xml` reads it: it expands no entities and no DTD, so there is no
//! XML bomb to defuse.

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
pub fn xml_text(xml: &[u8]) -> String {
    let mut reader = quick_xml::Reader::from_reader(xml);
    let mut state = State::default();
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => state.start(&e, false),
            Ok(Event::Empty(e)) => state.start(&e, true),
            Ok(Event::End(e)) => state.end(e.local_name().as_ref()),
            Ok(Event::Text(t)) => {
                let text = t
                    .unescape()
                    .map(|c| c.into_owned())
                    .unwrap_or_else(|_| String::from_utf8_lossy(&t).into_owned());
                state.text(&text);
            }
            Ok(Event::CData(t)) => state.text(&String::from_utf8_lossy(&t)),
            Ok(Event::Eof) | Err(_) => break,
            Ok(_) => {}
        }
    }
    state.out
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
        let name = name.as_ref();
        match name {
            b"c" => self.shared_cell = has_attr(e, b"t", b"s"),
            b"v" => self.in_value = !empty,
            _ => {}
        }
        for attr in attributes(e) {
            if TEXT_ATTRS.contains(&attr.key.local_name().as_ref()) && is_sheet_or_table(name) {
                if let Ok(v) = attr.unescape_value() {
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
    attributes(e).any(|a| a.key.as_ref() == key && a.value.as_ref() == value)
}

/// A tag's attributes, duplicates included: quick-xml's duplicate-name check
/// is quadratic in the attribute count (RUSTSEC-2026-0194, fixed in 0.41), so
/// one crafted tag could outrun the scan-time budget, which is only checked
/// between events; and a repeated `name=` must not hide a sheet name.
fn attributes<'a>(
    e: &'a BytesStart<'a>,
) -> impl Iterator<Item = quick_xml::events::attributes::Attribute<'a>> + 'a {
    let mut attributes = e.attributes();
    attributes.with_checks(false);
    attributes.flatten()
}
