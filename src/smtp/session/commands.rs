//! The dispatcher and the commands that build the envelope: EHLO/HELO,
//! MAIL, RCPT, RSET, STARTTLS and the ones that only answer. DATA itself
//! is in [`super::data`].

use super::{Flow, Session, Settle, State, Transaction};
use crate::smtp::codec::{parse_command, Line, MailParams, Reply, Request};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

impl<S, A> Session<S, A>
where
    S: AsyncRead + AsyncWrite + Unpin,
    A: Settle,
{
    /// The dispatcher: one command in, one reply queued.
    pub(super) async fn command(&mut self, line: Line) -> Flow {
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
            Line::TooLong => Err(crate::smtp::codec::ParseError::LineTooLong),
            Line::Complete(l) => parse_command(&l),
        };
        let reply = match request {
            Err(e) => e.reply(),
            Ok(Request::Quit) => {
                self.reply(Reply::new(221, "2.0.0 bye"));
                return Flow::Close;
            }
            Ok(Request::Data) => return self.data().await,
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
}
