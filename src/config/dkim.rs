//! `[[dkim]]`: the keys matterwall signs with, one table per domain
//! (`domain`, `selector`, `key_file`, `algorithm = "rsa-sha256" |
//! "ed25519-sha256"`), loaded and checked at load so a bad key is a config
//! error naming its file. Signing itself is `crate::smtp::dkim`.

use super::raw::RawDkim;
use super::{Problem, Problems};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivateKeyDer;
use std::fmt;
use std::path::Path;

/// A private key of the table's algorithm.
#[derive(Clone)]
pub(crate) enum DkimPrivate {
    Rsa(Box<rsa::RsaPrivateKey>),
    Ed25519(Box<ed25519_dalek::SigningKey>),
}

/// One `[[dkim]]` table, ready to sign.
#[derive(Clone)]
pub(crate) struct DkimKey {
    pub(crate) domain: String,
    pub(crate) selector: String,
    pub(crate) key: DkimPrivate,
}

/// Key material never reaches a log line.
impl fmt::Debug for DkimKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DkimKey {{ d={}, s={} }}", self.domain, self.selector)
    }
}

/// PKCS#8 DER of an Ed25519 private key (RFC 8410) is this prefix and the
/// 32-byte seed: what `openssl genpkey -algorithm ed25519` writes.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

fn load_key(path: &Path, algorithm: &str) -> Result<DkimPrivate, String> {
    use rsa::pkcs1::DecodeRsaPrivateKey;
    use rsa::pkcs8::DecodePrivateKey;
    let der =
        PrivateKeyDer::from_pem_file(path).map_err(|e| format!("no usable private key: {e}"))?;
    match (algorithm, &der) {
        ("rsa-sha256", PrivateKeyDer::Pkcs1(k)) => {
            rsa::RsaPrivateKey::from_pkcs1_der(k.secret_pkcs1_der())
                .map(|k| DkimPrivate::Rsa(Box::new(k)))
                .map_err(|e| format!("not an RSA key: {e}"))
        }
        ("rsa-sha256", PrivateKeyDer::Pkcs8(k)) => {
            rsa::RsaPrivateKey::from_pkcs8_der(k.secret_pkcs8_der())
                .map(|k| DkimPrivate::Rsa(Box::new(k)))
                .map_err(|e| format!("not an RSA key: {e}"))
        }
        ("ed25519-sha256", PrivateKeyDer::Pkcs8(k)) => {
            let der = k.secret_pkcs8_der();
            match der.strip_prefix(&ED25519_PKCS8_PREFIX[..]) {
                Some(seed) if seed.len() == 32 => {
                    let seed: [u8; 32] = seed.try_into().expect("checked length");
                    Ok(DkimPrivate::Ed25519(Box::new(
                        ed25519_dalek::SigningKey::from_bytes(&seed),
                    )))
                }
                _ => Err("not an Ed25519 PKCS#8 key (openssl genpkey -algorithm ed25519)".into()),
            }
        }
        _ => Err(format!("not a key for {algorithm}")),
    }
}

/// Every `[[dkim]]` table; problems name the file or the table.
pub(crate) fn compile(tables: &[RawDkim], dir: &Path, problems: &mut Problems) -> Vec<DkimKey> {
    let mut out = Vec::new();
    for t in tables {
        let domain = match crate::text::address::normalise_domain(&t.domain) {
            Ok(d) => d,
            Err(why) => {
                problems.add(format!("[[dkim]] domain {:?}: {why}", t.domain));
                continue;
            }
        };
        let selector_ok = !t.selector.is_empty()
            && t.selector.split('.').all(|l| {
                !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !selector_ok {
            problems.add(format!(
                "[[dkim]] selector {:?} is not a DNS label",
                t.selector
            ));
            continue;
        }
        if !matches!(t.algorithm.as_str(), "rsa-sha256" | "ed25519-sha256") {
            let why = format!(
                "[[dkim]] algorithm {:?} is not rsa-sha256 or ed25519-sha256",
                t.algorithm
            );
            problems.add(why);
            continue;
        }
        let path = super::resolve(dir, &t.key_file);
        match load_key(&path, &t.algorithm) {
            Ok(key) => out.push(DkimKey {
                domain,
                selector: t.selector.clone(),
                key,
            }),
            Err(why) => problems.push(Problem::at(
                &path,
                None,
                format!("[[dkim]] key_file: {why}"),
            )),
        }
    }
    out
}
