//! S/MIME (RFC 8551): the inner entity becomes CMS `EnvelopedData` (RFC
//! 5652) with AES-256-CBC content encryption and one `KeyTransRecipientInfo`
//! per certificate (the recipient's, and the firm's archive certificate).
//!
//! Crates: RustCrypto `cms` 0.2 (the `EnvelopedData` builder and every ASN.1
//! structure), `x509-cert`, `rsa` 0.9 and `der` — pure Rust, so CI needs no
//! C library. `cms` 0.2's own `KeyTransRecipientInfoBuilder` wraps keys with
//! PKCS#1 v1.5 only, so [`Ktri`] implements the crate's
//! `RecipientInfoBuilder` trait itself, with `rsa::Oaep` (SHA-256, MGF1
//! SHA-256, RFC 4055 parameters) or `rsa::Pkcs1v15Encrypt`; no ASN.1 is
//! written by hand. (RUSTSEC-2023-0071, the Marvin timing attack on `rsa`,
//! concerns private-key operations; here only public keys are used.)
//!
//! Enveloped-data rather than authEnveloped-data (AES-GCM, RFC 5083): every
//! S/MIME client in a law firm's correspondents' hands reads the former;
//! Outlook and older Thunderbird do not read the latter.

use crate::config::certs::smime::SmimeCert;
use crate::config::encrypt::KeyTransport;
use cms::builder::{
    ContentEncryptionAlgorithm, EnvelopedDataBuilder, RecipientInfoBuilder, RecipientInfoType,
};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::enveloped_data::{
    EncryptedKey, KeyTransRecipientInfo, RecipientIdentifier, RecipientInfo,
};
use const_oid::db::{rfc5911, rfc5912};
use der::{Any, Encode};
use rand::rngs::OsRng;
use x509_cert::spki::AlgorithmIdentifierOwned;

/// One RSA key-transport recipient: wraps the content-encryption key.
struct Ktri<'a> {
    cert: &'a SmimeCert,
    oaep: bool,
}

impl RecipientInfoBuilder for Ktri<'_> {
    fn recipient_info_type(&self) -> RecipientInfoType {
        RecipientInfoType::Ktri
    }

    /// Version 0: the recipient is named by issuer and serial number.
    fn recipient_info_version(&self) -> CmsVersion {
        CmsVersion::V0
    }

    fn build(&mut self, cek: &[u8]) -> Result<RecipientInfo, cms::builder::Error> {
        let fail = |what: &str| cms::builder::Error::Builder(what.to_string());
        let key = &self.cert.public;
        let (wrapped, key_enc_alg) = if self.oaep {
            let params = rsa::pkcs1::RsaOaepParams::new::<sha2::Sha256>();
            let alg = AlgorithmIdentifierOwned {
                oid: rfc5912::ID_RSAES_OAEP,
                parameters: Some(Any::encode_from(&params)?),
            };
            let padding = rsa::Oaep::new::<sha2::Sha256>();
            let wrapped = key
                .encrypt(&mut OsRng, padding, cek)
                .map_err(|_| fail("RSA-OAEP key wrap failed"))?;
            (wrapped, alg)
        } else {
            let alg = AlgorithmIdentifierOwned {
                oid: rfc5912::RSA_ENCRYPTION,
                parameters: Some(Any::null()),
            };
            let wrapped = key
                .encrypt(&mut OsRng, rsa::Pkcs1v15Encrypt, cek)
                .map_err(|_| fail("RSA PKCS#1 v1.5 key wrap failed"))?;
            (wrapped, alg)
        };
        Ok(RecipientInfo::Ktri(KeyTransRecipientInfo {
            version: CmsVersion::V0,
            rid: RecipientIdentifier::IssuerAndSerialNumber(self.cert.rid.clone()),
            key_enc_alg,
            enc_key: EncryptedKey::new(wrapped)?,
        }))
    }
}

/// The DER `ContentInfo` holding `EnvelopedData` of `inner` for `certs`.
pub(crate) fn envelope(
    inner: &[u8],
    certs: &[&SmimeCert],
    transport: KeyTransport,
) -> Result<Vec<u8>, String> {
    let err = |e: cms::builder::Error| format!("CMS: {e:?}");
    let mut builder =
        EnvelopedDataBuilder::new(None, inner, ContentEncryptionAlgorithm::Aes256Cbc, None)
            .map_err(err)?;
    for cert in certs {
        let oaep = cert.oaep_only || transport == KeyTransport::Oaep;
        builder
            .add_recipient_info(Ktri { cert, oaep })
            .map_err(err)?;
    }
    let enveloped = builder.build_with_rng(&mut OsRng).map_err(err)?;
    let info = ContentInfo {
        content_type: rfc5911::ID_ENVELOPED_DATA,
        content: Any::encode_from(&enveloped).map_err(|e| format!("DER: {e}"))?,
    };
    info.to_der().map_err(|e| format!("DER: {e}"))
}

/// The whole message: the outer headers in clear, then the S/MIME entity.
pub(crate) fn message(outer_headers: &[u8], der: &[u8]) -> Vec<u8> {
    let mut out = outer_headers.to_vec();
    out.extend_from_slice(
        b"MIME-Version: 1.0\r\n\
          Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"\r\n\
          Content-Disposition: attachment; filename=\"smime.p7m\"\r\n\
          Content-Transfer-Encoding: base64\r\n\r\n",
    );
    out.extend_from_slice(&super::entity::base64_lines(der));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use cms::enveloped_data::EnvelopedData;
    use der::Decode;
    use rsa::pkcs8::DecodePrivateKey;

    fn fixture(path: &str) -> Vec<u8> {
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
    }

    fn private_key() -> rsa::RsaPrivateKey {
        let pem =
            String::from_utf8(fixture("fixtures/keys/legal@harrowgate-shipping.com.key")).unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        use base64::Engine;
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        rsa::RsaPrivateKey::from_pkcs8_der(&der).unwrap()
    }

    /// Decrypts as a recipient would, with nothing but the structures.
    fn open(der: &[u8]) -> (Vec<u8>, const_oid::ObjectIdentifier) {
        use cbc::cipher::{block_padding::Pkcs7, BlockDecryptMut, KeyIvInit};
        let info = ContentInfo::from_der(der).unwrap();
        assert_eq!(info.content_type, rfc5911::ID_ENVELOPED_DATA);
        let env: EnvelopedData = info.content.decode_as().unwrap();
        let RecipientInfo::Ktri(ktri) = env.recip_infos.0.get(0).unwrap() else {
            panic!("not key transport");
        };
        let key = private_key();
        let cek = if ktri.key_enc_alg.oid == rfc5912::ID_RSAES_OAEP {
            key.decrypt(rsa::Oaep::new::<sha2::Sha256>(), ktri.enc_key.as_bytes())
        } else {
            key.decrypt(rsa::Pkcs1v15Encrypt, ktri.enc_key.as_bytes())
        }
        .unwrap();
        let alg = &env.encrypted_content.content_enc_alg;
        assert_eq!(alg.oid, rfc5911::ID_AES_256_CBC);
        let iv = alg.parameters.as_ref().unwrap().value();
        let data = env.encrypted_content.encrypted_content.unwrap();
        let plain = cbc::Decryptor::<aes::Aes256>::new_from_slices(&cek, iv)
            .unwrap()
            .decrypt_padded_vec_mut::<Pkcs7>(data.as_bytes())
            .unwrap();
        (plain, ktri.key_enc_alg.oid)
    }

    #[test]
    fn both_key_transports_decrypt_to_the_inner_entity() {
        let cert = crate::config::certs::smime::parse(&fixture(
            "rules/certs/legal@harrowgate-shipping.com.pem",
        ))
        .unwrap();
        let inner = b"Content-Type: text/plain\r\n\r\nHarrowgate\r\n";
        for (transport, oid) in [
            (KeyTransport::Pkcs1v15, rfc5912::RSA_ENCRYPTION),
            (KeyTransport::Oaep, rfc5912::ID_RSAES_OAEP),
        ] {
            let der = envelope(inner, &[&cert, &cert], transport).unwrap();
            let (plain, used) = open(&der);
            assert_eq!(plain, inner);
            assert_eq!(used, oid);
        }
    }

    #[test]
    fn the_message_is_an_smime_entity_in_base64() {
        let msg = message(b"From: a@firm.example\r\n", &[0u8; 99]);
        let text = String::from_utf8(msg).unwrap();
        assert!(text.starts_with("From: a@firm.example\r\nMIME-Version: 1.0\r\n"));
        assert!(text.contains("application/pkcs7-mime; smime-type=enveloped-data"));
        assert!(text.ends_with("AAAA\r\n"));
    }
}
