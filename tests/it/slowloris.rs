//! Issue #15 finding 6: a client that trickles a command one byte at a time
//! must not hold a connection slot for ever. The whole command line has a
//! deadline (`command_timeout_secs`), and a session has a lifetime cap
//! (`max_session_secs`); both end in `421`. Real sockets, small timeouts.

use crate::smtp_e2e::CLEAN;
use crate::support::{Client, Setup, Sink, SinkMode};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Connects, reads the banner, then sends `line` one byte every `gap`
/// (the idle timer alone restarts on every byte); returns what the server
/// said when it closed, and how long the connection lived.
async fn trickle(port: u16, line: &'static [u8], gap: Duration) -> (String, Duration) {
    let start = Instant::now();
    let s = greeted(port).await;
    trickle_on(s, start, line, gap).await
}

/// A connection whose `220` banner has been read.
async fn greeted(port: u16) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut banner = [0u8; 512];
    let n = s.read(&mut banner).await.unwrap();
    assert!(banner[..n].starts_with(b"220"));
    s
}

/// [`trickle`] on a connection already greeted, from `start`.
async fn trickle_on(
    mut s: TcpStream,
    start: Instant,
    line: &'static [u8],
    gap: Duration,
) -> (String, Duration) {
    for b in line.iter().cycle() {
        if s.write_all(&[*b]).await.is_err() {
            break;
        }
        let mut got = [0u8; 512];
        match tokio::time::timeout(gap, s.read(&mut got)).await {
            Err(_) => {}
            Ok(Ok(n)) if n > 0 => {
                return (String::from_utf8_lossy(&got[..n]).into(), start.elapsed());
            }
            Ok(_) => break,
        }
        assert!(start.elapsed() < Duration::from_secs(20), "still connected");
    }
    (String::new(), start.elapsed())
}

/// The first line the server says to a new connection.
async fn banner(port: u16) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let mut buf = [0u8; 512];
    let n = s.read(&mut buf).await.unwrap_or(0);
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

async fn serve(smtp_extra: &str) -> (Sink, Setup, crate::support::Server) {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, smtp_extra);
    let server = setup.serve().await;
    (sink, setup, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_trickled_byte_by_byte_times_out_as_a_whole() {
    let (_sink, _setup, server) = serve("command_timeout_secs = 2").await;
    // A line that never ends: one byte every 300 ms keeps an idle timer alive.
    let (said, lived) = trickle(server.port, b"NOOPNOOPNOOP", Duration::from_millis(300)).await;
    assert!(said.starts_with("421"), "{said:?}");
    assert!(lived < Duration::from_secs(5), "{lived:?}");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_of_quick_commands_ends_at_max_session_secs() {
    let (_sink, _setup, server) = serve("command_timeout_secs = 5\nmax_session_secs = 2").await;
    // Complete commands, each well inside the command timeout.
    let mut c = Client::connect(server.port).await.unwrap();
    let start = Instant::now();
    let code = loop {
        let (code, _) = c.cmd("NOOP").await;
        if code != 250 {
            break code;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "never capped");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(code, 421);
    assert!(start.elapsed() < Duration::from_secs(4));
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_tricklers_at_max_connections_do_not_lock_out_real_mail() {
    let (sink, _setup, server) = serve("max_connections = 5\ncommand_timeout_secs = 2").await;
    let port = server.port;
    let start = Instant::now();
    let mut tricklers = Vec::new();
    for _ in 0..5 {
        let s = greeted(port).await;
        let gap = Duration::from_millis(300);
        tricklers.push(tokio::spawn(trickle_on(s, start, b"EHLO slow", gap)));
    }
    // While they hold every slot: a sixth connection is told why it is
    // turned away, and the health endpoint still answers.
    let refused = banner(port).await;
    assert!(refused.starts_with("421 4.7.0"), "{refused:?}");
    let health = crate::support::http::get(_setup.http_port, "/healthz", &[]).await;
    assert_eq!(health.status, 200, "{}", health.text());
    for t in tricklers {
        let (said, _) = t.await.unwrap();
        assert!(said.starts_with("421"), "{said:?}");
    }
    let mut c = Client::connect(port).await.unwrap();
    let (code, text) = c
        .mail("a@firm.example", &["b@partner.example"], CLEAN)
        .await;
    assert_eq!(code, 250, "{text}");
    assert_eq!(sink.messages().len(), 1);
    server.stop().await;
}
