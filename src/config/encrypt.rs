//! `[encrypt]` compiled: the firm's archive keys (parsed and checked at
//! load like any recipient key), the neutral Subject, and the RSA key
//! transport for S/MIME.

use super::certs::{KeyKind, RecipientKey};
use super::raw::RawEncrypt;
use super::{Problem, Problems};
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

/// How an S/MIME copy wraps its content key for an `rsaEncryption`
/// certificate (an `id-RSAES-OAEP` certificate always gets OAEP).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum KeyTransport {
    /// RSA PKCS#1 v1.5: what every S/MIME client reads (RFC 8551 MUST).
    #[default]
    Pkcs1v15,
    /// RSAES-OAEP with SHA-256 (RFC 8551 SHOULD+; RFC 4055 parameters).
    Oaep,
}

#[derive(Debug, Default)]
pub(crate) struct Encrypt {
    /// Added as a recipient of every S/MIME copy.
    pub(crate) archive_cert: Option<Arc<RecipientKey>>,
    /// Added as a recipient of every OpenPGP copy.
    pub(crate) archive_key: Option<Arc<RecipientKey>>,
    pub(crate) neutral_subject: Option<String>,
    pub(crate) key_transport: KeyTransport,
}

pub(crate) fn compile(raw: &RawEncrypt, dir: &Path, problems: &mut Problems) -> Encrypt {
    let key_transport = match raw.smime_key_transport.as_str() {
        "pkcs1v15" => KeyTransport::Pkcs1v15,
        "oaep" => KeyTransport::Oaep,
        other => {
            problems.add(format!(
                "[encrypt] smime_key_transport: {other:?} is not pkcs1v15 or oaep"
            ));
            KeyTransport::default()
        }
    };
    if let Some(s) = &raw.neutral_subject {
        if s.trim().is_empty() || s.chars().any(char::is_control) {
            problems.add("[encrypt] neutral_subject must be one line of text");
        }
    }
    let archive = |p: &Option<String>, kind: KeyKind, problems: &mut Problems| {
        let path = super::resolve(dir, p.as_deref()?);
        archive_key(&path, kind)
            .map_err(|why| problems.push(Problem::at(&path, None, why)))
            .ok()
    };
    Encrypt {
        archive_cert: archive(&raw.archive_cert, KeyKind::Smime, problems),
        archive_key: archive(&raw.archive_key, KeyKind::OpenPgp, problems),
        neutral_subject: raw.neutral_subject.clone(),
        key_transport,
    }
}

/// The archive key must be of the kind its setting names and usable now:
/// a firm that configured one expects to read every encrypted copy.
fn archive_key(path: &Path, kind: KeyKind) -> Result<Arc<RecipientKey>, String> {
    let key = RecipientKey::load(path).map_err(|bad| match bad {
        super::certs::smime::Bad::Malformed(why) | super::certs::smime::Bad::Unusable(why) => why,
    })?;
    if key.kind() != kind {
        return Err(match kind {
            KeyKind::Smime => "archive_cert must be an S/MIME certificate (.pem)".into(),
            KeyKind::OpenPgp => "archive_key must be an OpenPGP public key (.asc)".into(),
        });
    }
    key.valid_at(SystemTime::now())?;
    Ok(Arc::new(key))
}
