//! Transfer decodings that more than one reader needs: lenient base64 and
//! quoted-printable (RFC 2045, read as clients read them), and ISO-2022-JP
//! encoded words with no-op escape pairs removed. Pure functions over bytes.

use super::Ctx;
use base64::Engine;

/// RFC 2045 §6.8: characters outside the alphabet are ignored; data after the
/// padding is decoded as well, and missing padding is tolerated. The first
/// two are anomalies. A decoding that fails is empty.
pub(crate) fn lenient_base64(ctx: &mut Ctx, loc: &str, body: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(body.len() / 4 * 3 + 3);
    if !base64_pieces(ctx, loc, body, |piece| out.extend_from_slice(piece)) {
        return Vec::new();
    }
    out
}

/// [`lenient_base64`] of `body`, or `None` when that is exactly `known`
/// (the parser's decoding of the same part, in the common case): the two
/// are compared as `body` is decoded, so an attachment that decodes as the
/// parser decoded it is not held a second time. Copied from the first byte
/// that differs, so any other reading is still returned whole.
pub(crate) fn lenient_base64_unless(
    ctx: &mut Ctx,
    loc: &str,
    body: &[u8],
    known: &[u8],
) -> Option<Vec<u8>> {
    let mut seen = Unless::new(known);
    if !base64_pieces(ctx, loc, body, |piece| seen.push(piece)) {
        return (!known.is_empty()).then(Vec::new);
    }
    seen.finish()
}

/// Decoded bytes compared against `known` as they come, and kept only from
/// the first difference on (with the equal prefix copied from `known`).
struct Unless<'k> {
    known: &'k [u8],
    /// How many bytes so far matched `known`.
    same: usize,
    own: Option<Vec<u8>>,
}

impl<'k> Unless<'k> {
    fn new(known: &'k [u8]) -> Self {
        Unless {
            known,
            same: 0,
            own: None,
        }
    }

    fn push(&mut self, piece: &[u8]) {
        if let Some(own) = &mut self.own {
            return own.extend_from_slice(piece);
        }
        if self.known[self.same..].starts_with(piece) {
            self.same += piece.len();
            return;
        }
        let mut own = Vec::with_capacity(self.same + piece.len());
        own.extend_from_slice(&self.known[..self.same]);
        own.extend_from_slice(piece);
        self.own = Some(own);
    }

    /// `None` when everything pushed was `known`, whole.
    fn finish(self) -> Option<Vec<u8>> {
        match self.own {
            Some(own) => Some(own),
            None if self.same == self.known.len() => None,
            None => Some(self.known[..self.same].to_vec()),
        }
    }
}

/// The lenient decoding of `body` handed to `emit` a piece at a time
/// (clean characters are gathered and decoded a chunk at a time, so a large
/// attachment is not copied once more before it is decoded); false when a
/// chunk does not decode (then the decoding as a whole is empty). Records
/// stray characters as an anomaly.
fn base64_pieces(ctx: &mut Ctx, loc: &str, body: &[u8], mut emit: impl FnMut(&[u8])) -> bool {
    // A multiple of 4: every chunk but the last decodes to whole bytes.
    const CHUNK: usize = 64 * 1024;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true),
    );
    let mut clean: Vec<u8> = Vec::with_capacity(CHUNK.min(body.len()));
    let mut piece: Vec<u8> = Vec::with_capacity(CHUNK / 4 * 3);
    // Decodes `clean` (one character left over after the last whole
    // quantum carries no whole byte), hands the bytes on and empties it;
    // false when it did not decode.
    let mut decode = |clean: &mut Vec<u8>| -> bool {
        if clean.len() % 4 == 1 {
            clean.pop();
        }
        piece.clear();
        let ok = engine.decode_vec(&clean[..], &mut piece).is_ok();
        emit(&piece);
        clean.clear();
        ok
    };
    let (mut stray, mut padded, mut after_padding) = (false, false, false);
    let mut failed = false;
    for &b in body {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'+' | b'/' => {
                if std::mem::take(&mut padded) {
                    // Data after the padding: RFC 2045 readers stop at the
                    // padding, others go on. Both readings are kept (the
                    // first is a prefix of this one): the quantum the
                    // padding ended is decoded, and a new one starts.
                    after_padding = true;
                    failed |= !decode(&mut clean);
                }
                clean.push(b)
            }
            b'=' => padded = true,
            b'\r' | b'\n' | b' ' | b'\t' => {}
            _ => stray = true,
        }
        if clean.len() == CHUNK {
            failed |= !decode(&mut clean);
        }
    }
    if stray {
        ctx.anomaly(loc, "base64 with characters outside its alphabet (ignored)");
    }
    if after_padding {
        ctx.anomaly(loc, "base64 with data after its padding (decoded too)");
    }
    failed |= !decode(&mut clean);
    !failed
}

/// RFC 2047 encoded words decoded wherever they stand: also inside quoted
/// strings and parameter values (a display name in quotes, a `filename=`),
/// where the RFC does not allow them but Outlook, Gmail and Python's
/// `email` decode them, so the recipient sees the decoded text. Blanks
/// between two encoded words go, as in a header. `None` when there is no
/// encoded word. The words are decoded by mail-parser, as in every other
/// header.
pub(crate) fn encoded_words_anywhere(s: &str) -> Option<String> {
    let mut out = String::new();
    let (mut from, mut copied, mut last_word_end) = (0, 0, None);
    while let Some(at) = s[from..].find("=?").map(|i| from + i) {
        let mut stream = mail_parser::parsers::MessageStream::new(&s.as_bytes()[at + 1..]);
        let Some(text) = stream.decode_rfc2047() else {
            from = at + 2;
            continue;
        };
        let gap = &s[copied..at];
        if !(last_word_end == Some(copied) && gap.trim().is_empty()) {
            out.push_str(gap);
        }
        out.push_str(&text);
        copied = at + 1 + stream.offset();
        (from, last_word_end) = (copied, Some(copied));
    }
    last_word_end?;
    out.push_str(&s[copied..]);
    Some(out)
}

/// Lenient quoted-printable: soft breaks joined, valid escapes (either case)
/// decoded, invalid ones kept as written.
pub(crate) fn quoted_printable(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let mut i = 0;
    while i < body.len() {
        if body[i] != b'=' {
            out.push(body[i]);
            i += 1;
            continue;
        }
        let rest = &body[i + 1..];
        let ws = rest
            .iter()
            .take_while(|&&b| b == b' ' || b == b'\t')
            .count();
        if rest[ws..].starts_with(b"\r\n") {
            i += 1 + ws + 2;
        } else if rest[ws..].starts_with(b"\n") {
            i += 1 + ws + 1;
        } else if let Some(v) = rest
            .get(..2)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b'=');
            i += 1;
        }
    }
    out
}

/// The ISO-2022-JP encoded words of a raw header value (RFC 2047) read with
/// no-op escape pairs removed, adjacent words' bytes joined first (a pair may
/// straddle two words). `None` when there is no such word.
pub(crate) fn iso2022_encoded_words(raw: &str) -> Option<String> {
    let mut out = String::new();
    let mut bytes: Vec<u8> = Vec::new();
    let mut rest = raw;
    let mut found = false;
    while let Some(start) = rest.find("=?") {
        let word = &rest[start + 2..];
        let mut fields = word.splitn(4, '?');
        let (Some(charset), Some(enc), Some(text)) = (fields.next(), fields.next(), fields.next())
        else {
            break;
        };
        // The encoded text ends at the next `?`, which must open the `?=`.
        let end = charset.len() + enc.len() + text.len() + 2;
        if !word[end..].starts_with("?=") {
            break;
        }
        let between = &rest[..start];
        if !between.trim().is_empty() || !charset.to_ascii_lowercase().starts_with("iso-2022-jp") {
            flush(&mut out, &mut bytes);
            out.push_str(between);
        }
        if charset.to_ascii_lowercase().starts_with("iso-2022-jp") {
            found = true;
            match enc {
                "B" | "b" => {
                    use base64::Engine;
                    let engine = base64::engine::general_purpose::STANDARD_NO_PAD;
                    bytes.extend(
                        engine
                            .decode(text.trim_end_matches('='))
                            .unwrap_or_default(),
                    );
                }
                _ => bytes.extend(quoted_printable(text.replace('_', " ").as_bytes())),
            }
        } else {
            out.push_str(&rest[start..start + 2 + end + 2]);
        }
        rest = &word[end + 2..];
    }
    flush(&mut out, &mut bytes);
    out.push_str(rest);
    return found.then_some(out);

    fn flush(out: &mut String, bytes: &mut Vec<u8>) {
        let pruned = without_empty_escapes(bytes);
        out.push_str(
            &encoding_rs::ISO_2022_JP
                .decode_without_bom_handling(&pruned)
                .0,
        );
        bytes.clear();
    }
}

/// `bytes` with every ISO 2022 escape sequence removed that is directly
/// followed by another (it selects a character set no character uses).
pub(crate) fn without_empty_escapes(bytes: &[u8]) -> Vec<u8> {
    let escape_len = |at: usize| -> Option<usize> {
        match bytes.get(at..at + 3)? {
            [0x1b, b'(' | b'$', b'@' | b'A'..=b'J'] => Some(3),
            [0x1b, b'$', b'(' | b')'] => bytes.get(at + 3).map(|_| 4),
            _ => None,
        }
    };
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if let Some(len) = escape_len(i) {
            if bytes.get(i + len) == Some(&0x1b) && escape_len(i + len).is_some() {
                i += len;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso2022_words_are_joined_then_pruned() {
        // "Harrow ESC $B" and "ESC (B gate" in two words: the pair straddles them.
        let raw = "=?ISO-2022-JP?B?SGFycm93GyRC?= =?iso-2022-jp?Q?=1B(Bgate?= Shipping";
        assert_eq!(
            iso2022_encoded_words(raw).as_deref(),
            Some("Harrowgate Shipping")
        );
        assert_eq!(iso2022_encoded_words("=?utf-8?q?x?= plain"), None);
    }

    #[test]
    fn qp_soft_breaks_and_bad_escapes() {
        assert_eq!(
            quoted_printable(b"Harrow=\r\ngate =3d =ZZ =c3=a9"),
            "Harrowgate = =ZZ é".as_bytes()
        );
    }

    #[test]
    fn base64_data_after_the_padding_is_decoded_too() {
        let limits = Default::default();
        let mut ctx = Ctx::new(&limits);
        let out = lenient_base64(&mut ctx, "body", b"aGk=SGFycm93Z2F0ZQ==\r\naGk=");
        assert_eq!(out, b"hiHarrowgatehi");
        assert_eq!(ctx.out.anomalies.len(), 1);
        let mut ctx = Ctx::new(&limits);
        assert_eq!(lenient_base64(&mut ctx, "body", b"aGk=\r\n"), b"hi");
        assert!(
            ctx.out.anomalies.is_empty(),
            "padding at the end is no anomaly"
        );
    }

    #[test]
    fn encoded_words_are_decoded_where_clients_decode_them() {
        let quoted = "\"=?utf-8?q?Harrow?= =?utf-8?b?Z2F0ZQ==?=\" <x@y.example>";
        let want = "\"Harrowgate\" <x@y.example>";
        assert_eq!(encoded_words_anywhere(quoted).as_deref(), Some(want));
        let kept = "=?utf-8?q?a?= and =?utf-8?q?b?=";
        assert_eq!(encoded_words_anywhere(kept).as_deref(), Some("a and b"));
        assert_eq!(encoded_words_anywhere("no =? word ?= here"), None);
        let bad_then_good = "=?x =?utf-8?q?ok?=";
        assert_eq!(
            encoded_words_anywhere(bad_then_good).as_deref(),
            Some("=?x ok")
        );
    }

    #[test]
    fn base64_unless_known_keeps_only_a_different_decoding() {
        use base64::Engine;
        // Over one 64 KiB chunk of clean characters, so pieces are compared across chunks.
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let body = base64::engine::general_purpose::STANDARD.encode(&data);
        let mut changed = data.clone();
        changed[150_000] ^= 1;
        let limits = Default::default();
        // (what, the known decoding, what comes back)
        type Case<'a> = (&'a str, &'a [u8], Option<&'a [u8]>);
        let cases: [Case; 6] = [
            ("the same", &data, None),
            ("differs in a later chunk", &changed, Some(&data)),
            (
                "known is longer",
                &[&data[..], b"more"].concat(),
                Some(&data),
            ),
            ("known is a prefix", &data[..100_000], Some(&data)),
            ("known is empty", b"", Some(&data)),
            ("differs at the first byte", b"\xff", Some(&data)),
        ];
        for (what, known, want) in cases {
            let mut ctx = Ctx::new(&limits);
            let got = lenient_base64_unless(&mut ctx, "body", body.as_bytes(), known);
            assert_eq!(got.as_deref(), want, "{what}");
            assert_eq!(
                lenient_base64(&mut ctx, "body", body.as_bytes()),
                data,
                "{what}"
            );
        }
    }

    #[test]
    fn base64_unless_known_matches_the_plain_decoding_when_broken() {
        let limits = Default::default();
        let mut ctx = Ctx::new(&limits);
        // Stray characters: the anomaly is recorded either way.
        let body = b"SGVs!bG8*gd29y\r\nbGQ";
        assert_eq!(
            lenient_base64_unless(&mut ctx, "body", body, b"Hello world"),
            None
        );
        assert_eq!(ctx.out.anomalies.len(), 1);
        assert_eq!(
            lenient_base64_unless(&mut ctx, "body", body, b"Hello"),
            Some(b"Hello world".to_vec())
        );
    }

    #[test]
    fn base64_with_garbage() {
        let limits = Default::default();
        let mut ctx = Ctx::new(&limits);
        assert_eq!(
            lenient_base64(&mut ctx, "body", b"SGVs!bG8*gd29y\r\nbGQ"),
            b"Hello world"
        );
        assert_eq!(ctx.out.anomalies.len(), 1);
    }
}
