//! Encryption at rest: the key file (created 0600 on first start, fsync'd)
//! and AES-256-GCM sealing with a random 96-bit nonce per record. The same
//! key, through a derived subkey, authenticates the audit trail's head
//! (HMAC-SHA256), so the head cannot be rewritten by someone who can edit
//! the database but not read the key file.

use super::StoreError;
use aes_gcm::aead::{Aead, AeadInPlace, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::io::Write;
use std::path::Path;

pub(crate) struct Sealer {
    cipher: Aes256Gcm,
    /// HMAC subkey for the audit head: never the encryption key itself.
    mac_key: [u8; 32],
    /// HMAC subkey for the links in notices (a sender's release link):
    /// every node reads the same key file, so any node can check a link
    /// another node signed.
    link_key: [u8; 32],
}

type HmacSha256 = Hmac<Sha256>;

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(..)")
    }
}

impl Sealer {
    /// Loads the key at `path`, creating it (mode 0600) when absent.
    pub(crate) fn load_or_create(path: &Path) -> Result<Sealer, StoreError> {
        let bad = |reason: String| StoreError::Key {
            path: path.to_path_buf(),
            reason,
        };
        let key = match std::fs::read(path) {
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => create(path)?,
            Err(e) => return Err(bad(format!("cannot read: {e}"))),
        };
        let cipher = Aes256Gcm::new_from_slice(&key)
            .map_err(|_| bad(format!("holds {} bytes, expected 32", key.len())))?;
        let mac_key = hmac(&key, b"matterwall audit head key v1");
        let link_key = hmac(&key, b"matterwall notice link key v1");
        Ok(Sealer {
            cipher,
            mac_key,
            link_key,
        })
    }

    /// HMAC-SHA256 of `msg` under the link subkey, in hex.
    pub(crate) fn link_mac(&self, msg: &[u8]) -> String {
        super::audit::hex(&hmac(&self.link_key, msg))
    }

    /// Checks a [`Sealer::link_mac`] in constant time.
    pub(crate) fn link_mac_ok(&self, msg: &[u8], mac_hex: &str) -> bool {
        let mut m = <HmacSha256 as Mac>::new_from_slice(&self.link_key).expect("any key length");
        m.update(msg);
        unhex(mac_hex).is_some_and(|tag| m.verify_slice(&tag).is_ok())
    }

    /// HMAC-SHA256 of `msg` under the audit subkey, in hex.
    pub(crate) fn mac(&self, msg: &[u8]) -> String {
        super::audit::hex(&hmac(&self.mac_key, msg))
    }

    /// Checks a [`Sealer::mac`] in constant time.
    pub(crate) fn mac_ok(&self, msg: &[u8], mac_hex: &str) -> bool {
        let mut m = <HmacSha256 as Mac>::new_from_slice(&self.mac_key).expect("any key length");
        m.update(msg);
        let Some(tag) = unhex(mac_hex) else {
            return false;
        };
        m.verify_slice(&tag).is_ok()
    }

    /// Returns `(nonce, ciphertext)`.
    pub(crate) fn seal(&self, aad: &[u8], plain: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut nonce = [0u8; 12];
        getrandom::getrandom(&mut nonce).expect("the OS random source failed");
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        (nonce.to_vec(), ct)
    }

    /// As [`Sealer::seal`], encrypting `plain` in place: a held message of
    /// 100 MB is not held twice, once as it came and once sealed (the tag
    /// is appended in its spare capacity when there is some).
    pub(crate) fn seal_owned(&self, aad: &[u8], mut plain: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
        let mut nonce = [0u8; 12];
        getrandom::getrandom(&mut nonce).expect("the OS random source failed");
        self.cipher
            .encrypt_in_place(Nonce::from_slice(&nonce), aad, &mut plain)
            .expect("AES-GCM encryption of an in-memory buffer cannot fail");
        (nonce.to_vec(), plain)
    }

    /// `None` when authentication fails (tampering, corruption, wrong key).
    pub(crate) fn open(&self, aad: &[u8], nonce: &[u8], ct: &[u8]) -> Option<Vec<u8>> {
        if nonce.len() != 12 {
            return None;
        }
        self.cipher
            .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
            .ok()
    }
}

fn hmac(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut m = <HmacSha256 as Mac>::new_from_slice(key).expect("any key length");
    m.update(msg);
    m.finalize().into_bytes().into()
}

pub(crate) fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

/// 32 bytes from the OS random source: every key matterwall makes.
pub(crate) fn random_key() -> std::io::Result<[u8; 32]> {
    let mut key = [0u8; 32];
    getrandom::getrandom(&mut key).map_err(std::io::Error::other)?;
    Ok(key)
}

/// Makes the key file `path` holding `contents`, mode 0600, and returns
/// what it holds. Written beside it and hard-linked into place, so a crash
/// never leaves a short key and two processes making it at once agree on
/// one: the loser gets the winner's bytes. The file and its folder are
/// fsync'd, because a key must survive a crash as surely as the data it
/// protects. Every key file (quarantine, checkpoint, loop stamp) is made
/// here.
pub(crate) fn create_private(path: &Path, contents: &[u8]) -> std::io::Result<Vec<u8>> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.{}", super::new_id()));
    let mut f = open_private(&tmp)?;
    let written = f.write_all(contents).and_then(|()| f.sync_all());
    let linked = written.and_then(|()| std::fs::hard_link(&tmp, path));
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            std::fs::File::open(dir)?.sync_all()?;
            Ok(contents.to_vec())
        }
        // Someone else made it first: theirs is the key.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => std::fs::read(path),
        Err(e) => Err(e),
    }
}

fn create(path: &Path) -> Result<Vec<u8>, StoreError> {
    let io = |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    };
    let key = random_key().map_err(io)?;
    let stored = create_private(path, &key).map_err(io)?;
    if stored == key {
        tracing::warn!(key_file = %path.display(), "created a new quarantine key; back it up");
    }
    Ok(stored)
}

#[cfg(test)]
mod tests {
    use super::Sealer;

    #[test]
    fn sealing_in_place_opens_as_sealing_a_copy_does() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::load_or_create(&dir.path().join("k")).unwrap();
        let body = b"a held message".repeat(1000);
        let (nonce, sealed) = sealer.seal_owned(b"id/bound", body.clone());
        assert_ne!(sealed[..body.len()], body[..], "not encrypted");
        assert_eq!(
            sealer.open(b"id/bound", &nonce, &sealed),
            Some(body.clone())
        );
        assert_eq!(sealer.open(b"id/other", &nonce, &sealed), None);
        let (nonce, copied) = sealer.seal(b"id/bound", &body);
        assert_eq!(copied.len(), sealed.len());
        assert_eq!(sealer.open(b"id/bound", &nonce, &copied), Some(body));
    }
}
