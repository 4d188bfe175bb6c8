//! The group's protocol against a writer that keeps its "database" in
//! memory: which operations a batch commits, who gets which error.

use super::*;
use std::sync::mpsc;
use std::thread;

/// Pending rows since BEGIN, the savepoint's mark, and what was committed.
#[derive(Default)]
struct Memory {
    pending: Vec<String>,
    mark: usize,
    committed: Vec<String>,
    fail_commit: bool,
}

impl Writer for Memory {
    type Conn = Vec<String>;
    fn begin(&mut self) -> Result<(), StoreError> {
        self.pending.clear();
        Ok(())
    }
    fn savepoint(&mut self) -> Result<(), StoreError> {
        self.mark = self.pending.len();
        Ok(())
    }
    fn release(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
    fn rollback_to(&mut self) -> Result<(), StoreError> {
        self.pending.truncate(self.mark);
        Ok(())
    }
    fn commit(&mut self) -> Result<(), StoreError> {
        if self.fail_commit {
            return Err(StoreError::Invalid("disk on fire".into()));
        }
        self.committed.append(&mut self.pending);
        Ok(())
    }
    fn abandon(&mut self) {
        self.pending.clear();
    }
    fn in_transaction(&self) -> bool {
        true
    }
    fn conn(&mut self) -> &mut Vec<String> {
        &mut self.pending
    }
}

type Shared = Arc<Group<Memory>>;

fn group(fail_commit: bool, ops: usize) -> Shared {
    let w = Memory {
        fail_commit,
        ..Memory::default()
    };
    Arc::new(Group::new(
        w,
        Limits {
            ops,
            bytes: 1 << 20,
        },
    ))
}

/// Writer `a` holds the lock inside its operation until `b` and `c` are
/// waiting for it, so all three meet in one batch.
fn three_writers(
    g: &Shared,
    b: fn(&mut Vec<String>) -> Result<(), StoreError>,
) -> [thread::Result<Result<(), StoreError>>; 3] {
    let (go, wait) = mpsc::channel::<()>();
    let ga = g.clone();
    let a = thread::spawn(move || {
        ga.run(0, |rows| {
            wait.recv().unwrap();
            rows.push("a".into());
            Ok(())
        })
    });
    // Until `a` holds the lock (inside its operation).
    while g.state.try_lock().is_ok() {
        thread::yield_now();
    }
    let gb = g.clone();
    let b = thread::spawn(move || gb.run(0, b));
    let gc = g.clone();
    let c = thread::spawn(move || {
        gc.run(0, |rows| {
            rows.push("c".into());
            Ok(())
        })
    });
    while g.arriving() < 2 {
        thread::yield_now();
    }
    go.send(()).unwrap();
    [a.join(), b.join(), c.join()]
}

fn committed(g: &Shared) -> Vec<String> {
    let mut rows = g.lock().writer.committed.clone();
    rows.sort();
    rows
}

fn refuse(rows: &mut Vec<String>) -> Result<(), StoreError> {
    rows.push("b".into());
    Err(StoreError::WrongStatus {
        id: "b".into(),
        status: super::super::HeldStatus::Released,
        wanted: super::super::HeldStatus::Held,
    })
}

#[test]
fn an_operations_error_is_its_own_and_the_rest_commit_together() {
    let g = group(false, 64);
    let [a, b, c] = three_writers(&g, refuse);
    assert!(a.unwrap().is_ok());
    assert!(matches!(b.unwrap(), Err(StoreError::WrongStatus { .. })));
    assert!(c.unwrap().is_ok());
    assert_eq!(committed(&g), ["a", "c"]);
    assert_eq!(g.stats(), (1, 2), "one commit for both");
}

#[test]
fn a_failed_commit_fails_every_writer_in_the_batch() {
    let g = group(true, 64);
    let ok = |rows: &mut Vec<String>| {
        rows.push("b".into());
        Ok(())
    };
    let [a, b, c] = three_writers(&g, ok);
    for r in [a, b, c] {
        let e = r.unwrap().unwrap_err();
        assert!(e.to_string().contains("disk on fire"), "{e}");
        assert!(e.is_failure());
    }
    assert!(committed(&g).is_empty());
    assert_eq!(g.stats(), (0, 0));
}

#[test]
fn a_panicking_operation_is_rolled_back_alone() {
    let g = group(false, 64);
    let boom = |rows: &mut Vec<String>| -> Result<(), StoreError> {
        rows.push("b".into());
        panic!("boom")
    };
    let [a, b, c] = three_writers(&g, boom);
    assert!(b.is_err(), "the panic reaches its own caller");
    assert!(a.unwrap().is_ok() && c.unwrap().is_ok());
    assert_eq!(committed(&g), ["a", "c"]);
}

#[test]
fn a_full_batch_commits_without_waiting_for_more() {
    let g = group(false, 2);
    let ok = |rows: &mut Vec<String>| {
        rows.push("b".into());
        Ok(())
    };
    let [a, b, c] = three_writers(&g, ok);
    assert!(a.unwrap().is_ok() && b.unwrap().is_ok() && c.unwrap().is_ok());
    assert_eq!(committed(&g), ["a", "b", "c"]);
    assert_eq!(g.stats(), (2, 3));
}

#[test]
fn a_lone_writer_commits_at_once() {
    let g = group(false, 64);
    let n = g.run(0, |rows| {
        rows.push("x".into());
        Ok(7)
    });
    assert_eq!(n.unwrap(), 7);
    assert_eq!(g.stats(), (1, 1));
}

/// The real thing: writers on many threads at once, a refused write among
/// them, and one chain that verifies with every entry in it.
#[test]
fn concurrent_writers_on_sqlite_keep_one_verified_chain() {
    use crate::store::sqlite::SqliteStore;
    use crate::store::{audit, AuditEvent, AuditLog, NewHeld, Quarantine};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let store = Arc::new(SqliteStore::open(&db, &dir.path().join("k"), "t").unwrap());
    let msg = |id: &str| NewHeld {
        id: id.into(),
        from: "a@firm.example".into(),
        to: vec!["b@x.example".into()],
        action: crate::store::held::Action::Hold,
        rules: vec!["r".into()],
        clients: vec![],
        matters: vec![],
        subject: "s".into(),
        verdict_json: "{}".into(),
        raw: vec![b'x'; 1000],
        two_person: false,
        delay: None,
    };
    let workers: Vec<_> = (0..8)
        .map(|t| {
            let store = store.clone();
            thread::spawn(move || {
                for _ in 0..20 {
                    let event = AuditEvent::new("smtp", "pass", serde_json::json!({}));
                    if t % 2 == 0 {
                        store.append(event).unwrap();
                        continue;
                    }
                    let id = crate::store::new_id();
                    store.hold(msg(&id), event.clone()).unwrap();
                    // The same id again: refused inside the batch, alone.
                    let again = store.hold(msg(&id), event);
                    assert!(matches!(again, Err(StoreError::Sqlite(_))), "{again:?}");
                }
            })
        })
        .collect();
    workers.into_iter().for_each(|w| w.join().unwrap());
    assert_eq!(audit::verify(store.as_ref()).unwrap(), Ok(160));
    assert_eq!(store.held_count().unwrap(), 80);
    let (batches, ops) = store.commit_stats();
    assert_eq!(ops, 160, "refused writes are not counted as committed");
    assert!((1..=160).contains(&batches));
}
