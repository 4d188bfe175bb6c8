//! `matterwall replay` on generated archives of every shape (mbox, Maildir,
//! `.eml` tree) built from the shipped example dictionaries, with the verdict
//! each message must get; `--compare` against a changed dictionary, where
//! exactly the messages the change concerns differ; the HTML report.

use crate::support;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// A generated message: its name, its text, and the verdict (action and
/// enforced rules) the shipped policy must give it.
struct Case {
    name: &'static str,
    from: &'static str,
    to: &'static str,
    subject: &'static str,
    body: &'static str,
    action: &'static str,
    rules: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "01-clean",
        from: "a.partner@firm.example",
        to: "friend@gmail.com",
        subject: "Lunch on Friday?",
        body: "From my side Friday works; the usual place at one.",
        action: "pass",
        rules: &[],
    },
    Case {
        name: "02-leak",
        from: "a.partner@firm.example",
        to: "someone@gmail.com",
        subject: "Draft",
        body: "Attached the Harrowgate Shipping settlement figures.",
        action: "hold",
        rules: &["unauthorised-recipient"],
    },
    Case {
        name: "03-to-client",
        from: "a.partner@firm.example",
        to: "legal@harrowgate-shipping.com",
        subject: "Your charterparty dispute",
        body: "Update on 2024-0117 for Harrowgate Shipping.",
        action: "encrypt",
        rules: &["encrypt-authorised-external"],
    },
    Case {
        name: "04-wall",
        from: "p.lee@firm.example",
        to: "b.associate@firm.example",
        subject: "Highways",
        body: "Where are we on 1:23-cv-04512?",
        action: "hold",
        rules: &["ethical-wall"],
    },
    Case {
        name: "05-internal",
        from: "a.partner@firm.example",
        to: "b.associate@firm.example",
        subject: "Fund",
        body: "Tamarind Capital wants the fund papers by Monday.",
        action: "pass",
        rules: &[],
    },
    Case {
        name: "06-codename",
        from: "a.partner@firm.example",
        to: "pal@gmail.com",
        subject: "Project Bluebird",
        body: "Bluebird closes next week, keep it quiet.",
        action: "pass",
        rules: &[],
    },
    Case {
        name: "07-alias-leak",
        from: "a.partner@firm.example",
        to: "pal@gmail.com",
        subject: "Site visit <script>document.title='pwned'</script>",
        body: "Okonkwo Construction want the site report.",
        action: "hold",
        rules: &["unauthorised-recipient"],
    },
    Case {
        name: "08-pharma-leak",
        from: "a.partner@firm.example",
        to: "x@outside.example",
        subject: "<script>alert(1)</script> opposition",
        body: "The Brightwater Pharma opposition papers.",
        action: "hold",
        rules: &["unauthorised-recipient"],
    },
];

fn message(c: &Case) -> String {
    format!(
        "From: {}\nTo: {}\nSubject: {}\nMessage-ID: <{}@firm.example>\n\
         Content-Type: text/plain; charset=utf-8\n\n{}\n",
        c.from, c.to, c.subject, c.name, c.body
    )
}

/// The cases as an mbox (mboxrd: the body line starting `From` is quoted).
fn mbox(dir: &Path) -> PathBuf {
    let path = dir.join("sent.mbox");
    let mut text = String::new();
    for c in CASES {
        text.push_str("From a.partner@firm.example Mon Nov  2 10:00:00 2026\n");
        for line in message(c).lines() {
            let quoted = line.trim_start_matches('>').starts_with("From ");
            if quoted && !line.starts_with("From: ") {
                text.push('>');
            }
            text.push_str(line);
            text.push('\n');
        }
        text.push('\n');
    }
    std::fs::write(&path, text).unwrap();
    path
}

fn maildir(dir: &Path) -> PathBuf {
    let root = dir.join("Maildir");
    for sub in ["cur", "new", "tmp"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    for c in CASES {
        std::fs::write(root.join("cur").join(format!("{}:2,S", c.name)), message(c)).unwrap();
    }
    root
}

fn eml_tree(dir: &Path) -> PathBuf {
    let root = dir.join("export");
    for (i, c) in CASES.iter().enumerate() {
        let sub = root.join(if i % 2 == 0 { "even" } else { "odd" });
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(format!("{}.eml", c.name)), message(c)).unwrap();
    }
    root
}

/// Text with every run of spaces as one, so that column widths do not matter.
fn squeeze(text: &str) -> String {
    text.split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn replay(args: &[&str]) -> (Vec<Value>, String) {
    let out = support::matterwall(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "replay failed: {stderr}");
    let lines = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (lines, squeeze(&stderr))
}

/// The case a JSON line is about, by its Message-ID-bearing name in the path
/// or, for an mbox, by its position.
fn case_of(i: usize, line: &Value) -> &'static Case {
    let path = line["path"].as_str().unwrap();
    CASES
        .iter()
        .find(|c| path.contains(c.name))
        .unwrap_or(&CASES[i])
}

#[test]
fn every_shape_gives_each_message_its_known_verdict_in_order() {
    let tmp = tempfile::tempdir().unwrap();
    let config = support::repo().join("rules/matterwall.toml");
    let config = config.to_str().unwrap();
    for archive in [mbox(tmp.path()), maildir(tmp.path()), eml_tree(tmp.path())] {
        let path = archive.to_str().unwrap();
        let (lines, summary) = replay(&["--config", config, "replay", "--json", path]);
        assert_eq!(lines.len(), CASES.len(), "{path}");
        let mut names = Vec::new();
        for (i, line) in lines.iter().enumerate() {
            let case = case_of(i, line);
            names.push(case.name);
            let v = &line["verdict"];
            assert_eq!(v["action"], case.action, "{path}: {}: {v}", case.name);
            assert_eq!(v["rules"], serde_json::json!(case.rules), "{}", case.name);
            assert_eq!(line["envelope"]["to"][0], case.to, "{}", case.name);
        }
        if !path.ends_with("export") {
            // mbox and Maildir keep the archive's order; the tree is by folder.
            let expected: Vec<&str> = CASES.iter().map(|c| c.name).collect();
            assert_eq!(names, expected, "{path}");
        }
        assert!(summary.contains("replayed 8 messages"), "{summary}");
        assert!(summary.contains("hold 4"), "{summary}");
        assert!(summary.contains("unauthorised-recipient 3"));
    }
}

#[test]
fn the_summary_counts_actions_rules_and_matches_with_an_example() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = mbox(tmp.path());
    let config = support::repo().join("rules/matterwall.toml");
    let out = support::matterwall(&[
        "--config",
        config.to_str().unwrap(),
        "replay",
        archive.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let text = squeeze(&String::from_utf8(out.stdout).unwrap());
    for expected in [
        "pass 3",
        "encrypt 1",
        "ethical-wall 1",
        "client C-10442 \"harrowgate shipping\"",
    ] {
        assert!(text.contains(expected), "{expected:?} not in:\n{text}");
    }
    let harrowgate = text
        .lines()
        .find(|l| l.contains("\"harrowgate shipping\""))
        .unwrap();
    assert!(harrowgate.contains("\" 2 "), "{harrowgate}");
    assert!(harrowgate.contains("sent.mbox@"), "{harrowgate}");
    assert!(text.contains("msgs/s"), "{text}");
}

/// The shipped dictionaries with `clients.csv` changed by `edit`, and the
/// shipped config beside them.
fn changed_config(
    edit: impl Fn(&str) -> String,
) -> (tempfile::TempDir, tempfile::TempDir, PathBuf) {
    let dicts = tempfile::tempdir().unwrap();
    let rules = support::repo().join("rules");
    let clients = std::fs::read_to_string(rules.join("clients.csv")).unwrap();
    std::fs::write(dicts.path().join("clients.csv"), edit(&clients)).unwrap();
    for name in ["matters.csv", "waivers.csv"] {
        std::fs::copy(rules.join(name), dicts.path().join(name)).unwrap();
    }
    std::os::unix::fs::symlink(rules.join("certs"), dicts.path().join("certs")).unwrap();
    let (cfg_dir, config) = support::config_with_dictionaries(dicts.path());
    (dicts, cfg_dir, config)
}

#[test]
fn compare_shows_exactly_the_messages_the_dictionary_change_concerns() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = maildir(tmp.path());
    // B: a new alias (the code name) for Tamarind, and Okonkwo's alias gone.
    let (_d, _c, b) = changed_config(|csv| {
        csv.replace("Tamarind Capital,", "Tamarind Capital; Bluebird,")
            .replace("Okonkwo Construction,", ",")
    });
    let a = support::repo().join("rules/matterwall.toml");
    let args = [
        "--config",
        a.to_str().unwrap(),
        "replay",
        "--compare",
        b.to_str().unwrap(),
        "--json",
        archive.to_str().unwrap(),
    ];
    let (lines, _) = replay(&args);
    let differing: Vec<&str> = lines
        .iter()
        .filter(|l| l["differs"] == true)
        .map(|l| case_of(0, l).name)
        .collect();
    assert_eq!(differing, ["06-codename", "07-alias-leak"]);
    for l in &lines {
        let differs = l["differs"] == true;
        assert_eq!(
            differs,
            l["verdict"]["action"] != l["compare"]["action"],
            "{l}"
        );
    }
    let without_json: Vec<&str> = args.iter().copied().filter(|a| *a != "--json").collect();
    let out = support::matterwall(&without_json);
    let text = squeeze(&String::from_utf8(out.stdout).unwrap());
    assert!(
        text.contains("differing verdicts: 2 of 8 messages"),
        "{text}"
    );
    assert!(text.contains("pass -> hold 1"), "{text}");
    assert!(text.contains("hold -> pass 1"), "{text}");
    assert!(text.contains("subject: \"Project Bluebird\""), "{text}");
    assert!(
        text.contains("pass -> hold [unauthorised-recipient]"),
        "{text}"
    );
    assert!(
        text.contains("only B: client C-10446 \"Bluebird\""),
        "{text}"
    );
    assert!(
        text.contains("only A: client C-10444 \"Okonkwo Construction\""),
        "{text}"
    );
    assert!(text.contains("recipient pal@gmail.com: external -> unauthorised"));
}

#[test]
fn an_unreadable_path_is_reported_and_the_rest_replayed() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = eml_tree(tmp.path());
    let config = support::repo().join("rules/matterwall.toml");
    let missing = tmp.path().join("missing.mbox");
    let (lines, summary) = replay(&[
        "--config",
        config.to_str().unwrap(),
        "replay",
        "--json",
        missing.to_str().unwrap(),
        archive.to_str().unwrap(),
    ]);
    assert_eq!(lines.len(), CASES.len() + 1);
    assert!(lines[0]["error"]
        .as_str()
        .unwrap()
        .starts_with("cannot read"));
    assert!(summary.contains("not scanned: 1 messages"), "{summary}");
}

#[test]
fn envelope_flags_override_the_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = mbox(tmp.path());
    let config = support::repo().join("rules/matterwall.toml");
    let (lines, _) = replay(&[
        "--config",
        config.to_str().unwrap(),
        "replay",
        "--json",
        "--from",
        "p.lee@firm.example",
        "--to",
        "b.associate@firm.example",
        archive.to_str().unwrap(),
    ]);
    // Internal mail from the screened partner: only the wall matters now.
    let held: Vec<&str> = lines
        .iter()
        .filter(|l| l["verdict"]["action"] == "hold")
        .map(|l| l["verdict"]["rules"][0].as_str().unwrap())
        .collect();
    assert_eq!(held, ["ethical-wall"]);
    assert!(lines
        .iter()
        .all(|l| l["envelope"]["from"] == "p.lee@firm.example"));
}

const CHROMIUM: &str = "/usr/bin/chromium";

/// The DOM headless Chromium builds from `page` (scripts would have run).
fn rendered(page: &Path) -> String {
    assert!(
        Path::new(CHROMIUM).exists(),
        "{CHROMIUM} is missing: apt-get install chromium (.ci/run does)"
    );
    let profile = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(CHROMIUM)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom"])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn the_html_report_is_self_contained_and_a_script_in_a_subject_is_inert() {
    let tmp = tempfile::tempdir().unwrap();
    let archive = maildir(tmp.path());
    let (_d, _c, b) = changed_config(|csv| csv.replace("Okonkwo Construction,", ","));
    let a = support::repo().join("rules/matterwall.toml");
    let report = tmp.path().join("report.html");
    let out = support::matterwall(&[
        "--config",
        a.to_str().unwrap(),
        "replay",
        "--compare",
        b.to_str().unwrap(),
        "--html",
        report.to_str().unwrap(),
        archive.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = std::fs::read_to_string(&report).unwrap();
    // The subject is there, as text; nothing runs or loads.
    assert!(html.contains("Site visit &lt;script&gt;document.title='pwned'&lt;/script&gt;"));
    assert!(!html.to_ascii_lowercase().contains("<script"), "{html}");
    for outside in ["src=", "href=", "<link", "<img", "@import", "url("] {
        assert!(!html.contains(outside), "{outside} in the report");
    }
    assert!(html.contains("Content-Security-Policy"));
    // Summary tables, both charts, and the one difference.
    assert!(html.contains("<svg") && html.contains("aria-label=\"messages by rule\""));
    assert!(html.contains("aria-label=\"top firing aliases\""));
    assert!(html.contains("Differences: 1 of 8 messages"), "{html}");
    assert!(
        html.contains("only A: client C-10444 &quot;Okonkwo Construction&quot;")
            || html.contains("only A: client C-10444 \"Okonkwo Construction\"")
    );
    let dom = rendered(&report);
    assert!(
        dom.contains("<title>matterwall replay report</title>"),
        "{dom}"
    );
    assert!(!dom.contains("pwned</title>"), "{dom}");
}

#[test]
fn ctrl_c_prints_the_summary_so_far_and_exits_130() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("big.mbox");
    // Far more than a debug build judges in the second before the signal.
    let mut text = String::with_capacity(60_000 * 120);
    for i in 0..60_000 {
        text.push_str("From x Thu Jan  1 00:00:00 2026\nFrom: a@firm.example\n");
        text.push_str(&format!(
            "To: b@outside.example\nSubject: {i}\n\nHello.\n\n"
        ));
    }
    std::fs::write(&path, text).unwrap();
    let config = support::repo().join("rules/matterwall.toml");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_matterwall"))
        .args(["--config", config.to_str().unwrap(), "replay"])
        .arg(&path)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130));
    let text = String::from_utf8(out.stdout).unwrap();
    let first = text.lines().next().unwrap_or_default();
    assert!(first.ends_with("(interrupted)"), "{text}");
    let n: u64 = first.split(' ').nth(1).unwrap().parse().unwrap();
    assert!(n > 0 && n < 60_000, "{first}");
}
