//! Signed audit checkpoints (issue #15 finding 1), attacked as the finding
//! did: someone who can write the database file drops the triggers, wipes
//! the trail and its head, or rolls it back to a saved head; or appends a
//! forged checkpoint line. `audit verify` must name each, and exit 1.

use crate::support::{self, Setup};

fn verify(setup: &Setup, extra: &[&str]) -> (i32, String) {
    let mut args = vec!["audit", "verify"];
    args.extend_from_slice(extra);
    let out = setup.cli(&args);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.code().unwrap(), text)
}

fn add_users(setup: &Setup, from: usize, n: usize) {
    for i in from..from + n {
        let out = setup.cli(&["user", "add", &format!("user{i}"), "--role", "reviewer"]);
        assert!(out.status.success());
    }
}

fn checkpoint(setup: &Setup) -> String {
    let out = setup.cli(&["audit", "checkpoint"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}");
    text
}

/// The database opened as an attacker would, append-only triggers dropped.
fn attacker(setup: &Setup) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(setup.db()).unwrap();
    conn.execute_batch(
        "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete;",
    )
    .unwrap();
    conn
}

fn checkpoint_file(setup: &Setup) -> std::path::PathBuf {
    setup.dir.path().join("data/audit-checkpoints.jsonl")
}

#[test]
fn wiping_the_trail_and_its_head_is_reported_as_truncation() {
    let setup = Setup::new(support::free_port(), "");
    add_users(&setup, 0, 4);
    assert!(checkpoint(&setup).contains("checkpoint: seq 4 "));
    let (code, out) = verify(&setup, &[]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the newest (seq 4,"), "{out}");
    // The key and the lines are for the service account only.
    use std::os::unix::fs::PermissionsExt;
    for f in ["audit-checkpoint.key", "audit-checkpoints.jsonl"] {
        let m = std::fs::metadata(setup.dir.path().join("data").join(f)).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600, "{f}");
    }

    attacker(&setup)
        .execute_batch("DELETE FROM audit; DELETE FROM audit_head;")
        .unwrap();
    let (code, out) = verify(&setup, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("audit trail intact: 0 entries"),
        "the chain alone: {out}"
    );
    assert!(
        out.contains("truncated: the chain ends at seq 0 but the checkpoint of")
            && out.contains("says 4"),
        "{out}"
    );
    // A new checkpoint is refused rather than signing the wiped trail.
    let out = setup.cli(&["audit", "checkpoint"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("truncated"));
}

#[test]
fn rolling_back_to_a_saved_head_is_reported() {
    let setup = Setup::new(support::free_port(), "");
    add_users(&setup, 0, 3);
    let conn = attacker(&setup);
    let saved: (i64, String, String) = conn
        .query_row("SELECT seq, hash, mac FROM audit_head", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    drop(conn);
    add_users(&setup, 3, 4);
    checkpoint(&setup);
    // Back to seq 3: newer entries deleted, the old head put back.
    let conn = attacker(&setup);
    conn.execute("DELETE FROM audit WHERE seq > 3", []).unwrap();
    conn.execute(
        "UPDATE audit_head SET seq = ?1, hash = ?2, mac = ?3",
        rusqlite::params![saved.0, saved.1, saved.2],
    )
    .unwrap();
    drop(conn);
    let (code, out) = verify(&setup, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("audit trail intact: 3 entries"), "{out}");
    assert!(
        out.contains("the chain ends at seq 3 but the checkpoint of") && out.contains("says 7"),
        "{out}"
    );
    // New entries on top: as long as before, but not the same history.
    add_users(&setup, 10, 5);
    let (code, out) = verify(&setup, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("audit trail intact: 8 entries"), "{out}");
    assert!(
        out.contains("at seq 7: rolled back or rewritten: its hash differs from the checkpoint"),
        "{out}"
    );
}

#[test]
fn a_forged_line_is_reported_and_a_copy_kept_elsewhere_still_counts() {
    let setup = Setup::new(support::free_port(), "");
    add_users(&setup, 0, 2);
    checkpoint(&setup);
    add_users(&setup, 2, 2);
    checkpoint(&setup);
    let file = checkpoint_file(&setup);
    let offbox = setup.dir.path().join("worm-copy.jsonl");
    std::fs::copy(&file, &offbox).unwrap();

    // A line claiming a shorter trail, its signature made up.
    let text = std::fs::read_to_string(&file).unwrap();
    let mut cp: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    cp["seq"] = 2.into();
    cp["sig"] = "ab".repeat(64).into();
    std::fs::write(&file, format!("{text}{cp}\n")).unwrap();
    let (code, out) = verify(&setup, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("checkpoint FORGED:") && out.contains("audit-checkpoints.jsonl line 3"),
        "{out}"
    );

    // The attacker removes the local file and wipes the trail: the local
    // check fails on the missing file, the off-box copy names the truncation.
    std::fs::remove_file(&file).unwrap();
    attacker(&setup)
        .execute_batch("DELETE FROM audit; DELETE FROM audit_head;")
        .unwrap();
    let (code, out) = verify(&setup, &[]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("is missing"), "{out}");
    let copy = offbox.display().to_string();
    let (code, out) = verify(&setup, &["--checkpoint", &copy]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("the chain ends at seq 0") && out.contains("says 4"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_signs_checkpoints_as_the_trail_grows() {
    let setup = Setup::new(support::free_port(), "");
    let toml = std::fs::read_to_string(setup.config())
        .unwrap()
        .replace("[store]\n", "[store]\ncheckpoint_every = 3\n");
    std::fs::write(setup.config(), toml).unwrap();
    add_users(&setup, 0, 2);
    let server = setup.serve().await;
    // One at start, then one once three more entries are in.
    add_users(&setup, 2, 3);
    let file = checkpoint_file(&setup);
    let seqs = || -> Vec<u64> {
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                    .as_u64()
                    .unwrap()
            })
            .collect()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !seqs().contains(&5) && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    server.stop().await;
    assert_eq!(seqs(), [2, 5]);
    let (code, out) = verify(&setup, &[]);
    assert_eq!(code, 0, "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_verify_page_reports_a_truncation_too() {
    let setup = Setup::new(support::free_port(), "");
    setup.add_user("otto", "auditor", crate::support::review::PW);
    let server = setup.serve().await;
    let web =
        crate::support::review::login(setup.http_port, "otto", crate::support::review::PW).await;
    checkpoint(&setup);
    let page = web.get("/audit/verify").await.text();
    assert!(
        page.contains("matches the newest signed checkpoint"),
        "{page}"
    );
    attacker(&setup)
        .execute_batch("DELETE FROM audit; DELETE FROM audit_head;")
        .unwrap();
    let page = web.get("/audit/verify").await.text();
    // The chain alone is consistent, but the page must not call it intact.
    assert!(!page.contains("Intact"), "{page}");
    assert!(
        page.contains("Not intact: the 0 entries left chain correctly"),
        "{page}"
    );
    assert!(
        page.contains("truncated: the chain ends at seq 0"),
        "{page}"
    );
    server.stop().await;
}

#[test]
fn each_checkpoint_also_goes_to_a_syslog_socket_when_configured() {
    let setup = Setup::new(support::free_port(), "");
    let socket = setup.dir.path().join("log.sock");
    let log = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();
    log.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let toml = std::fs::read_to_string(setup.config()).unwrap().replace(
        "[store]\n",
        &format!("[store]\ncheckpoint_syslog = \"{}\"\n", socket.display()),
    );
    std::fs::write(setup.config(), toml).unwrap();
    add_users(&setup, 0, 2);
    checkpoint(&setup);
    let mut buf = vec![0u8; 4096];
    let n = log.recv(&mut buf).unwrap();
    let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
    let line = msg
        .strip_prefix("<110>matterwall-audit: ")
        .unwrap_or_else(|| panic!("{msg}"));
    let in_file = std::fs::read_to_string(checkpoint_file(&setup)).unwrap();
    assert_eq!(line, in_file.trim_end(), "the same signed line");
}
