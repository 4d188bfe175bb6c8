//! One SMTP session over any `AsyncRead + AsyncWrite`: the state machine
//! that orders commands, applies the limits, and hands a complete message to
//! the act stage ([`Settle`]), whose reply it sends verbatim. The session
//! itself never says 250 to DATA.
//!
//! Pipelining falls out of the loop: every complete command in the buffer is
//! handled before the next read, and replies are flushed only when the buffer
//! is drained.
//!
//! STARTTLS (RFC 3207) swaps the stream for TLS and starts over from
//! `Connected`; whatever the client sent behind the command in plaintext is
//! dropped unread (CVE-2011-0411: it would otherwise run as if encrypted).

use super::budget::{Budget, Reservation};
use super::codec::{
    parse_command, DataError, DataReceiver, Line, LineReader, MailParams, Reply, Request,
};
use super::intake;
use super::stream::Stream;
use crate::config::Config;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// How far shutdown has gone; sessions watch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Shutdown {
    Running,
    /// SIGTERM: finish the transaction in flight, then close with 421.
    Draining,
    /// The grace period is over: close now with 421.
    Now,
}

/// The limits a session runs under, fixed when it starts (a reload applies
/// to the next connection).
#[derive(Debug, Clone)]
pub struct Limits {
    pub hostname: String,
    pub max_message_size: usize,
    pub max_recipients: usize,
    pub max_commands: usize,
    pub command_timeout: Duration,
    pub data_timeout: Duration,
    /// The session's lifetime cap, from its start.
    pub max_session: Duration,
    /// The STARTTLS server side; `None`: not offered.
    pub tls: Option<Arc<ServerConfig>>,
    /// `[smtp] accept_tenant_ids`, lower-case; empty: no tenant check.
    pub accept_tenants: Vec<String>,
    /// To tell our own loop stamp from a forged one in what arrives.
    pub stamp: crate::config::stamp::StampKey,
    /// DATA bytes in memory across all sessions (the listener's, shared).
    pub buffer: Arc<Budget>,
}

impl Limits {
    pub fn from_config(cfg: &Config) -> Limits {
        let s = &cfg.smtp;
        Limits {
            hostname: s.hostname.clone(),
            max_message_size: s.max_message_size,
            max_recipients: s.max_recipients,
            max_commands: s.max_commands,
            command_timeout: Duration::from_secs(s.command_timeout_secs),
            data_timeout: Duration::from_secs(s.data_timeout_secs),
            // Zero would refuse every session: read it as one second.
            max_session: Duration::from_secs(s.max_session_secs.max(1)),
            tls: cfg.tls.clone(),
            accept_tenants: s
                .accept_tenant_ids
                .iter()
                .map(|t| t.to_ascii_lowercase())
                .collect(),
            stamp: cfg.stamp_key.clone(),
            buffer: Budget::new(s.max_buffered_bytes),
        }
    }
}

/// One mail transaction: what MAIL and RCPT gave us. RSET drops it whole.
#[derive(Debug, Clone, Default)]
pub struct Transaction {
    pub from: String,
    pub params: MailParams,
    pub rcpts: Vec<String>,
}

/// Who is on the other end: lives as long as the connection.
#[derive(Debug, Clone)]
pub struct Peer {
    pub addr: Option<SocketAddr>,
    pub helo: Option<String>,
    pub esmtp: bool,
}

/// The act stage: the only code that decides the reply to DATA.
pub trait Settle: Send + Sync + 'static {
    fn settle(
        &self,
        peer: &Peer,
        tx: Transaction,
        raw: Vec<u8>,
    ) -> impl Future<Output = Reply> + Send;
}

enum State {
    /// Before EHLO/HELO.
    Connected,
    /// Greeted, no transaction open.
    Greeted,
    /// MAIL given; RCPTs accumulate.
    Mail(Transaction),
    /// After 354: the body is arriving, until `deadline`.
    Data(Transaction, Box<DataReceiver>, Instant),
}

/// What the loop does after a command.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
    /// `220` queued: flush it, then hand the socket to the TLS handshake.
    StartTls,
}

pub struct Session<S, A> {
    stream: Stream<S>,
    settle: Arc<A>,
    limits: Limits,
    shutdown: watch::Receiver<Shutdown>,
    peer: Peer,
    state: State,
    input: Vec<u8>,
    lines: LineReader,
    output: Vec<u8>,
    commands: usize,
    /// When the first byte of the command line now arriving came: the whole
    /// line is due `command_timeout` after it (a per-byte idle timer alone
    /// lets a slowloris keep its slot for ever).
    line_started: Option<Instant>,
    /// `max_session` after the session began.
    session_end: Instant,
    /// The DATA bytes this session's message may hold, while it is read
    /// and settled.
    reserved: Option<Reservation>,
}

const READ_CHUNK: usize = 16 * 1024;

impl<S, A> Session<S, A>
where
    S: AsyncRead + AsyncWrite + Unpin,
    A: Settle,
{
    pub fn new(
        stream: S,
        settle: Arc<A>,
        limits: Limits,
        peer: Option<SocketAddr>,
        shutdown: watch::Receiver<Shutdown>,
    ) -> Self {
        Session {
            stream: Stream::Plain(stream),
            settle,
            shutdown,
            peer: Peer {
                addr: peer,
                helo: None,
                esmtp: false,
            },
            state: State::Connected,
            input: Vec::new(),
            lines: LineReader::default(),
            output: Vec::new(),
            commands: 0,
            line_started: None,
            session_end: Instant::now() + limits.max_session,
            reserved: None,
            limits,
        }
    }

    /// Runs the session to its end. I/O errors just end it: the client
    /// never got a 250 for anything unsettled.
    pub async fn run(mut self) -> std::io::Result<()> {
        // RFC 5321 §4.2: the domain comes first (no enhanced code in a greeting).
        let banner = format!("{} ESMTP matterwall", self.limits.hostname);
        self.reply(Reply::new(220, banner));
        loop {
            match self.step().await? {
                Flow::Continue => {}
                Flow::StartTls => self.start_tls().await?,
                Flow::Close => {
                    self.flush().await?;
                    return self.stream.shutdown().await;
                }
            }
        }
    }

    /// Sends the `220`, drops every byte already read (pipelined in
    /// plaintext behind STARTTLS), handshakes, and forgets the greeting.
    async fn start_tls(&mut self) -> std::io::Result<()> {
        self.flush().await?;
        self.input.clear();
        self.lines = LineReader::default();
        let Some(config) = self.limits.tls.clone() else {
            unreachable!("STARTTLS accepted without a certificate");
        };
        let Stream::Plain(plain) = std::mem::replace(&mut self.stream, Stream::Gone) else {
            unreachable!("STARTTLS accepted twice");
        };
        let deadline = Instant::now() + self.limits.command_timeout;
        let tls = match timeout_at(deadline, TlsAcceptor::from(config).accept(plain)).await {
            Ok(r) => r?,
            Err(_) => return Err(std::io::ErrorKind::TimedOut.into()),
        };
        self.stream = Stream::Tls(Box::new(tls.into()));
        self.state = State::Connected;
        self.peer.helo = None;
        self.peer.esmtp = false;
        Ok(())
    }

    /// Handles whatever is buffered, or flushes and reads more.
    async fn step(&mut self) -> std::io::Result<Flow> {
        if let State::Data(_, rx, _) = &mut self.state {
            let (used, end) = rx.feed(&self.input);
            self.input.drain(..used);
            if let Some(end) = end {
                self.end_of_data(end).await;
                return Ok(Flow::Continue);
            }
        } else if let Some(line) = self.lines.next_line(&mut self.input) {
            self.line_started = None;
            return Ok(self.command(line));
        }
        self.flush().await?;
        self.read().await
    }

    /// When the next read must have completed: the idle timeout, the body's
    /// wall clock in DATA, the whole command line's deadline otherwise, and
    /// never past the session's end.
    fn read_deadline(&mut self) -> Instant {
        let now = Instant::now();
        let deadline = match &self.state {
            State::Data(_, _, end) => (*end).min(now + self.limits.command_timeout),
            _ => {
                if self.input.is_empty() && !self.lines.is_discarding() {
                    self.line_started = None;
                }
                self.line_started.unwrap_or(now) + self.limits.command_timeout
            }
        };
        deadline.min(self.session_end)
    }

    async fn read(&mut self) -> std::io::Result<Flow> {
        let deadline = self.read_deadline();
        let idle = matches!(self.state, State::Connected | State::Greeted);
        let mut chunk = [0u8; READ_CHUNK];
        let mut shutdown = self.shutdown.clone();
        let level = move |s: Shutdown| s == Shutdown::Now || (idle && s == Shutdown::Draining);
        tokio::select! {
            read = timeout_at(deadline, self.stream.read(&mut chunk)) => match read {
                Ok(Ok(0)) => Ok(Flow::Close),
                Ok(Ok(n)) => {
                    self.input.extend_from_slice(&chunk[..n]);
                    if !matches!(self.state, State::Data(..)) {
                        self.line_started.get_or_insert_with(Instant::now);
                    }
                    Ok(Flow::Continue)
                }
                Ok(Err(e)) => Err(e),
                Err(_) if Instant::now() >= self.session_end => {
                    self.reply(Reply::new(421, "4.4.2 session too long, closing"));
                    Ok(Flow::Close)
                }
                Err(_) => {
                    self.reply(Reply::new(421, "4.4.2 timeout, closing"));
                    Ok(Flow::Close)
                }
            },
            _ = shutdown.wait_for(|s| level(*s)) => {
                self.reply(Reply::new(421, "4.3.2 shutting down, try again later"));
                Ok(Flow::Close)
            }
        }
    }

    async fn flush(&mut self) -> std::io::Result<()> {
        if self.output.is_empty() {
            return Ok(());
        }
        let deadline = Instant::now() + self.limits.command_timeout;
        let out = std::mem::take(&mut self.output);
        let write = async {
            self.stream.write_all(&out).await?;
            self.stream.flush().await
        };
        match timeout_at(deadline, write).await {
            Ok(r) => r,
            Err(_) => Err(std::io::ErrorKind::TimedOut.into()),
        }
    }

    fn reply(&mut self, r: Reply) {
        self.output.extend_from_slice(&r.to_bytes());
    }

    async fn end_of_data(&mut self, end: Result<Vec<u8>, DataError>) {
        let State::Data(tx, _, _) = std::mem::replace(&mut self.state, State::Greeted) else {
            unreachable!("end_of_data outside DATA");
        };
        let reply = match end {
            Ok(raw) => match intake::admit(&self.limits, self.peer.addr, raw) {
                Ok(raw) => self.settle.settle(&self.peer, tx, raw).await,
                Err(refusal) => {
                    let why = "not from an accepted tenant";
                    tracing::info!(client = ?self.peer.addr, from = %tx.from, to = ?tx.rcpts, action = "refused", reason = why, "message");
                    refusal
                }
            },
            Err(e) => {
                // Refused in transport: never scanned, so no id; no content.
                tracing::info!(
                    client = ?self.peer.addr,
                    from = %tx.from,
                    to = ?tx.rcpts,
                    action = "refused",
                    reason = ?e,
                    "message"
                );
                e.reply()
            }
        };
        self.reserved = None;
        self.reply(reply);
    }

    /// The dispatcher: one command in, one reply queued.
    fn command(&mut self, line: Line) -> Flow {
        self.commands += 1;
        if self.commands > self.limits.max_commands {
            self.reply(Reply::new(421, "4.7.0 too many commands, closing"));
            return Flow::Close;
        }
        // A client whose commands are always buffered never waits on a read
        // deadline: the cap is checked here too.
        if Instant::now() >= self.session_end {
            self.reply(Reply::new(421, "4.4.2 session too long, closing"));
            return Flow::Close;
        }
        if matches!(&line, Line::Complete(l) if l.starts_with(b"PROXY ")) {
            // Only a listed load balancer may say who the client is, and
            // the listener read its header before the banner.
            self.reply(Reply::new(
                554,
                "5.7.0 PROXY header not accepted from this address",
            ));
            return Flow::Close;
        }
        let request = match line {
            Line::TooLong => Err(super::codec::ParseError::LineTooLong),
            Line::Complete(l) => parse_command(&l),
        };
        let reply = match request {
            Err(e) => e.reply(),
            Ok(Request::Quit) => {
                self.reply(Reply::new(221, "2.0.0 bye"));
                return Flow::Close;
            }
            Ok(Request::Data) => return self.data(),
            Ok(Request::StartTls) => return self.starttls(),
            Ok(Request::Bdat) => {
                // The chunk that follows BDAT is binary data of a length we
                // will not honour: reading it as commands would be smuggling.
                self.reply(Reply::new(502, "5.5.1 BDAT not supported, closing"));
                return Flow::Close;
            }
            Ok(r) => self.request(r),
        };
        self.reply(reply);
        Flow::Continue
    }

    fn request(&mut self, r: Request) -> Reply {
        match r {
            Request::Ehlo(host) => self.greet(host, true),
            Request::Helo(host) => self.greet(host, false),
            Request::Mail { from, params } => self.mail(from, params),
            Request::Rcpt { to } => self.rcpt(to),
            Request::Rset => {
                if !matches!(self.state, State::Connected) {
                    self.state = State::Greeted;
                }
                Reply::new(250, "2.0.0 ok")
            }
            Request::Noop => Reply::new(250, "2.0.0 ok"),
            Request::Help => Reply::new(214, "2.0.0 see RFC 5321"),
            Request::Vrfy => Reply::new(252, "2.5.0 VRFY disabled; send the mail to try"),
            Request::Expn => Reply::new(502, "5.5.1 EXPN not implemented"),
            Request::Quit | Request::Data | Request::Bdat | Request::StartTls => {
                unreachable!("handled by the dispatcher")
            }
        }
    }

    fn starttls(&mut self) -> Flow {
        let reply = if self.limits.tls.is_none() {
            Reply::new(502, "5.5.1 STARTTLS not available")
        } else if self.stream.is_tls() {
            Reply::new(503, "5.5.1 TLS already active")
        } else if matches!(self.state, State::Mail(_) | State::Data(..)) {
            Reply::new(503, "5.5.1 STARTTLS inside a transaction")
        } else {
            self.reply(Reply::new(220, "2.0.0 Ready to start TLS"));
            return Flow::StartTls;
        };
        self.reply(reply);
        Flow::Continue
    }

    fn greet(&mut self, host: String, esmtp: bool) -> Reply {
        self.peer.helo = Some(host);
        self.peer.esmtp = esmtp;
        self.state = State::Greeted;
        let name = &self.limits.hostname;
        if !esmtp {
            return Reply::new(250, name.clone());
        }
        let mut lines = vec![
            name.clone(),
            "PIPELINING".into(),
            format!("SIZE {}", self.limits.max_message_size),
            "8BITMIME".into(),
            "SMTPUTF8".into(),
            "ENHANCEDSTATUSCODES".into(),
        ];
        if self.limits.tls.is_some() && !self.stream.is_tls() {
            lines.push("STARTTLS".into());
        }
        Reply::new(250, lines.join("\n"))
    }

    fn mail(&mut self, from: String, params: MailParams) -> Reply {
        match self.state {
            State::Connected => return Reply::new(503, "5.5.1 send EHLO first"),
            State::Mail(_) | State::Data(..) => {
                return Reply::new(503, "5.5.1 nested MAIL command")
            }
            State::Greeted => {}
        }
        if !self.peer.esmtp && params != MailParams::default() {
            return Reply::new(555, "5.5.4 parameters need EHLO");
        }
        if params
            .size
            .is_some_and(|n| n > self.limits.max_message_size as u64)
        {
            return Reply::new(552, "5.3.4 message too big");
        }
        if !from.is_ascii() && !params.smtputf8 {
            return Reply::new(553, "5.6.7 non-ASCII address needs SMTPUTF8");
        }
        self.state = State::Mail(Transaction {
            from,
            params,
            rcpts: Vec::new(),
        });
        Reply::new(250, "2.1.0 sender ok")
    }

    /// Every syntactically sound recipient is accepted, even one policy
    /// cannot parse: `check` marks it unparseable and the message is held.
    fn rcpt(&mut self, to: String) -> Reply {
        let max = self.limits.max_recipients;
        let State::Mail(tx) = &mut self.state else {
            return Reply::new(503, "5.5.1 need MAIL before RCPT");
        };
        if tx.rcpts.len() >= max {
            return Reply::new(452, "4.5.3 too many recipients");
        }
        if !to.is_ascii() && !tx.params.smtputf8 {
            return Reply::new(553, "5.6.7 non-ASCII address needs SMTPUTF8");
        }
        tx.rcpts.push(to);
        Reply::new(250, "2.1.5 recipient ok")
    }

    fn data(&mut self) -> Flow {
        let tx = match std::mem::replace(&mut self.state, State::Greeted) {
            State::Mail(tx) if !tx.rcpts.is_empty() => tx,
            other => {
                self.state = other;
                self.reply(Reply::new(503, "5.5.1 need MAIL and RCPT before DATA"));
                return Flow::Continue;
            }
        };
        if !self.input.is_empty() {
            // RFC 2920: DATA ends a pipelined group; the body must wait for
            // 354. Bytes already here were sent blind: refuse and close
            // rather than guess whether they are body or commands.
            self.reply(Reply::new(554, "5.5.0 message data sent before 354"));
            return Flow::Close;
        }
        let want = tx.params.size.map_or(self.limits.max_message_size, |n| {
            (n as usize).min(self.limits.max_message_size)
        });
        let Some(reserved) = self.limits.buffer.reserve(want) else {
            self.state = State::Mail(tx);
            self.reply(Reply::new(
                452,
                "4.3.1 insufficient system storage, try again later",
            ));
            return Flow::Continue;
        };
        // Held to what was reserved: a SIZE= that lies gets 552.
        let cap = if self.limits.buffer.is_capped() {
            want
        } else {
            self.limits.max_message_size
        };
        self.reserved = Some(reserved);
        let deadline = Instant::now() + self.limits.data_timeout;
        let rx = Box::new(DataReceiver::new(cap));
        self.state = State::Data(tx, rx, deadline);
        self.reply(Reply::new(354, "end data with <CR><LF>.<CR><LF>"));
        Flow::Continue
    }
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
