//! TLS toward the next hop: the proxy relays to a test sink that offers
//! STARTTLS with a certificate made here, verified against `tls_ca`.
//! `required` never falls back to plaintext: `451 4.4.1` instead.

use crate::support::{Client, Setup, Sink, SinkMode};
use std::sync::Arc;
use tokio_rustls::rustls::{self, ServerConfig};

const CLEAN: &[u8] = b"From: a@firm.example\r\nTo: b@partner.example\r\nSubject: lunch\r\n\r\n.leading dot\r\nend.\r\n";

/// A self-signed certificate for the sink's address, as (PEM, server side).
fn sink_cert() -> (String, Arc<ServerConfig>) {
    sink_cert_with(&["localhost", "127.0.0.1"], |_| {})
}

/// A self-signed certificate for `names`, its parameters changed by
/// `change` (validity), as (PEM, server side).
fn sink_cert_with(
    names: &[&str],
    change: impl FnOnce(&mut rcgen::CertificateParams),
) -> (String, Arc<ServerConfig>) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names).unwrap();
    change(&mut params);
    let key_pair = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key_pair).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(key_pair.serialize_der().into());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.der().clone()], key)
        .unwrap();
    (cert.pem(), Arc::new(config))
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

/// RELIABILITY §2 item 4, the rest: a next hop whose certificate is
/// trusted but expired, or trusted but for another name, and one that
/// resets the connection in the middle of the TLS handshake, are each a
/// `451` with nothing sent, never a fallback to plaintext.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_misnamed_or_reset_next_hop_is_451() {
    let expired = sink_cert_with(&["localhost", "127.0.0.1"], |p| {
        p.not_before = rcgen::date_time_ymd(2020, 1, 1);
        p.not_after = rcgen::date_time_ymd(2022, 3, 31);
    });
    let misnamed = sink_cert_with(&["mx.elsewhere.example"], |_| {});
    for (name, (pem, tls)) in [("expired", expired), ("another name", misnamed)] {
        let sink = Sink::start_tls(SinkMode::Normal, tls).await;
        let (code, text) = send(&setup(sink.port, "required", &pem)).await;
        assert_eq!(code, 451, "{name}: {text}");
        assert!(sink.messages().is_empty(), "{name}: sent");
    }
    let (pem, _) = sink_cert();
    let port = resets_at_starttls().await;
    let (code, text) = send(&setup(port, "required", &pem)).await;
    assert_eq!(code, 451, "reset handshake: {text}");
}

/// A next hop that offers STARTTLS, says `220` to it, then sends half a
/// TLS record and closes: the handshake breaks mid-way. Its port.
async fn resets_at_starttls() -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = sock.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 reset.example ESMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line.to_ascii_uppercase();
                    if verb.starts_with("EHLO") {
                        let _ = write
                            .write_all(b"250-reset.example\r\n250 STARTTLS\r\n")
                            .await;
                    } else if verb.starts_with("STARTTLS") {
                        let _ = write.write_all(b"220 go ahead\r\n\x16\x03\x03\x00").await;
                        return; // dropped: the connection closes
                    } else {
                        let _ = write.write_all(b"250 ok\r\n").await;
                    }
                }
            });
        }
    });
    port
}
