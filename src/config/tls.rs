//! `[smtp] tls_cert` / `tls_key`: the inbound STARTTLS certificate, loaded
//! and checked at config load so a bad file is a config error naming it,
//! never a handshake failure discovered by the first client. Likewise the
//! `[next_hop] tls_ca` roots the relay verifies the next hop by, and the
//! `[next_hop] tls_client_cert` / `tls_client_key` identity it presents
//! (how Exchange Online's inbound connector recognises the gateway).

use super::Problem;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};

/// `[next_hop] tls`. `Required` never falls back to plaintext.
#[derive(Debug, Clone)]
pub(crate) enum NextHopTls {
    None,
    Opportunistic(Arc<ClientConfig>),
    Required(Arc<ClientConfig>),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

const VERSIONS: [&rustls::SupportedProtocolVersion; 2] =
    [&rustls::version::TLS13, &rustls::version::TLS12];

/// A client certificate chain (leaf first, every intermediate after it:
/// the whole chain is sent) and its private key, as PEM files.
pub(crate) struct ClientIdentity<'a> {
    pub(crate) cert: &'a Path,
    pub(crate) key: &'a Path,
}

/// The next hop's verifier: certificate chain and hostname, against `ca`
/// or, without it, the system's roots; with `identity`, the certificate we
/// present when the next hop asks for one (checked here: the key must fit).
pub(crate) fn client_config(
    ca: Option<&Path>,
    identity: Option<ClientIdentity>,
) -> Result<Arc<ClientConfig>, Problem> {
    let mut roots = RootCertStore::empty();
    match ca {
        Some(ca) => {
            for cert in load_chain(ca, "tls_ca")? {
                roots
                    .add(cert)
                    .map_err(|e| Problem::at(ca, None, format!("tls_ca: {e}")))?;
            }
        }
        None => {
            roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        }
    }
    let config = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&VERSIONS)
        .map_err(|e| Problem::at(ca.unwrap_or(Path::new("-")), None, format!("tls: {e}")))?
        .with_root_certificates(roots);
    let config = match identity {
        None => config.with_no_client_auth(),
        Some(id) => {
            let chain = load_chain(id.cert, "tls_client_cert")?;
            let key = PrivateKeyDer::from_pem_file(id.key).map_err(|e| {
                let why = format!("tls_client_key: no usable private key: {e}");
                Problem::at(id.key, None, why)
            })?;
            config.with_client_auth_cert(chain, key).map_err(|e| {
                let why = format!("tls_client_cert does not fit tls_client_key: {e}");
                Problem::at(id.cert, None, why)
            })?
        }
    };
    Ok(Arc::new(config))
}

/// Builds the server side; TLS 1.2 is the floor (rustls has no older).
pub(crate) fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, Problem> {
    let chain = load_chain(cert, "tls_cert")?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| Problem::at(key, None, format!("tls_key: no usable private key: {e}")))?;
    let config = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&VERSIONS)
        .map_err(|e| Problem::at(cert, None, format!("tls: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| Problem::at(cert, None, format!("tls_cert does not fit tls_key: {e}")))?;
    Ok(Arc::new(config))
}

fn load_chain(path: &Path, key: &str) -> Result<Vec<CertificateDer<'static>>, Problem> {
    let bad = |why: String| Problem::at(path, None, format!("{key}: {why}"));
    let chain = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if chain.is_empty() {
        return Err(bad("no certificate in the file".into()));
    }
    Ok(chain)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, stem: &str) -> (std::path::PathBuf, std::path::PathBuf) {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
        let cert = dir.join(format!("{stem}.crt"));
        let key = dir.join(format!("{stem}.key"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.key_pair.serialize_pem()).unwrap();
        (cert, key)
    }

    #[test]
    fn a_good_pair_loads_and_a_bad_file_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "a");
        assert!(server_config(&cert, &key).is_ok());
        let missing = dir.path().join("missing.pem");
        assert_eq!(server_config(&missing, &key).unwrap_err().file, missing);
        let junk = dir.path().join("junk.pem");
        std::fs::write(&junk, "not a PEM file\n").unwrap();
        assert_eq!(server_config(&junk, &key).unwrap_err().file, junk);
        assert_eq!(server_config(&cert, &junk).unwrap_err().file, junk);
        assert_eq!(server_config(&cert, &missing).unwrap_err().file, missing);
    }

    #[test]
    fn a_client_identity_is_checked_at_load() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = write_pair(dir.path(), "a");
        let (_, other) = write_pair(dir.path(), "b");
        let id = |cert, key| Some(ClientIdentity { cert, key });
        assert!(client_config(Some(&cert), id(&cert, &key)).is_ok());
        assert_eq!(
            client_config(Some(&cert), id(&cert, &other))
                .unwrap_err()
                .file,
            cert
        );
        let missing = dir.path().join("missing.pem");
        let err = client_config(Some(&cert), id(&cert, &missing)).unwrap_err();
        assert_eq!(err.file, missing);
    }

    #[test]
    fn a_key_that_does_not_fit_the_certificate_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (cert, _) = write_pair(dir.path(), "a");
        let (_, other) = write_pair(dir.path(), "b");
        assert!(server_config(&cert, &other).is_err());
    }
}
