//! The review interface in a real browser: headless Chromium (Debian's
//! `chromium` and `chromium-driver`, installed by `.ci/run`) driven over
//! WebDriver. One browser for the whole file (it is slow to start), one
//! test walking a review day: log in, filter the queue, open a held
//! message, release it with a comment and find it at the next hop; a
//! hostile message renders inert; an admin's waiver takes effect for the
//! next message. Screenshots of the main pages are taken on every run; they
//! go to `docs/screenshots/` (which README shows) only when
//! `MW_SCREENSHOTS=docs` is set, so an ordinary test run leaves the tree
//! clean, and otherwise to the target directory.
//! Every wait is for an element or an event, never a timed assertion.

use crate::support;
use crate::support::{example, held_id, http, Setup, Sink, SinkMode};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const PW: &str = "a long enough password";
const WAIT: Duration = Duration::from_secs(60);

struct Browser {
    driver: Child,
    client: Client,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Ends the WebDriver session, which makes chromedriver quit Chromium.
    async fn quit(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    /// chromedriver leads its own process group with Chromium in it: the
    /// whole group goes, so a failed test leaves no browser running.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

async fn browser() -> Browser {
    for bin in [CHROMIUM, CHROMEDRIVER] {
        assert!(
            Path::new(bin).exists(),
            "{bin} is missing: apt-get install chromium chromium-driver (.ci/run does)"
        );
    }
    let port = support::free_port();
    let driver = Command::new(CHROMEDRIVER)
        .process_group(0)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let profile = tempfile::tempdir().unwrap();
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1366,900",
        &format!("--user-data-dir={}", profile.path().display()),
    ];
    let caps = json!({"goog:chromeOptions": {"binary": CHROMIUM, "args": args}});
    let caps = caps.as_object().unwrap().clone();
    let url = format!("http://127.0.0.1:{port}");
    // chromedriver takes a moment to listen; Chromium longer to start.
    for _ in 0..600 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&url)
        .await
        .expect("cannot start a Chromium session");
    client.set_window_size(1366, 900).await.unwrap();
    Browser {
        driver,
        client,
        _profile: profile,
    }
}

fn screenshots() -> PathBuf {
    let dir = if std::env::var("MW_SCREENSHOTS").as_deref() == Ok("docs") {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots")
    } else {
        Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    std::fs::write(screenshots().join(format!("{name}.png")), png).unwrap();
}

/// Clicks the element `css` names on the current page.
async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Types `text` into the field `css` names on the current page.
async fn type_into(c: &Client, css: &str, text: &str) {
    let field = c.find(Locator::Css(css)).await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn wait_for(c: &Client, css: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} never appeared: {e}"))
}

/// Waits until the page's URL contains `part` (a form was submitted).
async fn wait_for_url(c: &Client, part: &str) {
    for _ in 0..600 {
        if c.current_url().await.unwrap().as_str().contains(part) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the browser never reached a URL with {part}");
}

async fn text(c: &Client, css: &str) -> String {
    wait_for(c, css).await.text().await.unwrap()
}

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
    let out = setup.cli(&["audit", "verify"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
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
