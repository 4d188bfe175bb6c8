//! Session hygiene (issue #15 finding 8): a session idle longer than
//! `[review] idle_minutes` ends; a release asks for the password (and the
//! one-time code when enrolled) again when the last one is over five
//! minutes old; disabling a user revokes its API tokens for good. Time is
//! moved by editing the session's times in the database file.

use crate::support::review::{api, base32_decode, login, login_attempt, Web, PW};
use crate::support::{hold_one, Setup, Sink, SinkMode};

/// Sets a column of every session of `user` to `minutes` ago.
fn age_sessions(setup: &Setup, user: &str, column: &str, minutes: i64) {
    let at = chrono::Utc::now() - chrono::Duration::minutes(minutes);
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let conn = rusqlite::Connection::open(setup.db()).unwrap();
    let sql = format!("UPDATE sessions SET {column} = ?1 WHERE user = ?2");
    assert!(conn.execute(&sql, [&at, user]).unwrap() >= 1);
}

fn kinds(setup: &Setup) -> Vec<String> {
    setup
        .audit()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_session_ends_an_active_one_does_not() {
    let setup = Setup::new(crate::support::free_port(), "");
    setup.add_user("rita", "reviewer", PW);
    setup.add_user("otto", "auditor", PW);
    let server = setup.serve().await;
    let port = setup.http_port;
    let rita = login(port, "rita", PW).await;
    let otto = login(port, "otto", PW).await;
    // Ten minutes quiet is within the default 15: still in, and the request
    // counts as activity again.
    age_sessions(&setup, "otto", "seen_at", 10);
    assert_eq!(otto.get("/queue").await.status, 200);
    age_sessions(&setup, "otto", "seen_at", 10);
    assert_eq!(otto.get("/queue").await.status, 200);
    // Sixteen minutes quiet: the session is over, well before its 8 hours.
    age_sessions(&setup, "rita", "seen_at", 16);
    let r = rita.get("/queue").await;
    assert_eq!((r.status, r.header("location")), (303, Some("/login")));
    // For good: being active again does not bring it back.
    assert_eq!(rita.get("/queue").await.status, 303);
    let conn = rusqlite::Connection::open(setup.db()).unwrap();
    let left: i64 = conn
        .query_row(
            "SELECT count(*) FROM sessions WHERE user = 'rita'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_asks_for_the_password_again_after_five_minutes() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    setup.add_user("rita", "reviewer", PW);
    let server = setup.serve().await;
    let port = setup.http_port;
    let id = hold_one(server.port).await;
    let web = login(port, "rita", PW).await;
    age_sessions(&setup, "rita", "authed_at", 6);
    let path = format!("/held/{id}/release");

    // The release is not done: the password is asked, the comment kept.
    let r = web
        .post(
            &path,
            &[("comment", "cleared by client"), ("csrf", &web.csrf)],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let html = r.text();
    assert!(html.contains("id=\"reauth-form\""), "{html}");
    assert!(html.contains("value=\"cleared by client\""));
    assert!(!html.contains("name=\"code\""), "no TOTP enrolled");
    assert_eq!(setup.held()[0]["status"], "held");
    // A wrong password does not release either.
    let wrong = [
        ("comment", "cleared by client"),
        ("csrf", web.csrf.as_str()),
        ("password", "not the password at all"),
    ];
    let r = web.post(&path, &wrong).await;
    assert_eq!(r.status, 401);
    assert_eq!(setup.held()[0]["status"], "held");
    assert!(sink.messages().is_empty());
    // The right one does; and for five minutes no question again.
    let right = [
        ("comment", "cleared by client"),
        ("csrf", web.csrf.as_str()),
        ("password", PW),
    ];
    let r = web.post(&path, &right).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(setup.held()[0]["status"], "released");
    assert_eq!(sink.messages().len(), 1);
    let second = hold_one(server.port).await;
    let r = web
        .post(
            &format!("/held/{second}/release"),
            &[("comment", "ok"), ("csrf", &web.csrf)],
        )
        .await;
    assert_eq!(r.status, 303, "fresh authentication: {}", r.text());
    server.stop().await;
    let k = kinds(&setup);
    assert!(k.contains(&"reauth-failed".to_string()) && k.contains(&"reauth".to_string()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reauth_needs_the_one_time_code_when_enrolled_and_can_be_off() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    let out = setup.cli_stdin(
        &[
            "user",
            "add",
            "tom",
            "--role",
            "reviewer",
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
        .unwrap();
    let secret = base32_decode(b32);
    let code = |step_offset: u64| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let step = now / 30 + step_offset;
        format!("{:06}", matterwall::review::auth::totp::code(&secret, step))
    };
    let server = setup.serve().await;
    let port = setup.http_port;
    let id = hold_one(server.port).await;
    let r = login_attempt(port, "tom", PW, &code(0)).await;
    assert_eq!(r.status, 303);
    let web = Web::signed_in(port, &r).await;
    age_sessions(&setup, "tom", "authed_at", 6);
    let path = format!("/held/{id}/release");
    let r = web
        .post(&path, &[("comment", "ok"), ("csrf", &web.csrf)])
        .await;
    assert!(r.text().contains("name=\"code\""), "the code is asked too");
    let r = web
        .post(
            &path,
            &[("comment", "ok"), ("csrf", &web.csrf), ("password", PW)],
        )
        .await;
    assert_eq!(r.status, 401, "the password alone is not enough");
    // The next time step: the login's code cannot be replayed.
    let fields = [
        ("comment", "ok"),
        ("csrf", &web.csrf),
        ("password", PW),
        ("code", &code(1)),
    ];
    let r = web.post(&path, &fields).await;
    assert_eq!(r.status, 303, "{}", r.text());
    assert_eq!(setup.held()[0]["status"], "released");
    server.stop().await;

    // Switched off, an old authentication releases without a question.
    let toml = std::fs::read_to_string(setup.config())
        .unwrap()
        .replace("[review]\n", "[review]\nreauth_for_release = false\n");
    std::fs::write(setup.config(), toml).unwrap();
    let server = setup.serve().await;
    let second = hold_one(server.port).await;
    age_sessions(&setup, "tom", "authed_at", 60);
    age_sessions(&setup, "tom", "seen_at", 1);
    let r = web
        .post(
            &format!("/held/{second}/release"),
            &[("comment", "ok"), ("csrf", &web.csrf)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.text());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_user_revokes_its_tokens_for_good() {
    let setup = Setup::new(crate::support::free_port(), "");
    setup.add_user("ada", "admin", PW);
    setup.add_user("rita", "reviewer", PW);
    let token = setup.token("rita");
    let server = setup.serve().await;
    let port = setup.http_port;
    assert_eq!(
        api(port, "GET", "/api/held", Some(&token), "").await.status,
        200
    );
    let admin = login(port, "ada", PW).await;
    for change in ["disable", "enable"] {
        let r = admin
            .post(
                &format!("/admin/users/rita/{change}"),
                &[("csrf", &admin.csrf)],
            )
            .await;
        assert_eq!(r.status, 303, "{change}: {}", r.text());
    }
    // Enabled again, but the old token stays dead; a new one works.
    let r = api(port, "GET", "/api/held", Some(&token), "").await;
    assert_eq!(r.status, 401, "{}", r.text());
    let fresh = setup.token("rita");
    assert_eq!(
        api(port, "GET", "/api/held", Some(&fresh), "").await.status,
        200
    );
    server.stop().await;
    let audit = setup.audit();
    let off = audit.iter().find(|e| e["kind"] == "user-disabled").unwrap();
    assert_eq!(off["details"]["tokens_revoked"], 1);
}
