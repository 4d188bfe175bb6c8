//! Each archive shape, generated in a temp folder, read back message by message.

use super::{Archive, PIECE};
use std::path::{Path, PathBuf};

fn read_all(paths: &[PathBuf], max: usize) -> Vec<(String, Result<Vec<u8>, String>)> {
    Archive::open(paths, max)
        .map(|e| (e.label, e.bytes))
        .collect()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn mbox_splits_on_from_lines_after_an_empty_line_and_unquotes() {
    let tmp = tempfile::tempdir().unwrap();
    let mbox = tmp.path().join("sent.mbox");
    let text = "From a@x Thu Jan  1 00:00:00 2024\n\
                Subject: one\n\nbody\n>From here, quoted (mboxo and mboxrd)\n\
                >>From twice quoted\nFrom not after an empty line\n\n\
                From b@x Thu Jan  1 00:00:01 2024\nSubject: two\n\nlast\n";
    write(&mbox, text.as_bytes());
    let got = read_all(std::slice::from_ref(&mbox), 1 << 20);
    assert_eq!(got.len(), 2);
    let label = mbox.display().to_string();
    assert_eq!(got[0].0, format!("{label}@0"));
    assert_eq!(
        got[0].1.as_ref().unwrap(),
        b"Subject: one\n\nbody\nFrom here, quoted (mboxo and mboxrd)\n\
          >From twice quoted\nFrom not after an empty line\n"
    );
    let second = text.find("From b@x").unwrap();
    assert_eq!(got[1].0, format!("{label}@{second}"));
    assert_eq!(got[1].1.as_ref().unwrap(), b"Subject: two\n\nlast\n");
}

#[test]
fn mbox_with_crlf_lines_keeps_them() {
    let tmp = tempfile::tempdir().unwrap();
    let mbox = tmp.path().join("crlf");
    write(
        &mbox,
        b"From a\r\nSubject: a\r\n\r\nx\r\n\r\nFrom b\r\nSubject: b\r\n\r\ny\r\n",
    );
    let got = read_all(&[mbox], 1 << 20);
    let bodies: Vec<&[u8]> = got.iter().map(|g| &g.1.as_ref().unwrap()[..]).collect();
    assert_eq!(
        bodies,
        [&b"Subject: a\r\n\r\nx\r\n"[..], b"Subject: b\r\n\r\ny\r\n"]
    );
}

#[test]
fn a_message_over_the_cap_is_skipped_whole_and_the_next_still_read() {
    let tmp = tempfile::tempdir().unwrap();
    let mbox = tmp.path().join("big.mbox");
    // A body line with no break, several pieces long, then a small message.
    let long = "z".repeat(PIECE as usize * 3);
    let text = format!("From a\nSubject: big\n\n{long}\n\nFrom b\nSubject: small\n\nok\n");
    write(&mbox, text.as_bytes());
    let got = read_all(&[mbox], 1000);
    assert_eq!(got.len(), 2);
    assert!(got[0].1.as_ref().unwrap_err().contains("larger than 1000"));
    assert_eq!(got[1].1.as_ref().unwrap(), b"Subject: small\n\nok\n");
}

#[test]
fn a_long_from_line_is_not_content() {
    let tmp = tempfile::tempdir().unwrap();
    let mbox = tmp.path().join("long-from");
    let long = "x".repeat(PIECE as usize + 10);
    write(&mbox, format!("From {long}\nSubject: s\n\nb\n").as_bytes());
    let got = read_all(&[mbox], 1 << 20);
    assert_eq!(got[0].1.as_ref().unwrap(), b"Subject: s\n\nb\n");
}

#[test]
fn maildir_reads_cur_then_new_and_subfolders_never_tmp() {
    let tmp = tempfile::tempdir().unwrap();
    let md = tmp.path().join("Maildir");
    write(&md.join("cur/2:2,S"), b"Subject: cur2\n\n");
    write(&md.join("cur/1:2,S"), b"Subject: cur1\n\n");
    write(&md.join("new/3"), b"Subject: new\n\n");
    write(&md.join("tmp/4"), b"Subject: in delivery\n\n");
    write(&md.join(".Sent/cur/5:2,S"), b"Subject: sent\n\n");
    let got = read_all(&[md], 1 << 20);
    let subjects: Vec<String> = got
        .iter()
        .map(|g| String::from_utf8_lossy(g.1.as_ref().unwrap()).to_string())
        .collect();
    assert_eq!(
        subjects,
        [
            "Subject: cur1\n\n",
            "Subject: cur2\n\n",
            "Subject: new\n\n",
            "Subject: sent\n\n"
        ]
    );
    assert!(got[0].0.ends_with("cur/1:2,S"));
}

#[test]
fn a_tree_of_eml_files_in_name_order_other_files_left_out() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("export");
    write(&root.join("b/2.eml"), b"Subject: b2\n\n");
    write(&root.join("a.EML"), b"Subject: a\n\n");
    write(&root.join("b/1.eml"), b"Subject: b1\n\n");
    write(&root.join("b/notes.txt"), b"not a message");
    write(&root.join("b/index.json"), b"{\"Subject\": 1}");
    write(&root.join("mh/1"), b"Received: from x\nSubject: mh\n\n");
    write(&root.join(".hidden.eml"), b"Subject: hidden\n\n");
    write(&root.join("c/old.mbox"), b"From x\nSubject: in mbox\n\n");
    let got = read_all(std::slice::from_ref(&root), 1 << 20);
    let labels: Vec<String> = got
        .iter()
        .map(|g| g.0.trim_start_matches(&*root.display().to_string()).into())
        .collect();
    assert_eq!(
        labels,
        ["/a.EML", "/b/1.eml", "/b/2.eml", "/c/old.mbox@0", "/mh/1"]
    );
}

#[test]
fn a_named_file_is_a_message_and_a_missing_one_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let one = tmp.path().join("message.txt");
    write(&one, b"Subject: s\n\n");
    let got = read_all(&[one.clone(), tmp.path().join("missing")], 1 << 20);
    assert_eq!(got[0].1.as_ref().unwrap(), b"Subject: s\n\n");
    assert!(got[1].1.as_ref().unwrap_err().starts_with("cannot read"));
    assert_eq!(Archive::total_bytes(&[one]), 12);
}
