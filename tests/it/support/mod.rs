//! What the integration tests share: paths to the repository and the
//! labelled corpus, the built binary, the next-hop [`Sink`], the SMTP
//! [`Client`], the server under test in-process ([`Server`]) or as a
//! process ([`Process`]), and a config in a temp dir ([`Setup`]).

pub mod browser;
mod client;
pub mod http;
pub mod pki;
mod postfix;
pub mod postgres;
pub mod review;
mod server;
mod setup;
mod sink;

pub use client::{held_id, hold_one, send_misdirected, stuff, Client};
pub use postfix::Postfix;
pub use server::{Ports, Process, Server};
pub use setup::Setup;
pub use sink::{Got, Sink, SinkMode};

use std::path::{Path, PathBuf};
use std::process::Command;

/// A rule that holds a mention sent to an unauthorised recipient and
/// tells the sender, with compliance told of every hold: the notices the
/// notify and intake tests watch for at the sink.
pub const NOTIFY: &str = r#"
[[rule]]
name = "tell-the-sender"
when = { mentions = true, any_recipient = "unauthorised" }
action = "hold"
notify_sender = true

[notify]
compliance = ["compliance@firm.example"]
compliance_mode = "every-hold"
"#;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The labelled corpus beside the repository (`../shared/corpus`).
pub fn corpus() -> PathBuf {
    let dir = repo().join("../shared/corpus");
    assert!(
        dir.join("expected.jsonl").exists(),
        "the labelled corpus is missing at {}",
        dir.display()
    );
    dir
}

/// A temp folder holding a copy of the shipped `matterwall.toml` with the
/// dictionaries, waivers and certs of `dict_dir` beside it.
pub fn config_with_dictionaries(dict_dir: &Path) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let toml = std::fs::read_to_string(repo().join("rules/matterwall.toml")).unwrap();
    // The shipped examples live beside the shipped rules, not here.
    let toml = toml.split("[[example]]").next().unwrap().to_string();
    let path = tmp.path().join("matterwall.toml");
    std::fs::write(&path, toml).unwrap();
    for name in ["clients.csv", "matters.csv", "waivers.csv", "certs"] {
        std::os::unix::fs::symlink(
            dict_dir.join(name).canonicalize().unwrap(),
            tmp.path().join(name),
        )
        .unwrap();
    }
    (tmp, path)
}

/// Runs the built `matterwall` binary.
pub fn matterwall(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_matterwall"))
        .args(args)
        .output()
        .expect("run matterwall")
}

/// A port nothing listens on, for a next hop that is down and for peers
/// (Postfix, chromedriver) that must be told a port to bind themselves.
/// Bound and released, so another test could take it in between: never
/// used for the server under test, which gets [`Ports`].
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A shipped example from `rules/examples/`, with CRLF line ends.
pub fn example(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("rules/examples")
        .join(name);
    let raw = std::fs::read(p).unwrap();
    // The shipped examples may use LF line ends; SMTP needs CRLF.
    let mut out = Vec::new();
    for line in raw.split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    while out.ends_with(b"\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

/// The set-up most end-to-end tests begin with: a sink that refuses
/// `refuse`, a [`Setup`] whose next hop it is, and the server started on it.
pub async fn start(refuse: &[&str]) -> (Sink, Setup, Server) {
    let sink = Sink::start(SinkMode::Normal, refuse).await;
    let setup = Setup::new(sink.port, "");
    let server = setup.serve().await;
    (sink, setup, server)
}

/// Waits until `/metrics` counts `n` reloads with `result`.
pub async fn reloads_counted(http_port: u16, result: &str, n: usize) {
    let want = format!("matterwall_reloads_total{{result=\"{result}\"}} {n}");
    for _ in 0..200 {
        if http::get(http_port, "/metrics", &[])
            .await
            .text()
            .contains(&want)
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("no {want} in /metrics");
}
