//! Compressed RTF ([MS-OXRTFCP], "LZFu"): how Outlook stores a rich-text body
//! (`PR_RTF_COMPRESSED`) in `.msg` files and TNEF. A message written in rich
//! text may carry its body only there. A small decoder, because the format is
//! a page of spec and no maintained crate offers just this.
//!
//! The output is capped by the caller's budget (the remaining decompressed
//! bytes of the message), so a lying `rawsize` cannot make it allocate more.

/// The dictionary's initial contents, fixed by the spec (207 bytes).
const PREFIX: &[u8] = b"{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern \\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";

use crate::extract::Ctx;

const COMPRESSED: u32 = 0x7546_5A4C; // "LZFu"
const UNCOMPRESSED: u32 = 0x414C_454D; // "MELA"

/// Why a stream could not be decoded.
#[derive(Debug, PartialEq, Eq)]
pub enum Error {
    /// The stream does not follow the format at this point.
    Corrupt(&'static str),
    /// The output would exceed the cap.
    TooLarge,
}

/// Decodes a compressed-RTF stream into RTF bytes, at most `cap` of them.
pub fn decompress(data: &[u8], cap: usize) -> Result<Vec<u8>, Error> {
    let header = |i: usize| {
        data.get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let (Some(raw_size), Some(magic)) = (header(4), header(8)) else {
        return Err(Error::Corrupt("short header"));
    };
    let body = data.get(16..).unwrap_or_default();
    match magic {
        UNCOMPRESSED => {
            let n = (raw_size as usize).min(body.len());
            if n > cap {
                return Err(Error::TooLarge);
            }
            Ok(body.get(..n).unwrap_or_default().to_vec())
        }
        COMPRESSED => lz(body, (raw_size as usize).min(cap), cap),
        _ => Err(Error::Corrupt("unknown compression type")),
    }
}

fn lz(body: &[u8], expect: usize, cap: usize) -> Result<Vec<u8>, Error> {
    let mut dict = [0u8; 4096];
    dict[..PREFIX.len()].copy_from_slice(PREFIX);
    let mut write = PREFIX.len();
    let mut out = Vec::with_capacity(expect);
    let mut input = body.iter().copied();
    while let Some(control) = input.next() {
        for bit in 0..8 {
            if control & (1 << bit) == 0 {
                let Some(b) = input.next() else {
                    return Ok(out);
                };
                push(&mut out, &mut dict, &mut write, b, cap)?;
                continue;
            }
            let (Some(hi), Some(lo)) = (input.next(), input.next()) else {
                return Ok(out);
            };
            let word = u16::from_be_bytes([hi, lo]) as usize;
            let (offset, len) = (word >> 4, (word & 0xF) + 2);
            if offset == write {
                return Ok(out); // the end marker
            }
            for i in 0..len {
                let b = dict[(offset + i) % 4096];
                push(&mut out, &mut dict, &mut write, b, cap)?;
            }
        }
    }
    Ok(out)
}

fn push(
    out: &mut Vec<u8>,
    dict: &mut [u8; 4096],
    write: &mut usize,
    b: u8,
    cap: usize,
) -> Result<(), Error> {
    if out.len() >= cap {
        return Err(Error::TooLarge);
    }
    out.push(b);
    dict[*write] = b;
    *write = (*write + 1) % 4096;
    Ok(())
}

/// Decodes a `PR_RTF_COMPRESSED` body at `loc`, charging the decoded bytes
/// to the message budget: the RTF, for the walker to read as such.
pub(crate) fn read_body(ctx: &mut Ctx, loc: &str, data: &[u8]) -> Option<Vec<u8>> {
    let remaining = ctx
        .limits
        .max_decompressed_bytes
        .saturating_sub(ctx.decompressed);
    let cap = usize::try_from(remaining).unwrap_or(usize::MAX);
    match decompress(data, cap) {
        Ok(rtf) => ctx.charge(loc, rtf.len() as u64).then_some(rtf),
        // Charging one byte past the budget flags the part with the reason.
        Err(Error::TooLarge) => {
            ctx.charge(loc, remaining.saturating_add(1));
            None
        }
        Err(Error::Corrupt(why)) => {
            ctx.anomaly(loc, format!("compressed RTF body not decoded: {why}"));
            None
        }
    }
}

/// [MS-OXRTFCP] 3.1.1: the specification's own compressed example, which
/// decodes to `{\rtf1\ansi\ansicpg1252\pard hello world}` and CRLF.
#[cfg(test)]
pub(crate) const SPEC_EXAMPLE: &[u8] = &[
    0x2d, 0x00, 0x00, 0x00, 0x2b, 0x00, 0x00, 0x00, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5, 0xc7, 0xa7,
    0x03, 0x00, 0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42, 0x32, 0x0a, 0xf3, 0x20,
    0x68, 0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0, 0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f,
    0xa0,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_is_207_bytes() {
        assert_eq!(PREFIX.len(), 207);
    }

    #[test]
    fn spec_examples() {
        // [MS-OXRTFCP] 3.1.1 and 3.1.2.
        let want = b"{\\rtf1\\ansi\\ansicpg1252\\pard hello world}\r\n";
        assert_eq!(decompress(SPEC_EXAMPLE, 1 << 20).unwrap(), want.to_vec());

        let mut mela = vec![0u8; 16];
        mela[4..8].copy_from_slice(&5u32.to_le_bytes());
        mela[8..12].copy_from_slice(&UNCOMPRESSED.to_le_bytes());
        mela.extend_from_slice(b"{abc}");
        assert_eq!(decompress(&mela, 100).unwrap(), b"{abc}".to_vec());
    }

    #[test]
    fn hostile_streams() {
        let mut bomb = [0u8; 16].to_vec();
        bomb[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        bomb[8..12].copy_from_slice(&COMPRESSED.to_le_bytes());
        // Every control bit a reference of length 17: grows until capped.
        for _ in 0..1000 {
            bomb.extend_from_slice(&[0xff, 0, 0xf, 0, 0xf, 0, 0xf, 0, 0xf]);
            bomb.extend_from_slice(&[0, 0xf, 0, 0xf, 0, 0xf, 0, 0xf]);
        }
        let cases: &[(&[u8], usize)] = &[
            (b"", 100),
            (b"\x00\x00\x00\x00\xff\xff\xff\xffLZFu\x00\x00\x00\x00", 100),
            (&bomb, 40),
        ];
        for (input, cap) in cases {
            if let Ok(out) = decompress(input, *cap) {
                assert!(out.len() <= *cap);
            }
        }
        assert_eq!(decompress(&bomb, 40), Err(Error::TooLarge));
    }
}
