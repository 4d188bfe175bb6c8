//! Encrypt (DESIGN §4 rule 5): every recipient gets the message in the form
//! policy chose for it, each form as its own *copy* relayed to the next hop
//! in its own transaction.
//!
//! - Recipients that need no encryption (the firm's own, and keyless ones
//!   under a rule whose `fallback = "pass"`) share one copy: the message as
//!   `pass` sends it, with the rules' modifiers.
//! - Each recipient key gets its own encrypted copy: [`smime`] for a
//!   certificate, [`pgp`] for an OpenPGP key. Recipients that share one key
//!   (a `DOMAIN.pem`) share the copy. The firm's archive key (`[encrypt]`)
//!   is an extra recipient of every encrypted copy.
//! - What is encrypted is the original content part exactly ([`entity`]);
//!   the outer headers keep From, To, Cc, Date, Message-ID and the few
//!   others delivery and threading need, and the Subject unless
//!   `neutral_subject` replaces it.
//!
//! The reply to DATA reflects every copy ([`outcome`]): all accepted → 250;
//! any copy that failed temporarily (or could not be made) → 451, and a copy
//! the next hop already accepted is remembered in the store (a hash of
//! envelope, message and the copy's recipients) for [`REMEMBER`], so the
//! client's retry does not send it twice; every failure permanent → 250 and
//! a delivery report when some copy went, else the next hop's refusal. One
//! log line per copy: message id and copy number, recipients, kind, reply.

mod entity;
mod outcome;
mod pgp;
mod smime;

use super::{dsn, modify, tempfail, Relayed, Tempfail};
use crate::check::Verdict;
use crate::config::certs::{Material, RecipientKey};
use crate::config::Config;
use crate::smtp::codec::MailParams;
use crate::smtp::relay::{self, RelayConfig};
use crate::smtp::session::Transaction;
use crate::store::Handle;
use outcome::Fate;
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// How long an accepted copy is remembered against a retry. Postfix retries
/// a deferred message within minutes to hours; a day covers that.
pub(crate) const REMEMBER: Duration = Duration::from_secs(24 * 3600);

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

/// Makes, relays and accounts for every copy; the reply to DATA.
pub(crate) async fn encrypt(
    cfg: &Config,
    store: Handle,
    id: &str,
    tx: &Transaction,
    verdict: &Verdict,
    raw: Vec<u8>,
) -> Relayed {
    let Some(copies) = plan(tx, verdict) else {
        tracing::error!(id, "envelope and verdict disagree on the recipients");
        return tempfail(Tempfail::Internal).into();
    };
    // Modifiers go on the plaintext; the copy key is over what the client
    // sent, which is what its retry sends again.
    let raw = Arc::new(raw);
    let out = match modify::apply(&raw, &verdict.modifiers) {
        // Nothing to add: the copies share the client's bytes.
        std::borrow::Cow::Borrowed(_) => Arc::clone(&raw),
        std::borrow::Cow::Owned(changed) => Arc::new(changed),
    };
    let extra: Vec<String> = verdict
        .modifiers
        .add_headers
        .iter()
        .map(|(name, _)| name.to_ascii_lowercase())
        .collect();
    let mut fates = Vec::with_capacity(copies.len());
    for (n, copy) in copies.iter().enumerate() {
        let fate = one_copy(
            cfg,
            store.clone(),
            tx,
            (raw.as_slice(), &out),
            copy,
            &extra,
            id,
        )
        .await;
        outcome::log(id, n + 1, copy, &fate);
        fates.push(fate);
    }
    let reply = outcome::answer(id, &fates);
    let refused = outcome::to_report(&fates, &reply);
    dsn::report(cfg, store, id, tx, &raw, &refused).await;
    Relayed {
        reply,
        refused: refused.into_iter().map(|(r, _)| r).collect(),
    }
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

/// One copy: skipped if an earlier attempt delivered it, else made from
/// `out` (the plaintext with the modifiers), relayed, and remembered once
/// accepted. `raw` (what the client sent) names it across attempts.
async fn one_copy(
    cfg: &Config,
    store: Handle,
    tx: &Transaction,
    (raw, out): (&[u8], &Arc<Vec<u8>>),
    copy: &Copy,
    extra: &[String],
    id: &str,
) -> Fate {
    let key = copy_key(tx, raw, &copy.rcpts);
    let k = key.clone();
    match store.run(move |st| st.copy_accepted(&k, REMEMBER)).await {
        Ok(true) => return Fate::Earlier,
        Ok(false) => {}
        Err(e) => {
            tracing::error!(id, error = %e, "cannot read the accepted copies; answering 451");
            return Fate::Temporary(tempfail(Tempfail::Internal));
        }
    }
    let bytes = match make(cfg, &copy.kind, out, extra).await {
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
    let result = relay::relay(&rc, &tx.from, &params, &copy.rcpts, &bytes).await;
    let fate = outcome::fate(id, &copy.rcpts, result);
    if matches!(fate, Fate::Accepted { .. }) {
        let owned = id.to_string();
        let remembered = store
            .run(move |st| st.record_copy(&key, &owned, REMEMBER))
            .await;
        if remembered.is_err() {
            // The copy is delivered; only a retry could now duplicate it.
            tracing::warn!(
                id,
                "cannot record an accepted copy; a retry may send it again"
            );
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
