//! Issue 16, fsync and write errors (RELIABILITY §2 item 8): `strace`
//! attaches to the running server and makes every fsync and fdatasync fail
//! with EIO. No retry-and-assume: a hold, and the audit entry a clean
//! message needs before it is relayed, answer 4xx, nothing reaches the
//! next hop, the failures are counted on /metrics and logged. Once strace
//! lets go the server takes mail again by itself, and every message that
//! got 250 is in a store whose audit trail verifies.

use crate::smtp_e2e::CLEAN;
use crate::support::{example, Client, Process, Setup, Sink, SinkMode};
use std::process::{Command, Stdio};

async fn send(port: u16, to: &str, body: &[u8]) -> (u16, String) {
    let mut c = Client::connect(port).await.unwrap();
    c.mail("a.partner@firm.example", &[to], body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eio_on_fsync_stops_custody_until_it_clears() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::for_process(sink.port, "");
    let server = Process::start(&setup.config()).await;
    let leak = example("misdirected.eml");
    let outside = "j.smith@meridian-tankers.com";
    assert!(send(server.port, outside, &leak)
        .await
        .1
        .contains("held as"));
    let trace = setup.config().with_file_name("strace.log");
    let mut strace = Command::new("strace")
        .args(["-f", "-qq", "-e", "trace=fsync,fdatasync"])
        .args(["-e", "inject=fsync,fdatasync:error=EIO"])
        .args(["-p", &server.child.id().to_string()])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&trace).unwrap())
        .spawn()
        .expect("strace (installed by .ci/run)");
    // Attaching takes a moment: send until a hold cannot be synced.
    let mut replies = Vec::new();
    for _ in 0..50 {
        let r = send(server.port, outside, &leak).await;
        let injected = r.0 != 250;
        replies.push(r);
        if injected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let refused = replies.last().unwrap().clone();
    assert_eq!(refused.0, 451, "a hold whose fsync failed: {replies:?}");
    let clean = send(server.port, "b@partner.example", CLEAN).await;
    assert_eq!(
        clean.0, 451,
        "clean mail without a synced audit entry: {clean:?}"
    );
    assert!(sink.messages().is_empty());
    let metrics = crate::support::http::get(server.http_port, "/metrics", &[])
        .await
        .text();
    assert!(
        !metrics.contains("matterwall_store_failures 0\n"),
        "{metrics}"
    );
    strace.kill().unwrap();
    strace.wait().unwrap();
    let seen = std::fs::read_to_string(&trace).unwrap();
    assert!(
        seen.contains("EIO (Input/output error) (INJECTED)"),
        "strace: {seen}"
    );
    // Released: custody resumes with no restart.
    let mut again = (0, String::new());
    for _ in 0..50 {
        again = send(server.port, outside, &leak).await;
        if again.0 == 250 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(again.1.contains("held as"), "{again:?}");
    assert_eq!(send(server.port, "b@partner.example", CLEAN).await.0, 250);
    let accepted = replies.iter().filter(|r| r.0 == 250).count();
    server.stop();
    assert_eq!(
        setup.held().len(),
        1 + accepted + 1,
        "every 250 is in the store"
    );
    let verify = setup.cli(&["audit", "verify"]);
    let err = String::from_utf8_lossy(&verify.stderr);
    assert!(verify.status.success(), "{err}");
    let log = std::fs::read_to_string(setup.config().with_file_name("serve.log")).unwrap();
    assert!(log.contains("cannot store the held message"), "{log}");
}
