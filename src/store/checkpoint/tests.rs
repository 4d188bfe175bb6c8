use super::*;
use crate::store::sqlite::SqliteStore;
use crate::store::AuditEvent;
use std::os::unix::fs::PermissionsExt;

fn store(dir: &Path) -> SqliteStore {
    SqliteStore::open(&dir.join("q/db.sqlite"), &dir.join("q/k"), "test").unwrap()
}

fn append(s: &SqliteStore, n: usize) {
    for i in 0..n {
        s.append(AuditEvent::new("t", "login", serde_json::json!({"i": i})))
            .unwrap();
    }
}

#[test]
fn signed_lines_verify_and_any_change_does_not() {
    let key = SigningKey::from_bytes(&[7; 32]);
    let cp = sign(&key, 42, &"ab".repeat(32));
    assert!(authentic(&cp, &key.verifying_key()));
    let other = SigningKey::from_bytes(&[8; 32]).verifying_key();
    assert!(!authentic(&cp, &other));
    for forged in [
        Checkpoint {
            seq: 43,
            ..cp.clone()
        },
        Checkpoint {
            hash: "cd".repeat(32),
            ..cp.clone()
        },
        Checkpoint {
            time: "2020-01-01T00:00:00.000Z".into(),
            ..cp.clone()
        },
        Checkpoint {
            sig: "00".repeat(64),
            ..cp.clone()
        },
    ] {
        assert!(!authentic(&forged, &key.verifying_key()), "{forged:?}");
    }
}

#[test]
fn the_key_and_the_file_are_private_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    append(&s, 3);
    let paths = Paths::resolve("sqlite://q/db.sqlite", dir.path(), None, None, None);
    assert_eq!(paths.key, dir.path().join("q/audit-checkpoint.key"));
    let mut c = Checkpointer::open(paths.clone()).unwrap();
    let cp = c.write(&s, true).unwrap().unwrap();
    assert_eq!(cp.seq, 3);
    assert!(c.write(&s, true).unwrap().is_none(), "nothing new");
    for p in [&paths.key, &paths.file] {
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
    }
    // Reopened, the same key and the last checkpoint are found again.
    let again = Checkpointer::open(paths).unwrap();
    assert_eq!(again.last(), Some(&cp));
}

#[test]
fn a_trail_that_does_not_extend_the_last_checkpoint_is_not_signed() {
    let dir = tempfile::tempdir().unwrap();
    let s = store(dir.path());
    append(&s, 5);
    let paths = Paths::resolve("sqlite://q/db.sqlite", dir.path(), None, None, None);
    let mut c = Checkpointer::open(paths.clone()).unwrap();
    c.write(&s, false).unwrap();
    drop(s);
    // Everything wiped behind the store's back, head included.
    let conn = rusqlite::Connection::open(dir.path().join("q/db.sqlite")).unwrap();
    conn.execute_batch("DROP TRIGGER audit_no_delete; DELETE FROM audit; DELETE FROM audit_head;")
        .unwrap();
    let s = store(dir.path());
    let err = c.write(&s, false).unwrap_err().to_string();
    assert!(err.contains("truncated"), "{err}");
    let lines = read(&paths.file).unwrap().unwrap();
    assert_eq!(lines.len(), 1, "nothing signed");
    let vk = read_key(&paths.key).unwrap().unwrap().verifying_key();
    let r = check(&s, &paths.file, &lines, &vk, Some(0)).unwrap();
    assert_eq!(r.checked, 1);
    assert!(
        r.problems[0].contains("the chain ends at seq 0 but the checkpoint"),
        "{:?}",
        r.problems
    );
}
