//! PDF: the text shown on each page and in form XObjects, annotation comments
//! and form-field values, the document information dictionary (Title,
//! Subject, Author, Keywords, Creator) and the XMP metadata.
//!
//! Crate: `lopdf` without default features (no rayon, no date crates): it
//! parses the object structure, xref streams and object streams, and knows the
//! simple encodings (WinAnsi, Standard, MacRoman, Differences) and ToUnicode
//! CMaps. `pdf-extract` does layout on top of it with several times the
//! dependencies; DLP needs the characters, not the layout. We walk the content
//! streams ourselves (`Tj`, `TJ`, `'`, `"`) so that a font's ToUnicode CMap is
//! preferred to its `/Encoding` (subset fonts name glyphs `/g17`, which only
//! the CMap maps back) and so that a wide `TJ` gap becomes a space.
//!
//! Bombs: lopdf decodes streams without a bound, so before it sees the file
//! every stream is decoded once by [`super::pdfscan`], charging the message
//! budget and the ratio limit; only a file whose streams all fit is handed to
//! lopdf. A panic inside the parser is caught and reported as a
//! corrupt PDF (defence in depth: hostile input must not take the filter down).

use super::pdfscan::streams_within_limits;
use super::xml::xml_text;
use crate::extract::Ctx;
use lopdf::content::Content;
use lopdf::{Dictionary, Document, Encoding, Object};
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Reads the PDF at `loc`.
pub(crate) fn read(ctx: &mut Ctx, loc: &str, bytes: &[u8]) {
    if !streams_within_limits(ctx, loc, bytes) {
        return;
    }
    let doc = match catch_unwind(|| Document::load_mem(bytes)) {
        Ok(Ok(doc)) => doc,
        Ok(Err(_)) if has_encrypt(bytes) => return ctx.uninspectable(loc, "encrypted PDF"),
        Ok(Err(e)) => return ctx.uninspectable(loc, format!("corrupt PDF: {e}")),
        Err(_) => return ctx.uninspectable(loc, "corrupt PDF: parser failed"),
    };
    if doc.was_encrypted() || doc.trailer.get(b"Encrypt").is_ok() {
        return ctx.uninspectable(loc, "encrypted PDF");
    }
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut text = metadata(&doc);
        pages(ctx, loc, &doc, &mut text);
        other_text(ctx, loc, &doc, &mut text);
        text
    }));
    match result {
        Ok(text) => ctx.text(loc, text),
        Err(_) => ctx.uninspectable(loc, "corrupt PDF: parser failed"),
    }
}

/// A `/Encrypt` key in the trailer, seen in the raw bytes when lopdf cannot
/// load the file (it fails on encryption it cannot undo).
fn has_encrypt(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, b"/Encrypt").is_some()
}

/// The Info dictionary's text fields and the XMP metadata stream.
fn metadata(doc: &Document) -> String {
    let mut out = String::new();
    let info = doc
        .trailer
        .get(b"Info")
        .and_then(|o| match o {
            Object::Reference(id) => doc.get_dictionary(*id),
            Object::Dictionary(d) => Ok(d),
            _ => Err(lopdf::Error::DictKey("Info".into())),
        })
        .ok();
    for key in [
        &b"Title"[..],
        b"Subject",
        b"Author",
        b"Keywords",
        b"Creator",
    ] {
        if let Some(s) = info.and_then(|d| d.get(key).ok()).and_then(text_string) {
            out.push_str(&s);
            out.push('\n');
        }
    }
    let xmp = doc
        .catalog()
        .and_then(|c| c.get_deref(b"Metadata", doc))
        .and_then(Object::as_stream)
        .and_then(|s| s.get_plain_content());
    if let Ok(xml) = xmp {
        out.push_str(&xml_text(&xml));
    }
    out
}

fn text_string(obj: &Object) -> Option<String> {
    lopdf::decode_text_string(obj).ok().or_else(|| {
        obj.as_str()
            .ok()
            .map(|b| b.iter().map(|&c| c as char).collect())
    })
}

/// The text shown on every page, in page order.
fn pages(ctx: &mut Ctx, loc: &str, doc: &Document, out: &mut String) {
    for (_, page) in doc.get_pages() {
        if ctx.out_of_time(loc) {
            return;
        }
        let fonts: Vec<(Vec<u8>, Dictionary)> = doc
            .get_page_fonts(page)
            .unwrap_or_default()
            .into_iter()
            .map(|(name, font)| (name, prefer_to_unicode(font)))
            .collect();
        let Ok(content) = doc.get_page_content(page) else {
            ctx.anomaly(loc, "a PDF page's content could not be read");
            continue;
        };
        if !content_text(doc, &fonts, &content, out) {
            ctx.anomaly(loc, "a PDF page's content could not be parsed");
        }
        out.push('\n');
    }
}

/// Decodes one content stream with its fonts; false when it does not parse.
fn content_text(
    doc: &Document,
    fonts: &[(Vec<u8>, Dictionary)],
    content: &[u8],
    out: &mut String,
) -> bool {
    let encodings: BTreeMap<&[u8], Encoding> = fonts
        .iter()
        .filter_map(|(name, font)| Some((name.as_slice(), font.get_font_encoding(doc).ok()?)))
        .collect();
    match Content::decode(content) {
        Ok(content) => {
            show_text(&content, &encodings, out);
            true
        }
        Err(_) => false,
    }
}

/// Text that is not in a page's own content stream: form XObjects (stamps,
/// letterheads, imported pages), annotation contents (sticky-note comments)
/// and form-field values. A name hidden in a reviewer's comment is still a
/// mention.
fn other_text(ctx: &mut Ctx, loc: &str, doc: &Document, out: &mut String) {
    for object in doc.objects.values() {
        if ctx.out_of_time(loc) {
            return;
        }
        match object {
            Object::Stream(s)
                if s.dict.get(b"Subtype").and_then(Object::as_name).ok() == Some(b"Form") =>
            {
                form_text(doc, s, out);
            }
            Object::Dictionary(d) => annotation_text(d, out),
            _ => {}
        }
    }
}

fn form_text(doc: &Document, form: &lopdf::Stream, out: &mut String) {
    let fonts: Vec<(Vec<u8>, Dictionary)> = form
        .dict
        .get_deref(b"Resources", doc)
        .and_then(Object::as_dict)
        .and_then(|r| r.get_deref(b"Font", doc))
        .and_then(Object::as_dict)
        .map(|fonts| {
            fonts
                .iter()
                .filter_map(|(name, f)| {
                    let font = doc.dereference(f).ok()?.1.as_dict().ok()?;
                    Some((name.clone(), prefer_to_unicode(font)))
                })
                .collect()
        })
        .unwrap_or_default();
    if let Ok(content) = form.get_plain_content() {
        content_text(doc, &fonts, &content, out);
        out.push('\n');
    }
}

/// `/Contents` of an annotation; `/V` and `/TU` of a form field.
fn annotation_text(d: &Dictionary, out: &mut String) {
    let is_annot =
        d.get(b"Type").and_then(Object::as_name).ok() == Some(b"Annot") || d.has(b"Rect");
    let is_field = d.has(b"FT") || (d.has(b"T") && d.has(b"V"));
    let keys: &[&[u8]] = match (is_annot, is_field) {
        (_, true) => &[b"Contents", b"V", b"TU", b"T"],
        (true, false) => &[b"Contents", b"T"],
        _ => return,
    };
    for key in keys {
        if let Some(s) = d
            .get(key)
            .ok()
            .filter(|o| o.as_str().is_ok())
            .and_then(text_string)
        {
            out.push_str(&s);
            out.push('\n');
        }
    }
}

/// A copy of the font without `/Encoding` when it has a ToUnicode CMap, so
/// lopdf maps through the CMap (the authority on what a code means).
fn prefer_to_unicode(font: &Dictionary) -> Dictionary {
    let mut font = font.clone();
    if font.has(b"ToUnicode") {
        font.remove(b"Encoding");
    }
    font
}

/// Appends the text of the text-showing operators.
fn show_text(content: &Content, encodings: &BTreeMap<&[u8], Encoding>, out: &mut String) {
    let mut font: Option<&Encoding> = None;
    for op in &content.operations {
        match op.operator.as_str() {
            "Tf" => {
                font = op
                    .operands
                    .first()
                    .and_then(|o| o.as_name().ok())
                    .and_then(|n| encodings.get(n));
            }
            "Tj" | "'" | "\"" => {
                if op.operator != "Tj" {
                    out.push('\n');
                }
                if let Some(Object::String(s, _)) = op.operands.last() {
                    out.push_str(&decode(font, s));
                }
            }
            "TJ" => {
                for item in op
                    .operands
                    .first()
                    .and_then(|o| o.as_array().ok())
                    .into_iter()
                    .flatten()
                {
                    match item {
                        Object::String(s, _) => out.push_str(&decode(font, s)),
                        // A gap wider than a quarter em separates words.
                        Object::Integer(n) if *n < -250 => out.push(' '),
                        Object::Real(n) if *n < -250.0 => out.push(' '),
                        _ => {}
                    }
                }
            }
            "Td" | "TD" | "T*" | "Tm" | "ET" => out.push('\n'),
            _ => {}
        }
    }
}

fn decode(font: Option<&Encoding>, bytes: &[u8]) -> String {
    font.and_then(|e| e.bytes_to_string(bytes).ok())
        .unwrap_or_else(|| bytes.iter().map(|&c| c as char).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_corrupt_not_a_panic() {
        let limits = crate::extract::Limits::default();
        for input in [
            &b"%PDF-1.7\n garbage"[..],
            b"%PDF-",
            b"%PDF-1.4\n1 0 obj << /Length 99999 >>\nstream\n\x78\x9c",
        ] {
            let mut ctx = Ctx::new(&limits);
            read(&mut ctx, "a", input);
            assert!(ctx.out.uninspectable[0].reason.starts_with("corrupt PDF"));
        }
    }
}
