//! The next hop misbehaving, played by Postfix's `smtp-sink` (installed with
//! Postfix by `.ci/run`), RELIABILITY §2 items 1, 2 and 3: the client must get a
//! 4xx (retry) or the next hop's own 5xx, and nothing may be lost — a passed
//! message is never reported delivered when the next hop did not say so.

use crate::support::{free_port, Client, Setup};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct SmtpSink(Child);

impl SmtpSink {
    async fn start(port: u16, args: &[&str]) -> SmtpSink {
        // Wrapped at once, so its Drop kills and reaps it on every path.
        let sink = SmtpSink(
            Command::new("smtp-sink")
                // As root it must be told whom to run as.
                .args(["-u", "postfix"])
                .args(args)
                .arg(format!("127.0.0.1:{port}"))
                .arg("10")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("smtp-sink is not installed: run .ci/run, which installs postfix"),
        );
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return sink;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("smtp-sink did not start");
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const CLEAN: &[u8] =
    b"From: a@firm.example\r\nTo: b@partner.example\r\nSubject: lunch\r\n\r\nFriday?\r\n";

async fn send_through(sink_args: &[&str]) -> (u16, String, usize) {
    let port = free_port();
    let _sink = SmtpSink::start(port, sink_args).await;
    let setup = Setup::new(port, "");
    let server = setup.serve().await;
    let mut c = Client::connect(server.port).await.unwrap();
    let (code, text) = c
        .mail("a@firm.example", &["b@partner.example"], CLEAN)
        .await;
    let held = setup.held().len();
    server.stop().await;
    (code, text, held)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_hop_faults_become_the_right_reply() {
    let cases: &[(&str, &[&str], u16)] = &[
        ("healthy", &[], 2),
        ("disconnects after the dot without a reply", &["-q", "."], 4),
        ("421 after the dot", &["-Q", "."], 4),
        ("4xx to DATA", &["-r", "DATA"], 4),
        ("5xx to DATA", &["-f", "DATA"], 5),
        ("4xx to RCPT", &["-r", "RCPT"], 4),
        ("disconnects at MAIL", &["-q", "MAIL"], 4),
    ];
    let mut failures = Vec::new();
    for (name, args, class) in cases {
        let (code, text, held) = send_through(args).await;
        if code / 100 != *class || held != 0 {
            failures.push(format!(
                "{name}: got {code} {text} (held {held}), wanted {class}xx"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// RELIABILITY §2 item 2: a next hop that goes silent at any phase (EHLO,
/// MAIL, RCPT, DATA, the final dot; the banner is in `smtp_e2e.rs`) runs
/// into that phase's timeout: `451 4.4.1`, in the upstream's budget,
/// nothing held. smtp-sink waits 5 s before that reply; the test setup's
/// phase timeouts are 2 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_hop_silent_at_any_phase_is_451() {
    let mut failures = Vec::new();
    for phase in ["EHLO", "MAIL", "RCPT", "DATA", "."] {
        let wait = format!("{phase}:5");
        let (code, text, held) = send_through(&["-W", &wait]).await;
        if code != 451 || !text.starts_with("4.4.1") || held != 0 {
            failures.push(format!(
                "silent at {phase}: got {code} {text} (held {held})"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
