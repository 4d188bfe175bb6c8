//! Issue 16, kill at every step (RELIABILITY §2 item 5): the built server,
//! with its test-only fail points (`src/failpoint.rs`), dies as `kill -9`
//! would at one step of a stream of messages; the client then retries what
//! got no 250 against the restarted server, as an upstream MTA does. For
//! each point: lost = 0 (every message is at the next hop or in the
//! quarantine), a duplicate only where the next hop had accepted and we
//! died before answering, the store opens and its audit trail verifies.
//! A release killed after the next hop took it stays `releasing`, is
//! reported at start and is never sent again by itself. A notice killed
//! after the next hop took it and before it was marked sent (`outbox-send`)
//! is sent again after the restart: the one duplicate allowed, no loss.

use crate::smtp_e2e::CLEAN;
use crate::split::{configure, Backend};
use crate::support::{example, Client, Process, Setup, Sink, SinkMode};

const POINTS: &[&str] = &[
    "data-received",
    "after-scan",
    "hold-write",
    "audit-append",
    "next-hop-accepted",
];

/// Message `n`: clean (relayed) when even, naming a client to an outsider
/// (held) when odd; its Subject names it.
fn message(n: usize) -> (&'static str, Vec<u8>) {
    let (to, raw) = if n % 2 == 0 {
        ("b@partner.example", CLEAN.to_vec())
    } else {
        ("j.smith@meridian-tankers.com", example("misdirected.eml"))
    };
    let text = String::from_utf8_lossy(&raw).into_owned();
    let start = text.find("Subject:").unwrap();
    let end = start + text[start..].find("\r\n").unwrap();
    let text = format!("{}Subject: stream-{n}{}", &text[..start], &text[end..]);
    (to, text.into_bytes())
}

async fn send(port: u16, n: usize) -> u16 {
    let (to, raw) = message(n);
    let Ok(mut c) = Client::connect_quietly(port).await else {
        return 0;
    };
    c.mail_or_zero("a.partner@firm.example", &[to], &raw).await
}

fn failpoints(spec: &str) -> [String; 2] {
    ["env".into(), format!("MATTERWALL_FAILPOINTS={spec}")]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_at_every_step_loses_nothing() {
    const STREAM: usize = 8;
    for point in POINTS {
        let sink = Sink::start(SinkMode::Normal, &[]).await;
        let setup = Setup::for_process(sink.port, "");
        // The third time the point is reached: mail before it went through.
        let wrapper = failpoints(&format!("{point}=3"));
        let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
        let server = Process::start_under(&wrapper, &setup.config()).await;
        let mut pending: Vec<usize> = Vec::new();
        for n in 0..STREAM {
            if send(server.port, n).await != 250 {
                pending.push(n);
            }
        }
        let status = server.wait_exit();
        assert!(
            !status.success(),
            "{point}: the server was not killed ({status})"
        );
        assert!(!pending.is_empty(), "{point}: every message got 250");
        let server = Process::start(&setup.config()).await;
        for n in pending {
            assert_eq!(send(server.port, n).await, 250, "{point}: retry of {n}");
        }
        server.stop();
        let relayed: Vec<String> = sink.messages().iter().map(|g| subject(&g.body)).collect();
        let held: Vec<String> = setup
            .held()
            .iter()
            .map(|m| m["subject"].as_str().unwrap().to_string())
            .collect();
        for n in 0..STREAM {
            let name = format!("stream-{n}");
            let copies = relayed.iter().chain(&held).filter(|s| **s == name).count();
            assert!(copies >= 1, "{point}: {name} lost");
            let allowed = if *point == "next-hop-accepted" { 2 } else { 1 };
            assert!(copies <= allowed, "{point}: {name} {copies} times");
        }
        let verify = setup.cli(&["audit", "verify"]);
        let err = String::from_utf8_lossy(&verify.stderr);
        assert!(verify.status.success(), "{point}: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_killed_after_sending_is_never_sent_twice() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::for_process(sink.port, "");
    let server = Process::start(&setup.config()).await;
    assert_eq!(send(server.port, 1).await, 250);
    server.stop();
    let id = setup.held()[0]["id"].as_str().unwrap().to_string();
    let out = std::process::Command::new("env")
        .arg("MATTERWALL_FAILPOINTS=release-sent=1")
        .arg(env!("CARGO_BIN_EXE_matterwall"))
        .arg("--config")
        .arg(setup.config())
        .args(["quarantine", "release", &id, "--comment", "client asked"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "the release was not killed");
    assert_eq!(sink.messages().len(), 1, "the next hop has it once");
    assert_eq!(setup.held()[0]["status"], "releasing");
    let server = Process::start(&setup.config()).await;
    let log = server.log();
    assert!(
        log.contains("left in 'releasing'") && log.contains(&id),
        "{log}"
    );
    server.stop();
    assert_eq!(sink.messages().len(), 1, "sent again by itself");
    setup.assert_audit_verifies();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_inside_an_outbox_send_loses_no_notice() {
    use crate::outbox::{open_store, settled, to_sender, wait_notices, NOTIFY};
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::for_process(sink.port, "");
    setup.append(NOTIFY);
    let wrapper = failpoints("outbox-send=1");
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let server = Process::start_under(&wrapper, &setup.config()).await;
    // Held (message 1 names a client to an outsider); its notice is sent
    // and the process dies before marking it sent.
    assert_eq!(send(server.port, 1).await, 250);
    let status = server.wait_exit();
    assert!(!status.success(), "the server was not killed ({status})");
    assert_eq!(to_sender(&sink), 1, "the next hop has the notice");
    let st = open_store(&setup);
    assert_eq!(st.notices().unwrap()[0].status, "pending");
    let server = Process::start(&setup.config()).await;
    let all = wait_notices(&st, settled).await;
    server.stop();
    assert_eq!((all.len(), all[0].status.as_str()), (1, "sent"), "{all:?}");
    // Sent again after the restart: the duplicate the kill allows, and
    // only that one.
    assert_eq!(to_sender(&sink), 2);
    assert_eq!(setup.held().len(), 1);
    let verify = setup.cli(&["audit", "verify"]);
    let err = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "{err}");
}

fn subject(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text
        .lines()
        .find(|l| l.starts_with("Subject:"))
        .unwrap_or("");
    line.trim_start_matches("Subject:").trim().to_string()
}

/// RELIABILITY §2 item 12: a panic while scanning (a parser bug, planted
/// by the `scan=panic:N` fail point) costs that one message a `451`, which
/// its sender retries; the server lives on and the messages before and
/// after it are answered as usual.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_the_scan_is_a_451_for_that_message_only() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::for_process(sink.port, "");
    let wrapper = failpoints("scan=panic:2");
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let server = Process::start_under(&wrapper, &setup.config()).await;
    let replies = [
        send(server.port, 0).await,
        send(server.port, 2).await,
        send(server.port, 4).await,
        send(server.port, 2).await,
    ];
    assert_eq!(replies, [250, 451, 250, 250], "the second scan panicked");
    server.stop();
    let relayed: Vec<String> = sink.messages().iter().map(|g| subject(&g.body)).collect();
    assert_eq!(relayed, ["stream-0", "stream-4", "stream-2"]);
}

/// Group commit (issue #13): a hold that panics inside the writers' shared
/// transaction, after its audit entry, is undone alone. Twenty sessions
/// hold at once, so writes after it share its batch (on PostgreSQL they
/// chain from the head the batch keeps in memory, which the undo must
/// restore): that one message gets `451`, every other is held, and the
/// audit trail verifies. On both backends.
async fn a_panic_in_a_shared_transaction_undoes_only_its_write(backend: Backend) {
    const SESSIONS: usize = 20;
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::for_process(sink.port, "");
    configure(&setup, backend, "");
    let wrapper = failpoints("hold-write=panic:5");
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let server = Process::start_under(&wrapper, &setup.config()).await;
    let port = server.port;
    let sends: Vec<_> = (0..SESSIONS)
        .map(|n| tokio::spawn(send(port, 2 * n + 1)))
        .collect();
    let mut replies = Vec::new();
    for s in sends {
        replies.push(s.await.unwrap());
    }
    server.stop();
    let refused = replies.iter().filter(|r| **r == 451).count();
    let held = replies.iter().filter(|r| **r == 250).count();
    assert_eq!(
        (refused, held),
        (1, SESSIONS - 1),
        "{backend:?}: {replies:?}"
    );
    assert_eq!(setup.held().len(), SESSIONS - 1, "{backend:?}");
    setup.assert_audit_verifies();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_shared_transaction_undoes_only_its_write_on_sqlite() {
    a_panic_in_a_shared_transaction_undoes_only_its_write(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_shared_transaction_undoes_only_its_write_on_postgres() {
    a_panic_in_a_shared_transaction_undoes_only_its_write(Backend::Postgres).await;
}
