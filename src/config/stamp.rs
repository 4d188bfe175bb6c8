//! Where the loop stamp's secret lives (issue 14): `stamp.key`, 32 random
//! bytes, mode 0600, in the data directory (beside `[store] key_file` when
//! set, else beside the SQLite database). Read, or created, on first use
//! rather than at load, so `check` and `rules validate` never write it; a
//! key that cannot be read or made is retried at the next message (each
//! relay fails with `451` meanwhile: a message must not leave unstamped,
//! or the firm's transport rule would send it back round the loop).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The stamp key's file and, once read, its bytes.
#[derive(Debug, Clone)]
pub(crate) struct StampKey {
    pub(crate) path: PathBuf,
    cached: Arc<Mutex<Option<[u8; 32]>>>,
}

impl StampKey {
    /// The key file for a config in `dir` with these `[store]` settings.
    pub(crate) fn locate(dir: &Path, store: &super::raw::RawStore) -> StampKey {
        let folder = match (&store.key_file, store.url.strip_prefix("sqlite://")) {
            (Some(k), _) => super::resolve(dir, k).parent().map(Path::to_path_buf),
            (None, Some(db)) => super::resolve(dir, db).parent().map(Path::to_path_buf),
            (None, None) => None,
        };
        StampKey::at(
            folder
                .unwrap_or_else(|| dir.to_path_buf())
                .join("stamp.key"),
        )
    }

    pub(crate) fn at(path: PathBuf) -> StampKey {
        StampKey {
            path,
            cached: Arc::new(Mutex::new(None)),
        }
    }

    /// The key: read from its file, or made there (0600, fsync'd) when the
    /// file does not exist yet.
    pub(crate) fn get(&self) -> std::io::Result<[u8; 32]> {
        let mut cached = self.cached.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = *cached {
            return Ok(k);
        }
        let key = match std::fs::read(&self.path) {
            Ok(bytes) => bytes.try_into().map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::InvalidData, "stamp.key is not 32 bytes")
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => self.create()?,
            Err(e) => return Err(e),
        };
        *cached = Some(key);
        Ok(key)
    }

    /// Makes the key (the store's one key-file maker: 0600, linked into
    /// place, so two writers agree on one key).
    fn create(&self) -> std::io::Result<[u8; 32]> {
        use crate::store::crypto::{create_private, random_key};
        let key = random_key()?;
        std::fs::create_dir_all(self.path.parent().unwrap_or(Path::new(".")))?;
        let stored = create_private(&self.path, &key)?;
        if stored == key {
            tracing::info!(key_file = %self.path.display(), "created the loop-stamp key");
        }
        stored.try_into().map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::InvalidData, "stamp.key is not 32 bytes")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_0600_then_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let k = StampKey::at(dir.path().join("data/stamp.key"));
        let first = k.get().unwrap();
        let mode = std::fs::metadata(&k.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let again = StampKey::at(k.path.clone()).get().unwrap();
        assert_eq!(first, again);
    }
}
