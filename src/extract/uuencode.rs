//! uuencode, as mail clients still decode it: the `x-uuencode` transfer
//! encoding (Python's `email`, Thunderbird) and `begin NNN name` … `end`
//! blocks pasted into plain text (Outlook Express, Thunderbird and Pine show
//! them as attachments). This module owns finding and decoding the blocks,
//! a decoding like base64 that both [`super::views`] (the transfer encoding)
//! and [`super::mime`] (files in text) use; the walker reads what they hold.
//!
//! Written here rather than taken from a crate: no well-kept crate exists
//! (the few on crates.io are small and unmaintained), the format is a few
//! lines, and the leniency has to be the clients' own: trailing blanks that
//! transport stripped are read as zero bits (as Python's `binascii.a2b_uu`
//! does); a character outside the alphabet is a line that does not decode.

use super::Ctx;

/// One `begin` … `end` block found in a text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Block {
    /// The file name from the `begin` line (may contain spaces).
    pub(crate) name: String,
    /// The decoded bytes, or `Err` when a line does not decode.
    pub(crate) data: Result<Vec<u8>, BadLine>,
    /// Whether the closing `end` line was present.
    pub(crate) ended: bool,
}

/// A data line that is not uuencode.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct BadLine;

/// The file name of a uuencode header line (`begin 644 name`, the mode three
/// or four octal digits), or `None` when `line` is not one. Blanks around
/// the words are allowed, as [`super::mime`]'s detector allows them.
pub(crate) fn begin_name(line: &str) -> Option<&str> {
    let mut words = line.split_whitespace();
    if words.next() != Some("begin") {
        return None;
    }
    let mode = words.next()?;
    let octal = (3..=4).contains(&mode.len()) && mode.bytes().all(|b| (b'0'..=b'7').contains(&b));
    words.next()?;
    // The name is the rest of the line after the mode (it may hold spaces).
    let after_begin = line.trim_start().strip_prefix("begin")?.trim_start();
    let name = after_begin.strip_prefix(mode)?.trim();
    octal.then_some(name)
}

/// Every block in `text`, in order.
pub(crate) fn blocks(text: &str) -> Vec<Block> {
    each_block(text).collect()
}

/// The blocks of `text` one at a time, each decoded only when it is
/// reached. Only lines holding `begin` can open one, so the search jumps
/// from one to the next instead of splitting the whole text into lines; a
/// block's own lines are consumed with it.
pub(crate) fn each_block(text: &str) -> Blocks<'_> {
    Blocks { text, from: 0 }
}

/// The iterator [`each_block`] returns.
pub(crate) struct Blocks<'t> {
    text: &'t str,
    from: usize,
}

impl Iterator for Blocks<'_> {
    type Item = Block;

    fn next(&mut self) -> Option<Block> {
        let text = self.text;
        while let Some(found) = text[self.from..].find("begin") {
            let at = self.from + found;
            let start = text[..at].rfind('\n').map_or(0, |n| n + 1);
            let end = text[at..].find('\n').map_or(text.len(), |n| at + n);
            self.from = (end + 1).min(text.len());
            let Some(name) = begin_name(text[start..end].trim_end_matches('\r')) else {
                continue;
            };
            let (data, ended, used) = decode_lines(&text[self.from..]);
            self.from += used;
            return Some(Block {
                name: name.to_string(),
                data,
                ended,
            });
        }
        None
    }
}

/// Whether a `Content-Transfer-Encoding` value names uuencode (the names
/// Python's `email` accepts).
pub(crate) fn is_cte(cte: &str) -> bool {
    matches!(cte, "x-uuencode" | "uuencode" | "x-uue" | "uue")
}

/// The decoded body of a part whose transfer encoding is uuencode: every
/// block's bytes in order (a client shows the first; any other is content
/// too). `None`, with the reason recorded, when there is nothing decoded to
/// add: no `begin` line (the raw body, already read, is all there is) or a
/// line that does not decode (uninspectable).
pub(crate) fn decode_cte(ctx: &mut Ctx, loc: &str, body: &[u8]) -> Option<Vec<u8>> {
    let found = blocks(&String::from_utf8_lossy(body));
    if found.is_empty() {
        ctx.anomaly(loc, "x-uuencode part without a begin line (read as it is)");
        return None;
    }
    let mut out = Vec::new();
    for block in found {
        if !block.ended {
            ctx.anomaly(loc, "uuencoded data without its end line");
        }
        match block.data {
            Ok(data) => out.extend(data),
            Err(BadLine) => {
                ctx.uninspectable(loc, "uuencoded content that does not decode");
                return None;
            }
        }
    }
    Some(out)
}

/// Decodes the data lines at the start of `text` up to `end`: the bytes,
/// whether `end` was seen, and how many bytes of `text` were used. A
/// zero-length line (`` ` `` or a blank) ends the data, as encoders write.
fn decode_lines(text: &str) -> (Result<Vec<u8>, BadLine>, bool, usize) {
    let mut out = Vec::new();
    let (mut bad, mut data_over, mut used) = (false, false, 0);
    for raw in text.split_inclusive('\n') {
        used += raw.len();
        let line = raw.trim_end_matches(['\r', '\n']);
        if begin_name(line).is_some() {
            // The next file starts: this one lacked its `end`.
            return (
                if bad { Err(BadLine) } else { Ok(out) },
                false,
                used - raw.len(),
            );
        }
        if line.trim_end() == "end" {
            return (if bad { Err(BadLine) } else { Ok(out) }, true, used);
        }
        if data_over || bad {
            continue;
        }
        match decode_line(line) {
            Some(bytes) if bytes.is_empty() => data_over = true,
            Some(bytes) => out.extend(bytes),
            None => bad = true,
        }
    }
    (if bad { Err(BadLine) } else { Ok(out) }, false, used)
}

/// One data line: a length character, then four characters per three bytes.
fn decode_line(line: &str) -> Option<Vec<u8>> {
    let line = line.as_bytes();
    let Some((&len_char, rest)) = line.split_first() else {
        return Some(Vec::new());
    };
    let value = |c: u8| (32..=96).contains(&c).then_some((c.wrapping_sub(32)) & 63);
    let len = value(len_char)? as usize;
    let needed = len.div_ceil(3) * 4;
    // Missing trailing characters were blanks (zero bits) lost in transport;
    // extra ones are tolerated only when they too are in the alphabet.
    let mut sextets = Vec::with_capacity(needed);
    for i in 0..needed.max(rest.len()) {
        let c = rest.get(i).copied().unwrap_or(b' ');
        sextets.push(value(c)?);
    }
    let mut out = Vec::with_capacity(len);
    for quad in sextets[..needed].chunks(4) {
        out.push(quad[0] << 2 | quad[1] >> 4);
        out.push(quad[1] << 4 | quad[2] >> 2);
        out.push(quad[2] << 6 | quad[3]);
    }
    out.truncate(len);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_lines() {
        assert_eq!(begin_name("begin 644 secret.pdf"), Some("secret.pdf"));
        assert_eq!(begin_name("begin 0644 my notes.txt "), Some("my notes.txt"));
        assert_eq!(begin_name("  begin\t644  a.doc"), Some("a.doc"));
        assert_eq!(begin_name("begin 9999 x"), None);
        assert_eq!(begin_name("begin here"), None);
        assert_eq!(begin_name("begin 644"), None);
    }

    #[test]
    fn blocks_decode_with_and_without_stripped_blanks() {
        // "Cat" and "Harrowgate" as `uuencode` writes them.
        let text = "Hi,\r\nbegin 644 a.txt\r\n#0V%T\r\n`\r\nend\r\nthen\r\nbegin 644 b.txt\r\n*2&%R<F]W9V%T90``\r\n`\r\nend\r\n";
        let got = blocks(text);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name, "a.txt");
        assert_eq!(got[0].data.as_deref(), Ok(&b"Cat"[..]));
        assert_eq!(got[1].data.as_deref(), Ok(&b"Harrowgate"[..]));
        assert!(got[1].ended);
        // The same line with its trailing padding stripped still decodes.
        let stripped = blocks("begin 644 b.txt\n*2&%R<F]W9V%T90\nend\n");
        assert_eq!(stripped[0].data.as_deref(), Ok(&b"Harrowgate"[..]));
    }

    #[test]
    fn bad_lines_and_missing_end() {
        let bad = blocks("begin 644 x\r\n#0V{T\r\nend\r\n");
        assert_eq!(bad[0].data, Err(BadLine));
        let open = blocks("begin 644 x\r\n#0V%T\r\n");
        assert_eq!(open[0].data.as_deref(), Ok(&b"Cat"[..]));
        assert!(!open[0].ended);
        assert!(blocks("At the beginning we begin 644 times.\r\n").is_empty());
        // A file without its `end` does not hide the next one.
        let two = blocks("begin 644 a\n#0V%T\nbegin 644 b\n#0V%T\nend\n");
        assert_eq!(two.len(), 2);
        assert!(!two[0].ended && two[1].ended);
        assert_eq!(two[1].data.as_deref(), Ok(&b"Cat"[..]));
    }
}
