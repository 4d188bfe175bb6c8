//! Issue 14, messages up to 150 MB (Microsoft 365's maximum), over real
//! sockets: such a message is relayed byte for byte, and held when a client
//! name sits at its very end (the scan reads all of it); past `[smtp]
//! max_buffered_bytes` the body goes through an encrypted spool file that
//! exists only while it is needed, also when the client goes away mid-DATA;
//! a spool that cannot be made or written is `452 4.3.1`, never a loss.

use crate::support::{held_id, Client, Setup, Sink, SinkMode};
use std::path::{Path, PathBuf};

/// 150 MB, as Microsoft counts it.
const BIG: usize = 150_000_000;

/// A deposition recording sent to co-counsel: a cover note, an MP4 in
/// base64 (76-column lines, pseudo-random bytes that do not compress) and
/// a last text part holding `tail`, `total` bytes in all.
fn video_message(total: usize, tail: &str) -> Vec<u8> {
    use base64::Engine;
    let head = "From: a.partner@firm.example\r\nTo: friend@partner.example\r\n\
        Subject: deposition recording, day 2\r\nMIME-Version: 1.0\r\n\
        Content-Type: multipart/mixed; boundary=\"rec\"\r\n\r\n\
        --rec\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\
        The recording of yesterday's session is attached.\r\n\
        --rec\r\nContent-Type: video/mp4; name=\"day2.mp4\"\r\n\
        Content-Disposition: attachment; filename=\"day2.mp4\"\r\n\
        Content-Transfer-Encoding: base64\r\n\r\n";
    let end =
        format!("--rec\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{tail}\r\n--rec--\r\n");
    let mut m = Vec::with_capacity(total + 100);
    m.extend_from_slice(head.as_bytes());
    // An MP4 begins with its `ftyp` box: what the scanner sniffs.
    let mut chunk: Vec<u8> = b"\0\0\0\x18ftypmp42\0\0\0\0mp42isom\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"[..57].to_vec();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut line = [0u8; 78];
    while m.len() + 78 + end.len() <= total {
        base64::engine::general_purpose::STANDARD
            .encode_slice(&chunk, &mut line)
            .unwrap();
        line[76..].copy_from_slice(b"\r\n");
        m.extend_from_slice(&line);
        for b in chunk.chunks_mut(8) {
            // xorshift64: fast, and no two lines alike.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b.copy_from_slice(&state.to_le_bytes()[..b.len()]);
        }
    }
    m.extend_from_slice(end.as_bytes());
    m
}

/// A server whose `max_message_size` is 150 MB, with `smtp_extra` in
/// `[smtp]`; the scan is given the time a debug build needs.
fn big_setup(sink_port: u16, smtp_extra: &str) -> Setup {
    let setup = Setup::new(sink_port, smtp_extra);
    let toml = std::fs::read_to_string(setup.config()).unwrap();
    let toml = toml
        .replace("max_message_size = 100000", "max_message_size = 157286400")
        .replace("command_timeout_secs = 2", "command_timeout_secs = 120")
        .replace("data_done_timeout_secs = 2", "data_done_timeout_secs = 120");
    std::fs::write(
        setup.config(),
        toml + "\n[limits]\nmax_scan_millis = 600000\n",
    )
    .unwrap();
    setup
}

fn spool_dir(setup: &Setup) -> PathBuf {
    setup.dir.path().join("data/spool")
}

fn spool_files(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Sends `message` to friend@partner.example; the reply to its DATA.
async fn send(port: u16, message: &[u8]) -> (u16, String) {
    let mut c = Client::connect(port).await.unwrap();
    c.mail(
        "a.partner@firm.example",
        &["friend@partner.example"],
        message,
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_150_mb_message_is_relayed_byte_identical() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = big_setup(sink.port, "");
    let server = setup.serve().await;
    let message = video_message(BIG, "Best regards, Alex");
    assert!(message.len() > BIG - 100 && message.len() <= BIG);
    let reply = send(server.port, &message).await;
    assert_eq!(reply.0, 250, "{reply:?}");
    {
        let got = sink.got.lock().unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].body.len(), message.len());
        assert!(got[0].body == message, "the relayed bytes differ");
    }
    server.stop().await;
}

/// A client's name in the last line of 150 MB: the scan reads to the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_name_at_the_end_of_150_mb_is_held() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = big_setup(sink.port, "");
    let server = setup.serve().await;
    let message = video_message(BIG, "Best regards, and my thanks to Harrowgate Shipping");
    assert!(message.len() > BIG - 100);
    held_id(&send(server.port, &message).await);
    assert!(sink.got.lock().unwrap().is_empty());
    server.stop().await;
}

/// Past `max_buffered_bytes` the body is spooled: the file exists while
/// the body arrives, holds no plaintext, and is gone once the message is
/// settled; the message arrives whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_memory_budget_the_body_is_spooled_encrypted() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = big_setup(sink.port, "max_buffered_bytes = 1000000");
    let server = setup.serve().await;
    let dir = spool_dir(&setup);
    let memo = "Privileged and confidential: settlement range for the arbitration.\r\n";
    let mut message =
        b"From: a.partner@firm.example\r\nTo: friend@partner.example\r\nSubject: memo\r\n\r\n"
            .to_vec();
    while message.len() < 3_000_000 {
        message.extend_from_slice(memo.as_bytes());
    }
    let mut c = Client::connect(server.port).await.unwrap();
    assert_eq!(c.cmd("EHLO test").await.0, 250);
    assert_eq!(c.cmd("MAIL FROM:<a.partner@firm.example>").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<friend@partner.example>").await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354, "spooled, not refused");
    let stuffed = crate::support::stuff(&message);
    let (first, rest) = stuffed.split_at(2_000_000);
    c.send(first).await;
    let file = wait_for_spool_bytes(&dir, 1_000_000).await;
    let on_disk = std::fs::read(&file).unwrap();
    assert!(
        !on_disk.windows(20).any(|w| w == &memo.as_bytes()[..20]),
        "the spool holds plaintext"
    );
    c.send(rest).await;
    assert_eq!(c.reply().await.0, 250);
    assert!(
        spool_files(&dir).is_empty(),
        "the spool file outlived its message"
    );
    assert!(
        sink.got.lock().unwrap()[0].body == message,
        "the relayed bytes differ"
    );
    assert!(server.log().contains("spooling the message to disk"));
    server.stop().await;
}

/// The one spool file, once it holds at least `bytes`.
async fn wait_for_spool_bytes(dir: &Path, bytes: u64) -> PathBuf {
    for _ in 0..3000 {
        if let [file] = spool_files(dir).as_slice() {
            if std::fs::metadata(file).is_ok_and(|m| m.len() >= bytes) {
                return file.clone();
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("no spool file of {bytes} bytes in {}", dir.display());
}

/// A client that goes away mid-DATA leaves no spool file behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disconnect_mid_data_leaves_no_spool_file() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = big_setup(sink.port, "max_buffered_bytes = 1000000");
    let server = setup.serve().await;
    let dir = spool_dir(&setup);
    let mut c = Client::connect(server.port).await.unwrap();
    assert_eq!(c.cmd("EHLO test").await.0, 250);
    assert_eq!(c.cmd("MAIL FROM:<a.partner@firm.example>").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<friend@partner.example>").await.0, 250);
    assert_eq!(c.cmd("DATA").await.0, 354);
    c.send(&vec![b'x'; 1_500_000]).await;
    wait_for_spool_bytes(&dir, 1_000_000).await;
    drop(c);
    for _ in 0..3000 {
        if spool_files(&dir).is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(
        spool_files(&dir).is_empty(),
        "a spool file outlived its session"
    );
    assert!(sink.got.lock().unwrap().is_empty());
    server.stop().await;
}

/// Stale spool files (a crash's) are deleted at start; a spool folder that
/// cannot be made means `452 4.3.1` at DATA past the memory budget, and the
/// transaction stays open for the client to retry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_files_go_at_start_and_no_spool_is_452() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = big_setup(sink.port, "max_buffered_bytes = 1000");
    let dir = spool_dir(&setup);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("0123.spool"), b"left by a crash").unwrap();
    let server = setup.serve().await;
    assert!(spool_files(&dir).is_empty(), "stale spool files kept");
    server.stop().await;
    // The folder replaced by a file: no spool can be made.
    std::fs::remove_dir(&dir).unwrap();
    std::fs::write(&dir, b"not a folder").unwrap();
    let server = setup.serve().await;
    let mut c = Client::connect(server.port).await.unwrap();
    assert_eq!(c.cmd("EHLO test").await.0, 250);
    assert_eq!(c.cmd("MAIL FROM:<a.partner@firm.example>").await.0, 250);
    assert_eq!(c.cmd("RCPT TO:<friend@partner.example>").await.0, 250);
    let (code, text) = c.cmd("DATA").await;
    assert_eq!(
        (code, text.as_str()),
        (452, "4.3.1 insufficient system storage, try again later")
    );
    assert_eq!(c.cmd("RSET").await.0, 250);
    server.stop().await;
}

/// The spool's disk fills mid-DATA: the client gets `452 4.3.1` after its
/// terminator (never a 250), nothing is relayed, and nothing is left in
/// the spool. Needs root to mount a tmpfs (CI has it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_spool_disk_is_452_never_a_loss() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = big_setup(sink.port, "max_buffered_bytes = 1000");
    let dir = spool_dir(&setup);
    std::fs::create_dir_all(&dir).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs"])
        .arg(&dir)
        .status()
        .expect("mount");
    assert!(
        mounted.success(),
        "cannot mount a tmpfs (the test needs root)"
    );
    let _unmount = Unmount(dir.clone());
    let server = setup.serve().await;
    let message = video_message(3_000_000, "Best regards, Alex");
    let reply = send(server.port, &message).await;
    assert_eq!(
        (reply.0, reply.1.as_str()),
        (452, "4.3.1 insufficient system storage, try again later")
    );
    assert!(sink.got.lock().unwrap().is_empty());
    assert!(spool_files(&dir).is_empty());
    assert!(server.log().contains("cannot write the spool"));
    // The failed file was deleted, so the space is back: the next message
    // is spooled and passes.
    let reply = send(server.port, crate::smtp_e2e::CLEAN).await;
    assert_eq!(reply.0, 250, "{reply:?}");
    server.stop().await;
}

struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}
