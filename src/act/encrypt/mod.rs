//! Encrypt (DESIGN §4 rule 5): every recipient gets the message in the form
//! policy chose for it, each form as its own *copy* relayed to the next hop
//! in its own transaction.
//!
//! - Recipients that need no encryption (the firm's own, and keyless ones
//!   under a rule whose `fallback = "pass"`) share one copy: the original.
//! - Each recipient key gets its own encrypted copy: [`smime`] for a
//!   certificate, [`pgp`] for an OpenPGP key. Recipients that share one key
//!   (a `DOMAIN.pem`) share the copy. The firm's archive key (`[encrypt]`)
//!   is an extra recipient of every encrypted copy.
//! - What is encrypted is the original content part exactly ([`entity`]);
//!   the outer headers keep From, To, Cc, Date, Message-ID and the few
//!   others delivery and threading need, and the Subject unless
//!   `neutral_subject` replaces it.
//!
//! The reply to DATA reflects every copy: all accepted → 250; any copy that
//! failed temporarily (or could not be made) → 451, and a copy the next hop
//! already accepted is remembered in the store (a hash of envelope, message
//! and the copy's recipients) for [`REMEMBER`], so the client's retry does
//! not send it twice; every failure permanent → the first permanent reply,
//! naming how many copies did go. One log line per copy: message id and
//! copy number, recipients, kind, reply.

mod entity;
mod pgp;
mod smime;

use super::{pass, tempfail, Tempfail};
use crate::check::Verdict;
use crate::config::certs::{Material, RecipientKey};
use crate::config::Config;
use crate::smtp::codec::{MailParams, Reply};
use crate::smtp::relay::{self, RelayConfig, RelayError};
use crate::smtp::session::Transaction;
use crate::store::Store;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How long an accepted copy is remembered against a retry. Postfix retries
/// a deferred message within minutes to hours; a day covers that.
pub const REMEMBER: Duration = Duration::from_secs(24 * 3600);

/// What one copy is.
#[derive(Debug, Clone)]
enum Kind {
    Plain,
    Encrypted(Arc<RecipientKey>),
}

impl Kind {
    fn same(&self, other: &Kind) -> bool {
        match (self, other) {
            (Kind::Plain, Kind::Plain) => true,
            (Kind::Encrypted(a), Kind::Encrypted(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }

    fn as_str(&self) -> &'static str {
        match self {
            Kind::Plain => "plain",
            Kind::Encrypted(k) => k.kind().as_str(),
        }
    }
}

#[derive(Debug)]
struct Copy {
    kind: Kind,
    /// Envelope recipients as the client gave them.
    rcpts: Vec<String>,
}

/// What became of one copy.
enum Fate {
    /// With the next hop's reply to the final dot.
    Accepted(Reply),
    /// Accepted in an earlier attempt at the same message.
    Earlier,
    Temporary(Reply),
    Permanent(Reply),
}

/// Makes, relays and accounts for every copy; the reply to DATA.
pub async fn encrypt(
    cfg: &Config,
    store: Arc<dyn Store>,
    id: &str,
    tx: &Transaction,
    verdict: &Verdict,
    raw: Vec<u8>,
) -> Reply {
    let Some(copies) = plan(tx, verdict) else {
        tracing::error!(id, "envelope and verdict disagree on the recipients");
        return tempfail(Tempfail::Internal);
    };
    let raw = Arc::new(raw);
    let extra: Vec<String> = verdict
        .modifiers
        .add_headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .collect();
    let mut fates = Vec::with_capacity(copies.len());
    for (n, copy) in copies.iter().enumerate() {
        let fate = one_copy(cfg, store.clone(), tx, &raw, copy, &extra, id).await;
        log_copy(id, n + 1, copy, &fate);
        fates.push(fate);
    }
    answer(id, &fates)
}

/// Groups the envelope recipients by the key policy found for each.
fn plan(tx: &Transaction, verdict: &Verdict) -> Option<Vec<Copy>> {
    if tx.rcpts.len() != verdict.recipients.len() {
        return None;
    }
    let mut copies: Vec<Copy> = Vec::new();
    for (rcpt, r) in tx.rcpts.iter().zip(&verdict.recipients) {
        let kind = r.key.clone().map_or(Kind::Plain, Kind::Encrypted);
        match copies.iter_mut().find(|c| c.kind.same(&kind)) {
            Some(c) => c.rcpts.push(rcpt.clone()),
            None => copies.push(Copy {
                kind,
                rcpts: vec![rcpt.clone()],
            }),
        }
    }
    Some(copies)
}

async fn one_copy(
    cfg: &Config,
    store: Arc<dyn Store>,
    tx: &Transaction,
    raw: &Arc<Vec<u8>>,
    copy: &Copy,
    extra: &[String],
    id: &str,
) -> Fate {
    let key = copy_key(tx, raw, &copy.rcpts);
    let s = store.clone();
    let k = key.clone();
    match tokio::task::spawn_blocking(move || s.copy_accepted(&k, REMEMBER)).await {
        Ok(Ok(true)) => return Fate::Earlier,
        Ok(Ok(false)) => {}
        Ok(Err(e)) => {
            tracing::error!(id, error = %e, "cannot read the accepted copies; answering 451");
            return Fate::Temporary(tempfail(Tempfail::Internal));
        }
        Err(_) => return Fate::Temporary(tempfail(Tempfail::Internal)),
    }
    let bytes = match make(cfg, &copy.kind, raw, extra).await {
        Ok(b) => b,
        Err(why) => {
            tracing::error!(id, kind = copy.kind.as_str(), error = %why, "cannot encrypt; answering 451");
            return Fate::Temporary(tempfail(Tempfail::Internal));
        }
    };
    let params = MailParams {
        size: None,
        eight_bit: bytes.iter().any(|b| *b >= 0x80),
        smtputf8: tx.params.smtputf8,
    };
    let rc = RelayConfig::from_config(cfg);
    let fate = fate(
        id,
        relay::relay(&rc, &tx.from, &params, &copy.rcpts, &bytes).await,
    );
    if matches!(fate, Fate::Accepted(_)) {
        let id = id.to_string();
        let remembered =
            tokio::task::spawn_blocking(move || store.record_copy(&key, &id, REMEMBER)).await;
        if !matches!(remembered, Ok(Ok(()))) {
            // The copy is delivered; only a retry could now duplicate it.
            tracing::warn!("cannot record an accepted copy; a retry may send it again");
        }
    }
    fate
}

/// The copy's bytes: the original for a plain copy, else the encrypted
/// message, made on a blocking thread (RSA and AES over up to the size
/// limit).
async fn make<'a>(
    cfg: &Config,
    kind: &Kind,
    raw: &'a Arc<Vec<u8>>,
    extra: &[String],
) -> Result<Cow<'a, [u8]>, String> {
    let Kind::Encrypted(key) = kind else {
        return Ok(Cow::Borrowed(raw.as_slice()));
    };
    let job = Job {
        key: key.clone(),
        archive_cert: cfg.encrypt.archive_cert.clone(),
        archive_key: cfg.encrypt.archive_key.clone(),
        neutral_subject: cfg.encrypt.neutral_subject.clone(),
        transport: cfg.encrypt.key_transport,
        extra: extra.to_vec(),
        raw: raw.clone(),
    };
    match tokio::task::spawn_blocking(move || job.run()).await {
        Ok(r) => r.map(Cow::Owned),
        Err(_) => Err("the encryption task panicked".into()),
    }
}

/// Everything one encrypted copy needs, owned, for the blocking thread.
struct Job {
    key: Arc<RecipientKey>,
    archive_cert: Option<Arc<RecipientKey>>,
    archive_key: Option<Arc<RecipientKey>>,
    neutral_subject: Option<String>,
    transport: crate::config::encrypt::KeyTransport,
    extra: Vec<String>,
    raw: Arc<Vec<u8>>,
}

impl Job {
    fn run(self) -> Result<Vec<u8>, String> {
        let split = entity::split(&self.raw);
        let inner = split.inner_entity();
        let outer = split.outer_headers(self.neutral_subject.as_deref(), &self.extra);
        let now = SystemTime::now();
        match &self.key.material {
            Material::Smime(cert) => {
                let mut certs = vec![cert];
                if let Some(Material::Smime(a)) = archive(&self.archive_cert, now)? {
                    certs.push(a);
                }
                let der = smime::envelope(&inner, &certs, self.transport)?;
                Ok(smime::message(&outer, &der))
            }
            Material::OpenPgp(key) => {
                let mut keys = vec![key.as_ref()];
                if let Some(Material::OpenPgp(a)) = archive(&self.archive_key, now)? {
                    keys.push(a.as_ref());
                }
                let armored = pgp::encrypt(&inner, &keys, now)?;
                Ok(pgp::message(&outer, &armored))
            }
        }
    }
}

/// The archive key's material, refusing (so 451, never a copy the firm
/// cannot read) once it is no longer valid.
fn archive(key: &Option<Arc<RecipientKey>>, now: SystemTime) -> Result<Option<&Material>, String> {
    let Some(key) = key else { return Ok(None) };
    key.valid_at(now)
        .map_err(|why| format!("the archive key {}: {why}", key.name()))?;
    Ok(Some(&key.material))
}

/// Names a copy across attempts: the same envelope, message and copy
/// recipients give the same key (encryption itself is randomised, so the
/// hash is over the plaintext).
fn copy_key(tx: &Transaction, raw: &[u8], copy_rcpts: &[String]) -> String {
    let mut h = Sha256::new();
    h.update(b"matterwall accepted copy v1\0");
    h.update(tx.from.as_bytes());
    for list in [&tx.rcpts[..], copy_rcpts] {
        h.update([1]);
        for r in list {
            h.update(r.as_bytes());
            h.update([0]);
        }
    }
    h.update([2]);
    h.update(raw);
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What the next hop's answers mean for one copy, as `pass` reads them.
fn fate(id: &str, result: Result<relay::Outcome, RelayError>) -> Fate {
    let reply = match result {
        Ok(outcome) => {
            for (rcpt, reply) in &outcome.refused {
                tracing::warn!(id, rcpt = %rcpt, reply = reply.code, "next hop refused a recipient");
            }
            match (outcome.data, outcome.refused.into_iter().next()) {
                (Some(r), _) if (200..300).contains(&r.code) => return Fate::Accepted(r),
                (Some(r), _) => r,
                (None, Some((_, r))) => r,
                (None, None) => tempfail(Tempfail::Internal),
            }
        }
        Err(RelayError::Refused { reply, .. }) => reply,
        Err(e) => {
            tracing::warn!(id, error = %e, maybe_delivered = e.maybe_delivered(), "relay failed");
            return Fate::Temporary(tempfail(Tempfail::NextHop));
        }
    };
    match pass::upstream(reply) {
        r if r.code >= 500 => Fate::Permanent(r),
        r => Fate::Temporary(r),
    }
}

fn log_copy(id: &str, n: usize, copy: &Copy, fate: &Fate) {
    let reply = match fate {
        Fate::Earlier => "accepted in an earlier attempt; not sent again".to_string(),
        Fate::Accepted(r) | Fate::Temporary(r) | Fate::Permanent(r) => r.to_string(),
    };
    tracing::info!(
        id,
        copy = n,
        to = ?copy.rcpts,
        kind = copy.kind.as_str(),
        reply = %reply,
        "copy"
    );
}

/// The reply to DATA for all the copies.
fn answer(id: &str, fates: &[Fate]) -> Reply {
    let total = fates.len();
    let done = fates
        .iter()
        .filter(|f| matches!(f, Fate::Accepted(_) | Fate::Earlier))
        .count();
    if done == total {
        return Reply::new(250, format!("2.0.0 {id}: {total} copies relayed"));
    }
    if let Some(Fate::Temporary(r)) = fates.iter().find(|f| matches!(f, Fate::Temporary(_))) {
        let failed = total - done;
        let (enhanced, _) = r.text.split_once(' ').unwrap_or(("4.4.1", ""));
        return Reply::new(
            451,
            format!("{enhanced} {failed} of {total} copies not relayed, try again later"),
        );
    }
    let Some(Fate::Permanent(r)) = fates.iter().find(|f| matches!(f, Fate::Permanent(_))) else {
        return tempfail(Tempfail::Internal);
    };
    if total == 1 {
        return r.clone();
    }
    Reply::new(
        r.code,
        format!("{} ({done} of {total} copies were relayed)", r.text),
    )
}
