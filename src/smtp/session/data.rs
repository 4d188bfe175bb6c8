//! DATA: the reservation against the shared memory budget, the body's
//! receiver, and the end of data, where the message goes through the intake
//! checks to the act stage and its reply is queued.

use super::{Flow, Session, Settle, State};
use crate::smtp::codec::{DataError, DataReceiver, Reply};
use crate::smtp::intake;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

impl<S, A> Session<S, A>
where
    S: AsyncRead + AsyncWrite + Unpin,
    A: Settle,
{
    pub(super) async fn end_of_data(&mut self, end: Result<Vec<u8>, DataError>) {
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

    pub(super) fn data(&mut self) -> Flow {
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
