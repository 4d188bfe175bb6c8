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

use crate::support::{self, free_port, Client, Postfix, Setup, Sink, SinkMode};
use std::path::Path;
use std::time::Duration;

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
        &Postfix::smtpd_line(port),
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
    let master =
        Postfix::smtpd_line(port) + &snippet("content_filter.master.cf", server.port, reinject);
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
