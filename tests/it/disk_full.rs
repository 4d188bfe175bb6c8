//! Issue 16, disk full (RELIABILITY §2 item 7): the data directory is a
//! small tmpfs the test fills. Holds go on while SQLite still has room;
//! once a write fails the client gets a 4xx (never a 250 for what was not
//! committed), clean mail too (its audit entry cannot be written); when
//! space returns the proxy takes mail again by itself, every message that
//! got 250 is in the store, and the audit trail verifies: no half-written
//! entry. Needs root for `mount` (CI has it).

use crate::smtp_e2e::CLEAN;
use crate::support::{example, Client, Setup, Sink, SinkMode};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A tmpfs mounted for the test's life.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(at).unwrap();
        let opts = format!("size={size},mode=0700");
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &opts, "tmpfs"])
            .arg(at)
            .status()
            .expect("mount");
        assert!(ok.success(), "cannot mount a tmpfs (the test needs root)");
        Tmpfs(at.to_path_buf())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Fills the file system holding `path` until a write fails.
fn fill(path: &Path) {
    let mut f = std::fs::File::create(path).unwrap();
    let block = vec![0x5au8; 64 * 1024];
    while f.write_all(&block).is_ok() {}
    let small = [0u8; 512];
    while f.write_all(&small).is_ok() {}
    let _ = f.sync_all();
}

async fn send(port: u16, to: &str, body: &[u8]) -> (u16, String) {
    let mut c = Client::connect(port).await.unwrap();
    c.mail("a.partner@firm.example", &[to], body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_a_4xx_and_recovers_by_itself() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    let data = setup.db().parent().unwrap().to_path_buf();
    let _fs = Tmpfs::mount(&data, "8m");
    let server = setup.serve().await;
    let leak = example("misdirected.eml");
    let outside = "j.smith@meridian-tankers.com";
    assert!(send(server.port, outside, &leak)
        .await
        .1
        .contains("held as"));
    let filler = data.join("filler");
    fill(&filler);
    let (mut held, mut refused) = (1, None);
    for _ in 0..500 {
        let r = send(server.port, outside, &leak).await;
        match r.0 {
            250 => held += 1,
            _ => {
                refused = Some(r);
                break;
            }
        }
    }
    let refused = refused.expect("500 holds on a full disk were all accepted");
    assert_eq!(refused.0, 452, "a full disk: {refused:?}");
    assert!(refused.1.starts_with("4.3.1"), "{refused:?}");
    let clean = send(server.port, "b@partner.example", CLEAN).await;
    assert_eq!(
        clean.0 / 100,
        4,
        "clean mail without its audit entry: {clean:?}"
    );
    assert!(sink.messages().is_empty());
    std::fs::remove_file(&filler).unwrap();
    // Space is back: no restart, no operator.
    let again = send(server.port, outside, &leak).await;
    assert!(again.1.contains("held as"), "{again:?}");
    assert_eq!(send(server.port, "b@partner.example", CLEAN).await.0, 250);
    server.stop().await;
    assert_eq!(setup.held().len(), held + 1, "every 250 is in the store");
    let verify = setup.cli(&["audit", "verify"]);
    let err = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "{err}");
    eprintln!("disk full: {held} held before the first refusal ({refused:?})");
}
