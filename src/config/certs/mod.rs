//! Recipient encryption keys in `certs/`: S/MIME certificates as
//! `ADDRESS.pem` or `DOMAIN.pem`, OpenPGP public keys as `ADDRESS.asc`.
//! Look-ups ignore case.
//!
//! Every file is parsed and checked once per config load ([`smime`],
//! [`openpgp`]): a file that is not a certificate or key at all is a
//! configuration error naming it; one that is a certificate but not one to
//! encrypt to (no keyEncipherment, not RSA, a revoked key…) is kept as
//! *unusable* with the reason, logged at load. Validity in time is checked at
//! each look-up, because a server runs for months. For policy an unusable key
//! is no key: the encrypt rule's fallback applies, and the verdict says why.

pub(crate) mod openpgp;
pub(crate) mod smime;

use crate::config::Problem;
use crate::text::address::Address;
use smime::Bad;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyKind {
    Smime,
    OpenPgp,
}

impl KeyKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            KeyKind::Smime => "smime",
            KeyKind::OpenPgp => "openpgp",
        }
    }
}

/// A parsed key, ready to encrypt to.
#[derive(Debug)]
pub(crate) enum Material {
    Smime(smime::SmimeCert),
    OpenPgp(Box<openpgp::PgpKey>),
}

/// One usable file of `certs/` (or the archive key).
#[derive(Debug)]
pub(crate) struct RecipientKey {
    pub(crate) path: PathBuf,
    pub(crate) material: Material,
}

impl RecipientKey {
    pub(crate) fn kind(&self) -> KeyKind {
        match self.material {
            Material::Smime(_) => KeyKind::Smime,
            Material::OpenPgp(_) => KeyKind::OpenPgp,
        }
    }

    /// Reads and checks one key file; its kind follows the extension.
    pub(crate) fn load(path: &Path) -> Result<RecipientKey, Bad> {
        let bytes = std::fs::read(path).map_err(|e| Bad::Malformed(format!("cannot read: {e}")))?;
        let pgp = path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("asc"));
        let material = if pgp {
            Material::OpenPgp(Box::new(openpgp::parse(&bytes)?))
        } else {
            Material::Smime(smime::parse(&bytes)?)
        };
        Ok(RecipientKey {
            path: path.to_path_buf(),
            material,
        })
    }

    /// `Err(why)` when the key cannot be used at `now` (expired, not yet valid).
    pub(crate) fn valid_at(&self, now: SystemTime) -> Result<(), String> {
        match &self.material {
            Material::Smime(c) => c.valid_at(now),
            Material::OpenPgp(k) => k.valid_at(now),
        }
    }

    /// The file name, which is what a reviewer or administrator recognises.
    pub(crate) fn name(&self) -> String {
        file_name(&self.path)
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// What a look-up found for one recipient.
#[derive(Debug, Clone)]
pub(crate) enum Lookup {
    Key(Arc<RecipientKey>),
    /// A file exists but cannot be used; the reason names it.
    Unusable(String),
    Missing,
}

#[derive(Debug)]
enum Entry {
    Usable(Arc<RecipientKey>),
    Unusable(String),
}

#[derive(Debug, Default)]
pub struct Certs {
    /// Lower-case file name → parsed key or why it cannot be used.
    files: HashMap<String, Entry>,
}

impl Certs {
    /// Indexes and parses the folder; a missing folder means no keys. Files
    /// that are not keys at all are problems (the load is refused).
    pub(crate) fn load(dir: &Path) -> Result<Certs, Vec<Problem>> {
        let mut files = HashMap::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(Certs { files });
        };
        let mut problems = Vec::new();
        for entry in entries {
            let entry =
                entry.map_err(|e| vec![Problem::at(dir, None, format!("cannot list: {e}"))])?;
            let name = entry.file_name().to_string_lossy().to_lowercase();
            if !(name.ends_with(".pem") || name.ends_with(".asc")) {
                continue;
            }
            let path = entry.path();
            match RecipientKey::load(&path) {
                Ok(key) => {
                    files.insert(name, Entry::Usable(Arc::new(key)));
                }
                Err(Bad::Unusable(why)) => {
                    tracing::warn!(file = %path.display(), reason = %why, "key not usable for encryption");
                    files.insert(
                        name.clone(),
                        Entry::Unusable(format!("{}: {why}", file_name(&path))),
                    );
                }
                Err(Bad::Malformed(why)) => problems.push(Problem::at(&path, None, why)),
            }
        }
        if problems.is_empty() {
            Ok(Certs { files })
        } else {
            Err(problems)
        }
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The key for `addr` at `now`: the first *usable* of its own S/MIME
    /// certificate, its OpenPGP key, its domain's S/MIME certificate. When
    /// files exist but none is usable, the first one's reason.
    pub(crate) fn lookup(&self, addr: &Address, now: SystemTime) -> Lookup {
        let full = addr.to_string().to_lowercase();
        let domain = addr.domain.to_lowercase();
        let candidates = [
            format!("{full}.pem"),
            format!("{full}.asc"),
            format!("{domain}.pem"),
        ];
        let mut why = None;
        for name in &candidates {
            let reason = match self.files.get(name) {
                None => continue,
                Some(Entry::Usable(key)) => match key.valid_at(now) {
                    Ok(()) => return Lookup::Key(key.clone()),
                    Err(e) => format!("{name}: {e}"),
                },
                Some(Entry::Unusable(reason)) => reason.clone(),
            };
            why.get_or_insert(reason);
        }
        why.map_or(Lookup::Missing, Lookup::Unusable)
    }
}

#[cfg(test)]
mod tests;
