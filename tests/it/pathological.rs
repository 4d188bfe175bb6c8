//! RELIABILITY.md §1 items 30 and 36: content that points outside the
//! message, and shapes built to exhaust a parser. Each runs through the
//! library's `check` against the shipped example, twice (but the 50 MB
//! one): the verdict must be the one stated and the same both times
//! (deterministic), and nothing may panic. How long they take and how much memory they use is a benchmark's
//! business (benches/attachments.sh), not a test's.

use base64::Engine as _;
use matterwall::check::{check, Envelope, Verdict};
use matterwall::engine::Engine;
use std::sync::OnceLock;

fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/rules/matterwall.toml");
        Engine::load(std::path::Path::new(path)).expect("the shipped rules load")
    })
}

/// The verdict for `raw` sent to an outsider.
fn verdict_once(raw: &[u8]) -> Verdict {
    let env = Envelope {
        from: "a.partner@firm.example".into(),
        to: vec!["someone@outside.example".into()],
    };
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    check(engine(), &env, raw, today)
}

/// [`verdict_once`], checked to be the same twice.
fn verdict(raw: &[u8]) -> Verdict {
    let first = verdict_once(raw);
    let second = verdict_once(raw);
    let json = |v: &Verdict| serde_json::to_string(v).unwrap();
    assert_eq!(
        json(&first),
        json(&second),
        "the same message, another verdict"
    );
    first
}

fn mentions(v: &Verdict, id: &str) -> bool {
    v.matches.iter().any(|m| m.id == id)
}

const HEAD: &str =
    "From: a.partner@firm.example\r\nTo: someone@outside.example\r\nMIME-Version: 1.0\r\n";

/// §1 30: a fragment of a message split over several, and a body stored
/// elsewhere, cannot be read here: held, never passed unread.
#[test]
fn partial_and_external_bodies_are_held_as_uninspectable() {
    let cases = [
        ("message/partial", "Content-Type: message/partial; id=\"abc@x\"; number=1; total=2\r\n\r\nFrom: x\r\nSubject: part one\r\n\r\nHarrowgate Shipping, first half\r\n"),
        ("message/external-body", "Content-Type: message/external-body; access-type=URL;\r\n URL=\"https://files.example/strategy.pdf\"\r\n\r\nContent-Type: application/pdf\r\n\r\n"),
    ];
    for (what, tail) in cases {
        let raw = format!("{HEAD}Subject: s\r\n{tail}");
        let v = verdict(raw.as_bytes());
        assert_eq!(v.action.as_str(), "hold", "{what}: {:?}", v.uninspectable);
        assert!(
            v.uninspectable.iter().any(|f| f.reason.contains(what)),
            "{what}: flagged by its type: {:?}",
            v.uninspectable
        );
    }
    // Inside a multipart, as a mail client sends it, the same.
    let raw = format!(
        "{HEAD}Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nsee the attachment\r\n--b\r\nContent-Type: message/partial; id=\"q@x\"; number=2; total=2\r\n\r\nrest of it\r\n--b--\r\n"
    );
    assert_eq!(verdict(raw.as_bytes()).action.as_str(), "hold");
}

/// §1 36: a 50 MB attachment as one base64 line, a name at its very end.
#[test]
fn a_50_mb_one_line_base64_attachment_is_read_to_its_end() {
    let mut text = "ordinary words of a long report. ".repeat(50 * 1024 * 1024 / 33);
    text.push_str("Harrowgate Shipping\n");
    let b64 = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    drop(text);
    let raw = format!(
        "{HEAD}Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nreport attached\r\n--b\r\nContent-Type: text/plain; name=r.txt\r\nContent-Disposition: attachment; filename=r.txt\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--b--\r\n"
    );
    drop(b64);
    // Once: whether the scan-time budget runs out first depends on the
    // machine (a debug build on a loaded one may flag it), so the two runs
    // could differ in the flag while both hold.
    let v = verdict_once(raw.as_bytes());
    assert!(
        mentions(&v, "C-10442") || !v.uninspectable.is_empty(),
        "the name at the end is found, or the part is flagged: {:?}",
        v.uninspectable
    );
    assert_eq!(v.action.as_str(), "hold");
}

/// §1 36: 10,000 tiny parts, past `[limits] max_parts` (5,000 in the
/// shipped rules): uninspectable, so held, and the parts before the limit
/// are still read.
#[test]
fn ten_thousand_tiny_parts_stop_at_the_part_limit_and_hold() {
    let mut raw = format!("{HEAD}Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
    raw.push_str("--b\r\nContent-Type: text/plain\r\n\r\nHarrowgate Shipping\r\n");
    for i in 0..10_000 {
        raw.push_str(&format!("--b\r\nContent-Type: text/plain\r\n\r\n{i}\r\n"));
    }
    raw.push_str("--b--\r\n");
    let v = verdict(raw.as_bytes());
    assert_eq!(v.action.as_str(), "hold");
    assert!(mentions(&v, "C-10442"), "the first part is read");
    assert!(
        v.uninspectable.iter().any(|f| f.reason.contains("part")),
        "the limit is named: {:?}",
        v.uninspectable
    );
}

/// §1 36: 100,000 header fields before the body: the body is still read.
#[test]
fn a_hundred_thousand_headers_do_not_hide_the_body() {
    let mut raw = String::from(HEAD);
    for i in 0..100_000 {
        raw.push_str(&format!("X-Filler-{i}: {i}\r\n"));
    }
    raw.push_str("Subject: s\r\n\r\nAbout Harrowgate Shipping.\r\n");
    let v = verdict(raw.as_bytes());
    assert!(mentions(&v, "C-10442"), "{:?}", v.uninspectable);
    assert_eq!(v.action.as_str(), "hold");
}

/// §1 36: a Subject of 1 MB on one line, a name at its end.
#[test]
fn a_one_megabyte_header_line_is_read_to_its_end() {
    let subject = format!("{}Harrowgate Shipping", "word ".repeat(1024 * 1024 / 5));
    let raw = format!("{HEAD}Subject: {subject}\r\n\r\nsee subject\r\n");
    let v = verdict(raw.as_bytes());
    assert!(
        mentions(&v, "C-10442") || !v.uninspectable.is_empty(),
        "found, or flagged: {:?}",
        v.uninspectable
    );
    assert_eq!(v.action.as_str(), "hold");
}

/// §2 12, pathological CPU: whatever a message makes the readers do, the
/// scan stops at `[limits] max_scan_millis` and the message is held as
/// uninspectable, never passed half-read. With a 1 ms budget, 2,000 parts
/// are more than the scan can do in time.
#[test]
fn a_scan_out_of_time_holds_the_message() {
    let dir = tempfile::tempdir().unwrap();
    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/rules");
    for entry in std::fs::read_dir(rules).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let toml = dir.path().join("matterwall.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    assert!(
        text.contains("max_scan_millis = 20000"),
        "the shipped budget moved"
    );
    let text = text.replace("max_scan_millis = 20000", "max_scan_millis = 1");
    std::fs::write(&toml, text).unwrap();
    let engine = Engine::load(&toml).expect("the rules load with a 1 ms budget");
    let mut raw = format!("{HEAD}Subject: s\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
    for i in 0..2_000 {
        raw.push_str(&format!(
            "--b\r\nContent-Type: text/plain\r\n\r\npart {i} of a long thread\r\n"
        ));
    }
    raw.push_str("--b--\r\n");
    let env = Envelope {
        from: "a.partner@firm.example".into(),
        to: vec!["someone@outside.example".into()],
    };
    let today = chrono::NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
    let v = check(&engine, &env, raw.as_bytes(), today);
    assert!(
        v.uninspectable
            .iter()
            .any(|f| f.reason.contains("scan time limit")),
        "{:?}",
        v.uninspectable
    );
    assert_eq!(v.action.as_str(), "hold");
}
