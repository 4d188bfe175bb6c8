//! The DATA spool (issue 14): when a message would take the DATA bytes held
//! in memory past `[smtp] max_buffered_bytes` ([`super::budget`]), its body
//! goes to a temporary file in `spool/` in the data directory instead, so
//! twenty slow 100 MB uploads cost disk, not memory.
//!
//! A spool file is mail content at rest, so it is encrypted: AES-256-GCM
//! under a random key made for that file alone and kept only in memory (a
//! file outlives its key only after a crash, and is then unreadable and
//! deleted at the next start). The body is cut into chunks of [`CHUNK`]
//! bytes, each sealed with its own tag; the nonce is the chunk's index and
//! a final-chunk flag (unique per key, so a counter is safe), which makes
//! reordered, dropped, truncated or extended files fail to open.
//!
//! The file is created 0600 in a 0700 folder and unlinked when its
//! [`SpoolWriter`] or [`Spooled`] is dropped: after the message is read
//! back, on a write error, and when the session ends mid-DATA (a client
//! that disconnects, a shutdown). A crash leaves files behind;
//! [`SpoolDir::prepare`] deletes them at start.
//!
//! Everything here blocks (file I/O): the session calls it on the blocking
//! pool.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::Aes256Gcm;

type Nonce = aes_gcm::aead::Nonce<Aes256Gcm>;
type Tag = aes_gcm::aead::Tag<Aes256Gcm>;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Plaintext bytes per sealed chunk (each costs a 16-byte tag).
pub(crate) const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;

/// The folder spool files go in.
#[derive(Debug, Clone)]
pub(crate) struct SpoolDir {
    dir: PathBuf,
}

impl SpoolDir {
    /// `spool/` in `data_dir`.
    pub(crate) fn in_data_dir(data_dir: &Path) -> SpoolDir {
        SpoolDir {
            dir: data_dir.join("spool"),
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.dir
    }

    /// Creates the folder (0700) and deletes the files an earlier run left
    /// there (only a crash leaves any: their keys died with it). Returns
    /// how many it deleted.
    pub(crate) fn prepare(&self) -> std::io::Result<usize> {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)?;
        let mut stale = 0;
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            if entry.file_type()?.is_file() {
                std::fs::remove_file(entry.path())?;
                stale += 1;
            }
        }
        Ok(stale)
    }

    /// A new, empty spool file (0600, a random name) sealed under a fresh
    /// random key.
    pub(crate) fn create(&self) -> std::io::Result<SpoolWriter> {
        use std::os::unix::fs::OpenOptionsExt;
        let mut name = [0u8; 16];
        getrandom::getrandom(&mut name).map_err(std::io::Error::other)?;
        let name: String = name.iter().map(|b| format!("{b:02x}")).collect();
        let path = self.dir.join(format!("{name}.spool"));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)?;
        let unlink = Unlink(path);
        let mut key = [0u8; 32];
        getrandom::getrandom(&mut key).map_err(std::io::Error::other)?;
        let cipher = Aes256Gcm::new_from_slice(&key).expect("a 32-byte key");
        Ok(SpoolWriter {
            file,
            cipher,
            index: 0,
            pending: Vec::with_capacity(CHUNK),
            len: 0,
            unlink,
        })
    }
}

/// Removes its file when dropped, whatever happened before.
struct Unlink(PathBuf);

impl Drop for Unlink {
    fn drop(&mut self) {
        match std::fs::remove_file(&self.0) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::error!(path = %self.0.display(), error = %e, "cannot delete a spool file")
            }
        }
    }
}

/// A spool file being written.
pub(crate) struct SpoolWriter {
    file: File,
    cipher: Aes256Gcm,
    /// The next chunk's index.
    index: u64,
    /// Plaintext not yet sealed: at most one chunk. A full chunk is sealed
    /// only once more bytes follow, as only `finish` knows which is last.
    pending: Vec<u8>,
    /// Plaintext bytes taken so far.
    len: usize,
    unlink: Unlink,
}

/// A finished spool file, ready to be read back once.
pub(crate) struct Spooled {
    file: File,
    cipher: Aes256Gcm,
    len: usize,
    _unlink: Unlink,
}

/// The nonce of chunk `index`: the index, then the final-chunk flag.
fn nonce(index: u64, last: bool) -> Nonce {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    Nonce::from(n)
}

fn corrupt() -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        "spool file failed authentication (truncated, reordered or altered)",
    )
}

impl SpoolWriter {
    #[cfg(test)]
    pub(crate) fn path(&self) -> &Path {
        &self.unlink.0
    }

    /// Appends plaintext; full chunks are sealed and written.
    pub(crate) fn append(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            if self.pending.len() == CHUNK {
                self.seal(false)?;
            }
            let n = (CHUNK - self.pending.len()).min(bytes.len());
            self.pending.extend_from_slice(&bytes[..n]);
            self.len += n;
            bytes = &bytes[n..];
        }
        Ok(())
    }

    /// Seals the last chunk (empty if need be, so an empty body still has
    /// one) and makes the file ready to read back.
    pub(crate) fn finish(mut self) -> std::io::Result<Spooled> {
        self.seal(true)?;
        self.file.flush()?;
        self.file.seek(SeekFrom::Start(0))?;
        Ok(Spooled {
            file: self.file,
            cipher: self.cipher,
            len: self.len,
            _unlink: self.unlink,
        })
    }

    fn seal(&mut self, last: bool) -> std::io::Result<()> {
        let tag = self
            .cipher
            .encrypt_in_place_detached(&nonce(self.index, last), b"", &mut self.pending)
            .expect("AES-GCM sealing of a 64 KiB chunk cannot fail");
        self.file.write_all(&self.pending)?;
        self.file.write_all(&tag)?;
        self.pending.clear();
        self.index += 1;
        Ok(())
    }
}

impl Spooled {
    /// The message's size in bytes.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The plaintext, opened in place in one buffer the size of the file
    /// (no second copy); the file is deleted after.
    pub(crate) fn read(mut self) -> std::io::Result<Vec<u8>> {
        let size = self.file.metadata()?.len() as usize;
        let mut data = Vec::with_capacity(size);
        self.file.read_to_end(&mut data)?;
        let mut out = 0;
        for (index, start) in (0..data.len().max(1)).step_by(CHUNK + TAG).enumerate() {
            let end = (start + CHUNK + TAG).min(data.len());
            let last = end == data.len();
            if end - start < TAG {
                return Err(corrupt());
            }
            let tag = *Tag::from_slice(&data[end - TAG..end]);
            let body = start..end - TAG;
            self.cipher
                .decrypt_in_place_detached(
                    &nonce(index as u64, last),
                    b"",
                    &mut data[body.clone()],
                    &tag,
                )
                .map_err(|_| corrupt())?;
            data.copy_within(body.clone(), out);
            out += body.len();
        }
        data.truncate(out);
        if data.len() != self.len {
            return Err(corrupt());
        }
        Ok(data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spool() -> (tempfile::TempDir, SpoolDir) {
        let tmp = tempfile::tempdir().unwrap();
        let dir = SpoolDir::in_data_dir(tmp.path());
        assert_eq!(dir.prepare().unwrap(), 0);
        (tmp, dir)
    }

    fn files(dir: &SpoolDir) -> Vec<PathBuf> {
        std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    }

    /// Sizes around the chunk edges, written in odd pieces.
    #[test]
    fn round_trips_at_every_chunk_edge() {
        let (_tmp, dir) = spool();
        for size in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 7] {
            let plain: Vec<u8> = (0..size).map(|i| (i * 7 % 251) as u8).collect();
            let mut w = dir.create().unwrap();
            for piece in plain.chunks(1000) {
                w.append(piece).unwrap();
            }
            let s = w.finish().unwrap();
            assert_eq!(s.len(), size);
            assert_eq!(s.read().unwrap(), plain, "size {size}");
            assert!(files(&dir).is_empty(), "read back: deleted");
        }
    }

    #[test]
    fn the_file_is_private_ciphertext_and_deleted_on_drop() {
        use std::os::unix::fs::PermissionsExt;
        let (_tmp, dir) = spool();
        let mut w = dir.create().unwrap();
        let plain = b"Meridian Tankers settlement draft ".repeat(5000);
        w.append(&plain).unwrap();
        let path = w.path().to_path_buf();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(dir.path()).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let s = w.finish().unwrap();
        let on_disk = std::fs::read(&path).unwrap();
        assert!(!on_disk.windows(8).any(|w| w == b"Meridian"));
        drop(s);
        assert!(!path.exists(), "dropped unread: deleted");
    }

    /// Each way of tampering with the file makes it fail to open.
    #[test]
    fn tampering_is_detected() {
        let (_tmp, dir) = spool();
        let plain = vec![b'x'; 3 * CHUNK + 10];
        let full = CHUNK + TAG;
        type Cut<'a> = (&'a str, &'a dyn Fn(&mut Vec<u8>));
        let cuts: [Cut; 5] = [
            ("truncated at a chunk edge", &|f| f.truncate(2 * full)),
            ("truncated inside a chunk", &|f| f.truncate(2 * full + 5)),
            ("chunks swapped", &|f| {
                let (a, b) = f.split_at_mut(full);
                a.swap_with_slice(&mut b[..full]);
            }),
            ("a byte changed", &|f| f[10] ^= 1),
            ("bytes appended", &|f| f.extend_from_slice(&[0; 40])),
        ];
        for (what, cut) in cuts {
            let mut w = dir.create().unwrap();
            w.append(&plain).unwrap();
            let s = w.finish().unwrap();
            let path = files(&dir).pop().unwrap();
            let mut bytes = std::fs::read(&path).unwrap();
            cut(&mut bytes);
            std::fs::write(&path, bytes).unwrap();
            let err = s.read().unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidData, "{what}");
        }
    }

    #[test]
    fn stale_files_are_deleted_at_start() {
        let (_tmp, dir) = spool();
        let w = dir.create().unwrap();
        std::mem::forget(w);
        std::fs::write(dir.path().join("old.spool"), b"x").unwrap();
        assert_eq!(dir.prepare().unwrap(), 2);
        assert!(files(&dir).is_empty());
    }
}
