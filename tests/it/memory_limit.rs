//! Issue 16, memory exhaustion (RELIABILITY §2): a running server's address
//! space is capped just above what it uses (`prlimit --pid`, as a cgroup or
//! `ulimit -v` would), then sent a message larger than the headroom. An
//! allocation fails mid-DATA and the process dies: the client never gets a
//! 250, the next hop gets nothing, and the restarted server carries on with
//! a store that verifies. The same outcome as a kill, never a pass.
//! (Extraction itself is bounded by `[limits]`: a 1 GB zip bomb is stopped
//! by the byte budget long before memory runs out; `tests/it/attachments.rs`.)

use crate::smtp_e2e::CLEAN;
use crate::support::{Client, Process, Setup, Sink, SinkMode};
use std::process::Command;

/// The process's current virtual size, from `/proc`.
fn vm_size(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

/// A clean message of about `mb` megabytes.
fn big_message(mb: usize) -> Vec<u8> {
    let mut m = b"From: a@firm.example\r\nTo: b@partner.example\r\nSubject: big\r\n\r\n".to_vec();
    let line = b"the quick brown fox jumps over the lazy dog again and again and again\r\n";
    while m.len() < mb << 20 {
        m.extend_from_slice(line);
    }
    m
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_memory_is_a_kill_never_a_pass() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::for_process(sink.port, "");
    let toml = std::fs::read_to_string(setup.config()).unwrap();
    let toml = toml.replace("max_message_size = 100000", "max_message_size = 100000000");
    std::fs::write(setup.config(), toml).unwrap();
    let capped = Process::start(&setup.config()).await;
    let pid = capped.child.id();
    let cap = vm_size(pid) + (4 << 20);
    let limited = Command::new("prlimit")
        .args(["--pid", &pid.to_string(), &format!("--as={cap}")])
        .status()
        .expect("prlimit (util-linux)");
    assert!(limited.success());
    let mut c = Client::connect(capped.port).await.unwrap();
    let big = big_message(40);
    let reply = c.mail("a@firm.example", &["b@partner.example"], &big).await;
    assert_ne!(reply.0, 250, "accepted beyond its memory: {reply:?}");
    assert!(sink.messages().is_empty(), "a message reached the next hop");
    drop(c);
    let mut capped = capped;
    let mut died = None;
    for _ in 0..100 {
        died = capped.child.try_wait().unwrap();
        if died.is_some() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let died = died.expect("the capped server neither answered nor died");
    assert!(!died.success(), "{died}");
    eprintln!("the capped server died: {died}");
    // The restarted server, uncapped, takes mail and its store verifies.
    let server = Process::start(&setup.config()).await;
    let mut c = Client::connect(server.port).await.unwrap();
    let r = c
        .mail("a@firm.example", &["b@partner.example"], CLEAN)
        .await;
    assert_eq!(r.0, 250, "{r:?}");
    assert_eq!(sink.messages().len(), 1);
    let verify = setup.cli(&["audit", "verify"]);
    let err = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "{err}");
    server.stop();
}
