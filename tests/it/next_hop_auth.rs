//! The next hop as Google Workspace's SMTP relay (or any smarthost that
//! wants a login) behaves: SMTP AUTH after STARTTLS. Played by Python's
//! `aiosmtpd` (installed by `.ci/run`) with an authenticator
//! (`tests/it/peers/auth_smtpd.py`). Authenticated relay works with PLAIN
//! and with LOGIN; a wrong password is a `451` (the client keeps the
//! message), not a bounce; and a hop that offers AUTH without TLS never
//! sees a credential.

use crate::support::pki::{self, Ca};
use crate::support::{free_port, repo, Client, Setup};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CLEAN: &[u8] = b"From: a.partner@firm.example\r\nTo: friend@partner.example\r\nSubject: lunch\r\n\r\nAre we still on for Friday?\r\n";
const USER: &str = "gateway@firm.example";
const PASSWORD: &str = "correct horse battery staple";

/// The aiosmtpd peer; stopped when dropped.
struct AuthPeer {
    child: Child,
    port: u16,
    out: tempfile::TempDir,
}

impl AuthPeer {
    async fn start(tls: Option<(&Path, &Path)>, only_login: bool) -> AuthPeer {
        let port = free_port();
        let out = tempfile::tempdir().unwrap();
        let mut cmd = Command::new("python3");
        cmd.arg(repo().join("tests/it/peers/auth_smtpd.py"))
            .arg(port.to_string())
            .arg(out.path())
            .args([USER, PASSWORD])
            .stdout(Stdio::null());
        if let Some((cert, key)) = tls {
            cmd.arg("--cert").arg(cert).arg("--key").arg(key);
        }
        if only_login {
            cmd.arg("--only-login");
        }
        let child = cmd.spawn().expect("python3 is not installed: run .ci/run");
        let peer = AuthPeer { child, port, out };
        for _ in 0..200 {
            if Client::connect(port).await.is_ok() {
                return peer;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("aiosmtpd did not listen (pip install aiosmtpd: .ci/run does it)");
    }

    fn auth_log(&self) -> String {
        std::fs::read_to_string(self.out.path().join("auth.log")).unwrap_or_default()
    }

    fn messages(&self) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(self.out.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        v.sort();
        v
    }
}

impl Drop for AuthPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends the clean message through a proxy that logs in to `peer` with
/// `password`, trusting `root`.
async fn send(peer: &AuthPeer, root: &Ca, password: &str) -> (u16, String) {
    let s = Setup::new(peer.port, "");
    std::fs::write(s.dir.path().join("ca.pem"), root.pem()).unwrap();
    std::fs::write(s.dir.path().join("relay-password"), format!("{password}\n")).unwrap();
    let hop = format!(
        "tls = \"required\"\ntls_ca = \"ca.pem\"\nauth_user = \"{USER}\"\n\
         auth_password_file = \"relay-password\"\n"
    );
    s.write_config_with(peer.port, "", &hop);
    let server = s.serve().await;
    let mut c = Client::connect(server.port).await.unwrap();
    let reply = c
        .mail("a.partner@firm.example", &["friend@partner.example"], CLEAN)
        .await;
    server.stop().await;
    reply
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_plain_over_starttls_relays_and_a_wrong_password_is_451() {
    let dir = pki::shared_dir();
    let root = Ca::new("Test Root");
    let (cert, key) = root.server(&["127.0.0.1"]).write(dir.path(), "relay");
    let peer = AuthPeer::start(Some((&cert, &key)), false).await;

    let (code, text) = send(&peer, &root, PASSWORD).await;
    assert_eq!(code, 250, "{text}\n{}", peer.auth_log());
    let got = peer.messages();
    assert_eq!(got.len(), 1);
    let body = std::fs::read_to_string(&got[0]).unwrap();
    assert!(body.contains("Are we still on for Friday?"), "{body}");
    assert_eq!(peer.auth_log(), format!("PLAIN {USER} ok tls\n"));

    let (code, text) = send(&peer, &root, "wrong password").await;
    assert_eq!(
        code, 451,
        "a refused login is not the message's fault: {text}"
    );
    assert!(text.starts_with("4.4.1"), "{text}");
    assert_eq!(peer.messages().len(), 1, "nothing more reached the relay");
    assert!(peer
        .auth_log()
        .ends_with(&format!("PLAIN {USER} bad tls\n")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth_login_when_plain_is_not_offered() {
    let dir = pki::shared_dir();
    let root = Ca::new("Test Root");
    let (cert, key) = root.server(&["127.0.0.1"]).write(dir.path(), "relay");
    let peer = AuthPeer::start(Some((&cert, &key)), true).await;
    let (code, text) = send(&peer, &root, PASSWORD).await;
    assert_eq!(code, 250, "{text}\n{}", peer.auth_log());
    assert_eq!(peer.messages().len(), 1);
    assert_eq!(peer.auth_log(), format!("LOGIN {USER} ok tls\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hop_offering_auth_without_tls_never_sees_the_password() {
    let root = Ca::new("Test Root");
    let peer = AuthPeer::start(None, false).await;
    let (code, text) = send(&peer, &root, PASSWORD).await;
    assert_eq!(code, 451, "{text}");
    assert_eq!(peer.auth_log(), "", "no AUTH attempt in plaintext");
    assert!(peer.messages().is_empty());
}
