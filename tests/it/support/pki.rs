//! A small PKI made for one test: a root CA that issues server and client
//! certificates (optionally through an intermediate), written as PEM files
//! into a folder any peer can read (Postfix's daemons run as `postfix`).

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// A certificate authority: its certificate and key.
pub struct Ca {
    cert: Certificate,
    key: KeyPair,
}

/// An issued certificate: its PEM (the chain up to, not including, the
/// root) and key, and its SHA-256 fingerprint as Postfix prints it.
pub struct Issued {
    pub chain_pem: String,
    pub key_pem: String,
    pub fingerprint: String,
}

impl Issued {
    /// Writes `STEM.crt` and `STEM.key` into `dir`; returns both paths.
    pub fn write(&self, dir: &Path, stem: &str) -> (PathBuf, PathBuf) {
        let (cert, key) = (
            dir.join(format!("{stem}.crt")),
            dir.join(format!("{stem}.key")),
        );
        std::fs::write(&cert, &self.chain_pem).unwrap();
        std::fs::write(&key, &self.key_pem).unwrap();
        (cert, key)
    }
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

impl Ca {
    pub fn new(cn: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let cert = ca_params(cn).self_signed(&key).unwrap();
        Ca { cert, key }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    /// An intermediate CA signed by this one.
    pub fn intermediate(&self, cn: &str) -> Ca {
        let key = KeyPair::generate().unwrap();
        let cert = ca_params(cn)
            .signed_by(&key, &self.cert, &self.key)
            .unwrap();
        Ca { cert, key }
    }

    /// A server certificate for `names` (DNS names or IP addresses).
    pub fn server(&self, names: &[&str]) -> Issued {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut p = CertificateParams::new(names).unwrap();
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        self.issue(p)
    }

    /// A client certificate whose subject is `cn` (the gateway's name,
    /// as an inbound connector's `TlsSenderCertificateName` matches it).
    pub fn client(&self, cn: &str) -> Issued {
        let mut p = CertificateParams::new(vec![cn.to_string()]).unwrap();
        p.distinguished_name.push(DnType::CommonName, cn);
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        self.issue(p)
    }

    fn issue(&self, p: CertificateParams) -> Issued {
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &self.cert, &self.key).unwrap();
        let digest = Sha256::digest(cert.der());
        let hex: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
        Issued {
            chain_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            fingerprint: hex.join(":"),
        }
    }

    /// Like [`Ca::client`], issued by this intermediate, with the
    /// intermediate appended to the chain (the full chain is what is sent).
    pub fn client_with_chain(&self, cn: &str) -> Issued {
        let mut issued = self.client(cn);
        issued.chain_pem.push_str(&self.cert.pem());
        issued
    }
}

/// A temp folder every local user may read (peers that drop privileges).
pub fn shared_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    dir
}
