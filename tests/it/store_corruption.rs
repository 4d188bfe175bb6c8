//! Issue 16, store corruption (RELIABILITY §2 item 9): a database file
//! damaged at rest (pages overwritten, the file truncated) is detected and
//! left as it is for an administrator: the server does not start on it (so
//! the mail server keeps its queue: nothing is accepted that could not be
//! held), `audit verify` and `quarantine list` fail naming the store, and no
//! command deletes or recreates it. Flipped bits inside one record are the
//! store's own unit test (`Damaged`, never released, never deleted).

use crate::support::{hold_one, Process, Setup, Sink, SinkMode};

/// Damage the way disks and careless hands do: garbage over every page but
/// the first (the header SQLite checks on open), or the file cut short.
fn damage(db: &std::path::Path, how: &str) {
    let mut bytes = std::fs::read(db).unwrap();
    match how {
        "garbage" => {
            let mut x = 0x2545_f491_4f6c_dd1du64;
            for b in bytes.iter_mut().skip(4096) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
        }
        _ => bytes.truncate(bytes.len() / 3),
    }
    std::fs::write(db, bytes).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_database_is_refused_and_kept() {
    for how in ["garbage", "truncated"] {
        let sink = Sink::start(SinkMode::Normal, &[]).await;
        let setup = Setup::for_process(sink.port, "");
        let server = Process::start(&setup.config()).await;
        for _ in 0..20 {
            hold_one(server.port).await;
        }
        server.stop();
        let db = setup.db();
        damage(&db, how);
        let damaged = std::fs::read(&db).unwrap();
        for args in [
            &["audit", "verify"][..],
            &["quarantine", "list"],
            &["serve"],
        ] {
            let out = setup.cli(args);
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{how} {args:?}: {err}");
            assert!(
                err.contains("store") || err.contains("database"),
                "{how} {args:?}: {err}"
            );
            assert!(err.contains("malformed"), "{how} {args:?}: {err}");
        }
        assert_eq!(
            std::fs::read(&db).unwrap(),
            damaged,
            "{how}: the file was changed"
        );
    }
}
