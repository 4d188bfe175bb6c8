//! Reviewer scope (issue #18): a reviewer limited to clients, by id or by
//! the `group` column of `clients.csv`, neither lists, opens, downloads nor
//! acts on mail that mentions none of them (404, as for an unknown id), and
//! the queue says how many are hidden; an unscoped reviewer sees it all. A
//! scope is checked when set and fails closed when a reload removes what it
//! names. Over the real listeners, through the pages, the API and the CLI;
//! the users page in Chromium, with screenshots at a desk and at 390 px.

use crate::support::browser::{browser, click, fit, fits_width, shot, text, type_into, wait_for};
use crate::support::review::{api, login, PW};
use crate::support::{example, held_id, Client, Setup, Sink, SinkMode};

/// Names Brightwater Pharmaceuticals (C-10443, group `life-sciences`).
const PATENT: &[u8] = b"From: a.partner@firm.example\r\nTo: r@patent-office.example\r\n\
Subject: Opposition notes\r\n\r\nNotes for Brightwater Pharmaceuticals plc on the opposition.\r\n";

/// Names no client; held only by the sender rule [`HOLD_SENDER`] adds.
const NO_CLIENT: &[u8] = b"From: hold-me@firm.example\r\nTo: x@outside.example\r\n\
Subject: Lunch\r\n\r\nNothing about anyone.\r\n";

const HOLD_SENDER: &str = r#"
[[rule]]
name = "hold-this-sender"
when = { sender = ["hold-me@firm.example"] }
action = "hold"
"#;

/// The held ids: Harrowgate (C-10442, group `shipping`), Brightwater, and
/// the message that names no client.
struct Held {
    harrowgate: String,
    brightwater: String,
    nobody: String,
}

async fn send(port: u16, from: &str, to: &str, raw: &[u8]) -> String {
    let mut c = Client::connect(port).await.unwrap();
    held_id(&c.mail(from, &[to], raw).await)
}

async fn hold_three(port: u16) -> Held {
    let partner = "a.partner@firm.example";
    let misdirected = example("misdirected.eml");
    Held {
        harrowgate: send(port, partner, "j.smith@meridian-tankers.com", &misdirected).await,
        brightwater: send(port, partner, "r@patent-office.example", PATENT).await,
        nobody: send(port, "hold-me@firm.example", "x@outside.example", NO_CLIENT).await,
    }
}

/// The shipped config plus [`HOLD_SENDER`], with copies of the shipped
/// dictionaries in the temp dir (a test may edit them and reload).
fn scope_setup(sink: u16) -> Setup {
    let setup = Setup::new(sink, "");
    setup.append(HOLD_SENDER);
    let rules = crate::support::repo().join("rules");
    let mut toml = std::fs::read_to_string(setup.config()).unwrap();
    for f in ["clients.csv", "matters.csv", "waivers.csv"] {
        let mine = setup.dir.path().join(f);
        std::fs::copy(rules.join(f), &mine).unwrap();
        toml = toml.replace(
            &rules.join(f).display().to_string(),
            &mine.display().to_string(),
        );
    }
    std::fs::write(setup.config(), toml).unwrap();
    setup
}

/// `user add NAME --role ROLE` with `extra` options; the CLI's output.
fn add_user(setup: &Setup, name: &str, role: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["user", "add", name, "--role", role, "--password-stdin"];
    args.extend_from_slice(extra);
    setup.cli_stdin(&args, &format!("{PW}\n"))
}

fn added(setup: &Setup, name: &str, role: &str, extra: &[&str]) {
    let out = add_user(setup, name, role, extra);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
}

/// The ids an API list shows, and its `total` and `hidden`.
async fn listed(port: u16, token: &str) -> (Vec<String>, u64, u64) {
    let list = api(port, "GET", "/api/held", Some(token), "").await.json();
    let ids = list["items"].as_array().unwrap().iter();
    let ids = ids.map(|i| i["id"].as_str().unwrap().to_string()).collect();
    let n = |k: &str| list[k].as_u64().unwrap();
    (ids, n("total"), n("hidden"))
}

/// Every API call on `id` answers exactly as for an id that does not exist.
async fn api_hides(port: u16, token: &str, id: &str) {
    let unknown = api(port, "GET", "/api/held/0123456789abcdef", Some(token), "").await;
    for (method, path, body) in [
        ("GET", format!("/api/held/{id}"), ""),
        (
            "POST",
            format!("/api/held/{id}/release"),
            r#"{"comment": "ok"}"#,
        ),
        (
            "POST",
            format!("/api/held/{id}/approve"),
            r#"{"comment": "ok"}"#,
        ),
        (
            "POST",
            format!("/api/held/{id}/reject"),
            r#"{"comment": "no"}"#,
        ),
    ] {
        let r = api(port, method, &path, Some(token), body).await;
        assert_eq!(r.status, 404, "{method} {path}: {}", r.text());
        let same = r.text().replace(id, "0123456789abcdef");
        assert_eq!(same, unknown.text(), "{method} {path}: same as unknown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_reviewer_sees_and_acts_only_on_their_clients() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = scope_setup(sink.port);
    added(&setup, "sam", "reviewer", &["--clients", "C-10442"]);
    added(&setup, "gil", "reviewer", &["--groups", "life-sciences"]);
    added(&setup, "rita", "reviewer", &[]);
    let (sam, gil, rita) = (setup.token("sam"), setup.token("gil"), setup.token("rita"));
    let server = setup.serve().await;
    let port = setup.http_port;
    let h = hold_three(server.port).await;

    // By client id: the API lists Harrowgate only, two hidden; the other
    // two, and the one that names no client, answer as unknown ids.
    assert_eq!(listed(port, &sam).await, (vec![h.harrowgate.clone()], 1, 2));
    api_hides(port, &sam, &h.brightwater).await;
    api_hides(port, &sam, &h.nobody).await;
    let filtered = api(port, "GET", "/api/held?client=C-10443", Some(&sam), "").await;
    assert_eq!(filtered.json()["total"], 0, "a filter does not widen it");

    // The pages: the queue says what the reviewer reviews and how many are
    // hidden; the client filter offers only their clients; the message,
    // its attachment and every form are the ordinary 404.
    let web = login(port, "sam", PW).await;
    let queue = web.get("/queue").await.text();
    assert!(queue.contains(&h.harrowgate));
    assert!(!queue.contains(&h.brightwater) && !queue.contains(&h.nobody));
    assert!(
        queue.contains("id=\"hidden\">2 more messages are hidden"),
        "{queue}"
    );
    assert!(
        queue.contains("You review clients C-10442 only."),
        "{queue}"
    );
    assert!(
        !queue.contains("value=\"C-10443\""),
        "the filter offers C-10443"
    );
    let not_found = web.get("/held/0123456789abcdef").await.text();
    for id in [&h.brightwater, &h.nobody] {
        let page = web.get(&format!("/held/{id}")).await;
        assert_eq!((page.status, page.text()), (404, not_found.clone()));
        let att = web.get(&format!("/held/{id}/attachment/0")).await;
        assert_eq!(att.status, 404);
        for action in ["release", "approve", "reject"] {
            let fields = [("comment", "out of scope"), ("csrf", web.csrf.as_str())];
            let r = web.post(&format!("/held/{id}/{action}"), &fields).await;
            assert_eq!(r.status, 404, "{action}: {}", r.text());
        }
    }
    // What is in scope works as ever: opened and released.
    assert_eq!(
        web.get(&format!("/held/{}", h.harrowgate)).await.status,
        200
    );
    let path = format!("/api/held/{}/release", h.harrowgate);
    let r = api(port, "POST", &path, Some(&sam), r#"{"comment": "fine"}"#).await;
    assert_eq!(r.status, 200, "{}", r.text());

    // By group (the `group` column of clients.csv): Brightwater only.
    assert_eq!(listed(port, &gil).await.0, vec![h.brightwater.clone()]);
    api_hides(port, &gil, &h.harrowgate).await;
    // Unscoped: all three, nothing hidden.
    let (ids, total, hidden) = listed(port, &rita).await;
    assert_eq!((ids.len(), total, hidden), (3, 3, 0));

    // Adding a client to the record's column does not widen the scope:
    // the sealed verdict does not name it.
    let conn = rusqlite::Connection::open(setup.db()).unwrap();
    let widen = "UPDATE held SET clients = '[\"C-10443\",\"C-10442\"]' WHERE id = ?1";
    conn.execute(widen, [&h.brightwater]).unwrap();
    let path = format!("/api/held/{}", h.brightwater);
    assert_eq!(api(port, "GET", &path, Some(&sam), "").await.status, 404);
    server.stop().await;

    let held = setup.held();
    let status = |id: &str| held.iter().find(|m| m["id"] == id).unwrap()["status"].clone();
    assert_eq!(status(&h.brightwater), "held", "nothing was done to it");
    assert_eq!(status(&h.nobody), "held");
    assert_eq!(sink.messages().len(), 1, "only the release in scope left");
    let audit = setup.audit();
    let by = |kind: &str, who: &str| {
        let hits = audit
            .iter()
            .filter(|e| e["kind"] == kind && e["actor"] == who);
        hits.count()
    };
    assert!(
        by("out-of-scope", "sam") >= 13,
        "each refused look is audited"
    );
    assert!(!audit.iter().any(|e| e["kind"] == "view"
        && e["actor"] == "sam"
        && e["details"]["message"] != h.harrowgate.as_str()));
    let added = audit
        .iter()
        .find(|e| e["kind"] == "user-added" && e["details"]["user"] == "gil");
    assert_eq!(
        added.unwrap()["details"]["scope"]["groups"][0],
        "life-sciences"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_is_checked_when_set_and_fails_closed_after_a_reload() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = scope_setup(sink.port);
    let refused = [
        (
            "x",
            "reviewer",
            ["--clients", "C-10442,C-99999"],
            "unknown client id(s) C-99999",
        ),
        (
            "x",
            "reviewer",
            ["--groups", "shipping,nope"],
            "unknown group(s) nope",
        ),
        (
            "x",
            "admin",
            ["--clients", "C-10442"],
            "a scope limits reviewers only",
        ),
    ];
    for (name, role, extra, why) in refused {
        // Refused before the password is read: no standard input here.
        let mut args = vec!["user", "add", name, "--role", role];
        args.extend_from_slice(&extra);
        let out = setup.cli(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(why), "{why}: {err}");
    }
    added(&setup, "gil", "reviewer", &["--clients", "C-10443"]);
    added(&setup, "lena", "reviewer", &["--groups", "life-sciences"]);
    let cli = |args: &[&str]| {
        let out = setup.cli(args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(cli(&["user", "scope", "gil"]), "gil: clients C-10443\n");
    cli(&[
        "user",
        "scope",
        "lena",
        "--clients",
        "C-10442",
        "--groups",
        "life-sciences",
    ]);
    cli(&["user", "scope", "lena", "--clear"]);
    assert!(cli(&["user", "scope", "lena"]).contains("every client"));
    cli(&["user", "scope", "lena", "--groups", "life-sciences"]);
    let out = setup.cli(&["user", "scope", "lena", "--clients", "C-0"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown client id(s) C-0"));
    let changes = setup.audit();
    let changes = changes.iter().filter(|e| e["kind"] == "user-scope-changed");
    assert_eq!(changes.count(), 3, "set, lifted, set: each audited");

    let (gil, lena) = (setup.token("gil"), setup.token("lena"));
    let server = setup.serve().await;
    let port = setup.http_port;
    let h = hold_three(server.port).await;
    assert_eq!(listed(port, &gil).await.0, vec![h.brightwater.clone()]);
    assert_eq!(listed(port, &lena).await.0, vec![h.brightwater.clone()]);

    // A reload drops Brightwater (and its matter and waiver): the id and
    // the group now match nothing; nobody crashes, nothing is shown.
    let dir = setup.dir.path();
    for f in ["clients.csv", "matters.csv", "waivers.csv"] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        let kept: Vec<&str> = text.lines().filter(|l| !l.contains("C-10443")).collect();
        std::fs::write(dir.join(f), kept.join("\n") + "\n").unwrap();
    }
    server.reload().await;
    crate::support::reloads_counted(port, "ok", 1).await;
    for token in [&gil, &lena] {
        assert_eq!(listed(port, token).await, (vec![], 0, 3));
        api_hides(port, token, &h.brightwater).await;
    }
    server.stop().await;
}

/// The users page in Chromium: an admin adds a scoped reviewer and sets
/// another's scope by group; the page shows both, and fits at 390 px. The
/// scoped reviewer's queue says what they review.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_users_page_sets_a_scope_in_the_browser() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = scope_setup(sink.port);
    added(&setup, "ada", "admin", &[]);
    added(&setup, "rita", "reviewer", &[]);
    let server = setup.serve().await;
    hold_three(server.port).await;
    let base = format!("http://127.0.0.1:{}", setup.http_port);
    let b = browser().await;
    let c = &b.client;
    sign_in(c, &base, "ada").await;
    c.goto(&format!("{base}/admin/users")).await.unwrap();

    type_into(c, "#u-name", "sam").await;
    type_into(c, "#u-password", PW).await;
    type_into(c, "#u-clients", "C-10442, C-10445").await;
    click(c, "#add-user button[type=submit]").await;
    wait_for(c, "form[action='/admin/scope/sam']").await;
    let rita = "form[action='/admin/scope/rita']";
    type_into(c, &format!("{rita} input[name=groups]"), "shipping").await;
    click(c, &format!("{rita} button")).await;
    let rows = text_with(c, "table#users", "groups shipping").await;
    assert!(rows.contains("clients C-10442, C-10445"), "{rows}");
    assert!(rows.contains("groups shipping"), "{rows}");
    assert!(rows.contains("every client (admin)"), "{rows}");
    fit(c, 1280).await;
    shot(c, "users-scope").await;
    fit(c, 390).await;
    assert!(
        fits_width(c).await,
        "the users page scrolls sideways at 390 px"
    );
    shot(c, "users-scope-390").await;

    c.set_window_size(1280, 800).await.unwrap();
    click(c, "header form button").await;
    sign_in(c, &base, "rita").await;
    assert_eq!(text(c, "#scope").await, "You review groups shipping only.");
    assert!(text(c, "#hidden")
        .await
        .starts_with("2 more messages are hidden"));
    fit(c, 1280).await;
    shot(c, "queue-scoped").await;
    b.quit().await;
    server.stop().await;
    let audit = setup.audit();
    let set = audit
        .iter()
        .find(|e| e["kind"] == "user-scope-changed")
        .unwrap();
    assert_eq!(
        (set["actor"].as_str(), set["details"]["user"].as_str()),
        (Some("ada"), Some("rita"))
    );
}

/// The text of `css` once it contains `part` (the form's answer loaded:
/// waiting for the element alone could read the page before it).
async fn text_with(c: &fantoccini::Client, css: &str, part: &str) -> String {
    for _ in 0..600 {
        if let Ok(e) = c.find(fantoccini::Locator::Css(css)).await {
            match e.text().await {
                Ok(t) if t.contains(part) => return t,
                _ => {}
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("{css} never said {part}");
}

async fn sign_in(c: &fantoccini::Client, base: &str, user: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    type_into(c, "#username", user).await;
    type_into(c, "#password", PW).await;
    click(c, "button[type=submit]").await;
    wait_for(c, "table#queue").await;
}
