//! Certificates made here with rcgen (signed with the fixture RSA key), one
//! per way a certificate can be unfit, through the same load and look-up
//! the policy uses.

use super::*;
use rcgen::{
    date_time_ymd, CertificateParams, ExtendedKeyUsagePurpose, KeyPair, KeyUsagePurpose,
    PKCS_RSA_SHA256,
};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn rsa_key() -> KeyPair {
    let pem =
        std::fs::read_to_string(repo().join("fixtures/keys/legal@harrowgate-shipping.com.key"))
            .unwrap();
    KeyPair::from_pkcs8_pem_and_sign_algo(&pem, &PKCS_RSA_SHA256).unwrap()
}

/// A certificate valid 2020–2100 with keyEncipherment and emailProtection,
/// changed by `tweak`.
fn cert(tweak: impl FnOnce(&mut CertificateParams)) -> String {
    let mut p = CertificateParams::new(vec!["x@client.example".to_string()]).unwrap();
    p.not_before = date_time_ymd(2020, 1, 1);
    p.not_after = date_time_ymd(2100, 1, 1);
    p.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::EmailProtection];
    tweak(&mut p);
    p.self_signed(&rsa_key()).unwrap().pem()
}

fn addr(s: &str) -> Address {
    crate::text::address::parse(s).unwrap()
}

fn load(files: &[(&str, String)]) -> Certs {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    Certs::load(dir.path()).unwrap()
}

fn reason(l: Lookup) -> String {
    match l {
        Lookup::Unusable(why) => why,
        other => panic!("expected unusable, got {other:?}"),
    }
}

#[test]
fn a_good_certificate_is_found_ignoring_case() {
    let certs = load(&[("X@Client.Example.pem", cert(|_| {}))]);
    let Lookup::Key(k) = certs.lookup(&addr("x@CLIENT.example"), SystemTime::now()) else {
        panic!("not found");
    };
    assert_eq!(k.kind(), KeyKind::Smime);
    assert!(matches!(
        certs.lookup(&addr("y@client.example"), SystemTime::now()),
        Lookup::Missing
    ));
}

#[test]
fn the_domain_certificate_covers_its_addresses() {
    let certs = load(&[("client.example.pem", cert(|_| {}))]);
    assert!(matches!(
        certs.lookup(&addr("anyone@client.example"), SystemTime::now()),
        Lookup::Key(_)
    ));
}

#[test]
fn expired_and_not_yet_valid_certificates_are_not_used() {
    let expired = cert(|p| p.not_after = date_time_ymd(2021, 6, 30));
    let future = cert(|p| p.not_before = date_time_ymd(2099, 1, 1));
    let certs = load(&[("a@x.example.pem", expired), ("b@x.example.pem", future)]);
    let why = reason(certs.lookup(&addr("a@x.example"), SystemTime::now()));
    assert!(why.contains("expired on 2021-06-30"), "{why}");
    let why = reason(certs.lookup(&addr("b@x.example"), SystemTime::now()));
    assert!(why.contains("not valid before 2099-01-01"), "{why}");
}

#[test]
fn usages_that_do_not_allow_encryption_make_it_unusable() {
    let sign_only = cert(|p| p.key_usages = vec![KeyUsagePurpose::DigitalSignature]);
    let server = cert(|p| p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth]);
    let no_extensions = cert(|p| {
        p.key_usages.clear();
        p.extended_key_usages.clear();
    });
    let certs = load(&[
        ("a@x.example.pem", sign_only),
        ("b@x.example.pem", server),
        ("c@x.example.pem", no_extensions),
    ]);
    let why = reason(certs.lookup(&addr("a@x.example"), SystemTime::now()));
    assert!(why.contains("keyEncipherment"), "{why}");
    let why = reason(certs.lookup(&addr("b@x.example"), SystemTime::now()));
    assert!(why.contains("emailProtection"), "{why}");
    // No key usage extension at all: every usage is allowed (RFC 5280).
    assert!(matches!(
        certs.lookup(&addr("c@x.example"), SystemTime::now()),
        Lookup::Key(_)
    ));
}

#[test]
fn an_unusable_own_certificate_gives_way_to_a_usable_domain_one() {
    let expired = cert(|p| p.not_after = date_time_ymd(2021, 6, 30));
    let certs = load(&[
        ("a@x.example.pem", expired),
        ("x.example.pem", cert(|_| {})),
    ]);
    assert!(matches!(
        certs.lookup(&addr("a@x.example"), SystemTime::now()),
        Lookup::Key(_)
    ));
}

#[test]
fn a_file_that_is_no_certificate_refuses_the_load() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a@x.example.pem"), "hello").unwrap();
    std::fs::write(dir.path().join("b@x.example.asc"), "hello").unwrap();
    let problems = Certs::load(dir.path()).unwrap_err();
    assert_eq!(problems.len(), 2, "{problems:?}");
}

/// The fixture certificate with its key re-labelled `id-RSAES-OAEP` (the
/// signature no longer verifies; certificates are not chain-checked).
fn oaep_cert(params: Option<der::Any>) -> Vec<u8> {
    use der::{DecodePem, EncodePem};
    let pem = cert(|_| {});
    let mut c = x509_cert::Certificate::from_pem(pem.as_bytes()).unwrap();
    c.tbs_certificate.subject_public_key_info.algorithm =
        x509_cert::spki::AlgorithmIdentifierOwned {
            oid: const_oid::db::rfc5912::ID_RSAES_OAEP,
            parameters: params,
        };
    c.to_pem(der::pem::LineEnding::LF).unwrap().into_bytes()
}

#[test]
fn an_oaep_only_key_is_marked_and_foreign_parameters_refused() {
    let any = smime::parse(&oaep_cert(None)).unwrap();
    assert!(any.oaep_only);
    let sha256 = rsa::pkcs1::RsaOaepParams::new::<sha2::Sha256>();
    let sha256 = der::Any::encode_from(&sha256).unwrap();
    assert!(smime::parse(&oaep_cert(Some(sha256))).unwrap().oaep_only);
    let sha1 = rsa::pkcs1::RsaOaepParams::new::<sha1::Sha1>();
    let sha1 = der::Any::encode_from(&sha1).unwrap();
    let Err(smime::Bad::Unusable(why)) = smime::parse(&oaep_cert(Some(sha1))) else {
        panic!("SHA-1 OAEP parameters accepted");
    };
    assert!(why.contains("SHA-256"), "{why}");
    assert!(!smime::parse(cert(|_| {}).as_bytes()).unwrap().oaep_only);
}
