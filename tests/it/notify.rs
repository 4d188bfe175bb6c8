//! Notices about held mail, end to end: the sender hears that a message is
//! held (reference and rule, never the matched words or the subject), and
//! later that it was rejected, with the reviewer's comment; compliance gets
//! one message per hold, or the digest. Everything arrives at the sink.

use crate::support::{example, held_id, Client, Got, Setup, Sink, SinkMode};

fn text(g: &Got) -> String {
    let msg = mail_parser::MessageParser::default()
        .parse(&g.body)
        .unwrap();
    format!(
        "{}\n{}",
        msg.subject().unwrap_or_default(),
        msg.body_text(0).unwrap_or_default()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_rejected_and_digest_notices() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    setup.append(crate::support::NOTIFY);
    let server = setup.serve().await;
    let mut c = Client::connect(server.port).await.unwrap();
    let raw = example("misdirected.eml");
    let reply = c
        .mail(
            "a.partner@firm.example",
            &["j.smith@meridian-tankers.com"],
            &raw,
        )
        .await;
    let id = held_id(&reply);
    let got = sink.wait_for(2).await;
    assert_eq!(got.len(), 2, "a notice to the sender and one to compliance");
    for g in &got {
        assert_eq!(g.from, "", "notices use the null reverse path");
        let t = text(g);
        assert!(t.contains(&id), "{t}");
        assert!(t.contains("tell-the-sender"), "{t}");
        for secret in ["Harrowgate", "2024-0117", "witness", "circulate"] {
            assert!(!t.contains(secret), "{secret:?} leaked into a notice: {t}");
        }
    }
    let to: Vec<&str> = got.iter().map(|g| g.rcpts[0].as_str()).collect();
    assert!(to.contains(&"a.partner@firm.example"), "{to:?}");
    assert!(to.contains(&"compliance@firm.example"), "{to:?}");

    // A second held message, from an outside sender: no notice to it
    // (backscatter), compliance still hears.
    let (code, _) = c
        .mail(
            "someone@elsewhere.example",
            &["j.smith@meridian-tankers.com"],
            &raw,
        )
        .await;
    assert_eq!(code, 250);
    let got = sink.wait_for(3).await;
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].rcpts, ["compliance@firm.example"]);
    server.stop().await;

    // Rejection from the command line: the sender gets the comment.
    let out = setup.cli(&[
        "quarantine",
        "reject",
        &id,
        "--comment",
        "Wrong recipient: use the client portal.",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = sink.messages();
    assert_eq!(got.len(), 4);
    assert_eq!(got[3].rcpts, ["a.partner@firm.example"]);
    assert!(text(&got[3]).contains("Wrong recipient: use the client portal."));

    // The digest lists what is still held: the second message only.
    let out = setup.cli(&["quarantine", "digest"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = sink.messages();
    assert_eq!(got.len(), 5);
    let digest = text(&got[4]);
    assert!(digest.contains("1 message(s) are held"), "{digest}");
    assert!(digest.contains("someone@elsewhere.example"), "{digest}");
    assert!(
        !digest.contains(&id),
        "the rejected one is not awaiting review"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_notify_table_is_refused_with_its_reason() {
    let setup = Setup::new(1, "");
    setup.append("\n[notify]\ncompliance_mode = \"hourly\"\nheld_text = \"{ruels}\"\n");
    let out = setup.cli(&["rules", "validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("compliance_mode: \"hourly\""), "{err}");
    assert!(err.contains("unknown placeholder {ruels}"), "{err}");
}
