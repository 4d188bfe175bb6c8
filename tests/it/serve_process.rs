//! The built `matterwall serve` run as users run it, for what only a
//! process shows: `kill -9` in the middle of DATA, SIGTERM's drain, SIGHUP,
//! and the `reload` command finding the server by its PID file. The rest of
//! the end-to-end tests run the same server in-process (`smtp_e2e`).

use crate::smtp_e2e::CLEAN;
use crate::support::{self, Client, Process, Setup, Sink, SinkMode};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill9_during_data_leaves_nothing() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::for_process(sink.port, "");
    let server = setup.spawn().await;
    let mut c = Client::connect(server.port).await.unwrap();
    assert_eq!(c.cmd("EHLO t").await.0, 250);
    assert_eq!(c.cmd("MAIL FROM:<a@firm.example>").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<j.smith@meridian-tankers.com>").await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    c.send(b"Subject: Harrowgate Shipping\r\n\r\nhalf a mess")
        .await;
    server.kill9();
    let (code, _) = c.reply().await;
    assert_eq!(code, 0, "the client must see no reply at all");
    assert!(setup.held().is_empty());
    assert!(sink.messages().is_empty());
    let server = setup.spawn().await;
    server.stop();
    assert!(setup.held().is_empty());
}

/// SIGTERM: no new sessions, idle ones get 421, and a transaction in
/// flight finishes (its 250 only after the next hop took it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_the_transaction_in_flight_finish() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::for_process(sink.port, "");
    let server = setup.spawn().await;
    let mut idle = Client::connect(server.port).await.unwrap();
    assert_eq!(idle.cmd("EHLO idle").await.0, 250);
    let mut c = Client::connect(server.port).await.unwrap();
    assert_eq!(c.cmd("EHLO t").await.0, 250);
    assert_eq!(c.cmd("MAIL FROM:<a@firm.example>").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<b@partner.example>").await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    let wire = support::stuff(CLEAN);
    let (first, rest) = wire.split_at(wire.len() / 2);
    c.send(first).await;
    server.signal("TERM");
    // The idle session is told at once; that is also the sign the server
    // is draining.
    assert_eq!(idle.reply().await.0, 421);
    assert!(
        Client::connect(server.port).await.is_err(),
        "a new session was accepted while draining"
    );
    c.send(rest).await;
    let (code, text) = c.reply().await;
    assert_eq!(code, 250, "{text}");
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(sink.messages()[0].body, CLEAN);
    // Back to idle: the session is closed with 421, and the process exits.
    assert_eq!(c.reply().await.0, 421);
    assert!(server.wait_exit().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_reload_and_metrics() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::for_process(sink.port, "");
    let server = setup.spawn().await;
    // A broken config on SIGHUP is refused; the running one stays.
    std::fs::write(setup.config(), "[smtp]\nnot_a_key = 1\n").unwrap();
    server.signal("HUP");
    let mut c = Client::connect(server.port).await.unwrap();
    assert_eq!(
        c.mail("a@firm.example", &["b@partner.example"], CLEAN)
            .await
            .0,
        250
    );
    // A good one with loopback no longer allowed takes effect: 554.
    setup.write_config(sink.port, "allowed_networks = [\"10.0.0.0/8\"]");
    server.signal("HUP");
    wait_until_loopback_is_refused(&server).await;
    let metrics = http_get(server.http_port, "/metrics").await;
    assert!(
        metrics.contains("matterwall_messages_total{outcome=\"pass\"} 1"),
        "{metrics}"
    );
    assert!(
        metrics.contains("matterwall_reloads_total{result=\"refused\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("matterwall_held_messages 0"), "{metrics}");
    assert!(http_get(server.http_port, "/healthz")
        .await
        .ends_with("{\"status\":\"ok\",\"store\":\"reachable\"}\n"));
    let log = server.log();
    server.stop();
    assert!(!log.contains("lunch"), "message content in the log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_command_checks_first_then_signals() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::for_process(sink.port, "");
    let server = setup.spawn().await;
    let good = std::fs::read_to_string(setup.config()).unwrap();
    // A bad file: the command names the problem and signals nobody.
    std::fs::write(setup.config(), format!("{good}\n[smtp]\nlisten = 3\n")).unwrap();
    let out = setup.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("matterwall.toml"), "{err}");
    // A good one that refuses loopback: valid, signalled, and in force.
    std::fs::write(setup.config(), &good).unwrap();
    setup.write_config(sink.port, "allowed_networks = [\"10.0.0.0/8\"]");
    let out = setup.cli(&["reload"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("reload signalled"));
    wait_until_loopback_is_refused(&server).await;
    let metrics = http_get(server.http_port, "/metrics").await;
    assert!(
        metrics.contains("matterwall_reloads_total{result=\"refused\"} 0"),
        "{metrics}"
    );
    server.stop();
    // With the server gone its PID file is gone: a clear error, no signal.
    let out = setup.cli(&["reload"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is `matterwall serve` running?"));
}

/// Waits for a reload that removed loopback from `allowed_networks` to
/// land: polling for it, not asserting on its timing.
async fn wait_until_loopback_is_refused(server: &Process) {
    for _ in 0..200 {
        if banner(server.port).await.starts_with("554 5.7.1") {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("reload did not apply: {}", server.log());
}

/// The first line the server says to a new connection.
async fn banner(port: u16) -> String {
    let s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut line = String::new();
    let mut r = tokio::io::BufReader::new(s);
    tokio::io::AsyncBufReadExt::read_line(&mut r, &mut line)
        .await
        .unwrap();
    line
}

async fn http_get(port: u16, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    out
}

/// `docs/deploy/matterwall.service`, with this build and a test config in
/// place of the installed paths: `systemd-analyze verify` finds nothing to
/// say (unknown keys and bad values are warnings on stderr), and its
/// start-up check (`rules validate`) and reload command are real commands.
#[test]
fn the_shipped_systemd_unit_verifies() {
    let setup = Setup::for_process(support::free_port(), "");
    let unit = std::fs::read_to_string(support::repo().join("docs/deploy/matterwall.service"))
        .unwrap()
        .replace(
            "/usr/local/bin/matterwall",
            env!("CARGO_BIN_EXE_matterwall"),
        )
        .replace(
            "/etc/matterwall/matterwall.toml",
            setup.config().to_str().unwrap(),
        );
    assert!(unit.contains("Environment=MALLOC_ARENA_MAX=2"));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("matterwall.service");
    std::fs::write(&path, &unit).unwrap();
    let out = std::process::Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("systemd-analyze (Debian's systemd package; .ci/run installs it)");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && said.trim().is_empty(), "{said}");
    let pre = unit
        .lines()
        .find_map(|l| l.strip_prefix("ExecStartPre="))
        .unwrap();
    let words: Vec<&str> = pre.split_whitespace().collect();
    let check = std::process::Command::new(words[0])
        .args(&words[1..])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}
