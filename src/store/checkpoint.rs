//! Signed checkpoints of the audit trail, kept outside the database
//! (DESIGN §8, issue #15 finding 1).
//!
//! The hash chain and the keyed head catch an edit by someone who cannot
//! read the store's key file. They do not remember how long the chain was:
//! someone who can write the database (and has that key, or restores an old
//! head) can delete the newest entries, or everything, and what is left
//! still verifies. A checkpoint is that memory: `(seq, hash, time)` of the
//! chain's end, signed with Ed25519 by a key in its own file (mode 0600, not
//! in the database, not the store's key), one JSON line appended to an
//! append-only file (opened `O_APPEND`, fsync'd). `audit verify` then
//! reports a chain shorter than a checkpoint as **truncated**, and a chain
//! whose entry at a checkpoint's seq has another hash as **rolled back**.
//!
//! Who is still not stopped: someone who holds the database *and* the
//! checkpoint key and the checkpoint file can rewrite all three. A copy of
//! the checkpoint lines kept where they cannot reach (WORM storage, a remote
//! log host), checked with `audit verify --checkpoint FILE`, defeats that.
//!
//! A checkpoint is written only for a chain that extends the previous one
//! (the segment between them is walked), so a rolled-back trail is refused
//! at write time too rather than signed.

use super::audit::{self, AuditEntry, Broken};
use super::{AuditLog, StoreError};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// One checkpoint line.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Checkpoint {
    /// The audit entry signed.
    pub seq: u64,
    /// That entry's hash: the whole chain up to it.
    pub hash: String,
    /// RFC 3339, UTC, when it was signed.
    pub time: String,
    /// The signing key's public half, hex (which key signed it).
    pub key: String,
    /// Ed25519 over [`signed_message`], hex.
    pub(crate) sig: String,
}

/// What the signature covers: a fixed label, then the three fields.
pub(crate) fn signed_message(seq: u64, hash: &str, time: &str) -> String {
    format!("matterwall audit checkpoint v1\n{seq}\n{hash}\n{time}")
}

/// Where the key and the lines live.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The append-only checkpoint file.
    pub file: PathBuf,
    pub(crate) key: PathBuf,
    /// A syslog datagram socket (`/dev/log`) each line is also sent to, for
    /// a log host that forwards it off the machine; `None`: not sent.
    pub(crate) syslog: Option<PathBuf>,
}

impl Paths {
    /// `[store] checkpoint_file` and `checkpoint_key`, relative to the config
    /// folder; by default beside an SQLite database (or in the config folder).
    pub(crate) fn resolve(
        url: &str,
        config_dir: &Path,
        file: Option<&str>,
        key: Option<&str>,
        syslog: Option<&str>,
    ) -> Paths {
        let dir = url
            .strip_prefix("sqlite://")
            .map(|p| config_dir.join(p))
            .and_then(|db| db.parent().map(Path::to_path_buf))
            .unwrap_or_else(|| config_dir.to_path_buf());
        let pick = |given: Option<&str>, default: &str| match given {
            Some(p) => config_dir.join(p),
            None => dir.join(default),
        };
        Paths {
            file: pick(file, "audit-checkpoints.jsonl"),
            key: pick(key, "audit-checkpoint.key"),
            syslog: syslog.map(|p| config_dir.join(p)),
        }
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn key_error(path: &Path, reason: impl Into<String>) -> StoreError {
    StoreError::Key {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Reads the signing key (32 bytes, hex), or `None` when there is no file.
pub(crate) fn read_key(path: &Path) -> Result<Option<SigningKey>, StoreError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let bytes =
        super::crypto::unhex(text.trim()).ok_or_else(|| key_error(path, "not 64 hex digits"))?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| key_error(path, "not 64 hex digits"))?;
    Ok(Some(SigningKey::from_bytes(&seed)))
}

/// The signing key, made (mode 0600, never overwritten) when missing.
pub(crate) fn load_or_create_key(path: &Path) -> Result<SigningKey, StoreError> {
    if let Some(k) = read_key(path)? {
        return Ok(k);
    }
    let seed = super::crypto::random_key().map_err(io(path))?;
    super::crypto::create_private(path, format!("{}\n", audit::hex(&seed)).as_bytes())
        .map_err(io(path))?;
    // Read back: another process may have made it first, and its key wins.
    read_key(path)?.ok_or_else(|| key_error(path, "gone right after it was made"))
}

/// Signs `(seq, hash)` as of now.
pub(crate) fn sign(key: &SigningKey, seq: u64, hash: &str) -> Checkpoint {
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let sig = key.sign(signed_message(seq, hash, &time).as_bytes());
    Checkpoint {
        seq,
        hash: hash.to_string(),
        key: audit::hex(key.verifying_key().as_bytes()),
        sig: audit::hex(&sig.to_bytes()),
        time,
    }
}

/// Whether `cp` was signed by `key` (and names it).
pub(crate) fn authentic(cp: &Checkpoint, key: &VerifyingKey) -> bool {
    let Some(sig) = super::crypto::unhex(&cp.sig).and_then(|b| Signature::from_slice(&b).ok())
    else {
        return false;
    };
    cp.key == audit::hex(key.as_bytes())
        && key
            .verify(signed_message(cp.seq, &cp.hash, &cp.time).as_bytes(), &sig)
            .is_ok()
}

/// Appends one line and fsyncs; the file is created 0600.
pub(crate) fn append(path: &Path, cp: &Checkpoint) -> Result<(), StoreError> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(io(path))?;
    let mut line = serde_json::to_vec(cp)?;
    line.push(b'\n');
    f.write_all(&line)
        .and_then(|()| f.sync_all())
        .map_err(io(path))
}

/// Sends one checkpoint line to a syslog datagram socket: facility
/// `log audit` (13), severity info, tag `matterwall-audit`.
pub(crate) fn to_syslog(socket: &Path, cp: &Checkpoint) -> std::io::Result<()> {
    let line = serde_json::to_string(cp).map_err(std::io::Error::other)?;
    let msg = format!("<110>matterwall-audit: {line}");
    std::os::unix::net::UnixDatagram::unbound()?.send_to(msg.as_bytes(), socket)?;
    Ok(())
}

/// Every line of a checkpoint file, by line number; a line that does not
/// parse is kept as `Err` (a verifier reports it). `None`: no such file.
pub(crate) type Lines = Vec<(usize, Result<Checkpoint, String>)>;

pub(crate) fn read(path: &Path) -> Result<Option<Lines>, StoreError> {
    let f = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(path)(e)),
    };
    let mut out = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line = line.map_err(io(path))?;
        if line.trim().is_empty() {
            continue;
        }
        out.push((
            i + 1,
            serde_json::from_str(&line).map_err(|e| e.to_string()),
        ));
    }
    Ok(Some(out))
}

/// Why a new checkpoint was not written.
#[derive(Debug)]
pub enum WriteError {
    /// The store could not be read.
    Store(StoreError),
    /// The trail does not extend the last checkpoint, or does not verify
    /// from it: it is not signed.
    Broken(Broken),
}

impl From<StoreError> for WriteError {
    fn from(e: StoreError) -> Self {
        WriteError::Store(e)
    }
}

impl std::fmt::Display for WriteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriteError::Store(e) => write!(f, "{e}"),
            WriteError::Broken(b) => write!(f, "the audit trail is broken at {b}; not signed"),
        }
    }
}

/// Writes checkpoints for one store: remembers the last one so each new
/// one only walks the entries since.
pub struct Checkpointer {
    /// Where the key and the lines live.
    pub paths: Paths,
    key: SigningKey,
    last: Option<Checkpoint>,
}

impl Checkpointer {
    /// Opens (or makes) the key, and reads the last checkpoint this key
    /// signed from the file.
    pub fn open(paths: Paths) -> Result<Checkpointer, StoreError> {
        let key = load_or_create_key(&paths.key)?;
        let vk = key.verifying_key();
        let last = read(&paths.file)?
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(_, l)| l.ok())
            .filter(|c| authentic(c, &vk))
            .max_by_key(|c| c.seq);
        Ok(Checkpointer { paths, key, last })
    }

    #[cfg(test)]
    pub(crate) fn last(&self) -> Option<&Checkpoint> {
        self.last.as_ref()
    }

    /// Signs and appends the chain's end, after checking that the chain
    /// still holds the last checkpoint and verifies from there to its head.
    /// `only_if_moved`: nothing is written when the end is the last one's.
    pub fn write<L: AuditLog + ?Sized>(
        &mut self,
        log: &L,
        only_if_moved: bool,
    ) -> Result<Option<Checkpoint>, WriteError> {
        let start = match &self.last {
            None => None,
            Some(cp) => anchor(log, cp)?,
        };
        let end = audit::verify_from(log, start)?.map_err(WriteError::Broken)?;
        let (seq, hash) = end.map_or((0, audit::GENESIS.to_string()), |e| (e.seq, e.hash));
        if only_if_moved && self.last.as_ref().is_some_and(|c| c.seq == seq) {
            return Ok(None);
        }
        let cp = sign(&self.key, seq, &hash);
        append(&self.paths.file, &cp)?;
        if let Some(socket) = &self.paths.syslog {
            // The file is the record; a log host that is down is logged, and
            // the next checkpoint goes to it again.
            if let Err(e) = to_syslog(socket, &cp) {
                tracing::error!(socket = %socket.display(), error = %e, "checkpoint not sent to syslog");
            }
        }
        self.last = Some(cp.clone());
        Ok(Some(cp))
    }

    /// Entries appended since the last checkpoint (all, when none).
    pub(crate) fn behind<L: AuditLog + ?Sized>(&self, log: &L) -> Result<u64, StoreError> {
        let head = log.audit_head()?.map_or(0, |h| h.seq);
        Ok(head.saturating_sub(self.last.as_ref().map_or(0, |c| c.seq)))
    }
}

/// The entry a checkpoint names, if the chain still has it unchanged
/// (`None` for a checkpoint of the empty trail: walk from the start).
fn anchor<L: AuditLog + ?Sized>(
    log: &L,
    cp: &Checkpoint,
) -> Result<Option<AuditEntry>, WriteError> {
    if cp.seq == 0 {
        return Ok(None);
    }
    match audit::entry_at(log, cp.seq)? {
        Some(e) if e.hash == cp.hash => Ok(Some(e)),
        Some(_) => Err(WriteError::Broken(rolled_back(cp))),
        None => Err(WriteError::Broken(truncated(cp, None))),
    }
}

pub(crate) fn rolled_back(cp: &Checkpoint) -> Broken {
    Broken {
        seq: Some(cp.seq),
        reason: format!(
            "rolled back or rewritten: its hash differs from the checkpoint of {}",
            cp.time
        ),
    }
}

pub(crate) fn truncated(cp: &Checkpoint, ends: Option<u64>) -> Broken {
    let ends = ends.map_or_else(|| "earlier".to_string(), |n| format!("at seq {n}"));
    Broken {
        seq: None,
        reason: format!(
            "truncated: the chain ends {ends} but the checkpoint of {} says {}",
            cp.time, cp.seq
        ),
    }
}

/// When `serve` signs: the paths, and after how many entries or minutes.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Where the key and the lines live.
    pub paths: Paths,
    /// Entries since the last checkpoint (0: not by count).
    pub(crate) every: u64,
    /// Minutes since the last checkpoint while the trail grew (0: not by time).
    pub(crate) minutes: u64,
}

/// How often `serve` looks at the trail's head.
const TICK: std::time::Duration = std::time::Duration::from_secs(5);

/// `serve`'s job: every few seconds, signs a checkpoint when `every`
/// entries were appended since the last one or `minutes` passed and the
/// trail grew. A trail that does not extend the last checkpoint is not
/// signed (an error is logged each time it is seen). Made by [`start`].
pub(crate) struct Job {
    store: super::Handle,
    schedule: Schedule,
    checkpointer: Option<Checkpointer>,
    since: std::time::Instant,
    /// The start's checkpoint is still owed (its first try failed).
    owed: bool,
}

/// Signs the checkpoint a start owes before `serve` takes mail or answers
/// a reviewer: an `audit verify` run once the server is up always finds
/// the checkpoint file beside its key, never the key alone.
pub(crate) async fn start(store: super::Handle, schedule: Schedule) -> Job {
    let mut job = Job {
        store,
        schedule,
        checkpointer: None,
        since: std::time::Instant::now(),
        owed: true,
    };
    job.tick().await;
    job
}

impl Job {
    /// Runs for ever (until the server aborts it).
    pub(crate) async fn run(mut self) {
        loop {
            tokio::time::sleep(TICK).await;
            self.tick().await;
        }
    }

    async fn tick(&mut self) {
        let first = self.owed;
        let (paths, taken) = (self.schedule.paths.clone(), self.checkpointer.take());
        let (every, minutes, since) = (self.schedule.every, self.schedule.minutes, self.since);
        let due = move |c: &Checkpointer, st: &dyn super::Store| -> Result<bool, StoreError> {
            let behind = c.behind(st)?;
            Ok(first
                || (every > 0 && behind >= every)
                || (minutes > 0 && behind > 0 && since.elapsed().as_secs() >= minutes * 60))
        };
        let job = move |st: &dyn super::Store| {
            let mut c = match taken {
                Some(c) => c,
                None => Checkpointer::open(paths).map_err(WriteError::Store)?,
            };
            let wrote = if due(&c, st)? {
                c.write(st, true)?
            } else {
                None
            };
            Ok::<_, WriteError>((c, wrote))
        };
        match self.store.run(move |st| Ok(job(st))).await {
            Ok(Ok((kept, wrote))) => {
                if let Some(cp) = wrote {
                    tracing::info!(seq = cp.seq, "audit checkpoint signed");
                    self.since = std::time::Instant::now();
                }
                self.checkpointer = Some(kept);
                self.owed = false;
            }
            Ok(Err(e)) => tracing::error!(error = %e, "audit checkpoint not written"),
            Err(e) => tracing::error!(error = %e, "the audit checkpoint job failed"),
        }
    }
}

mod verify;
pub use verify::{check, check_files, Report};

#[cfg(test)]
mod tests;
