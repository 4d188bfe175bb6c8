//! Recipient encryption keys in `certs/`: S/MIME certificates as
//! `ADDRESS.pem` or `DOMAIN.pem`, OpenPGP public keys as `ADDRESS.asc`.
//! Look-ups ignore case. This module only finds the files; whether a
//! certificate is usable (validity, key usage) is the encrypt action's check.

use crate::policy::address::Address;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Smime,
    OpenPgp,
}

impl KeyKind {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Smime => "smime",
            KeyKind::OpenPgp => "openpgp",
        }
    }
}

#[derive(Debug, Clone)]
pub struct KeyFile {
    pub kind: KeyKind,
    pub path: PathBuf,
}

#[derive(Debug, Default)]
pub struct Certs {
    /// Lower-case file name → file.
    files: HashMap<String, PathBuf>,
}

impl Certs {
    /// Indexes the folder; a missing folder means no keys.
    pub fn load(dir: &Path) -> Result<Certs, String> {
        let mut files = HashMap::new();
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(Certs { files });
        };
        for entry in entries {
            let entry = entry.map_err(|e| format!("cannot list: {e}"))?;
            let name = entry.file_name().to_string_lossy().to_lowercase();
            if name.ends_with(".pem") || name.ends_with(".asc") {
                files.insert(name, entry.path());
            }
        }
        Ok(Certs { files })
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The key for `addr`: its own S/MIME certificate, else its OpenPGP key,
    /// else its domain's S/MIME certificate.
    pub fn lookup(&self, addr: &Address) -> Option<KeyFile> {
        let full = addr.to_string();
        let candidates = [
            (format!("{full}.pem"), KeyKind::Smime),
            (format!("{full}.asc"), KeyKind::OpenPgp),
            (format!("{}.pem", addr.domain), KeyKind::Smime),
        ];
        candidates.into_iter().find_map(|(name, kind)| {
            self.files.get(&name).map(|p| KeyFile {
                kind,
                path: p.clone(),
            })
        })
    }
}
