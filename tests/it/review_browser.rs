//! The review interface in a real browser: headless Chromium (Debian's
//! `chromium` and `chromium-driver`, installed by `.ci/run`) driven over
//! WebDriver. One browser for the whole file (it is slow to start), one
//! test walking a review day: log in, filter the queue, open a held
//! message, release it with a comment and find it at the next hop; a
//! hostile message renders inert; an admin's waiver takes effect for the
//! next message. Screenshots of the main pages are taken on every run
//! (`support::browser` says where they go).
//! Every wait is for an element or an event, never a timed assertion.

use crate::support;
use crate::support::browser::{
    browser, click, shot, text, type_into, wait_for, wait_for_url, WAIT,
};
use crate::support::{example, held_id, http, Setup, Sink, SinkMode};
use fantoccini::{Client, Locator};
use serde_json::Value;

const PW: &str = "a long enough password";

async fn login(c: &Client, base: &str, user: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    wait_for(c, "#username")
        .await
        .send_keys(user)
        .await
        .unwrap();
    type_into(c, "#password", PW).await;
    click(c, "button[type=submit]").await;
    wait_for(c, "table#queue").await;
}

async fn logout(c: &Client) {
    click(c, "header form button").await;
    wait_for(c, "#username").await;
}

/// Sends `raw` through the proxy; returns the reply to the end of DATA.
async fn send(port: u16, to: &str, raw: &[u8]) -> (u16, String) {
    let mut c = support::Client::connect(port).await.unwrap();
    c.mail("a.partner@firm.example", &[to], raw).await
}

const PATENT: &[u8] = b"From: a.partner@firm.example\r\nTo: r@patent-office.example\r\n\
Subject: Opposition notes\r\n\r\nNotes for Brightwater Pharmaceuticals plc on the opposition.\r\n";

/// Every field a reviewer sees carries a payload that would run if it were
/// ever rendered as markup: each sets `window.__xss` or the title.
const HOSTILE: &[u8] = b"From: \"<img src=x onerror=window.__xss=1>\" <a.partner@firm.example>\r\n\
To: j.smith@meridian-tankers.com\r\n\
Subject: <script>document.title='XSS'</script> Harrowgate Shipping\r\n\
MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
Content-Type: text/plain\r\n\r\n\
Harrowgate Shipping <img src=x onerror=\"window.__xss=2\"> <a href=\"javascript:window.__xss=3\">click</a> <script>window.__xss=4</script>\r\n\
--b\r\nContent-Type: application/octet-stream\r\n\
Content-Disposition: attachment; filename=\"<img src=x onerror=window.__xss=5>javascript:x.html\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nPHNjcmlwdD53aW5kb3cuX194c3M9Njwvc2NyaXB0Pg==\r\n--b--\r\n";

/// What ran and what exists as live markup on the current page.
async fn live_markup(c: &Client) -> Value {
    c.execute(
        "return {xss: typeof window.__xss, title: document.title,
                 scripts: document.scripts.length, images: document.images.length,
                 handlers: document.querySelectorAll('[onerror]').length,
                 js: document.querySelectorAll('a[href^=\"javascript:\"]').length};",
        vec![],
    )
    .await
    .unwrap()
}

fn assert_inert(v: &Value) {
    assert_eq!(v["xss"], "undefined", "a payload ran: {v}");
    assert_ne!(v["title"], "XSS", "a payload ran: {v}");
    for k in ["scripts", "images", "handlers", "js"] {
        assert_eq!(v[k], 0, "live {k} in the page: {v}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_day_in_the_browser() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    setup.add_user("rita", "reviewer", PW);
    setup.add_user("ada", "admin", PW);
    let server = setup.serve().await;
    let misdirected = example("misdirected.eml");
    let first = held_id(&send(server.port, "j.smith@meridian-tankers.com", &misdirected).await);
    held_id(&send(server.port, "r@patent-office.example", PATENT).await);
    let hostile = held_id(&send(server.port, "j.smith@meridian-tankers.com", HOSTILE).await);
    let base = format!("http://127.0.0.1:{}", setup.http_port);
    let b = browser().await;
    let c = &b.client;

    c.goto(&format!("{base}/login")).await.unwrap();
    wait_for(c, "#username").await;
    shot(c, "login").await;
    login(c, &base, "rita").await;
    assert_inert(&live_markup(c).await);
    let rows = c
        .find_all(Locator::Css("table#queue tbody a.subject"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    shot(c, "queue").await;

    // Filter by client: only the misdirected draft mentions C-10442 alone.
    let client = wait_for(c, "#f-client").await;
    client.select_by_value("C-10443").await.unwrap();
    click(c, "#f-apply").await;
    wait_for_url(c, "client=C-10443").await;
    let rows = c
        .find_all(Locator::Css("table#queue tbody a.subject"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].text().await.unwrap(), "Opposition notes");
    c.goto(&format!("{base}/queue?client=C-10442&sender=partner"))
        .await
        .unwrap();
    let rows = c
        .find_all(Locator::Css("table#queue tbody a.subject"))
        .await
        .unwrap();
    assert_eq!(rows.len(), 2, "the draft and the hostile message");

    // Open the draft, see the matches in context, release it.
    c.goto(&format!("{base}/held/{first}")).await.unwrap();
    assert_eq!(text(c, "#subject").await, "Draft witness statement");
    let marks: Vec<String> = {
        let mut v = Vec::new();
        for m in c.find_all(Locator::Css("#matches mark")).await.unwrap() {
            v.push(m.text().await.unwrap());
        }
        v
    };
    assert!(
        marks.contains(&"Harrowgate Shipping".to_string()),
        "{marks:?}"
    );
    assert!(marks.contains(&"2024-0117".to_string()), "{marks:?}");
    shot(c, "message").await;
    wait_for(c, "#release-comment")
        .await
        .send_keys("Client confirmed j.smith is their new counsel")
        .await
        .unwrap();
    click(c, "#release").await;
    wait_for(c, ".alert.ok").await;
    assert_eq!(text(c, "#status").await.to_lowercase(), "released");
    let got = sink.messages();
    assert_eq!(got.len(), 1, "released exactly once");
    assert_eq!(got[0].body, misdirected);
    assert_eq!(got[0].rcpts, ["j.smith@meridian-tankers.com"]);

    // The hostile message: every payload is text on the page, none ran.
    c.goto(&format!("{base}/held/{hostile}")).await.unwrap();
    let subject = text(c, "#subject").await;
    assert_eq!(
        subject,
        "<script>document.title='XSS'</script> Harrowgate Shipping"
    );
    assert!(text(c, "#body")
        .await
        .contains("<img src=x onerror=\"window.__xss=2\">"));
    let fname = text(c, "#attachments td.fname").await;
    assert_eq!(fname, "<img src=x onerror=window.__xss=5>javascript:x.html");
    assert_inert(&live_markup(c).await);
    c.goto(&format!("{base}/queue?status=all")).await.unwrap();
    wait_for(c, "table#queue").await;
    assert_inert(&live_markup(c).await);
    // Its attachment comes only as an opaque download.
    let cookie = c.get_named_cookie("mw_session").await.unwrap();
    let cookie = format!("mw_session={}", cookie.value());
    let r = http::get(
        setup.http_port,
        &format!("/held/{hostile}/attachment/0"),
        &[("Cookie", &cookie)],
    )
    .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    let disposition = r.header("content-disposition").unwrap();
    assert!(
        disposition.starts_with(
            "attachment; filename=\"_img src=x onerror=window.__xss=5_javascript_x.html\""
        ),
        "{disposition}"
    );
    assert_eq!(r.body, b"<script>window.__xss=6</script>");
    // A download is its own audited action, naming the part, not the file.
    let audit = setup.audit();
    let download = audit
        .iter()
        .rfind(|e| e["kind"] == "download")
        .expect("the download is audited");
    assert_eq!(download["details"]["message"], hostile.as_str());
    assert_eq!(download["details"]["part"], 0);
    logout(c).await;

    // An admin: the audit log shows the release; a waiver is live at once.
    login(c, &base, "ada").await;
    c.goto(&format!("{base}/audit")).await.unwrap();
    wait_for(c, "table#audit").await;
    let log = text(c, "table#audit").await;
    assert!(
        log.contains("rita") && log.contains("Client confirmed j.smith"),
        "{log}"
    );
    shot(c, "audit").await;
    waiver_takes_effect(c, &base, server.port, &sink).await;
    logout(c).await;
    b.quit().await;
    server.stop().await;
    setup.assert_audit_verifies();
}

async fn waiver_takes_effect(c: &Client, base: &str, smtp: u16, sink: &Sink) {
    let msg = b"From: a.partner@firm.example\r\nTo: k@waived.example\r\nSubject: update\r\n\r\nBrightwater Pharmaceuticals plc: the update.\r\n";
    held_id(&send(smtp, "k@waived.example", msg).await);
    c.goto(&format!("{base}/admin/waivers")).await.unwrap();
    wait_for(c, "#w-client")
        .await
        .select_by_value("C-10443")
        .await
        .unwrap();
    type_into(c, "#w-recipient", "waived.example").await;
    // A date input's typing format follows the locale; set the ISO value.
    c.execute(
        "document.getElementById('w-expires').value = '2099-12-31';",
        vec![],
    )
    .await
    .unwrap();
    type_into(c, "#w-reference", "WV-0042 letter").await;
    click(c, "#add-waiver button").await;
    let table = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::XPath(
            "//table[@id='waivers']//td[text()='waived.example']",
        ))
        .await;
    assert!(table.is_ok(), "the waiver is not listed");
    let before = sink.messages().len();
    let (code, reply) = send(smtp, "k@waived.example", msg).await;
    assert_eq!(code, 250, "{reply}");
    assert!(
        !reply.contains("held"),
        "still held after the waiver: {reply}"
    );
    assert_eq!(sink.messages().len(), before + 1);
}

/// Issue #18, four-eyes in the browser: the first reviewer approves with a
/// comment, the message says who approved and that it awaits a second
/// reviewer (page and queue), the approver's own release and the sender's
/// are refused, and a second reviewer releases it, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_eyes_in_the_browser() {
    use crate::split::{configure, Backend, OUTSIDER};
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    configure(&setup, Backend::Sqlite, "release = \"two-person\"");
    for user in ["rita", "ravi", "a.partner@firm.example"] {
        setup.add_user(user, "reviewer", PW);
    }
    let server = setup.serve().await;
    let misdirected = example("misdirected.eml");
    let id = held_id(&send(server.port, OUTSIDER, &misdirected).await);
    let base = format!("http://127.0.0.1:{}", setup.http_port);
    let page = format!("{base}/held/{id}");
    let b = browser().await;
    let c = &b.client;

    login(c, &base, "rita").await;
    c.goto(&page).await.unwrap();
    assert!(text(c, "#four-eyes")
        .await
        .contains("awaiting two reviewers"));
    assert!(c.find(Locator::Css("#release-form")).await.is_err());
    type_into(c, "#approve-comment", "Client confirmed the address").await;
    click(c, "#approve").await;
    wait_for_url(c, "done=approved").await;
    assert!(text(c, "#four-eyes")
        .await
        .contains("approved by rita, awaiting a second reviewer"));
    assert_eq!(text(c, "#status").await.to_lowercase(), "held");
    // The approver's own release is refused.
    type_into(c, "#release-comment", "and out it goes").await;
    click(c, "#release").await;
    let refusal = text(c, ".alert.error").await;
    assert!(refusal.contains("different reviewer"), "{refusal}");
    c.goto(&format!("{base}/queue")).await.unwrap();
    logout(c).await;

    // The sender, a reviewer too, may not release their own message.
    login(c, &base, "a.partner@firm.example").await;
    c.goto(&page).await.unwrap();
    type_into(c, "#release-comment", "it is mine").await;
    click(c, "#release").await;
    let refusal = text(c, ".alert.error").await;
    assert!(refusal.contains("sender"), "{refusal}");
    c.goto(&format!("{base}/queue")).await.unwrap();
    logout(c).await;
    assert!(sink.messages().is_empty());

    login(c, &base, "ravi").await;
    let note = text(c, "table#queue .four-eyes").await;
    assert_eq!(note, "approved by rita, awaiting a second reviewer");
    shot(c, "four-eyes-queue").await;
    c.goto(&page).await.unwrap();
    wait_for(c, "#release-form").await;
    shot(c, "four-eyes-message").await;
    type_into(c, "#release-comment", "Second pair of eyes: fine").await;
    click(c, "#release").await;
    wait_for_url(c, "done=released").await;
    assert_eq!(text(c, "#status").await.to_lowercase(), "released");
    let got = sink.messages();
    assert_eq!(got.len(), 1, "released exactly once");
    assert_eq!(got[0].rcpts, [OUTSIDER]);
    logout(c).await;
    b.quit().await;
    server.stop().await;
    let audit = setup.audit();
    let approve = audit.iter().find(|e| e["kind"] == "approve").unwrap();
    assert_eq!(approve["actor"], "rita");
    let release = audit.iter().rfind(|e| e["kind"] == "release").unwrap();
    assert_eq!(release["actor"], "ravi");
}
