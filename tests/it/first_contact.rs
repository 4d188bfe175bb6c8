//! Issue #18, first contact, end to end over real sockets: a rule
//! `first_contact` (with `mentions = true`, the misdirected-autocomplete
//! check) holds a sender's first mail naming a client to a new domain; once
//! passed mail went there (one that names nothing, or a reviewer's release)
//! the same mail passes. Also: `"firm"` (a colleague's contact counts),
//! `split` (only the new domain waits), `monitor` (reported, not held), a
//! store that cannot answer (held as a first contact; the learning failure
//! counted), refused recipients not learned, the null sender taking the
//! firm's history, learning with no rule testing it yet, pairs past
//! `first_contact_days` forgotten by `quarantine expire`, `check` saying it
//! read no history, and rules-file errors with their line. The sender case
//! runs on PostgreSQL too.

use crate::support::postgres::PgCluster;
use crate::support::review::{login, PW};
use crate::support::{example, held_id, http, Client, Setup, Sink, SinkMode};
use matterwall::store::{self, Store};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

const A: &str = "a.partner@firm.example";
const B: &str = "b.associate@firm.example";
/// The client's own domain: authorised for its matter, so only first
/// contact can hold mail to it.
const CLIENT: &str = "legal@harrowgate-shipping.com";
/// Co-counsel on the matter `to-client.eml` names: authorised too.
const COUNSEL: &str = "clerk@chambers-ten.co.uk";
/// A recipient the next hop refuses for good.
const GONE: &str = "gone@refusing.example";
const YEAR: Duration = Duration::from_secs(365 * 86_400);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// A test's server: the setup with a `first-contact` hold rule
/// (`first_contact = {scope}` and `extra` keys) beside the setup's own
/// rules, its store on `backend`, and the sink it relays to.
struct World {
    sink: Sink,
    setup: Setup,
    url: Option<String>,
}

impl World {
    async fn new(backend: Backend, scope: &str, extra: &str) -> World {
        let sink = Sink::start(SinkMode::Normal, &[GONE]).await;
        let setup = Setup::new(sink.port, "");
        setup.append(&format!(
            "\n[[rule]]\nname = \"first-contact\"\n\
             when = {{ mentions = true, first_contact = {scope} }}\naction = \"hold\"\n{extra}\n"
        ));
        let url = (backend == Backend::Postgres).then(|| {
            let url = PgCluster::shared().fresh_db();
            let text = std::fs::read_to_string(setup.config()).unwrap();
            let store = format!("url = \"{url}\"\nkey_file = \"matterwall.key\"\nnode = \"fc\"");
            let text = text.replace("url = \"sqlite://data/mw.db\"", &store);
            std::fs::write(setup.config(), text).unwrap();
            url
        });
        World { sink, setup, url }
    }

    async fn send(&self, from: &str, to: &[&str], example_name: &str) -> (u16, String) {
        let mut c = Client::connect(self.setup.smtp_port).await.unwrap();
        c.mail(from, to, &example(example_name)).await
    }

    /// The store the server uses, opened beside it (off the async threads:
    /// PostgreSQL's client blocks).
    async fn store(&self) -> Arc<dyn Store> {
        let (dir, url) = (self.setup.dir.path().to_path_buf(), self.url.clone());
        tokio::task::spawn_blocking(move || match url {
            None => store::open("sqlite://data/mw.db", &dir, None, Some("t")),
            Some(u) => store::open(&u, &dir, Some("matterwall.key"), Some("t")),
        })
        .await
        .unwrap()
        .unwrap()
    }

    /// Whether the store knows `domain` for `sender` now.
    async fn knows(&self, sender: &str, domain: &str) -> bool {
        let st = self.store().await;
        let (s, d) = (sender.to_string(), vec![domain.to_string()]);
        let k = tokio::task::spawn_blocking(move || st.known_contacts(&s, &d, YEAR).unwrap());
        k.await.unwrap().sender.contains(domain)
    }

    /// Waits until learning (in the background after the reply) got there.
    async fn learned(&self, sender: &str, domain: &str) {
        for _ in 0..100 {
            if self.knows(sender, domain).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{domain} was never learned for {sender}");
    }

    /// The sealed verdict of held message `id`, as `quarantine show` prints it.
    fn held_verdict(&self, id: &str) -> Value {
        let show = self.setup.cli(&["quarantine", "show", id]);
        let out = String::from_utf8_lossy(&show.stdout);
        serde_json::from_str(out.lines().last().unwrap()).unwrap()
    }

    /// Whether the sink got `example_name` for exactly `rcpts`.
    fn delivered(&self, rcpts: &[&str], example_name: &str) -> bool {
        let raw = example(example_name);
        self.sink
            .messages()
            .iter()
            .any(|m| m.rcpts == rcpts && m.body == raw)
    }
}

fn passed(reply: &(u16, String)) -> bool {
    reply.0 == 250 && !reply.1.contains("held as")
}

async fn held_until_a_passed_mail_went_there(backend: Backend) {
    let w = World::new(backend, "true", "").await;
    let server = w.setup.serve().await;
    // A's first mail naming the client to its domain: held, and the
    // record says the domain was new to everyone.
    let id = held_id(&w.send(A, &[CLIENT], "to-client.eml").await);
    let v = w.held_verdict(&id);
    assert_eq!(v["rules"], serde_json::json!(["first-contact"]), "{v}");
    assert_eq!(v["recipients"][0]["first_contact"], "firm", "{v}");
    // The reviewer reads why an authorised recipient was held.
    w.setup.add_user("rita", "reviewer", PW);
    let page = login(w.setup.http_port, "rita", PW).await;
    let page = page.get(&format!("/held/{id}")).await.text();
    assert!(
        page.contains("nobody in the firm wrote to this domain"),
        "{page}"
    );
    // Internal recipients are never a first contact.
    assert!(passed(&w.send(A, &[B], "to-client.eml").await));
    // Mail that names nothing passes, and teaches the domain; a recipient
    // the next hop refused is not learned.
    assert!(passed(&w.send(A, &[CLIENT, GONE], "clean.eml").await));
    w.learned(A, "harrowgate-shipping.com").await;
    assert!(!w.knows(A, "refusing.example").await);
    // The same mail now passes.
    let reply = w.send(A, &[CLIENT], "to-client.eml").await;
    assert!(passed(&reply), "{reply:?}");
    assert!(w.delivered(&[CLIENT], "to-client.eml"));
    // A bounce (the null sender) has no history of its own: the firm's counts.
    let reply = w.send("", &[CLIENT], "to-client.eml").await;
    assert!(passed(&reply), "{reply:?}");
    // Another sender's first mail there is still held (sender scope).
    let id = held_id(&w.send(B, &[CLIENT], "to-client.eml").await);
    assert_eq!(
        w.held_verdict(&id)["recipients"][0]["first_contact"],
        "sender"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_until_a_passed_mail_went_there_on_sqlite() {
    held_until_a_passed_mail_went_there(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_until_a_passed_mail_went_there_on_postgres() {
    held_until_a_passed_mail_went_there(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firm_scope_counts_a_colleagues_contact() {
    let w = World::new(Backend::Sqlite, "\"firm\"", "").await;
    let server = w.setup.serve().await;
    assert!(passed(&w.send(A, &[CLIENT], "clean.eml").await));
    w.learned(A, "harrowgate-shipping.com").await;
    let reply = w.send(B, &[CLIENT], "to-client.eml").await;
    assert!(passed(&reply), "A wrote there, so B may: {reply:?}");
    // Nobody in the firm wrote to co-counsel yet.
    let id = held_id(&w.send(B, &[COUNSEL], "to-client.eml").await);
    assert_eq!(
        w.held_verdict(&id)["recipients"][0]["first_contact"],
        "firm"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_holds_only_the_new_domain_and_a_release_teaches_it() {
    let w = World::new(Backend::Sqlite, "true", "split = true").await;
    let server = w.setup.serve().await;
    assert!(passed(&w.send(A, &[CLIENT], "clean.eml").await));
    w.learned(A, "harrowgate-shipping.com").await;
    let reply = w.send(A, &[CLIENT, COUNSEL], "to-client.eml").await;
    assert!(reply.1.contains("relayed to 1 recipient"), "{reply:?}");
    let id = held_id(&reply);
    assert!(
        w.delivered(&[CLIENT], "to-client.eml"),
        "the known domain, at once"
    );
    let held = w.setup.held();
    let held = held.iter().find(|h| h["id"] == id.as_str()).unwrap();
    assert_eq!(held["to"], serde_json::json!([COUNSEL]));
    // A reviewer's release sends it, and the domain is known from then on.
    let out = w
        .setup
        .cli(&["quarantine", "release", &id, "--comment", "new counsel"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(w.delivered(&[COUNSEL], "to-client.eml"));
    w.learned(A, "chambers-ten.co.uk").await;
    assert!(passed(&w.send(A, &[COUNSEL], "to-client.eml").await));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn monitor_mode_reports_without_holding() {
    let w = World::new(Backend::Sqlite, "true", "mode = \"monitor\"").await;
    let server = w.setup.serve().await;
    let reply = w.send(A, &[CLIENT], "to-client.eml").await;
    assert!(passed(&reply), "{reply:?}");
    assert!(w.delivered(&[CLIENT], "to-client.eml"));
    server.stop().await;
    let audit = w.setup.audit();
    let verdict = audit.iter().find(|e| e["kind"] == "verdict").unwrap();
    assert_eq!(verdict["details"]["action"], "pass");
    assert_eq!(
        verdict["details"]["monitor"],
        serde_json::json!(["first-contact"])
    );
}

/// `/metrics` until it shows `line` (or ten seconds).
async fn metrics_show(port: u16, line: &str) {
    let mut text = String::new();
    for _ in 0..100 {
        text = http::get(port, "/metrics", &[]).await.text();
        if text.lines().any(|l| l == line) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/metrics never showed {line:?}:\n{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_cannot_answer_counts_every_domain_as_new() {
    let w = World::new(Backend::Sqlite, "true", "").await;
    let server = w.setup.serve().await;
    // The table goes away under the running server: lookups and learning
    // fail, everything else works.
    let db = rusqlite::Connection::open(w.setup.db()).unwrap();
    db.execute_batch("ALTER TABLE contacts RENAME TO contacts_gone")
        .unwrap();
    // Mail still flows; the failed learning is counted, nothing lost.
    assert!(passed(&w.send(A, &[CLIENT], "clean.eml").await));
    assert!(w.delivered(&[CLIENT], "clean.eml"));
    metrics_show(w.setup.http_port, "matterwall_first_contact_unlearned 1").await;
    // Fail closed: the mention to an outside domain is held.
    let id = held_id(&w.send(A, &[CLIENT], "to-client.eml").await);
    let v = w.held_verdict(&id);
    assert_eq!(v["recipients"][0]["first_contact"], "unchecked", "{v}");
    server.stop().await;
}

#[test]
fn check_reads_no_history_and_says_so() {
    let w = Setup::new(1, "");
    w.append("\n[[rule]]\nname = \"first-contact\"\nwhen = { first_contact = true }\naction = \"hold\"\n");
    let file = crate::support::repo().join("rules/examples/to-client.eml");
    let out = w.cli(&["check", "--from", A, "--to", CLIENT, file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["action"], "pass", "{v}");
    assert!(
        v["first_contact"]
            .as_str()
            .unwrap()
            .starts_with("not checked"),
        "{v}"
    );
    assert!(v["recipients"][0].get("first_contact").is_none(), "{v}");
}

#[test]
fn rules_file_errors_name_the_line() {
    let cases = [
        (
            "first_contact = \"frim\"",
            "first_contact = true, false, \"sender\" or \"firm\"",
        ),
        ("first_contact = 1", "first_contact = true, false"),
    ];
    for (key, reason) in cases {
        let w = Setup::new(1, "");
        w.append(&format!(
            "\n[[rule]]\nname = \"fc\"\nwhen = {{ {key} }}\naction = \"hold\"\n"
        ));
        let line = std::fs::read_to_string(w.config()).unwrap().lines().count() - 1;
        let out = w.cli(&["rules", "validate"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(&format!("matterwall.toml:{line}:")),
            "{key}: {err}"
        );
        assert!(err.contains(reason), "{key}: {err}");
    }
    let w = Setup::new(1, "");
    w.append("\n[policy]\nfirst_contact_days = 0\n");
    let line = std::fs::read_to_string(w.config()).unwrap().lines().count();
    let out = w.cli(&["rules", "validate"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("matterwall.toml:{line}:")), "{err}");
    assert!(
        err.contains("first_contact_days must be at least 1"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairs_past_first_contact_days_are_forgotten() {
    let w = World::new(Backend::Sqlite, "true", "").await;
    let server = w.setup.serve().await;
    assert!(passed(&w.send(A, &[CLIENT, COUNSEL], "clean.eml").await));
    w.learned(A, "chambers-ten.co.uk").await;
    w.learned(A, "harrowgate-shipping.com").await;
    server.stop().await;
    // One domain last written to 366 days ago: past the default 365.
    let db = rusqlite::Connection::open(w.setup.db()).unwrap();
    let long_ago = (chrono::Utc::now() - chrono::Duration::days(366))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    db.execute(
        "UPDATE contacts SET last_seen = ?1 WHERE domain = 'chambers-ten.co.uk'",
        [&long_ago],
    )
    .unwrap();
    assert!(!w.knows(A, "chambers-ten.co.uk").await, "no longer counts");
    let out = w.setup.cli(&["quarantine", "expire"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("2 first-contact pair(s) forgotten"),
        "{stdout}"
    );
    let left: i64 = db
        .query_row("SELECT count(*) FROM contacts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(
        left, 2,
        "the sender's and the firm's rows of the other domain"
    );
    assert!(w.knows(A, "harrowgate-shipping.com").await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn learned_even_before_a_rule_tests_it() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let w = World {
        setup: Setup::new(sink.port, ""),
        sink,
        url: None,
    };
    let server = w.setup.serve().await;
    assert!(passed(&w.send(A, &[CLIENT], "clean.eml").await));
    w.learned(A, "harrowgate-shipping.com").await;
    server.stop().await;
}
