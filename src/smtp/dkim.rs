//! DKIM signing (RFC 6376, relaxed/relaxed; RSA-SHA256 and Ed25519-SHA256,
//! RFC 8463) of what matterwall sends on, as the very last change: a notice
//! appended, a header added or an encrypted copy made all break the
//! signature Exchange or Google made, so the firm's domain gets a fresh one
//! covering the message as it leaves (the loop stamp included). A message
//! is signed with the `[[dkim]]` key of its `From:` domain (or a parent
//! domain); others go unsigned, as before.

use crate::config::dkim::{DkimKey, DkimPrivate};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use sha2::{Digest, Sha256};

/// Signed when present (each occurrence), bottom-up as RFC 6376 §5.4.2 says.
const SIGNED: &[&str] = &[
    "from",
    "to",
    "cc",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "in-reply-to",
    "references",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
    "x-matterwall-stamp",
];

/// Header fields of `block` as (lower-case name, raw bytes with folding).
fn fields(block: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    for line in block.split_inclusive(|b| *b == b'\n') {
        if line == b"\r\n" {
            break;
        }
        match (line.first(), out.last_mut()) {
            (Some(b' ' | b'\t'), Some((_, raw))) => raw.extend_from_slice(line),
            _ => {
                let name = line.split(|b| *b == b':').next().unwrap_or_default();
                let name = String::from_utf8_lossy(name.trim_ascii()).to_ascii_lowercase();
                out.push((name, line.to_vec()));
            }
        }
    }
    out
}

/// Relaxed header canonicalisation: `name:value` with the name lower-case,
/// the value unfolded, whitespace runs as one space, none at either end.
fn relaxed_header(raw: &[u8]) -> Vec<u8> {
    let colon = raw.iter().position(|b| *b == b':').unwrap_or(raw.len());
    let name = raw[..colon].trim_ascii().to_ascii_lowercase();
    let value = raw.get(colon + 1..).unwrap_or_default();
    let mut out = name;
    out.push(b':');
    out.extend_from_slice(&collapse(value));
    out
}

/// Whitespace (CR and LF included, so folding goes) collapsed and trimmed.
fn collapse(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut space = false;
    for &b in value {
        if matches!(b, b' ' | b'\t' | b'\r' | b'\n') {
            space = !out.is_empty();
        } else {
            if space {
                out.push(b' ');
                space = false;
            }
            out.push(b);
        }
    }
    out
}

/// SHA-256 of the relaxed body: whitespace runs as one space, none at line
/// ends, no empty lines at the end, a final CRLF unless empty.
fn body_hash(body: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    let mut empty_lines = 0usize;
    let lines = body.strip_suffix(b"\r\n").unwrap_or(body);
    if body.is_empty() {
        return h.finalize().to_vec();
    }
    for line in lines.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let mut canon = Vec::with_capacity(line.len());
        let mut space = false;
        for &b in line {
            if b == b' ' || b == b'\t' {
                space = true;
            } else {
                if space {
                    canon.push(b' ');
                    space = false;
                }
                canon.push(b);
            }
        }
        if canon.is_empty() {
            empty_lines += 1;
            continue;
        }
        for _ in 0..empty_lines {
            h.update(b"\r\n");
        }
        empty_lines = 0;
        h.update(&canon);
        h.update(b"\r\n");
    }
    h.finalize().to_vec()
}

/// The address's domain in the first `From:` field, lower-case.
fn from_domain(fields: &[(String, Vec<u8>)]) -> Option<String> {
    let (_, raw) = fields.iter().find(|(n, _)| n == "from")?;
    let text = String::from_utf8_lossy(raw);
    let value = text.split_once(':')?.1;
    let addr = match (value.rfind('<'), value.rfind('>')) {
        (Some(a), Some(b)) if a < b => &value[a + 1..b],
        _ => value,
    };
    let domain = addr.trim().rsplit_once('@')?.1;
    Some(domain.trim().trim_end_matches('.').to_ascii_lowercase())
}

/// The `DKIM-Signature:` field (CRLF included) to put on top of
/// `prefix` + `raw` (the stamp line, then the message), or `None` when no
/// key is for its `From:` domain.
pub(crate) fn signature(keys: &[DkimKey], prefix: &[u8], raw: &[u8], now: u64) -> Option<Vec<u8>> {
    let header_len = super::intake::header_block(raw).len();
    let mut all = fields(prefix);
    all.extend(fields(&raw[..header_len]));
    let domain = from_domain(&all)?;
    let key = keys
        .iter()
        .find(|k| domain == k.domain || domain.ends_with(&format!(".{}", k.domain)))?;
    let body = raw.get(header_len + 2..).unwrap_or_default();
    let mut names = Vec::new();
    let mut data = Vec::new();
    for name in SIGNED {
        for (_, f) in all.iter().rev().filter(|(n, _)| n == name) {
            names.push(*name);
            data.extend_from_slice(&relaxed_header(f));
            data.extend_from_slice(b"\r\n");
        }
    }
    names.push("from"); // signed once more than present: no From can be added
    let algorithm = match key.key {
        DkimPrivate::Rsa(_) => "rsa-sha256",
        DkimPrivate::Ed25519(_) => "ed25519-sha256",
    };
    let tags = [
        "v=1".to_string(),
        format!("a={algorithm}"),
        "c=relaxed/relaxed".into(),
        format!("d={}", key.domain),
        format!("s={}", key.selector),
        format!("t={now}"),
        format!("h={}", names.join(":")),
        format!("bh={}", B64.encode(body_hash(body))),
        "b=".into(),
    ];
    let unsigned = format!("DKIM-Signature: {}", tags.join("; "));
    data.extend_from_slice(&relaxed_header(unsigned.as_bytes()));
    let b = B64.encode(sign(&key.key, &data)?);
    Some(format!("DKIM-Signature: {}{b}\r\n", tags.join(";\r\n\t")).into_bytes())
}

fn sign(key: &DkimPrivate, data: &[u8]) -> Option<Vec<u8>> {
    match key {
        DkimPrivate::Rsa(k) => {
            use rsa::signature::{SignatureEncoding, Signer};
            let signer = rsa::pkcs1v15::SigningKey::<Sha256>::new((**k).clone());
            signer.try_sign(data).ok().map(|s| s.to_vec())
        }
        DkimPrivate::Ed25519(k) => {
            use ed25519_dalek::Signer;
            Some(k.sign(&Sha256::digest(data)).to_bytes().to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relaxed_canonicalisation() {
        assert_eq!(
            relaxed_header(b"SubJect : a \r\n\t b  c \r\n"),
            b"subject:a b c"
        );
        // RFC 6376 §3.4.6's example.
        let body = b" C \r\nD \t E\r\n\r\n\r\n";
        assert_eq!(body_hash(body), Sha256::digest(b" C\r\nD E\r\n").to_vec());
        assert_eq!(body_hash(b""), Sha256::digest(b"").to_vec());
        assert_eq!(body_hash(b"x"), Sha256::digest(b"x\r\n").to_vec());
    }

    #[test]
    fn the_from_domain_picks_the_key() {
        let f = fields(b"To: b@x.example\r\nFrom: \"A, B\" <a@Mail.Firm.Example>\r\n\r\n");
        assert_eq!(from_domain(&f).as_deref(), Some("mail.firm.example"));
        let f = fields(b"From: a@firm.example\r\n");
        assert_eq!(from_domain(&f).as_deref(), Some("firm.example"));
    }
}
