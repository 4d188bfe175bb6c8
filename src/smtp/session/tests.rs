//! Scripted SMTP conversations over an in-memory stream, with a recording
//! act stage: command order, pipelining, limits and smuggling at the session
//! level (RELIABILITY §1 items 1, 4, 7, 8, 11, 12, 13).

use super::*;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::{duplex, AsyncReadExt, AsyncWriteExt, DuplexStream};

#[derive(Default)]
struct Recorder {
    got: Mutex<Vec<(Transaction, Vec<u8>)>>,
}

impl Settle for Recorder {
    async fn settle(&self, _peer: &Peer, tx: Transaction, raw: Vec<u8>) -> Reply {
        self.got.lock().unwrap().push((tx, raw));
        Reply::new(250, "2.0.0 recorded")
    }
}

fn limits() -> Limits {
    Limits {
        hostname: "test".into(),
        max_message_size: 1000,
        max_recipients: 3,
        max_commands: 50,
        command_timeout: Duration::from_secs(60),
        data_timeout: Duration::from_secs(60),
        max_session: Duration::from_secs(3600),
        tls: None,
        accept_tenants: Vec::new(),
        stamp: crate::config::stamp::StampKey::at("/nonexistent/stamp.key".into()),
        buffers: Buffers {
            memory: crate::smtp::budget::Budget::new(0),
            spool: None,
            scan: crate::smtp::gate::ScanGate::new(0),
        },
    }
}

struct Client {
    io: DuplexStream,
    seen: Vec<u8>,
}

impl Client {
    /// Reads until `n` more complete replies arrived; returns their codes.
    async fn replies(&mut self, n: usize) -> Vec<u16> {
        let mut codes = Vec::new();
        while codes.len() < n {
            if let Some(end) = self.seen.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.seen.drain(..end + 2).collect();
                if line.get(3) == Some(&b' ') {
                    let code = std::str::from_utf8(&line[..3]).unwrap().parse().unwrap();
                    codes.push(code);
                }
                continue;
            }
            let mut buf = [0u8; 4096];
            let got = self.io.read(&mut buf).await.unwrap();
            assert!(got > 0, "server closed; codes so far {codes:?}");
            self.seen.extend_from_slice(&buf[..got]);
        }
        codes
    }

    async fn send(&mut self, bytes: &[u8], n: usize) -> Vec<u16> {
        self.io.write_all(bytes).await.unwrap();
        self.replies(n).await
    }

    /// True once the server has closed the connection.
    async fn closed(&mut self) -> bool {
        let mut buf = [0u8; 64];
        matches!(self.io.read(&mut buf).await, Ok(0) | Err(_))
    }
}

async fn start(limits: Limits) -> (Client, Arc<Recorder>) {
    let (client, server) = duplex(64 * 1024);
    let rec = Arc::new(Recorder::default());
    let (_tx, rx) = watch::channel(Shutdown::Running);
    let session = Session::new(server, rec.clone(), limits, None, rx);
    tokio::spawn(async move {
        let _keep = _tx;
        let _ = session.run().await;
    });
    let mut c = Client {
        io: client,
        seen: Vec::new(),
    };
    assert_eq!(c.replies(1).await, [220]);
    (c, rec)
}

const ENVELOPE: &[u8] =
    b"EHLO c\r\nMAIL FROM:<a@firm.example>\r\nRCPT TO:<b@x.example>\r\nDATA\r\n";

#[tokio::test]
async fn pipelined_transaction_and_exact_bytes() {
    let (mut c, rec) = start(limits()).await;
    assert_eq!(c.send(ENVELOPE, 4).await, [250, 250, 250, 354]);
    assert_eq!(c.send(b"..a\r\nb\r\n.\r\nQUIT\r\n", 2).await, [250, 221]);
    let got = rec.got.lock().unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0.from, "a@firm.example");
    assert_eq!(got[0].0.rcpts, ["b@x.example"]);
    assert_eq!(got[0].1, b".a\r\nb\r\n");
}

#[tokio::test]
async fn smuggling_yields_one_refusal_and_no_message() {
    let vectors: [&[u8]; 6] = [
        b"a\n.\nMAIL FROM:<x@e>\nRCPT TO:<y@e>\nDATA\nevil\n.\n\r\n.\r\n",
        b"a\r\n.\nMAIL FROM:<x@e>\r\nRCPT TO:<y@e>\r\nDATA\r\nevil\r\n.\r\n",
        b"a\n.\r\nMAIL FROM:<x@e>\r\nRCPT TO:<y@e>\r\nDATA\r\nevil\r\n.\r\n",
        b"a\r.\rMAIL FROM:<x@e>\r\nRCPT TO:<y@e>\r\nDATA\r\nevil\r\n.\r\n",
        b"a\r\n.\r\r\nMAIL FROM:<x@e>\r\nRCPT TO:<y@e>\r\nDATA\r\nevil\r\n.\r\n",
        b"a\r\n.\r\r\r\nMAIL FROM:<x@e>\r\nRCPT TO:<y@e>\r\nDATA\r\nevil\r\n.\r\n",
    ];
    for v in vectors {
        let (mut c, rec) = start(limits()).await;
        assert_eq!(c.send(ENVELOPE, 4).await, [250, 250, 250, 354]);
        // The smuggled "end" is data; only the real terminator ends it, once.
        assert_eq!(c.send(v, 1).await, [550], "{v:?}");
        assert_eq!(c.send(b"QUIT\r\n", 1).await, [221]);
        assert!(rec.got.lock().unwrap().is_empty(), "{v:?}");
    }
}

#[tokio::test]
async fn command_order() {
    let (mut c, rec) = start(limits()).await;
    let script: &[(&[u8], u16)] = &[
        (b"MAIL FROM:<a@b.c>\r\n", 503),
        (b"DATA\r\n", 503),
        (b"EHLO c\r\n", 250),
        (b"RCPT TO:<b@c.d>\r\n", 503),
        (b"DATA\r\n", 503),
        (b"MAIL FROM:<a@b.c>\r\n", 250),
        (b"MAIL FROM:<a@b.c>\r\n", 503),
        (b"DATA\r\n", 503),
        (b"RCPT TO:<b@c.d>\r\n", 250),
        (b"RSET\r\n", 250),
        (b"DATA\r\n", 503),
        (b"RCPT TO:<b@c.d>\r\n", 503),
        (b"VRFY root\r\n", 252),
        (b"EXPN all\r\n", 502),
        (b"STARTTLS\r\n", 502),
        (b"XYZZY\r\n", 500),
        (b"MAIL FROM:<\xc3\xa9@b.c>\r\n", 553),
        (b"MAIL FROM:<a@b.c> SIZE=1001\r\n", 552),
        (b"MAIL FROM:<a@b.c>\r\n", 250),
        (b"RCPT TO:<\xc3\xa9@b.c>\r\n", 553),
        (b"RCPT TO:<a b@c>\r\n", 501),
        (b"RCPT TO:<@firm.test:a@evil.test>\r\n", 250),
        (b"NOOP\0\r\n", 500),
    ];
    for (line, want) in script {
        let got = c.send(line, 1).await;
        assert_eq!(got, [*want], "{:?}", String::from_utf8_lossy(line));
    }
    assert!(rec.got.lock().unwrap().is_empty());
}

#[tokio::test]
async fn limits_are_enforced() {
    let (mut c, rec) = start(limits()).await;
    let rcpts = b"EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<1@x.y>\r\nRCPT TO:<2@x.y>\r\nRCPT TO:<3@x.y>\r\nRCPT TO:<4@x.y>\r\n";
    assert_eq!(c.send(rcpts, 6).await, [250, 250, 250, 250, 250, 452]);
    let long = vec![b'N'; 100_000];
    c.io.write_all(&long).await.unwrap();
    assert_eq!(c.send(b"\r\nNOOP\r\n", 2).await, [500, 250]);
    assert_eq!(c.send(b"DATA\r\n", 1).await, [354]);
    let mut big = vec![b'x'; 5000];
    big.extend_from_slice(b"\r\n.\r\n");
    assert_eq!(c.send(&big, 1).await, [552]);
    // The transaction is gone after the refusal.
    assert_eq!(c.send(b"RCPT TO:<b@c.d>\r\n", 1).await, [503]);
    assert!(rec.got.lock().unwrap().is_empty());
}

#[tokio::test]
async fn data_before_354_is_refused() {
    let (mut c, rec) = start(limits()).await;
    let mut blind = ENVELOPE.to_vec();
    blind.extend_from_slice(b"body\r\n.\r\n");
    assert_eq!(c.send(&blind, 4).await, [250, 250, 250, 554]);
    assert!(c.closed().await);
    assert!(rec.got.lock().unwrap().is_empty());
}

#[tokio::test]
async fn bdat_closes_rather_than_reading_its_chunk_as_commands() {
    let (mut c, rec) = start(limits()).await;
    let codes = c
        .send(b"EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<b@c.d>\r\nBDAT 27 LAST\r\nRCPT TO:<evil@e.f>\r\nDATA\r\n", 4)
        .await;
    assert_eq!(codes, [250, 250, 250, 502]);
    assert!(c.closed().await);
    assert!(rec.got.lock().unwrap().is_empty());
}

#[tokio::test]
async fn too_many_commands_closes() {
    let (mut c, _) = start(limits()).await;
    let many = b"NOOP\r\n".repeat(51);
    let codes = c.send(&many, 51).await;
    assert_eq!(codes[49], 250);
    assert_eq!(codes[50], 421);
    assert!(c.closed().await);
}

#[tokio::test]
async fn draining_closes_idle_sessions() {
    let (client, server) = duplex(4096);
    let (tx, rx) = watch::channel(Shutdown::Running);
    let rec = Arc::new(Recorder::default());
    let task = tokio::spawn(Session::new(server, rec, limits(), None, rx).run());
    let mut c = Client {
        io: client,
        seen: Vec::new(),
    };
    assert_eq!(c.replies(1).await, [220]);
    assert_eq!(
        c.send(b"EHLO c\r\nMAIL FROM:<a@b.c>\r\n", 2).await,
        [250, 250]
    );
    tx.send(Shutdown::Draining).unwrap();
    // Mid-transaction: still served until the transaction ends.
    assert_eq!(c.send(b"RCPT TO:<b@c.d>\r\n", 1).await, [250]);
    assert_eq!(c.send(b"RSET\r\n", 1).await, [250]);
    assert_eq!(c.replies(1).await, [421]);
    task.await.unwrap().unwrap();
}

/// A session of its own on `settle`, for the tests below.
async fn start_on<A: Settle>(limits: Limits, settle: Arc<A>) -> Client {
    let (client, server) = duplex(64 * 1024);
    let (tx, rx) = watch::channel(Shutdown::Running);
    let session = Session::new(server, settle, limits, None, rx);
    tokio::spawn(async move {
        let _keep = tx;
        let _ = session.run().await;
    });
    let mut c = Client {
        io: client,
        seen: Vec::new(),
    };
    assert_eq!(c.replies(1).await, [220]);
    c
}

/// Limits whose memory budget takes nothing, so every body is spooled
/// to `spool/` under `dir`.
fn spooling(dir: &std::path::Path) -> Limits {
    let spool = crate::smtp::spool::SpoolDir::in_data_dir(dir);
    spool.prepare().unwrap();
    let mut l = limits();
    l.max_message_size = 4 << 20;
    l.buffers.memory = crate::smtp::budget::Budget::new(1);
    l.buffers.spool = Some(spool);
    l
}

fn spool_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("spool")).unwrap().count()
}

/// Past the memory budget the body goes through the spool and comes back
/// byte for byte; the file is gone once the message is settled.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spooled_body_arrives_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = Arc::new(Recorder::default());
    let mut c = start_on(spooling(tmp.path()), rec.clone()).await;
    let body: Vec<u8> = (0..40_000)
        .flat_map(|i| format!("line {i} of a long memo\r\n").into_bytes())
        .collect();
    assert_eq!(c.send(ENVELOPE, 4).await, [250, 250, 250, 354]);
    assert_eq!(spool_files(tmp.path()), 1, "spooling from 354 on");
    let mut data = body.clone();
    data.extend_from_slice(b".\r\n");
    assert_eq!(c.send(&data, 1).await, [250]);
    assert_eq!(rec.got.lock().unwrap()[0].1, body);
    assert_eq!(spool_files(tmp.path()), 0);
}

/// A client gone mid-DATA leaves no spool file behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_mid_data_deletes_the_spool() {
    let tmp = tempfile::tempdir().unwrap();
    let rec = Arc::new(Recorder::default());
    let mut c = start_on(spooling(tmp.path()), rec.clone()).await;
    assert_eq!(c.send(ENVELOPE, 4).await, [250, 250, 250, 354]);
    c.io.write_all(&vec![b'x'; 600_000]).await.unwrap();
    drop(c);
    for _ in 0..500 {
        if spool_files(tmp.path()) == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(spool_files(tmp.path()), 0);
    assert!(rec.got.lock().unwrap().is_empty());
}

/// No spool to go to: `452 4.3.1` at DATA, the transaction kept.
#[tokio::test]
async fn no_spool_is_452_before_data() {
    let mut l = limits();
    l.buffers.memory = crate::smtp::budget::Budget::new(1);
    let (mut c, rec) = start(l).await;
    assert_eq!(c.send(ENVELOPE, 4).await, [250, 250, 250, 452]);
    assert_eq!(c.send(b"RSET\r\nQUIT\r\n", 2).await, [250, 221]);
    assert!(rec.got.lock().unwrap().is_empty());
}

/// A settle that waits to be let go, counting how many are inside at once.
struct Slow {
    entered: std::sync::atomic::AtomicUsize,
    inside: std::sync::atomic::AtomicUsize,
    most: std::sync::atomic::AtomicUsize,
    go: tokio::sync::Semaphore,
}

impl Default for Slow {
    fn default() -> Slow {
        Slow {
            entered: Default::default(),
            inside: Default::default(),
            most: Default::default(),
            go: tokio::sync::Semaphore::new(0),
        }
    }
}

impl Settle for Slow {
    async fn settle(&self, _peer: &Peer, _tx: Transaction, _raw: Vec<u8>) -> Reply {
        use std::sync::atomic::Ordering::SeqCst;
        let now = self.inside.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        self.entered.fetch_add(1, SeqCst);
        self.go.acquire().await.unwrap().forget();
        self.inside.fetch_sub(1, SeqCst);
        Reply::new(250, "2.0.0 settled")
    }
}

/// Waits for `what` (a test that goes wrong fails here rather than hang).
async fn until(what: impl Fn() -> bool) {
    for _ in 0..60_000 {
        if what() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("the condition never came true");
}

/// `max_scanning_bytes`: a message finished while another one holds the
/// scan budget waits for it; the two are never scanned at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scan_gate_lets_one_message_through_at_a_time() {
    use std::sync::atomic::Ordering::SeqCst;
    let mut l = limits();
    l.buffers.scan = crate::smtp::gate::ScanGate::new(1024);
    let gate = l.buffers.scan.clone();
    let slow = Arc::new(Slow::default());
    let mut a = start_on(l.clone(), slow.clone()).await;
    let mut b = start_on(l, slow.clone()).await;
    let body = b"Subject: x\r\n\r\nhello\r\n.\r\n";
    assert_eq!(a.send(ENVELOPE, 4).await, [250, 250, 250, 354]);
    assert_eq!(b.send(ENVELOPE, 4).await, [250, 250, 250, 354]);
    a.io.write_all(body).await.unwrap();
    until(|| slow.entered.load(SeqCst) == 1).await;
    b.io.write_all(body).await.unwrap();
    until(|| gate.waiting() == 1).await;
    assert_eq!(slow.entered.load(SeqCst), 1, "B waits while A is scanned");
    slow.go.add_permits(1);
    assert_eq!(a.replies(1).await, [250]);
    until(|| slow.entered.load(SeqCst) == 2).await;
    slow.go.add_permits(1);
    assert_eq!(b.replies(1).await, [250]);
    assert_eq!(slow.most.load(SeqCst), 1);
}

/// RELIABILITY §1 items 7, 11 and 13, the cases the tests above leave
/// out: a second MAIL after a RCPT (the transaction stays as it was), a
/// RCPT carrying a large parameter nobody announced, and an 8-bit body
/// sent without `BODY=8BITMIME` (taken as it is, byte for byte, as
/// Postfix takes it: refusing it would bounce real mail from old clients).
#[tokio::test]
async fn the_rest_of_command_abuse() {
    let (mut c, rec) = start(limits()).await;
    let start = b"EHLO c\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<b@c.d>\r\nMAIL FROM:<x@y.z>\r\n";
    assert_eq!(c.send(start, 4).await, [250, 250, 250, 503]);
    let mut param = b"RCPT TO:<e@f.g> XPARAM=".to_vec();
    param.extend(vec![b'p'; 900]);
    param.extend_from_slice(b"\r\n");
    let refused = c.send(&param, 1).await;
    assert!(matches!(refused[0], 501 | 555), "{refused:?}");
    let body = b"Subject: s\r\n\r\n\xc3\xa9t\xc3\xa9 8-bit\r\n.\r\n";
    assert_eq!(c.send(b"DATA\r\n", 1).await, [354]);
    assert_eq!(c.send(body, 1).await, [250]);
    let got = rec.got.lock().unwrap();
    let (tx, raw) = &got[0];
    assert_eq!(
        (tx.from.as_str(), tx.rcpts.as_slice()),
        ("a@b.c", &["b@c.d".to_string()][..])
    );
    assert_eq!(raw, b"Subject: s\r\n\r\n\xc3\xa9t\xc3\xa9 8-bit\r\n");
}
