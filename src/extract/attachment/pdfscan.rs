//! Bounded pre-decoding of every PDF stream, before lopdf sees the file.
//!
//! lopdf decodes streams (FlateDecode, LZWDecode, ASCII85Decode, and a raw
//! deflate retry when zlib fails) with no bound, at load (object streams) and
//! later (content streams, CMaps). So each `stream … endstream` span is first
//! decoded here with the filters its dictionary names, in order, every output
//! byte charged to the message budget and judged against the ratio limit; a
//! stream that names no filter we recognise is still tried as zlib. Only a
//! file whose streams all fit is handed to lopdf, whose decoding then cannot
//! produce more than we already accepted. Filter names are read after
//! `#hh` unescaping, so `/Flate#44ecode` is `/FlateDecode` here as in lopdf.

use super::bounded::{self, Stop};
use crate::extract::Ctx;
use std::io::Write;

/// A stream filter that can expand its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Filter {
    Flate,
    Lzw,
    Ascii85,
}

/// Decodes every stream within the limits; false (and the part flagged) when
/// the streams together break one.
pub(crate) fn streams_within_limits(ctx: &mut Ctx, loc: &str, bytes: &[u8]) -> bool {
    let mut pos = 0;
    let mut dict_from = 0;
    while let Some((start, end)) = next_stream(bytes, pos) {
        let dict = bytes.get(dict_from..start).unwrap_or_default();
        pos = end;
        dict_from = end;
        let Some(data) = bytes.get(start..end) else {
            break;
        };
        if decode_chain(ctx, loc, &filters(dict), data) == Err(Stop::Limit) {
            return false;
        }
    }
    true
}

/// The filters named in the dictionary text before a stream, in order.
fn filters(dict: &[u8]) -> Vec<Filter> {
    let dict = unescape_names(dict);
    let tail = match rfind(&dict, b"obj") {
        Some(at) => dict.get(at..).unwrap_or_default(),
        None => &dict,
    };
    const NAMES: &[(&[u8], Filter)] = &[
        (b"/FlateDecode", Filter::Flate),
        (b"/LZWDecode", Filter::Lzw),
        (b"/ASCII85Decode", Filter::Ascii85),
    ];
    let mut found: Vec<(usize, Filter)> = Vec::new();
    for (name, filter) in NAMES {
        let mut from = 0;
        while let Some(at) = tail.get(from..).and_then(|t| find(t, name)) {
            found.push((from + at, *filter));
            from += at + name.len();
        }
    }
    found.sort_by_key(|(at, _)| *at);
    found.into_iter().map(|(_, f)| f).collect()
}

/// Applies the chain; with no recognised filter, tries zlib anyway.
fn decode_chain(ctx: &mut Ctx, loc: &str, chain: &[Filter], data: &[u8]) -> Result<(), Stop> {
    let chain = if chain.is_empty() {
        &[Filter::Flate][..]
    } else {
        chain
    };
    let mut current = data.to_vec();
    for filter in chain {
        let input = std::mem::take(&mut current);
        current = match filter {
            Filter::Flate => inflate(ctx, loc, &input)?,
            Filter::Lzw => lzw(ctx, loc, &input)?,
            Filter::Ascii85 => ascii85(ctx, loc, &input)?,
        };
    }
    Ok(())
}

/// zlib, then (as lopdf does when zlib yields nothing) raw deflate after the
/// two header bytes. Corrupt data decodes to what came out before the error.
fn inflate(ctx: &mut Ctx, loc: &str, input: &[u8]) -> Result<Vec<u8>, Stop> {
    let zlib = flate2::read::ZlibDecoder::new(input);
    match bounded::read_all(ctx, loc, zlib, input.len() as u64) {
        Ok(out) => Ok(out),
        Err(Stop::Limit) => Err(Stop::Limit),
        Err(Stop::Corrupt(_)) => {
            let raw = flate2::read::DeflateDecoder::new(input.get(2..).unwrap_or_default());
            match bounded::read_all(ctx, loc, raw, input.len() as u64) {
                Err(Stop::Limit) => Err(Stop::Limit),
                Ok(out) => Ok(out),
                Err(Stop::Corrupt(_)) => Ok(Vec::new()),
            }
        }
    }
}

/// A writer that refuses to grow past `cap` bytes.
struct Capped {
    out: Vec<u8>,
    cap: usize,
    /// A write was refused: the decoder had more to give.
    refused: bool,
}

impl Write for Capped {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.out.len() + buf.len() > self.cap {
            self.refused = true;
            return Err(std::io::Error::other("over the cap"));
        }
        self.out.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// LZW as lopdf decodes it (MSB first, early change), into a capped buffer.
fn lzw(ctx: &mut Ctx, loc: &str, input: &[u8]) -> Result<Vec<u8>, Stop> {
    let remaining = ctx
        .limits
        .max_decompressed_bytes
        .saturating_sub(ctx.decompressed);
    let ratio_cap = (input.len() as u64)
        .saturating_mul(ctx.limits.max_compression_ratio)
        .max(bounded::RATIO_FLOOR);
    let cap = remaining.min(ratio_cap);
    let mut sink = Capped {
        out: Vec::new(),
        cap: usize::try_from(cap).unwrap_or(usize::MAX),
        refused: false,
    };
    // Both code-size conventions (lopdf picks by /EarlyChange, which we do not
    // parse): the larger output is the one to bound.
    for early_change in [true, false] {
        let mut attempt = Capped {
            out: Vec::new(),
            cap: sink.cap,
            refused: false,
        };
        let mut decoder = if early_change {
            weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
        } else {
            weezl::decode::Decoder::new(weezl::BitOrder::Msb, 8)
        };
        let _ = decoder.into_stream(&mut attempt).decode_all(input);
        if attempt.refused || attempt.out.len() > sink.out.len() {
            sink = attempt;
        }
        if sink.refused {
            break;
        }
    }
    if sink.refused && cap == remaining {
        // Charging past the budget flags the part with that reason.
        ctx.charge(loc, remaining.saturating_add(1));
        return Err(Stop::Limit);
    }
    let n = sink.out.len() as u64;
    if !ctx.charge(loc, n) {
        return Err(Stop::Limit);
    }
    if sink.refused || bounded::ratio_exceeded(ctx, n, input.len() as u64) {
        bounded::flag_ratio(ctx, loc);
        return Err(Stop::Limit);
    }
    Ok(sink.out)
}

/// ASCII85 (at most four bytes out per input byte, `z`); charged like the rest.
fn ascii85(ctx: &mut Ctx, loc: &str, input: &[u8]) -> Result<Vec<u8>, Stop> {
    let mut out = Vec::with_capacity(input.len());
    let mut group: Vec<u32> = Vec::with_capacity(5);
    for &c in input {
        match c {
            b'~' => break,
            b'z' if group.is_empty() => out.extend_from_slice(&[0; 4]),
            b'!'..=b'u' => {
                group.push(u32::from(c - b'!'));
                if group.len() == 5 {
                    out.extend_from_slice(&base85(&group).to_be_bytes());
                    group.clear();
                }
            }
            _ => {}
        }
    }
    if group.len() > 1 {
        let n = group.len() - 1;
        group.resize(5, 84);
        out.extend_from_slice(base85(&group).to_be_bytes().get(..n).unwrap_or_default());
    }
    if ctx.charge(loc, out.len() as u64) {
        Ok(out)
    } else {
        Err(Stop::Limit)
    }
}

fn base85(group: &[u32]) -> u32 {
    group
        .iter()
        .fold(0u32, |acc, &d| acc.wrapping_mul(85).wrapping_add(d))
}

/// Decodes `#hh` escapes, as in PDF names.
fn unescape_names(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'#', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// The data span of the next stream at or after `from`. A loop, not
/// recursion: a file of a million `endstream`s must not exhaust the stack.
pub(crate) fn next_stream(bytes: &[u8], mut from: usize) -> Option<(usize, usize)> {
    loop {
        let rest = bytes.get(from..)?;
        let at = find(rest, b"stream")?;
        let after = from + at + b"stream".len();
        from = after;
        if at >= 3 && rest.get(at - 3..at) == Some(b"end") {
            continue;
        }
        let start = match bytes.get(after..after + 2) {
            Some(b"\r\n") => after + 2,
            Some([b'\n', _]) | Some([b'\r', _]) => after + 1,
            _ => continue,
        };
        let tail = bytes.get(start..)?;
        return Some((
            start,
            start + find(tail, b"endstream").unwrap_or(tail.len()),
        ));
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

fn rfind(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::rfind(haystack, needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::attachment::bounded::zlib;
    use crate::extract::Limits;

    fn a85(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in data.chunks(4) {
            let mut buf = [0u8; 4];
            buf[..chunk.len()].copy_from_slice(chunk);
            let mut v = u32::from_be_bytes(buf);
            let mut digits = [0u8; 5];
            for d in digits.iter_mut().rev() {
                *d = (v % 85) as u8 + b'!';
                v /= 85;
            }
            out.extend_from_slice(&digits[..chunk.len() + 1]);
        }
        out.extend_from_slice(b"~>");
        out
    }

    fn pdf_with(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut pdf = format!("%PDF-1.4\n1 0 obj\n<< {dict} >>\nstream\n").into_bytes();
        pdf.extend_from_slice(data);
        pdf.extend_from_slice(b"\nendstream\nendobj\n");
        pdf
    }

    #[test]
    fn bombs_in_every_filter_chain_are_stopped() {
        let zeros = vec![0u8; 64 << 20];
        let packed = zlib(&zeros);
        let mut lzw_bomb = Vec::new();
        weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
            .into_stream(&mut lzw_bomb)
            .encode_all(&zeros[..8 << 20])
            .status
            .unwrap();
        let mut bad_header = packed.clone();
        bad_header[0] = 0xff; // zlib fails; lopdf's raw-deflate retry would not
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("/Filter /FlateDecode", packed.clone()),
            ("/Filter [/ASCII85Decode /FlateDecode]", a85(&packed)),
            ("/Filter /Flate#44ecode", packed.clone()),
            ("/Filter /LZWDecode", lzw_bomb),
            ("/Filter /FlateDecode", bad_header),
            ("/Filter 9 0 R", packed),
        ];
        for (dict, data) in cases {
            let limits = Limits::default();
            let mut ctx = Ctx::new(&limits);
            let ok = streams_within_limits(&mut ctx, "a", &pdf_with(dict, &data));
            assert!(!ok, "{dict}");
            assert!(
                ctx.out.uninspectable[0]
                    .reason
                    .contains("compression ratio"),
                "{dict}"
            );
            assert!(ctx.decompressed < 16 << 20, "{dict}: {}", ctx.decompressed);
        }
    }

    #[test]
    fn ordinary_streams_pass() {
        let text = b"BT /F1 12 Tf (Hello) Tj ET".repeat(100);
        let limits = Limits::default();
        for (dict, data) in [
            ("/Filter /FlateDecode", zlib(&text)),
            ("/Filter [/ASCII85Decode /FlateDecode]", a85(&zlib(&text))),
            ("/Length 10", text.clone()),
        ] {
            let mut ctx = Ctx::new(&limits);
            assert!(
                streams_within_limits(&mut ctx, "a", &pdf_with(dict, &data)),
                "{dict}"
            );
        }
    }

    #[test]
    fn ascii85_round_trip() {
        let limits = Limits::default();
        let mut ctx = Ctx::new(&limits);
        for data in [&b""[..], b"a", b"ab", b"abc", b"abcd", b"\0\0\0\0hello"] {
            assert_eq!(ascii85(&mut ctx, "a", &a85(data)).unwrap(), data);
        }
        assert_eq!(ascii85(&mut ctx, "a", b"z~>").unwrap(), vec![0; 4]);
    }

    #[test]
    fn next_stream_table() {
        type Case<'a> = (&'a [u8], Option<(usize, usize)>);
        let cases: &[Case] = &[
            (b"<<>>stream\nABCendstream", Some((11, 14))),
            (b"<<>>stream\r\nABendstream", Some((12, 14))),
            (b"endstream only", None),
            (b"no streams here", None),
            (b"stream\nunterminated", Some((7, 19))),
            (b"endstreamendstream stream\nX", Some((26, 27))),
        ];
        for (input, want) in cases {
            assert_eq!(
                next_stream(input, 0),
                *want,
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn many_endstreams_do_not_recurse() {
        let input = b"endstream ".repeat(1_000_000);
        assert_eq!(next_stream(&input, 0), None);
    }
}
