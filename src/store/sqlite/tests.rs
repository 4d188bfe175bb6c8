use super::super::audit::{self, AuditEvent, AuditFilter};
use super::super::*;
use super::SqliteStore;
use rusqlite::Connection;
use serde_json::json;

fn msg() -> NewHeld {
    NewHeld {
        id: crate::store::new_id(),
        from: "a@firm.example".into(),
        to: vec!["b@x.example".into()],
        action: held::Action::Hold,
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

fn verdict(id: &str) -> AuditEvent {
    AuditEvent::new("smtp", "verdict", json!({"message": id}))
}

fn hold(store: &SqliteStore) -> String {
    let m = msg();
    let v = verdict(&m.id);
    store.hold(m, v).unwrap()
}

const BY: Review<'static> = Review {
    actor: "alice",
    comment: Some("ok"),
};

fn open(dir: &std::path::Path) -> SqliteStore {
    let q = dir.join("q");
    SqliteStore::open(&q.join("db.sqlite"), &q.join("matterwall.key"), "test").unwrap()
}

#[test]
fn hold_release_reject_and_tamper() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let key = dir.path().join("q/matterwall.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let id = hold(&store);
    assert_eq!(id.len(), 16);
    assert_eq!(store.get(&id).unwrap().raw, msg().raw);
    assert_eq!(store.get(&id).unwrap().summary.subject, "Harrowgate draft");
    assert_eq!(store.held_count().unwrap(), 1);
    store.begin_release(&id, &BY).unwrap();
    assert!(matches!(
        store.begin_release(&id, &BY),
        Err(StoreError::WrongStatus { .. })
    ));
    assert_eq!(store.stuck_releasing().unwrap(), std::slice::from_ref(&id));
    store.finish_release(&id, &[]).unwrap();
    assert!(matches!(
        store.reject(&id, &BY),
        Err(StoreError::WrongStatus { .. })
    ));
    let other = hold(&store);
    store.reject(&other, &BY).unwrap();
    assert_eq!(store.list().unwrap().len(), 2);
    // The raw bytes and the subject are not in the database file in clear.
    let third = hold(&store);
    drop(store);
    let db = std::fs::read(dir.path().join("q/db.sqlite")).unwrap();
    let wal = std::fs::read(dir.path().join("q/db.sqlite-wal")).unwrap_or_default();
    for file in [db, wal] {
        assert!(!file.windows(10).any(|w| w == b"Harrowgate"));
    }
    // Flipped bits are detected and the record stays put.
    let conn = Connection::open(dir.path().join("q/db.sqlite")).unwrap();
    conn.execute(
        "UPDATE held SET raw = zeroblob(length(raw)) WHERE id = ?1",
        [&third],
    )
    .unwrap();
    drop(conn);
    let store = open(dir.path());
    assert!(matches!(
        store.begin_release(&third, &BY),
        Err(StoreError::Damaged(_))
    ));
    let held = store.list().unwrap();
    assert_eq!(
        held.iter().filter(|s| s.status == HeldStatus::Held).count(),
        1
    );
    // Every transition is in the trail, and the trail is intact.
    let kinds: Vec<String> = store
        .audit_after(0, 100)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        ["verdict", "release", "released", "verdict", "reject", "verdict"]
    );
    assert_eq!(audit::verify(&store).unwrap(), Ok(6));
}

/// Opens the raw database with the append-only triggers dropped, as
/// someone editing the file would.
fn editor(dir: &std::path::Path) -> Connection {
    let conn = Connection::open(dir.join("q/db.sqlite")).unwrap();
    conn.execute_batch("DROP TRIGGER audit_no_update; DROP TRIGGER audit_no_delete;")
        .unwrap();
    conn
}

fn trail(n: usize) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    for i in 0..n {
        store
            .append(AuditEvent::new("bob", "login", json!({"n": i})))
            .unwrap();
    }
    (dir, store)
}

fn bad_seq(store: &SqliteStore) -> Option<u64> {
    audit::verify(store).unwrap().unwrap_err().seq
}

#[test]
fn audit_is_append_only_by_trigger() {
    let (dir, store) = trail(3);
    let conn = Connection::open(dir.path().join("q/db.sqlite")).unwrap();
    assert!(conn.execute("DELETE FROM audit WHERE seq = 3", []).is_err());
    assert!(conn
        .execute("UPDATE audit SET actor = 'x' WHERE seq = 1", [])
        .is_err());
    assert_eq!(audit::verify(&store).unwrap(), Ok(3));
}

#[test]
fn audit_edit_is_named() {
    let (dir, store) = trail(5);
    editor(dir.path())
        .execute("UPDATE audit SET actor = 'mallory' WHERE seq = 3", [])
        .unwrap();
    assert_eq!(bad_seq(&store), Some(3));
}

#[test]
fn audit_edit_with_rehash_is_named() {
    let (dir, store) = trail(5);
    let e = &store.audit_after(2, 1).unwrap()[0];
    let hash = audit::entry_hash(&e.prev_hash, 3, &e.time, "mallory", &e.kind, &e.details);
    editor(dir.path())
        .execute(
            "UPDATE audit SET actor = 'mallory', hash = ?1 WHERE seq = 3",
            [hash],
        )
        .unwrap();
    assert_eq!(bad_seq(&store), Some(3));
}

#[test]
fn audit_deletions_are_named() {
    let (dir, store) = trail(5);
    editor(dir.path())
        .execute("DELETE FROM audit WHERE seq = 2", [])
        .unwrap();
    assert_eq!(bad_seq(&store), Some(2));
    let (dir, store) = trail(5);
    editor(dir.path())
        .execute("DELETE FROM audit WHERE seq = 5", [])
        .unwrap();
    assert_eq!(bad_seq(&store), Some(5));
    // Appending after a deletion does not paper over it.
    store
        .append(AuditEvent::new("bob", "login", json!({})))
        .unwrap();
    assert_eq!(bad_seq(&store), Some(5));
}

#[test]
fn audit_insertion_and_forged_head_are_caught() {
    let (dir, store) = trail(3);
    let last = &store.audit_after(2, 1).unwrap()[0];
    let hash = audit::entry_hash(&last.hash, 4, &last.time, "mallory", "login", &json!({}));
    let conn = editor(dir.path());
    conn.execute(
        "INSERT INTO audit (seq, at, actor, kind, details, prev_hash, hash)
         VALUES (4, ?1, 'mallory', 'login', '{}', ?2, ?3)",
        rusqlite::params![last.time, last.hash, hash],
    )
    .unwrap();
    assert_eq!(bad_seq(&store), Some(4));
    // Moving the head along without the key is caught too, and appending
    // on a forged head is refused.
    conn.execute("UPDATE audit_head SET seq = 4, hash = ?1", [&hash])
        .unwrap();
    assert_eq!(bad_seq(&store), None);
    assert!(store
        .append(AuditEvent::new("bob", "login", json!({})))
        .is_err());
}

fn listed(store: &SqliteStore) -> Vec<u64> {
    let f = AuditFilter {
        kind: None,
        actor: None,
        message: None,
        before: None,
        limit: 100,
    };
    store
        .audit_query(&f)
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect()
}

/// Issue #15 finding 2: rows verify does not cover are never listed.
#[test]
fn seq_at_or_below_zero_and_gaps_are_refused_reported_and_not_listed() {
    let (dir, store) = trail(3);
    let conn = editor(dir.path());
    let forge = |seq: i64| {
        conn.execute(
            "INSERT INTO audit (seq, at, actor, kind, details, prev_hash, hash)
             VALUES (?1, 'now', 'mallory', 'login', '{}', 'x', 'y')",
            [seq],
        )
    };
    for seq in [0, -7, 5] {
        assert!(forge(seq).is_err(), "the trigger refuses seq {seq}");
    }
    conn.execute_batch("DROP TRIGGER audit_seq_contiguous")
        .unwrap();
    forge(-7).unwrap();
    assert_eq!(listed(&store), [3, 2, 1]);
    assert_eq!(bad_seq(&store), Some(0), "verify sees the forged row");
    conn.execute("DELETE FROM audit WHERE seq = -7", [])
        .unwrap();
    forge(5).unwrap();
    assert_eq!(listed(&store), [3, 2, 1], "past the head and a gap");
    conn.execute("DELETE FROM audit WHERE seq = 2", []).unwrap();
    assert_eq!(listed(&store), [1], "nothing past the gap");
    assert_eq!(bad_seq(&store), Some(2));
}

/// Issue #15 finding 7: nothing in the data directory is for other users.
#[test]
fn data_directory_and_database_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store
        .append(AuditEvent::new("bob", "login", json!({})))
        .unwrap();
    let mode = |p: &str| {
        let m = std::fs::metadata(dir.path().join(p)).unwrap();
        m.permissions().mode() & 0o777
    };
    assert_eq!(mode("q"), 0o700);
    for f in ["q/db.sqlite", "q/db.sqlite-wal", "q/db.sqlite-shm"] {
        assert_eq!(mode(f), 0o600, "{f}");
    }
}

/// The behaviour is in the shared suite (tests/it/store_suite.rs); what
/// only a file shows stays here: the TOTP secret is not in it in clear.
#[test]
fn a_totp_secret_is_not_in_the_file_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let user = NewUser {
        name: "alice".into(),
        role: Role::Reviewer,
        password_hash: "$argon2id$x".into(),
        totp_secret: Some(b"12345678901234567890".to_vec()),
        scope: None,
    };
    store.add_user(user, "cli:root").unwrap();
    drop(store);
    let db = std::fs::read(dir.path().join("q/db.sqlite")).unwrap();
    let wal = std::fs::read(dir.path().join("q/db.sqlite-wal")).unwrap_or_default();
    for file in [db, wal] {
        assert!(!file.windows(20).any(|w| w == b"12345678901234567890"));
    }
}

#[test]
fn migrates_a_version_0_database() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("q")).unwrap();
    let conn = Connection::open(dir.path().join("q/db.sqlite")).unwrap();
    conn.execute_batch(
        "CREATE TABLE held (id TEXT PRIMARY KEY, received_at TEXT NOT NULL,
            updated_at TEXT NOT NULL, status TEXT NOT NULL, envelope TEXT NOT NULL,
            action TEXT NOT NULL, rules TEXT NOT NULL, size INTEGER NOT NULL,
            raw_nonce BLOB NOT NULL, raw BLOB NOT NULL, verdict_nonce BLOB NOT NULL,
            verdict BLOB NOT NULL, comment TEXT);
         INSERT INTO held VALUES ('old', '2024-01-01T00:00:00+00:00', 'x', 'rejected',
            '{\"from\":\"a@b.c\",\"to\":[]}', 'hold', '[\"r\"]', 1, x'00', x'00', x'00', x'00', NULL);",
    )
    .unwrap();
    drop(conn);
    let store = open(dir.path());
    let list = store.list().unwrap();
    assert_eq!((list[0].id.as_str(), list[0].subject.as_str()), ("old", ""));
    hold(&store);
    assert_eq!(store.list().unwrap().len(), 2);
}

/// Retention's behaviour is in the shared suite (tests/it/store_suite.rs,
/// both backends); what only the file shows stays here: an expired
/// record's sealed content and subject are gone from the row, not merely
/// unlisted.
#[test]
fn retention_empties_the_content_in_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let held = hold(&store);
    // A cutoff after the hold: `now()` has millisecond precision, so a
    // hold and an expiry in the same millisecond would not be "before".
    let later = (chrono::Utc::now() + chrono::Duration::seconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    assert_eq!(store.expire(&later).unwrap().len(), 1);
    let (blob, subject): (Vec<u8>, Option<Vec<u8>>) = store
        .conn()
        .query_row(
            "SELECT raw, subject FROM held WHERE id = ?1",
            [&held],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(blob.is_empty() && subject.is_none());
}

/// Issue #15 finding 3: rewriting a held record's envelope, received time
/// or verdict columns in the file makes it fail to open; a release refuses
/// and the record stays held.
#[test]
fn a_rewritten_envelope_or_verdict_is_refused_on_release() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let edits = [
        r#"UPDATE held SET envelope = '{"from":"a@firm.example","to":["mallory@evil.example"]}'"#,
        "UPDATE held SET received_at = '2020-01-01T00:00:00.000Z'",
        "UPDATE held SET action = 'pass'",
        "UPDATE held SET rules = '[]'",
    ];
    for edit in edits {
        let id = hold(&store);
        let conn = Connection::open(dir.path().join("q/db.sqlite")).unwrap();
        conn.execute(&format!("{edit} WHERE id = ?1"), [&id])
            .unwrap();
        assert!(
            matches!(store.begin_release(&id, &BY), Err(StoreError::Damaged(_))),
            "{edit}"
        );
        let status = store.get(&id).err().map(|e| e.to_string());
        assert!(status.is_some(), "{edit}: still refused");
    }
    let held = store.list().unwrap();
    assert!(held.iter().all(|s| s.status == HeldStatus::Held));
}

/// Issue #15 finding 3: a rejected message set back to `held` in the file
/// cannot be released: the trail's last status for it is `rejected`.
#[test]
fn a_status_set_back_in_the_file_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let id = hold(&store);
    store.reject(&id, &BY).unwrap();
    let conn = Connection::open(dir.path().join("q/db.sqlite")).unwrap();
    conn.execute("UPDATE held SET status = 'held' WHERE id = ?1", [&id])
        .unwrap();
    assert!(matches!(
        store.begin_release(&id, &BY),
        Err(StoreError::Damaged(_))
    ));
    assert_eq!(store.get(&id).unwrap().summary.status, HeldStatus::Held);
}

/// Issue #13: a database written by a newer matterwall is refused, not
/// half-understood; reopening a current one migrates nothing twice.
#[test]
fn a_schema_newer_than_known_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path()));
    drop(open(dir.path()));
    let conn = Connection::open(dir.path().join("q/db.sqlite")).unwrap();
    conn.pragma_update(None, "user_version", 99).unwrap();
    drop(conn);
    let q = dir.path().join("q");
    let err = SqliteStore::open(&q.join("db.sqlite"), &q.join("matterwall.key"), "t")
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("newer than this program knows"),
        "{err}"
    );
}

#[test]
fn a_notice_sealed_to_other_recipients_is_given_up_not_sent() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let n = NewNotice {
        kind: "held".into(),
        about: "m".into(),
        to: vec!["a@firm.example".into()],
        raw: b"Subject: held\r\n\r\nreference m\r\n".to_vec(),
    };
    let hour = std::time::Duration::from_secs(3600);
    store.claim_job_with("x", hour, vec![n]).unwrap();
    // Someone with the file redirects the notice: the seal binds the
    // recipients, so it no longer opens.
    let changed = store
        .conn()
        .execute("UPDATE outbox SET rcpts = '[\"evil@x.example\"]'", [])
        .unwrap();
    assert_eq!(changed, 1);
    assert!(store.claim_notices(10, hour).unwrap().is_empty());
    let all = store.notices().unwrap();
    assert_eq!(all[0].status, "failed");
    assert!(all[0].last_error.as_deref().unwrap().contains("damaged"));
    // The content is sealed at rest: the text is not in the file.
    let raw: Vec<u8> = store
        .conn()
        .query_row("SELECT raw FROM outbox", [], |r| r.get(0))
        .unwrap();
    assert!(!raw.windows(11).any(|w| w == b"reference m"));
}
