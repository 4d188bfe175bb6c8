//! The server under test, two ways.
//!
//! [`Server`] runs `matterwall::server::run` in this process, on listeners
//! the test bound on `127.0.0.1:0` and keeps ([`Ports`]): no port is picked,
//! released and hoped for, and a restarted server comes back on the same
//! ports. It gets its own runtime on its own thread, as a process would, so
//! a test's runtime never starves it, and its own log, captured in memory in
//! the binary's format.
//!
//! [`Process`] runs the built `matterwall serve` as users do, for what only
//! a process shows: signals, the PID file, `kill -9`. Its config listens on
//! port 0 and the ports are read from its "listening" log line.

use super::Client;
use matterwall::engine::Engine;
use matterwall::server::{self, Listeners, Signal};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// The SMTP and review sockets of one test, bound for the test's life.
pub struct Ports {
    smtp: TcpListener,
    review: TcpListener,
}

impl Ports {
    pub fn bind() -> Ports {
        let bind = || TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        Ports {
            smtp: bind(),
            review: bind(),
        }
    }

    pub fn smtp(&self) -> u16 {
        self.smtp.local_addr().unwrap().port()
    }

    pub fn review(&self) -> u16 {
        self.review.local_addr().unwrap().port()
    }

    /// The same sockets for one server run (the test keeps its own).
    fn listeners(&self) -> Listeners {
        Listeners {
            smtp: self.smtp.try_clone().unwrap(),
            review: self.review.try_clone().unwrap(),
        }
    }
}

/// What one in-process server logged, in the format `serve` writes.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    /// A dispatcher writing here, as `main.rs`'s `init_logging` sets up.
    fn dispatch(&self) -> tracing::Dispatch {
        let log = self.clone();
        tracing::Dispatch::new(
            tracing_subscriber::fmt()
                .with_writer(move || log.clone())
                .with_ansi(false)
                .finish(),
        )
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// `matterwall::server::run` on its own thread and runtime.
pub struct Server {
    pub port: u16,
    signals: mpsc::Sender<Signal>,
    done: oneshot::Receiver<Result<(), String>>,
    log: Log,
}

impl Server {
    /// Loads `config` and serves it on `ports` until stopped (or dropped);
    /// returns once it is accepting.
    pub async fn start(config: &Path, ports: &Ports) -> Server {
        let (signals, rx) = mpsc::channel(4);
        let (done_tx, done) = oneshot::channel();
        let log = Log::default();
        let (path, listeners, dispatch) = (config.to_path_buf(), ports.listeners(), log.dispatch());
        std::thread::spawn(move || {
            let _here = tracing::dispatcher::set_default(&dispatch);
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                // Every worker and blocking thread logs to this server's
                // log for its whole life, so the guard is never dropped.
                .on_thread_start(move || {
                    std::mem::forget(tracing::dispatcher::set_default(&dispatch))
                })
                .build()
                .expect("a runtime for the server");
            let result = match Engine::load(&path) {
                Ok(cfg) => runtime
                    .block_on(server::run(&path, cfg, listeners, rx))
                    .map_err(|e| error_chain(&e)),
                Err(e) => Err(format!("{e}: {:?}", e.problems)),
            };
            let _ = done_tx.send(result);
        });
        let mut server = Server {
            port: ports.smtp(),
            signals,
            done,
            log,
        };
        server.wait_listening().await;
        server
    }

    /// The same on the test's own runtime, for a test that runs on tokio's
    /// paused clock (`start_paused`), so the server's timeouts pass without
    /// being waited for. Its log holds only what `run` itself logs, not its
    /// sessions (their tasks do not inherit the subscriber).
    pub async fn start_here(config: &Path, ports: &Ports) -> Server {
        use tracing::instrument::WithSubscriber;
        let (signals, rx) = mpsc::channel(4);
        let (done_tx, done) = oneshot::channel();
        let log = Log::default();
        let (path, listeners) = (config.to_path_buf(), ports.listeners());
        let cfg = Engine::load(&path).unwrap_or_else(|e| panic!("{e}: {:?}", e.problems));
        let run = async move {
            let result = server::run(&path, cfg, listeners, rx).await;
            let _ = done_tx.send(result.map_err(|e| error_chain(&e)));
        };
        tokio::spawn(run.with_subscriber(log.dispatch()));
        let mut server = Server {
            port: ports.smtp(),
            signals,
            done,
            log,
        };
        server.wait_listening().await;
        server
    }

    async fn wait_listening(&mut self) {
        for _ in 0..600 {
            if self.log().contains("listening") {
                return;
            }
            if let Ok(Err(e)) = self.done.try_recv() {
                panic!("serve failed: {e}\n{}", self.log());
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("server did not start: {}", self.log());
    }

    pub fn log(&self) -> String {
        self.log.text()
    }

    /// What SIGHUP does to `matterwall serve`.
    pub async fn reload(&self) {
        self.signals.send(Signal::Reload).await.unwrap();
    }

    /// Stops, waits for the drain, and checks the server ended cleanly.
    pub async fn stop(self) {
        let Server {
            signals, done, log, ..
        } = self;
        signals.send(Signal::Stop).await.unwrap();
        let result = done.await.expect("the server thread ended");
        if let Err(e) = result {
            panic!("serve failed: {e}\n{}", log.text());
        }
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}

/// The built `matterwall serve` as a child process.
pub struct Process {
    pub child: Child,
    pub port: u16,
    pub http_port: u16,
    log: PathBuf,
}

impl Process {
    /// Runs `matterwall serve` on `config` (which listens on port 0), with
    /// its log in `serve.log` beside the config, and waits until it answers.
    pub async fn start(config: &Path) -> Process {
        Process::start_under(&[], config).await
    }

    /// [`Process::start`] under a wrapper command (`prlimit --as=N`,
    /// `faketime …`): `wrapper` runs the binary with its arguments.
    pub async fn start_under(wrapper: &[&str], config: &Path) -> Process {
        let log_path = config.with_file_name("serve.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let bin = env!("CARGO_BIN_EXE_matterwall");
        let mut cmd = match wrapper.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let child = cmd
            .arg("--config")
            .arg(config)
            .arg("serve")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        let mut server = Process {
            child,
            port: 0,
            http_port: 0,
            log: log_path,
        };
        for _ in 0..600 {
            if let Some((smtp, review)) = listening(&server.log()) {
                (server.port, server.http_port) = (smtp, review);
                let mut c = Client::connect(smtp).await.unwrap();
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

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The ports in the "listening smtp=… review=…" log line.
fn listening(log: &str) -> Option<(u16, u16)> {
    let line = log.lines().find(|l| l.contains(" listening "))?;
    let port = |key: &str| -> Option<u16> {
        let at = line.find(key)? + key.len();
        let addr = line[at..].split_whitespace().next()?;
        addr.rsplit(':').next()?.parse().ok()
    };
    Some((port("smtp=")?, port("review=")?))
}
