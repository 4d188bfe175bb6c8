//! Issue #18, four-eyes release (`release = "two-person"`) over the JSON
//! API and the command line, on SQLite and on PostgreSQL: a release
//! before any approval, an approval or a release by the sender, a second
//! approval, and a release by the approver are refused (403); a second,
//! different reviewer releases, once; the queue and the message say
//! "approved by X, awaiting a second reviewer" meanwhile; a rejection needs
//! one reviewer; racing approvals and releases settle exactly once; every
//! step is in the audit trail, which verifies.

use crate::split::{configure, Backend, OUTSIDER};
use crate::support::review::{api, PW};
use crate::support::{hold_one, Setup, Sink, SinkMode};
use serde_json::Value;

const SENDER: &str = "a.partner@firm.example";

/// Messages at the next hop for the outsider: releases, not the notices
/// the outbox sends in the background (the sender's, on a rejection).
fn released(sink: &Sink) -> usize {
    sink.messages()
        .iter()
        .filter(|g| g.rcpts == [OUTSIDER])
        .count()
}

fn comment(text: &str) -> String {
    serde_json::json!({ "comment": text }).to_string()
}

async fn item(port: u16, token: &str, id: &str) -> Value {
    let list = api(port, "GET", "/api/held", Some(token), "").await.json();
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .cloned()
        .unwrap()
}

async fn four_eyes_over_the_api(backend: Backend) {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    configure(&setup, backend, "release = \"two-person\"");
    for user in ["rita", "ravi", "rosa", SENDER] {
        setup.add_user(user, "reviewer", PW);
    }
    let [rita, ravi, rosa, sender] = ["rita", "ravi", "rosa", SENDER].map(|u| setup.token(u));
    let server = setup.serve().await;
    let port = setup.http_port;
    let id = hold_one(server.port).await;
    let post = |token: &str, what: &str, body: String| {
        let (token, path) = (token.to_string(), format!("/api/held/{id}/{what}"));
        async move { api(port, "POST", &path, Some(&token), &body).await }
    };

    let i = item(port, &rita, &id).await;
    assert_eq!(i["two_person"], true);
    assert_eq!(i["awaiting"], "awaiting two reviewers");
    // No release before an approval; the sender may not approve.
    let r = post(&rita, "release", comment("looks fine")).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("two reviewers"));
    let r = post(&sender, "approve", comment("my own mail")).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.json()["error"].as_str().unwrap().contains("sender"));
    assert_eq!(post(&rita, "approve", comment("  ")).await.status, 400);

    let r = post(&rita, "approve", comment("client confirmed the address")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["awaiting"],
        "approved by rita, awaiting a second reviewer"
    );
    let i = item(port, &ravi, &id).await;
    assert_eq!(i["status"], "held");
    assert_eq!(i["approved_by"], "rita");
    assert_eq!(
        i["awaiting"],
        "approved by rita, awaiting a second reviewer"
    );
    let shown = api(port, "GET", &format!("/api/held/{id}"), Some(&ravi), "")
        .await
        .json();
    assert_eq!(
        shown["message"]["awaiting"],
        "approved by rita, awaiting a second reviewer"
    );
    // The same reviewer twice, a second approval, the sender: refused.
    let r = post(&rita, "release", comment("and out")).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.json()["error"]
        .as_str()
        .unwrap()
        .contains("different reviewer"));
    assert_eq!(post(&ravi, "approve", comment("me too")).await.status, 403);
    assert_eq!(post(&sender, "release", comment("mine")).await.status, 403);
    assert!(sink.messages().is_empty(), "nothing left yet");

    let r = post(&ravi, "release", comment("second pair of eyes")).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let got = sink.messages();
    assert_eq!(got.len(), 1, "released once");
    assert_eq!(got[0].rcpts, [OUTSIDER]);
    assert_eq!(post(&rosa, "release", comment("again")).await.status, 409);
    let i = item(port, &rita, &id).await;
    assert_eq!(i["status"], "released");
    assert!(i.get("awaiting").is_none(), "{i}");

    // A rejection needs one reviewer.
    let second = hold_one(server.port).await;
    let path = format!("/api/held/{second}/reject");
    let r = api(port, "POST", &path, Some(&rosa), &comment("not to them")).await;
    assert_eq!(r.status, 200, "{}", r.text());

    racing_reviewers(&sink, port, server.port, [&rita, &ravi, &rosa]).await;
    server.stop().await;

    let audit = setup.audit();
    let approve = audit
        .iter()
        .find(|e| e["kind"] == "approve" && e["details"]["message"] == id.as_str())
        .expect("the approval is audited");
    assert_eq!(approve["actor"], "rita");
    assert_eq!(
        approve["details"]["comment"],
        "client confirmed the address"
    );
    let release = audit
        .iter()
        .find(|e| e["kind"] == "release" && e["details"]["message"] == id.as_str())
        .unwrap();
    assert_eq!(release["actor"], "ravi");
    assert!(approve["seq"].as_u64() < release["seq"].as_u64());
    setup.assert_audit_verifies();
    cli_refuses_one_person(&setup, &sink).await;
}

/// Two reviewers approve at once: one approval stands. Then the other two
/// release at once: one release, one message at the next hop.
async fn racing_reviewers(sink: &Sink, port: u16, smtp: u16, tokens: [&String; 3]) {
    let id = hold_one(smtp).await;
    let before = released(sink);
    let approve = |t: &str| {
        let (t, path) = (t.to_string(), format!("/api/held/{id}/approve"));
        async move {
            api(port, "POST", &path, Some(&t), &comment("ok"))
                .await
                .status
        }
    };
    let (a, b) = tokio::join!(approve(tokens[0]), approve(tokens[1]));
    let mut codes = [a, b];
    codes.sort();
    assert_eq!(codes, [200, 403], "one approval stands");
    let approver = item(port, tokens[2], &id).await["approved_by"]
        .as_str()
        .unwrap()
        .to_string();
    let other = if approver == "rita" {
        tokens[1]
    } else {
        tokens[0]
    };
    let release = |t: &str| {
        let (t, path) = (t.to_string(), format!("/api/held/{id}/release"));
        async move {
            api(port, "POST", &path, Some(&t), &comment("go"))
                .await
                .status
        }
    };
    let (a, b) = tokio::join!(release(other), release(tokens[2]));
    let mut codes = [a, b];
    codes.sort();
    assert_eq!(codes, [200, 409], "one release");
    assert_eq!(released(sink), before + 1, "sent once");
}

/// The command line: `release` refuses a two-person message nobody else
/// approved; `approve` records the approval; another user releases.
async fn cli_refuses_one_person(setup: &Setup, sink: &Sink) {
    let server = setup.serve().await;
    let id = hold_one(server.port).await;
    server.stop().await;
    let as_user = |user: &str, args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_matterwall"))
            .env("USER", user)
            .arg("--config")
            .arg(setup.config())
            .args(args)
            .output()
            .unwrap()
    };
    let out = as_user("carol", &["quarantine", "release", &id, "--comment", "x"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("two reviewers") && err.contains("quarantine approve"),
        "{err}"
    );
    let out = as_user(
        "carol",
        &["quarantine", "approve", &id, "--comment", "checked"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list =
        String::from_utf8_lossy(&as_user("carol", &["quarantine", "list"]).stdout).into_owned();
    assert!(
        list.contains("approved by cli:carol, awaiting a second reviewer"),
        "{list}"
    );
    let out = as_user("carol", &["quarantine", "release", &id, "--comment", "x"]);
    assert!(!out.status.success(), "the approver cannot release");
    let before = released(sink);
    let out = as_user(
        "dave",
        &["quarantine", "release", &id, "--comment", "agreed"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(released(sink), before + 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_eyes_over_the_api_and_cli_sqlite() {
    four_eyes_over_the_api(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_eyes_over_the_api_and_cli_postgres() {
    four_eyes_over_the_api(Backend::Postgres).await;
}

/// A one-person message cannot be "approved": there is nothing to wait for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_person_message_needs_no_approval() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    setup.add_user("rita", "reviewer", PW);
    let rita = setup.token("rita");
    let server = setup.serve().await;
    let id = hold_one(server.port).await;
    let path = format!("/api/held/{id}/approve");
    let r = api(setup.http_port, "POST", &path, Some(&rita), &comment("ok")).await;
    assert_eq!(r.status, 403, "{}", r.text());
    let i = item(setup.http_port, &rita, &id).await;
    assert!(
        i.get("two_person").is_none() && i.get("awaiting").is_none(),
        "{i}"
    );
    server.stop().await;
}

/// Someone who can write the database cannot lift four-eyes: a forged
/// `approved_by` is not an approval (the release reads the audit trail),
/// and clearing `two_person` breaks the record's seal (refused, kept).
async fn editing_the_database_cannot_lift_it(backend: Backend) {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    let pg = configure(&setup, backend, "release = \"two-person\"");
    let server = setup.serve().await;
    let id = hold_one(server.port).await;
    server.stop().await;
    let edit = |sql: &str| match &pg {
        None => {
            let conn = rusqlite::Connection::open(setup.db()).unwrap();
            conn.execute_batch(sql).unwrap();
        }
        Some(url) => {
            crate::support::postgres::PgCluster::shared().psql(url, sql);
        }
    };
    let release = || setup.cli(&["quarantine", "release", &id, "--comment", "x"]);
    edit(&format!(
        "UPDATE held SET approved_by = 'mallory' WHERE id = '{id}'"
    ));
    let out = release();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("two reviewers"), "{err}");
    let flag = if pg.is_some() { "false" } else { "0" };
    edit(&format!(
        "UPDATE held SET approved_by = NULL, two_person = {flag} WHERE id = '{id}'"
    ));
    let out = release();
    assert!(!out.status.success(), "one person released it");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("damaged"), "{err}");
    assert!(sink.messages().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_the_database_cannot_lift_four_eyes_sqlite() {
    editing_the_database_cannot_lift_it(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn editing_the_database_cannot_lift_four_eyes_postgres() {
    editing_the_database_cannot_lift_it(Backend::Postgres).await;
}

/// Two nodes on one PostgreSQL (issue #13): reviewers approving the same
/// message at once, one on each node, leave one approval; two second
/// reviewers releasing at once, one on each node, send it once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approval_and_release_are_once_across_two_nodes() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let url = crate::support::postgres::PgCluster::shared().fresh_db();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("shared.key");
    let nodes = [Setup::new(sink.port, ""), Setup::new(sink.port, "")];
    for (n, setup) in nodes.iter().enumerate() {
        configure(setup, Backend::Sqlite, "release = \"two-person\"");
        let text = std::fs::read_to_string(setup.config()).unwrap();
        let store = format!(
            "url = \"{url}\"\nkey_file = \"{}\"\nnode = \"mw-{n}\"",
            key.display()
        );
        let text = text.replace("url = \"sqlite://data/mw.db\"", &store);
        std::fs::write(setup.config(), text).unwrap();
    }
    for user in ["rita", "ravi", "rosa"] {
        nodes[0].add_user(user, "reviewer", PW);
    }
    let [rita, ravi, rosa] = ["rita", "ravi", "rosa"].map(|u| nodes[1].token(u));
    let (a, b) = (nodes[0].serve().await, nodes[1].serve().await);
    let ports = [nodes[0].http_port, nodes[1].http_port];
    let id = hold_one(a.port).await;
    let on = |node: usize, token: &str, what: &str| {
        let (t, path) = (token.to_string(), format!("/api/held/{id}/{what}"));
        async move {
            api(ports[node], "POST", &path, Some(&t), &comment("ok"))
                .await
                .status
        }
    };
    let (x, y) = tokio::join!(on(0, &rita, "approve"), on(1, &ravi, "approve"));
    let mut codes = [x, y];
    codes.sort();
    assert_eq!(codes, [200, 403], "one approval stands");
    let approver = item(ports[1], &rosa, &id).await["approved_by"]
        .as_str()
        .unwrap()
        .to_string();
    let other = if approver == "rita" { &ravi } else { &rita };
    let (x, y) = tokio::join!(on(0, other, "release"), on(1, &rosa, "release"));
    let mut codes = [x, y];
    codes.sort();
    assert_eq!(codes, [200, 409], "one release");
    assert_eq!(sink.messages().len(), 1, "sent once");
    a.stop().await;
    b.stop().await;
    let trail = nodes[0].audit();
    let approvals = trail.iter().filter(|e| e["kind"] == "approve").count();
    let releases = trail.iter().filter(|e| e["kind"] == "released").count();
    assert_eq!((approvals, releases), (1, 1));
    let verify = nodes[0].cli(&["audit", "verify"]);
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );
}
