//! Issue #18, undo-send (`delay_minutes`, `[policy]
//! delay_external_minutes`), end to end over real sockets: a delayed
//! message waits in the quarantine with its due time (queue and API), its
//! sender's notice has a link that cancels it, and at the due time it goes
//! once, byte for byte, audited as `release` by `undo-send`; cancelled, or
//! decided by a reviewer first, it never goes by itself. A due time
//! written into the database by hand does not release a message the seal
//! says was not delayed. On PostgreSQL, two nodes that both run the job
//! send a due message once.

use crate::outbox::on_postgres;
use crate::split::OUTSIDER;
use crate::support::browser::{browser, click, fits_width, shot, text, wait_for};
use crate::support::http;
use crate::support::review::{api, PW};
use crate::support::{example, hold_one, Got, Setup, Sink, SinkMode};
use base64::Engine;
use std::time::Duration;

const SENDER: &str = "a.partner@firm.example";

/// `extra` keys on the setup's hold rule for unauthorised recipients.
fn on_the_rule(setup: &Setup, extra: &str) {
    let path = setup.config();
    let text = std::fs::read_to_string(&path).unwrap();
    let rule = "when = { mentions = true, any_recipient = \"unauthorised\" }\naction = \"hold\"\n";
    assert!(text.contains(rule), "the test setup's rule changed");
    std::fs::write(&path, text.replacen(rule, &format!("{rule}{extra}\n"), 1)).unwrap();
}

fn releases(sink: &Sink) -> Vec<Got> {
    sink.messages()
        .into_iter()
        .filter(|g| g.rcpts == [OUTSIDER])
        .collect()
}

/// The sender's notice about `id`, decoded.
async fn notice(sink: &Sink, id: &str) -> String {
    for _ in 0..100 {
        for g in sink.messages().iter().filter(|g| g.rcpts == [SENDER]) {
            let raw = String::from_utf8_lossy(&g.body).to_string();
            let (head, b64) = raw.split_once("\r\n\r\n").unwrap();
            let joined: String = b64.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD.decode(joined);
            let text = String::from_utf8(bytes.unwrap()).unwrap();
            if text.contains(id) {
                return format!("{head}\n\n{text}");
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no notice to the sender about {id}");
}

/// The `/sender/…` path in a notice.
fn link(notice: &str) -> String {
    let at = notice.find("/sender/").expect("a link in the notice");
    notice[at..].split_whitespace().next().unwrap().to_string()
}

async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..300 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn status(setup: &Setup, id: &str) -> String {
    let held = setup.held();
    let h = held.iter().find(|h| h["id"] == id).unwrap();
    h["status"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_message_goes_once_at_its_due_time() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    on_the_rule(&setup, "delay_minutes = 0.1"); // 6 seconds
    setup.add_user("rita", "reviewer", PW);
    let token = setup.token("rita");
    let server = setup.serve().await;
    let id = hold_one(server.port).await;
    // Checked at once: the notice below may take a moment on a slow runner.
    assert!(releases(&sink).is_empty(), "not before its time");
    let said = notice(&sink, &id).await;
    assert!(
        said.contains("Subject: Your message will be sent at"),
        "{said}"
    );
    assert!(
        said.contains("it will be sent at") && said.contains("/sender/"),
        "{said}"
    );
    let listed = api(setup.http_port, "GET", "/api/held", Some(&token), "")
        .await
        .json();
    assert!(listed["items"][0]["due_at"].is_string(), "{listed}");

    until("the release at the due time", || releases(&sink).len() == 1).await;
    assert_eq!(releases(&sink)[0].body, example("misdirected.eml"));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(releases(&sink).len(), 1, "once");
    assert_eq!(status(&setup, &id), "released");
    let audit = setup.audit();
    let entry = audit.iter().rfind(|e| e["kind"] == "release").unwrap();
    assert_eq!(entry["actor"], "undo-send");
    assert_eq!(entry["details"]["message"], id.as_str());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelled_or_decided_first_it_never_goes_by_itself() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    // 20 seconds: long enough for the steps below on a slow runner; the
    // test then waits past the due time to see that neither went.
    on_the_rule(&setup, "delay_minutes = 0.3334");
    setup.add_user("rita", "reviewer", PW);
    let token = setup.token("rita");
    let server = setup.serve().await;
    let port = setup.http_port;
    let started = std::time::Instant::now();

    // The sender cancels through the link.
    let id = hold_one(server.port).await;
    let path = link(&notice(&sink, &id).await);
    let page = http::get(port, &path, &[]).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.text().contains("unless you cancel it"),
        "{}",
        page.text()
    );
    assert!(
        !page.text().contains("Release it now"),
        "not a sender_release rule"
    );
    let form = [("Content-Type", "application/x-www-form-urlencoded")];
    let why = b"justification=The+client+asked+for+it+today";
    let refused = http::request(port, "POST", &path, &form, why).await;
    assert_eq!(refused.status, 403, "the link cancels, it does not release");
    let cancel = format!("{path}/cancel");
    let r = http::request(port, "POST", &cancel, &[], b"").await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("Cancelled."));
    assert_eq!(status(&setup, &id), "rejected");
    assert_eq!(
        http::request(port, "POST", &cancel, &[], b"").await.status,
        409
    );

    // A reviewer rejects another before its time; a third is released
    // by a reviewer; the link then answers what became of them.
    let rejected = hold_one(server.port).await;
    let body = serde_json::json!({"comment": "not to them"}).to_string();
    let r = api(
        port,
        "POST",
        &format!("/api/held/{rejected}/reject"),
        Some(&token),
        &body,
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let late = link(&notice(&sink, &rejected).await);
    assert_eq!(
        http::request(port, "POST", &format!("{late}/cancel"), &[], b"")
            .await
            .status,
        409
    );

    let past_due = Duration::from_secs(23).saturating_sub(started.elapsed());
    tokio::time::sleep(past_due).await;
    assert!(releases(&sink).is_empty(), "neither went by itself");
    let by_sender = setup.audit();
    let cancelled = by_sender
        .iter()
        .find(|e| e["kind"] == "reject" && e["details"]["message"] == id.as_str());
    assert_eq!(cancelled.unwrap()["actor"], format!("sender:{SENDER}"));
    server.stop().await;
}

/// A due time written into the database does not release a message that
/// its seal says was held for a person.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_time_forged_in_the_database_releases_nothing() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    let server = setup.serve().await;
    let id = hold_one(server.port).await;
    let db =
        rusqlite::Connection::open(setup.config().parent().unwrap().join("data/mw.db")).unwrap();
    db.execute(
        "UPDATE held SET due_at = '2000-01-01T00:00:00.000Z' WHERE id = ?1",
        [&id],
    )
    .unwrap();
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(releases(&sink).is_empty());
    assert_eq!(status(&setup, &id), "held");
    let log = server.log();
    assert!(log.contains("not by its sealed verdict"), "{log}");
    server.stop().await;
}

/// `[policy] delay_external_minutes`: what would pass to an outsider waits;
/// internal mail does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delay_external_holds_only_what_would_pass_outside() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    let text = std::fs::read_to_string(setup.config()).unwrap();
    let text = text.replacen(
        "[[rule]]",
        "[policy]\ndelay_external_minutes = 0.05\n\n[[rule]]",
        1,
    );
    std::fs::write(setup.config(), text).unwrap();
    let server = setup.serve().await;
    let clean = b"From: a.partner@firm.example\r\nSubject: lunch\r\n\r\nSee you at one.\r\n";
    let mut c = crate::support::Client::connect(server.port).await.unwrap();
    let inside = c.mail(SENDER, &["b.associate@firm.example"], clean).await;
    assert_eq!(inside.0, 250);
    assert!(!inside.1.contains("held"), "{inside:?}");
    let outside = c.mail(SENDER, &[OUTSIDER], clean).await;
    assert!(outside.1.contains("held as"), "{outside:?}");
    let held = setup.held();
    let h = held.iter().find(|h| h["to"][0] == OUTSIDER).unwrap();
    assert_eq!(h["rules"], serde_json::json!(["delay-external"]));
    until("the delayed message", || releases(&sink).len() == 1).await;
    server.stop().await;
}

/// Two nodes on one PostgreSQL both run the job: a due message goes once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_two_nodes_send_a_due_message_once() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let url = crate::support::postgres::PgCluster::shared().fresh_db();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("shared.key");
    let (a, b) = (Setup::new(sink.port, ""), Setup::new(sink.port, ""));
    for (setup, node) in [(&a, "node-a"), (&b, "node-b")] {
        on_the_rule(setup, "delay_minutes = 0.05");
        on_postgres(setup, &url, &key, node);
    }
    let (node_a, node_b) = (a.serve().await, b.serve().await);
    let ids = [hold_one(node_a.port).await, hold_one(node_b.port).await];
    until("both releases", || releases(&sink).len() == 2).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(releases(&sink).len(), 2, "each once");
    let audit = a.audit();
    for id in &ids {
        let n = audit
            .iter()
            .filter(|e| e["kind"] == "released" && e["details"]["message"] == id.as_str())
            .count();
        assert_eq!(n, 1, "{id}");
    }
    node_a.stop().await;
    node_b.stop().await;
    a.assert_audit_verifies();
}

/// The cancel page in Chromium, at a desktop's and a phone's width.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_in_the_browser() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    on_the_rule(&setup, "delay_minutes = 5");
    let server = setup.serve().await;
    let id = hold_one(server.port).await;
    let path = link(&notice(&sink, &id).await);
    let b = browser().await;
    let c = &b.client;
    c.goto(&format!("http://127.0.0.1:{}{path}", setup.http_port))
        .await
        .unwrap();
    assert!(text(c, "#due").await.starts_with("It will be sent at"));
    c.set_window_size(1280, 700).await.unwrap();
    shot(c, "undo-send").await;
    c.set_window_size(390, 844).await.unwrap();
    let fits = fits_width(c).await;
    assert!(fits, "the cancel page scrolls sideways at 390 px");
    shot(c, "undo-send-390").await;
    click(c, "#cancel").await;
    wait_for(c, ".alert.ok").await;
    assert_eq!(status(&setup, &id), "rejected");
    b.quit().await;
    server.stop().await;
}

/// A next hop that defers at the due time: the message is held again and
/// tried again after a wait (30 s, doubling), not every second; once the
/// next hop takes mail again it goes, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_hop_that_defers_at_the_due_time_is_asked_again_later() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    on_the_rule(&setup, "delay_minutes = 0.05");
    let server = setup.serve().await;
    sink.tempfail.lock().unwrap().push(OUTSIDER.to_string());
    let id = hold_one(server.port).await;
    let failed = |setup: &Setup| {
        let audit = setup.audit();
        let ours = |e: &&serde_json::Value| e["details"]["message"] == id.as_str();
        audit
            .iter()
            .filter(ours)
            .filter(|e| e["kind"] == "release-failed")
            .count()
    };
    until("the first try", || failed(&setup) == 1).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(failed(&setup), 1, "not tried again every second");
    assert_eq!(status(&setup, &id), "held");
    sink.tempfail.lock().unwrap().clear();
    for _ in 0..400 {
        if releases(&sink).len() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(releases(&sink).len(), 1, "sent after the wait");
    assert_eq!(status(&setup, &id), "released");
    server.stop().await;
}
