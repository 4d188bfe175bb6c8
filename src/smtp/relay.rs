//! The SMTP client toward the next hop: one connection per message, a
//! timeout on every phase, TCP_NODELAY, the envelope passed as received and
//! the message bytes dot-stuffed exactly (no rewriting). It reports what the
//! next hop said per recipient and to the final dot; deciding what the
//! upstream client hears is the act stage's job.
//!
//! `[next_hop] tls`: after EHLO, STARTTLS when offered (`opportunistic`) or
//! always (`required`: not offered, refused or a failed handshake is a
//! transport failure, never a plaintext fallback). Bytes the next hop sent
//! behind its `220` are dropped with the read buffer before the handshake.
//! With `tls_client_cert`, the handshake presents it. `[next_hop] auth_user`:
//! AUTH after the TLS EHLO ([`auth`]), never on a plaintext connection.

mod auth;

use super::codec::{MailParams, Reply, Stuffed};
use super::stamp;
use super::stream::Stream;
use crate::config::next_hop::Auth;
use crate::config::stamp::StampKey;
use crate::config::tls::NextHopTls;
use crate::config::Config;
use std::time::Duration;
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::TlsConnector;

/// Where and how to relay, from `[next_hop]`.
#[derive(Debug, Clone)]
pub(crate) struct RelayConfig {
    pub(crate) address: String,
    pub(crate) helo_name: String,
    pub(crate) connect_timeout: Duration,
    pub(crate) command_timeout: Duration,
    pub(crate) data_done_timeout: Duration,
    pub(crate) tls: NextHopTls,
    pub(crate) auth: Option<Auth>,
    /// Every message sent carries the loop stamp made with this key.
    pub(crate) stamp: StampKey,
    /// `[[dkim]]`: what leaves for these domains is signed, last.
    pub(crate) dkim: std::sync::Arc<Vec<crate::config::dkim::DkimKey>>,
}

impl RelayConfig {
    pub(crate) fn from_config(cfg: &Config) -> RelayConfig {
        let raw = &cfg.next_hop;
        RelayConfig {
            tls: cfg.next_hop_tls.clone(),
            auth: cfg.next_hop_auth.clone(),
            stamp: cfg.stamp_key.clone(),
            dkim: cfg.dkim.clone(),
            address: raw.address.clone(),
            helo_name: raw.helo_name.clone().unwrap_or(cfg.smtp.hostname.clone()),
            connect_timeout: Duration::from_secs(raw.connect_timeout_secs),
            command_timeout: Duration::from_secs(raw.command_timeout_secs),
            data_done_timeout: Duration::from_secs(raw.data_done_timeout_secs),
        }
    }
}

/// A transport failure: the message's fate at the next hop is unknown or
/// negative, so the upstream must retry (`451 4.4.1`).
#[derive(Debug, Error)]
pub(crate) enum RelayError {
    #[error("cannot connect to the next hop {address}: {source}")]
    Connect {
        address: String,
        source: std::io::Error,
    },
    #[error("the next hop timed out during {0}")]
    Timeout(&'static str),
    #[error("I/O error with the next hop during {phase}: {source}")]
    Io {
        phase: &'static str,
        source: std::io::Error,
    },
    #[error("TLS with the next hop failed: {0}")]
    Tls(String),
    /// The loop stamp's key could not be read or made: nothing is sent
    /// unstamped (it would come straight back round the firm's loop).
    #[error("cannot stamp the message: {0}")]
    Stamp(String),
    /// Our credentials were refused or could not be sent safely: a 4xx to
    /// the client (a bounce would blame the message for our configuration).
    #[error("SMTP AUTH with the next hop failed: {0}")]
    Auth(String),
    #[error("the next hop sent a malformed reply during {0}")]
    Protocol(&'static str),
    /// The next hop refused the session or the sender: its reply stands.
    #[error("the next hop refused {phase}: {reply}")]
    Refused { phase: &'static str, reply: Reply },
}

/// What the next hop said about one message.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) accepted: Vec<String>,
    pub(crate) refused: Vec<(String, Reply)>,
    /// The reply to the final dot; `None` when DATA was not sent: no
    /// recipient accepted, or one refused temporarily.
    pub(crate) data: Option<Reply>,
}

const MAX_REPLY_LINE: u64 = 4096;

/// How much of a message is stuffed and written at a time.
const STUFFED_PIECE: usize = 256 * 1024;

struct Conn {
    io: BufReader<Stream<TcpStream>>,
    cfg: RelayConfig,
}

impl Conn {
    async fn read_reply(
        &mut self,
        phase: &'static str,
        limit: Duration,
    ) -> Result<Reply, RelayError> {
        match timeout(limit, self.read_reply_now(phase)).await {
            Ok(r) => r,
            Err(_) => Err(RelayError::Timeout(phase)),
        }
    }

    async fn read_reply_now(&mut self, phase: &'static str) -> Result<Reply, RelayError> {
        let mut lines: Vec<String> = Vec::new();
        loop {
            let mut line = Vec::new();
            let n = (&mut self.io)
                .take(MAX_REPLY_LINE)
                .read_until(b'\n', &mut line)
                .await
                .map_err(|source| RelayError::Io { phase, source })?;
            if n == 0 || !line.ends_with(b"\n") || line.len() < 4 {
                return Err(RelayError::Protocol(phase));
            }
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']);
            let code: u16 = text[..3].parse().map_err(|_| RelayError::Protocol(phase))?;
            lines.push(text.get(4..).unwrap_or("").to_string());
            match text.as_bytes().get(3) {
                Some(b'-') => continue,
                Some(b' ') | None => return Ok(Reply::new(code, lines.join("\n"))),
                Some(_) => return Err(RelayError::Protocol(phase)),
            }
        }
    }

    async fn send(&mut self, phase: &'static str, bytes: &[u8]) -> Result<(), RelayError> {
        let write = async {
            self.io.get_mut().write_all(bytes).await?;
            self.io.get_mut().flush().await
        };
        match timeout(self.cfg.command_timeout, write).await {
            Ok(r) => r.map_err(|source| RelayError::Io { phase, source }),
            Err(_) => Err(RelayError::Timeout(phase)),
        }
    }

    /// Sends a command and reads its reply within the command timeout.
    async fn command(&mut self, phase: &'static str, line: String) -> Result<Reply, RelayError> {
        self.send(phase, format!("{line}\r\n").as_bytes()).await?;
        self.read_reply(phase, self.cfg.command_timeout).await
    }

    /// Like [`Conn::command`], but anything but 2xx/3xx ends the relay.
    async fn expect(&mut self, phase: &'static str, line: String) -> Result<Reply, RelayError> {
        let reply = self.command(phase, line).await?;
        if reply.is_positive() {
            Ok(reply)
        } else {
            Err(RelayError::Refused { phase, reply })
        }
    }
}

async fn connect(cfg: &RelayConfig) -> Result<Conn, RelayError> {
    let stream = match timeout(cfg.connect_timeout, TcpStream::connect(&cfg.address)).await {
        Ok(Ok(s)) => s,
        Ok(Err(source)) => {
            return Err(RelayError::Connect {
                address: cfg.address.clone(),
                source,
            })
        }
        Err(_) => return Err(RelayError::Timeout("connect")),
    };
    stream.set_nodelay(true).map_err(|source| RelayError::Io {
        phase: "connect",
        source,
    })?;
    let mut conn = Conn {
        io: BufReader::new(Stream::Plain(stream)),
        cfg: cfg.clone(),
    };
    let banner = conn.read_reply("banner", cfg.command_timeout).await?;
    if banner.code != 220 {
        return Err(RelayError::Refused {
            phase: "banner",
            reply: banner,
        });
    }
    Ok(conn)
}

/// Relays one message. Recipients are tried one by one so each gets its own
/// answer; DATA is sent only if at least one was accepted.
pub(crate) async fn relay(
    cfg: &RelayConfig,
    from: &str,
    params: &MailParams,
    rcpts: &[String],
    raw: &[u8],
) -> Result<Outcome, RelayError> {
    let key = cfg
        .stamp
        .get()
        .map_err(|e| RelayError::Stamp(e.to_string()))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut stamp = stamp::line(&key, raw, now);
    // The signature goes on top of everything, covering the stamp too.
    if let Some(mut signature) = super::dkim::signature(&cfg.dkim, &stamp, raw, now) {
        signature.extend_from_slice(&stamp);
        stamp = signature;
    }
    let mut conn = connect(cfg).await?;
    let ehlo = conn
        .expect("EHLO", format!("EHLO {}", cfg.helo_name))
        .await?;
    let ehlo = secure(&mut conn, ehlo).await?;
    if let Some(creds) = &cfg.auth {
        auth::login(&mut conn, creds, &ehlo).await?;
    }
    let caps = capabilities(&ehlo);
    let has = |c: &str| caps.iter().any(|x| x == c);
    let mut mail = format!("MAIL FROM:<{from}>");
    if has("SIZE") {
        mail.push_str(&format!(" SIZE={}", stamp.len() + raw.len()));
    }
    if params.eight_bit && has("8BITMIME") {
        mail.push_str(" BODY=8BITMIME");
    }
    if params.smtputf8 {
        mail.push_str(" SMTPUTF8");
    }
    conn.expect("MAIL", mail).await?;
    let mut outcome = Outcome {
        accepted: Vec::new(),
        refused: Vec::new(),
        data: None,
    };
    for rcpt in rcpts {
        let reply = conn.command("RCPT", format!("RCPT TO:<{rcpt}>")).await?;
        if reply.is_positive() {
            outcome.accepted.push(rcpt.clone());
        } else {
            outcome.refused.push((rcpt.clone(), reply));
        }
    }
    // A temporary refusal of any recipient stops here, before DATA: the
    // upstream retries the whole message later, so no recipient is lost and
    // none gets a duplicate. Permanent refusals alongside acceptances go on.
    let deferred = outcome.refused.iter().any(|(_, r)| r.code < 500);
    if outcome.accepted.is_empty() || deferred {
        quit(&mut conn).await;
        return Ok(outcome);
    }
    let go = conn.command("DATA", "DATA".into()).await?;
    if go.code != 354 {
        return Err(RelayError::Refused {
            phase: "DATA",
            reply: go,
        });
    }
    // The stamp's and signature's lines never start with a dot: no stuffing.
    conn.send("message", &stamp).await?;
    // In pieces: no stuffed copy of a big message, and each piece has the
    // command timeout (RFC 5321 4.5.3.2.5 times each data block, not the
    // whole message).
    for piece in Stuffed::new(raw, STUFFED_PIECE) {
        conn.send("message", &piece).await?;
    }
    let done = conn
        .read_reply("end of data", cfg.data_done_timeout)
        .await?;
    outcome.data = Some(done);
    quit(&mut conn).await;
    Ok(outcome)
}

/// The EHLO reply's lines after the greeting, one extension each.
fn capability_lines(ehlo: &Reply) -> impl Iterator<Item = &str> {
    ehlo.text.lines().skip(1)
}

fn capabilities(ehlo: &Reply) -> Vec<String> {
    capability_lines(ehlo)
        .map(|l| l.split(' ').next().unwrap_or("").to_ascii_uppercase())
        .collect()
}

/// STARTTLS as `[next_hop] tls` says; returns the EHLO reply that stands
/// (after a handshake, the one given over TLS: RFC 3207 §4.2).
async fn secure(conn: &mut Conn, ehlo: Reply) -> Result<Reply, RelayError> {
    let (config, required) = match &conn.cfg.tls {
        NextHopTls::None => return Ok(ehlo),
        NextHopTls::Opportunistic(c) => (c.clone(), false),
        NextHopTls::Required(c) => (c.clone(), true),
    };
    if !capabilities(&ehlo).iter().any(|c| c == "STARTTLS") {
        if required {
            return Err(RelayError::Tls("STARTTLS not offered".into()));
        }
        return Ok(ehlo);
    }
    // Not `expect`: a 5xx here is about TLS, not the message, and must not
    // reach the client as a permanent failure.
    let go = conn.command("STARTTLS", "STARTTLS".into()).await?;
    if go.code != 220 {
        return Err(RelayError::Tls(format!("STARTTLS answered {}", go.code)));
    }
    handshake(conn, TlsConnector::from(config)).await?;
    let helo = format!("EHLO {}", conn.cfg.helo_name);
    conn.expect("EHLO", helo).await
}

/// Drops the read buffer (anything sent behind the `220` is an injection)
/// and swaps the socket for TLS, verifying the address's host name.
async fn handshake(conn: &mut Conn, connector: TlsConnector) -> Result<(), RelayError> {
    let host = host_of(&conn.cfg.address);
    let name = ServerName::try_from(host.to_string())
        .map_err(|_| RelayError::Tls(format!("{host:?} is not a valid TLS name")))?;
    let io = std::mem::replace(&mut conn.io, BufReader::new(Stream::Gone));
    let Stream::Plain(tcp) = io.into_inner() else {
        return Err(RelayError::Tls("STARTTLS twice".into()));
    };
    let tls = match timeout(conn.cfg.command_timeout, connector.connect(name, tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(e)) => return Err(RelayError::Tls(e.to_string())),
        Err(_) => return Err(RelayError::Timeout("TLS handshake")),
    };
    conn.io = BufReader::new(Stream::Tls(Box::new(tls.into())));
    Ok(())
}

/// `host:port`, `[v6]:port` → the host, as the certificate must name it.
fn host_of(address: &str) -> &str {
    let host = address.rsplit_once(':').map_or(address, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Best effort: the message's fate is already settled.
async fn quit(conn: &mut Conn) {
    let _ = timeout(Duration::from_secs(5), conn.command("QUIT", "QUIT".into())).await;
}

impl RelayError {
    /// True when the body may have reached the next hop: the failure came
    /// after the message was sent, so a retry could duplicate it.
    pub(crate) fn maybe_delivered(&self) -> bool {
        let phase = match self {
            RelayError::Timeout(p) | RelayError::Protocol(p) => *p,
            RelayError::Io { phase, .. } => *phase,
            RelayError::Connect { .. }
            | RelayError::Refused { .. }
            | RelayError::Tls(_)
            | RelayError::Auth(_)
            | RelayError::Stamp(_) => return false,
        };
        matches!(phase, "message" | "end of data")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_tls_name_is_the_address_host() {
        assert_eq!(super::host_of("mx.firm.example:25"), "mx.firm.example");
        assert_eq!(super::host_of("127.0.0.1:10026"), "127.0.0.1");
        assert_eq!(super::host_of("[::1]:10026"), "::1");
    }
}
