//! What matterwall says about itself and takes in, as Microsoft 365 and
//! Google see it (issue 14): `[smtp] hostname` in the banner, the EHLO reply
//! and our EHLO toward the next hop; the null reverse path scanned like any
//! message, with no notice ever sent to `<>`.

use crate::support::{Client, Setup, Sink, SinkMode};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

const CLEAN: &[u8] = b"From: a.partner@firm.example\r\nTo: friend@partner.example\r\nSubject: lunch\r\n\r\nAre we still on for Friday?\r\n";

/// The banner and the EHLO reply's lines, read raw.
async fn greeting(port: u16) -> (String, Vec<String>) {
    let mut io = BufReader::new(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
    let mut banner = String::new();
    io.read_line(&mut banner).await.unwrap();
    io.get_mut()
        .write_all(b"EHLO client.example\r\n")
        .await
        .unwrap();
    let mut lines = Vec::new();
    loop {
        let mut l = String::new();
        io.read_line(&mut l).await.unwrap();
        let last = l.as_bytes().get(3) == Some(&b' ');
        lines.push(l.trim_end().to_string());
        if last {
            return (banner.trim_end().to_string(), lines);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hostname_is_in_the_banner_the_ehlo_reply_and_toward_the_next_hop() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "hostname = \"gw.firm.example\"");
    let server = setup.serve().await;
    let (banner, ehlo) = greeting(server.port).await;
    assert_eq!(banner, "220 gw.firm.example ESMTP matterwall");
    assert_eq!(ehlo[0], "250-gw.firm.example");
    let mut c = Client::connect(server.port).await.unwrap();
    let (code, text) = c
        .mail("a.partner@firm.example", &["friend@partner.example"], CLEAN)
        .await;
    assert_eq!(code, 250, "{text}");
    assert_eq!(sink.messages()[0].helo, "gw.firm.example");
    server.stop().await;
}

#[test]
fn a_short_hostname_is_refused_beyond_loopback() {
    let setup = Setup::for_process(1, "");
    let toml = std::fs::read_to_string(setup.config()).unwrap();
    let toml = toml.replacen(
        "listen = \"127.0.0.1:0\"",
        "listen = \"0.0.0.0:0\"\nhostname = \"matterwall\"",
        1,
    );
    std::fs::write(setup.config(), toml).unwrap();
    let out = setup.cli(&["rules", "validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("[smtp] hostname: \"matterwall\" is not fully qualified"),
        "{err}"
    );
}

/// An out-of-office reply (null reverse path) quoting a client's matter to
/// the wrong party is held like any message; compliance hears of it, and no
/// notice is attempted to `<>` (nor anything else bounced back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_message_from_the_null_sender_gets_no_notice() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    setup.append(crate::support::NOTIFY);
    let server = setup.serve().await;
    let mut c = Client::connect(server.port).await.unwrap();
    let reply = b"From: A Partner <a.partner@firm.example>\r\nTo: j.smith@meridian-tankers.com\r\n\
        Subject: Automatic reply: draft\r\nAuto-Submitted: auto-replied\r\n\r\n\
        I am out of the office. For Harrowgate Shipping (2024-0117) write to my assistant.\r\n";
    let (code, text) = c.mail("", &["j.smith@meridian-tankers.com"], reply).await;
    assert_eq!(code, 250, "{text}");
    assert!(text.contains("held as"), "scanned and held: {text}");
    let got = sink.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_after = sink.messages();
    assert_eq!(got_after.len(), got.len());
    assert_eq!(got.len(), 1, "only compliance's notice: {got:?}");
    assert_eq!(got[0].rcpts, ["compliance@firm.example"]);
    assert!(got.iter().all(|g| g.rcpts.iter().all(|r| !r.is_empty())));
    let held = setup.held();
    assert_eq!(held.len(), 1);
    server.stop().await;
}

const TENANT: &str = "6babcaad-604b-40ac-a9d7-9fd97c0b779f";

fn from_tenant(tenant: Option<&str>) -> Vec<u8> {
    let header = tenant
        .map(|t| format!("X-MS-Exchange-CrossTenant-Id: {t}\r\n"))
        .unwrap_or_default();
    let mut raw = header.into_bytes();
    raw.extend_from_slice(CLEAN);
    raw
}

/// Exchange Online's addresses are shared by every tenant: only mail that
/// names the firm's tenant is taken; the rest is refused after DATA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_firms_tenant_is_accepted() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let extra = format!("accept_tenant_ids = [\"{}\"]", TENANT.to_uppercase());
    let setup = Setup::new(sink.port, &extra);
    let server = setup.serve().await;
    let to = ["friend@partner.example"];
    let other = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0";
    for (tenant, want) in [(Some(TENANT), 250), (Some(other), 550), (None, 550)] {
        let mut c = Client::connect(server.port).await.unwrap();
        let (code, text) = c
            .mail("a.partner@firm.example", &to, &from_tenant(tenant))
            .await;
        assert_eq!(code, want, "{tenant:?}: {text}");
        if want == 550 {
            assert!(text.starts_with("5.7.1"), "{text}");
        }
    }
    let got = sink.messages();
    assert_eq!(got.len(), 1, "only the firm's tenant's message was relayed");
    assert!(String::from_utf8_lossy(&got[0].body).contains(TENANT));
    server.stop().await;
}

/// `[smtp] max_buffered_bytes`: a message reserves its `SIZE=` at DATA;
/// past the cap its body goes to the spool instead (`452 4.3.1` only when
/// there is no spool: `tests/it/big_messages.rs`), and a `SIZE=` that lies
/// gets `552` either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_in_memory_is_capped_across_sessions() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "max_buffered_bytes = 150000");
    let server = setup.serve().await;
    let mut a = Client::connect(server.port).await.unwrap();
    assert_eq!(a.cmd("EHLO a").await.0, 250);
    assert_eq!(
        a.cmd("MAIL FROM:<a.partner@firm.example> SIZE=100000")
            .await
            .0,
        250
    );
    assert_eq!(a.cmd("RCPT TO:<friend@partner.example>").await.0, 250);
    assert_eq!(a.cmd("DATA").await.0, 354, "100000 of 150000 reserved");
    let mut b = Client::connect(server.port).await.unwrap();
    assert_eq!(b.cmd("EHLO b").await.0, 250);
    assert_eq!(
        b.cmd("MAIL FROM:<a.partner@firm.example> SIZE=60000")
            .await
            .0,
        250
    );
    assert_eq!(b.cmd("RCPT TO:<friend@partner.example>").await.0, 250);
    assert_eq!(b.cmd("DATA").await.0, 354, "past the cap: spooled");
    assert!(server.log().contains("spooling the message to disk"));
    // Spooled, a SIZE= that lies is held to what it said too.
    let long = [[b'x'; 1000].as_slice(), b"\r\n"].concat().repeat(61);
    b.send(&crate::support::stuff(&long)).await;
    assert_eq!(b.reply().await.0, 552);
    assert_eq!(
        b.cmd("MAIL FROM:<a.partner@firm.example> SIZE=60000")
            .await
            .0,
        250
    );
    assert_eq!(b.cmd("RCPT TO:<friend@partner.example>").await.0, 250);
    assert_eq!(b.cmd("DATA").await.0, 354);
    b.send(&crate::support::stuff(CLEAN)).await;
    assert_eq!(b.reply().await.0, 250);
    a.send(&crate::support::stuff(CLEAN)).await;
    assert_eq!(a.reply().await.0, 250);
    // A SIZE= that lies is held to what it said.
    assert_eq!(
        b.cmd("MAIL FROM:<a.partner@firm.example> SIZE=20").await.0,
        250
    );
    assert_eq!(b.cmd("RCPT TO:<friend@partner.example>").await.0, 250);
    assert_eq!(b.cmd("DATA").await.0, 354);
    b.send(&crate::support::stuff(CLEAN)).await;
    assert_eq!(b.reply().await.0, 552);
    assert_eq!(sink.messages().len(), 2);
    server.stop().await;
}
