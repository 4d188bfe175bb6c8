//! Retention: a message older than `[store] retention_days` is expired and
//! its content destroyed; younger ones stay, and 0 keeps everything.

use crate::support::{self, hold_one};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_messages_expire_and_their_content_is_destroyed() {
    let (sink, setup, server) = support::start(&[]).await;
    let old = hold_one(server.port).await;
    let young = hold_one(server.port).await;
    server.stop().await;
    let db = rusqlite::Connection::open(setup.dir.path().join("data/mw.db")).unwrap();
    let long_ago = (chrono::Utc::now() - chrono::Duration::days(91)).to_rfc3339();
    db.execute(
        "UPDATE held SET received_at = ?1 WHERE id = ?2",
        [&long_ago, &old],
    )
    .unwrap();
    drop(db);

    let out = setup.cli(&["quarantine", "expire"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{old}: expired (was held)")));
    let status =
        |id: &str| setup.held().into_iter().find(|h| h["id"] == id).unwrap()["status"].clone();
    assert_eq!(status(&old), "expired");
    assert_eq!(status(&young), "held");
    let show = setup.cli(&["quarantine", "show", &old, "--raw"]);
    assert!(!show.status.success());
    assert!(String::from_utf8_lossy(&show.stderr).contains("destroyed"));
    assert!(!setup.cli(&["quarantine", "release", &old]).status.success());
    assert!(sink.messages().is_empty());
    let db = rusqlite::Connection::open(setup.dir.path().join("data/mw.db")).unwrap();
    let (raw, verdict): (Vec<u8>, Vec<u8>) = db
        .query_row("SELECT raw, verdict FROM held WHERE id = ?1", [&old], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(raw.is_empty() && verdict.is_empty());

    // retention_days = 0 keeps everything, however old.
    let text = std::fs::read_to_string(setup.config()).unwrap();
    let text = text.replace(
        "url = \"sqlite://data/mw.db\"",
        "url = \"sqlite://data/mw.db\"\nretention_days = 0",
    );
    std::fs::write(setup.config(), text).unwrap();
    let db = rusqlite::Connection::open(setup.dir.path().join("data/mw.db")).unwrap();
    db.execute(
        "UPDATE held SET received_at = ?1 WHERE id = ?2",
        [&long_ago, &young],
    )
    .unwrap();
    drop(db);
    let out = setup.cli(&["quarantine", "expire"]);
    assert!(out.status.success());
    assert_eq!(status(&young), "held");
}
