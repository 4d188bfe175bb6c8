//! An OpenPGP recipient key (`ADDRESS.asc`), read once per config load with
//! rpgp (see `act::encrypt::pgp` for why rpgp). What is kept: the key, and
//! every component that may encrypt — subkeys (and the primary key) whose
//! *verified* binding signature grants an encryption flag — with its
//! creation and expiry, so that a look-up picks the newest one valid at
//! that moment.
//!
//! Signatures are checked where they decide what we encrypt to: a subkey
//! counts only if the primary key's binding signature over it verifies (so a
//! subkey spliced into the file is ignored), and a revocation counts only if
//! it verifies. Third-party certifications are neither needed nor checked.

use chrono::{DateTime, Utc};
use pgp::composed::{Deserializable, SignedPublicKey};
use pgp::packet::{Signature, SignatureType};
use pgp::types::{KeyDetails, KeyVersion, PublicKeyTrait};
use std::time::SystemTime;

use super::smime::Bad;

/// A component key that may encrypt.
#[derive(Debug, Clone)]
struct Candidate {
    /// Index into `public_subkeys`; `None` for the primary key.
    subkey: Option<usize>,
    created: DateTime<Utc>,
    expires: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub(crate) struct PgpKey {
    pub(crate) key: SignedPublicKey,
    /// When the whole key (the primary) expires.
    expires: Option<DateTime<Utc>>,
    candidates: Vec<Candidate>,
}

/// What to encrypt to: the primary key or one subkey.
pub(crate) enum EncryptionKey<'a> {
    Primary(&'a pgp::packet::PublicKey),
    Subkey(&'a pgp::packet::PublicSubkey),
}

/// Reads the first key of an armored file and finds its encryption keys.
pub(crate) fn parse(armored: &[u8]) -> Result<PgpKey, Bad> {
    let (key, _) = SignedPublicKey::from_armor_single(armored)
        .map_err(|e| Bad::Malformed(format!("not an armored OpenPGP public key: {e}")))?;
    if key.primary_key.version() != KeyVersion::V4 {
        return Err(Bad::Unusable(format!(
            "an OpenPGP {:?} key; only version 4 keys are supported",
            key.primary_key.version()
        )));
    }
    let primary = &key.primary_key;
    if key
        .details
        .revocation_signatures
        .iter()
        .any(|s| s.verify_key(primary).is_ok())
    {
        return Err(Bad::Unusable("the OpenPGP key is revoked".into()));
    }
    let created = *primary.created_at();
    let self_sigs = verified_self_signatures(&key);
    if self_sigs.is_empty() {
        return Err(Bad::Unusable(
            "no user ID self-signature of the OpenPGP key verifies".into(),
        ));
    }
    let expires = self_sigs
        .iter()
        .filter_map(|s| s.key_expiration_time())
        .max()
        .map(|d| created + *d);
    let mut candidates = subkey_candidates(&key);
    if primary.is_encryption_key() && self_sigs.iter().any(|s| may_encrypt(s)) {
        candidates.push(Candidate {
            subkey: None,
            created,
            expires,
        });
    }
    if candidates.is_empty() {
        return Err(Bad::Unusable(
            "the OpenPGP key has no encryption-capable (sub)key".into(),
        ));
    }
    Ok(PgpKey {
        key,
        expires,
        candidates,
    })
}

impl PgpKey {
    /// `Err(why)` when nothing in the key can be encrypted to at `now`.
    pub(crate) fn valid_at(&self, now: SystemTime) -> Result<(), String> {
        let now = DateTime::<Utc>::from(now);
        if let Some(e) = self.expires.filter(|e| *e <= now) {
            return Err(format!(
                "the OpenPGP key expired on {}",
                e.format("%Y-%m-%d")
            ));
        }
        match self.newest(now) {
            Some(_) => Ok(()),
            None => Err(
                "every encryption subkey of the OpenPGP key has expired or is not yet valid".into(),
            ),
        }
    }

    /// The newest encryption-capable component valid at `now`.
    pub(crate) fn encryption_key(&self, now: SystemTime) -> Option<EncryptionKey<'_>> {
        let c = self.newest(DateTime::<Utc>::from(now))?;
        Some(match c.subkey {
            None => EncryptionKey::Primary(&self.key.primary_key),
            Some(i) => EncryptionKey::Subkey(&self.key.public_subkeys[i].key),
        })
    }

    fn newest(&self, now: DateTime<Utc>) -> Option<&Candidate> {
        self.candidates
            .iter()
            .filter(|c| c.created <= now && c.expires.is_none_or(|e| e > now))
            .max_by_key(|c| c.created)
    }
}

/// User ID self-signatures that verify with the primary key.
fn verified_self_signatures(key: &SignedPublicKey) -> Vec<&Signature> {
    let primary = &key.primary_key;
    key.details
        .users
        .iter()
        .flat_map(|u| {
            u.signatures.iter().filter(move |s| {
                s.verify_certification(primary, pgp::types::Tag::UserId, &u.id)
                    .is_ok()
            })
        })
        .chain(
            key.details
                .direct_signatures
                .iter()
                .filter(|s| s.verify_key(primary).is_ok()),
        )
        .collect()
}

fn may_encrypt(sig: &Signature) -> bool {
    let flags = sig.key_flags();
    flags.encrypt_comms() || flags.encrypt_storage()
}

/// Subkeys bound by a verified binding signature with an encryption flag,
/// and not revoked by a verified revocation.
fn subkey_candidates(key: &SignedPublicKey) -> Vec<Candidate> {
    let primary = &key.primary_key;
    let mut out = Vec::new();
    for (i, sub) in key.public_subkeys.iter().enumerate() {
        let verified: Vec<&Signature> = sub
            .signatures
            .iter()
            .filter(|s| s.verify_subkey_binding(primary, &sub.key).is_ok())
            .collect();
        if verified
            .iter()
            .any(|s| s.typ() == Some(SignatureType::SubkeyRevocation))
        {
            continue;
        }
        // The newest binding states the subkey's current flags and expiry.
        let Some(binding) = verified
            .iter()
            .filter(|s| s.typ() == Some(SignatureType::SubkeyBinding))
            .max_by_key(|s| s.created().copied())
        else {
            continue;
        };
        if !sub.key.is_encryption_key() || !may_encrypt(binding) {
            continue;
        }
        let created = *sub.key.created_at();
        out.push(Candidate {
            subkey: Some(i),
            created,
            expires: binding.key_expiration_time().map(|d| created + *d),
        });
    }
    out
}
