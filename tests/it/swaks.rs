//! A real SMTP client against the proxy (in-process): `swaks` with `--pipeline`
//! (RFC 2920), installed by `.ci/run`. The next hop is the test sink.

use crate::support;
use std::process::Command;

fn swaks(port: u16, to: &str, data: &std::path::Path) -> (bool, String) {
    let out = Command::new("swaks")
        .args([
            "--server",
            &format!("127.0.0.1:{port}"),
            "--pipeline",
            "--from",
            "a.partner@firm.example",
        ])
        .args(["--to", to, "--data"])
        .arg(format!("@{}", data.display()))
        .output()
        .expect("swaks is not installed: run .ci/run, which installs it");
    let transcript =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), transcript)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swaks_pipelined_clean_mail_is_relayed_and_a_leak_is_held() {
    let (sink, setup, server) = support::start(&[]).await;
    let examples = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/examples");

    let (ok, transcript) = swaks(server.port, "friend@gmail.com", &examples.join("clean.eml"));
    assert!(ok, "{transcript}");
    assert!(transcript.contains("PIPELINING"), "{transcript}");
    let got = sink.messages();
    assert_eq!(got.len(), 1, "{transcript}");
    assert_eq!(got[0].rcpts, ["friend@gmail.com"]);
    assert!(String::from_utf8_lossy(&got[0].body).contains("Subject: Lunch on Friday"));

    let (ok, transcript) = swaks(
        server.port,
        "j.smith@meridian-tankers.com",
        &examples.join("misdirected.eml"),
    );
    assert!(ok, "{transcript}");
    assert!(transcript.contains("held as"), "{transcript}");
    assert_eq!(
        sink.messages().len(),
        1,
        "the leak must not reach the next hop"
    );
    let held = setup.held();
    assert_eq!(held.len(), 1);
    server.stop().await;
}
