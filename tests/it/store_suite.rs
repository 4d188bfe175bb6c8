//! The store test suite (issue #13): each behaviour once, as a function of
//! `&dyn Store`, run against the embedded SQLite store and against a real
//! PostgreSQL (a private cluster, `support::postgres`). What only one
//! backend has (editing the SQLite file by hand, several nodes on one
//! database) is tested beside it: `src/store/sqlite/tests.rs`,
//! `tests/it/postgres.rs`.

use crate::support::postgres::PgCluster;
use matterwall::store::audit::{self, AuditEvent, AuditFilter};
use matterwall::store::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

/// A store and what keeps it alive (the temp dir with its key).
pub struct Opened {
    pub store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

pub fn sqlite() -> Opened {
    let dir = tempfile::tempdir().unwrap();
    let store = open("sqlite://q/db.sqlite", dir.path(), None, Some("node-a")).unwrap();
    Opened { store, _dir: dir }
}

pub fn postgres() -> Opened {
    let url = PgCluster::shared().fresh_db();
    let dir = tempfile::tempdir().unwrap();
    let store = open(&url, dir.path(), Some("matterwall.key"), Some("node-a")).unwrap();
    Opened { store, _dir: dir }
}

pub fn msg() -> NewHeld {
    NewHeld {
        id: new_id(),
        from: "a@firm.example".into(),
        to: vec!["b@x.example".into()],
        action: matterwall::store::held::Action::Hold,
        rules: vec!["unauthorised-recipient".into()],
        clients: vec!["C-10442".into()],
        matters: vec!["2024-0117".into()],
        subject: "Harrowgate draft".into(),
        verdict_json: r#"{"action":"hold"}"#.into(),
        raw: b"Subject: secret\r\n\r\nHarrowgate\r\n".to_vec(),
        two_person: false,
        delay: None,
    }
}

pub fn hold(store: &dyn Store) -> String {
    let m = msg();
    let v = AuditEvent::new("smtp", "verdict", json!({"message": m.id}));
    store.hold(m, v).unwrap()
}

pub const BY: Review<'static> = Review {
    actor: "alice",
    comment: Some("ok"),
};

fn kinds(store: &dyn Store) -> Vec<String> {
    let all = store.audit_after(0, 1000).unwrap();
    all.into_iter().map(|e| e.kind).collect()
}

fn hold_release_reject(store: &dyn Store) {
    let id = hold(store);
    assert_eq!(id.len(), 16);
    assert_eq!(store.get(&id).unwrap().raw, msg().raw);
    assert_eq!(store.get(&id).unwrap().summary.subject, "Harrowgate draft");
    // The listing row alone, its subject opened, as `get` has it.
    let listed = store.listed(&id).unwrap();
    assert_eq!(listed.subject, "Harrowgate draft");
    assert_eq!(listed.to, store.get(&id).unwrap().summary.to);
    assert!(matches!(
        store.listed("0123456789abcdef"),
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(store.held_count().unwrap(), 1);
    store.begin_release(&id, &BY).unwrap();
    assert!(matches!(
        store.begin_release(&id, &BY),
        Err(StoreError::WrongStatus { .. })
    ));
    assert_eq!(store.stuck_releasing().unwrap(), std::slice::from_ref(&id));
    store.finish_release(&id, &[]).unwrap();
    let got = store.get(&id).unwrap().summary;
    assert_eq!(got.status, HeldStatus::Released);
    assert_eq!(got.reviewed_by.as_deref(), Some("alice"));
    assert!(matches!(
        store.reject(&id, &BY),
        Err(StoreError::WrongStatus { .. })
    ));
    let other = hold(store);
    store.reject(&other, &BY).unwrap();
    let third = hold(store);
    store.begin_release(&third, &BY).unwrap();
    store.abort_release(&third, "next hop refused").unwrap();
    assert_eq!(store.get(&third).unwrap().summary.status, HeldStatus::Held);
    assert!(matches!(store.get("nope"), Err(StoreError::NotFound(_))));
    assert_eq!(store.list().unwrap().len(), 3);
    assert_eq!(
        kinds(store),
        [
            "verdict",
            "release",
            "released",
            "verdict",
            "reject",
            "verdict",
            "release",
            "release-failed"
        ]
    );
    assert_eq!(audit::verify(store).unwrap(), Ok(8));
    // Every entry names the node that wrote it, under the hash.
    let all = store.audit_after(0, 100).unwrap();
    assert!(all.iter().all(|e| e.details["node"] == "node-a"));
}

fn queue_filters_sort_and_count(store: &dyn Store) {
    let mut ids = Vec::new();
    for (i, client) in ["C-1", "C-2", "C-1"].iter().enumerate() {
        let mut m = msg();
        m.clients = vec![client.to_string()];
        if i == 1 {
            m.matters = vec!["2024-0117".into(), "2025-0001".into()];
        }
        m.from = format!("sender{i}@firm.example");
        m.raw.extend(std::iter::repeat_n(b'x', i * 10));
        let v = AuditEvent::new("smtp", "verdict", json!({"message": m.id}));
        ids.push(store.hold(m, v).unwrap());
    }
    store.reject(&ids[0], &BY).unwrap();
    let q = |f: &dyn Fn(&mut HeldQuery)| {
        let mut q = HeldQuery {
            limit: 10,
            ..Default::default()
        };
        f(&mut q);
        store.query(&q).unwrap()
    };
    assert_eq!(q(&|q| q.client = Some("C-1".into())).total, 2);
    assert_eq!(q(&|q| q.status = Some(HeldStatus::Held)).total, 2);
    assert_eq!(
        q(&|q| q.sender = Some("SENDER2".into())).items[0].id,
        ids[2]
    );
    assert_eq!(q(&|q| q.rule = Some("nope".into())).total, 0);
    assert_eq!(
        q(&|q| q.rule = Some("unauthorised-recipient".into())).total,
        3
    );
    assert_eq!(q(&|q| q.matter = Some("2024-0117".into())).total, 3);
    assert_eq!(
        q(&|q| q.since = Some("2000-01-01T00:00:00Z".into())).total,
        3
    );
    assert_eq!(
        q(&|q| q.until = Some("2000-01-01T00:00:00Z".into())).total,
        0
    );
    let by_size = q(&|q| {
        q.sort = HeldSort::Size;
        q.ascending = true;
    });
    let got: Vec<&str> = by_size.items.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(got, [&ids[0], &ids[1], &ids[2]]);
    let by_sender = q(&|q| q.sort = HeldSort::Sender);
    assert_eq!(by_sender.items[0].id, ids[2]);
    let page = q(&|q| {
        q.limit = 1;
        q.offset = 1;
    });
    assert_eq!((page.items.len(), page.total), (1, 3));
    // Walls for reviewers (issue 15): a matter screened from the reader
    // hides every message that mentions it, and the page says how many.
    let walled = q(&|q| q.hide_matters = vec!["2025-0001".into(), "1999-0000".into()]);
    assert_eq!((walled.total, walled.hidden), (2, 1));
    assert!(walled.items.iter().all(|m| m.id != ids[1]));
    assert_eq!(q(&|q| q.hide_matters = vec!["2024-0117".into()]).hidden, 3);
    // Reviewer scope (issue #18): only messages that mention a client in
    // scope; the rest counted as hidden; an empty scope matches nothing.
    let scoped = q(&|q| q.only_clients = Some(vec!["C-2".into(), "C-9".into()]));
    assert_eq!((scoped.total, scoped.hidden), (1, 2));
    assert_eq!(scoped.items[0].id, ids[1]);
    let both = q(&|q| {
        q.only_clients = Some(vec!["C-2".into()]);
        q.hide_matters = vec!["2025-0001".into()];
    });
    assert_eq!((both.total, both.hidden), (0, 3), "walls apply on top");
    let nothing = q(&|q| q.only_clients = Some(vec![]));
    assert_eq!((nothing.total, nothing.hidden), (0, 3));
    let mut counts = store.status_counts().unwrap();
    counts.sort();
    assert_eq!(counts, [(HeldStatus::Held, 2), (HeldStatus::Rejected, 1)]);
}

fn users_sessions_tokens_waivers(store: &dyn Store) {
    let user = NewUser {
        name: "alice".into(),
        role: Role::Reviewer,
        password_hash: "$argon2id$x".into(),
        totp_secret: Some(b"12345678901234567890".to_vec()),
        scope: None,
    };
    store.add_user(user.clone(), "cli:root").unwrap();
    assert!(matches!(
        store.add_user(user, "cli:root"),
        Err(StoreError::Exists(_))
    ));
    let alice = store.user("alice").unwrap().unwrap();
    assert_eq!(
        alice.totp_secret.as_deref(),
        Some(&b"12345678901234567890"[..])
    );
    assert_eq!(store.users().unwrap().len(), 1);
    assert!(store.user("bob").unwrap().is_none());
    assert!(store.use_totp_step("alice", 10).unwrap());
    assert!(!store.use_totp_step("alice", 10).unwrap(), "replayed code");
    assert!(!store.use_totp_step("alice", 9).unwrap(), "an older code");
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let s = SessionRecord {
        id_hash: "h1".into(),
        user: "alice".into(),
        csrf: "c".into(),
        created_at: "now".into(),
        expires_at: future.clone(),
        seen_at: "t0".into(),
        authed_at: "t0".into(),
    };
    store.create_session(&s).unwrap();
    assert_eq!(store.session("h1").unwrap().unwrap().1.name, "alice");
    // Idle timeout and re-authentication (issue 15) read these two.
    store.touch_session("h1", "t1", false).unwrap();
    let (rec, _) = store.session("h1").unwrap().unwrap();
    assert_eq!((rec.seen_at.as_str(), rec.authed_at.as_str()), ("t1", "t0"));
    store.touch_session("h1", "t2", true).unwrap();
    let (rec, _) = store.session("h1").unwrap().unwrap();
    assert_eq!((rec.seen_at.as_str(), rec.authed_at.as_str()), ("t2", "t2"));
    let past = SessionRecord {
        id_hash: "h0".into(),
        expires_at: "2000-01-01T00:00:00Z".into(),
        ..s.clone()
    };
    store.create_session(&past).unwrap();
    assert!(store.session("h0").unwrap().is_none(), "expired");
    let h2 = SessionRecord {
        id_hash: "h2".into(),
        ..s.clone()
    };
    store.create_session(&h2).unwrap();
    store.delete_session("h2").unwrap();
    assert!(store.session("h2").unwrap().is_none(), "logged out");
    store
        .add_token("t1hash-abcdef", "alice", "cli:root")
        .unwrap();
    assert!(store.token_user("t1hash-abcdef").unwrap().is_some());
    store.set_disabled("alice", true, "admin").unwrap();
    assert!(store.session("h1").unwrap().is_none());
    assert!(store.token_user("t1hash-abcdef").unwrap().is_none());
    // Disabling revoked the token for good: re-enabling does not revive it.
    store.set_disabled("alice", false, "admin").unwrap();
    assert!(store.token_user("t1hash-abcdef").unwrap().is_none());
    store.set_disabled("alice", true, "admin").unwrap();
    assert!(matches!(
        store.set_disabled("nobody", true, "admin"),
        Err(StoreError::NotFound(_))
    ));
    let w = NewWaiver {
        client_id: "C-10442".into(),
        recipient: "x.example".into(),
        expires: "2099-01-01".into(),
        reference: "WV-1".into(),
    };
    let rec = store.add_waiver(w, "admin").unwrap();
    assert_eq!(store.waivers().unwrap().len(), 1);
    store.revoke_waiver(rec.id, "admin").unwrap();
    assert!(store.waivers().unwrap().is_empty());
    assert!(store.revoke_waiver(rec.id, "admin").is_err(), "once only");
    let kinds: Vec<String> = store
        .audit_query(&AuditFilter {
            limit: 10,
            ..Default::default()
        })
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "waiver-revoked",
            "waiver-added",
            "user-disabled",
            "user-enabled",
            "user-disabled",
            "token-created",
            "user-added"
        ]
    );
    assert!(store.review_generation().unwrap() >= 5);
}

/// Issue #18: a reviewer's scope round-trips through add, set, lift and
/// every way a user is read (by name, list, session, token), and each
/// change is audited.
fn reviewer_scope_round_trips(store: &dyn Store) {
    let scope = Scope {
        clients: vec!["C-10442".into(), "C-10443".into()],
        groups: vec!["Shipping & Energy".into()],
    };
    let user = NewUser {
        name: "sam".into(),
        role: Role::Reviewer,
        password_hash: "$argon2id$x".into(),
        totp_secret: None,
        scope: Some(scope.clone()),
    };
    store.add_user(user, "cli:root").unwrap();
    assert_eq!(store.user("sam").unwrap().unwrap().scope, Some(scope));
    let narrower = Scope {
        clients: vec![],
        groups: vec!["litigation".into()],
    };
    store.set_scope("sam", Some(&narrower), "ada").unwrap();
    assert_eq!(store.users().unwrap()[0].scope.as_ref(), Some(&narrower));
    let future = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let s = SessionRecord {
        id_hash: "hs".into(),
        user: "sam".into(),
        csrf: "c".into(),
        created_at: "now".into(),
        expires_at: future,
        seen_at: "t0".into(),
        authed_at: "t0".into(),
    };
    store.create_session(&s).unwrap();
    let (_, u) = store.session("hs").unwrap().unwrap();
    assert_eq!(u.scope.as_ref(), Some(&narrower), "a session reads it");
    store.add_token("tok-sam", "sam", "cli:root").unwrap();
    let u = store.token_user("tok-sam").unwrap().unwrap();
    assert_eq!(u.scope.as_ref(), Some(&narrower), "a token reads it");
    store.set_scope("sam", None, "ada").unwrap();
    assert_eq!(store.user("sam").unwrap().unwrap().scope, None);
    assert!(matches!(
        store.set_scope("nobody", None, "ada"),
        Err(StoreError::NotFound(_))
    ));
    let log = store
        .audit_query(&AuditFilter {
            kind: Some("user-scope-changed".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(log.len(), 2, "{log:?}");
    assert_eq!(log[1].details["scope"]["groups"][0], "litigation");
    assert!(log[0].details["scope"].is_null(), "lifted");
}

fn retention_destroys_content_but_not_a_release_in_flight(store: &dyn Store) {
    let held = hold(store);
    let rejected = hold(store);
    store.reject(&rejected, &BY).unwrap();
    let releasing = hold(store);
    store.begin_release(&releasing, &BY).unwrap();
    assert!(store
        .expire("2000-01-01T00:00:00+00:00")
        .unwrap()
        .is_empty());
    let mut gone = store.expire(&store.db_now().unwrap()).unwrap();
    gone.sort();
    let mut want = vec![
        (held.clone(), HeldStatus::Held),
        (rejected, HeldStatus::Rejected),
    ];
    want.sort();
    assert_eq!(gone, want);
    assert!(matches!(store.get(&held), Err(StoreError::Destroyed(_))));
    assert!(
        store.get(&releasing).is_ok(),
        "a release in flight is left alone"
    );
    assert!(store.begin_release(&held, &BY).is_err());
    let summary = store.list().unwrap();
    let h = summary.iter().find(|s| s.id == held).unwrap();
    assert_eq!((h.status, h.subject.as_str()), (HeldStatus::Expired, ""));
    assert!(
        store.expire(&store.db_now().unwrap()).unwrap().is_empty(),
        "once only"
    );
    let expired = store
        .audit_query(&AuditFilter {
            kind: Some("expired".into()),
            limit: 10,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(expired.len(), 2);
    assert_eq!(audit::verify(store).unwrap(), Ok(7));
}

fn audit_trail_pages_filters_and_head(store: &dyn Store) {
    assert_eq!(audit::verify(store).unwrap(), Ok(0));
    assert!(store.audit_head().unwrap().is_none());
    for i in 0..5 {
        store
            .append(AuditEvent::new("bob", "login", json!({"n": i})))
            .unwrap();
    }
    let id = hold(store);
    let head = store.audit_head().unwrap().unwrap();
    assert_eq!((head.seq, head.authentic), (6, true));
    assert_eq!(store.audit_after(2, 2).unwrap()[0].seq, 3);
    let by = |f: AuditFilter| store.audit_query(&f).unwrap().len();
    let all = || AuditFilter {
        limit: 100,
        ..Default::default()
    };
    assert_eq!(
        by(AuditFilter {
            kind: Some("login".into()),
            ..all()
        }),
        5
    );
    assert_eq!(
        by(AuditFilter {
            actor: Some("smtp".into()),
            ..all()
        }),
        1
    );
    assert_eq!(
        by(AuditFilter {
            message: Some(id),
            ..all()
        }),
        1
    );
    assert_eq!(
        by(AuditFilter {
            before: Some(3),
            ..all()
        }),
        2
    );
    assert_eq!(audit::verify(store).unwrap(), Ok(6));
}

fn copy_memory(store: &dyn Store) {
    let week = std::time::Duration::from_secs(7 * 86400);
    assert!(!store.copy_accepted("k1", week).unwrap());
    store.record_copy("k1", "m1", week).unwrap();
    assert!(store.copy_accepted("k1", week).unwrap());
    store.record_copy("k1", "m1", week).unwrap();
    assert!(!store.copy_accepted("k2", week).unwrap());
}

fn jobs_are_claimed_once_per_period(store: &dyn Store) {
    let hour = std::time::Duration::from_secs(3600);
    assert!(store.claim_job("retention", hour).unwrap());
    assert!(
        !store.claim_job("retention", hour).unwrap(),
        "claimed already"
    );
    assert!(store.claim_job("digest", hour).unwrap(), "another job");
    std::thread::sleep(std::time::Duration::from_millis(20));
    let short = std::time::Duration::from_millis(10);
    assert!(store.claim_job("retention", short).unwrap(), "period over");
    let now = store.db_now().unwrap();
    assert!(chrono::DateTime::parse_from_rfc3339(&now).is_ok(), "{now}");
    assert_eq!(store.node(), "node-a");
}

pub fn notice(kind: &str, about: &str, to: &[&str]) -> NewNotice {
    NewNotice {
        kind: kind.into(),
        about: about.into(),
        to: to.iter().map(|t| t.to_string()).collect(),
        raw: format!("Subject: {kind}\r\n\r\nabout {about}\r\n").into_bytes(),
    }
}

fn status_of(store: &dyn Store, id: &str) -> String {
    let all = store.notices().unwrap();
    all.into_iter().find(|n| n.id == id).unwrap().status
}

const LEASE: std::time::Duration = std::time::Duration::from_secs(600);

fn outbox_notices_go_with_their_event(store: &dyn Store) {
    // Queued in the hold's transaction; `<>` never a recipient.
    let m = msg();
    let id = m.id.clone();
    let v = AuditEvent::new("smtp", "verdict", json!({"message": m.id}));
    let notices = vec![
        notice("held", &id, &["a@firm.example"]),
        notice("held", &id, &[""]),
    ];
    store.hold_with(m, v, notices).unwrap();
    let all = store.notices().unwrap();
    assert_eq!(all.len(), 1, "the null path is dropped: {all:?}");
    assert_eq!(
        (all[0].kind.as_str(), all[0].about.as_str()),
        ("held", id.as_str())
    );
    assert_eq!(all[0].status, "pending");
    // A rejection refused (wrong status) queues nothing: one transaction.
    let rejected = notice("rejected", &id, &["a@firm.example"]);
    store.reject_with(&id, &BY, vec![rejected.clone()]).unwrap();
    assert!(matches!(
        store.reject_with(&id, &BY, vec![rejected]),
        Err(StoreError::WrongStatus { .. })
    ));
    assert_eq!(store.notices().unwrap().len(), 2);
    // The digest is queued only by the node that wins the claim.
    let hour = std::time::Duration::from_secs(3600);
    assert!(store
        .claim_job_with(
            "digest",
            hour,
            vec![notice("digest", "digest", &["c@firm.example"])]
        )
        .unwrap());
    assert!(!store
        .claim_job_with(
            "digest",
            hour,
            vec![notice("digest", "digest", &["c@firm.example"])]
        )
        .unwrap());
    let all = store.notices().unwrap();
    assert_eq!(all.iter().filter(|n| n.kind == "digest").count(), 1);
    assert_eq!(store.outbox_stats().unwrap().pending, 3);
}

fn outbox_claims_once_and_settles(store: &dyn Store) {
    let id = hold(store);
    let v = AuditEvent::new("smtp", "report-queued", json!({"message": id}));
    // Queued claimed: the job does not take it while the caller tries it.
    let mine = store
        .queue_notices(vec![notice("dsn", &id, &["a@firm.example"])], v, LEASE)
        .unwrap();
    assert_eq!((mine.len(), mine[0].attempts), (1, 1));
    assert!(kinds(store).contains(&"report-queued".to_string()));
    assert!(store.claim_notices(10, LEASE).unwrap().is_empty());
    let due = notice("held", &id, &["b@firm.example"]);
    store.claim_job_with("x", LEASE, vec![due.clone()]).unwrap();
    let claimed = store.claim_notices(10, LEASE).unwrap();
    assert_eq!(claimed.len(), 1);
    let n = &claimed[0];
    assert_eq!(
        (n.raw.clone(), n.to.clone(), n.attempts),
        (due.raw, due.to, 1)
    );
    assert!(store.claim_notices(10, LEASE).unwrap().is_empty(), "leased");
    // A retry with no delay is due again, its attempts counted.
    let retry = Delivery::Retry {
        why: "451 later".into(),
        after: std::time::Duration::ZERO,
    };
    store.settle_notice(&n.id, &retry).unwrap();
    let again = store.claim_notices(10, LEASE).unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 2));
    store.settle_notice(&n.id, &Delivery::Sent).unwrap();
    assert_eq!(status_of(store, &n.id), "sent");
    // Settled stays settled.
    store.settle_notice(&n.id, &retry).unwrap();
    assert_eq!(status_of(store, &n.id), "sent");
    let give_up = Delivery::GiveUp {
        why: "550 no".into(),
    };
    store.settle_notice(&mine[0].id, &give_up).unwrap();
    assert_eq!(status_of(store, &mine[0].id), "failed");
    assert_eq!(store.outbox_stats().unwrap().pending, 0);
}

fn outbox_reclaims_this_nodes_claims(store: &dyn Store) {
    store
        .claim_job_with("x", LEASE, vec![notice("held", "m", &["a@firm.example"])])
        .unwrap();
    assert_eq!(store.claim_notices(10, LEASE).unwrap().len(), 1);
    // This node restarted: nothing of it is still sending.
    assert_eq!(store.reclaim_notices().unwrap(), 1);
    let again = store.claim_notices(10, LEASE).unwrap();
    assert_eq!(again.len(), 1, "due again after the restart");
    assert_eq!(again[0].attempts, 2);
    let stats = store.outbox_stats().unwrap();
    assert_eq!(stats.pending, 1);
    assert!(stats.oldest < std::time::Duration::from_secs(3600));
}

fn outbox_a_lapsed_claim_is_taken_again(store: &dyn Store) {
    let n = vec![notice("held", "m", &["a@firm.example"])];
    store.claim_job_with("x", LEASE, n).unwrap();
    let short = std::time::Duration::from_millis(10);
    assert_eq!(store.claim_notices(10, short).unwrap().len(), 1);
    // The claiming node died mid-attempt: once the lease is over, the
    // notice is due again (for any node).
    std::thread::sleep(std::time::Duration::from_millis(30));
    let again = store.claim_notices(10, LEASE).unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 2));
}

fn outbox_settled_notices_go_with_retention(store: &dyn Store) {
    store
        .claim_job_with(
            "x",
            LEASE,
            vec![
                notice("held", "m", &["a@firm.example"]),
                notice("held", "m2", &["a@firm.example"]),
            ],
        )
        .unwrap();
    let claimed = store.claim_notices(10, LEASE).unwrap();
    store
        .settle_notice(&claimed[0].id, &Delivery::Sent)
        .unwrap();
    let retry = Delivery::Retry {
        why: "451".into(),
        after: LEASE,
    };
    store.settle_notice(&claimed[1].id, &retry).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    let now = store.db_now().unwrap();
    store.expire(&now).unwrap();
    let left = store.notices().unwrap();
    assert_eq!(
        left.len(),
        1,
        "the sent one is pruned, the pending one kept"
    );
    assert_eq!(left[0].id, claimed[1].id);
}

/// What the command line and a release queue and then try at once: the
/// notices come back claimed by this node, so the outbox job leaves them
/// alone while the caller tries them, and nothing is queued when the
/// event itself is refused.
fn outbox_claimed_with_a_release_a_reject_and_a_claim(store: &dyn Store) {
    let id = hold(store);
    store.begin_release(&id, &BY).unwrap();
    let dsn = notice("dsn", &id, &["a@firm.example"]);
    let refused = ["gone@x.example".to_string()];
    let mine = store
        .finish_release_queueing(&id, &refused, vec![dsn.clone()], Some(LEASE))
        .unwrap();
    assert_eq!((mine.len(), mine[0].attempts), (1, 1));
    let listed = store.notices().unwrap();
    assert_eq!(
        (listed[0].id.as_str(), listed[0].kind.as_str()),
        (mine[0].id.as_str(), "dsn")
    );
    let released = store.audit_after(0, 1000).unwrap();
    let last = released
        .iter()
        .rev()
        .find(|e| e.kind == "released")
        .unwrap();
    assert_eq!(last.details["refused"], json!(["gone@x.example"]));
    assert!(
        store
            .finish_release_queueing(&id, &refused, vec![dsn], Some(LEASE))
            .is_err(),
        "released once"
    );
    let other = hold(store);
    let by_cli = Review {
        actor: "cli:root",
        comment: None,
    };
    let rejected = notice("rejected", &other, &["a@firm.example"]);
    let mine = store
        .reject_queueing(&other, &by_cli, vec![rejected.clone()], Some(LEASE))
        .unwrap();
    assert_eq!((mine.len(), mine[0].attempts), (1, 1));
    assert!(store
        .reject_queueing(&other, &by_cli, vec![rejected], Some(LEASE))
        .is_err());
    let hour = std::time::Duration::from_secs(3600);
    let digest = || vec![notice("digest", "digest", &["c@firm.example"])];
    let won = store
        .claim_job_queueing("digest", hour, digest(), Some(LEASE))
        .unwrap();
    assert_eq!(won.map(|q| q.len()), Some(1));
    let lost = store
        .claim_job_queueing("digest", hour, digest(), Some(LEASE))
        .unwrap();
    assert!(lost.is_none(), "one digest per period");
    assert_eq!(store.notices().unwrap().len(), 3);
    assert!(
        store.claim_notices(10, LEASE).unwrap().is_empty(),
        "claimed by their caller"
    );
}

/// Single sign-on (issue #18): a user made on first login, its role
/// following the provider's, a local account or a disabled user not taken
/// over; a login in flight is taken once, and not after it expired.
fn sso_users_and_logins_in_flight(store: &dyn Store) {
    let u = store
        .sso_user("rita@firm.example", Role::Reviewer, "oidc")
        .unwrap();
    assert_eq!(
        (u.role, u.is_sso(), u.disabled),
        (Role::Reviewer, true, false)
    );
    let again = store.sso_user("rita@firm.example", Role::Reviewer, "oidc");
    assert_eq!(again.unwrap().role, Role::Reviewer);
    let promoted = store.sso_user("rita@firm.example", Role::Admin, "oidc");
    assert_eq!(promoted.unwrap().role, Role::Admin);
    let local = NewUser {
        name: "ada".into(),
        role: Role::Admin,
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        totp_secret: None,
        scope: None,
    };
    store.add_user(local, "cli:test").unwrap();
    assert!(matches!(
        store.sso_user("ada", Role::Reviewer, "oidc"),
        Err(StoreError::Exists(_))
    ));
    store
        .set_disabled("rita@firm.example", true, "ada")
        .unwrap();
    let off = store
        .sso_user("rita@firm.example", Role::Reviewer, "oidc")
        .unwrap();
    assert!(off.disabled);
    assert_eq!(off.role, Role::Admin, "a disabled user is left as it was");
    let k = kinds(store);
    assert_eq!(
        k.iter().filter(|k| *k == "user-role-changed").count(),
        1,
        "{k:?}"
    );
    let entry = store.audit_after(0, 100).unwrap();
    let added = entry.iter().find(|e| e.kind == "user-added").unwrap();
    assert_eq!(added.details["sso"], true);

    let later = "2999-01-01T00:00:00.000Z";
    store
        .put_oidc_login("h1", b"state and nonce", later)
        .unwrap();
    store
        .put_oidc_login("h2", b"gone", "2000-01-01T00:00:00.000Z")
        .unwrap();
    assert_eq!(
        store.take_oidc_login("h1").unwrap().as_deref(),
        Some(&b"state and nonce"[..])
    );
    assert_eq!(store.take_oidc_login("h1").unwrap(), None, "taken once");
    assert_eq!(store.take_oidc_login("h2").unwrap(), None, "expired");
    assert_eq!(store.take_oidc_login("nope").unwrap(), None);
}

/// Issue #18, the dashboard: the queue now, holds per day by rule and the
/// clients held most in the window, and each decision timed from the hold
/// to the reviewer's audit entry; the window bounds all but the queue.
fn dashboard_aggregates(store: &dyn Store) {
    let now = store.db_now().unwrap();
    let since = stats::window_start(&now).unwrap();
    let empty = store.queue_stats(&since).unwrap();
    assert_eq!(empty, QueueStats::default());
    assert_eq!(store.oldest_held().unwrap(), None);

    let with = |rules: &[&str], clients: &[&str]| {
        let mut m = msg();
        m.rules = rules.iter().map(|r| r.to_string()).collect();
        m.clients = clients.iter().map(|c| c.to_string()).collect();
        let v = AuditEvent::new("smtp", "verdict", json!({"message": m.id}));
        store.hold(m, v).unwrap()
    };
    let a = with(&["unauthorised-recipient"], &["C-10442"]);
    let b = with(
        &["unauthorised-recipient", "ethical-wall"],
        &["C-10442", "C-10443"],
    );
    let c = with(&["ethical-wall"], &["C-10443", "C-20001"]);
    store.begin_release(&a, &BY).unwrap();
    store.finish_release(&a, &[]).unwrap();
    let bob = Review {
        actor: "bob",
        comment: Some("no"),
    };
    store.reject(&b, &bob).unwrap();

    let st = store.queue_stats(&since).unwrap();
    let listed = store.list().unwrap();
    let received = |id: &str| {
        listed
            .iter()
            .find(|m| m.id == id)
            .unwrap()
            .received_at
            .clone()
    };
    assert_eq!(st.held_now, 1);
    assert_eq!(st.oldest_held, Some(received(&c)), "the oldest still held");
    assert_eq!(store.oldest_held().unwrap(), Some(received(&c)));
    let day = received(&a)[..10].to_string();
    let mut per_day = st.per_day.clone();
    per_day.sort();
    assert_eq!(
        per_day,
        [
            (day.clone(), "ethical-wall".to_string(), 2),
            (day.clone(), "unauthorised-recipient".to_string(), 2),
        ]
    );
    assert_eq!(
        st.top_clients,
        [
            ("C-10442".to_string(), 2),
            ("C-10443".to_string(), 2),
            ("C-20001".to_string(), 1),
        ]
    );
    // Exact: the seconds from the row's hold time to the decision's entry.
    let entries = store
        .audit_query(&AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    let decided = |kind: &str, id: &str| {
        let e = entries
            .iter()
            .find(|e| e.kind == kind && e.details["message"] == id)
            .unwrap();
        let e = serde_json::to_value(e).unwrap();
        let text = |k: &str| e[k].as_str().unwrap().to_string();
        (text("actor"), text("time"))
    };
    let mut got: Vec<(String, String, u64)> = st
        .decisions
        .iter()
        .map(|d| (d.reviewer.clone(), d.kind.clone(), d.seconds))
        .collect();
    got.sort();
    let (alice, at_a) = decided("release", &a);
    let (bob, at_b) = decided("reject", &b);
    let secs = |id: &str, at: &str| {
        let t = |s: &str| chrono::DateTime::parse_from_rfc3339(s).unwrap();
        (t(at) - t(&received(id))).num_seconds() as u64
    };
    assert_eq!(
        got,
        [
            (alice, "release".to_string(), secs(&a, &at_a)),
            (bob, "reject".to_string(), secs(&b, &at_b)),
        ]
    );
    let times = stats::by_reviewer(&st.decisions);
    assert_eq!(times.len(), 2);

    // A window that starts tomorrow: nothing in it but the queue itself.
    let later = chrono::DateTime::parse_from_rfc3339(&now).unwrap() + chrono::Duration::days(1);
    let later = later.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let st = store.queue_stats(&later).unwrap();
    assert_eq!(st.held_now, 1);
    assert!(st.per_day.is_empty() && st.top_clients.is_empty() && st.decisions.is_empty());
}

/// The known subset of `domains` for `sender`, within `max_age`.
fn known(store: &dyn Store, sender: &str, domains: &[&str], max_age: Duration) -> KnownContacts {
    let domains: Vec<String> = domains.iter().map(|d| d.to_string()).collect();
    store.known_contacts(sender, &domains, max_age).unwrap()
}

fn set(v: &[&str]) -> std::collections::BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

const YEAR: Duration = Duration::from_secs(365 * 86_400);

/// Issue #18: learning records the sender's pairs and the firm's; a lookup
/// sees the sender's own and the firm's separately; the null sender learns
/// nothing and sees only the firm's.
fn first_contact_learn_and_look_up(store: &dyn Store) {
    let (a, b) = ("a@firm.example", "b@firm.example");
    let ds = ["client.example", "new.example", "other.example"];
    assert_eq!(known(store, a, &ds, YEAR), KnownContacts::default());
    let learned = vec!["client.example".to_string(), "other.example".into()];
    store.learn_contacts(a, &learned).unwrap();
    store.learn_contacts(a, &learned).unwrap(); // again: one row each
    store
        .learn_contacts("", &["new.example".to_string()])
        .unwrap();
    let k = known(store, a, &ds, YEAR);
    assert_eq!(k.sender, set(&["client.example", "other.example"]));
    assert_eq!(k.firm, set(&["client.example", "other.example"]));
    let k = known(store, b, &ds, YEAR);
    assert!(k.sender.is_empty(), "{k:?}");
    assert_eq!(k.firm, set(&["client.example", "other.example"]));
    let k = known(store, "", &ds, YEAR);
    assert!(k.sender.is_empty());
    assert_eq!(k.firm.len(), 2);
    // Four pairs: two for the sender, two for the firm.
    assert_eq!(store.prune_contacts(Duration::ZERO).unwrap(), 4);
}

/// Issue #18: a pair older than the window no longer counts and the prune
/// deletes it; a pair written to again is young again.
fn first_contact_expires_and_prunes(store: &dyn Store) {
    let a = "a@firm.example";
    store
        .learn_contacts(a, &["old.example".to_string()])
        .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    store
        .learn_contacts(a, &["fresh.example".to_string()])
        .unwrap();
    let window = Duration::from_millis(150);
    let k = known(store, a, &["old.example", "fresh.example"], window);
    assert_eq!(k.sender, set(&["fresh.example"]));
    assert_eq!(k.firm, set(&["fresh.example"]));
    // The prune takes the old pair and its firm row, nothing younger.
    assert_eq!(store.prune_contacts(window).unwrap(), 2);
    let k = known(store, a, &["old.example", "fresh.example"], YEAR);
    assert_eq!(k.sender, set(&["fresh.example"]));
    // Written to again: counts again within a short window.
    std::thread::sleep(Duration::from_millis(300));
    store
        .learn_contacts(a, &["fresh.example".to_string()])
        .unwrap();
    assert_eq!(known(store, a, &["fresh.example"], window).sender.len(), 1);
    assert_eq!(store.prune_contacts(window).unwrap(), 0);
}

macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod on_sqlite {
            $(#[test]
            fn $name() {
                let o = super::sqlite();
                super::$name(o.store.as_ref());
            })*
        }
        mod on_postgres {
            $(#[test]
            fn $name() {
                let o = super::postgres();
                super::$name(o.store.as_ref());
            })*
        }
    };
}

both!(
    hold_release_reject,
    queue_filters_sort_and_count,
    users_sessions_tokens_waivers,
    reviewer_scope_round_trips,
    retention_destroys_content_but_not_a_release_in_flight,
    audit_trail_pages_filters_and_head,
    copy_memory,
    jobs_are_claimed_once_per_period,
    outbox_notices_go_with_their_event,
    outbox_claims_once_and_settles,
    outbox_reclaims_this_nodes_claims,
    outbox_a_lapsed_claim_is_taken_again,
    outbox_settled_notices_go_with_retention,
    outbox_claimed_with_a_release_a_reject_and_a_claim,
    sso_users_and_logins_in_flight,
    dashboard_aggregates,
    first_contact_learn_and_look_up,
    first_contact_expires_and_prunes,
);
