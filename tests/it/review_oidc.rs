//! Single sign-on (issue #18) end to end: headless Chromium logs in to the
//! review interface through a real OpenID provider — panva's certified
//! `oidc-provider` on Node.js (`peers/oidc_provider.mjs`, installed by
//! `.ci/run` into `peers/oidc/`), started by the test on loopback. A good
//! login lands on the queue with the role its groups map to; the same
//! answer replayed, a user whose groups map to no role, an ID token for
//! another audience and an expired one are refused, and audited. A
//! provider that is down stops neither mail nor local logins.

use crate::support::browser::{
    browser, click, fits_width, shot, text, type_into, wait_for, wait_for_url,
};
use crate::support::review::{login, login_attempt};
use crate::support::{self, http, Setup, Sink, SinkMode};
use fantoccini::Client;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CLIENT_ID: &str = "matterwall-review";
const SECRET: &str = "a-client-secret-for-the-test";
const PW: &str = "a long enough password";

/// The OpenID provider, as a child process; killed on drop.
struct Idp {
    child: Child,
    port: u16,
    /// Its stdout: `listening …`, then a `redirect URL` line per answer.
    lines: Arc<Mutex<Vec<String>>>,
}

impl Drop for Idp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peers() -> PathBuf {
    support::repo().join("tests/it/peers")
}

impl Idp {
    /// Starts the provider on `port` for a matterwall whose review
    /// listener is on `review_port`; `tamper` as the script describes.
    async fn start(port: u16, review_port: u16, tamper: &str) -> Idp {
        assert!(
            peers().join("oidc/node_modules/oidc-provider").exists(),
            "oidc-provider is not installed: npm ci --prefix tests/it/peers/oidc (.ci/run does)"
        );
        let redirect = format!("http://127.0.0.1:{review_port}/login/oidc/callback");
        let mut child = Command::new("node")
            .arg(peers().join("oidc_provider.mjs"))
            .args([&port.to_string(), CLIENT_ID, SECRET, &redirect, tamper])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node (Node.js) is needed: apt-get install nodejs npm (.ci/run does)");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let out = BufReader::new(child.stdout.take().unwrap());
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in out.lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let idp = Idp { child, port, lines };
        for _ in 0..300 {
            if idp.said("listening").is_some() {
                return idp;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the OpenID provider did not start");
    }

    fn said(&self, prefix: &str) -> Option<String> {
        let lines = self.lines.lock().unwrap();
        lines.iter().rev().find(|l| l.starts_with(prefix)).cloned()
    }

    /// The last answer the provider sent the browser back with.
    fn last_redirect(&self) -> String {
        let line = self.said("redirect ").expect("the provider answered");
        line["redirect ".len()..].to_string()
    }
}

/// A matterwall whose `[review.oidc]` names the provider on `idp_port`:
/// groups `mw-reviewers` → reviewer, `mw-admins` → admin.
fn setup_with_sso(sink: u16, idp_port: u16) -> Setup {
    let setup = Setup::new(sink, "");
    std::fs::write(setup.dir.path().join("oidc-secret"), format!("{SECRET}\n")).unwrap();
    setup.append(&format!(
        r#"
[review.oidc]
issuer = "http://localhost:{idp_port}"
client_id = "{CLIENT_ID}"
client_secret_file = "oidc-secret"
redirect_url = "http://127.0.0.1:{}/login/oidc/callback"
role_claim = "groups"
scopes = ["email", "groups"]
label = "Sign in with the firm's account"

[review.oidc.roles]
"mw-reviewers" = "reviewer"
"mw-admins" = "admin"
"#,
        setup.http_port
    ));
    setup
}

/// Waits until the provider is discovered: the login page's button leads
/// to it (a 303 to its authorization endpoint) rather than to a 503.
async fn wait_discovered(http_port: u16, idp_port: u16) {
    for _ in 0..300 {
        let r = http::get(http_port, "/login/oidc", &[]).await;
        if r.status == 303 {
            let to = r.header("location").unwrap_or("");
            assert!(
                to.starts_with(&format!("http://localhost:{idp_port}/auth?")),
                "{to}"
            );
            for part in [
                "code_challenge_method=S256",
                "state=",
                "nonce=",
                "scope=openid",
            ] {
                assert!(to.contains(part), "{part} missing: {to}");
            }
            // Lax: it must come back on the provider's cross-site redirect.
            let set = r.header("set-cookie").unwrap_or("");
            assert!(
                set.starts_with("mw_oidc=")
                    && set.contains("SameSite=Lax")
                    && set.contains("HttpOnly")
                    && set.contains("Path=/login/oidc"),
                "{set}"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the provider was never discovered");
}

/// Clicks the single sign-on button and signs in at the provider as
/// `who` (its development form takes any password), after signing out of
/// the provider (its cookies on `localhost`), which would otherwise answer
/// for whoever signed in there last.
async fn sso_login(c: &Client, base: &str, idp_port: u16, who: &str) {
    sign_out_at_provider(c, idp_port).await;
    c.goto(&format!("{base}/login")).await.unwrap();
    click(c, "#sso").await;
    sign_in_at_provider(c, who).await;
}

async fn sign_out_at_provider(c: &Client, idp_port: u16) {
    let page = format!("http://localhost:{idp_port}/jwks");
    c.goto(&page).await.unwrap();
    c.delete_all_cookies().await.unwrap();
}

async fn sign_in_at_provider(c: &Client, who: &str) {
    wait_for(c, "input[name=login]")
        .await
        .send_keys(who)
        .await
        .unwrap();
    type_into(c, "input[name=password]", "anything").await;
    click(c, "button[type=submit]").await;
}

/// Waits until one of `css` is on the page; which one.
async fn wait_any(c: &Client, css: &[&str]) -> usize {
    for _ in 0..600 {
        for (i, sel) in css.iter().enumerate() {
            if c.find(fantoccini::Locator::Css(sel)).await.is_ok() {
                return i;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("none of {css:?} appeared");
}

/// Opens message `id` and asks to release it.
async fn release(c: &Client, base: &str, id: &str) {
    c.goto(&format!("{base}/held/{id}")).await.unwrap();
    let comment = wait_for(c, "#release-comment").await;
    comment
        .send_keys("The client confirmed the recipient")
        .await
        .unwrap();
    click(c, "#release").await;
}

/// The newest audit entry of `kind`.
fn last(setup: &Setup, kind: &str) -> serde_json::Value {
    let audit = setup.audit();
    audit
        .into_iter()
        .rfind(|e| e["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} entry"))
}

/// The login page says `want`, and no session cookie was set.
async fn refused(c: &Client, want: &str) {
    let said = text(c, ".alert.error").await;
    assert!(said.contains(want), "{said}");
    assert!(c.get_named_cookie("mw_session").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn single_sign_on_in_the_browser() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let idp_port = support::free_port();
    let setup = setup_with_sso(sink.port, idp_port);
    setup.add_user("breakglass", "admin", PW);
    let idp = Idp::start(idp_port, setup.http_port, "").await;
    let server = setup.serve().await;
    wait_discovered(setup.http_port, idp.port).await;
    let base = format!("http://127.0.0.1:{}", setup.http_port);
    let b = browser().await;
    let c = &b.client;

    // The login page, with the button, at a desktop's and a phone's width.
    c.goto(&format!("{base}/login")).await.unwrap();
    assert_eq!(text(c, "#sso").await, "Sign in with the firm's account");
    c.set_window_size(1280, 800).await.unwrap();
    shot(c, "login-sso").await;
    c.set_window_size(390, 844).await.unwrap();
    let fits = fits_width(c).await;
    assert!(fits, "the login page scrolls sideways at 390 px");
    shot(c, "login-sso-390").await;
    c.set_window_size(1366, 900).await.unwrap();

    // A good login: off to the provider, back on the queue as a reviewer.
    click(c, "#sso").await;
    wait_for(c, "input[name=login]").await;
    let at_provider = c.current_url().await.unwrap().to_string();
    assert!(
        at_provider.starts_with(&format!("http://localhost:{idp_port}/")),
        "{at_provider}"
    );
    sign_in_at_provider(c, "rita@firm.example").await;
    wait_for(c, "table#queue").await;
    wait_for_url(c, "/queue").await;
    assert_eq!(text(c, "header .user").await, "rita@firm.example");
    assert_eq!(text(c, "header .badge.role").await, "reviewer");
    let entry = last(&setup, "login");
    assert_eq!(entry["details"]["user"], "rita@firm.example");
    assert_eq!(entry["details"]["via"], "oidc");
    let added = last(&setup, "user-added");
    assert_eq!(added["details"]["role"], "reviewer");
    assert_eq!(added["details"]["sso"], true);
    // The account has no password: the login form never opens it.
    let r = login_attempt(setup.http_port, "rita@firm.example", "", "").await;
    assert_eq!(r.status, 401);

    // A release after five minutes asks to sign in again at the provider
    // (prompt=login), and comes back to the message.
    let id = support::hold_one(server.port).await;
    let db = rusqlite::Connection::open(setup.db()).unwrap();
    db.execute(
        "UPDATE sessions SET authed_at = '2000-01-01T00:00:00.000Z'",
        [],
    )
    .unwrap();
    release(c, &base, &id).await;
    click(c, "#sso-again").await;
    sign_in_at_provider(c, "rita@firm.example").await;
    wait_for_url(c, &format!("/held/{id}")).await;
    release(c, &base, &id).await;
    wait_for(c, ".alert.ok").await;
    assert_eq!(text(c, "#status").await.to_lowercase(), "released");
    assert_eq!(sink.messages().len(), 1, "released once");
    let sessions: i64 = db
        .query_row("SELECT count(*) FROM sessions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sessions, 1, "the new session replaced the old one");

    // An answer is used once. A login started over HTTP (with its own
    // mw_oidc cookie) is answered in the browser, still signed in at the
    // provider: the browser, which lacks that cookie, is refused; the
    // cookie's holder gets in once; the same answer again, with the same
    // cookie, is refused, and so it is in the browser.
    click(c, "header form button").await;
    wait_for(c, "#username").await;
    let r = http::get(setup.http_port, "/login/oidc", &[]).await;
    assert_eq!(r.status, 303);
    let flight = format!("mw_oidc={}", r.cookies()["mw_oidc"]);
    c.goto(r.header("location").unwrap()).await.unwrap();
    if wait_any(c, &[".alert.error", "input[name=login]"]).await == 1 {
        sign_in_at_provider(c, "rita@firm.example").await;
    }
    refused(c, "expired or was already used").await;
    let entry = last(&setup, "login-failed");
    assert_eq!(entry["details"]["reason"], "no login in flight (no cookie)");
    let answer = idp.last_redirect();
    let path = answer.strip_prefix(&base).unwrap().to_string();
    let r = http::get(setup.http_port, &path, &[("Cookie", &flight)]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.cookies().contains_key("mw_session"));
    let r = http::get(setup.http_port, &path, &[("Cookie", &flight)]).await;
    assert_eq!(r.status, 401);
    assert!(
        r.text().contains("expired or was already used"),
        "{}",
        r.text()
    );
    assert!(!r.cookies().contains_key("mw_session"));
    let entry = last(&setup, "login-failed");
    assert_eq!(entry["details"]["reason"], "unknown, used or expired state");
    assert_eq!(entry["details"]["via"], "oidc");
    c.goto(&answer).await.unwrap();
    refused(c, "expired or was already used").await;

    // A user whose groups map to no role is refused, and so is the state
    // of another login.
    sso_login(c, &base, idp_port, "paul@firm.example").await;
    refused(c, "may not use matterwall").await;
    let entry = last(&setup, "login-failed");
    assert_eq!(entry["details"]["user"], "paul@firm.example");
    assert_eq!(entry["details"]["reason"], "the role claim maps to no role");
    let forged = format!(
        "{}&state=not-the-state",
        answer.split("&state=").next().unwrap()
    );
    sign_out_at_provider(c, idp_port).await;
    c.goto(&format!("{base}/login")).await.unwrap();
    click(c, "#sso").await;
    wait_for(c, "input[name=login]").await;
    c.goto(&forged).await.unwrap();
    refused(c, "expired or was already used").await;
    assert_eq!(
        last(&setup, "login-failed")["details"]["reason"],
        "state does not match"
    );

    // An admin by group; break-glass local login still works beside it.
    sso_login(c, &base, idp_port, "ada@firm.example").await;
    wait_for(c, "table#queue").await;
    assert_eq!(text(c, "header .user").await, "ada@firm.example");
    assert_eq!(text(c, "header .badge.role").await, "admin");
    click(c, "header form button").await;
    wait_for(c, "#username").await;
    login(setup.http_port, "breakglass", PW).await;

    // A provider that signs an ID token for another audience, or one that
    // has expired: refused after the code exchange, nothing started.
    for (tamper, reason) in [("audience", "audience"), ("expired", "Expired")] {
        let port = support::free_port();
        let setup = setup_with_sso(sink.port, port);
        let idp = Idp::start(port, setup.http_port, tamper).await;
        let server = setup.serve().await;
        wait_discovered(setup.http_port, idp.port).await;
        let base = format!("http://127.0.0.1:{}", setup.http_port);
        sso_login(c, &base, port, "rita@firm.example").await;
        refused(c, "could not be verified").await;
        let entry = last(&setup, "login-failed");
        let why = entry["details"]["reason"].as_str().unwrap();
        assert!(
            why.starts_with("ID token: ") && why.contains(reason),
            "{tamper}: {why}"
        );
        assert!(
            setup.audit().iter().all(|e| e["kind"] != "login"),
            "{tamper}"
        );
        server.stop().await;
    }
    b.quit().await;
    server.stop().await;
    setup.assert_audit_verifies();
}

/// The provider down at start: mail is relayed and local logins work; the
/// button says single sign-on is unavailable; once the provider is up,
/// the next fetch (within seconds) makes it work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_is_down_stops_neither_mail_nor_local_login() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let idp_port = support::free_port();
    let setup = setup_with_sso(sink.port, idp_port);
    setup.add_user("breakglass", "admin", PW);
    let server = setup.serve().await;
    let mut client = support::Client::connect(server.port).await.unwrap();
    let raw =
        b"From: a@firm.example\r\nTo: b@other.example\r\nSubject: hello\r\n\r\nNothing here.\r\n";
    let (code, reply) = client
        .mail("a@firm.example", &["b@other.example"], raw)
        .await;
    assert_eq!(code, 250, "{reply}");
    assert_eq!(sink.messages().len(), 1);
    login(setup.http_port, "breakglass", PW).await;
    let page = http::get(setup.http_port, "/login", &[]).await;
    assert!(page.text().contains("id=\"sso\""));
    let r = http::get(setup.http_port, "/login/oidc", &[]).await;
    assert_eq!(r.status, 503);
    assert!(
        r.text().contains("Single sign-on is unavailable"),
        "{}",
        r.text()
    );
    let _idp = Idp::start(idp_port, setup.http_port, "").await;
    wait_discovered(setup.http_port, idp_port).await;
    server.stop().await;
}
