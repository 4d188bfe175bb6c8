//! A config in a temp dir (the shipped dictionaries, a small policy), the
//! CLI run against it, and the server started on it.

use super::{Ports, Process, Server};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A config in a temp dir, using the shipped dictionaries and default
/// rules plus a reject rule; `extra` is appended to `[smtp]`.
pub struct Setup {
    pub dir: tempfile::TempDir,
    /// The listening ports the config names: those of `ports`, or 0 for a
    /// server run as a process (which binds them itself).
    pub smtp_port: u16,
    pub http_port: u16,
    ports: Option<Ports>,
}

impl Setup {
    /// For a server run in-process ([`Setup::serve`]).
    pub fn new(next_hop_port: u16, smtp_extra: &str) -> Setup {
        let ports = Ports::bind();
        let s = Setup {
            dir: tempfile::tempdir().unwrap(),
            smtp_port: ports.smtp(),
            http_port: ports.review(),
            ports: Some(ports),
        };
        s.write_config(next_hop_port, smtp_extra);
        s
    }

    /// For the built binary run as a process ([`Setup::spawn`]).
    pub fn for_process(next_hop_port: u16, smtp_extra: &str) -> Setup {
        let s = Setup {
            dir: tempfile::tempdir().unwrap(),
            smtp_port: 0,
            http_port: 0,
            ports: None,
        };
        s.write_config(next_hop_port, smtp_extra);
        s
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("matterwall.toml")
    }

    pub fn write_config(&self, next_hop_port: u16, smtp_extra: &str) {
        self.write_config_with(next_hop_port, smtp_extra, "");
    }

    /// `next_hop_extra` is appended to `[next_hop]`.
    pub fn write_config_with(&self, next_hop_port: u16, smtp_extra: &str, next_hop_extra: &str) {
        let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
        let r = |f: &str| rules.join(f).display().to_string();
        // A test that sets its own limit must not repeat the key (TOML).
        let max_connections = if smtp_extra.contains("max_connections") {
            ""
        } else {
            "max_connections = 128"
        };
        let text = format!(
            r#"
[firm]
internal_domains = ["firm.example"]

[dictionaries]
clients = "{}"
matters = "{}"
waivers = "{}"
certs = "{}"

[smtp]
listen = "127.0.0.1:{}"
max_message_size = 100000
{max_connections}
{smtp_extra}

[next_hop]
address = "127.0.0.1:{next_hop_port}"
connect_timeout_secs = 2
command_timeout_secs = 2
data_done_timeout_secs = 2
{next_hop_extra}

[store]
url = "sqlite://data/mw.db"

[review]
listen = "127.0.0.1:{}"

[[rule]]
name = "unauthorised-recipient"
when = {{ mentions = true, any_recipient = "unauthorised" }}
action = "hold"

[[rule]]
name = "unparseable-recipient"
when = {{ any_recipient = "unparseable" }}
action = "hold"

[[rule]]
name = "blocked-sender"
when = {{ sender = ["blocked@firm.example"] }}
action = "reject"
"#,
            r("clients.csv"),
            r("matters.csv"),
            r("waivers.csv"),
            r("certs"),
            self.smtp_port,
            self.http_port,
        );
        std::fs::write(self.config(), text).unwrap();
    }

    /// Appends `toml` (more `[[rule]]` tables, say) to the config file.
    pub fn append(&self, toml: &str) {
        let mut text = std::fs::read_to_string(self.config()).unwrap();
        text.push_str(toml);
        std::fs::write(self.config(), text).unwrap();
    }

    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        Command::new(env!("CARGO_BIN_EXE_matterwall"))
            .arg("--config")
            .arg(self.config())
            .args(args)
            .output()
            .unwrap()
    }

    /// Runs the CLI with `stdin` as its standard input.
    pub fn cli_stdin(&self, args: &[&str], stdin: &str) -> std::process::Output {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_matterwall"))
            .arg("--config")
            .arg(self.config())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }

    /// Adds a review user with `password` (checked to succeed).
    pub fn add_user(&self, name: &str, role: &str, password: &str) {
        let out = self.cli_stdin(
            &["user", "add", name, "--role", role, "--password-stdin"],
            &format!("{password}\n"),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// A new API token for `user`.
    pub fn token(&self, user: &str) -> String {
        let out = self.cli(&["token", "create", user]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    /// The audit trail as `audit export` prints it.
    pub fn audit(&self) -> Vec<serde_json::Value> {
        let out = self.cli(&["audit", "export"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// `audit verify` passes on this setup's store (its output in the
    /// failure message).
    pub fn assert_audit_verifies(&self) {
        let out = self.cli(&["audit", "verify"]);
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("data/mw.db")
    }

    /// The held messages as `quarantine list --json` prints them.
    pub fn held(&self) -> Vec<serde_json::Value> {
        let out = self.cli(&["quarantine", "list", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Starts the server in-process and waits until it accepts.
    pub async fn serve(&self) -> Server {
        let ports = self.ports.as_ref().expect("a Setup::new, not for_process");
        Server::start(&self.config(), ports).await
    }

    /// Starts the server on the test's own runtime: see [`Server::start_here`].
    pub async fn serve_here(&self) -> Server {
        let ports = self.ports.as_ref().expect("a Setup::new, not for_process");
        Server::start_here(&self.config(), ports).await
    }

    /// Starts `matterwall serve` and waits until it answers.
    pub async fn spawn(&self) -> Process {
        assert!(self.ports.is_none(), "a Setup::for_process");
        Process::start(&self.config()).await
    }
}
