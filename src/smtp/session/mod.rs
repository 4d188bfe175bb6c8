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
//!
//! One file per concern: this one holds the session's state and its I/O
//! (reads under deadlines, buffered replies, the TLS switch); [`commands`]
//! the dispatcher and the envelope commands; [`data`] DATA, from the
//! reservation to the act stage's reply; [`limits`] what a session runs
//! under.

mod commands;
mod data;
mod limits;

pub(crate) use limits::{Buffers, Limits};

use super::budget::Reservation;
use super::codec::{LineReader, MailParams, Reply};
use super::stream::Stream;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::watch;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::TlsAcceptor;

/// How far shutdown has gone; sessions watch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Shutdown {
    Running,
    /// SIGTERM: finish the transaction in flight, then close with 421.
    Draining,
    /// The grace period is over: close now with 421.
    Now,
}

/// One mail transaction: what MAIL and RCPT gave us. RSET drops it whole.
#[derive(Debug, Clone, Default)]
pub(crate) struct Transaction {
    pub(crate) from: String,
    pub(crate) params: MailParams,
    pub(crate) rcpts: Vec<String>,
}

/// Who is on the other end: lives as long as the connection.
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub(crate) addr: Option<SocketAddr>,
    pub(crate) helo: Option<String>,
    pub(crate) esmtp: bool,
}

/// The act stage: the only code that decides the reply to DATA.
pub(crate) trait Settle: Send + Sync + 'static {
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
    /// After 354: the body is arriving.
    Data(Box<data::Incoming>),
}

/// What the loop does after a command.
#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Close,
    /// `220` queued: flush it, then hand the socket to the TLS handshake.
    StartTls,
}

pub(crate) struct Session<S, A> {
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
    pub(crate) fn new(
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
    pub(crate) async fn run(mut self) -> std::io::Result<()> {
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
        if let State::Data(incoming) = &mut self.state {
            let (used, end) = incoming.rx.feed(&self.input);
            let batch = incoming.batch_ready();
            self.input.drain(..used);
            if let Some(end) = end {
                self.end_of_data(end).await;
                return Ok(Flow::Continue);
            }
            if batch {
                self.spool_batch().await;
            }
        } else if let Some(line) = self.lines.next_line(&mut self.input) {
            self.line_started = None;
            return Ok(self.command(line).await);
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
            State::Data(incoming) => incoming.deadline.min(now + self.limits.command_timeout),
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
}

#[cfg(test)]
mod tests;
