//! Issue #18, per-recipient split, end to end over real sockets: a message
//! that names a client goes to a colleague (authorised) and to an outsider
//! (not): with `split = true` on the hold rule the colleague gets it at
//! the next hop at once and only the outsider's copy waits in the
//! quarantine; its release goes to the outsider alone. The 451 cases: a
//! next hop that defers the authorised recipient (nothing held, nothing
//! sent; the retry goes through once), and a store that refuses the hold
//! after the relay (451; the retry holds it and does not send the relayed
//! part again). On SQLite and on PostgreSQL.

use crate::support::postgres::PgCluster;
use crate::support::review::{login, PW};
use crate::support::{example, held_id, Client, Setup, Sink, SinkMode};
use serde_json::Value;

pub const OUTSIDER: &str = "j.smith@meridian-tankers.com";
pub const COLLEAGUE: &str = "b.associate@firm.example";
const SENDER: &str = "a.partner@firm.example";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Rewrites the setup's config: `split` (and `extra` keys) on the hold
/// rule for unauthorised recipients, and the store on `backend`.
pub fn configure(setup: &Setup, backend: Backend, extra: &str) -> Option<String> {
    let path = setup.config();
    let text = std::fs::read_to_string(&path).unwrap();
    let rule = "when = { mentions = true, any_recipient = \"unauthorised\" }\naction = \"hold\"\n";
    assert!(text.contains(rule), "the test setup's rule changed");
    let mut text = text.replacen(rule, &format!("{rule}{extra}\n"), 1);
    let url = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => {
            let url = PgCluster::shared().fresh_db();
            let store = format!("url = \"{url}\"\nkey_file = \"matterwall.key\"\nnode = \"split\"");
            text = text.replace("url = \"sqlite://data/mw.db\"", &store);
            Some(url)
        }
    };
    std::fs::write(&path, text).unwrap();
    url
}

async fn send_both(port: u16, raw: &[u8]) -> (u16, String) {
    let mut c = Client::connect(port).await.unwrap();
    c.mail(SENDER, &[OUTSIDER, COLLEAGUE], raw).await
}

fn kinds(setup: &Setup) -> Vec<String> {
    setup
        .audit()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

async fn splits_and_releases_only_the_held(backend: Backend) {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    configure(&setup, backend, "split = true");
    let server = setup.serve().await;
    let raw = example("misdirected.eml");
    let reply = send_both(server.port, &raw).await;
    assert_eq!(reply.0, 250, "{reply:?}");
    assert!(reply.1.contains("relayed to 1 recipient"), "{reply:?}");
    let id = held_id(&reply);

    let got = sink.messages();
    assert_eq!(got.len(), 1, "the colleague's copy, at once");
    assert_eq!(got[0].rcpts, [COLLEAGUE]);
    assert_eq!(got[0].from, SENDER);
    assert_eq!(got[0].body, raw, "byte for byte");

    let held = setup.held();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["id"], id.as_str());
    assert_eq!(held[0]["to"], serde_json::json!([OUTSIDER]));
    assert_eq!(held[0]["status"], "held");
    // The sealed verdict names only the held recipient, and the split.
    let show = setup.cli(&["quarantine", "show", &id]);
    let out = String::from_utf8_lossy(&show.stdout);
    let verdict: Value = serde_json::from_str(out.lines().last().unwrap()).unwrap();
    let rcpts = verdict["recipients"].as_array().unwrap();
    assert_eq!(rcpts.len(), 1, "{verdict}");
    assert_eq!(rcpts[0]["address"], OUTSIDER);
    assert_eq!(verdict["split"]["released"], serde_json::json!([COLLEAGUE]));
    assert_eq!(verdict["split"]["action"], "pass");

    // What left was audited before it left; the verdict with the hold.
    let audit = setup.audit();
    let released = audit
        .iter()
        .find(|e| e["kind"] == "split-release")
        .expect("split-release entry");
    assert_eq!(released["details"]["to"], serde_json::json!([COLLEAGUE]));
    let verdict = audit
        .iter()
        .find(|e| e["kind"] == "verdict" && e["details"]["message"] == id.as_str())
        .unwrap();
    assert_eq!(
        verdict["details"]["split"]["held"],
        serde_json::json!([OUTSIDER])
    );
    assert!(released["seq"].as_u64() < verdict["seq"].as_u64());

    // The message page lists the held recipient and says who got it at once.
    setup.add_user("rita", "reviewer", PW);
    let web = login(setup.http_port, "rita", PW).await;
    let page = web.get(&format!("/held/{id}")).await.text();
    assert!(page.contains(OUTSIDER), "{page}");
    let at = page.find("id=\"split\"").expect("the split is shown");
    let line = &page[at..at + page[at..].find("</p>").unwrap()];
    assert!(
        line.contains(COLLEAGUE) && line.contains("as written"),
        "{line}"
    );

    // The release concerns the held recipient alone.
    let out = setup.cli(&["quarantine", "release", &id, "--comment", "new counsel"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = sink.messages();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].rcpts, [OUTSIDER]);
    assert_eq!(got[1].body, raw);
    server.stop().await;
    setup.assert_audit_verifies();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_relays_the_authorised_and_holds_the_rest_sqlite() {
    splits_and_releases_only_the_held(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_relays_the_authorised_and_holds_the_rest_postgres() {
    splits_and_releases_only_the_held(Backend::Postgres).await;
}

/// Another hold rule that fires (here one on the matter; in the shipped
/// rules a wall or uninspectable content) holds a split message whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_hold_rule_holds_the_message_whole() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    configure(&setup, Backend::Sqlite, "split = true");
    setup.append(
        "\n[[rule]]\nname = \"matter-hold\"\nwhen = { matter = [\"2024-0117\"] }\naction = \"hold\"\n",
    );
    let server = setup.serve().await;
    let reply = send_both(server.port, &example("misdirected.eml")).await;
    let id = held_id(&reply);
    assert!(!reply.1.contains("relayed"), "{reply:?}");
    assert!(sink.messages().is_empty(), "held whole");
    let held = setup.held();
    assert_eq!(held[0]["id"], id.as_str());
    assert_eq!(held[0]["to"], serde_json::json!([OUTSIDER, COLLEAGUE]));
    server.stop().await;
}

/// The next hop defers the authorised recipient: 451, nothing held, nothing
/// sent; the retry (the next hop back) relays once and holds once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_hop_that_defers_gets_451_and_the_retry_is_not_doubled() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    sink.tempfail.lock().unwrap().push(COLLEAGUE.to_string());
    let setup = Setup::new(sink.port, "");
    configure(&setup, Backend::Sqlite, "split = true");
    let server = setup.serve().await;
    let raw = example("misdirected.eml");
    let reply = send_both(server.port, &raw).await;
    assert_eq!(reply.0, 451, "{reply:?}");
    assert!(sink.messages().is_empty());
    assert!(setup.held().is_empty(), "nothing held on a 451");
    sink.tempfail.lock().unwrap().clear();
    let reply = send_both(server.port, &raw).await;
    held_id(&reply);
    assert_eq!(sink.messages().len(), 1);
    assert_eq!(setup.held().len(), 1);
    server.stop().await;
}

/// Makes the store refuse every new held record (a trigger), as a broken
/// store would, while the rest of it works; `on = false` lifts it.
fn refuse_holds(setup: &Setup, pg: &Option<String>, on: bool) {
    match pg {
        None => {
            let conn = rusqlite::Connection::open(setup.db()).unwrap();
            let sql = if on {
                "CREATE TRIGGER refuse_hold BEFORE INSERT ON held
                 BEGIN SELECT RAISE(ABORT, 'test: the store refuses'); END;"
            } else {
                "DROP TRIGGER refuse_hold;"
            };
            conn.execute_batch(sql).unwrap();
        }
        Some(url) => {
            let sql = if on {
                "CREATE FUNCTION refuse_hold() RETURNS trigger LANGUAGE plpgsql AS
                 $$ BEGIN RAISE EXCEPTION 'test: the store refuses'; END $$;
                 CREATE TRIGGER refuse_hold BEFORE INSERT ON held
                 FOR EACH ROW EXECUTE FUNCTION refuse_hold();"
            } else {
                "DROP TRIGGER refuse_hold ON held; DROP FUNCTION refuse_hold();"
            };
            PgCluster::shared().psql(url, sql);
        }
    }
}

/// The relay went, the hold failed: 451; the retry skips the copy the next
/// hop already has (the encrypt path's memory) and holds the rest.
async fn a_store_that_fails_after_the_relay(backend: Backend) {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    let pg = configure(&setup, backend, "split = true");
    let server = setup.serve().await;
    let raw = example("misdirected.eml");
    refuse_holds(&setup, &pg, true);
    let reply = send_both(server.port, &raw).await;
    assert_eq!(reply.0, 451, "{reply:?}");
    assert_eq!(sink.messages().len(), 1, "the relayed part went");
    assert!(setup.held().is_empty());
    refuse_holds(&setup, &pg, false);
    let reply = send_both(server.port, &raw).await;
    let id = held_id(&reply);
    assert_eq!(sink.messages().len(), 1, "the retry did not send it again");
    let held = setup.held();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["id"], id.as_str());
    assert_eq!(held[0]["to"], serde_json::json!([OUTSIDER]));
    assert!(
        kinds(&setup)
            .iter()
            .filter(|k| *k == "split-release")
            .count()
            == 2
    );
    server.stop().await;
    setup.assert_audit_verifies();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_fails_after_the_relay_sqlite() {
    a_store_that_fails_after_the_relay(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_fails_after_the_relay_postgres() {
    a_store_that_fails_after_the_relay(Backend::Postgres).await;
}

/// `check` prints the split: who is held, who gets it now, and how.
#[test]
fn check_prints_the_split() {
    let sink_port = crate::support::free_port();
    let setup = Setup::for_process(sink_port, "");
    configure(&setup, Backend::Sqlite, "split = true");
    let file = crate::support::repo().join("rules/examples/misdirected.eml");
    let out = setup.cli(&[
        "check",
        "--from",
        SENDER,
        "--to",
        OUTSIDER,
        "--to",
        COLLEAGUE,
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["action"], "hold");
    assert_eq!(
        v["split"],
        serde_json::json!({"held": [OUTSIDER], "released": [COLLEAGUE], "action": "pass", "rules": []})
    );
    // One recipient alone: nothing to split, and no `split` key at all.
    let out = setup.cli(&[
        "check",
        "--from",
        SENDER,
        "--to",
        OUTSIDER,
        file.to_str().unwrap(),
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v.get("split").is_none(), "{v}");
}

/// Killed (as `kill -9`) inside the hold's transaction, after the relay:
/// the client gets no reply and retries against the restarted server; the
/// relayed copy is not sent again, the rest is held once, the trail
/// verifies.
#[cfg(feature = "failpoints")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_between_the_relay_and_the_hold_loses_and_doubles_nothing() {
    use crate::support::Process;
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::for_process(sink.port, "");
    configure(&setup, Backend::Sqlite, "split = true");
    let wrapper = ["env", "MATTERWALL_FAILPOINTS=hold-write=1"];
    let server = Process::start_under(&wrapper, &setup.config()).await;
    let raw = example("misdirected.eml");
    let send = |port: u16| {
        let raw = raw.clone();
        async move {
            let Ok(mut c) = Client::connect_quietly(port).await else {
                return 0;
            };
            c.mail_or_zero(SENDER, &[OUTSIDER, COLLEAGUE], &raw).await
        }
    };
    assert_ne!(send(server.port).await, 250, "killed before the reply");
    assert!(!server.wait_exit().success(), "the server was not killed");
    assert_eq!(sink.messages().len(), 1, "the relayed part went");
    let server = Process::start(&setup.config()).await;
    assert_eq!(send(server.port).await, 250, "the retry");
    server.stop();
    assert_eq!(sink.messages().len(), 1, "not sent twice");
    let held = setup.held();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["to"], serde_json::json!([OUTSIDER]));
    setup.assert_audit_verifies();
}

/// The sender's notice names only the held recipients.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_notice_names_only_the_held_recipient() {
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    configure(
        &setup,
        Backend::Sqlite,
        "split = true\nnotify_sender = true",
    );
    let server = setup.serve().await;
    held_id(&send_both(server.port, &example("misdirected.eml")).await);
    let got = sink.wait_for(2).await;
    server.stop().await;
    let notice = got
        .iter()
        .find(|g| g.rcpts == [SENDER])
        .expect("the sender's notice");
    use base64::Engine;
    let raw = String::from_utf8_lossy(&notice.body);
    let (_, body) = raw.split_once("\r\n\r\n").unwrap();
    let body: String = body.split_whitespace().collect();
    let text = base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap();
    let text = String::from_utf8(text).unwrap();
    assert!(text.contains(OUTSIDER), "{text}");
    assert!(!text.contains(COLLEAGUE), "{text}");
}

/// The released recipients get what the policy decides for them alone: a
/// client's own address with a certificate an S/MIME copy (the encrypt
/// rule fires for them, though not for the whole message), a colleague the
/// plain message; the outsider is held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_released_part_is_encrypted_where_the_policy_says() {
    const CLIENT: &str = "legal@harrowgate-shipping.com";
    let sink = Sink::start(SinkMode::Normal, &[]).await;
    let setup = Setup::new(sink.port, "");
    configure(&setup, Backend::Sqlite, "split = true");
    setup.append(
        "\n[[rule]]\nname = \"encrypt-authorised-external\"\n\
         when = { mentions = true, all_recipients = \"authorised\", any_recipient = \"external\" }\n\
         action = \"encrypt\"\nfallback = \"hold\"\n",
    );
    let server = setup.serve().await;
    let raw = example("misdirected.eml");
    let mut c = Client::connect(server.port).await.unwrap();
    let reply = c.mail(SENDER, &[OUTSIDER, CLIENT, COLLEAGUE], &raw).await;
    held_id(&reply);
    let got = sink.messages();
    assert_eq!(got.len(), 2, "one encrypted copy, one plain");
    let to_client = got.iter().find(|g| g.rcpts == [CLIENT]).unwrap();
    let text = String::from_utf8_lossy(&to_client.body);
    assert!(text.contains("application/pkcs7-mime"), "{text}");
    assert!(
        !text.contains("Harrowgate Shipping in matter"),
        "not in clear"
    );
    let to_colleague = got.iter().find(|g| g.rcpts == [COLLEAGUE]).unwrap();
    assert_eq!(to_colleague.body, raw);
    let held = setup.held();
    assert_eq!(held.len(), 1);
    assert_eq!(held[0]["to"], serde_json::json!([OUTSIDER]));
    server.stop().await;
}
