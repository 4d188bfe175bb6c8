//! Issue 16, clock jumps (RELIABILITY §2 item 16): the built server runs
//! under libfaketime, whose wall clock the test moves a year forward and
//! back mid-run (the monotonic clock is left alone, as a real jump leaves
//! it). A session open across the jump carries on, its command deadlines
//! are not fired by it, mail is relayed and held on both sides of it, and no
//! held message is expired by it. (The hourly retention job skips a run
//! when the wall clock moved an hour beyond the monotonic clock:
//! `store::clock_jumped`, unit-tested; its first run is an hour after start.)

use crate::smtp_e2e::CLEAN;
use crate::support::{example, held_id, Client, Process, Setup, Sink, SinkMode};

const LIBFAKETIME: &str = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_year_forward_and_back_changes_nothing() {
    assert!(
        std::path::Path::new(LIBFAKETIME).exists(),
        "libfaketime missing (apt-get install faketime; .ci/run does)"
    );
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::for_process(sink.port, "");
    let clock = setup.config().with_file_name("faketime");
    std::fs::write(&clock, "+0\n").unwrap();
    let wrapper = [
        "env".to_string(),
        format!("LD_PRELOAD={LIBFAKETIME}"),
        format!("FAKETIME_TIMESTAMP_FILE={}", clock.display()),
        "FAKETIME_NO_CACHE=1".into(),
        "FAKETIME_DONT_FAKE_MONOTONIC=1".into(),
    ];
    let wrapper: Vec<&str> = wrapper.iter().map(String::as_str).collect();
    let server = Process::start_under(&wrapper, &setup.config()).await;
    let leak = example("misdirected.eml");
    let (from, to) = ("a.partner@firm.example", ["j.smith@meridian-tankers.com"]);
    let mut open = Client::connect(server.port).await.unwrap();
    assert_eq!(open.cmd("EHLO before").await.0, 250);
    let before = held_id(
        &Client::connect(server.port)
            .await
            .unwrap()
            .mail(from, &to, &leak)
            .await,
    );
    for (jump, days) in [("+365d", 365), ("-365d", -365)] {
        std::fs::write(&clock, format!("{jump}\n")).unwrap();
        let held = held_id(
            &Client::connect(server.port)
                .await
                .unwrap()
                .mail(from, &to, &leak)
                .await,
        );
        let mut c = Client::connect(server.port).await.unwrap();
        assert_eq!(
            c.mail("a@firm.example", &["b@partner.example"], CLEAN)
                .await
                .0,
            250
        );
        let list = setup.held();
        let this = list.iter().find(|m| m["id"] == held.as_str()).unwrap();
        // The server's wall clock really moved.
        let at = this["received_at"].as_str().unwrap();
        let at = chrono::DateTime::parse_from_rfc3339(at).unwrap();
        let moved = (at.to_utc() - chrono::Utc::now()).num_days();
        assert!((moved - days).abs() <= 1, "received {at} after {jump}");
        for id in [&before, &held] {
            let m = list
                .iter()
                .find(|m| m["id"] == id.as_str())
                .expect("still listed");
            assert_eq!(m["status"], "held", "after {jump}: {m}");
        }
    }
    // The session opened before both jumps is still served.
    assert_eq!(open.cmd("NOOP").await.0, 250);
    let r = open
        .mail("a@firm.example", &["b@partner.example"], CLEAN)
        .await;
    assert_eq!(r.0, 250, "{r:?}");
    assert_eq!(sink.messages().len(), 3);
    let log = server.log();
    assert!(!log.contains("expired"), "{log}");
    server.stop();
}
