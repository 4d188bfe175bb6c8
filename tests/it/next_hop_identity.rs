//! The next hop as Exchange Online's inbound connector behaves: it accepts
//! mail from the gateway only over TLS with a client certificate it
//! trusts and recognises. Played by a private Postfix instance that
//! REQUIRES a trusted client certificate (`smtpd_tls_req_ccert`) and CHECKS
//! which one it is (`check_ccert_access` on its SHA-256 fingerprint).
//!
//! With `[next_hop] tls_client_cert`/`tls_client_key` (a chain: leaf and
//! intermediate; Postfix trusts only the root) the mail arrives. Without a
//! certificate, with one from another CA, or with one Postfix does not
//! list, the client hears a 4xx (it keeps the message and retries) and
//! nothing reaches the far side.

use crate::support::pki::{self, Ca, Issued};
use crate::support::{free_port, Client, Postfix, Setup, Sink, SinkMode};
use std::path::Path;
use std::time::Duration;

const CLEAN: &[u8] = b"From: a.partner@firm.example\r\nTo: friend@partner.example\r\nSubject: lunch\r\n\r\nAre we still on for Friday?\r\n";

/// Postfix requiring a client certificate from `root` whose fingerprint is
/// `allowed`, relaying what it accepts to `sink`.
async fn strict_postfix(dir: &Path, root: &Ca, allowed: &str, sink: u16) -> Postfix {
    let server = root.server(&["127.0.0.1"]);
    let (cert, key) = server.write(dir, "server");
    std::fs::write(dir.join("root.pem"), root.pem()).unwrap();
    std::fs::write(dir.join("clientcerts"), format!("{allowed} OK\n")).unwrap();
    let d = dir.display();
    let main = format!(
        "smtpd_tls_cert_file = {cert}\nsmtpd_tls_key_file = {key}\n\
         smtpd_tls_security_level = encrypt\nsmtpd_tls_req_ccert = yes\n\
         smtpd_tls_CAfile = {d}/root.pem\nsmtpd_tls_fingerprint_digest = sha256\n\
         smtpd_tls_loglevel = 1\n\
         smtpd_relay_restrictions = check_ccert_access texthash:{d}/clientcerts, reject\n\
         relayhost = [127.0.0.1]:{sink}\n",
        cert = cert.display(),
        key = key.display(),
    );
    let port = free_port();
    let master = Postfix::smtpd_line(port) + "tlsmgr unix - - n 1000? 1 tlsmgr\n";
    Postfix::start(port, &main, &master).await
}

/// A proxy whose next hop is `pf`, trusting `root`, presenting `identity`.
fn proxy(pf: &Postfix, root: &Ca, identity: Option<&Issued>) -> Setup {
    let s = Setup::new(pf.port, "");
    std::fs::write(s.dir.path().join("ca.pem"), root.pem()).unwrap();
    let mut hop = "tls = \"required\"\ntls_ca = \"ca.pem\"\n".to_string();
    if let Some(id) = identity {
        id.write(s.dir.path(), "gateway");
        hop.push_str("tls_client_cert = \"gateway.crt\"\ntls_client_key = \"gateway.key\"\n");
    }
    s.write_config_with(pf.port, "", &hop);
    s
}

async fn send(setup: &Setup) -> (u16, String) {
    let server = setup.serve().await;
    let mut c = Client::connect(server.port).await.unwrap();
    let reply = c
        .mail("a.partner@firm.example", &["friend@partner.example"], CLEAN)
        .await;
    server.stop().await;
    reply
}

async fn wait_for(sink: &Sink, n: usize) {
    for _ in 0..400 {
        if sink.messages().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_hop_that_checks_the_client_certificate() {
    let dir = pki::shared_dir();
    let root = Ca::new("Test Root");
    let gateway = root
        .intermediate("Test Issuing CA")
        .client_with_chain("gw.firm.example");
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let pf = strict_postfix(dir.path(), &root, &gateway.fingerprint, sink.port).await;

    // The right certificate: accepted, and relayed on by Postfix.
    let (code, text) = send(&proxy(&pf, &root, Some(&gateway))).await;
    assert_eq!(code, 250, "{text}\n{}", pf.log());
    wait_for(&sink, 1).await;
    let got = sink.messages();
    assert_eq!(got.len(), 1, "{}", pf.log());
    assert!(String::from_utf8_lossy(&got[0].body).contains("Are we still on for Friday?"));

    // No certificate: Postfix ends the session; the client must retry.
    let (code, text) = send(&proxy(&pf, &root, None)).await;
    assert_eq!(code, 451, "{text}\n{}", pf.log());
    assert!(text.starts_with("4.4.1"), "{text}");

    // A certificate from a CA the next hop does not trust.
    let stranger = Ca::new("Other Root").client("gw.firm.example");
    let (code, text) = send(&proxy(&pf, &root, Some(&stranger))).await;
    assert_eq!(code, 451, "{text}\n{}", pf.log());

    // Trusted, but not the one the connector names: never accepted.
    let sibling = root.client("gw.other.example");
    let (code, text) = send(&proxy(&pf, &root, Some(&sibling))).await;
    assert!(code >= 400 && code != 250, "{code} {text}\n{}", pf.log());

    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        sink.messages().len(),
        1,
        "only the first message went through"
    );
}
