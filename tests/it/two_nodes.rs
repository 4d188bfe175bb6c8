//! Several nodes, faults (issue #13): two `matterwall serve` processes on
//! one PostgreSQL, one of them killed with SIGKILL in the middle of a
//! stream of clean and leaking messages. Counted at the end: every message
//! that got `250` is at the next hop (clean) or in the shared quarantine
//! (leak); a message is there twice only when the client had to send it
//! again because the killed node never answered it (what SMTP allows: the
//! design promises nothing is lost, and at-least-once for a message whose
//! `250` was lost); no leak reaches the next hop; a release done by two
//! nodes at once happens once; the one audit trail verifies; the surviving
//! node carried on.
//!
//! Once with the test as the client (it sees every reply), once behind a
//! real Postfix that delivers to both nodes with the lines of
//! `docs/postfix/two-nodes.main.cf`. Waits are for events, bounded.

use crate::support::postgres::PgCluster;
use crate::support::{free_port, Client, Postfix, Process, Setup, Sink, SinkMode};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::Duration;

const FROM: &str = "a.partner@firm.example";
const OUTSIDE: &str = "j.smith@meridian-tankers.com";
const FRIEND: &str = "friend@gmail.com";

/// Message `n` of the stream: every third one leaks a client and matter.
fn message(n: usize) -> (String, bool, Vec<u8>) {
    let tag = format!("stream-{n:03}");
    let leak = n % 3 == 0;
    let (to, text) = if leak {
        (OUTSIDE, "Our draft for Harrowgate Shipping in 2024-0117.")
    } else {
        (FRIEND, "Are we still on for Friday?")
    };
    let body = format!("From: {FROM}\r\nTo: {to}\r\nSubject: {tag}\r\n\r\n{text}\r\n");
    (tag, leak, body.into_bytes())
}

fn recipient(leak: bool) -> &'static str {
    if leak {
        OUTSIDE
    } else {
        FRIEND
    }
}

/// Two nodes on one fresh database with one shared key, relaying to `sink`.
struct TwoNodes {
    a: Setup,
    b: Setup,
    _keys: tempfile::TempDir,
}

impl TwoNodes {
    fn new(sink: u16) -> TwoNodes {
        let url = PgCluster::shared().fresh_db();
        let keys = tempfile::tempdir().unwrap();
        let key = keys.path().join("shared.key");
        let (a, b) = (Setup::for_process(sink, ""), Setup::for_process(sink, ""));
        on_postgres(&a, &url, &key, "mw-a");
        on_postgres(&b, &url, &key, "mw-b");
        TwoNodes { a, b, _keys: keys }
    }
}

fn on_postgres(setup: &Setup, url: &str, key: &Path, node: &str) {
    let text = std::fs::read_to_string(setup.config()).unwrap();
    let store = format!(
        "url = \"{url}\"\nkey_file = \"{}\"\nnode = \"{node}\"",
        key.display()
    );
    let text = text.replace("url = \"sqlite://data/mw.db\"", &store);
    std::fs::write(setup.config(), text).unwrap();
}

/// How many times each tag is at the sink and in the quarantine.
fn counts(sink: &Sink, setup: &Setup) -> (HashMap<String, usize>, HashMap<String, usize>) {
    let mut at_sink = HashMap::new();
    for got in sink.messages() {
        let text = String::from_utf8_lossy(&got.body).into_owned();
        let tag = text
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or("?")
            .to_string();
        *at_sink.entry(tag).or_insert(0) += 1;
    }
    let mut held = HashMap::new();
    for h in setup.held() {
        let tag = h["subject"].as_str().unwrap_or("?").to_string();
        *held.entry(tag).or_insert(0) += 1;
    }
    (at_sink, held)
}

/// The counts every run must end with: each of `sent` exactly where its
/// kind goes, once, or twice if it is in `resent`; nothing else anywhere.
fn assert_counted(
    sent: &[(String, bool)],
    resent: &[String],
    at_sink: &HashMap<String, usize>,
    held: &HashMap<String, usize>,
) {
    for (tag, leak) in sent {
        let (here, not_there) = if *leak {
            (held, at_sink)
        } else {
            (at_sink, held)
        };
        let n = here.get(tag).copied().unwrap_or(0);
        let most = if resent.contains(tag) { 2 } else { 1 };
        assert!(
            (1..=most).contains(&n),
            "{tag} (leak: {leak}) is there {n} times, at most {most}\nsink {at_sink:?}\nheld {held:?}"
        );
        assert!(!not_there.contains_key(tag), "{tag} went the wrong way");
    }
    let known = |t: &String| sent.iter().any(|(s, _)| s == t);
    assert!(at_sink.keys().chain(held.keys()).all(known));
}

/// Releases `id` from both nodes' command lines at once: one release, one
/// refusal, one copy at the next hop.
fn release_on_both(nodes: &TwoNodes, id: &str) {
    let run = |s: &Setup| {
        std::process::Command::new(env!("CARGO_BIN_EXE_matterwall"))
            .arg("--config")
            .arg(s.config())
            .args(["quarantine", "release", id, "--comment", "checked"])
            .output()
    };
    let (ra, rb) = std::thread::scope(|t| {
        let a = t.spawn(|| run(&nodes.a).unwrap());
        let b = t.spawn(|| run(&nodes.b).unwrap());
        (a.join().unwrap(), b.join().unwrap())
    });
    let ok = [&ra, &rb].iter().filter(|o| o.status.success()).count();
    assert_eq!(ok, 1, "one release of two: {ra:?}\n{rb:?}");
}

fn verify(setup: &Setup) {
    let out = setup.cli(&["audit", "verify"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
}

/// The test as the client, four sessions at a time against node A; A is
/// killed once a quarter of the stream is answered, and each session sends
/// what A left unanswered, and the rest, to node B.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_stream_loses_no_250_on_postgres() {
    const SESSIONS: usize = 4;
    const EACH: usize = 15;
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let nodes = TwoNodes::new(sink.port);
    let (pa, pb) = (nodes.a.spawn().await, nodes.b.spawn().await);
    let (port_a, port_b) = (pa.port, pb.port);
    let answered = Arc::new(AtomicUsize::new(0));
    let sessions: Vec<_> = (0..SESSIONS)
        .map(|s| {
            let answered = answered.clone();
            tokio::spawn(async move {
                let mut port = port_a;
                let mut log = Vec::new();
                for n in (0..EACH).map(|i| i * SESSIONS + s) {
                    let (tag, leak, body) = message(n);
                    let mut tries = 0;
                    loop {
                        tries += 1;
                        let code = match Client::connect_quietly(port).await {
                            Ok(mut c) => c.mail_or_zero(FROM, &[recipient(leak)], &body).await,
                            Err(_) => 0,
                        };
                        if code == 250 {
                            break;
                        }
                        assert_eq!(code, 0, "{tag}: only a dead node fails to answer");
                        assert!(port == port_a, "{tag}: node B did not answer");
                        port = port_b;
                    }
                    answered.fetch_add(1, SeqCst);
                    log.push((tag, leak, tries > 1));
                }
                log
            })
        })
        .collect();
    while answered.load(SeqCst) < SESSIONS * EACH / 4 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    pa.kill9();
    let mut sent = Vec::new();
    let mut resent = Vec::new();
    for s in sessions {
        for (tag, leak, again) in s.await.unwrap() {
            if again {
                resent.push(tag.clone());
            }
            sent.push((tag, leak));
        }
    }
    let (at_sink, held) = counts(&sink, &nodes.b);
    assert_counted(&sent, &resent, &at_sink, &held);
    after_the_run(&nodes, &sink, pb).await;
}

/// Postfix delivers to both nodes (a list of next hops, as documented);
/// node A dies half-way through the stream, Postfix retries what it left
/// unanswered through B, and the counts match as above. Which messages
/// were in flight at A when it died is Postfix's to know, so any may be
/// there twice, never three times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postfix_delivers_to_two_nodes_and_one_dies_mid_run() {
    const TOTAL: usize = 48;
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let nodes = TwoNodes::new(sink.port);
    let (pa, pb) = (nodes.a.spawn().await, nodes.b.spawn().await);
    let port = free_port();
    let main_cf = two_nodes_main_cf(pa.port, pb.port);
    let pf = Postfix::start(port, &main_cf, &Postfix::smtpd_line(port)).await;
    let mut sent = Vec::new();
    // Bounded: a Postfix that stops answering fails the test with its log.
    let send = |range: std::ops::Range<usize>| async move {
        let mut c = Client::connect(port).await.unwrap();
        let mut sent = Vec::new();
        for n in range {
            let (tag, leak, body) = message(n);
            let (code, text) = c.mail(FROM, &[recipient(leak)], &body).await;
            assert_eq!(code, 250, "Postfix queued {tag}: {text}");
            sent.push((tag, leak));
        }
        c.cmd("QUIT").await;
        sent
    };
    let minute = Duration::from_secs(60);
    let first = tokio::time::timeout(minute, send(0..TOTAL / 2)).await;
    sent.extend(first.unwrap_or_else(|_| panic!("Postfix did not answer\n{}", pf.log())));
    let done = |sink: &Sink, setup: &Setup| {
        let (s, h) = counts(sink, setup);
        s.values().sum::<usize>() + h.values().sum::<usize>()
    };
    let mut waited = 0;
    while done(&sink, &nodes.b) < TOTAL / 4 {
        assert!(
            waited < 1200,
            "a quarter not delivered in 2 min\n{}",
            pf.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    pa.kill9();
    let second = tokio::time::timeout(minute, send(TOTAL / 2..TOTAL)).await;
    sent.extend(second.unwrap_or_else(|_| panic!("Postfix did not answer\n{}", pf.log())));
    let mut waited = 0;
    while done(&sink, &nodes.b) < TOTAL {
        assert!(waited < 1200, "not all delivered in 2 min\n{}", pf.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }
    let resent: Vec<String> = sent.iter().map(|(t, _)| t.clone()).collect();
    let (at_sink, held) = counts(&sink, &nodes.b);
    assert_counted(&sent, &resent, &at_sink, &held);
    let trail = nodes.b.audit();
    let by = |n: &str| trail.iter().filter(|e| e["details"]["node"] == n).count();
    assert!(by("mw-a") >= 1 && by("mw-b") >= 1, "both nodes took mail");
    drop(pf);
    after_the_run(&nodes, &sink, pb).await;
}

/// `docs/postfix/two-nodes.main.cf` with the nodes' ports, and retry times
/// shortened so the test does not wait minutes for Postfix's next try.
/// The times are replaced in place, never appended: a parameter given twice
/// makes every Postfix process log "overriding earlier entry" at start,
/// and with `maillog_file` those lines go through postlogd's datagram
/// socket, which postlogd itself writes them to as well; once the socket's
/// queue is full (10 datagrams) postlogd blocks on its own socket, and
/// every daemon that logs after it hangs (smtpd never says `220`).
fn two_nodes_main_cf(a: u16, b: u16) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/postfix/two-nodes.main.cf");
    let text = std::fs::read_to_string(path).unwrap();
    let mut text = text
        .replace("10025", &a.to_string())
        .replace("10027", &b.to_string());
    for (line, short) in [
        ("minimal_backoff_time = 30s", "minimal_backoff_time = 1s"),
        ("maximal_backoff_time = 300s", "maximal_backoff_time = 2s"),
        ("queue_run_delay = 30s", "queue_run_delay = 1s"),
    ] {
        assert!(
            text.contains(line),
            "the documented main.cf has no {line:?}"
        );
        text = text.replace(line, short);
    }
    text
}

/// After the stream: a held leak released from both nodes at once goes
/// out once, the trail verifies, and the survivor still holds a leak.
async fn after_the_run(nodes: &TwoNodes, sink: &Sink, pb: Process) {
    let held = nodes.b.held();
    let id = held[0]["id"].as_str().unwrap().to_string();
    let before = sink.messages().len();
    release_on_both(nodes, &id);
    assert_eq!(sink.messages().len(), before + 1, "released once");
    verify(&nodes.a);
    let (tag, _, body) = message(999);
    let mut c = Client::connect(pb.port).await.unwrap();
    let reply = c.mail(FROM, &[OUTSIDE], &body).await;
    assert!(reply.1.contains("held as"), "{tag}: {reply:?}");
    verify(&nodes.b);
    pb.stop();
}
