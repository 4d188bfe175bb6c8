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
//! entities and no DTD, so there is no XML bomb to defuse ([`super::xml`]).
//! Other members (embedded workbooks, OLE objects, PDFs) are returned as
//! children, read as attachments by the walker.
//!
//! Password-protected OOXML is not a ZIP but an OLE file (see [`super::ole`]);
//! an encrypted ODF package declares `encryption-data` in its manifest.

use super::xml::xml_text;
use super::{bounded, sniff, Kind};
use crate::extract::{none, Child, Ctx, Found};
use std::borrow::Cow;
use std::io::Cursor;

/// Reads the package at `loc` (`odf`: an OpenDocument, else OOXML): the
/// text of its XML parts is joined into one segment, reported once every
/// part is read; its other parts are returned one at a time.
pub(crate) fn read<'a>(ctx: &mut Ctx, loc: &str, bytes: &'a [u8], odf: bool) -> Found<'a> {
    let mut archive = match zip::ZipArchive::new(Cursor::new(bytes)) {
        Ok(a) => a,
        Err(e) => {
            ctx.uninspectable(loc, format!("corrupt zip: {e}"));
            return none();
        }
    };
    let loc = loc.to_string();
    let mut text = String::new();
    let mut done = false;
    let mut next = 0;
    Box::new(move |ctx: &mut Ctx| {
        if done {
            return None;
        }
        while next < archive.len() {
            let i = next;
            next += 1;
            let Some((name, data)) = bounded::zip_member(ctx, &loc, bytes, &mut archive, i) else {
                continue;
            };
            if odf && name == "META-INF/manifest.xml" && contains(&data, b"encryption-data") {
                done = true;
                ctx.uninspectable(&loc, "encrypted OpenDocument");
                return None;
            }
            if is_xml(&name) {
                if !layout_only(&name, odf) {
                    text.push_str(&xml_text(&data));
                    text.push('\n');
                }
            } else if let Some(child) = binary_part(ctx, format!("{loc}/{name}"), data) {
                return Some(child);
            }
        }
        done = true;
        ctx.text(&loc, std::mem::take(&mut text));
        None
    })
}

/// A non-XML part: embedded documents are read; images are skipped; other
/// package binaries (printer settings, obfuscated fonts) are noted as an
/// anomaly, not held: they are the package's own plumbing, not attachments.
fn binary_part<'a>(ctx: &mut Ctx, loc: String, data: Cow<'a, [u8]>) -> Option<Child<'a>> {
    match sniff("", &data) {
        Kind::Media => None,
        Kind::Unknown => {
            ctx.anomaly(&loc, "office package part in an unknown binary format");
            None
        }
        _ => Some(Child::File {
            loc,
            declared: String::new(),
            bytes: data,
        }),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_sheet_name_is_read_too() {
        let text = xml_text(br#"<workbook><sheet name="Alpha" name="Beta"/></workbook>"#);
        assert!(text.contains("Alpha") && text.contains("Beta"), "{text:?}");
    }

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
            // Since quick-xml 0.38 a reference is its own event: the text
            // around it is one run again, character references included.
            (
                r#"<a><p>Acme&#x20;Holdings &lt;2024&#8209;0117&gt; &quot;x&apos;</p></a>"#,
                "Acme Holdings <2024\u{2011}0117> \"x'",
            ),
            // A lone `&` is text and does not end the part.
            (
                r#"<a><p>AT&T for Acme</p><p>Harrowgate</p></a>"#,
                "AT&T for Acme\nHarrowgate",
            ),
            // An entity XML does not define stays as written.
            (r#"<a><p>Acme&nbsp;Ltd</p></a>"#, "Acme&nbsp;Ltd"),
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
    fn a_byte_that_is_not_utf8_hides_nothing_after_it() {
        let xml = b"<a><p>Caf\xe9 Acme</p><p>Harrowgate</p></a>";
        let text = xml_text(xml);
        assert!(text.contains("Caf\u{fffd} Acme"), "{text:?}");
        assert!(text.contains("Harrowgate"), "{text:?}");
    }

    #[test]
    fn shared_indices_do_not_leak() {
        let xml =
            r#"<worksheet><row><c t="s"><v>2018</v></c><c t="s"><v>1722</v></c></row></worksheet>"#;
        assert!(!xml_text(xml.as_bytes()).contains("2018"));
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
