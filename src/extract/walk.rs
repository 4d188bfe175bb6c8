//! The one extraction walker: it owns the recursion over parts, messages
//! and containers. Every reader is a leaf: it reports text and flags into
//! [`Ctx`] and returns what it found inside as [`Child`]ren; only this
//! module reads those children, so the limits are enforced here, once:
//!
//! * depth: a child that sits inside its container is read one level
//!   deeper, and anything deeper than `max_depth` is uninspectable;
//! * time: checked on entering each part and file and before each child is
//!   asked for;
//! * bytes: every inflated byte is charged by the readers through
//!   [`super::attachment::bounded`], and containers hand their members over
//!   one at a time ([`super::Found`]), so only the members on the current
//!   path are in memory;
//! * location: a child carries its location (`LOC/member`); a message
//!   inside a part is located under `attachment:NAME/`.
//!
//! No reader calls another reader or this module (`tests/it/layers.rs`
//! checks it).

use super::attachment::{archive, cms, lzfu, office, ole, pdf, rtf, sniff, tnef, Kind};
use super::{mime, text, views, AttachmentFact, Child, Ctx, Found};
use mail_parser::{Message, MessagePart, PartType};

/// Parses `raw` and walks it; `prefix` locates it (`""` at the top).
pub fn raw_message(ctx: &mut Ctx, prefix: &str, raw: &[u8], depth: usize) {
    match mime::parse(raw) {
        Some(msg) => message(ctx, prefix, &msg, depth),
        None => mime::unparseable(ctx, prefix, raw),
    }
}

/// Walks a parsed message: its headers, its structure checks, its parts.
pub(crate) fn message(ctx: &mut Ctx, prefix: &str, msg: &Message, depth: usize) {
    if too_deep(ctx, &super::at(prefix, "body"), depth) {
        return;
    }
    mime::headers(ctx, prefix, msg);
    views::check_message(ctx, prefix, msg);
    part(ctx, prefix, msg, 0, depth);
}

/// One MIME part and, through it, everything below it.
fn part(ctx: &mut Ctx, prefix: &str, msg: &Message, id: u32, depth: usize) {
    let Some(part) = msg.part(id) else { return };
    let loc = mime::part_location(prefix, msg, id, part);
    ctx.parts += 1;
    if ctx.parts > ctx.limits.max_parts {
        let max = ctx.limits.max_parts;
        return ctx.uninspectable(&loc, format!("more than {max} MIME parts"));
    }
    if !enter(ctx, &loc, depth) {
        return;
    }
    let ctype = mime::part_head(ctx, &loc, part);
    views::other_names(ctx, &loc, msg, part);
    if ctype.starts_with("multipart/") {
        other_structures(ctx, prefix, &loc, msg, part, depth);
    }
    match &part.body {
        PartType::Multipart(children) => {
            for &child in children {
                self::part(ctx, prefix, msg, child, depth + 1);
            }
        }
        PartType::Text(body) => text_part(ctx, &loc, msg, part, body, false, depth),
        PartType::Html(markup) => text_part(ctx, &loc, msg, part, markup, true, depth),
        PartType::Binary(bytes) | PartType::InlineBinary(bytes) => {
            file(ctx, &loc, &ctype, bytes, depth + 1);
            for other in views::binary_alternatives(ctx, &loc, msg, part, bytes) {
                file(ctx, &loc, &ctype, &other, depth + 1);
            }
        }
        PartType::Message(nested) => message(ctx, &nested_prefix(&loc), nested, depth + 1),
    }
}

/// The other readings of a multipart's structure ([`views`]): under the
/// boundary the parser missed, and decoded when it has a transfer encoding.
fn other_structures(
    ctx: &mut Ctx,
    prefix: &str,
    loc: &str,
    msg: &Message,
    part: &MessagePart,
    depth: usize,
) {
    if !mime::has_boundary(part) {
        match views::missed_boundary(msg, part) {
            Some(again) => raw_message(ctx, prefix, &again, depth + 1),
            None => ctx.uninspectable(loc, "multipart without a boundary parameter"),
        }
    }
    if mime::encoded(part) {
        if let Some(again) = views::encoded_multipart(ctx, loc, msg, part) {
            raw_message(ctx, prefix, &again, depth + 1);
        }
    }
}

/// A text or HTML part: its flags, the files pasted into it, its re-reading
/// when it looks binary, its text, then its other views.
fn text_part(
    ctx: &mut Ctx,
    loc: &str,
    msg: &Message,
    part: &MessagePart,
    body: &str,
    html: bool,
    depth: usize,
) {
    let form = mime::form(part, html);
    mime::text_flags(ctx, loc, body);
    let files = mime::encoded_files(ctx, loc, part, body);
    children(ctx, loc, files, depth);
    views::binary_text(ctx, loc, msg, part, body, form);
    mime::text_body(ctx, loc, part, body, form);
    views::alternatives(ctx, loc, msg, part, body, form);
}

/// A message inside a part is located under the part: `attachment:fwd.eml/`.
fn nested_prefix(loc: &str) -> String {
    if loc.starts_with("attachment:") {
        format!("{loc}/")
    } else {
        format!("attachment:{loc}/")
    }
}

/// Reads one file's bytes at `loc`: records the fact, then dispatches.
pub fn file(ctx: &mut Ctx, loc: &str, declared: &str, bytes: &[u8], depth: usize) {
    let kind = sniff(declared, bytes);
    ctx.out.attachments.push(AttachmentFact {
        location: loc.to_string(),
        content_type: declared.to_string(),
        detected: kind.name().to_string(),
        size: bytes.len(),
    });
    dispatch(ctx, loc, kind, declared, bytes, depth);
}

/// Sends `bytes` to the reader for `kind`, within the depth and time
/// limits, and walks what it finds.
pub fn dispatch(ctx: &mut Ctx, loc: &str, kind: Kind, declared: &str, bytes: &[u8], depth: usize) {
    if !enter(ctx, loc, depth) {
        return;
    }
    if archive::appended_zip(ctx, loc, kind, bytes) {
        let members = archive::zip(ctx, loc, bytes);
        children(ctx, loc, members, depth);
    }
    let found = match kind {
        Kind::Text => return text::read_bytes(ctx, loc, declared, bytes),
        Kind::Pdf => return pdf::read(ctx, loc, bytes),
        Kind::Rtf => return rtf::read(ctx, loc, bytes),
        Kind::Message => return raw_message(ctx, &format!("{loc}/"), bytes, depth + 1),
        Kind::Zip => archive::zip(ctx, loc, bytes),
        Kind::Gzip => archive::gzip(ctx, loc, bytes),
        Kind::Tar => archive::tar(ctx, loc, bytes),
        Kind::Ole => ole::read(ctx, loc, bytes),
        Kind::Tnef => tnef::read(ctx, loc, bytes),
        Kind::Cms => cms::read(ctx, loc, bytes),
        Kind::Encrypted => return ctx.uninspectable(loc, "encrypted by the sender"),
        // A detached signature is a signature, not content.
        Kind::Signature | Kind::Media => return,
        Kind::Unknown => return ctx.uninspectable(loc, "unknown binary format"),
    };
    children(ctx, loc, found, depth);
}

/// Reads a container's children at `loc` one at a time, each before the
/// next is asked for, while time remains.
fn children(ctx: &mut Ctx, loc: &str, mut found: Found, depth: usize) {
    while !ctx.out_of_time(loc) {
        let Some(next) = found.next_child(ctx) else {
            return;
        };
        child(ctx, next, depth);
    }
}

/// One child of a container at `depth`.
fn child(ctx: &mut Ctx, child: Child, depth: usize) {
    let depth = if child.nested() { depth + 1 } else { depth };
    match child {
        Child::File {
            loc,
            declared,
            bytes,
        } => file(ctx, &loc, &declared, &bytes, depth),
        Child::Inflated { loc, bytes } => {
            let kind = sniff("", &bytes);
            dispatch(ctx, &loc, kind, "", &bytes, depth);
        }
        Child::Message { prefix, bytes } => raw_message(ctx, &prefix, &bytes, depth),
        Child::Office { loc, bytes, odf } => {
            let parts = office::read(ctx, &loc, bytes, odf);
            children(ctx, &loc, parts, depth);
        }
        Child::OleMessage { loc, file, dir } => {
            if !too_deep(ctx, &loc, depth) {
                let attachments = ole::message(ctx, &loc, file, &dir);
                children(ctx, &loc, attachments, depth);
            }
        }
        Child::CompressedRtf { loc, bytes } => {
            if let Some(body) = lzfu::read_body(ctx, &loc, &bytes) {
                rtf::read(ctx, &loc, &body);
            }
        }
    }
}

/// True (and `loc` flagged) when `depth` is past the limit.
fn too_deep(ctx: &mut Ctx, loc: &str, depth: usize) -> bool {
    if depth > ctx.limits.max_depth {
        let max = ctx.limits.max_depth;
        ctx.uninspectable(loc, format!("nested deeper than the limit of {max}"));
        return true;
    }
    false
}

/// Whether a part or file at `loc` may be read: within depth, within time.
fn enter(ctx: &mut Ctx, loc: &str, depth: usize) -> bool {
    !too_deep(ctx, loc, depth) && !ctx.out_of_time(loc)
}
