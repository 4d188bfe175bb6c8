//! The loop stamp (issue 14): what matterwall sends on — a relayed message,
//! a notice, a released message — carries `X-Matterwall-Stamp` made with
//! the installation's key (`data/stamp.key`, 0600), which verifies; a stamp
//! that arrives with a message is removed before scanning and relaying, so a
//! sender cannot forge one to get past the firm's transport rule; and
//! Exchange's `X-MS-Exchange-Organization-*` headers pass exactly.

use crate::support::{held_id, Client, Got, Setup, Sink, SinkMode};
use matterwall::smtp::stamp;
use std::time::Duration;

const SENT: &[u8] = b"X-MS-Exchange-Organization-AuthAs: Internal\r\n\
X-Matterwall-Stamp: v=1; t=1700000000;\r\n h=Zm9yZ2VkIGJ5IHRoZSBzZW5kZXI\r\n\
x-ms-exchange-organization-network-message-id:\r\n\t0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\r\n\
Message-ID: <lunch-1@firm.example>\r\nFrom: a.partner@firm.example\r\nTo: friend@partner.example\r\n\
X-Matterwall-Stamp: v=1; t=1; h=AAAA\r\nSubject: lunch\r\n\r\nAre we still on for Friday?\r\n\
X-Matterwall-Stamp: in the body, not a header: stays\r\n";

/// What the sink must get: SENT without its two header stamps.
const RELAYED: &[u8] = b"X-MS-Exchange-Organization-AuthAs: Internal\r\n\
x-ms-exchange-organization-network-message-id:\r\n\t0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0\r\n\
Message-ID: <lunch-1@firm.example>\r\nFrom: a.partner@firm.example\r\nTo: friend@partner.example\r\n\
Subject: lunch\r\n\r\nAre we still on for Friday?\r\n\
X-Matterwall-Stamp: in the body, not a header: stays\r\n";

fn key(setup: &Setup) -> [u8; 32] {
    let path = setup.dir.path().join("data/stamp.key");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the stamp key is private");
    std::fs::read(path).unwrap().try_into().unwrap()
}

/// The stamp `got` carried verifies under `key` for the message it came on.
fn verifies(key: &[u8; 32], got: &Got) {
    let stamp_line = got.stamp.clone().expect("stamped");
    let whole = [stamp_line, got.body.clone()].concat();
    let made = stamp::verify(key, &whole).unwrap_or_else(|e| panic!("{e}"));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(made <= now && now - made < 600, "made {made}, now {now}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_stamp_is_stripped_and_ours_verifies() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    let server = setup.serve().await;
    let mut c = Client::connect(server.port).await.unwrap();
    let (code, text) = c
        .mail("a.partner@firm.example", &["friend@partner.example"], SENT)
        .await;
    assert_eq!(code, 250, "{text}");
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(
        String::from_utf8_lossy(&got[0].body),
        String::from_utf8_lossy(RELAYED),
        "the forged stamps are gone; every other byte, Exchange's headers included, is as sent"
    );
    let key = key(&setup);
    verifies(&key, &got[0]);
    // What the sender put in is no stamp of ours.
    let forged = [
        b"X-Matterwall-Stamp: v=1; t=1; h=AAAA\r\n".as_slice(),
        &got[0].body,
    ]
    .concat();
    assert_eq!(stamp::verify(&key, &forged), Err(stamp::StampError::Forged));
    server.stop().await;
}

const NOTIFY: &str = r#"
[notify]
compliance = ["compliance@firm.example"]
compliance_mode = "every-hold"
"#;

/// A notice about a hold and the held message once released: both stamped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notices_and_released_messages_are_stamped() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    setup.append(NOTIFY);
    let server = setup.serve().await;
    let reply = crate::support::send_misdirected(server.port).await;
    let id = held_id(&reply);
    for _ in 0..250 {
        if !sink.messages().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let key = key(&setup);
    let notice = sink.messages();
    assert_eq!(notice.len(), 1, "compliance's notice");
    assert_eq!(notice[0].rcpts, ["compliance@firm.example"]);
    verifies(&key, &notice[0]);
    server.stop().await;
    let out = setup.cli(&["quarantine", "release", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = sink.messages();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].rcpts, ["j.smith@meridian-tankers.com"]);
    verifies(&key, &got[1]);
}
