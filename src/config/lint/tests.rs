//! One dictionary with one entry of each class gets exactly those warnings;
//! a clean one gets none; the date shapes, table-driven.

use super::matters::date_shape;
use super::{lint, Words};
use crate::config::Config;
use std::path::Path;

const CONFIG: &str = "[firm]\ninternal_domains = [\"firm.example\"]\n\
    [dictionaries]\nclients = \"clients.csv\"\nmatters = \"matters.csv\"\n\
    waivers = \"waivers.csv\"\ncerts = \"certs\"\n";

fn config(dir: &Path, clients: &str, matters: &str) -> Config {
    std::fs::write(dir.join("matterwall.toml"), CONFIG).unwrap();
    std::fs::write(dir.join("clients.csv"), clients).unwrap();
    std::fs::write(dir.join("matters.csv"), matters).unwrap();
    std::fs::create_dir_all(dir.join("certs")).unwrap();
    Config::load(&dir.join("matterwall.toml")).unwrap()
}

/// (file name, line, class) of every warning.
fn found(cfg: &Config, words: &Words) -> Vec<(String, usize, &'static str)> {
    lint(cfg, words)
        .into_iter()
        .map(|w| {
            let file = w.file.file_name().unwrap().to_string_lossy().to_string();
            (file, w.line.unwrap(), w.class)
        })
        .collect()
}

const CLIENTS: &str = "client_id,name,aliases,domains
C-1,Apple Orchards Holdings,Apple; ~AO,apple-orchards.example
C-2,Zephyrine Kettleworth Group,Kettleworth Zephyrine; ZKG,zkg.example
C-3,Quillon Marrowby,Mombasa,quillon.example
C-4,Orvandel Trust,Kettleworth Zephyrine,orvandel.example
C-5,Brackenfold Mining,Halvorsen,brackenfold.example
C-6,Halvorsen Dredging Ltd,,halvorsen.example;gmail.com
C-7,Tessaline Foods,,tessaline.example;halvorsen.example
";

const MATTERS: &str = "matter_number,client_id,description,cocounsel_domains,screened
Q-7781,C-1,clean,,
2024-05,C-2,a month,,
Q-7782,C-3,firm as co-counsel,firm.example,
Q-7783,C-4,another client as co-counsel,zkg.example,
Q-7784,C-2,own client's domain is fine,zkg.example,
";

#[test]
fn each_class_is_found_exactly_once_where_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), CLIENTS, MATTERS);
    let got = found(&cfg, &Words::builtin());
    let c = |line, class| ("clients.csv".to_string(), line, class);
    let m = |line, class| ("matters.csv".to_string(), line, class);
    assert_eq!(
        got,
        [
            c(2, "common-word"),
            c(3, "short"),
            c(4, "place"),
            c(5, "duplicate"),
            c(6, "alias-prefix"),
            c(7, "webmail-domain"),
            c(8, "shared-domain"),
            m(3, "date-shape"),
            m(4, "cocounsel-domain"),
            m(5, "cocounsel-domain"),
        ]
    );
}

#[test]
fn warnings_say_what_and_how_to_fix_it() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(tmp.path(), CLIENTS, MATTERS);
    let text: Vec<String> = lint(&cfg, &Words::builtin())
        .iter()
        .map(|w| w.to_string())
        .collect();
    let all = text.join("\n");
    for expected in [
        "clients.csv:2: warning[common-word]: client C-1 alias \"Apple\": a common English word",
        "fix: mark it weak: \"~Apple\"",
        "client C-2 alias \"ZKG\": shorter than 4 letters",
        "also client C-2 alias \"Kettleworth Zephyrine\" (line 3)",
        "the first word(s) of client C-6's name \"Halvorsen Dredging Ltd\" (line 7)",
        "client C-6 domain \"gmail.com\": a public webmail",
        "also a domain of client C-6 (line 7)",
        "matters.csv:3: warning[date-shape]: matter \"2024-05\": shaped like a month",
        "\"firm.example\": the firm's own domain",
        "\"zkg.example\": a domain of client C-2 (line 3)",
    ] {
        assert!(all.contains(expected), "{expected:?} not in:\n{all}");
    }
}

#[test]
fn a_clean_dictionary_gets_no_warning() {
    let tmp = tempfile::tempdir().unwrap();
    let clients = "client_id,name,aliases,domains
C-1,Zephyrine Kettleworth Group,Zephyrine Kettleworth; ~ZKG; ~Apple,zkg.example
C-2,Orvandel Trust,Orvandel; ~ZKG,orvandel.example
";
    let matters = "matter_number,client_id,description,cocounsel_domains,screened
ZK-2024-0117,C-1,x,counsel.example,
LIT/22/0931,C-2,y,,
";
    let cfg = config(tmp.path(), clients, matters);
    assert_eq!(found(&cfg, &Words::builtin()), []);
}

#[test]
fn a_firm_word_list_adds_words() {
    let tmp = tempfile::tempdir().unwrap();
    let clients = "client_id,name,aliases,domains\nC-1,Orvandel Trust,Orvandel,o.example\n";
    let cfg = config(
        tmp.path(),
        clients,
        "matter_number,client_id,description,cocounsel_domains,screened\n",
    );
    let list = tmp.path().join("words.txt");
    std::fs::write(&list, "# our own\nORVANDEL\n").unwrap();
    let mut words = Words::builtin();
    assert_eq!(found(&cfg, &words), []);
    words.add_file(&list).unwrap();
    assert_eq!(
        found(&cfg, &words),
        [("clients.csv".into(), 2, "common-word")]
    );
}

#[test]
fn date_shapes() {
    for (number, shape) in [
        ("2024", Some("a year")),
        ("1999", Some("a year")),
        ("20240117", Some("a date")),
        ("2024-01-17", Some("a date")),
        ("17/01/2024", Some("a date")),
        ("01/17/2024", Some("a date")),
        ("17.01.24", Some("a date")),
        ("2024-05", Some("a month")),
        ("05/2024", Some("a month")),
        ("2024-25", Some("a year range")),
        ("2023-2024", Some("a year range")),
        ("10:30", Some("a time of day")),
        ("2024-0117", None),
        ("2020-2073", None),
        ("2016-1982", None),
        ("2023-0988", None),
        ("1:23-cv-04512", None),
        ("M-2025-0042", None),
        ("12345", None),
        ("3100", None),
        ("2024-13", None),
        ("10-30", None),
    ] {
        assert_eq!(date_shape(number), shape, "{number}");
    }
}

#[test]
fn webmail_under_any_country_domain() {
    let w = Words::builtin();
    for d in [
        "gmail.com",
        "yahoo.co.uk",
        "hotmail.fr",
        "outlook.com",
        "gmx.de",
    ] {
        assert!(w.is_webmail(d), "{d}");
    }
    for d in [
        "harrowgate-shipping.com",
        "yahoo.example.com",
        "mygmail.com",
    ] {
        assert!(!w.is_webmail(d), "{d}");
    }
}
