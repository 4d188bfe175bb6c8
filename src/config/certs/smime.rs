//! An S/MIME recipient certificate (`ADDRESS.pem`, `DOMAIN.pem`), read once
//! per config load: the RSA key to wrap content keys with, the issuer and
//! serial number that name it in the CMS `RecipientInfo`, its validity
//! window, and whether its usages allow encryption at all.
//!
//! The certificate is not chain-verified: the file's place in `certs/` is
//! the administrator's statement that this key belongs to that address. What
//! is checked is what makes a key wrong to encrypt to (RFC 8550 §4.4): the
//! validity window (at each look-up, since time moves on while the server
//! runs), the key usage (keyEncipherment, when the extension is present),
//! the extended key usage (emailProtection or any, when present), and an RSA
//! key of at least 2048 bits.

use cms::cert::IssuerAndSerialNumber;
use const_oid::db::{rfc5280, rfc5912};
use der::{Decode, Encode};
use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::traits::PublicKeyParts;
use std::time::SystemTime;
use x509_cert::ext::pkix::{ExtendedKeyUsage, KeyUsage};
use x509_cert::Certificate;

/// RSA moduli below this are refused: 1024-bit keys are within reach.
const MIN_RSA_BITS: usize = 2048;

/// What a certificate gives the encrypt action.
#[derive(Debug, Clone)]
pub(crate) struct SmimeCert {
    /// Names the key in the `KeyTransRecipientInfo` (version 0, the form
    /// every S/MIME client reads).
    pub(crate) rid: IssuerAndSerialNumber,
    pub(crate) public: rsa::RsaPublicKey,
    /// The key is an `id-RSAES-OAEP` key (RFC 4055): PKCS#1 v1.5 must not be
    /// used with it.
    pub(crate) oaep_only: bool,
    pub(crate) not_before: SystemTime,
    pub(crate) not_after: SystemTime,
}

/// Why a certificate file cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Bad {
    /// Not a certificate at all: a configuration error.
    Malformed(String),
    /// A certificate, but not one to encrypt to: recipients fall back.
    Unusable(String),
}

/// Reads the first certificate of a PEM file and checks its usages.
pub(crate) fn parse(pem: &[u8]) -> Result<SmimeCert, Bad> {
    let chain = Certificate::load_pem_chain(pem)
        .map_err(|e| Bad::Malformed(format!("not a PEM certificate: {e}")))?;
    let cert = chain
        .into_iter()
        .next()
        .ok_or_else(|| Bad::Malformed("no certificate in the file".into()))?;
    let tbs = &cert.tbs_certificate;
    check_usages(tbs.extensions.as_deref().unwrap_or_default())?;
    let (public, oaep_only) = rsa_key(&tbs.subject_public_key_info)?;
    if public.size() * 8 < MIN_RSA_BITS {
        return Err(Bad::Unusable(format!(
            "RSA key of {} bits (at least {MIN_RSA_BITS} needed)",
            public.size() * 8
        )));
    }
    Ok(SmimeCert {
        rid: IssuerAndSerialNumber {
            issuer: tbs.issuer.clone(),
            serial_number: tbs.serial_number.clone(),
        },
        public,
        oaep_only,
        not_before: tbs.validity.not_before.to_system_time(),
        not_after: tbs.validity.not_after.to_system_time(),
    })
}

impl SmimeCert {
    /// `Err(why)` outside the validity window.
    pub(crate) fn valid_at(&self, now: SystemTime) -> Result<(), String> {
        if now < self.not_before {
            return Err(format!("not valid before {}", rfc3339(self.not_before)));
        }
        if now > self.not_after {
            return Err(format!("expired on {}", rfc3339(self.not_after)));
        }
        Ok(())
    }
}

pub(crate) fn rfc3339(t: SystemTime) -> String {
    chrono::DateTime::<chrono::Utc>::from(t)
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// keyUsage, when present, must allow keyEncipherment (RSA key transport);
/// extendedKeyUsage, when present, must allow e-mail protection.
fn check_usages(extensions: &[x509_cert::ext::Extension]) -> Result<(), Bad> {
    for ext in extensions {
        let value = ext.extn_value.as_bytes();
        if ext.extn_id == rfc5280::ID_CE_KEY_USAGE {
            let ku = KeyUsage::from_der(value)
                .map_err(|e| Bad::Malformed(format!("unreadable keyUsage: {e}")))?;
            if !ku.key_encipherment() {
                return Err(Bad::Unusable(
                    "its key usage does not include keyEncipherment".into(),
                ));
            }
        } else if ext.extn_id == rfc5280::ID_CE_EXT_KEY_USAGE {
            let eku = ExtendedKeyUsage::from_der(value)
                .map_err(|e| Bad::Malformed(format!("unreadable extendedKeyUsage: {e}")))?;
            let ok = eku.0.iter().any(|oid| {
                *oid == rfc5280::ID_KP_EMAIL_PROTECTION || *oid == rfc5280::ANY_EXTENDED_KEY_USAGE
            });
            if !ok {
                return Err(Bad::Unusable(
                    "its extended key usage does not include emailProtection".into(),
                ));
            }
        }
    }
    Ok(())
}

/// The RSA public key, and whether the certificate restricts it to OAEP.
fn rsa_key(
    spki: &x509_cert::spki::SubjectPublicKeyInfoOwned,
) -> Result<(rsa::RsaPublicKey, bool), Bad> {
    let oid = spki.algorithm.oid;
    let oaep_only = if oid == rfc5912::RSA_ENCRYPTION {
        false
    } else if oid == rfc5912::ID_RSAES_OAEP {
        oaep_params_are_sha256(spki.algorithm.parameters.as_ref())?;
        true
    } else {
        return Err(Bad::Unusable(format!(
            "its key is not RSA (algorithm {oid}); only RSA key transport is supported"
        )));
    };
    let bits = spki
        .subject_public_key
        .as_bytes()
        .ok_or_else(|| Bad::Malformed("public key is not a whole number of bytes".into()))?;
    let key = rsa::RsaPublicKey::from_pkcs1_der(bits)
        .map_err(|e| Bad::Malformed(format!("unreadable RSA public key: {e}")))?;
    Ok((key, oaep_only))
}

/// An `id-RSAES-OAEP` key with parameters may be used with those only
/// (RFC 4055 §4.1); we wrap with SHA-256 and MGF1-SHA-256, so other
/// parameters make the key unusable. Absent parameters allow any.
fn oaep_params_are_sha256(params: Option<&der::Any>) -> Result<(), Bad> {
    let Some(params) = params else {
        return Ok(());
    };
    let der = params
        .to_der()
        .map_err(|e| Bad::Malformed(format!("unreadable OAEP parameters: {e}")))?;
    let parsed = rsa::pkcs1::RsaOaepParams::from_der(&der)
        .map_err(|e| Bad::Malformed(format!("unreadable OAEP parameters: {e}")))?;
    let wanted = rsa::pkcs1::RsaOaepParams::new::<sha2::Sha256>();
    // Compared by OID: a NULL or absent hash parameter means the same.
    let mgf_hash = parsed.mask_gen.parameters.map(|p| p.oid);
    let same = parsed.hash.oid == wanted.hash.oid
        && parsed.mask_gen.oid == wanted.mask_gen.oid
        && mgf_hash == wanted.mask_gen.parameters.map(|p| p.oid)
        && parsed.p_source == wanted.p_source;
    if !same {
        return Err(Bad::Unusable(
            "its RSAES-OAEP parameters are not SHA-256 with MGF1-SHA-256 and no label".into(),
        ));
    }
    Ok(())
}
