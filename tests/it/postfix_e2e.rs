//! End to end behind a real Postfix (installed by `.ci/run`), run as a
//! private instance in a temp dir — never the system one — in each deployment
//! mode README documents, with the exact `main.cf`/`master.cf` lines from
//! `docs/postfix/` (only the ports substituted):
//!
//! client → Postfix → matterwall → (Postfix reinjection →) sink.
//!
//! Clean mail must reach the sink; a leak must be held in the quarantine and
//! never reach it. Waits are for events (a message at the sink, a row in the
//! quarantine), bounded so a broken setup fails instead of hanging.

use crate::support::{self, free_port, Client, Setup, Sink, SinkMode};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The daemons every instance needs (chroot off: the queue is in a temp dir).
const SERVICES: &str = "\
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
showq     unix n - n - - showq
scache    unix - - n - 1 scache
anvil     unix - - n - 1 anvil
postlog   unix-dgram n - n - 1 postlogd
";

struct Postfix {
    _dir: tempfile::TempDir,
    conf: PathBuf,
    log: PathBuf,
    port: u16,
}

impl Postfix {
    /// Starts a private instance whose `main.cf` and `master.cf` end with the
    /// given lines; it listens for the test client on `port`.
    async fn start(port: u16, main_extra: &str, master_extra: &str) -> Postfix {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // The daemons run as the postfix user and must reach the queue.
        Command::new("chmod").arg("755").arg(d).status().unwrap();
        for sub in ["etc", "queue", "data"] {
            std::fs::create_dir_all(d.join(sub)).unwrap();
        }
        Command::new("chown")
            .arg("postfix")
            .arg(d.join("data"))
            .status()
            .unwrap();
        let main = format!(
            "compatibility_level = 3.6\nqueue_directory = {q}\ndata_directory = {data}\n\
             command_directory = /usr/sbin\ndaemon_directory = /usr/lib/postfix/sbin\n\
             meta_directory = /etc/postfix\nshlib_directory = /usr/lib/postfix\n\
             mail_owner = postfix\nsetgid_group = postdrop\nmaillog_file_prefixes = /tmp, /var\n\
             maillog_file = {log}\ninet_interfaces = 127.0.0.1\ninet_protocols = ipv4\n\
             myhostname = mta.firm.example\nmydomain = firm.example\nmyorigin = firm.example\n\
             mydestination =\nlocal_recipient_maps =\nmynetworks = 127.0.0.0/8\n\
             smtpd_relay_restrictions = permit_mynetworks, reject\nalias_maps =\nalias_database =\n\
             smtp_tls_security_level = none\nsmtpd_tls_security_level = none\n{main_extra}\n",
            q = d.join("queue").display(),
            data = d.join("data").display(),
            log = d.join("maillog").display(),
        );
        std::fs::write(d.join("etc/main.cf"), main).unwrap();
        std::fs::write(
            d.join("etc/master.cf"),
            format!("{SERVICES}{master_extra}\n"),
        )
        .unwrap();
        let conf = d.join("etc");
        let out = Command::new("postfix")
            .arg("-c")
            .arg(&conf)
            .arg("start")
            .output();
        let out = out.expect("postfix is not installed: run .ci/run, which installs it");
        let pf = Postfix {
            log: d.join("maillog"),
            conf,
            port,
            _dir: dir,
        };
        assert!(out.status.success(), "postfix start failed: {}", pf.log());
        for _ in 0..200 {
            if Client::connect(port).await.is_ok() {
                return pf;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("postfix did not listen on {port}: {}", pf.log());
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        let _ = Command::new("postfix")
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .output();
    }
}

/// A file from `docs/postfix/` with matterwall's and the reinjection port
/// replaced by this test's.
fn snippet(name: &str, matterwall: u16, reinject: u16) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs/postfix")
        .join(name);
    std::fs::read_to_string(path)
        .unwrap()
        .replace("10025", &matterwall.to_string())
        .replace("10026", &reinject.to_string())
}

fn smtpd_line(port: u16) -> String {
    format!("127.0.0.1:{port} inet n - n - - smtpd\n")
}

const CLEAN: &[u8] = b"From: a.partner@firm.example\r\nTo: friend@gmail.com\r\nSubject: lunch\r\n\r\nAre we still on for Friday?\r\n";
const LEAK: &[u8] = b"From: a.partner@firm.example\r\nTo: j.smith@meridian-tankers.com\r\nSubject: draft\r\n\r\nOur draft for Harrowgate Shipping in 2024-0117.\r\n";

/// Sends the clean message and the leak through Postfix, then waits for the
/// clean one at the sink and the leak in the quarantine.
async fn clean_passes_and_leak_is_held(pf: &Postfix, sink: &Sink, setup: &Setup) {
    let mut c = Client::connect(pf.port).await.unwrap();
    let (code, text) = c
        .mail("a.partner@firm.example", &["friend@gmail.com"], CLEAN)
        .await;
    assert_eq!(code, 250, "{text}");
    let (code, text) = c
        .mail(
            "a.partner@firm.example",
            &["j.smith@meridian-tankers.com"],
            LEAK,
        )
        .await;
    assert!(code == 250 || code == 550, "{text}");
    c.cmd("QUIT").await;
    for _ in 0..600 {
        if !sink.messages().is_empty() && !setup.held().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = sink.messages();
    assert_eq!(
        got.len(),
        1,
        "exactly the clean message reaches the sink\n{}",
        pf.log()
    );
    assert_eq!(got[0].rcpts, ["friend@gmail.com"]);
    assert!(String::from_utf8_lossy(&got[0].body).contains("Are we still on for Friday?"));
    let held = setup.held();
    assert_eq!(held.len(), 1, "the leak is held\n{}", pf.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_postfix_as_relayhost() {
    let (sink, setup, server) = support::start(&[]).await;
    let port = free_port();
    let pf = Postfix::start(
        port,
        &snippet("relayhost.main.cf", server.port, 0),
        &smtpd_line(port),
    )
    .await;
    clean_passes_and_leak_is_held(&pf, &sink, &setup).await;
    drop(pf);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_postfix_as_content_filter() {
    // Postfix → matterwall → Postfix reinjection smtpd → relayhost sink.
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let reinject = free_port();
    let setup = Setup::new(reinject, "");
    let server = setup.serve().await;
    let port = free_port();
    let main = format!(
        "{}\nrelayhost = [127.0.0.1]:{}",
        snippet("content_filter.main.cf", server.port, reinject),
        sink.port
    );
    let master = smtpd_line(port) + &snippet("content_filter.master.cf", server.port, reinject);
    let pf = Postfix::start(port, &main, &master).await;
    clean_passes_and_leak_is_held(&pf, &sink, &setup).await;
    drop(pf);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_postfix_as_smtpd_proxy_filter() {
    // The client waits while matterwall decides; what passes goes to the
    // reinjection smtpd and on to the sink.
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let reinject = free_port();
    let setup = Setup::new(reinject, "");
    let server = setup.serve().await;
    let port = free_port();
    let main = format!("relayhost = [127.0.0.1]:{}", sink.port);
    let proxy = snippet("smtpd_proxy_filter.master.cf", server.port, reinject)
        .replace("smtp      inet", &format!("127.0.0.1:{port} inet"));
    // The reinjection service, taken from the content_filter file.
    let reinjection: String = snippet("content_filter.master.cf", server.port, reinject)
        .split_once(&format!("127.0.0.1:{reinject} inet"))
        .map(|(_, rest)| format!("127.0.0.1:{reinject} inet{rest}"))
        .unwrap();
    let pf = Postfix::start(port, &main, &format!("{proxy}{reinjection}")).await;
    clean_passes_and_leak_is_held(&pf, &sink, &setup).await;
    drop(pf);
    server.stop().await;
}
