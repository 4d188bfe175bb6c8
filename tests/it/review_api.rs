//! The review API and the audit trail end to end: the server (in-process),
//! users and tokens made with the CLI, requests over real sockets
//! (the small client in `support::http`), the database edited behind the
//! server's back for the tampering cases.

use crate::support;
use crate::support::http;
use crate::support::review::{api, base32_decode, login, login_attempt, PW};
use crate::support::{example, hold_one, Setup, Sink, SinkMode};
use serde_json::Value;

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
    server.stop().await;
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
    // The rejected message never goes; its sender is told, with the
    // comment (in the background: wait for it to arrive).
    let mut got = sink.messages();
    for _ in 0..500 {
        if got.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        got = sink.messages();
    }
    assert_eq!(got.len(), 2, "the release and the rejection notice");
    assert_eq!(got[1].rcpts, ["a.partner@firm.example"]);
    let parsed = mail_parser::MessageParser::default()
        .parse(&got[1].body)
        .unwrap();
    let notice = format!(
        "{}\n{}",
        parsed.subject().unwrap_or_default(),
        parsed.body_text(0).unwrap_or_default()
    );
    assert!(notice.contains("wrong recipient"), "{notice}");
    assert!(notice.contains(second.as_str()), "{notice}");
    assert!(
        !notice.contains("Please do not circulate"),
        "content in the notice"
    );

    let log = api(port, "GET", "/api/audit?kind=release", Some(&otto), "")
        .await
        .json();
    let entry = &log["entries"][0];
    assert_eq!(entry["actor"], "rita");
    assert_eq!(entry["details"]["message"], first.as_str());
    assert_eq!(entry["details"]["comment"], "client confirmed the address");
    server.stop().await;

    let audit = setup.audit();
    let kinds: Vec<&str> = audit.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    for k in ["verdict", "view", "release", "released", "reject"] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    // Reading held content is accounted for: who read which message.
    let view = audit.iter().find(|e| e["kind"] == "view").unwrap();
    assert_eq!(view["actor"], "otto");
    assert_eq!(view["details"]["message"], first.as_str());
    let verdict = audit.iter().find(|e| e["kind"] == "verdict").unwrap();
    assert_eq!(verdict["details"]["rules"][0], "unauthorised-recipient");
    assert_eq!(verdict["details"]["matches"][0]["id"], "C-10442");
    // Ids only: the words that matched and the content never reach the trail.
    let text = audit.iter().map(Value::to_string).collect::<String>();
    for secret in ["Harrowgate", "Draft witness", "circulate"] {
        assert!(!text.contains(secret), "{secret} in the audit trail");
    }
    setup.assert_audit_verifies();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_need_their_csrf_token_and_a_role() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    setup.add_user("rita", "reviewer", PW);
    let server = setup.serve().await;
    let id = hold_one(server.port).await;
    let port = setup.http_port;
    // No session: the pages send to the login form, a POST is refused.
    let r = http::get(port, "/queue", &[]).await;
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
    let r = http::request(
        port,
        "POST",
        &format!("/held/{id}/reject"),
        &[],
        b"comment=x",
    )
    .await;
    assert_eq!(r.status, 403);
    // The login form itself needs its token.
    let body = http::form(&[("username", "rita"), ("password", PW)]);
    let r = http::request(
        port,
        "POST",
        "/login",
        &[("Content-Type", "application/x-www-form-urlencoded")],
        &body,
    )
    .await;
    assert_eq!(r.status, 403);

    let web = login(port, "rita", PW).await;
    let path = format!("/held/{id}/reject");
    let r = web.post(&path, &[("comment", "no token")]).await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert!(r.text().contains("security token"));
    let r = web
        .post(&path, &[("comment", "wrong token"), ("csrf", "AAAA")])
        .await;
    assert_eq!(r.status, 403);
    assert_eq!(setup.held()[0]["status"], "held");
    // A reviewer's valid form for an admin page is still refused.
    let r = web
        .post(
            "/admin/users",
            &[
                ("csrf", &web.csrf),
                ("name", "eve"),
                ("role", "admin"),
                ("password", PW),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(web.get("/admin/users").await.status, 403);
    assert_eq!(web.get("/audit").await.status, 403);
    // With its token, the form works.
    let r = web
        .post(&path, &[("comment", "wrong client"), ("csrf", &web.csrf)])
        .await;
    assert_eq!(
        (r.status, r.header("location")),
        (303, Some(format!("/held/{id}?done=rejected").as_str()))
    );
    assert_eq!(setup.held()[0]["status"], "rejected");
    // Logging out ends the session.
    let r = web.post("/logout", &[("csrf", &web.csrf)]).await;
    assert_eq!(r.status, 303);
    assert_eq!(web.get("/queue").await.status, 303);
    server.stop().await;
    let kinds: Vec<String> = setup
        .audit()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(
        kinds.ends_with(&["login".to_string(), "reject".into(), "logout".into()]),
        "{kinds:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_rate_limit_and_totp() {
    let setup = Setup::new(support::free_port(), "");
    setup.add_user("rita", "reviewer", PW);
    let out = setup.cli_stdin(
        &[
            "user",
            "add",
            "tom",
            "--role",
            "auditor",
            "--password-stdin",
            "--totp",
        ],
        &format!("{PW}\n"),
    );
    assert!(out.status.success());
    let uri = String::from_utf8(out.stdout).unwrap();
    let b32 = uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_string();
    let secret = base32_decode(&b32);
    let server = setup.serve().await;
    let port = setup.http_port;

    // TOTP: the password alone is not enough; a fresh code is; the same
    // code twice is not.
    assert_eq!(login_attempt(port, "tom", PW, "").await.status, 401);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let code = format!(
        "{:06}",
        matterwall::review::auth::totp::code(&secret, now / 30)
    );
    assert_eq!(login_attempt(port, "tom", PW, &code).await.status, 303);
    assert_eq!(
        login_attempt(port, "tom", PW, &code).await.status,
        401,
        "replayed code"
    );

    // Five wrong passwords lock the name for a while, even for the right one.
    for _ in 0..5 {
        let r = login_attempt(port, "rita", "wrong password here", "").await;
        assert_eq!(r.status, 401);
        assert!(r.text().contains("Wrong user name, password or code."));
    }
    let r = login_attempt(port, "rita", PW, "").await;
    assert_eq!(r.status, 429, "{}", r.text());
    // Unknown names fail the same way as wrong passwords.
    assert_eq!(login_attempt(port, "nobody", PW, "").await.status, 401);
    server.stop().await;
    let failed: Vec<Value> = setup
        .audit()
        .into_iter()
        .filter(|e| e["kind"] == "login-failed")
        .collect();
    assert_eq!(failed.len(), 9);
    assert_eq!(failed[0]["details"]["reason"], "wrong one-time code");
    assert_eq!(failed[1]["details"]["reason"], "one-time code reused");
    assert_eq!(failed[2]["details"]["reason"], "wrong password");
    assert_eq!(failed[7]["details"]["reason"], "rate limited");
    assert_eq!(failed[8]["details"]["reason"], "unknown user");
    assert_eq!(failed[0]["details"]["address"], "127.0.0.1");
}

/// With `[review] tls_cert` and `tls_key` the listener speaks only HTTPS,
/// and the cookies it sets are marked `Secure`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_listener_marks_cookies_secure() {
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::{self, pki_types::ServerName, ClientConfig, RootCertStore};
    let setup = Setup::new(support::free_port(), "");
    let made = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let dir = setup.dir.path();
    std::fs::write(dir.join("review.pem"), made.cert.pem()).unwrap();
    std::fs::write(dir.join("review.key"), made.key_pair.serialize_pem()).unwrap();
    let listen = format!("listen = \"127.0.0.1:{}\"", setup.http_port);
    let text = std::fs::read_to_string(setup.config()).unwrap().replace(
        &listen,
        &format!("{listen}\ntls_cert = \"review.pem\"\ntls_key = \"review.key\""),
    );
    std::fs::write(setup.config(), text).unwrap();
    let server = setup.serve().await;

    let mut roots = RootCertStore::empty();
    roots.add(made.cert.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", setup.http_port))
        .await
        .unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .expect("TLS handshake with the review listener");
    tls.write_all(b"GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = tls.read_to_end(&mut got).await;
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    let cookie = got
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie: mw_login="))
        .expect("the login form's cookie");
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    assert!(
        got.to_ascii_lowercase()
            .contains("strict-transport-security: max-age=31536000"),
        "{got}"
    );
    // Plain HTTP gets no HTTP answer at all.
    let mut plain = tokio::net::TcpStream::connect(("127.0.0.1", setup.http_port))
        .await
        .unwrap();
    plain
        .write_all(b"GET /login HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer).await;
    assert!(!answer.starts_with(b"HTTP/"), "answered in plaintext");
    server.stop().await;
}

/// A held message keeps the rule that held it: after a reload that renames
/// that rule and changes its action, the message page and the API still show
/// the name and action that fired, not the live rule (issue 11).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_does_not_rewrite_why_a_message_was_held() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    setup.add_user("rita", "reviewer", PW);
    let token = setup.token("rita");
    let server = setup.serve().await;
    let port = setup.http_port;
    let id = hold_one(server.port).await;

    let text = std::fs::read_to_string(setup.config()).unwrap();
    let renamed = text.replace(
        "name = \"unauthorised-recipient\"\nwhen = { mentions = true, any_recipient = \"unauthorised\" }\naction = \"hold\"",
        "name = \"misdirected\"\nwhen = { mentions = true, any_recipient = \"unauthorised\" }\naction = \"reject\"",
    );
    assert_ne!(renamed, text, "the rule to rename is in the config");
    std::fs::write(setup.config(), renamed).unwrap();
    server.reload().await;
    support::reloads_counted(port, "ok", 1).await;
    // The reload is in force: the same message is now rejected by the new rule.
    let reply = support::send_misdirected(server.port).await;
    assert_eq!(reply.0, 550, "{reply:?}");
    assert!(reply.1.contains("misdirected"), "{reply:?}");

    let one = api(port, "GET", &format!("/api/held/{id}"), Some(&token), "").await;
    assert_eq!(one.status, 200, "{}", one.text());
    let verdict = &one.json()["verdict"];
    assert_eq!(verdict["rules"][0], "unauthorised-recipient");
    assert_eq!(verdict["fired"][0]["name"], "unauthorised-recipient");
    assert_eq!(verdict["fired"][0]["action"], "hold");
    assert_eq!(verdict["fired"][0]["mode"], "enforce");

    let web = login(port, "rita", PW).await;
    let page = http::get(port, &format!("/held/{id}"), &[("Cookie", &web.cookie)]).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    let rules = &html[html.find("<ul class=\"rules\">").expect("the rules list")..];
    let rules = &rules[..rules.find("</ul>").unwrap()];
    assert!(rules.contains(">unauthorised-recipient<"), "{rules}");
    assert!(rules.contains(">hold<"), "{rules}");
    assert!(
        !rules.contains("misdirected") && !rules.contains("reject"),
        "{rules}"
    );
    server.stop().await;
}
