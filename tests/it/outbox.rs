//! The notice outbox (issue #13), end to end over real sockets: a notice
//! is in the store from the hold's transaction until the next hop accepted
//! it. The next hop down when a message is held: the sender's notice goes
//! once it is back, exactly once. The node killed (SIGKILL) after the hold,
//! before the notice went: the restarted node sends it. A permanent 5xx:
//! given up, logged and counted on `/metrics`.

use crate::support::http;
use crate::support::{example, free_port, held_id, Client, Process, Setup, Sink};
use matterwall::store::{self, NoticeSummary, Store};
use std::sync::Arc;
use std::time::Duration;

/// The sender hears of a hold; retries start after a second.
pub const NOTIFY: &str = r#"
[[rule]]
name = "tell-the-sender"
when = { mentions = true, any_recipient = "unauthorised" }
action = "hold"
notify_sender = true

[notify]
retry_seconds = 1
"#;

pub const SENDER: &str = "a.partner@firm.example";

async fn hold_one(port: u16) -> String {
    let mut c = Client::connect(port).await.unwrap();
    let raw = example("misdirected.eml");
    let reply = c
        .mail(SENDER, &["j.smith@meridian-tankers.com"], &raw)
        .await;
    held_id(&reply)
}

/// The store the server uses, opened beside it (SQLite in WAL mode).
pub fn open_store(setup: &Setup) -> Arc<dyn Store> {
    store::open("sqlite://data/mw.db", setup.dir.path(), None, Some("test")).unwrap()
}

/// Polls the outbox until `done` holds for its notices (or a minute).
pub async fn wait_notices(
    st: &Arc<dyn Store>,
    done: impl Fn(&[NoticeSummary]) -> bool,
) -> Vec<NoticeSummary> {
    for _ in 0..600 {
        let all = st.notices().unwrap();
        if done(&all) {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    st.notices().unwrap()
}

pub fn settled(all: &[NoticeSummary]) -> bool {
    !all.is_empty() && all.iter().all(|n| n.status != "pending")
}

/// How many notices to the sender the sink holds.
pub fn to_sender(sink: &Sink) -> usize {
    let got = sink.messages();
    got.iter()
        .filter(|g| g.from.is_empty() && g.rcpts == [SENDER])
        .count()
}

fn metric(text: &str, name: &str) -> u64 {
    let line = text.lines().find(|l| l.starts_with(&format!("{name} ")));
    let line = line.unwrap_or_else(|| panic!("no {name} in {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notice_waits_for_the_next_hop_and_goes_once() {
    // Nothing listens on the next hop's port: it is down.
    let port = free_port();
    let setup = Setup::new(port, "");
    setup.append(NOTIFY);
    let server = setup.serve().await;
    let id = hold_one(server.port).await;
    let st = open_store(&setup);
    // Tried and kept: the attempts count while the next hop is down.
    let all = wait_notices(&st, |a| a.iter().any(|n| n.attempts >= 2)).await;
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(
        (all[0].about.as_str(), all[0].status.as_str()),
        (id.as_str(), "pending")
    );
    assert_eq!(all[0].to, [SENDER]);
    let m = http::get(setup.http_port, "/metrics", &[]).await.text();
    assert_eq!(metric(&m, "matterwall_outbox_pending"), 1);
    assert!(metric(&m, "matterwall_outbox_retries_total") >= 1, "{m}");
    // The next hop is back on its port.
    let sink = Sink::start_at(port, &[]).await;
    let all = wait_notices(&st, settled).await;
    assert_eq!(all[0].status, "sent", "{all:?}");
    // Settled as sent: no attempt follows, so the count is final.
    assert_eq!(to_sender(&sink), 1, "exactly once");
    let body = String::from_utf8_lossy(&sink.messages()[0].body).into_owned();
    assert!(body.contains("Auto-Submitted: auto-generated"), "{body}");
    let m = http::get(setup.http_port, "/metrics", &[]).await.text();
    assert_eq!(metric(&m, "matterwall_outbox_pending"), 0);
    assert_eq!(metric(&m, "matterwall_outbox_sent_total"), 1);
    assert_eq!(metric(&m, "matterwall_outbox_gave_up_total"), 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permanent_refusal_gives_up_and_counts() {
    let sink = Sink::start(crate::support::SinkMode::Normal, &[SENDER]).await;
    let setup = Setup::new(sink.port, "");
    setup.append(NOTIFY);
    let server = setup.serve().await;
    hold_one(server.port).await;
    let st = open_store(&setup);
    let all = wait_notices(&st, settled).await;
    assert_eq!(all.len(), 1);
    assert_eq!((all[0].status.as_str(), all[0].attempts), ("failed", 1));
    let why = all[0].last_error.as_deref().unwrap_or_default();
    assert!(why.starts_with("550"), "{why}");
    let m = http::get(setup.http_port, "/metrics", &[]).await.text();
    assert_eq!(metric(&m, "matterwall_outbox_gave_up_total"), 1);
    assert_eq!(metric(&m, "matterwall_outbox_pending"), 0);
    assert_eq!(to_sender(&sink), 0);
    let log = server.log();
    assert!(log.contains("notice given up"), "{log}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_killed_before_the_notice_went_sends_it_after_restart() {
    let port = free_port();
    let setup = Setup::for_process(port, "");
    setup.append(NOTIFY);
    let server = Process::start(&setup.config()).await;
    let id = hold_one(server.port).await;
    // Held and answered 250; the notice is in the store, not yet sent.
    let st = open_store(&setup);
    let all = wait_notices(&st, |a| a.iter().any(|n| n.attempts >= 1)).await;
    assert_eq!((all.len(), all[0].status.as_str()), (1, "pending"));
    server.kill9();
    let sink = Sink::start_at(port, &[]).await;
    let server = Process::start(&setup.config()).await;
    let all = wait_notices(&st, settled).await;
    assert_eq!(all[0].status, "sent", "{all:?}");
    assert_eq!(all[0].about, id);
    assert_eq!(to_sender(&sink), 1, "exactly once");
    server.stop();
    let verify = setup.cli(&["audit", "verify"]);
    let err = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "{err}");
}

/// Points a setup's `[store]` at PostgreSQL `url` as node `node`, with the
/// key file every node shares.
fn on_postgres(setup: &Setup, url: &str, key: &std::path::Path, node: &str) {
    let text = std::fs::read_to_string(setup.config()).unwrap();
    let store = format!(
        "url = \"{url}\"\nkey_file = \"{}\"\nnode = \"{node}\"",
        key.display()
    );
    let text = text.replace("url = \"sqlite://data/mw.db\"", &store);
    std::fs::write(setup.config(), text).unwrap();
}

/// Polls `sql` (one value) until it reads `want` (or two minutes: were
/// node A killed mid-attempt, its claim would lapse after 56 s here).
fn psql_until(url: &str, sql: &str, want: &str) -> String {
    let pg = crate::support::postgres::PgCluster::shared();
    for _ in 0..1200 {
        let got = pg.psql(url, sql);
        if got == want {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    pg.psql(url, sql)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_another_node_sends_what_a_killed_node_held() {
    let url = crate::support::postgres::PgCluster::shared().fresh_db();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("shared.key");
    let port = free_port();
    let (a, b) = (Setup::for_process(port, ""), Setup::for_process(port, ""));
    for (setup, node) in [(&a, "node-a"), (&b, "node-b")] {
        setup.append(NOTIFY);
        on_postgres(setup, &url, &key, node);
    }
    let node_a = Process::start(&a.config()).await;
    let id = hold_one(node_a.port).await;
    // Tried, and back to pending for its retry (not mid-attempt: that
    // claim would lapse only after its lease; the store suite covers it).
    let tried = "SELECT attempts >= 1 AND claimed_by IS NULL FROM outbox";
    let u = url.clone();
    let got = tokio::task::spawn_blocking(move || psql_until(&u, tried, "t"));
    assert_eq!(got.await.unwrap(), "t", "node A never tried the notice");
    node_a.kill9();
    let sink = Sink::start_at(port, &[]).await;
    let node_b = Process::start(&b.config()).await;
    let sent = "SELECT status || ' ' || about FROM outbox";
    let u = url.clone();
    let want = format!("sent {id}");
    let w = want.clone();
    let got = tokio::task::spawn_blocking(move || psql_until(&u, sent, &w));
    assert_eq!(got.await.unwrap(), want);
    assert_eq!(to_sender(&sink), 1, "exactly once");
    let log = node_b.log();
    assert!(log.contains("notice sent"), "node B did not send it: {log}");
    node_b.stop();
}
