//! Office documents that are ZIP packages: OOXML (DOCX, XLSX, PPTX) and ODF
//! (ODT, ODS, ODP). The text of every content part is joined into one
//! segment at the document's location, so a name split across parts or runs
//! is still found.
//!
//! Rather than a list of the parts that hold text (which misses comments,
//! tracked deletions `w:delText`, footnotes, headers, notes, charts, custom
//! XML…), every XML part is read except those known to hold only layout
//! (styles, themes, masters, relationships). Runs inside a paragraph are
//! joined without a space (Word splits words across runs); paragraphs, cells
//! and rows end with a newline. `quick-xml` reads the XML: it expands no
//! entities and no DTD, so there is no XML bomb to defuse. Other members
//! (embedded workbooks, OLE objects, PDFs) are read as attachments.
//!
//! Password-protected OOXML is not a ZIP but an OLE file (see [`super::ole`]);
//! an encrypted ODF package declares `encryption-data` in its manifest.

use super::archive::zip_member;
use super::{read_member, sniff, Ctx, Kind};
use quick_xml::events::{BytesStart, Event};
use std::io::{Read, Seek};

/// True for an OOXML or ODF package.
pub fn is_office<R: Read + Seek>(archive: &zip::ZipArchive<R>) -> bool {
    archive.index_for_name("[Content_Types].xml").is_some() || is_odf(archive)
}

fn is_odf<R: Read + Seek>(archive: &zip::ZipArchive<R>) -> bool {
    archive.index_for_name("META-INF/manifest.xml").is_some()
        && archive.index_for_name("content.xml").is_some()
}

/// Reads every content part of the package at `loc`.
pub fn read<R: Read + Seek>(
    ctx: &mut Ctx,
    loc: &str,
    archive: &mut zip::ZipArchive<R>,
    depth: usize,
) {
    let odf = is_odf(archive);
    let mut text = String::new();
    for i in 0..archive.len() {
        if ctx.out_of_time(loc) {
            break;
        }
        let Some((name, data)) = zip_member(ctx, loc, archive, i) else {
            continue;
        };
        if odf && name == "META-INF/manifest.xml" && contains(&data, b"encryption-data") {
            return ctx.uninspectable(loc, "encrypted OpenDocument");
        }
        if is_xml(&name) {
            if !layout_only(&name, odf) {
                text.push_str(&xml_text(&data));
                text.push('\n');
            }
        } else {
            binary_part(ctx, &format!("{loc}/{name}"), &data, depth);
        }
    }
    ctx.text(loc, text);
}

/// A non-XML part: embedded documents are read; images are skipped; other
/// package binaries (printer settings, obfuscated fonts) are noted as an
/// anomaly, not held: they are the package's own plumbing, not attachments.
fn binary_part(ctx: &mut Ctx, loc: &str, data: &[u8], depth: usize) {
    match sniff("", data) {
        Kind::Media => {}
        Kind::Unknown => ctx.anomaly(loc, "office package part in an unknown binary format"),
        _ => read_member(ctx, loc, data, depth + 1),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn is_xml(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with(".xml") || lower.ends_with(".rels") || lower.ends_with(".rdf")
}

/// Parts that hold no document text: relationships, styles, themes, masters.
/// (ODF keeps its `styles.xml`: page headers and footers live there.)
fn layout_only(name: &str, odf: bool) -> bool {
    if odf {
        return name.starts_with("META-INF/") || name == "settings.xml" || name.ends_with(".rdf");
    }
    const DIRS: &[&str] = &[
        "_rels/",
        "theme/",
        "slideMasters/",
        "slideLayouts/",
        "notesMasters/",
        "handoutMasters/",
        "printerSettings/",
    ];
    const FILES: &[&str] = &[
        "[Content_Types].xml",
        "styles.xml",
        "stylesWithEffects.xml",
        "fontTable.xml",
        "settings.xml",
        "webSettings.xml",
        "numbering.xml",
        "presProps.xml",
        "viewProps.xml",
        "tableStyles.xml",
        "calcChain.xml",
    ];
    let base = name.rsplit('/').next().unwrap_or(name);
    name.ends_with(".rels") || DIRS.iter().any(|d| name.contains(d)) || FILES.contains(&base)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_text_table() {
        let cases: &[(&str, &str)] = &[
            // Word splits a word across runs: joined without a space.
            (
                r#"<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>Harrow</w:t></w:r><w:r><w:t>gate</w:t></w:r></w:p><w:p><w:r><w:t>Next</w:t></w:r></w:p></w:body></w:document>"#,
                "Harrowgate\nNext",
            ),
            // A non-breaking hyphen inside a matter number is a hyphen.
            (
                r#"<w:document xmlns:w="w"><w:body><w:p><w:r><w:t>2024</w:t><w:noBreakHyphen/><w:t>0117</w:t></w:r></w:p></w:body></w:document>"#,
                "2024-0117",
            ),
            // Tracked deletion keeps its text.
            (
                r#"<w:document xmlns:w="w"><w:body><w:p><w:del><w:r><w:delText>Acme Ltd</w:delText></w:r></w:del></w:p></w:body></w:document>"#,
                "Acme Ltd",
            ),
            // Shared-string indices are not text; inline strings and numbers are.
            (
                r#"<worksheet><sheetData><row><c t="s"><v>2018</v></c><c t="s"><v>1722</v></c><c t="inlineStr"><is><t>Inline</t></is></c><c><v>42</v></c></row></sheetData></worksheet>"#,
                "Inline\n42",
            ),
            // Sheet names are attributes.
            (
                r#"<workbook><sheets><sheet name="Acme fees" sheetId="1"/></sheets></workbook>"#,
                "Acme fees",
            ),
            // Entities decode; a malformed tail keeps what came before.
            (
                r#"<a><p>Smith &amp; Jones</p><p>x</q></a>"#,
                "Smith & Jones",
            ),
            // ODF spaces and headings.
            (
                r#"<office:document-content><office:body><office:text><text:h>Title</text:h><text:p>a<text:s/>b</text:p></office:text></office:body></office:document-content>"#,
                "Title\na b",
            ),
        ];
        for (xml, want) in cases {
            let got = xml_text(xml.as_bytes());
            let got = got.split_whitespace().collect::<Vec<_>>().join(" ");
            let want = want.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(got.contains(&want), "{xml}\n got {got:?}\nwant {want:?}");
        }
    }

    #[test]
    fn shared_indices_do_not_leak() {
        let xml =
            r#"<worksheet><row><c t="s"><v>2018</v></c><c t="s"><v>1722</v></c></row></worksheet>"#;
        assert!(!xml_text(xml.as_bytes()).contains("2018"));
    }

    #[test]
    fn a_repeated_sheet_name_is_read_too() {
        let text = xml_text(br#"<workbook><sheet name="Alpha" name="Beta"/></workbook>"#);
        assert!(text.contains("Alpha") && text.contains("Beta"), "{text:?}");
    }

    #[test]
    fn layout_parts_are_skipped() {
        let cases = [
            ("word/document.xml", false, false),
            ("word/comments.xml", false, false),
            ("word/styles.xml", false, true),
            ("word/_rels/document.xml.rels", false, true),
            ("ppt/slideLayouts/slideLayout1.xml", false, true),
            ("styles.xml", true, false),
            ("META-INF/manifest.xml", true, true),
        ];
        for (name, odf, skip) in cases {
            assert_eq!(layout_only(name, odf), skip, "{name}");
        }
    }
}
