//! `matterwall dictionaries lint` as a command: warnings with file, line and
//! fix on stdout and exit 0; the shipped dictionaries; `--words`; and
//! `--against` counting the messages of a generated archive each name and
//! alias fires in. (Each warning class is tested in `config::lint::tests`.)

use crate::support;
use std::path::Path;

fn lint(config: &Path, extra: &[&str]) -> String {
    let mut args = vec!["--config", config.to_str().unwrap(), "dictionaries", "lint"];
    args.extend_from_slice(extra);
    let out = support::matterwall(&args);
    assert!(
        out.status.success(),
        "lint exits 0 whatever it finds: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// A dictionary folder with these clients and no matters, and its config.
fn dictionary(clients: &str) -> (tempfile::TempDir, tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("clients.csv"), clients).unwrap();
    std::fs::write(
        dir.path().join("matters.csv"),
        "matter_number,client_id,description,cocounsel_domains,screened\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("waivers.csv"),
        "client_id,recipient,expires,reference\n",
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("certs")).unwrap();
    let (cfg_dir, config) = support::config_with_dictionaries(dir.path());
    (dir, cfg_dir, config)
}

const CLIENTS: &str = "client_id,name,aliases,domains
C-1,Apple Orchards Holdings,Apple; ~AO,apple-orchards.example
C-2,Orvandel Trust,Orvandel,orvandel.example;gmail.com
";

#[test]
fn the_shipped_dictionaries_lint_clean() {
    let out = lint(&support::repo().join("rules/matterwall.toml"), &[]);
    assert_eq!(out, "0 warnings\n");
}

#[test]
fn warnings_name_file_line_and_fix_and_exit_zero() {
    let (_d, _c, config) = dictionary(CLIENTS);
    let out = lint(&config, &[]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("clients.csv:2: warning[common-word]: client C-1 alias \"Apple\": a common English word"),
        "{out}"
    );
    assert!(lines[1].contains("fix: mark it weak: \"~Apple\""), "{out}");
    assert!(
        lines[2].contains("clients.csv:3: warning[webmail-domain]"),
        "{out}"
    );
    assert_eq!(*lines.last().unwrap(), "2 warnings");
}

#[test]
fn a_firm_word_list_is_read_with_words() {
    let (dir, _c, config) = dictionary(CLIENTS);
    let words = dir.path().join("ours.txt");
    std::fs::write(&words, "orvandel\n").unwrap();
    let out = lint(&config, &["--words", words.to_str().unwrap()]);
    assert!(
        out.contains("client C-2 alias \"Orvandel\": in the --words list"),
        "{out}"
    );
    assert!(out.ends_with("3 warnings\n"), "{out}");
}

#[test]
fn against_counts_the_messages_each_entry_fires_in_highest_first() {
    let (dir, _c, config) = dictionary(CLIENTS);
    let archive = dir.path().join("sent");
    std::fs::create_dir(&archive).unwrap();
    let bodies = [
        "An apple a day.",
        "Apple pie for the team lunch; apple juice too.",
        "The APPLE harvest is in.",
        "Orvandel Trust minutes attached.",
        "Nothing to see here.",
    ];
    for (i, body) in bodies.iter().enumerate() {
        let msg = format!("From: a@firm.example\nTo: b@outside.example\nSubject: {i}\n\n{body}\n");
        std::fs::write(archive.join(format!("{i}.eml")), msg).unwrap();
    }
    let out = lint(&config, &["--against", archive.to_str().unwrap()]);
    let table: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("names and aliases by messages"))
        .collect();
    assert_eq!(
        table[0], "names and aliases by messages fired in, of 5 messages:",
        "{out}"
    );
    assert!(
        table[1].trim_start().starts_with("3  C-1 alias \"Apple\""),
        "{out}"
    );
    assert!(
        table[1].contains("clients.csv:2") && table[1].ends_with("0.eml"),
        "{out}"
    );
    assert!(
        table[2]
            .trim_start()
            .starts_with("1  C-2 alias \"Orvandel\""),
        "{out}"
    );
    // The detector reports the alias inside "Orvandel Trust"; the names
    // and ~AO (never corroborated) fired in no message.
    assert_eq!(table[3], "3 names and aliases fired in no message", "{out}");
}
