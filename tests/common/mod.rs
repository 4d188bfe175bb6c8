//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The labelled corpus beside the repository (`../shared/corpus`).
pub fn corpus() -> PathBuf {
    let dir = repo().join("../shared/corpus");
    assert!(
        dir.join("expected.jsonl").exists(),
        "the labelled corpus is missing at {}",
        dir.display()
    );
    dir
}

/// A temp folder holding a copy of the shipped `matterwall.toml` with the
/// dictionaries, waivers and certs of `dict_dir` beside it.
pub fn config_with_dictionaries(dict_dir: &Path) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let toml = std::fs::read_to_string(repo().join("rules/matterwall.toml")).unwrap();
    // The shipped examples live beside the shipped rules, not here.
    let toml = toml.split("[[example]]").next().unwrap().to_string();
    let path = tmp.path().join("matterwall.toml");
    std::fs::write(&path, toml).unwrap();
    for name in ["clients.csv", "matters.csv", "waivers.csv", "certs"] {
        std::os::unix::fs::symlink(
            dict_dir.join(name).canonicalize().unwrap(),
            tmp.path().join(name),
        )
        .unwrap();
    }
    (tmp, path)
}

/// Runs the built `matterwall` binary.
pub fn matterwall(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_matterwall"))
        .args(args)
        .output()
        .expect("run matterwall")
}
