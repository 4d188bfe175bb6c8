//! DKIM signing checked by an independent verifier: Python's dkimpy
//! (installed by `.ci/run`), with the public key served through its
//! `dnsfunc` hook. Keys are made by `openssl genpkey`, RSA and Ed25519, one
//! `[[dkim]]` table each. A rule adds a header and appends a notice, so the
//! signature must cover the message as it leaves (after every change,
//! the loop stamp included); a byte changed afterwards fails; a domain
//! without a key is not signed.

use crate::support::{repo, Client, Got, Setup, Sink, SinkMode};
use base64::Engine;
use std::path::Path;
use std::process::Command;

fn openssl(args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl is not installed: run .ci/run");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Makes a key in `dir/stem.key`; returns its DNS TXT record.
fn key(dir: &Path, stem: &str, ed25519: bool) -> String {
    let path = dir.join(format!("{stem}.key"));
    let p = path.to_str().unwrap();
    if ed25519 {
        openssl(&["genpkey", "-algorithm", "ed25519", "-out", p]);
    } else {
        openssl(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            p,
        ]);
    }
    let spki = openssl(&["pkey", "-in", p, "-pubout", "-outform", "DER"]);
    let b64 = base64::engine::general_purpose::STANDARD;
    if ed25519 {
        // RFC 8463: the raw 32-byte public key, the SPKI's last bytes.
        format!(
            "v=DKIM1; k=ed25519; p={}",
            b64.encode(&spki[spki.len() - 32..])
        )
    } else {
        format!("v=DKIM1; k=rsa; p={}", b64.encode(&spki))
    }
}

/// dkimpy's verdict on the message as the sink got it.
fn verify(got: &Got, name: &str, record: &str, tamper: bool) -> bool {
    let dir = tempfile::tempdir().unwrap();
    let mut raw = [got.stamp.clone().unwrap_or_default(), got.body.clone()].concat();
    if tamper {
        let at = raw.len() - 5;
        raw[at] ^= 0x01;
    }
    let file = dir.path().join("msg.eml");
    std::fs::write(&file, raw).unwrap();
    let out = Command::new("python3")
        .arg(repo().join("tests/it/peers/dkim_verify.py"))
        .args([file.to_str().unwrap(), name, record])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.trim() == "pass" || said.trim() == "fail",
        "dkimpy: {said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.status.success()
}

const RULES: &str = r#"
[[rule]]
name = "classify"
when = { sender = ["a.partner@firm.example", "b@firm.test"] }
action = "pass"
add_header = "X-Classification: confidential"
notice = "This message is confidential."

[[dkim]]
domain = "firm.example"
selector = "mw2026"
key_file = "rsa.key"

[[dkim]]
domain = "firm.test"
selector = "ed"
key_file = "ed.key"
algorithm = "ed25519-sha256"
"#;

fn message(from: &str) -> Vec<u8> {
    format!(
        "From: Sender <{from}>\r\nTo: friend@partner.example\r\nSubject: lunch  \r\n\tplans\r\n\
         Message-ID: <{from}.1@example>\r\nDate: Thu, 3 Dec 2026 04:00:00 +0000\r\n\
         DKIM-Signature: v=1; a=rsa-sha256; d=firm.example; s=exchange; b=broken by our changes\r\n\
         MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
         Are we  still on for Friday?  \r\n\r\n\r\n"
    )
    .into_bytes()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_and_ed25519_signatures_verify_with_dkimpy() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    let rsa = key(setup.dir.path(), "rsa", false);
    let ed = key(setup.dir.path(), "ed", true);
    setup.append(RULES);
    let server = setup.serve().await;
    for from in [
        "a.partner@firm.example",
        "b@firm.test",
        "c@elsewhere.example",
    ] {
        let mut c = Client::connect(server.port).await.unwrap();
        let (code, text) = c
            .mail(from, &["friend@partner.example"], &message(from))
            .await;
        assert_eq!(code, 250, "{text}");
    }
    server.stop().await;
    let got = sink.messages();
    assert_eq!(got.len(), 3);
    let rsa_name = "mw2026._domainkey.firm.example";
    let ed_name = "ed._domainkey.firm.test";
    let text = |g: &Got| String::from_utf8_lossy(&g.body).into_owned();
    // Changed on the way (header and notice), then signed.
    assert!(
        text(&got[0]).contains("X-Classification: confidential"),
        "{}",
        text(&got[0])
    );
    assert!(
        text(&got[0]).starts_with("DKIM-Signature: v=1;\r\n\ta=rsa-sha256;"),
        "{}",
        text(&got[0])
    );
    assert!(
        verify(&got[0], rsa_name, &rsa, false),
        "RSA signature\n{}",
        text(&got[0])
    );
    assert!(
        !verify(&got[0], rsa_name, &rsa, true),
        "a changed byte must fail"
    );
    assert!(
        text(&got[1]).starts_with("DKIM-Signature: v=1;\r\n\ta=ed25519-sha256;"),
        "{}",
        text(&got[1])
    );
    assert!(
        verify(&got[1], ed_name, &ed, false),
        "Ed25519 signature\n{}",
        text(&got[1])
    );
    assert!(!verify(&got[1], ed_name, &ed, true));
    // No key for that domain: not signed, stamped as ever.
    assert!(got[2].stamp.is_some() && !text(&got[2]).starts_with("DKIM-Signature: v=1;\r\n"));
}

#[test]
fn a_bad_dkim_key_is_refused_at_load() {
    let setup = Setup::for_process(1, "");
    let dir = setup.dir.path();
    key(dir, "rsa", false);
    setup.append("\n[[dkim]]\ndomain = \"firm.example\"\nselector = \"s\"\nkey_file = \"rsa.key\"\nalgorithm = \"ed25519-sha256\"\n");
    let out = setup.cli(&["rules", "validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("rsa.key: [[dkim]] key_file: not an Ed25519 PKCS#8 key"),
        "{err}"
    );
}
