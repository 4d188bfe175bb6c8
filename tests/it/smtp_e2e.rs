//! End to end over real sockets: the server, in-process, between a test
//! client and a next-hop sink written in `support` (what only the process
//! shows is in `serve_process`). No timed assertions: every wait is for an
//! event (a reply, a closed socket).

use crate::support;
use crate::support::{example, held_id, hold_one, send_misdirected, Client, Setup, Sink, SinkMode};

pub(crate) const CLEAN: &[u8] = b"From: a@firm.example\r\nTo: b@partner.example\r\nSubject: lunch\r\n\r\n.leading dot\r\n..two dots\r\n.\r\n\xc3\xa9t\xc3\xa9 8-bit\r\nend.\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clean_mail_arrives_byte_identical_with_pipelining() {
    let (sink, setup, server) = support::start(&[]).await;
    let mut c = Client::connect(server.port).await.unwrap();
    // The whole envelope in one write: RFC 2920 pipelining.
    c.send(b"EHLO test\r\nMAIL FROM:<a@firm.example> BODY=8BITMIME\r\nRCPT TO:<b@partner.example>\r\nRCPT TO:<c@firm.example>\r\nDATA\r\n")
        .await;
    for want in [250, 250, 250, 250, 354] {
        assert_eq!(c.reply().await.0, want);
    }
    c.send(&support::stuff(CLEAN)).await;
    let (code, text) = c.reply().await;
    assert_eq!(code, 250, "{text}");
    assert!(
        text.contains("queued as sink1"),
        "the next hop's own reply: {text}"
    );
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].from, "a@firm.example");
    assert_eq!(got[0].rcpts, ["b@partner.example", "c@firm.example"]);
    assert_eq!(got[0].body, CLEAN);
    assert!(setup.held().is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn held_survives_restart_and_releases_once() {
    let (sink, setup, server) = support::start(&[]).await;
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
    assert!(sink.messages().is_empty());
    server.stop().await;
    let held = setup.held();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["id"], id.as_str());
    assert_eq!(held[0]["status"], "held");
    assert_eq!(held[0]["rules"][0], "unauthorised-recipient");
    // After a restart the record is still there.
    let server = setup.serve().await;
    server.stop().await;
    assert_eq!(setup.held()[0]["id"], id.as_str());
    let out = setup.cli(&["quarantine", "release", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let again = setup.cli(&["quarantine", "release", &id]);
    assert!(!again.status.success(), "released twice");
    let got = sink.messages();
    assert_eq!(got.len(), 1, "arrived exactly once");
    assert_eq!(got[0].body, raw);
    assert_eq!(got[0].rcpts, ["j.smith@meridian-tankers.com"]);
    assert_eq!(setup.held()[0]["status"], "released");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reject_rule_and_quarantine_reject() {
    let (sink, setup, server) = support::start(&[]).await;
    let mut c = Client::connect(server.port).await.unwrap();
    let (code, text) = c
        .mail("blocked@firm.example", &["b@partner.example"], CLEAN)
        .await;
    assert_eq!(
        (code, text.as_str()),
        (550, "5.7.1 rejected by rule blocked-sender")
    );
    // An unparseable recipient is accepted at RCPT, then held by policy.
    let reply = c
        .mail("a@firm.example", &["a%evil.test@firm.example"], CLEAN)
        .await;
    let id = held_id(&reply);
    server.stop().await;
    assert!(sink.messages().is_empty());
    let out = setup.cli(&["quarantine", "reject", &id, "--comment", "no"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let held = setup.held();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["status"], "rejected");
    assert!(!setup.cli(&["quarantine", "release", &id]).status.success());
    // The sink got the sender's rejection notice, never the message.
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].from.as_str(), got[0].rcpts.as_slice()),
        ("", &["a@firm.example".to_string()][..])
    );
    assert!(!String::from_utf8_lossy(&got[0].body).contains("two dots"));
}

/// On tokio's paused clock: the stalled next hop's timeout passes at once.
#[tokio::test(start_paused = true)]
async fn next_hop_down_or_stalled_is_451() {
    let down = support::free_port();
    let setup = Setup::new(down, "");
    let server = setup.serve_here().await;
    let mut c = Client::connect(server.port).await.unwrap();
    let (code, text) = c
        .mail("a@firm.example", &["b@partner.example"], CLEAN)
        .await;
    assert_eq!(
        (code, text.as_str()),
        (451, "4.4.1 next hop unavailable, try again later")
    );
    server.stop().await;
    assert!(setup.held().is_empty());

    let stall = Sink::start(SinkMode::Stall, &[]).await;
    setup.write_config(stall.port, "");
    let server = setup.serve_here().await;
    let mut c = Client::connect(server.port).await.unwrap();
    let (code, _) = c
        .mail("a@firm.example", &["b@partner.example"], CLEAN)
        .await;
    assert_eq!(code, 451);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn next_hop_refuses_recipients() {
    let (sink, _setup, server) = support::start(&["gone@partner.example"]).await;
    let mut c = Client::connect(server.port).await.unwrap();
    let (code, _) = c
        .mail(
            "a@firm.example",
            &["b@partner.example", "gone@partner.example"],
            CLEAN,
        )
        .await;
    assert_eq!(code, 250);
    let (code, text) = c
        .mail("a@firm.example", &["gone@partner.example"], CLEAN)
        .await;
    assert_eq!((code, text.as_str()), (550, "5.1.1 no such user"));
    let got = sink.messages();
    assert_eq!(got.len(), 2, "the message, then the sender's report");
    assert_eq!(got[0].rcpts, ["b@partner.example"]);
    // The refused recipient is reported to the sender, with the null
    // reverse path, and the report does not copy the body.
    assert_eq!(got[1].from, "");
    assert_eq!(got[1].rcpts, ["a@firm.example"]);
    let report = String::from_utf8_lossy(&got[1].body);
    assert!(report.contains("report-type=delivery-status"), "{report}");
    assert!(report.contains("Final-Recipient: rfc822; gone@partner.example\r\n"));
    assert!(report.contains("Status: 5.1.1\r\n"));
    assert!(report.contains("Subject: lunch"), "the original headers");
    assert!(!report.contains("two dots"), "never the body");
    server.stop().await;
}

/// A release the next hop takes for one recipient and refuses (5xx) for
/// the other: released to the one, the refused one named in the audit
/// trail, and the sender gets a delivery report for it through the outbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_partly_refused_reports_to_the_sender() {
    let (sink, setup, server) = support::start(&["gone@partner.example"]).await;
    let mut c = Client::connect(server.port).await.unwrap();
    let raw = example("misdirected.eml");
    let to = ["j.smith@meridian-tankers.com", "gone@partner.example"];
    let id = held_id(&c.mail("a.partner@firm.example", &to, &raw).await);
    assert!(sink.messages().is_empty());
    let out = setup.cli(&["quarantine", "release", &id]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the operator hears of the refusal");
    assert!(err.contains("refused gone@partner.example"), "{err}");
    assert_eq!(setup.held()[0]["status"], "released");
    let got = sink.messages();
    assert_eq!(got.len(), 2, "the message, then the sender's report");
    assert_eq!(got[0].rcpts, ["j.smith@meridian-tankers.com"]);
    assert_eq!(got[0].body, raw);
    assert_eq!(
        (got[1].from.as_str(), got[1].rcpts.as_slice()),
        ("", &["a.partner@firm.example".to_string()][..])
    );
    let report = String::from_utf8_lossy(&got[1].body);
    assert!(report.contains("report-type=delivery-status"), "{report}");
    assert!(report.contains("Final-Recipient: rfc822; gone@partner.example\r\n"));
    assert!(
        !report.contains("Final-Recipient: rfc822; j.smith"),
        "{report}"
    );
    assert!(report.contains("Status: 5.1.1\r\n"));
    assert!(
        report.contains(&format!("matterwall reference {id}")),
        "{report}"
    );
    assert!(!report.contains("Harrowgate"), "never the body: {report}");
    let trail = setup.audit();
    let released = trail.iter().find(|e| e["kind"] == "released").unwrap();
    assert_eq!(
        released["details"]["refused"],
        serde_json::json!(["gone@partner.example"])
    );
    let notices = crate::outbox::open_store(&setup).notices().unwrap();
    let dsn: Vec<_> = notices.iter().filter(|n| n.kind == "dsn").collect();
    assert_eq!(dsn.len(), 1, "{notices:?}");
    assert_eq!(
        (dsn[0].about.as_str(), dsn[0].status.as_str()),
        (id.as_str(), "sent")
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_the_next_hop_refuses_is_held() {
    // The sender's own address is refused too: the report cannot go out,
    // so it waits in the quarantine rather than vanish.
    let (_sink, setup, server) = support::start(&["gone@partner.example", "a@firm.example"]).await;
    let mut c = Client::connect(server.port).await.unwrap();
    let (code, _) = c
        .mail(
            "a@firm.example",
            &["b@partner.example", "gone@partner.example"],
            CLEAN,
        )
        .await;
    assert_eq!(code, 250);
    let held = setup.held();
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["rules"][0], "undeliverable-report");
    assert_eq!(held[0]["to"][0], "a@firm.example");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_modifiers_change_what_passes() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    setup.append(
        r#"
[[rule]]
name = "notice-for-partners"
when = { sender = ["a@firm.example"] }
action = "pass"
add_header = "X-Firm-Checked: yes"
notice = "CONFIDENTIAL: this message may be privileged."
"#,
    );
    let server = setup.serve().await;
    let mut c = Client::connect(server.port).await.unwrap();
    let (code, text) = c
        .mail("a@firm.example", &["b@partner.example"], CLEAN)
        .await;
    assert_eq!(code, 250, "{text}");
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    let msg = mail_parser::MessageParser::default()
        .parse(&got[0].body)
        .unwrap();
    assert_eq!(msg.header_raw("X-Firm-Checked").map(str::trim), Some("yes"));
    assert_eq!(msg.subject(), Some("lunch"));
    let body = msg.body_text(0).unwrap();
    assert!(
        body.starts_with(".leading dot\r\n..two dots\r\n.\r\nété 8-bit"),
        "{body:?}"
    );
    assert!(
        body.ends_with("CONFIDENTIAL: this message may be privileged.\r\n"),
        "{body:?}"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smuggling_and_oversize_are_refused() {
    let (sink, _setup, server) = support::start(&[]).await;
    let vectors: [&[u8]; 4] = [b"\n.\n", b"\r\n.\n", b"\n.\r\n", b"\r.\r"];
    for v in vectors {
        let mut c = Client::connect(server.port).await.unwrap();
        assert_eq!(c.cmd("EHLO t").await.0, 250);
        assert_eq!(c.cmd("MAIL FROM:<a@firm.example>").await.0, 250);
        assert_eq!(c.cmd("RCPT TO:<b@partner.example>").await.0, 250);
        assert_eq!(c.cmd("DATA").await.0, 354);
        let mut body = b"Subject: one\r\n\r\nfirst".to_vec();
        body.extend_from_slice(v);
        body.extend_from_slice(b"MAIL FROM:<x@evil.test>\r\nRCPT TO:<y@evil.test>\r\nDATA\r\nSubject: two\r\n\r\n.\r\n");
        c.send(&body).await;
        assert_eq!(c.reply().await.0, 550, "{v:?}");
        // The smuggled commands were data: the session is back to greeted.
        assert_eq!(c.cmd("QUIT").await.0, 221);
    }
    assert!(sink.messages().is_empty(), "a smuggled message got through");
    let mut c = Client::connect(server.port).await.unwrap();
    let mut big = Vec::new();
    while big.len() <= 200_000 {
        big.extend_from_slice(&[b'x'; 998]);
        big.extend_from_slice(b"\r\n");
    }
    let (code, _) = c.mail("a@firm.example", &["b@partner.example"], &big).await;
    assert_eq!(code, 552);
    assert_eq!(c.cmd("MAIL FROM:<a@firm.example> SIZE=100001").await.0, 552);
    assert!(sink.messages().is_empty());
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_sessions() {
    let (sink, _setup, server) = support::start(&[]).await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let port = server.port;
        tasks.push(tokio::spawn(async move {
            let mut c = Client::connect(port).await.unwrap();
            let body = format!("Subject: n{i}\r\n\r\nhello {i}\r\n");
            c.mail("a@firm.example", &["b@partner.example"], body.as_bytes())
                .await
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap().0, 250);
    }
    assert_eq!(sink.messages().len(), 100);
    server.stop().await;
}

/// The reload SIGHUP asks for, sent in-process: refused or accepted, each
/// one is in the audit trail with its outcome, and an accepted one is in
/// force for the next message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reload_is_audited_and_the_accepted_one_applies() {
    let (sink, setup, server) = support::start(&[]).await;
    let good = std::fs::read_to_string(setup.config()).unwrap();
    std::fs::write(setup.config(), "[smtp]\nnot_a_key = 1\n").unwrap();
    server.reload().await;
    support::reloads_counted(setup.http_port, "refused", 1).await;
    std::fs::write(setup.config(), good).unwrap();
    setup.append(
        r#"
[[rule]]
name = "lunch-is-held"
when = { sender = ["a@firm.example"] }
action = "hold"
"#,
    );
    server.reload().await;
    support::reloads_counted(setup.http_port, "ok", 1).await;
    let mut c = Client::connect(server.port).await.unwrap();
    let reply = c
        .mail("a@firm.example", &["b@partner.example"], CLEAN)
        .await;
    held_id(&reply);
    assert!(sink.messages().is_empty());
    server.stop().await;
    let audited: Vec<_> = setup
        .audit()
        .into_iter()
        .filter(|e| e["kind"] == "reload")
        .map(|e| e["details"]["ok"].clone())
        .collect();
    assert_eq!(audited, [false, true]);
}

/// RELIABILITY §2 item 11: a client list emptied, cut to its header row
/// (an export that failed half-way) or cut in the middle of a line is
/// refused on reload, and the last good list stays in force: the leak is
/// still held after each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_with_an_empty_or_cut_client_list_keeps_the_last_good() {
    let (sink, setup, server) = support::start(&[]).await;
    let rules = support::repo().join("rules");
    let clients = setup.dir.path().join("clients.csv");
    let good = std::fs::read_to_string(rules.join("clients.csv")).unwrap();
    std::fs::write(&clients, &good).unwrap();
    let config = std::fs::read_to_string(setup.config()).unwrap();
    let shipped = format!("clients = \"{}\"", rules.join("clients.csv").display());
    assert!(
        config.contains(&shipped),
        "the test setup's dictionaries moved"
    );
    let copied = format!("clients = \"{}\"", clients.display());
    std::fs::write(setup.config(), config.replace(&shipped, &copied)).unwrap();
    server.reload().await;
    support::reloads_counted(setup.http_port, "ok", 1).await;
    let header = good.lines().next().unwrap().to_string() + "\n";
    let mid_line = good[..good.len() - 10].to_string();
    for (n, bad) in ["", &header, &mid_line].into_iter().enumerate() {
        std::fs::write(&clients, bad).unwrap();
        server.reload().await;
        support::reloads_counted(setup.http_port, "refused", n + 1).await;
        held_id(&send_misdirected(server.port).await);
    }
    server.stop().await;
    assert!(sink.messages().is_empty(), "a leak went out");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_interrupted_midway_is_resolved_by_hand() {
    let (sink, setup, server) = support::start(&[]).await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        ids.push(hold_one(server.port).await);
    }
    server.stop().await;
    // What a crash between "releasing" and the next hop's answer leaves.
    let db = rusqlite::Connection::open(setup.dir.path().join("data/mw.db")).unwrap();
    db.execute("UPDATE held SET status = 'releasing'", [])
        .unwrap();
    drop(db);
    let server = setup.serve().await;
    server.stop().await;
    // Neither is re-sent blindly, nor can be released as if held.
    assert!(sink.messages().is_empty());
    assert!(!setup
        .cli(&["quarantine", "release", &ids[0]])
        .status
        .success());
    let out = setup.cli(&["quarantine", "resolve", &ids[0], "--delivered"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = setup.cli(&["quarantine", "resolve", &ids[1], "--not-delivered"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = setup.cli(&["quarantine", "release", &ids[1]]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(sink.messages().len(), 1, "only the one not delivered went");
    let status: Vec<_> = setup
        .held()
        .iter()
        .map(|h| {
            (
                h["id"].as_str().unwrap().to_string(),
                h["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert!(status.contains(&(ids[0].clone(), "released".into())));
    assert!(status.contains(&(ids[1].clone(), "released".into())));
    // Resolving needs exactly one of the two flags.
    assert!(!setup
        .cli(&["quarantine", "resolve", &ids[0]])
        .status
        .success());
}
