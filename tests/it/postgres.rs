//! Several nodes on one PostgreSQL (issue #13), at the store level: two
//! store handles on one database are two nodes. Exactly-once release, one
//! audit chain under concurrent appends, sessions and waivers shared, jobs
//! claimed once, change notices within a second, the schema and key
//! guards, and a store that recovers when PostgreSQL comes back.

use crate::store_suite::{hold, BY};
use crate::support::postgres::PgCluster;
use matterwall::store::audit::{self, AuditEvent};
use matterwall::store::*;
use serde_json::json;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

/// Two nodes on one fresh database, sharing one key file.
fn two_nodes() -> (tempfile::TempDir, String, Arc<dyn Store>, Arc<dyn Store>) {
    let url = PgCluster::shared().fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let a = open(&url, dir.path(), Some("k"), Some("node-a")).unwrap();
    let b = open(&url, dir.path(), Some("k"), Some("node-b")).unwrap();
    (dir, url, a, b)
}

/// Runs `f(node, i)` on `n` threads per node, all released at once.
fn race<T: Send + 'static>(
    nodes: [&Arc<dyn Store>; 2],
    n: usize,
    f: impl Fn(&dyn Store, usize) -> T + Send + Sync + 'static,
) -> Vec<T> {
    let f = Arc::new(f);
    let barrier = Arc::new(Barrier::new(2 * n));
    let mut handles = Vec::new();
    for i in 0..2 * n {
        let (store, f, barrier) = (nodes[i % 2].clone(), f.clone(), barrier.clone());
        handles.push(std::thread::spawn(move || {
            barrier.wait();
            f(store.as_ref(), i)
        }));
    }
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn a_release_pressed_on_two_nodes_at_once_happens_once() {
    let (_dir, _url, a, b) = two_nodes();
    for _ in 0..5 {
        let id = hold(a.as_ref());
        let id2 = id.clone();
        let got = race([&a, &b], 4, move |s, _| {
            s.begin_release(&id2, &BY).map(|_| ())
        });
        let wins = got.iter().filter(|r| r.is_ok()).count();
        assert_eq!(wins, 1, "{got:?}");
        for r in got.iter().filter(|r| r.is_err()) {
            assert!(
                matches!(
                    r,
                    Err(StoreError::WrongStatus {
                        status: HeldStatus::Releasing,
                        ..
                    })
                ),
                "{r:?}"
            );
        }
        b.finish_release(&id, &[]).unwrap();
        assert!(matches!(
            a.begin_release(&id, &BY),
            Err(StoreError::WrongStatus {
                status: HeldStatus::Released,
                ..
            })
        ));
    }
    assert_eq!(audit::verify(a.as_ref()).unwrap(), Ok(15));
}

#[test]
fn concurrent_appends_on_two_nodes_keep_one_verified_chain() {
    let (_dir, _url, a, b) = two_nodes();
    race([&a, &b], 4, |s, i| {
        for n in 0..25 {
            s.append(AuditEvent::new("bob", "login", json!({"t": i, "n": n})))
                .unwrap();
        }
        hold(s);
    });
    assert_eq!(audit::verify(a.as_ref()).unwrap(), Ok(8 * 26));
    assert_eq!(audit::verify(b.as_ref()).unwrap(), Ok(8 * 26));
    let all = b.audit_after(0, 1000).unwrap();
    let on = |n: &str| all.iter().filter(|e| e.details["node"] == n).count();
    assert_eq!((on("node-a"), on("node-b")), (4 * 26, 4 * 26));
}

#[test]
fn a_session_made_on_one_node_is_valid_on_the_other_and_ends_everywhere() {
    let (_dir, _url, a, b) = two_nodes();
    let user = NewUser {
        name: "alice".into(),
        role: Role::Reviewer,
        password_hash: "$argon2id$x".into(),
        totp_secret: Some(b"secret-secret-secret".to_vec()),
        scope: None,
    };
    a.add_user(user, "cli:root").unwrap();
    let s = SessionRecord {
        id_hash: "h1".into(),
        user: "alice".into(),
        csrf: "c".into(),
        created_at: "now".into(),
        expires_at: (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
        seen_at: "now".into(),
        authed_at: "now".into(),
    };
    a.create_session(&s).unwrap();
    let (got, u) = b.session("h1").unwrap().unwrap();
    assert_eq!(
        (got.csrf.as_str(), u.totp_secret.as_deref()),
        ("c", Some(&b"secret-secret-secret"[..]))
    );
    // A one-time code used on one node cannot be replayed on the other.
    assert!(a.use_totp_step("alice", 7).unwrap());
    assert!(!b.use_totp_step("alice", 7).unwrap());
    b.set_disabled("alice", true, "admin").unwrap();
    assert!(a.session("h1").unwrap().is_none());
}

#[test]
fn a_waiver_added_on_one_node_is_news_on_the_other_within_a_second() {
    let (_dir, _url, a, b) = two_nodes();
    // B listens before A changes anything.
    assert!(!b.wait_review_change(Duration::from_millis(50)).unwrap());
    let before = b.review_generation().unwrap();
    let t0 = Instant::now();
    let w = NewWaiver {
        client_id: "C-1".into(),
        recipient: "x.example".into(),
        expires: "2099-01-01".into(),
        reference: "WV-9".into(),
    };
    a.add_waiver(w, "admin").unwrap();
    assert!(b.wait_review_change(Duration::from_secs(1)).unwrap());
    assert!(t0.elapsed() < Duration::from_secs(1));
    assert_eq!(b.waivers().unwrap().len(), 1);
    assert!(
        b.review_generation().unwrap() > before,
        "the backstop sees it too"
    );
    // Held messages are not review news.
    hold(a.as_ref());
    assert!(!b.wait_review_change(Duration::from_millis(300)).unwrap());
}

#[test]
fn a_job_is_claimed_by_one_node_per_period() {
    let (_dir, _url, a, b) = two_nodes();
    let got = race([&a, &b], 4, |s, _| {
        s.claim_job("retention", Duration::from_secs(3600)).unwrap()
    });
    assert_eq!(got.iter().filter(|c| **c).count(), 1, "{got:?}");
    assert!(!a.claim_job("retention", Duration::from_secs(3600)).unwrap());
}

#[test]
fn a_schema_newer_than_known_or_another_key_is_refused() {
    let cluster = PgCluster::shared();
    let (dir, url, a, _b) = two_nodes();
    drop(a);
    let other = tempfile::tempdir().unwrap();
    let err = open(&url, other.path(), Some("k"), Some("c"))
        .err()
        .unwrap();
    assert!(err.to_string().contains("same key_file"), "{err}");
    let v = postgres::SCHEMA_VERSION + 1;
    cluster.psql(&url, &format!("UPDATE schema_version SET version = {v}"));
    let err = open(&url, dir.path(), Some("k"), Some("a")).err().unwrap();
    assert!(
        err.to_string().contains("newer than this program knows"),
        "{err}"
    );
}

#[test]
fn migrations_are_idempotent_and_the_trail_refuses_edits() {
    let cluster = PgCluster::shared();
    let (dir, url, a, _b) = two_nodes();
    hold(a.as_ref());
    for _ in 0..2 {
        open(&url, dir.path(), Some("k"), Some("again")).unwrap();
    }
    assert_eq!(
        cluster.psql(&url, "SELECT version FROM schema_version"),
        "10",
        "every migration once (v2: the session times of issue 15; v3: the outbox; v4: four-eyes; \
         v5: single sign-on's logins in flight; v6: the dashboard's index of decisions; \
         v7: reviewer scope; v8: undo-send's due times; v9: first contact's pairs; \
         v10: one call per audit append)"
    );
    for sql in [
        "UPDATE audit SET actor = 'mallory'",
        "DELETE FROM audit",
        "INSERT INTO audit (seq, at, actor, kind, details, prev_hash, hash)
         VALUES (7, 'now', 'mallory', 'login', '{}', 'x', 'y')",
    ] {
        let refused = cluster.try_psql(&url, sql).unwrap_err();
        assert!(
            refused.contains("append-only") || refused.contains("contiguous"),
            "{sql}: {refused}"
        );
    }
    assert_eq!(audit::verify(a.as_ref()).unwrap(), Ok(1));
}

#[test]
fn with_postgresql_stopped_a_hold_is_an_error_and_the_store_recovers() {
    let mut cluster = PgCluster::new();
    let url = cluster.fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let store = open(&url, dir.path(), None, Some("a")).unwrap();
    hold(store.as_ref());
    cluster.stop();
    let m = crate::store_suite::msg();
    let v = AuditEvent::new("smtp", "verdict", json!({"message": m.id}));
    assert!(matches!(store.hold(m, v), Err(StoreError::Postgres(_))));
    assert!(store.held_count().is_err());
    cluster.start();
    hold(store.as_ref());
    assert_eq!(store.held_count().unwrap(), 2);
    assert_eq!(audit::verify(store.as_ref()).unwrap(), Ok(2));
}

/// `matterwall store migrate`: an embedded store with held, released and
/// rejected mail, users, a token, a revoked and a live waiver goes into an
/// empty PostgreSQL database whole; the chain verifies there; the CLI then
/// works on it; a second migrate into it is refused.
#[test]
fn store_migrate_copies_an_embedded_store_into_an_empty_postgresql() {
    let setup = crate::support::Setup::for_process(crate::support::free_port(), "");
    setup.add_user("alice", "reviewer", "correct horse battery staple");
    setup.token("alice");
    let url = PgCluster::shared().fresh_db();
    let ids = {
        let dir = setup.dir.path();
        let s = open("sqlite://data/mw.db", dir, None, Some("old")).unwrap();
        let mut ids: Vec<String> = (0..3).map(|_| hold(s.as_ref())).collect();
        // Four-eyes (bound into the seal) and undo-send's due time move too.
        let mut m = crate::store_suite::msg();
        m.two_person = true;
        m.delay = Some(std::time::Duration::from_secs(3600));
        let v = AuditEvent::new("smtp", "verdict", serde_json::json!({"message": m.id}));
        ids.push(s.hold(m, v).unwrap());
        s.approve(&ids[3], &BY).unwrap();
        s.begin_release(&ids[0], &BY).unwrap();
        s.finish_release(&ids[0], &[]).unwrap();
        s.reject(&ids[1], &BY).unwrap();
        let w = |r: &str| NewWaiver {
            client_id: "C-1".into(),
            recipient: r.into(),
            expires: "2099-01-01".into(),
            reference: "WV".into(),
        };
        let gone = s.add_waiver(w("a.example"), "admin").unwrap();
        s.revoke_waiver(gone.id, "admin").unwrap();
        s.add_waiver(w("b.example"), "admin").unwrap();
        let scope = Scope {
            clients: vec!["C-10442".into()],
            groups: vec!["shipping".into()],
        };
        s.set_scope("alice", Some(&scope), "admin").unwrap();
        s.learn_contacts("a@firm.example", &["client.example".into()])
            .unwrap();
        ids
    };
    let before = setup.audit();
    let out = setup.cli(&["store", "migrate", "--to", &url]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("audit trail intact there"), "{said}");
    let pg = open(
        &url,
        setup.dir.path(),
        Some("data/matterwall.key"),
        Some("new"),
    )
    .unwrap();
    assert_eq!(pg.get(&ids[2]).unwrap().raw, crate::store_suite::msg().raw);
    assert_eq!(
        pg.get(&ids[0]).unwrap().summary.status,
        HeldStatus::Released
    );
    assert_eq!(
        pg.get(&ids[1]).unwrap().summary.status,
        HeldStatus::Rejected
    );
    let four_eyes = pg.get(&ids[3]).unwrap().summary;
    assert!(
        four_eyes.two_person,
        "the seal opens with two_person copied"
    );
    assert_eq!(four_eyes.approved_by.as_deref(), Some("alice"));
    assert!(four_eyes.due_at.is_some());
    let alice = pg.user("alice").unwrap().unwrap();
    let scope = alice
        .scope
        .expect("the reviewer scope is copied (issue #18)");
    assert_eq!(
        (scope.clients, scope.groups),
        (vec!["C-10442".to_string()], vec!["shipping".to_string()])
    );
    assert_eq!(pg.waivers().unwrap().len(), 1);
    // First contact's history moves too (issue #18).
    let year = Duration::from_secs(365 * 86_400);
    let known = pg.known_contacts("a@firm.example", &["client.example".into()], year);
    assert_eq!(known.unwrap().sender.len(), 1);
    assert_eq!(audit::verify(pg.as_ref()).unwrap(), Ok(before.len() as u64));
    // The chain goes on from where it was, and new waivers get new ids.
    pg.begin_release(&ids[2], &BY).unwrap();
    let w = NewWaiver {
        client_id: "C-1".into(),
        recipient: "c.example".into(),
        expires: "2099-01-01".into(),
        reference: "WV".into(),
    };
    assert_eq!(pg.add_waiver(w, "admin").unwrap().id, 3);
    assert_eq!(
        audit::verify(pg.as_ref()).unwrap(),
        Ok(before.len() as u64 + 2)
    );
    let again = setup.cli(&["store", "migrate", "--to", &url]);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
    // The CLI on the PostgreSQL store: the same trail, exported.
    let text = std::fs::read_to_string(setup.config()).unwrap();
    let text = text.replace(
        "url = \"sqlite://data/mw.db\"",
        &format!("url = \"{url}\"\nkey_file = \"data/matterwall.key\""),
    );
    std::fs::write(setup.config(), text).unwrap();
    let after = setup.audit();
    assert_eq!(after[..before.len()], before[..]);
    setup.assert_audit_verifies();
}

/// The sync client runs its own runtime: from async code every store call
/// must go through `spawn_blocking` (as the server's are), where it works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_calls_work_from_async_code_on_blocking_threads() {
    let url = PgCluster::shared().fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_path_buf();
    let store = tokio::task::spawn_blocking(move || open(&url, &d, None, Some("a")).unwrap())
        .await
        .unwrap();
    let s = store.clone();
    let id = tokio::task::spawn_blocking(move || hold(s.as_ref()))
        .await
        .unwrap();
    let s = store.clone();
    let got = tokio::task::spawn_blocking(move || s.get(&id).map(|m| m.summary.status))
        .await
        .unwrap();
    assert_eq!(got.unwrap(), HeldStatus::Held);
}

/// Points a setup's `[store]` at PostgreSQL `url` as node `node`, with the
/// key file every node shares.
fn on_postgres(setup: &crate::support::Setup, url: &str, key: &std::path::Path, node: &str) {
    let text = std::fs::read_to_string(setup.config()).unwrap();
    let store = format!(
        "url = \"{url}\"\nkey_file = \"{}\"\nnode = \"{node}\"",
        key.display()
    );
    let text = text.replace("url = \"sqlite://data/mw.db\"", &store);
    std::fs::write(setup.config(), text).unwrap();
}

/// Two `matterwall serve` processes on one PostgreSQL: what each holds is
/// in the one quarantine, one node killed with SIGKILL leaves the other
/// holding, and the one audit trail names both nodes and verifies whole.
#[tokio::test]
async fn two_serve_processes_share_one_quarantine_and_one_trail() {
    let sink = crate::support::Sink::start(crate::support::SinkMode::Normal, &[]).await;
    let url = PgCluster::shared().fresh_db();
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("shared.key");
    let a = crate::support::Setup::for_process(sink.port, "");
    let b = crate::support::Setup::for_process(sink.port, "");
    on_postgres(&a, &url, &key, "mw-a");
    on_postgres(&b, &url, &key, "mw-b");
    let pa = a.spawn().await;
    let pb = b.spawn().await;
    let on_a = crate::support::hold_one(pa.port).await;
    let on_b = crate::support::hold_one(pb.port).await;
    let ids = |s: &crate::support::Setup| -> Vec<String> {
        let held = s.held();
        held.iter()
            .map(|h| h["id"].as_str().unwrap().to_string())
            .collect()
    };
    let seen = ids(&b);
    assert!(seen.contains(&on_a) && seen.contains(&on_b), "{seen:?}");
    pa.kill9();
    let third = crate::support::hold_one(pb.port).await;
    assert_eq!(ids(&a).len(), 3, "{third} too");
    let trail = a.audit();
    let by = |n: &str| trail.iter().filter(|e| e["details"]["node"] == n).count();
    assert!(by("mw-a") >= 1 && by("mw-b") >= 2, "{trail:?}");
    let out = b.cli(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        pb.log()
    );
    pb.stop();
}

/// A waiver added on another node applies here without a reload: the
/// server hears of it (LISTEN/NOTIFY, the review generation as backstop)
/// and re-reads its live waivers, so the next message it covers passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_waiver_added_on_another_node_applies_here() {
    let sink = crate::support::Sink::start(crate::support::SinkMode::Normal, &[]).await;
    let url = PgCluster::shared().fresh_db();
    let keys = tempfile::tempdir().unwrap();
    let b = crate::support::Setup::new(sink.port, "");
    on_postgres(&b, &url, &keys.path().join("shared.key"), "mw-b");
    let server = b.serve().await;
    let msg = b"From: a.partner@firm.example\r\nTo: k@waived.example\r\nSubject: update\r\n\r\nBrightwater Pharmaceuticals plc: the update.\r\n";
    let send = || async {
        let mut c = crate::support::Client::connect(server.port).await.unwrap();
        c.mail("a.partner@firm.example", &["k@waived.example"], msg)
            .await
    };
    crate::support::held_id(&send().await);
    // Node A: the store alone, as another node's review interface uses it.
    let dir = keys.path().to_path_buf();
    tokio::task::spawn_blocking(move || {
        let a = open(&url, &dir, Some("shared.key"), Some("mw-a")).unwrap();
        let w = NewWaiver {
            client_id: "C-10443".into(),
            recipient: "waived.example".into(),
            expires: "2099-12-31".into(),
            reference: "WV-7".into(),
        };
        a.add_waiver(w, "admin").unwrap();
    })
    .await
    .unwrap();
    let mut last = (0, String::new());
    for _ in 0..50 {
        last = send().await;
        if last.0 == 250 && !last.1.contains("held") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(last.0 == 250 && !last.1.contains("held"), "{last:?}");
    assert_eq!(sink.messages().len(), 1);
    assert!(server.log().contains("review waivers changed elsewhere"));
    server.stop().await;
}
