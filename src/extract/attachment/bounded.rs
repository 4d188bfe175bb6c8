//! Bounded decompression: the one place where bytes are inflated, so that every
//! reader charges the message's decompressed-byte budget *while* reading and a
//! bomb stops at the budget instead of allocating past it (RELIABILITY 33).
//!
//! The compression-ratio limit is checked on members of at least
//! [`RATIO_FLOOR`] bytes: small XML parts legitimately compress far better
//! than 200:1 (a sheet of empty cells), and below a megabyte a high ratio
//! cannot hurt us anyway.

use super::super::Ctx;
use std::io::Read;

/// Output size under which the compression ratio is not judged.
pub const RATIO_FLOOR: u64 = 1 << 20;

/// Chunk size for reading: the most we allocate beyond what we have charged.
const CHUNK: usize = 64 * 1024;

/// Why a bounded read stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The limit was hit; the part is already flagged uninspectable.
    Limit,
    /// The data is corrupt (the decoder's error, no content).
    Corrupt(String),
}

/// True when `out` bytes from `input` compressed bytes exceed the ratio limit.
pub fn ratio_exceeded(ctx: &Ctx, out: u64, input: u64) -> bool {
    out >= RATIO_FLOOR
        && out
            > input
                .max(1)
                .saturating_mul(ctx.limits.max_compression_ratio)
}

/// Flags `loc` as over the compression-ratio limit.
pub fn flag_ratio(ctx: &mut Ctx, loc: &str) {
    let max = ctx.limits.max_compression_ratio;
    ctx.uninspectable(loc, format!("compression ratio over the limit of {max}:1"));
}

/// Flags `loc` when a member's declared sizes already break the ratio limit,
/// so it is refused before a byte is inflated.
pub fn declared_ratio_ok(ctx: &mut Ctx, loc: &str, size: u64, compressed: u64) -> bool {
    if ratio_exceeded(ctx, size, compressed) {
        flag_ratio(ctx, loc);
        return false;
    }
    true
}

/// Reads `reader` to the end in bounded chunks, charging each chunk to the
/// message budget and checking the actual ratio against `compressed` input
/// bytes. Never allocates more than one chunk past the budget.
pub fn read_all(
    ctx: &mut Ctx,
    loc: &str,
    reader: impl Read,
    compressed: u64,
) -> Result<Vec<u8>, Stop> {
    let remaining = ctx
        .limits
        .max_decompressed_bytes
        .saturating_sub(ctx.decompressed);
    // One byte more than the budget, so that reaching it is seen as going over.
    let mut limited = reader.take(remaining.saturating_add(1));
    let mut out = Vec::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        if ctx.out_of_time(loc) {
            return Err(Stop::Limit);
        }
        let n = match limited.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Stop::Corrupt(e.to_string())),
        };
        if !ctx.charge(loc, n as u64) {
            return Err(Stop::Limit);
        }
        out.extend_from_slice(buf.get(..n).unwrap_or_default());
        if ratio_exceeded(ctx, out.len() as u64, compressed) {
            flag_ratio(ctx, loc);
            return Err(Stop::Limit);
        }
    }
}

/// Zlib-compresses `data`: the inputs the decompression tests need.
#[cfg(test)]
pub fn zlib(data: &[u8]) -> Vec<u8> {
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
