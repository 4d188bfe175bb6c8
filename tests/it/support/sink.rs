//! The next hop, written here: it records envelopes and exact wire bytes
//! (un-dot-stuffed by the test's own code), and can refuse or tempfail
//! recipients, offer STARTTLS, stall, or inject a reply behind its `220`.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// The sink's socket: plaintext, or TLS after STARTTLS.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}
type Conn = BufReader<Box<dyn Io>>;

/// One message as the sink got it: the body is un-dot-stuffed here, by the
/// test's own code, so the comparison does not trust the code under test.
/// The loop stamp matterwall puts on top of everything it sends (issue 14)
/// is taken off into `stamp`, so `body` is what the sender wrote, byte for
/// byte; `tests/it/stamp.rs` checks the stamp itself.
#[derive(Debug, Clone)]
pub struct Got {
    pub from: String,
    pub rcpts: Vec<String>,
    pub body: Vec<u8>,
    /// The message came over TLS.
    pub tls: bool,
    /// The name the relay gave in its (last) EHLO.
    pub helo: String,
    /// The `X-Matterwall-Stamp: …` line that came first, CRLF included.
    pub stamp: Option<Vec<u8>>,
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

    /// A plain sink on `port`: a next hop that was down (nothing listened
    /// there) and is back.
    pub async fn start_at(port: u16, refuse: &[&str]) -> Sink {
        Sink::bind_with(port, SinkMode::Normal, refuse, None).await
    }

    async fn start_with(mode: SinkMode, refuse: &[&str], tls: Option<Arc<ServerConfig>>) -> Sink {
        Sink::bind_with(0, mode, refuse, tls).await
    }

    async fn bind_with(
        port: u16,
        mode: SinkMode,
        refuse: &[&str],
        tls: Option<Arc<ServerConfig>>,
    ) -> Sink {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
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

    /// Waits for the sink to hold `n` messages (or gives up after ten
    /// seconds and returns what it has, for the caller's assertion to
    /// name): notices are sent in the background once the client has its
    /// 250.
    pub async fn wait_for(&self, n: usize) -> Vec<Got> {
        for _ in 0..500 {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.messages()
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
    let mut helo = String::new();
    let mut cur = Got {
        from: String::new(),
        rcpts: Vec::new(),
        body: Vec::new(),
        tls: false,
        helo: String::new(),
        stamp: None,
    };
    loop {
        let mut line = String::new();
        if s.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        let path = || line[line.find('<').unwrap() + 1..line.rfind('>').unwrap()].to_string();
        let reply: String = if upper.starts_with("EHLO") {
            helo = line[4..].trim().to_string();
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
                helo: helo.clone(),
                stamp: None,
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
            let body = read_body(&mut s).await?;
            (cur.stamp, cur.body) = unstamp(body);
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

/// Splits off the first line when it is matterwall's loop stamp.
fn unstamp(body: Vec<u8>) -> (Option<Vec<u8>>, Vec<u8>) {
    if !body.starts_with(b"X-Matterwall-Stamp: v=1; ") {
        return (None, body);
    }
    let end = body
        .iter()
        .position(|b| *b == b'\n')
        .map_or(body.len(), |i| i + 1);
    (Some(body[..end].to_vec()), body[end..].to_vec())
}
