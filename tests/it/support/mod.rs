//! Test support for the end-to-end tests: a next-hop sink written here (it
//! records envelopes and exact wire bytes, and can refuse recipients, be
//! down, or stall), an SMTP client, and the built `matterwall` binary run
//! against a config in a temp dir.

#![allow(dead_code)]

pub mod http;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// The sink's socket: plaintext, or TLS after STARTTLS.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}
type Conn = BufReader<Box<dyn Io>>;

/// One message as the sink got it: the body is un-dot-stuffed here, by the
/// test's own code, so the comparison does not trust the code under test.
#[derive(Debug, Clone)]
pub struct Got {
    pub from: String,
    pub rcpts: Vec<String>,
    pub body: Vec<u8>,
    /// The message came over TLS.
    pub tls: bool,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum SinkMode {
    Normal,
    /// Accepts the connection, never says a word.
    Stall,
    /// With TLS: sends a forged reply right behind its `220` to STARTTLS,
    /// in the same write (RELIABILITY §1 item 6).
    Inject,
}

pub struct Sink {
    pub port: u16,
    pub got: Arc<Mutex<Vec<Got>>>,
    /// Recipients answered `451 4.3.0` at RCPT while listed here; the test
    /// may change the list between attempts.
    pub tempfail: Arc<Mutex<Vec<String>>>,
}

impl Sink {
    /// `refuse`: recipients answered `550 5.1.1`.
    pub async fn start(mode: SinkMode, refuse: &[&str]) -> Sink {
        Sink::start_with(mode, refuse, None).await
    }

    /// A sink that offers STARTTLS with `tls`.
    pub async fn start_tls(mode: SinkMode, tls: Arc<ServerConfig>) -> Sink {
        Sink::start_with(mode, &[], Some(tls)).await
    }

    async fn start_with(mode: SinkMode, refuse: &[&str], tls: Option<Arc<ServerConfig>>) -> Sink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let tempfail = Arc::new(Mutex::new(Vec::new()));
        let refuse: Arc<Vec<String>> = Arc::new(refuse.iter().map(|s| s.to_string()).collect());
        let (g, t) = (got.clone(), tempfail.clone());
        tokio::spawn(async move {
            loop {
                let Ok((s, _)) = listener.accept().await else {
                    return;
                };
                let (g, refuse, tls) = (g.clone(), refuse.clone(), tls.clone());
                let t = t.clone();
                tokio::spawn(async move {
                    if mode == SinkMode::Stall {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                    }
                    let inject = mode == SinkMode::Inject;
                    let _ = sink_session(s, g, (refuse, t), tls, inject).await;
                });
            }
        });
        Sink {
            port,
            got,
            tempfail,
        }
    }

    pub fn messages(&self) -> Vec<Got> {
        self.got.lock().unwrap().clone()
    }
}

async fn sink_session(
    s: TcpStream,
    got: Arc<Mutex<Vec<Got>>>,
    (refuse, tempfail): (Arc<Vec<String>>, Arc<Mutex<Vec<String>>>),
    mut tls: Option<Arc<ServerConfig>>,
    inject: bool,
) -> std::io::Result<()> {
    let mut s: Conn = BufReader::new(Box::new(s));
    s.get_mut().write_all(b"220 sink ESMTP\r\n").await?;
    let mut secure = false;
    let mut cur = Got {
        from: String::new(),
        rcpts: Vec::new(),
        body: Vec::new(),
        tls: false,
    };
    loop {
        let mut line = String::new();
        if s.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        let path = || line[line.find('<').unwrap() + 1..line.rfind('>').unwrap()].to_string();
        let reply: String = if upper.starts_with("EHLO") {
            let offer = if tls.is_some() {
                "250-STARTTLS\r\n"
            } else {
                ""
            };
            format!("250-sink\r\n{offer}250-8BITMIME\r\n250 SIZE 100000000\r\n")
        } else if upper.starts_with("STARTTLS") && tls.is_some() {
            let go: &[u8] = if inject {
                b"220 go ahead\r\n250-forged\r\n250 STARTTLS\r\n"
            } else {
                b"220 go ahead\r\n"
            };
            s.get_mut().write_all(go).await?;
            let acceptor = TlsAcceptor::from(tls.take().unwrap());
            let stream = acceptor.accept(s.into_inner()).await?;
            s = BufReader::new(Box::new(stream));
            secure = true;
            continue;
        } else if upper.starts_with("MAIL FROM:") {
            cur = Got {
                from: path(),
                rcpts: Vec::new(),
                body: Vec::new(),
                tls: secure,
            };
            "250 2.1.0 ok\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            let r = path();
            if refuse.contains(&r) {
                "550 5.1.1 no such user\r\n".into()
            } else if tempfail.lock().unwrap().contains(&r) {
                "451 4.3.0 try again later\r\n".into()
            } else {
                cur.rcpts.push(r);
                "250 2.1.5 ok\r\n".into()
            }
        } else if upper.starts_with("DATA") {
            s.get_mut().write_all(b"354 go\r\n").await?;
            cur.body = read_body(&mut s).await?;
            let mut g = got.lock().unwrap();
            g.push(cur.clone());
            format!("250 2.0.0 queued as sink{}\r\n", g.len())
        } else if upper.starts_with("QUIT") {
            s.get_mut().write_all(b"221 bye\r\n").await?;
            return Ok(());
        } else {
            "250 ok\r\n".into()
        };
        s.get_mut().write_all(reply.as_bytes()).await?;
    }
}

/// Reads dot-stuffed lines to `.` and undoes the stuffing; asserts that
/// every line ends in CRLF (nothing bare is ever forwarded).
async fn read_body(s: &mut Conn) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut line = Vec::new();
        s.read_until(b'\n', &mut line).await?;
        assert!(
            line.ends_with(b"\r\n"),
            "the relay sent a bare LF: {line:?}"
        );
        assert!(
            !line[..line.len() - 2].contains(&b'\r'),
            "the relay sent a bare CR"
        );
        if line == b".\r\n" {
            return Ok(body);
        }
        let start = usize::from(line.first() == Some(&b'.'));
        body.extend_from_slice(&line[start..]);
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A config in a temp dir, using the shipped dictionaries and default
/// rules plus a reject rule; `extra` is appended to `[smtp]`.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub smtp_port: u16,
    pub http_port: u16,
}

impl Setup {
    pub fn new(next_hop_port: u16, smtp_extra: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let s = Setup {
            dir,
            smtp_port: free_port(),
            http_port: free_port(),
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
max_connections = 128
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

    /// Starts `matterwall serve` and waits until it answers.
    pub async fn serve(&self) -> Server {
        Server::start(&self.config(), self.smtp_port).await
    }
}

pub struct Server {
    pub child: Child,
    pub port: u16,
    log: PathBuf,
}

impl Server {
    /// Runs `matterwall serve` on `config` (which listens on `port`), with
    /// its log in `serve.log` beside the config, and waits until it answers.
    pub async fn start(config: &Path, port: u16) -> Server {
        let log_path = config.with_file_name("serve.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_matterwall"))
            .arg("--config")
            .arg(config)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let server = Server {
            child,
            port,
            log: log_path,
        };
        for _ in 0..600 {
            if let Ok(mut c) = Client::connect(port).await {
                c.cmd("QUIT").await;
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("server did not start: {}", server.log());
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.child.id().to_string())
            .status();
        assert!(ok.unwrap().success());
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) {
        self.signal("TERM");
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "serve exited with {status}: {}",
            self.log()
        );
    }

    /// Waits for the process to exit on its own (after a signal).
    pub fn wait_exit(mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }

    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub struct Client {
    io: BufReader<TcpStream>,
}

impl Client {
    /// Connects and reads the banner.
    pub async fn connect(port: u16) -> std::io::Result<Client> {
        let s = TcpStream::connect(("127.0.0.1", port)).await?;
        let mut c = Client {
            io: BufReader::new(s),
        };
        let (code, _) = c.reply().await;
        assert_eq!(code, 220);
        Ok(c)
    }

    /// One reply: its code and the text of the last line.
    pub async fn reply(&mut self) -> (u16, String) {
        loop {
            let mut line = String::new();
            let n = self.io.read_line(&mut line).await.unwrap_or(0);
            if n == 0 {
                return (0, "connection closed".into());
            }
            if line.as_bytes().get(3) != Some(&b'-') {
                return (line[..3].parse().unwrap(), line[4..].trim_end().to_string());
            }
        }
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        self.io.get_mut().write_all(bytes).await.unwrap();
    }

    pub async fn cmd(&mut self, line: &str) -> (u16, String) {
        self.send(format!("{line}\r\n").as_bytes()).await;
        self.reply().await
    }

    /// A whole transaction; returns the reply to the end of DATA.
    pub async fn mail(&mut self, from: &str, to: &[&str], body: &[u8]) -> (u16, String) {
        assert_eq!(self.cmd("EHLO test").await.0, 250);
        assert_eq!(self.cmd(&format!("MAIL FROM:<{from}>")).await.0, 250);
        for t in to {
            assert_eq!(self.cmd(&format!("RCPT TO:<{t}>")).await.0, 250);
        }
        assert_eq!(self.cmd("DATA").await.0, 354);
        self.send(&stuff(body)).await;
        self.reply().await
    }

    /// True once the server closed (or reset) the connection.
    pub async fn closed(&mut self) -> bool {
        let mut b = [0u8; 16];
        matches!(self.io.read(&mut b).await, Ok(0) | Err(_))
    }
}

/// The test's own dot-stuffing, independent of the code under test.
pub fn stuff(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in body.split_inclusive(|b| *b == b'\n') {
        if line.first() == Some(&b'.') {
            out.push(b'.');
        }
        out.extend_from_slice(line);
    }
    out.extend_from_slice(b".\r\n");
    out
}

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

/// The held message's id from the reply to DATA, which must be
/// `250 … held as ID`.
pub fn held_id(reply: &(u16, String)) -> String {
    assert!(
        reply.0 == 250 && reply.1.contains("held as"),
        "not held: {reply:?}"
    );
    reply.1.rsplit(' ').next().unwrap().to_string()
}

/// Sends the shipped misdirected example (held by the default policy);
/// returns the held message's id.
pub async fn hold_one(port: u16) -> String {
    let mut c = Client::connect(port).await.unwrap();
    let reply = c
        .mail(
            "a.partner@firm.example",
            &["j.smith@meridian-tankers.com"],
            &example("misdirected.eml"),
        )
        .await;
    held_id(&reply)
}
