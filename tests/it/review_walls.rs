//! Ethical walls bind reviewers (issue #15 finding 4): a review user whose
//! address is `screened` from a matter neither lists, opens, downloads nor
//! acts on mail that mentions it (404, as for an unknown id), and the queue
//! says how many are hidden; a screened admin sees that it exists, not what
//! it says. Over the real listener, through the pages and the API.

use crate::support::review::{api, login, PW};
use crate::support::{example, held_id, hold_one, Client, Setup, Sink, SinkMode};

/// The shipped matters, with a second address walled off from the matter
/// the shipped `wall.eml` mentions (`1:23-cv-04512`: p.lee is already).
fn walled_setup(sink: u16) -> Setup {
    let setup = Setup::new(sink, "");
    let rules = crate::support::repo().join("rules/matters.csv");
    let csv = std::fs::read_to_string(&rules).unwrap().replace(
        "p.lee@firm.example",
        "p.lee@firm.example;a.dmin@firm.example",
    );
    let mine = setup.dir.path().join("matters.csv");
    std::fs::write(&mine, csv).unwrap();
    let toml = std::fs::read_to_string(setup.config())
        .unwrap()
        .replace(&rules.display().to_string(), &mine.display().to_string());
    std::fs::write(setup.config(), toml).unwrap();
    setup
}

/// Holds the shipped `wall.eml` (it names matter 1:23-cv-04512) by sending
/// it outside the firm.
async fn hold_walled(port: u16) -> String {
    let mut c = Client::connect(port).await.unwrap();
    let reply = c
        .mail(
            "a.partner@firm.example",
            &["someone@outside.example"],
            &example("wall.eml"),
        )
        .await;
    held_id(&reply)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screened_reviewer_does_not_see_or_act_on_walled_mail() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = walled_setup(sink.port);
    setup.add_user("p.lee@firm.example", "reviewer", PW);
    setup.add_user("rita@firm.example", "reviewer", PW);
    let (lee, rita) = (
        setup.token("p.lee@firm.example"),
        setup.token("rita@firm.example"),
    );
    let server = setup.serve().await;
    let port = setup.http_port;
    let walled = hold_walled(server.port).await;
    let open = hold_one(server.port).await;

    // The API: the list leaves it out and says one is hidden; show, release
    // and reject answer exactly as for an id that does not exist.
    let list = api(port, "GET", "/api/held", Some(&lee), "").await.json();
    assert_eq!(list["total"], 1, "{list}");
    assert_eq!(list["hidden"], 1);
    assert_eq!(list["items"][0]["id"], open.as_str());
    let unknown = api(port, "GET", "/api/held/0123456789abcdef", Some(&lee), "").await;
    for (method, path, body) in [
        ("GET", format!("/api/held/{walled}"), ""),
        (
            "POST",
            format!("/api/held/{walled}/release"),
            r#"{"comment": "ok"}"#,
        ),
        (
            "POST",
            format!("/api/held/{walled}/reject"),
            r#"{"comment": "no"}"#,
        ),
    ] {
        let r = api(port, method, &path, Some(&lee), body).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text());
        let same = r.text().replace(&walled, "0123456789abcdef");
        assert_eq!(same, unknown.text(), "{method} {path}: same as unknown");
    }

    // The pages: the queue does not list it and says one is hidden; the
    // message, its attachment and the forms are the ordinary 404.
    let web = login(port, "p.lee@firm.example", PW).await;
    let queue = web.get("/queue").await.text();
    assert!(!queue.contains(&walled), "walled id listed");
    assert!(queue.contains(&open));
    assert!(
        queue.contains("id=\"hidden\">1 more message is hidden"),
        "{queue}"
    );
    let not_found = web.get("/held/0123456789abcdef").await.text();
    let page = web.get(&format!("/held/{walled}")).await;
    assert_eq!(page.status, 404);
    assert_eq!(page.text(), not_found);
    let att = web.get(&format!("/held/{walled}/attachment/0")).await;
    assert_eq!(att.status, 404);
    for action in ["release", "reject"] {
        let fields = [("comment", "walled"), ("csrf", web.csrf.as_str())];
        let r = web.post(&format!("/held/{walled}/{action}"), &fields).await;
        assert_eq!(r.status, 404, "{action}: {}", r.text());
    }

    // A colleague who is not screened sees and opens both.
    let list = api(port, "GET", "/api/held", Some(&rita), "").await.json();
    assert_eq!(
        (list["total"].as_u64(), list["hidden"].as_u64()),
        (Some(2), Some(0))
    );
    let r = api(port, "GET", &format!("/api/held/{walled}"), Some(&rita), "").await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["message"]["subject"], "Okonkwo");

    // Clearing the matter column in the file does not lift the wall on the
    // message: the sealed verdict still names the matter.
    let conn = rusqlite::Connection::open(setup.db()).unwrap();
    conn.execute("UPDATE held SET matters = '[]' WHERE id = ?1", [&walled])
        .unwrap();
    let r = api(port, "GET", &format!("/api/held/{walled}"), Some(&lee), "").await;
    assert_eq!(r.status, 404, "{}", r.text());
    server.stop().await;

    let held = setup.held();
    let w = held.iter().find(|h| h["id"] == walled.as_str()).unwrap();
    assert_eq!(w["status"], "held", "nothing was done to it");
    let audit = setup.audit();
    let refused = audit
        .iter()
        .filter(|e| e["kind"] == "walled" && e["actor"] == "p.lee@firm.example")
        .count();
    assert!(refused >= 5, "each refused look is audited: {refused}");
    assert!(!audit.iter().any(|e| e["kind"] == "view"
        && e["actor"] == "p.lee@firm.example"
        && e["details"]["message"] == walled.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_screened_admin_sees_that_it_exists_not_what_it_says() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = walled_setup(sink.port);
    setup.add_user("a.dmin@firm.example", "admin", PW);
    let ada = setup.token("a.dmin@firm.example");
    let server = setup.serve().await;
    let port = setup.http_port;
    let walled = hold_walled(server.port).await;

    let list = api(port, "GET", "/api/held", Some(&ada), "").await.json();
    assert_eq!(
        (list["total"].as_u64(), list["hidden"].as_u64()),
        (Some(1), Some(0))
    );
    let item = &list["items"][0];
    assert_eq!(item["id"], walled.as_str());
    assert!(
        item["subject"].as_str().unwrap().starts_with("(withheld"),
        "{item}"
    );
    let r = api(port, "GET", &format!("/api/held/{walled}"), Some(&ada), "").await;
    assert_eq!(r.status, 200);
    let shown = r.json();
    assert_eq!(shown["withheld"], true);
    assert!(shown.get("verdict").is_none(), "{shown}");
    assert!(!r.text().contains("Okonkwo") && !r.text().contains("expert report"));
    let r = api(
        port,
        "POST",
        &format!("/api/held/{walled}/release"),
        Some(&ada),
        r#"{"comment": "ok"}"#,
    )
    .await;
    assert_eq!(r.status, 403, "{}", r.text());

    let web = login(port, "a.dmin@firm.example", PW).await;
    let page = web.get(&format!("/held/{walled}")).await;
    assert_eq!(page.status, 200);
    let html = page.text();
    assert!(html.contains("id=\"withheld\""), "{html}");
    assert!(
        html.contains("someone@outside.example"),
        "the envelope shows"
    );
    assert!(
        !html.contains("Okonkwo") && !html.contains("expert report"),
        "{html}"
    );
    assert!(!html.contains("release-form"));
    let att = web.get(&format!("/held/{walled}/attachment/0")).await;
    assert_eq!(att.status, 403);
    let fields = [("comment", "walled"), ("csrf", web.csrf.as_str())];
    let r = web.post(&format!("/held/{walled}/reject"), &fields).await;
    assert_eq!(r.status, 403, "{}", r.text());
    server.stop().await;
    let held = setup.held();
    assert_eq!(held[0]["status"], "held");
}
