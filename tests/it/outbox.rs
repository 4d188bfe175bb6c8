//! The notice outbox (issue #13), end to end over real sockets: a notice
//! is in the store from the hold's transaction until the next hop accepted
//! it. The next hop down when a message is held: the sender's notice goes
//! once it is back, exactly once. The node killed (SIGKILL) after the hold,
//! before the notice went: the restarted node sends it. A permanent 5xx:
//! given up, logged and counted on `/metrics`. The command line's
//! rejection notice and digest go through the outbox too (on both
//! backends), and the daily digest job runs once for two nodes.

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

/// Every notice in `st`, read off the runtime's worker (PostgreSQL's
/// client blocks on a runtime of its own).
pub fn notices(st: &Arc<dyn Store>) -> Vec<NoticeSummary> {
    tokio::task::block_in_place(|| st.notices().unwrap())
}

/// Polls the outbox until `done` holds for its notices (or a minute).
pub async fn wait_notices(
    st: &Arc<dyn Store>,
    done: impl Fn(&[NoticeSummary]) -> bool,
) -> Vec<NoticeSummary> {
    for _ in 0..600 {
        let all = notices(st);
        if done(&all) {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    notices(st)
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
pub fn on_postgres(setup: &Setup, url: &str, key: &std::path::Path, node: &str) {
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

/// Holds tell the sender; compliance gets the daily digest.
const DIGEST: &str = r#"
[[rule]]
name = "tell-the-sender"
when = { mentions = true, any_recipient = "unauthorised" }
action = "hold"
notify_sender = true

[notify]
retry_seconds = 1
compliance = ["compliance@firm.example"]
compliance_mode = "digest"
"#;

const COMPLIANCE: &str = "compliance@firm.example";

/// Each message at the sink as (recipients, subject and decoded text).
fn read_all(sink: &Sink) -> Vec<(Vec<String>, String)> {
    let parse = |body: &[u8]| {
        let m = mail_parser::MessageParser::default().parse(body).unwrap();
        let text = m.body_text(0).unwrap_or_default().into_owned();
        format!("{}\n{text}", m.subject().unwrap_or_default())
    };
    let got = sink.messages();
    got.iter()
        .map(|g| (g.rcpts.clone(), parse(&g.body)))
        .collect()
}

/// Polls the sink (a minute at most) until `done` holds for what it has.
async fn sink_until(sink: &Sink, done: impl Fn(&[(Vec<String>, String)]) -> bool) {
    for _ in 0..600 {
        if done(&read_all(sink)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn count(all: &[(Vec<String>, String)], to: &str, says: &str) -> usize {
    let hit = |(r, t): &&(Vec<String>, String)| r == &[to.to_string()] && t.contains(says);
    all.iter().filter(hit).count()
}

/// With `pg`, points `setup` at a fresh PostgreSQL database with a key
/// file of its own: the database's URL and the temp dir holding the key.
fn use_postgres(setup: &Setup, pg: bool) -> Option<(String, tempfile::TempDir)> {
    if !pg {
        return None;
    }
    let url = crate::support::postgres::PgCluster::shared().fresh_db();
    let keys = tempfile::tempdir().unwrap();
    on_postgres(setup, &url, &keys.path().join("shared.key"), "node-a");
    Some((url, keys))
}

/// The store the server uses, opened beside it (once it has started).
fn probe(setup: &Setup, pg: &Option<(String, tempfile::TempDir)>) -> Arc<dyn Store> {
    match pg {
        None => open_store(setup),
        Some((url, keys)) => tokio::task::block_in_place(|| {
            store::open(url, keys.path(), Some("shared.key"), Some("probe")).unwrap()
        }),
    }
}

/// `quarantine reject` and `quarantine digest` while the next hop is
/// down: each queues its notice in its own transaction, tries it once,
/// says it is queued, and the serve process's outbox delivers it once the
/// next hop is back, exactly once.
async fn cli_notices_wait_for_the_next_hop(pg: bool) {
    let port = free_port();
    let setup = Setup::for_process(port, "");
    setup.append(DIGEST);
    let pg = use_postgres(&setup, pg);
    let server = Process::start(&setup.config()).await;
    let st = probe(&setup, &pg);
    let rejected = hold_one(server.port).await;
    let waiting = hold_one(server.port).await;
    let out = setup.cli(&[
        "quarantine",
        "reject",
        &rejected,
        "--comment",
        "Use the portal.",
    ]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("the sender's notice is queued"), "{said}");
    let out = setup.cli(&["quarantine", "digest"]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("digest queued"), "{said}");
    let queued = notices(&st);
    for kind in ["rejected", "digest"] {
        let n: Vec<_> = queued.iter().filter(|n| n.kind == kind).collect();
        assert_eq!(n.len(), 1, "{kind}: {queued:?}");
        assert_eq!(
            (n[0].status.as_str(), n[0].attempts),
            ("pending", 1),
            "{kind}"
        );
    }
    // Run again, the digest is not queued twice: the claim is the day's.
    let again = setup.cli(&["quarantine", "digest"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("not sent again"));
    // The next hop is back: the running server's outbox job sends both.
    let sink = Sink::start_at(port, &[]).await;
    let all = wait_notices(&st, settled).await;
    assert!(all.iter().all(|n| n.status == "sent"), "{all:?}");
    let got = read_all(&sink);
    assert_eq!(count(&got, SENDER, "Use the portal."), 1, "{got:?}");
    assert_eq!(
        count(&got, COMPLIANCE, "1 message(s) are held"),
        1,
        "{got:?}"
    );
    assert_eq!(count(&got, COMPLIANCE, &waiting), 1, "{got:?}");
    server.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_notices_wait_for_the_next_hop_on_sqlite() {
    cli_notices_wait_for_the_next_hop(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_notices_wait_for_the_next_hop_on_postgres() {
    cli_notices_wait_for_the_next_hop(true).await;
}

/// The daily digest job itself, end to end: two nodes on one PostgreSQL
/// with `digest_at` set to a few seconds from now (to the second; the job
/// sleeps until then by the real clock, as it would until 07:00). Both
/// wake at that moment; one claims the day's run and queues the digest,
/// and compliance gets it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_digest_goes_once_from_two_nodes() {
    const AHEAD: i64 = 25;
    let sink = Sink::start(crate::support::SinkMode::Normal, &[]).await;
    let url = crate::support::postgres::PgCluster::shared().fresh_db();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("shared.key");
    let due = chrono::Utc::now() + chrono::Duration::seconds(AHEAD);
    let at = format!("digest_at = \"{}\"\n", due.format("%H:%M:%S"));
    let (a, b) = (
        Setup::for_process(sink.port, ""),
        Setup::for_process(sink.port, ""),
    );
    for (setup, node) in [(&a, "node-a"), (&b, "node-b")] {
        setup.append(DIGEST);
        setup.append(&at);
        on_postgres(setup, &url, &key, node);
    }
    let (na, nb) = (
        Process::start(&a.config()).await,
        Process::start(&b.config()).await,
    );
    let id = hold_one(na.port).await;
    assert!(
        chrono::Utc::now() < due,
        "the machine took over {AHEAD} s to start two nodes and hold one message"
    );
    assert_eq!(
        count(&read_all(&sink), COMPLIANCE, "held"),
        0,
        "not before digest_at"
    );
    sink_until(&sink, |got| {
        count(got, COMPLIANCE, "1 message(s) are held") >= 1
    })
    .await;
    // Both nodes woke; a second digest would follow within a second or two.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let got = read_all(&sink);
    assert_eq!(
        count(&got, COMPLIANCE, "1 message(s) are held"),
        1,
        "{got:?}"
    );
    assert_eq!(
        count(&got, COMPLIANCE, &id),
        1,
        "the digest lists it: {got:?}"
    );
    let pg = crate::support::postgres::PgCluster::shared();
    let queued = pg.psql(&url, "SELECT count(*) FROM outbox WHERE kind = 'digest'");
    assert_eq!(queued, "1", "queued once for the cluster");
    na.stop();
    nb.stop();
}
