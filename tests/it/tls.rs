//! Inbound STARTTLS end to end: the proxy (in-process) with a certificate made
//! here by `rcgen`, a tokio-rustls client that trusts exactly that
//! certificate, and `swaks --tls`. No timed assertions.

use crate::support;
use crate::support::{Setup, Sink, SinkMode};
use std::process::Command;
use std::sync::Arc;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::{self, pki_types::ServerName, ClientConfig, RootCertStore};
use tokio_rustls::TlsConnector;

const CLEAN: &[u8] = b"From: a@firm.example\r\nTo: b@partner.example\r\nSubject: lunch\r\n\r\n.leading dot\r\n\xc3\xa9t\xc3\xa9 8-bit\r\nend.\r\n";

/// A proxy whose config names a fresh self-signed certificate (relative
/// paths: they resolve against the config's folder); returns its DER too.
fn tls_setup(sink_port: u16) -> (Setup, Vec<u8>) {
    let setup = Setup::new(sink_port, "tls_cert = \"cert.pem\"\ntls_key = \"key.pem\"");
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    std::fs::write(setup.dir.path().join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(
        setup.dir.path().join("key.pem"),
        made.key_pair.serialize_pem(),
    )
    .unwrap();
    (setup, made.cert.der().to_vec())
}

/// One reply line in plaintext, read a byte at a time so nothing the TLS
/// handshake needs is swallowed by a buffer.
async fn plain_line(s: &mut TcpStream) -> String {
    let mut line = Vec::new();
    while !line.ends_with(b"\n") {
        let b = s.read_u8().await.unwrap();
        line.push(b);
    }
    String::from_utf8(line).unwrap()
}

/// A whole plaintext reply: its code and every line's text.
async fn plain_reply(s: &mut TcpStream) -> (u16, String) {
    let mut text = String::new();
    loop {
        let line = plain_line(s).await;
        text.push_str(&line[4..]);
        if line.as_bytes()[3] == b' ' {
            return (line[..3].parse().unwrap(), text);
        }
    }
}

async fn reply(r: &mut (impl AsyncBufRead + Unpin)) -> (u16, String) {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        assert!(r.read_line(&mut line).await.unwrap() > 0, "closed");
        text.push_str(&line[4..]);
        if line.as_bytes()[3] == b' ' {
            return (line[..3].parse().unwrap(), text);
        }
    }
}

type Tls = BufReader<TlsStream<TcpStream>>;

async fn cmd(c: &mut Tls, line: &str) -> (u16, String) {
    c.get_mut()
        .write_all(format!("{line}\r\n").as_bytes())
        .await
        .unwrap();
    reply(c).await
}

/// Handshakes on `s`, trusting only `der`, checking the name `localhost`.
async fn handshake(s: TcpStream, der: &[u8]) -> Tls {
    let mut roots = RootCertStore::empty();
    roots.add(der.to_vec().into()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = ServerName::try_from("localhost").unwrap();
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, s)
        .await
        .expect("TLS handshake");
    BufReader::new(tls)
}

async fn connect_and_ehlo(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    assert_eq!(plain_reply(&mut s).await.0, 220);
    s.write_all(b"EHLO test\r\n").await.unwrap();
    let (code, text) = plain_reply(&mut s).await;
    assert_eq!(code, 250);
    assert!(text.contains("STARTTLS"), "{text}");
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starttls_mail_arrives_byte_identical() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let (setup, der) = tls_setup(sink.port);
    let server = setup.serve().await;
    let mut s = connect_and_ehlo(server.port).await;
    s.write_all(b"STARTTLS\r\n").await.unwrap();
    assert_eq!(
        plain_reply(&mut s).await,
        (220, "2.0.0 Ready to start TLS\r\n".into())
    );
    let mut c = handshake(s, &der).await;
    let (code, text) = cmd(&mut c, "EHLO test").await;
    assert_eq!(code, 250);
    assert!(!text.contains("STARTTLS"), "offered twice: {text}");
    assert_eq!(cmd(&mut c, "STARTTLS").await.0, 503);
    assert_eq!(cmd(&mut c, "MAIL FROM:<a@firm.example>").await.0, 250);
    assert_eq!(cmd(&mut c, "STARTTLS").await.0, 503, "inside a transaction");
    assert_eq!(cmd(&mut c, "RCPT TO:<b@partner.example>").await.0, 250);
    assert_eq!(cmd(&mut c, "DATA").await.0, 354);
    c.get_mut().write_all(&support::stuff(CLEAN)).await.unwrap();
    let (code, text) = reply(&mut c).await;
    assert_eq!(code, 250, "{text}");
    assert_eq!(cmd(&mut c, "QUIT").await.0, 221);
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rcpts, ["b@partner.example"]);
    assert_eq!(got[0].body, CLEAN);
    server.stop().await;
}

/// CVE-2011-0411: a command pipelined behind STARTTLS in plaintext must
/// not be answered in plaintext (that would garble the handshake) nor run
/// after it as if it had come encrypted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_pipelined_behind_starttls_is_discarded() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let (setup, der) = tls_setup(sink.port);
    let server = setup.serve().await;
    let mut s = connect_and_ehlo(server.port).await;
    s.write_all(b"STARTTLS\r\nRSET\r\n").await.unwrap();
    assert_eq!(plain_reply(&mut s).await.0, 220);
    let mut c = handshake(s, &der).await;
    // The first reply over TLS answers this MAIL, not the RSET; and it is
    // 503 because the TLS session starts from scratch (RFC 3207 §4.2).
    assert_eq!(cmd(&mut c, "MAIL FROM:<a@firm.example>").await.0, 503);
    assert_eq!(cmd(&mut c, "EHLO test").await.0, 250);
    assert_eq!(cmd(&mut c, "QUIT").await.0, 221);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaks_tls_mail_is_relayed() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let (setup, _) = tls_setup(sink.port);
    let server = setup.serve().await;
    let clean = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/examples/clean.eml");
    let out = Command::new("swaks")
        .args(["--server", &format!("127.0.0.1:{}", server.port), "--tls"])
        .args([
            "--from",
            "a.partner@firm.example",
            "--to",
            "friend@gmail.com",
        ])
        .arg("--data")
        .arg(&clean)
        .output()
        .expect("swaks is not installed: run .ci/run, which installs it");
    let transcript =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{transcript}");
    assert!(transcript.contains("TLS started"), "{transcript}");
    let got = sink.messages();
    assert_eq!(got.len(), 1, "{transcript}");
    assert_eq!(got[0].rcpts, ["friend@gmail.com"]);
    server.stop().await;
}

/// Plaintext where the handshake should be: the connection ends, nothing
/// is answered in plaintext, and the proxy goes on serving others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plaintext_instead_of_a_handshake_ends_only_that_session() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let (setup, der) = tls_setup(sink.port);
    let server = setup.serve().await;
    let mut s = connect_and_ehlo(server.port).await;
    s.write_all(b"STARTTLS\r\n").await.unwrap();
    assert_eq!(plain_reply(&mut s).await.0, 220);
    s.write_all(b"RSET\r\n").await.unwrap();
    let mut rest = Vec::new();
    let _ = s.read_to_end(&mut rest).await;
    assert!(!rest.starts_with(b"250"), "answered in plaintext");
    let mut s = connect_and_ehlo(server.port).await;
    s.write_all(b"STARTTLS\r\n").await.unwrap();
    assert_eq!(plain_reply(&mut s).await.0, 220);
    let mut c = handshake(s, &der).await;
    assert_eq!(cmd(&mut c, "EHLO test").await.0, 250);
    server.stop().await;
}
