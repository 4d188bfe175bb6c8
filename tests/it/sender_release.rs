//! Issue #18, sender self-release (`sender_release = true`), end to end
//! over real sockets on SQLite and PostgreSQL, and in Chromium: the held
//! notice carries a signed link; opening it changes nothing and shows the
//! subject, recipients and rules only; a short justification is refused;
//! a good one releases the message once (byte for byte), audited as
//! `release` by `sender:ADDRESS` with the justification, shown on the
//! reviewer's page and the dashboard, told to compliance and in the
//! digest; the link is then inert. A forged, moved or expired link opens
//! nothing. Past `[review] sender_release_per_day` the sender is stopped,
//! the refusal audited and compliance told once.

use crate::split::{configure, Backend, OUTSIDER};
use crate::support::browser::{browser, click, fits_width, shot, text, type_into, wait_for};
use crate::support::http::{self, form};
use crate::support::review::{login, PW};
use crate::support::{example, hold_one, Got, Setup, Sink, SinkMode};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

const SENDER: &str = "a.partner@firm.example";
const COMPLIANCE: &str = "compliance@firm.example";
const WHY: &str = "Meridian is the client's new charterer; the client asked us to send it.";

/// The setup: the unauthorised-recipient rule tells the sender and allows
/// sender release, compliance is told of each hold, and `per_day`.
fn sender_release_setup(sink: &Sink, backend: Backend, per_day: u32) -> Setup {
    let setup = Setup::new(sink.port, "");
    configure(
        &setup,
        backend,
        "notify_sender = true\nsender_release = true",
    );
    let text = std::fs::read_to_string(setup.config()).unwrap();
    let review = format!("[review]\nsender_release_per_day = {per_day}\n");
    std::fs::write(setup.config(), text.replacen("[review]\n", &review, 1)).unwrap();
    setup.append(
        "\n[notify]\ncompliance = [\"compliance@firm.example\"]\ncompliance_mode = \"every-hold\"\n",
    );
    setup
}

/// The decoded text of a notice the sink got (notices are base64); any
/// other message as it came.
fn body(g: &Got) -> String {
    let raw = String::from_utf8_lossy(&g.body).to_string();
    let Some((_, b64)) = raw.split_once("\r\n\r\n") else {
        return raw;
    };
    let joined: String = b64.split_whitespace().collect();
    let decoded = base64::engine::general_purpose::STANDARD.decode(joined);
    decoded
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or(raw)
}

/// Waits for the sender's held notice about `id` and returns the path of
/// its release link (`/sender/…`).
async fn link_for(sink: &Sink, http_port: u16, id: &str) -> String {
    for _ in 0..100 {
        let found = sink.messages().into_iter().find_map(|g| {
            let text = body(&g);
            let ours = g.rcpts == [SENDER] && text.contains(id) && text.contains("/sender/");
            ours.then_some(text)
        });
        if let Some(text) = found {
            let base = format!("http://127.0.0.1:{http_port}");
            let at = text.find(&format!("{base}/sender/")).expect("the link");
            let link = text[at..].split_whitespace().next().unwrap();
            return link.strip_prefix(&base).unwrap().to_string();
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!(
        "no held notice with a link for {id}: {:?}",
        sink.messages().len()
    );
}

/// Notices to compliance whose subject contains `what`.
fn to_compliance(sink: &Sink, what: &str) -> usize {
    let subject = |g: &Got| {
        let raw = String::from_utf8_lossy(&g.body).to_string();
        raw.lines()
            .any(|l| l.starts_with("Subject: ") && l.contains(what))
    };
    sink.messages()
        .iter()
        .filter(|g| g.rcpts == [COMPLIANCE] && subject(g))
        .count()
}

fn releases(sink: &Sink) -> Vec<Got> {
    sink.messages()
        .into_iter()
        .filter(|g| g.rcpts == [OUTSIDER])
        .collect()
}

async fn post(port: u16, path: &str, justification: &str) -> http::Response {
    let body = form(&[("justification", justification)]);
    let ct = [("Content-Type", "application/x-www-form-urlencoded")];
    http::request(port, "POST", path, &ct, &body).await
}

/// A link for `id` that the firm's key signed, expiring at `expires`: made
/// here from the key file, as the server derives it (a subkey of the
/// quarantine key), so an expired but genuine link can be tried.
fn signed_link(key_file: &std::path::Path, id: &str, expires: i64) -> String {
    let key = std::fs::read(key_file).unwrap();
    let mac = |k: &[u8], m: &[u8]| {
        let mut h = <Hmac<Sha256> as Mac>::new_from_slice(k).unwrap();
        h.update(m);
        h.finalize().into_bytes().to_vec()
    };
    let sub = mac(&key, b"matterwall notice link key v1");
    let tag = mac(
        &sub,
        format!("sender-release\0{id}\0{SENDER}\0{expires}").as_bytes(),
    );
    let hex: String = tag.iter().map(|b| format!("{b:02x}")).collect();
    format!("/sender/{id}.{expires}.{hex}")
}

async fn sender_releases_once(backend: Backend) {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = sender_release_setup(&sink, backend, 1);
    setup.add_user("rita", "reviewer", PW);
    setup.add_user("audrey", "auditor", PW);
    let server = setup.serve().await;
    let port = setup.http_port;
    let id = hold_one(server.port).await;
    let link = link_for(&sink, port, &id).await;

    // Opening it changes nothing, and shows no content but the subject.
    let page = http::get(port, &link, &[]).await;
    assert_eq!(page.status, 200, "{}", page.text());
    let html = page.text();
    assert!(
        html.contains("Draft witness statement") && html.contains(OUTSIDER),
        "{html}"
    );
    assert!(html.contains("unauthorised-recipient"), "{html}");
    assert!(!html.contains("Please do not circulate"), "no body text");
    assert_eq!(setup.held()[0]["status"], "held");

    // Forged, moved to another message, or expired: nothing opens.
    let mut forged = link.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == '0' { '1' } else { '0' });
    assert_eq!(http::get(port, &forged, &[]).await.status, 404);
    let moved = link.replacen(&id, "0123456789abcdef", 1);
    assert_eq!(http::get(port, &moved, &[]).await.status, 404);
    assert_eq!(post(port, &forged, WHY).await.status, 404);
    let dir = setup.config().parent().unwrap().to_path_buf();
    let key = [dir.join("data/matterwall.key"), dir.join("matterwall.key")]
        .into_iter()
        .find(|k| k.exists())
        .expect("the store's key file");
    let expired = signed_link(&key, &id, chrono::Utc::now().timestamp() - 60);
    let r = http::get(port, &expired, &[]).await;
    assert_eq!(r.status, 410, "{}", r.text());
    assert_eq!(post(port, &expired, WHY).await.status, 410);
    let genuine = signed_link(&key, &id, chrono::Utc::now().timestamp() + 600);
    assert_eq!(http::get(port, &genuine, &[]).await.status, 200);

    // Too short: refused, still held.
    let r = post(port, &link, "ok, send it").await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert!(r.text().contains("at least 20 characters"), "{}", r.text());
    assert!(releases(&sink).is_empty());

    let r = post(port, &link, WHY).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.text().contains("Released."), "{}", r.text());
    let out = releases(&sink);
    assert_eq!(out.len(), 1, "released once");
    assert_eq!(out[0].body, example("misdirected.eml"), "byte for byte");
    assert_eq!(setup.held()[0]["status"], "released");
    let audit = setup.audit();
    let entry = audit.iter().rfind(|e| e["kind"] == "release").unwrap();
    assert_eq!(entry["actor"], format!("sender:{SENDER}"));
    assert_eq!(entry["details"]["comment"], WHY);
    assert_eq!(entry["details"]["message"], id.as_str());

    // Inert now.
    let r = post(port, &link, WHY).await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(http::get(port, &link, &[]).await.status, 409);
    assert_eq!(releases(&sink).len(), 1, "not twice");

    // Compliance is told (every-hold mode); the reviewer's page says who.
    for _ in 0..100 {
        if to_compliance(&sink, "Released by its sender") == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(to_compliance(&sink, "Released by its sender"), 1);
    let web = login(port, "rita", PW).await;
    let html = web.get(&format!("/held/{id}")).await.text();
    assert!(
        html.contains("its sender, a.partner@firm.example"),
        "{html}"
    );
    assert!(
        html.contains("Justification") && html.contains("new charterer"),
        "{html}"
    );
    let auditor = login(port, "audrey", PW).await;
    let dash = auditor.get("/dashboard").await.text();
    assert!(
        dash.contains("Released by their senders") && dash.contains("new charterer"),
        "{dash}"
    );
    assert!(
        !dash.contains("awaiting a look"),
        "rita opened it since: {dash}"
    );

    // The limit: one a day. The second is stopped, audited, compliance
    // told once however often the sender tries.
    let second = hold_one(server.port).await;
    let link = link_for(&sink, port, &second).await;
    for _ in 0..2 {
        let r = post(port, &link, WHY).await;
        assert_eq!(r.status, 429, "{}", r.text());
    }
    assert_eq!(releases(&sink).len(), 1, "the second stays held");
    let stopped = setup
        .audit()
        .iter()
        .filter(|e| e["kind"] == "sender-release-stopped")
        .count();
    assert_eq!(stopped, 2);
    for _ in 0..100 {
        if to_compliance(&sink, "Sender release stopped") >= 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(to_compliance(&sink, "Sender release stopped"), 1);

    // The digest lists the day's sender releases with their justification.
    let out = setup.cli(&["quarantine", "digest"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let digest = sink
        .messages()
        .into_iter()
        .map(|g| body(&g))
        .find(|t| t.contains("released by their senders"))
        .expect("a digest with the sender releases");
    assert!(
        digest.contains(&id) && digest.contains("new charterer"),
        "{digest}"
    );
    server.stop().await;
    setup.assert_audit_verifies();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_releases_once_on_sqlite() {
    sender_releases_once(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_releases_once_on_postgres() {
    sender_releases_once(Backend::Postgres).await;
}

/// A wall's rule, or any rule without `sender_release` among those that
/// fired, keeps the link out of the notice; `sender_release` on a wall's
/// rule is refused at load, naming the rule.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_link_unless_every_rule_allows_it() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = sender_release_setup(&sink, Backend::Sqlite, 3);
    setup.append("\n[[rule]]\nname = \"outsiders-need-a-look\"\nwhen = { any_recipient = \"external\" }\naction = \"hold\"\nnotify_sender = true\n");
    let server = setup.serve().await;
    let id = hold_one(server.port).await;
    let notice = 'found: {
        for _ in 0..100 {
            if let Some(g) = sink.messages().into_iter().find(|g| g.rcpts == [SENDER]) {
                break 'found body(&g);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no held notice");
    };
    assert!(notice.contains(&id), "{notice}");
    assert!(!notice.contains("/sender/"), "{notice}");
    server.stop().await;

    setup.append("\n[[rule]]\nname = \"walls\"\nwhen = { screened = true }\naction = \"hold\"\nsender_release = true\n");
    let out = setup.cli(&["rules", "validate"]);
    assert!(!out.status.success());
    let said =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("\"walls\"") && said.contains("ethical wall"),
        "{said}"
    );
}

/// The page in Chromium, at a desktop's and a phone's width: open the link,
/// write the justification, release.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sender_release_in_the_browser() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = sender_release_setup(&sink, Backend::Sqlite, 3);
    let server = setup.serve().await;
    let id = hold_one(server.port).await;
    let link = link_for(&sink, setup.http_port, &id).await;
    let b = browser().await;
    let c = &b.client;
    c.goto(&format!("http://127.0.0.1:{}{link}", setup.http_port))
        .await
        .unwrap();
    assert_eq!(text(c, "#ref").await, id);
    c.set_window_size(1280, 800).await.unwrap();
    type_into(c, "#justification", WHY).await;
    shot(c, "sender-release").await;
    c.set_window_size(390, 844).await.unwrap();
    let fits = fits_width(c).await;
    assert!(fits, "the sender's page scrolls sideways at 390 px");
    shot(c, "sender-release-390").await;
    click(c, "#release").await;
    wait_for(c, ".alert.ok").await;
    assert!(text(c, "#outcome").await.starts_with("Released."));
    assert_eq!(releases(&sink).len(), 1);
    b.quit().await;
    server.stop().await;
}
