//! What a load balancer and an operator see of the store (issue #13):
//! `/healthz` is 200 while a trivial store call succeeds and 503 while
//! PostgreSQL is stopped (mail that needs the store gets `451 4.3.0`
//! meanwhile), and 200 again once it is back, without a restart; `sslmode=require` really is TLS, `verify-full` verifies, and
//! `require` against a server without TLS is refused with a clear error.

use crate::smtp_e2e::CLEAN;
use crate::support::postgres::PgCluster;
use crate::support::{http, send_misdirected, Client, Setup, Sink, SinkMode};
use std::time::Duration;

/// Points a setup's `[store]` at PostgreSQL `url`.
fn on_postgres(setup: &Setup, url: &str) {
    let text = std::fs::read_to_string(setup.config()).unwrap();
    let store = format!("url = \"{url}\"\nkey_file = \"data/matterwall.key\"\nnode = \"health\"");
    let text = text.replace("url = \"sqlite://data/mw.db\"", &store);
    std::fs::write(setup.config(), text).unwrap();
}

/// `/healthz` until it answers `status` (or a minute): its JSON body.
async fn health_becomes(port: u16, status: u16) -> serde_json::Value {
    let mut last = None;
    for _ in 0..300 {
        let r = http::get(port, "/healthz", &[]).await;
        if r.status == status {
            return r.json();
        }
        last = Some((r.status, r.text()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("/healthz never answered {status}: last {last:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_follows_postgresql_down_and_back() {
    let mut cluster = PgCluster::new();
    let url = cluster.fresh_db();
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    std::fs::create_dir_all(setup.dir.path().join("data")).unwrap();
    on_postgres(&setup, &url);
    let server = setup.serve().await;
    let up = health_becomes(setup.http_port, 200).await;
    assert_eq!(
        up,
        serde_json::json!({"status": "ok", "store": "reachable"})
    );
    cluster.stop();
    let down = health_becomes(setup.http_port, 503).await;
    assert_eq!(down["status"], "fail");
    // What needs the store, a hold and a pass's audit entry, is refused
    // for now: nothing is taken and kept in memory, nothing goes out.
    for (code, text) in [
        send_misdirected(setup.smtp_port).await,
        send_clean(setup.smtp_port).await,
    ] {
        assert_eq!(code, 451, "{text}");
        assert!(text.contains("4.3.0"), "{text}");
    }
    assert!(
        sink.messages().is_empty(),
        "relayed while the store was down"
    );
    cluster.start();
    health_becomes(setup.http_port, 200).await;
    // Back without a restart: the retries go through.
    assert_eq!(send_misdirected(setup.smtp_port).await.0, 250);
    assert_eq!(send_clean(setup.smtp_port).await.0, 250);
    server.stop().await;
    assert_eq!(sink.messages().len(), 1, "the clean message, once");
    assert_eq!(setup.held().len(), 1, "the leak, held once");
    setup.assert_audit_verifies();
}

async fn send_clean(port: u16) -> (u16, String) {
    let mut c = Client::connect(port).await.unwrap();
    c.mail("a.partner@firm.example", &["b@partner.example"], CLEAN)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_on_the_embedded_store() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    let server = setup.serve().await;
    let r = http::get(setup.http_port, "/healthz", &[]).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.json()["store"], "reachable");
    server.stop().await;
}

fn open(url: &str, node: &str) -> Result<std::sync::Arc<dyn matterwall::store::Store>, String> {
    let dir = tempfile::tempdir().unwrap();
    matterwall::store::open(url, dir.path(), Some("k"), Some(node)).map_err(|e| {
        let mut text = e.to_string();
        let mut cause = std::error::Error::source(&e);
        while let Some(c) = cause {
            text.push_str(&format!(": {c}"));
            cause = c.source();
        }
        text
    })
}

#[test]
fn sslmode_require_is_tls_and_verify_full_verifies() {
    let cluster = PgCluster::with_tls();
    let url = cluster.fresh_db();
    let store = open(&format!("{url}?sslmode=require"), "tls-require").unwrap();
    store.held_count().unwrap();
    // The store's own connection, as the server sees it.
    let ssl = cluster.psql(
        &url,
        "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
         WHERE a.application_name = 'matterwall tls-require'",
    );
    assert_eq!(ssl, "t", "the connection is not TLS");
    // verify-full: the self-signed certificate is trusted only when named.
    let root = cluster.cert();
    // (A database of its own: each open here has a key of its own.)
    let other = cluster.fresh_db();
    let named = format!("{other}?sslmode=verify-full&sslrootcert={}", root.display());
    open(&named, "tls-verified").unwrap().held_count().unwrap();
    let e = open(&format!("{url}?sslmode=verify-full"), "tls-unknown").err();
    let e = e.expect("an unknown issuer is refused under verify-full");
    assert!(e.contains("TLS") || e.contains("certificate"), "{e}");
    drop(store);
}

#[test]
fn sslmode_require_against_a_server_without_tls_is_refused() {
    let url = PgCluster::shared().fresh_db();
    let e = open(&format!("{url}?sslmode=require"), "no-tls").err();
    let e = e.expect("sslmode=require connected without TLS");
    assert!(e.contains("TLS"), "not a clear error: {e}");
    // The default (prefer) still connects in plaintext.
    open(&url, "plain").unwrap().held_count().unwrap();
}
