//! The review API and the audit trail end to end: the built `matterwall
//! serve`, users and tokens made with the CLI, requests over real sockets
//! (the small client in `support::http`), the database edited behind the
//! server's back for the tampering cases.

mod support;

use serde_json::Value;
use support::http::{self, Response};
use support::{example, Client, Setup, Sink, SinkMode};

const PW: &str = "a long enough password";

async fn api(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> Response {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    http::request(port, method, path, &headers, body.as_bytes()).await
}

/// Sends the shipped misdirected example; returns the held id.
async fn hold_one(port: u16) -> String {
    let mut c = Client::connect(port).await.unwrap();
    let (code, text) = c
        .mail(
            "a.partner@firm.example",
            &["j.smith@meridian-tankers.com"],
            &example("misdirected.eml"),
        )
        .await;
    assert_eq!(code, 250, "{text}");
    text.rsplit(' ').next().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_and_roles() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    setup.add_user("rita", "reviewer", PW);
    setup.add_user("ada", "admin", PW);
    setup.add_user("otto", "auditor", PW);
    let (rita, ada, otto) = (setup.token("rita"), setup.token("ada"), setup.token("otto"));
    let server = setup.serve().await;
    let port = setup.http_port;

    let r = api(port, "GET", "/api/held", None, "").await;
    assert_eq!(r.status, 401);
    assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    assert!(r.json()["error"].is_string());
    let r = api(port, "GET", "/api/held", Some("mwt_not-a-real-token"), "").await;
    assert_eq!(r.status, 401);
    assert_eq!(api(port, "GET", "/api/audit", None, "").await.status, 401);

    let r = api(port, "GET", "/api/held", Some(&rita), "").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["total"], 0);

    // A reviewer cannot add users, nor read the audit log.
    let new_user = r#"{"name": "eve", "role": "admin", "password": "another long password"}"#;
    let r = api(port, "POST", "/api/users", Some(&rita), new_user).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(
        api(port, "GET", "/api/users", Some(&rita), "").await.status,
        403
    );
    assert_eq!(
        api(port, "GET", "/api/audit", Some(&rita), "").await.status,
        403
    );
    // An auditor reads the log but cannot act or add users.
    assert_eq!(
        api(port, "GET", "/api/audit", Some(&otto), "").await.status,
        200
    );
    let r = api(port, "POST", "/api/users", Some(&otto), new_user).await;
    assert_eq!(r.status, 403);
    // An admin can.
    let r = api(port, "POST", "/api/users", Some(&ada), new_user).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let r = api(port, "POST", "/api/users", Some(&ada), new_user).await;
    assert_eq!(r.status, 409, "{}", r.text());
    let bad = r#"{"name": "<b>x</b>", "role": "admin", "password": "another long password"}"#;
    assert_eq!(
        api(port, "POST", "/api/users", Some(&ada), bad)
            .await
            .status,
        400
    );
    let users = api(port, "GET", "/api/users", Some(&ada), "").await.json();
    let names: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["ada", "eve", "otto", "rita"]);
    assert!(users["users"][0].get("password_hash").is_none());
    // Every response carries the strict headers.
    assert!(r
        .header("content-security-policy")
        .unwrap()
        .contains("default-src 'none'"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
    server.stop();
    let audit = setup.audit();
    let added: Vec<&Value> = audit.iter().filter(|e| e["kind"] == "user-added").collect();
    assert_eq!(added.last().unwrap()["actor"], "ada");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn release_and_reject_through_the_api() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    setup.add_user("rita", "reviewer", PW);
    setup.add_user("otto", "auditor", PW);
    let (rita, otto) = (setup.token("rita"), setup.token("otto"));
    let server = setup.serve().await;
    let port = setup.http_port;
    let first = hold_one(server.port).await;
    let second = hold_one(server.port).await;

    let list = api(port, "GET", "/api/held", Some(&rita), "").await.json();
    assert_eq!(list["total"], 2);
    assert_eq!(list["items"][0]["id"], second.as_str(), "newest first");
    assert_eq!(list["items"][0]["subject"], "Draft witness statement");
    let filtered = api(
        port,
        "GET",
        "/api/held?client=C-10442&rule=unauthorised-recipient",
        Some(&rita),
        "",
    )
    .await;
    assert_eq!(filtered.json()["total"], 2);
    let none = api(port, "GET", "/api/held?client=C-10443", Some(&rita), "").await;
    assert_eq!(none.json()["total"], 0);
    assert_eq!(
        api(port, "GET", "/api/held?age=soon", Some(&rita), "")
            .await
            .status,
        400
    );

    let one = api(port, "GET", &format!("/api/held/{first}"), Some(&otto), "").await;
    assert_eq!(one.status, 200);
    let one = one.json();
    assert_eq!(one["message"]["status"], "held");
    assert_eq!(one["verdict"]["rules"][0], "unauthorised-recipient");
    assert_eq!(
        api(port, "GET", "/api/held/0000000000000000", Some(&rita), "")
            .await
            .status,
        404
    );
    assert_eq!(
        api(port, "GET", "/api/held/..%2f..", Some(&rita), "")
            .await
            .status,
        404
    );

    let path = format!("/api/held/{first}/release");
    // An auditor may not act; a comment is required.
    assert_eq!(
        api(port, "POST", &path, Some(&otto), r#"{"comment":"x"}"#)
            .await
            .status,
        403
    );
    let r = api(port, "POST", &path, Some(&rita), r#"{"comment":"  "}"#).await;
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (400, Some("a comment is required"))
    );
    assert_eq!(
        api(port, "POST", &path, Some(&rita), "not json")
            .await
            .status,
        400
    );
    assert!(sink.messages().is_empty());
    let r = api(
        port,
        "POST",
        &path,
        Some(&rita),
        r#"{"comment":"client confirmed the address"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "released");
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].body, example("misdirected.eml"));
    let again = api(port, "POST", &path, Some(&rita), r#"{"comment":"again"}"#).await;
    assert_eq!(again.status, 409, "{}", again.text());

    let r = api(
        port,
        "POST",
        &format!("/api/held/{second}/reject"),
        Some(&rita),
        r#"{"comment":"wrong recipient"}"#,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(sink.messages().len(), 1);

    let log = api(port, "GET", "/api/audit?kind=release", Some(&otto), "")
        .await
        .json();
    let entry = &log["entries"][0];
    assert_eq!(entry["actor"], "rita");
    assert_eq!(entry["details"]["message"], first.as_str());
    assert_eq!(entry["details"]["comment"], "client confirmed the address");
    server.stop();

    let audit = setup.audit();
    let kinds: Vec<&str> = audit.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for k in ["verdict", "release", "released", "reject"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    let verdict = audit.iter().find(|e| e["kind"] == "verdict").unwrap();
    assert_eq!(verdict["details"]["rules"][0], "unauthorised-recipient");
    assert_eq!(verdict["details"]["matches"][0]["id"], "C-10442");
    // Ids only: the words that matched and the content never reach the trail.
    let text = audit.iter().map(Value::to_string).collect::<String>();
    for secret in ["Harrowgate", "Draft witness", "circulate"] {
        assert!(!text.contains(secret), "{secret} in the audit trail");
    }
    let out = setup.cli(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

/// Opens the database as someone editing the file would: the append-only
/// triggers are in the way, so they go first.
fn editor(setup: &Setup) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(setup.db()).unwrap();
    conn.execute_batch(
        "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;",
    )
    .unwrap();
    conn
}

/// `audit verify`: exit status and what it printed.
fn verify(setup: &Setup) -> (i32, String) {
    let out = setup.cli(&["audit", "verify"]);
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// A trail of `n` entries made through the CLI (user additions).
fn trail(n: usize) -> Setup {
    let setup = Setup::new(support::free_port(), "");
    for i in 0..n {
        let out = setup.cli(&["user", "add", &format!("user{i}"), "--role", "reviewer"]);
        assert!(out.status.success());
    }
    assert_eq!(
        verify(&setup),
        (0, format!("audit trail intact: {n} entries\n"))
    );
    setup
}

#[test]
fn audit_verify_names_an_edited_row() {
    let setup = trail(4);
    editor(&setup)
        .execute(
            "UPDATE audit SET details = '{\"user\":\"mallory\"}' WHERE seq = 2",
            [],
        )
        .unwrap();
    let (code, out) = verify(&setup);
    assert_eq!(code, 1);
    assert!(out.contains("seq 2: edited"), "{out}");
}

#[test]
fn audit_verify_names_deleted_rows() {
    let setup = trail(4);
    editor(&setup)
        .execute("DELETE FROM audit WHERE seq = 3", [])
        .unwrap();
    let (code, out) = verify(&setup);
    assert_eq!(code, 1);
    assert!(out.contains("seq 3: missing"), "{out}");

    let setup = trail(4);
    editor(&setup)
        .execute("DELETE FROM audit WHERE seq = 4", [])
        .unwrap();
    let (code, out) = verify(&setup);
    assert_eq!(code, 1);
    assert!(out.contains("seq 4: missing"), "{out}");
}

#[test]
fn audit_verify_names_an_inserted_row() {
    let setup = trail(3);
    let conn = editor(&setup);
    // A well-formed entry with a correct hash, chained to the last one:
    // only the keyed head can tell it was never appended by matterwall.
    let (time, prev): (String, String) = conn
        .query_row("SELECT at, hash FROM audit WHERE seq = 3", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    let details = serde_json::json!({"user": "mallory"});
    let hash =
        matterwall::store::audit::entry_hash(&prev, 4, &time, "cli:x", "user-added", &details);
    conn.execute(
        "INSERT INTO audit (seq, at, actor, kind, details, prev_hash, hash) VALUES (4, ?1, 'cli:x', 'user-added', ?2, ?3, ?4)",
        rusqlite::params![time, details.to_string(), prev, hash],
    )
    .unwrap();
    let (code, out) = verify(&setup);
    assert_eq!(code, 1);
    assert!(out.contains("seq 4: inserted"), "{out}");
}
