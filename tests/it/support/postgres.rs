//! A private PostgreSQL cluster for the tests (issue #13): `initdb` in a
//! temp dir, `postgres` on a free loopback port with fsync on, never the
//! system service. As root, the cluster runs as `nobody` (PostgreSQL
//! refuses to run as root) in a directory handed to it.
//!
//! One cluster serves a whole test process ([`PgCluster::shared`]), each
//! test in a database of its own ([`PgCluster::fresh_db`]). A static is
//! never dropped, so the server runs under a keeper shell that stops it
//! when the test process's end closes the keeper's stdin. A test that
//! stops and starts PostgreSQL makes its own with [`PgCluster::new`].
//!
//! PostgreSQL missing is a failure naming `.ci/run`, as for the other
//! peers the tests drive.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    keeper: Option<Child>,
    /// `ssl = on` with a self-signed certificate ([`PgCluster::with_tls`]).
    tls: bool,
}

/// The newest installed PostgreSQL's binaries (Debian keeps them per
/// major version, off the PATH).
fn bindir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists())
        .collect();
    found.sort_by_key(|p| {
        let v = p
            .parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str());
        v.and_then(|v| v.parse::<u32>().ok()).unwrap_or(0)
    });
    found
        .pop()
        .expect("PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run .ci/run, which installs it")
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().expect("id -u");
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

/// `cmd` as the cluster's owner: `nobody` when we are root.
fn as_owner(program: &std::path::Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "nobody", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

impl PgCluster {
    /// initdb and start a cluster of its own.
    pub fn new() -> PgCluster {
        PgCluster::init(false)
    }

    /// A cluster of its own with `ssl = on`, its certificate self-signed
    /// by `openssl` for `localhost` and `127.0.0.1` ([`PgCluster::cert`]).
    pub fn with_tls() -> PgCluster {
        PgCluster::init(true)
    }

    /// The server's self-signed certificate (PEM), for `sslrootcert`.
    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("server.crt")
    }

    fn init(tls: bool) -> PgCluster {
        let bin = bindir();
        let dir = tempfile::Builder::new()
            .prefix("matterwall-pg")
            .tempdir()
            .expect("temp dir");
        if is_root() {
            let out = Command::new("chown")
                .args(["-R", "nobody:"])
                .arg(dir.path())
                .output()
                .expect("chown");
            assert!(out.status.success(), "chown: {out:?}");
        }
        let out = as_owner(&bin.join("initdb"))
            .args([
                "-U",
                "matterwall",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(dir.path().join("data"))
            .output()
            .expect("initdb");
        assert!(out.status.success(), "initdb failed: {out:?}");
        let mut c = PgCluster {
            dir,
            bin,
            port: super::free_port(),
            keeper: None,
            tls,
        };
        if tls {
            c.make_cert();
        }
        c.start();
        c
    }

    /// A P-256 key and a self-signed certificate, owned by the cluster's
    /// owner with the key 0600 (PostgreSQL refuses a key others can read).
    fn make_cert(&self) {
        let (crt, key) = (self.cert(), self.dir.path().join("server.key"));
        let out = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
            .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "2"])
            .args(["-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            // Its own trust anchor for `verify-full`, and not a CA: webpki
            // refuses a CA certificate as a server's.
            .args(["-addext", "basicConstraints=critical,CA:FALSE"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&crt)
            .output()
            .expect("openssl (run .ci/run, which installs it)");
        assert!(out.status.success(), "openssl req: {out:?}");
        let mut chmod = Command::new("chmod");
        assert!(chmod.arg("600").arg(&key).status().unwrap().success());
        if is_root() {
            let mut chown = Command::new("chown");
            chown.arg("nobody:").arg(&key).arg(&crt);
            assert!(chown.status().unwrap().success());
        }
    }

    /// The cluster this test process shares.
    pub fn shared() -> &'static PgCluster {
        static SHARED: OnceLock<PgCluster> = OnceLock::new();
        SHARED.get_or_init(PgCluster::new)
    }

    /// Starts the server under its keeper and waits until it answers.
    pub fn start(&mut self) {
        let dir = self.dir.path().display();
        let ssl = if self.tls {
            format!("-c ssl=on -c ssl_cert_file={dir}/server.crt -c ssl_key_file={dir}/server.key")
        } else {
            "-c ssl=off".into()
        };
        let script = format!(
            "{} -D {} -p {} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=on \
             -c max_connections=200 {ssl} >{dir}/log 2>&1 & p=$!; read _; kill -INT $p; wait $p",
            self.bin.join("postgres").display(),
            self.dir.path().join("data").display(),
            self.port,
        );
        let keeper = as_owner(std::path::Path::new("/bin/sh"))
            .args(["-c", &script])
            .stdin(Stdio::piped())
            .spawn()
            .expect("start postgres");
        self.keeper = Some(keeper);
        let t0 = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() || !self.ready() {
            assert!(
                t0.elapsed() < Duration::from_secs(60),
                "PostgreSQL did not start: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn ready(&self) -> bool {
        Command::new(self.bin.join("pg_isready"))
            .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Stops the server (fast shutdown) and waits for it to be gone.
    pub fn stop(&mut self) {
        if let Some(mut k) = self.keeper.take() {
            drop(k.stdin.take());
            let _ = k.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    pub fn url(&self, db: &str) -> String {
        format!("postgres://matterwall@127.0.0.1:{}/{db}", self.port)
    }

    /// A new empty database; returns its URL.
    pub fn fresh_db(&self) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "t{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        let out = Command::new(self.bin.join("psql"))
            .args(["-q", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url("postgres"))
            .args(["-c", &format!("CREATE DATABASE {name}")])
            .output()
            .expect("psql");
        assert!(out.status.success(), "CREATE DATABASE: {out:?}");
        self.url(&name)
    }

    /// Runs SQL as the superuser (a test playing an administrator, or an
    /// attacker with database access).
    pub fn psql(&self, url: &str, sql: &str) -> String {
        self.try_psql(url, sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    /// As [`PgCluster::psql`]; the error PostgreSQL gave when it refused.
    pub fn try_psql(&self, url: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-q",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
                url,
                "-c",
                sql,
            ])
            .output()
            .expect("psql");
        if !out.status.success() {
            return Err(String::from_utf8_lossy(&out.stderr).into_owned());
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
    }
}
