//! TLS toward the next hop: the proxy relays to a test sink that offers
//! STARTTLS with a certificate made here, verified against `tls_ca`.
//! `required` never falls back to plaintext: `451 4.4.1` instead.

use crate::support::{Client, Setup, Sink, SinkMode};
use std::sync::Arc;
use tokio_rustls::rustls::{self, ServerConfig};

const CLEAN: &[u8] = b"From: a@firm.example\r\nTo: b@partner.example\r\nSubject: lunch\r\n\r\n.leading dot\r\nend.\r\n";

/// A self-signed certificate for the sink's address, as (PEM, server side).
fn sink_cert() -> (String, Arc<ServerConfig>) {
    let names = vec!["localhost".into(), "127.0.0.1".into()];
    let made = rcgen::generate_simple_self_signed(names).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(made.key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![made.cert.der().clone()], key)
        .unwrap();
    (made.cert.pem(), Arc::new(config))
}

/// A proxy relaying to `port` with `[next_hop] tls = mode`, trusting `ca`.
fn setup(port: u16, mode: &str, ca: &str) -> Setup {
    let s = Setup::new(port, "");
    std::fs::write(s.dir.path().join("ca.pem"), ca).unwrap();
    s.write_config_with(port, "", &format!("tls = \"{mode}\"\ntls_ca = \"ca.pem\""));
    s
}

async fn send(setup: &Setup) -> (u16, String) {
    let server = setup.serve().await;
    let mut c = Client::connect(server.port).await.unwrap();
    let reply = c
        .mail("a@firm.example", &["b@partner.example"], CLEAN)
        .await;
    server.stop().await;
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_tls_relays_over_tls_byte_identical() {
    let (pem, tls) = sink_cert();
    let sink = Sink::start_tls(SinkMode::Normal, tls).await;
    let (code, text) = send(&setup(sink.port, "required", &pem)).await;
    assert_eq!(code, 250, "{text}");
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert!(got[0].tls, "relayed in plaintext");
    assert_eq!(got[0].body, CLEAN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn required_tls_without_starttls_is_451_never_plaintext() {
    let (pem, _) = sink_cert();
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let (code, text) = send(&setup(sink.port, "required", &pem)).await;
    assert_eq!(code, 451, "{text}");
    assert!(text.starts_with("4.4.1"), "{text}");
    assert!(sink.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_next_hop_certificate_is_451() {
    let (_, tls) = sink_cert();
    let (other_ca, _) = sink_cert();
    let sink = Sink::start_tls(SinkMode::Normal, tls).await;
    let (code, text) = send(&setup(sink.port, "required", &other_ca)).await;
    assert_eq!(code, 451, "{text}");
    assert!(sink.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opportunistic_tls_uses_tls_when_offered_and_plaintext_otherwise() {
    let (pem, tls) = sink_cert();
    let sink = Sink::start_tls(SinkMode::Normal, tls).await;
    assert_eq!(send(&setup(sink.port, "opportunistic", &pem)).await.0, 250);
    assert!(sink.messages()[0].tls);
    let plain = Sink::start(SinkMode::Normal, &[]).await;
    assert_eq!(send(&setup(plain.port, "opportunistic", &pem)).await.0, 250);
    assert!(!plain.messages()[0].tls);
}

/// A reply forged behind the next hop's `220` in plaintext is dropped with
/// the read buffer, not read as the answer to the EHLO sent over TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_injected_after_the_220_is_discarded() {
    let (pem, tls) = sink_cert();
    let sink = Sink::start_tls(SinkMode::Inject, tls).await;
    let (code, text) = send(&setup(sink.port, "required", &pem)).await;
    assert_eq!(code, 250, "{text}");
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert!(got[0].tls);
    assert_eq!(got[0].body, CLEAN);
}
