//! RELIABILITY §2 item 22: an outage longer than the sending MTA's
//! `maximal_queue_lifetime`. While matterwall cannot take custody (here the
//! next hop is down), every message gets a 4xx and waits in the sender's
//! queue; after that lifetime (Postfix: 5 days) the MTA bounces it. The
//! alert must come days earlier: `/metrics` shows how long every message has
//! been refused (`matterwall_tempfail_streak_seconds`) and how many in a row,
//! and both go back to 0 with the first message taken. docs/runbook.md says
//! what to alert on and what to do.

use crate::smtp_e2e::CLEAN;
use crate::support::{free_port, http, Client, Setup, Sink};
use std::time::Duration;

fn gauge(text: &str, name: &str) -> f64 {
    let line = text.lines().find(|l| l.starts_with(&format!("{name} ")));
    let line = line.unwrap_or_else(|| panic!("no {name} in {text}"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

async fn send(port: u16) -> u16 {
    let mut c = Client::connect(port).await.unwrap();
    c.mail_or_zero("a.partner@firm.example", &["b@partner.example"], CLEAN)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_tempfails_is_on_metrics_until_mail_flows_again() {
    // Nothing listens on the next hop's port: it is down.
    let port = free_port();
    let setup = Setup::new(port, "");
    let server = setup.serve().await;
    let metrics = || async { http::get(setup.http_port, "/metrics", &[]).await.text() };
    let m = metrics().await;
    assert_eq!(gauge(&m, "matterwall_tempfail_streak_seconds"), 0.0, "{m}");
    assert_eq!(send(server.port).await, 451);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(send(server.port).await, 451);
    let m = metrics().await;
    assert_eq!(gauge(&m, "matterwall_tempfail_streak_messages"), 2.0, "{m}");
    let since_first = gauge(&m, "matterwall_tempfail_streak_seconds");
    assert!(since_first >= 1.0, "counted from the first 4xx: {m}");
    assert!(gauge(&m, "matterwall_messages_total{outcome=\"tempfail\"}") >= 2.0);
    // The next hop is back: the first message taken ends the run.
    let sink = Sink::start_at(port, &[]).await;
    assert_eq!(send(server.port).await, 250);
    let m = metrics().await;
    assert_eq!(gauge(&m, "matterwall_tempfail_streak_seconds"), 0.0, "{m}");
    assert_eq!(gauge(&m, "matterwall_tempfail_streak_messages"), 0.0, "{m}");
    assert_eq!(sink.messages().len(), 1);
    server.stop().await;
}
