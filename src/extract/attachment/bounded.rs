//! Bounded decompression: the one place where bytes are inflated, so that every
//! reader charges the message's decompressed-byte budget *while* reading and a
//! bomb stops at the budget instead of allocating past it (RELIABILITY 33).
//!
//! The compression-ratio limit is checked on members of at least
//! [`RATIO_FLOOR`] bytes: small XML parts legitimately compress far better
//! than 200:1 (a sheet of empty cells), and below a megabyte a high ratio
//! cannot hurt us anyway.

use super::super::Ctx;
use std::borrow::Cow;
use std::io::{Cursor, Read, Write};

/// Output size under which the compression ratio is not judged.
pub(crate) const RATIO_FLOOR: u64 = 1 << 20;

/// Chunk size for reading: the most we allocate beyond what we have charged.
const CHUNK: usize = 64 * 1024;

/// Why a bounded read stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The limit was hit; the part is already flagged uninspectable.
    Limit,
    /// The data is corrupt (the decoder's error, no content).
    Corrupt(String),
}

/// True when `out` bytes from `input` compressed bytes exceed the ratio limit.
pub(crate) fn ratio_exceeded(ctx: &Ctx, out: u64, input: u64) -> bool {
    out >= RATIO_FLOOR
        && out
            > input
                .max(1)
                .saturating_mul(ctx.limits.max_compression_ratio)
}

/// Flags `loc` as over the compression-ratio limit.
pub(crate) fn flag_ratio(ctx: &mut Ctx, loc: &str) {
    let max = ctx.limits.max_compression_ratio;
    ctx.uninspectable(loc, format!("compression ratio over the limit of {max}:1"));
}

/// Flags `loc` when a member's declared sizes already break the ratio limit,
/// so it is refused before a byte is inflated.
pub(crate) fn declared_ratio_ok(ctx: &mut Ctx, loc: &str, size: u64, compressed: u64) -> bool {
    if ratio_exceeded(ctx, size, compressed) {
        flag_ratio(ctx, loc);
        return false;
    }
    true
}

/// Reads `reader` to the end in bounded chunks, charging each chunk to the
/// message budget and checking the actual ratio against `compressed` input
/// bytes. Never allocates more than one chunk past the budget.
pub(crate) fn read_all(
    ctx: &mut Ctx,
    loc: &str,
    reader: impl Read,
    compressed: u64,
) -> Result<Vec<u8>, Stop> {
    let mut out = Vec::new();
    read_into(ctx, loc, reader, compressed, &mut out)?;
    Ok(out)
}

/// [`read_all`] into `sink`; the number of bytes read.
fn read_into(
    ctx: &mut Ctx,
    loc: &str,
    reader: impl Read,
    compressed: u64,
    sink: &mut impl Write,
) -> Result<u64, Stop> {
    let remaining = ctx
        .limits
        .max_decompressed_bytes
        .saturating_sub(ctx.decompressed);
    // One byte more than the budget, so that reaching it is seen as going over.
    let mut limited = reader.take(remaining.saturating_add(1));
    let mut total = 0u64;
    let mut buf = vec![0u8; CHUNK];
    loop {
        if ctx.out_of_time(loc) {
            return Err(Stop::Limit);
        }
        let n = match limited.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Stop::Corrupt(e.to_string())),
        };
        if !ctx.charge(loc, n as u64) {
            return Err(Stop::Limit);
        }
        total += n as u64;
        sink.write_all(buf.get(..n).unwrap_or_default())
            .map_err(|e| Stop::Corrupt(e.to_string()))?;
        if ratio_exceeded(ctx, total, compressed) {
            flag_ratio(ctx, loc);
            return Err(Stop::Limit);
        }
    }
}

/// The name and bytes of ZIP member `i`; `None` (flagged if it matters) for
/// directories, encrypted, over-limit or corrupt members. A stored member is
/// read through (charged, its checksum verified) and then borrowed from
/// `bytes` rather than copied; a compressed one is inflated.
pub(crate) fn zip_member<'a>(
    ctx: &mut Ctx,
    loc: &str,
    bytes: &'a [u8],
    archive: &mut zip::ZipArchive<Cursor<&'a [u8]>>,
    i: usize,
) -> Option<(String, Cow<'a, [u8]>)> {
    let (name, encrypted, size, compressed) = match archive.by_index_raw(i) {
        Ok(f) => (
            String::from_utf8_lossy(f.name_raw()).into_owned(),
            f.encrypted(),
            f.size(),
            f.compressed_size(),
        ),
        Err(e) => {
            ctx.uninspectable(loc, format!("corrupt zip: {e}"));
            return None;
        }
    };
    let member = format!("{loc}/{name}");
    if encrypted {
        ctx.uninspectable(&member, "password-protected zip");
        return None;
    }
    if name.ends_with('/') || !declared_ratio_ok(ctx, &member, size, compressed) {
        return None;
    }
    let file = match archive.by_index(i) {
        Ok(f) => f,
        Err(e) => {
            ctx.uninspectable(&member, format!("corrupt zip member: {e}"));
            return None;
        }
    };
    let stored = (file.compression() == zip::CompressionMethod::Stored).then(|| file.data_start());
    let read = match stored {
        Some(start) => read_into(ctx, &member, file, compressed, &mut std::io::sink()).map(|n| {
            let start = usize::try_from(start).unwrap_or(usize::MAX);
            let end = start.saturating_add(usize::try_from(n).unwrap_or(usize::MAX));
            bytes.get(start..end).map(Cow::Borrowed)
        }),
        None => read_all(ctx, &member, file, compressed).map(|d| Some(Cow::Owned(d))),
    };
    match read {
        Ok(Some(data)) => Some((name, data)),
        Ok(None) => {
            ctx.uninspectable(&member, "corrupt zip member: data outside the archive");
            None
        }
        Err(Stop::Limit) => None,
        Err(Stop::Corrupt(e)) => {
            ctx.uninspectable(&member, format!("corrupt zip member: {e}"));
            None
        }
    }
}

/// Zlib-compresses `data`: the inputs the decompression tests need.
#[cfg(test)]
pub(crate) fn zlib(data: &[u8]) -> Vec<u8> {
    use flate2::{write::ZlibEncoder, Compression};
    use std::io::Write;
    let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::extract::Limits;
    use flate2::read::ZlibDecoder;

    #[test]
    fn table() {
        // (input size, budget, ratio limit, expect ok, expected reason fragment)
        let cases: &[(usize, u64, u64, bool, &str)] = &[
            (1000, 1 << 20, 200, true, ""),
            (5 << 20, 1 << 20, 100_000, false, "decompressed bytes"),
            (4 << 20, 64 << 20, 200, false, "compression ratio"),
        ];
        for &(size, budget, ratio, ok, reason) in cases {
            let limits = Limits {
                max_decompressed_bytes: budget,
                max_compression_ratio: ratio,
                ..Limits::default()
            };
            let mut ctx = Ctx::new(&limits);
            let packed = zlib(&vec![0u8; size]);
            let got = read_all(
                &mut ctx,
                "x",
                ZlibDecoder::new(&packed[..]),
                packed.len() as u64,
            );
            assert_eq!(got.is_ok(), ok, "size {size}");
            if ok {
                assert_eq!(got.unwrap().len(), size);
            } else {
                assert!(ctx.out.uninspectable[0].reason.contains(reason), "{size}");
                assert!(ctx.decompressed <= budget + CHUNK as u64);
            }
        }
    }

    #[test]
    fn corrupt_input_is_reported_not_panicked() {
        let limits = Limits::default();
        let mut ctx = Ctx::new(&limits);
        let got = read_all(
            &mut ctx,
            "x",
            ZlibDecoder::new(&b"\x78\x9cnot zlib"[..]),
            10,
        );
        assert!(matches!(got, Err(Stop::Corrupt(_))));
    }
}
