//! TNEF (`winmail.dat`, magic `0x223E9F78`): a small reader, because the TNEF
//! crates on crates.io are unmaintained or pull a MIME stack of their own.
//!
//! The stream is a list of attributes (level, id, length, data, checksum).
//! Read: the subject (attSubject) and body (attBody), each attachment's title
//! (attAttachTitle) and data (attAttachData, read recursively as an
//! attachment), and the string-valued MAPI properties of the message and of
//! each attachment (PR_BODY, the long file name, display names…), with
//! PR_ATTACH_DATA_OBJ as attachment data, and the rich-text body
//! (PR_RTF_COMPRESSED, returned for the walker to decode with
//! [`super::lzfu`] and read as RTF), which is often the only body of a
//! message Outlook wrote in rich text. Attachment data and the compressed
//! body are borrowed from the stream, and handed over one at a time.
//! Lengths are checked against the input; nothing is allocated from a length
//! field that the input does not back.

use crate::extract::{none, text, Child, Ctx, Found};
use std::borrow::Cow;

const SIGNATURE: u32 = 0x223E_9F78;
const ATT_SUBJECT: u16 = 0x8004;
const ATT_BODY: u16 = 0x800C;
const ATT_ATTACH_DATA: u16 = 0x800F;
const ATT_ATTACH_TITLE: u16 = 0x8010;
const ATT_ATTACH_REND_DATA: u16 = 0x9002;
const ATT_MAPI_PROPS: u16 = 0x9003;
const ATT_ATTACHMENT: u16 = 0x9005;

/// One attachment being assembled from its attributes.
#[derive(Default)]
struct Attachment<'a> {
    title: Option<String>,
    /// Its MAPI properties; `data` also takes attAttachData.
    props: Props<'a>,
}

/// Reads the TNEF stream at `loc`: the message's text now, then the
/// compressed-RTF body and each attachment, one at a time.
pub(crate) fn read<'a>(ctx: &mut Ctx, loc: &str, bytes: &'a [u8]) -> Found<'a> {
    if u32_at(bytes, 0) != Some(SIGNATURE) {
        ctx.uninspectable(loc, "corrupt TNEF: bad signature");
        return none();
    }
    let mut pos = 6; // signature and legacy key
    let mut attachments: Vec<Attachment> = Vec::new();
    let mut message = Props::default();
    while pos < bytes.len() {
        let Some((level, id, data, next)) = attribute(bytes, pos) else {
            ctx.uninspectable(loc, "corrupt TNEF: truncated attribute");
            break;
        };
        pos = next;
        match (level, id, attachments.last_mut()) {
            (_, ATT_ATTACH_REND_DATA, _) => attachments.push(Attachment::default()),
            (2, ATT_ATTACH_TITLE, Some(a)) => a.title = Some(cstring(data)),
            (2, ATT_ATTACH_DATA, Some(a)) => a.props.data = Some(data),
            (2, ATT_ATTACHMENT, Some(a)) => mapi_props(data, &mut a.props),
            (1, ATT_SUBJECT, _) | (1, ATT_BODY, _) => message.texts.push(cstring(data)),
            (1, ATT_MAPI_PROPS, _) => mapi_props(data, &mut message),
            _ => {}
        }
    }
    let body = format!("{loc}/body");
    ctx.text(&body, message.texts.join("\n"));
    let mut rtf = message.rtf.map(|rtf| Child::CompressedRtf {
        loc: body,
        bytes: Cow::Borrowed(rtf),
    });
    let loc = loc.to_string();
    let mut attachments = attachments.into_iter().enumerate();
    Box::new(move |ctx: &mut Ctx| {
        if let Some(body) = rtf.take() {
            return Some(body);
        }
        for (n, a) in attachments.by_ref() {
            if n >= ctx.limits.max_archive_entries {
                let max = ctx.limits.max_archive_entries;
                ctx.uninspectable(&loc, format!("more than {max} archive entries"));
                return None;
            }
            if let Some(data) = attachment(ctx, &loc, n, a) {
                return Some(data);
            }
        }
        None
    })
}

/// Reports one attachment's name and properties; its data, if any, as a file.
fn attachment<'a>(ctx: &mut Ctx, loc: &str, n: usize, a: Attachment<'a>) -> Option<Child<'a>> {
    let name = a
        .props
        .name
        .or(a.title)
        .unwrap_or_else(|| format!("attachment-{n}"));
    let member = format!("{loc}/{}", name.replace('/', "_"));
    ctx.text(&member, format!("{name}\n{}", a.props.texts.join("\n")));
    a.props.data.map(|data| Child::File {
        loc: member,
        declared: String::new(),
        bytes: Cow::Borrowed(data),
    })
}

/// One attribute at `pos`: (level, attribute id, data, next position).
fn attribute(b: &[u8], pos: usize) -> Option<(u8, u16, &[u8], usize)> {
    let level = *b.get(pos)?;
    let id = u32_at(b, pos + 1)?;
    let len = usize::try_from(u32_at(b, pos + 5)?).ok()?;
    let start = pos + 9;
    let data = b.get(start..start.checked_add(len)?)?;
    // Two checksum bytes follow the data.
    Some((level, (id & 0xFFFF) as u16, data, start + len + 2))
}

fn u32_at(b: &[u8], pos: usize) -> Option<u32> {
    let s = b.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn u16_at(b: &[u8], pos: usize) -> Option<u16> {
    let s = b.get(pos..pos.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

/// An 8-bit string up to its NUL, in Windows-1252 (TNEF's usual code page).
fn cstring(data: &[u8]) -> String {
    let end = data.iter().position(|&c| c == 0).unwrap_or(data.len());
    encoding_rs::WINDOWS_1252
        .decode(data.get(..end).unwrap_or_default())
        .0
        .into_owned()
}

const PT_STRING8: u16 = 0x001E;
const PT_UNICODE: u16 = 0x001F;
const PT_OBJECT: u16 = 0x000D;
const PT_BINARY: u16 = 0x0102;
const MV_FLAG: u16 = 0x1000;
const PR_ATTACH_DATA_OBJ: u16 = 0x3701;
const PR_ATTACH_LONG_FILENAME: u16 = 0x3707;
const PR_RTF_COMPRESSED: u16 = 0x1009;

/// What a MAPI property list holds that we read.
#[derive(Default)]
struct Props<'a> {
    /// String values (subject, body, display names, file names…).
    texts: Vec<String>,
    /// PR_ATTACH_DATA_OBJ / PR_ATTACH_DATA_BIN.
    data: Option<&'a [u8]>,
    /// PR_ATTACH_LONG_FILENAME.
    name: Option<String>,
    /// PR_RTF_COMPRESSED.
    rtf: Option<&'a [u8]>,
}

/// Parses a MAPI property list. Stops quietly at the first property it
/// cannot size (what was read so far is kept).
fn mapi_props<'a>(b: &'a [u8], props: &mut Props<'a>) {
    let Some(count) = u32_at(b, 0) else { return };
    let mut pos = 4;
    for _ in 0..count {
        let Some(next) = mapi_prop(b, pos, props) else {
            return;
        };
        pos = next;
    }
}

fn mapi_prop<'a>(b: &'a [u8], pos: usize, props: &mut Props<'a>) -> Option<usize> {
    let ptype = u16_at(b, pos)?;
    let id = u16_at(b, pos + 2)?;
    let mut pos = pos + 4;
    if id >= 0x8000 {
        pos = skip_named(b, pos)?;
    }
    let base = ptype & !MV_FLAG;
    let variable = matches!(base, PT_STRING8 | PT_UNICODE | PT_OBJECT | PT_BINARY);
    let values = if ptype & MV_FLAG != 0 || variable {
        pos += 4;
        u32_at(b, pos - 4)?
    } else {
        1
    };
    for _ in 0..values {
        // A count the data does not back ends the list (and the loop) here.
        if pos > b.len() {
            return None;
        }
        if !variable {
            pos = pos.checked_add(fixed_size(base)?)?;
            continue;
        }
        let len = usize::try_from(u32_at(b, pos)?).ok()?;
        let value = b.get(pos + 4..(pos + 4).checked_add(len)?)?;
        pos = pos + 4 + len.div_ceil(4) * 4;
        prop_value(props, base, id, value);
    }
    Some(pos)
}

fn prop_value<'a>(props: &mut Props<'a>, ptype: u16, id: u16, value: &'a [u8]) {
    match (ptype, id) {
        (PT_UNICODE, _) => props.texts.push(text::utf16le(value)),
        (PT_STRING8, _) => props.texts.push(cstring(value)),
        (PT_BINARY, PR_ATTACH_DATA_OBJ) => props.data = Some(value),
        // An embedded object starts with its 16-byte interface id.
        (PT_OBJECT, PR_ATTACH_DATA_OBJ) => props.data = value.get(16..),
        (PT_BINARY, PR_RTF_COMPRESSED) => props.rtf = Some(value),
        _ => {}
    }
    if id == PR_ATTACH_LONG_FILENAME {
        props.name = props.texts.last().cloned();
    }
}

/// Skips a named property's GUID and name.
fn skip_named(b: &[u8], pos: usize) -> Option<usize> {
    let kind = u32_at(b, pos + 16)?;
    let pos = pos + 20;
    if kind == 0 {
        return Some(pos + 4);
    }
    let len = usize::try_from(u32_at(b, pos)?).ok()?;
    Some(pos + 4 + len.div_ceil(4) * 4)
}

/// Sizes of the fixed-width property types (short and boolean padded to 4).
fn fixed_size(ptype: u16) -> Option<usize> {
    match ptype {
        0x0002 | 0x0003 | 0x0004 | 0x000A | 0x000B => Some(4),
        0x0005 | 0x0006 | 0x0007 | 0x0014 | 0x0040 => Some(8),
        0x0048 => Some(16),
        _ => None,
    }
}

/// Builds TNEF streams for tests (here and in `tests/attachments.rs`'s twin).
#[cfg(test)]
pub(crate) mod build {
    pub(crate) fn attr(level: u8, id: u32, data: &[u8]) -> Vec<u8> {
        let mut out = vec![level];
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&(data.len() as u32).to_le_bytes());
        out.extend_from_slice(data);
        let sum = data.iter().fold(0u16, |s, &c| s.wrapping_add(c as u16));
        out.extend_from_slice(&sum.to_le_bytes());
        out
    }

    pub(crate) fn tnef(attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut out = super::SIGNATURE.to_le_bytes().to_vec();
        out.extend_from_slice(&[0x01, 0x00]);
        for a in attrs {
            out.extend_from_slice(a);
        }
        out
    }

    /// A MAPI property list with one PT_BINARY property.
    pub(crate) fn binary_prop(id: u16, value: &[u8]) -> Vec<u8> {
        let mut out = 1u32.to_le_bytes().to_vec();
        out.extend_from_slice(&super::PT_BINARY.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&(value.len() as u32).to_le_bytes());
        out.extend_from_slice(value);
        out.resize(out.len().div_ceil(4) * 4, 0);
        out
    }

    /// A MAPI property list with one PT_UNICODE property.
    pub(crate) fn unicode_prop(id: u16, text: &str) -> Vec<u8> {
        let mut v: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        v.extend_from_slice(&[0, 0]);
        let mut out = 1u32.to_le_bytes().to_vec();
        out.extend_from_slice(&super::PT_UNICODE.to_le_bytes());
        out.extend_from_slice(&id.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        let padded = v.len().div_ceil(4) * 4;
        v.resize(padded, 0);
        out.extend_from_slice(&v);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::build::*;
    use super::*;

    fn run(bytes: &[u8]) -> crate::extract::Extraction {
        let limits = crate::extract::Limits::default();
        let mut ctx = Ctx::new(&limits);
        // Through the walker: the compressed body and attachments are children.
        let (loc, kind) = (
            "attachment:winmail.dat",
            crate::extract::attachment::Kind::Tnef,
        );
        crate::extract::walk::dispatch(&mut ctx, loc, kind, "", bytes, 0);
        ctx.out
    }

    #[test]
    fn tnef_table() {
        let full = tnef(&[
            attr(1, 0x0001_8004, b"Acme merger\0"),
            attr(1, 0x0002_800C, b"Body text\0"),
            attr(1, 0x0006_9003, &unicode_prop(0x1000, "MAPI body")),
            attr(2, 0x0006_9002, &[0; 14]),
            attr(2, 0x0001_8010, b"memo.txt\0"),
            attr(2, 0x0006_800F, b"inner secret"),
            attr(2, 0x0006_9005, &unicode_prop(0x3707, "Long memo name.txt")),
        ]);
        let cases: &[(&str, &str)] = &[
            ("attachment:winmail.dat/body", "Acme merger"),
            ("attachment:winmail.dat/body", "Body text"),
            ("attachment:winmail.dat/body", "MAPI body"),
            ("attachment:winmail.dat/Long memo name.txt", "inner secret"),
        ];
        let out = run(&full);
        for (loc, text) in cases {
            assert!(
                out.segments
                    .iter()
                    .any(|s| s.location == *loc && s.text.contains(text)),
                "{loc} {text}: {:?}",
                out.segments
            );
        }
    }

    #[test]
    fn rtf_compressed_body() {
        // [MS-OXRTFCP] 3.1.1: "{\\rtf1\\ansi\\ansicpg1252\\pard hello world}".
        let lzfu = super::super::lzfu::SPEC_EXAMPLE;
        let out = run(&tnef(&[attr(1, 0x0006_9003, &binary_prop(0x1009, lzfu))]));
        assert!(
            out.segments
                .iter()
                .any(|s| s.location == "attachment:winmail.dat/body"
                    && s.text.contains("hello world")),
            "{:?}",
            out.segments
        );
    }

    #[test]
    fn hostile_counts_end_quickly() {
        // A fixed-size property claiming four billion values.
        let mut props = 1u32.to_le_bytes().to_vec();
        props.extend_from_slice(&(0x1003u16).to_le_bytes()); // multi-valued PT_LONG
        props.extend_from_slice(&0x0001u16.to_le_bytes());
        props.extend_from_slice(&u32::MAX.to_le_bytes());
        let _ = run(&tnef(&[attr(1, 0x0006_9003, &props)]));
    }

    #[test]
    fn hostile_lengths_are_corrupt_not_panics() {
        let cases: Vec<Vec<u8>> = vec![
            tnef(&[])
                .into_iter()
                .chain([1, 4, 0x80, 1, 0, 0xff, 0xff, 0xff, 0xff])
                .collect(),
            b"\x78\x9f\x3e".to_vec(),
            tnef(&[attr(
                1,
                0x0006_9003,
                &[0xff, 0xff, 0xff, 0xff, 0x1f, 0, 0, 0x10],
            )]),
        ];
        for case in cases {
            let _ = run(&case);
        }
    }
}
