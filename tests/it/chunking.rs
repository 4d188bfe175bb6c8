//! Issue 16, chunking over real sockets: the same conversation cut at every
//! byte boundary of the envelope and of the message (and at random into
//! many small pieces) gets the same replies, relays byte-identical mail and
//! holds what it held whole. The codec tests do this in memory; this does
//! it once through the kernel, where reads really return partial lines.

use crate::smtp_e2e::CLEAN;
use crate::support::{self, example, stuff, Client};

const ENVELOPE_CLEAN: &[u8] =
    b"MAIL FROM:<a@firm.example> BODY=8BITMIME\r\nRCPT TO:<b@partner.example>\r\nDATA\r\n";
const ENVELOPE_LEAK: &[u8] =
    b"MAIL FROM:<a.partner@firm.example>\r\nRCPT TO:<j.smith@meridian-tankers.com>\r\nDATA\r\n";

/// One transaction with the envelope and the stuffed body each cut where
/// told; returns the reply to the end of DATA.
async fn transaction(
    c: &mut Client,
    envelope: (&[u8], &[usize]),
    body: (&[u8], &[usize]),
) -> (u16, String) {
    c.send_cut(envelope.0, envelope.1).await;
    for want in [250, 250, 354] {
        assert_eq!(c.reply().await.0, want, "cut at {:?}", envelope.1);
    }
    c.send_cut(body.0, body.1).await;
    c.reply().await
}

/// A small deterministic generator: random cuts, the same on every run.
fn random_cuts(len: usize, seed: &mut u64) -> Vec<usize> {
    let mut cuts = Vec::new();
    let mut at = 0;
    loop {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        at += 1 + (*seed % 9) as usize;
        if at >= len {
            return cuts;
        }
        cuts.push(at);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_cut_gives_the_same_verdict_and_bytes() {
    let (sink, setup, server) = support::start(&[]).await;
    let mut c = Client::connect(server.port).await.unwrap();
    assert_eq!(c.cmd("EHLO cuts").await.0, 250);
    let clean = stuff(CLEAN);
    let mut relayed = 0;
    // Every cut of the envelope, then of the body, of the clean message.
    let cuts = (1..ENVELOPE_CLEAN.len()).map(|k| (vec![k], vec![]));
    let cuts = cuts.chain((1..clean.len()).map(|k| (vec![], vec![k])));
    for (env_cut, body_cut) in cuts {
        let r = transaction(&mut c, (ENVELOPE_CLEAN, &env_cut), (&clean, &body_cut)).await;
        assert_eq!(r.0, 250, "cut at {env_cut:?} {body_cut:?}: {r:?}");
        relayed += 1;
    }
    // Random cuts into pieces of 1 to 9 bytes.
    let mut seed = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..20 {
        let (e, b) = (
            random_cuts(ENVELOPE_CLEAN.len(), &mut seed),
            random_cuts(clean.len(), &mut seed),
        );
        let r = transaction(&mut c, (ENVELOPE_CLEAN, &e), (&clean, &b)).await;
        assert_eq!(r.0, 250, "{r:?}");
        relayed += 1;
    }
    let got = sink.messages();
    assert_eq!(got.len(), relayed);
    assert!(got
        .iter()
        .all(|g| g.body == CLEAN && g.rcpts == ["b@partner.example"]));
    // The held example: every cut of its envelope and of the end of its
    // body (where the terminating dot is), and random cuts of the whole.
    let leak = stuff(&example("misdirected.eml"));
    let tail = leak.len().saturating_sub(48)..leak.len();
    let cuts = (1..ENVELOPE_LEAK.len()).map(|k| (vec![k], vec![]));
    let cuts = cuts.chain(tail.map(|k| (vec![], vec![k])));
    let cuts = cuts.chain((0..10).map(|_| (vec![], random_cuts(leak.len(), &mut seed))));
    let mut held = 0;
    for (env_cut, body_cut) in cuts {
        let r = transaction(&mut c, (ENVELOPE_LEAK, &env_cut), (&leak, &body_cut)).await;
        support::held_id(&r);
        held += 1;
    }
    assert_eq!(sink.messages().len(), relayed, "a leak was relayed");
    assert_eq!(setup.held().len(), held);
    eprintln!("chunking: {relayed} relayed byte-identical, {held} held, over one connection");
    server.stop().await;
}
