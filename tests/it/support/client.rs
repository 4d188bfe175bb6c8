//! An SMTP client for the tests, with its own dot-stuffing (so what is
//! sent does not trust the code under test), and the "send one message
//! that the default policy holds" shortcut.

use super::example;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct Client {
    io: BufReader<TcpStream>,
}

impl Client {
    /// Connects from the loopback address `from` (127.0.0.0/8 is all
    /// local): a test can play several clients; returns the banner too.
    pub async fn connect_from(from: &str, port: u16) -> std::io::Result<(Client, (u16, String))> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(format!("{from}:0").parse().unwrap())?;
        let s = socket.connect(([127, 0, 0, 1], port).into()).await?;
        let mut c = Client {
            io: BufReader::new(s),
        };
        let banner = c.reply().await;
        Ok((c, banner))
    }
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

    /// Connects, without asserting: for a server that may be dying. An
    /// error when it cannot connect or the banner is not `220`.
    pub async fn connect_quietly(port: u16) -> std::io::Result<Client> {
        let s = TcpStream::connect(("127.0.0.1", port)).await?;
        let mut c = Client {
            io: BufReader::new(s),
        };
        match c.reply().await.0 {
            220 => Ok(c),
            _ => Err(std::io::ErrorKind::ConnectionReset.into()),
        }
    }

    /// [`Client::mail`] without asserting on the way: the reply to the end
    /// of DATA, or 0 when any step failed (a server killed mid-way).
    pub async fn mail_or_zero(&mut self, from: &str, to: &[&str], body: &[u8]) -> u16 {
        self.mail_quietly(from, to, body).await.0
    }

    /// [`Client::mail_or_zero`], and whether the whole message was sent:
    /// a 0 after it is the one case where the server may have passed the
    /// message on and died before answering (a duplicate it allows).
    pub async fn mail_quietly(&mut self, from: &str, to: &[&str], body: &[u8]) -> (u16, bool) {
        let steps = ["EHLO test".to_string(), format!("MAIL FROM:<{from}>")];
        let rcpts = to.iter().map(|t| format!("RCPT TO:<{t}>"));
        for line in steps.into_iter().chain(rcpts) {
            if self.cmd_quietly(format!("{line}\r\n").as_bytes()).await != 250 {
                return (0, false);
            }
        }
        if self.cmd_quietly(b"DATA\r\n").await != 354 {
            return (0, false);
        }
        let stuffed = stuff(body);
        if self.io.get_mut().write_all(&stuffed).await.is_err() {
            return (0, false);
        }
        (self.reply().await.0, true)
    }

    async fn cmd_quietly(&mut self, bytes: &[u8]) -> u16 {
        if self.io.get_mut().write_all(bytes).await.is_err() {
            return 0;
        }
        self.reply().await.0
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

    /// Sends `bytes` in pieces cut at `cuts` (ascending offsets), each its
    /// own TCP segment: no Nagle delay, and a pause so the server reads the
    /// pieces apart.
    pub async fn send_cut(&mut self, bytes: &[u8], cuts: &[usize]) {
        self.io.get_ref().set_nodelay(true).unwrap();
        let mut from = 0;
        for &at in cuts.iter().chain([&bytes.len()]) {
            self.send(&bytes[from..at]).await;
            tokio::time::sleep(std::time::Duration::from_micros(300)).await;
            from = at;
        }
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

/// The held message's id from the reply to DATA, which must be
/// `250 … held as ID`.
pub fn held_id(reply: &(u16, String)) -> String {
    assert!(
        reply.0 == 250 && reply.1.contains("held as"),
        "not held: {reply:?}"
    );
    reply.1.rsplit(' ').next().unwrap().to_string()
}

/// Sends the shipped misdirected example; returns the reply to its DATA.
pub async fn send_misdirected(port: u16) -> (u16, String) {
    let mut c = Client::connect(port).await.unwrap();
    c.mail(
        "a.partner@firm.example",
        &["j.smith@meridian-tankers.com"],
        &example("misdirected.eml"),
    )
    .await
}

/// Sends the shipped misdirected example (held by the default policy);
/// returns the held message's id.
pub async fn hold_one(port: u16) -> String {
    held_id(&send_misdirected(port).await)
}
