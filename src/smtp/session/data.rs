//! DATA: where the body goes, and the end of data.
//!
//! At DATA the message reserves its size against the memory budget
//! (`[smtp] max_buffered_bytes`); past it the body is spooled to an
//! encrypted file instead ([`crate::smtp::spool`]), and only when even that
//! cannot be opened is the answer `452 4.3.1` before any byte. A spool
//! write that fails later (disk full) turns the rest of the body into
//! discarding, and the answer after the terminator is `452 4.3.1`: never a
//! silent loss.
//!
//! At the end of data the message waits for its share of the scan budget
//! (`[smtp] max_scanning_bytes`, [`crate::smtp::gate`]), is read back from
//! the spool if it was spooled, goes through the intake checks, and the act
//! stage's reply is queued.

use super::{Flow, Session, Settle, State, Transaction};
use crate::smtp::codec::{DataError, DataReceiver, Reply};
use crate::smtp::intake;
use crate::smtp::spool::{SpoolWriter, Spooled};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

/// Spooled bodies are written in batches of this much, so a spooling
/// session holds little more in memory.
const SPOOL_BATCH: usize = 256 * 1024;

const NO_STORAGE: &str = "4.3.1 insufficient system storage, try again later";

/// A message body on its way in.
pub(super) struct Incoming {
    pub(crate) tx: Transaction,
    pub(crate) rx: DataReceiver,
    /// When the whole body must have arrived.
    pub(crate) deadline: Instant,
    pub(crate) body: Body,
}

/// Where the body goes.
pub(super) enum Body {
    /// Memory, against the session's reservation.
    Memory,
    Spool(Box<SpoolWriter>),
    /// The spool failed: the rest is read and dropped, and the answer is
    /// `452 4.3.1` (also the state while a write is under way, so a session
    /// dropped mid-write loses nothing it had promised).
    Lost,
}

impl Incoming {
    /// True when enough has arrived to go to the spool (or to be dropped).
    pub(super) fn batch_ready(&self) -> bool {
        !matches!(self.body, Body::Memory) && self.rx.pending() >= SPOOL_BATCH
    }
}

/// A whole body.
enum Complete {
    Memory(Vec<u8>),
    Spooled(Box<Spooled>),
}

impl<S, A> Session<S, A>
where
    S: AsyncRead + AsyncWrite + Unpin,
    A: Settle,
{
    pub(super) async fn data(&mut self) -> Flow {
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
        let memory = &self.limits.buffers.memory;
        // Held to what was reserved: a SIZE= that lies gets 552.
        let cap = if memory.is_capped() {
            want
        } else {
            self.limits.max_message_size
        };
        let body = match memory.reserve(want) {
            Some(reserved) => {
                self.reserved = Some(reserved);
                Body::Memory
            }
            None => match self.open_spool(want).await {
                Some(spool) => Body::Spool(Box::new(spool)),
                None => {
                    self.state = State::Mail(tx);
                    self.reply(Reply::new(452, NO_STORAGE));
                    return Flow::Continue;
                }
            },
        };
        self.state = State::Data(Box::new(Incoming {
            tx,
            rx: DataReceiver::new(cap),
            deadline: Instant::now() + self.limits.data_timeout,
            body,
        }));
        self.reply(Reply::new(354, "end data with <CR><LF>.<CR><LF>"));
        Flow::Continue
    }

    /// A new spool file, or `None` (logged) when there is none to be had.
    async fn open_spool(&self, want: usize) -> Option<SpoolWriter> {
        let dir = self.limits.buffers.spool.clone()?;
        let client = self.peer.addr;
        match tokio::task::spawn_blocking(move || dir.create()).await {
            Ok(Ok(spool)) => {
                tracing::info!(client = ?client, reserved = want, "over max_buffered_bytes: spooling the message to disk");
                Some(spool)
            }
            Ok(Err(e)) => {
                tracing::error!(client = ?client, error = %e, "cannot create a spool file; answering 452");
                None
            }
            Err(_) => None,
        }
    }

    /// Moves what arrived so far to the spool, on the blocking pool. A
    /// failure is logged once and the body is lost from then on.
    pub(super) async fn spool_batch(&mut self) {
        let client = self.peer.addr;
        let State::Data(incoming) = &mut self.state else {
            return;
        };
        let bytes = incoming.rx.take_body();
        let Body::Spool(mut spool) = std::mem::replace(&mut incoming.body, Body::Lost) else {
            return;
        };
        let written = tokio::task::spawn_blocking(move || spool.append(&bytes).map(|()| spool));
        match written.await {
            Ok(Ok(spool)) => incoming.body = Body::Spool(spool),
            Ok(Err(e)) => {
                tracing::error!(client = ?client, error = %e, "cannot write the spool; the message will get 452");
            }
            Err(_) => {
                tracing::error!(client = ?client, "the spool write panicked; the message will get 452")
            }
        }
    }

    pub(super) async fn end_of_data(&mut self, end: Result<Vec<u8>, DataError>) {
        let State::Data(incoming) = std::mem::replace(&mut self.state, State::Greeted) else {
            unreachable!("end_of_data outside DATA");
        };
        let Incoming { tx, body, .. } = *incoming;
        let reply = match complete(body, end).await {
            Ok(message) => self.settle_message(tx, message).await,
            Err((reply, why)) => {
                // Refused in transport: never scanned, so no id; no content.
                tracing::info!(client = ?self.peer.addr, from = %tx.from, to = ?tx.rcpts,
                    action = "refused", reason = why, "message");
                reply
            }
        };
        self.reserved = None;
        self.reply(reply);
    }

    /// Waits for the scan budget, reads a spooled body back, and hands the
    /// message to the intake checks and the act stage; returns its reply.
    async fn settle_message(&mut self, tx: Transaction, message: Complete) -> Reply {
        let client = self.peer.addr;
        let gate = self.limits.buffers.scan.clone();
        let size = message.len();
        if gate.would_wait(size) {
            tracing::info!(client = ?client, size, waiting = gate.waiting() + 1,
                "max_scanning_bytes in use: the message waits its turn to be scanned");
        }
        let _pass = gate.enter(size).await;
        let raw = match message {
            Complete::Memory(raw) => raw,
            Complete::Spooled(spooled) => {
                match tokio::task::spawn_blocking(move || spooled.read()).await {
                    Ok(Ok(raw)) => raw,
                    Ok(Err(e)) => return unreadable(client, &e),
                    Err(e) => return unreadable(client, &e),
                }
            }
        };
        match intake::admit(&self.limits, client, raw) {
            Ok(raw) => self.settle.settle(&self.peer, tx, raw).await,
            Err(refusal) => {
                let why = "not from an accepted tenant";
                tracing::info!(client = ?client, from = %tx.from, to = ?tx.rcpts, action = "refused", reason = why, "message");
                refusal
            }
        }
    }
}

/// A spool that cannot be read back (or fails authentication): ours to
/// fix, so the client retries.
fn unreadable(client: Option<std::net::SocketAddr>, e: &dyn std::fmt::Display) -> Reply {
    tracing::error!(client = ?client, error = %e, "cannot read the spool back; answering 451");
    Reply::new(451, "4.3.0 internal error, try again later")
}

impl Complete {
    fn len(&self) -> usize {
        match self {
            Complete::Memory(raw) => raw.len(),
            Complete::Spooled(s) => s.len(),
        }
    }
}

/// The whole body once the terminator came: in memory as received, or the
/// spool with its last bytes sealed; else the refusal and its reason for
/// the log.
async fn complete(
    body: Body,
    end: Result<Vec<u8>, DataError>,
) -> Result<Complete, (Reply, String)> {
    let rest = end.map_err(|e| (e.reply(), format!("{e:?}")))?;
    let lost = || (Reply::new(452, NO_STORAGE), "the spool failed".to_string());
    match body {
        Body::Memory => Ok(Complete::Memory(rest)),
        Body::Lost => Err(lost()),
        Body::Spool(mut spool) => {
            let sealed = tokio::task::spawn_blocking(move || {
                spool.append(&rest)?;
                spool.finish()
            });
            match sealed.await {
                Ok(Ok(spooled)) => Ok(Complete::Spooled(Box::new(spooled))),
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "cannot finish the spool file; answering 452");
                    Err(lost())
                }
                Err(_) => Err(lost()),
            }
        }
    }
}
