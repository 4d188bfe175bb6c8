//! The shape of the code, checked: every module of the library sits on a
//! layer, and imports only modules on lower layers (no import circle, none
//! against the flow). The layers are the ones `src/lib.rs` describes; a new
//! module must be placed here, or this test names it.

use std::collections::BTreeSet;
use std::path::Path;

/// Lowest first. Data and vocabulary below, the stages in the order data
/// reaches them, the network and the wiring above.
const LAYERS: &[&[&str]] = &[
    &["failpoint"],
    &["text", "metrics", "store"],
    &["extract"],
    &["config"],
    &["detect"],
    &["policy"],
    &["engine"],
    &["check"],
    &["replay"],
    &["smtp"],
    &["act"],
    &["review"],
    &["server"],
];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The top-level modules `path` (a file or folder of `src/`) names in code
/// (`crate::X`), comments left out.
fn imports(path: &Path, out: &mut BTreeSet<String>) {
    if path.is_dir() {
        for entry in std::fs::read_dir(path).unwrap() {
            imports(&entry.unwrap().path(), out);
        }
        return;
    }
    if path.extension().is_none_or(|e| e != "rs") {
        return;
    }
    let text = std::fs::read_to_string(path).unwrap();
    for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
        for (at, _) in line.match_indices("crate::") {
            let rest = &line[at + 7..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            out.insert(name);
        }
    }
}

#[test]
fn every_module_imports_only_layers_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut wrong = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().to_string();
        if matches!(stem.as_str(), "lib" | "main" | "cmd")
            || path.is_file() && path.extension().is_none_or(|e| e != "rs")
        {
            continue;
        }
        let Some(own) = layer(&stem) else {
            wrong.push(format!("src/{stem}: on no layer (add it to LAYERS)"));
            continue;
        };
        let mut used = BTreeSet::new();
        imports(&path, &mut used);
        for other in used.iter().filter(|o| **o != stem) {
            match layer(other) {
                Some(l) if l < own => {}
                _ => wrong.push(format!("{stem} imports {other}")),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against the layers:\n{}",
        wrong.join("\n")
    );
}

/// Inside `extract`, the readers: each is a leaf that returns what it found
/// (texts, flags, children) and never reads anything itself. Paths under
/// `src/extract/`, without `.rs`.
const EXTRACT_READERS: &[&str] = &[
    "mime",
    "views",
    "attachment/archive",
    "attachment/cms",
    "attachment/lzfu",
    "attachment/office",
    "attachment/ole",
    "attachment/pdf",
    "attachment/pdfscan",
    "attachment/rtf",
    "attachment/tnef",
];

/// Inside `extract`, what any reader may use: decodings, text, the limits,
/// the sniff. None of them reads a reader either.
const EXTRACT_HELPERS: &[&str] = &[
    "codec",
    "params",
    "text",
    "uuencode",
    "html/mod",
    "html/css",
    "html/entities",
    "html/tokens",
    "html/tests",
    "attachment/mod",
    "attachment/bounded",
    "attachment/xml",
];

/// A reader's own parts, which it may use: `pdfscan` is the PDF reader's.
const OWN_PARTS: &[(&str, &str)] = &[("attachment/pdf", "pdfscan")];

/// The code of a file before its tests, whole-line comments left out.
fn code_before_tests(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .filter(|l| {
            let l = l.trim_start();
            !(l.starts_with("pub mod ") || l.starts_with("mod "))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether `code` names module `name`: as a path segment (`name::`) or as
/// an item of a `use` list (`use super::{name, …}`).
fn names_module(code: &str, name: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let as_word = |hay: &str, tail: &str| {
        hay.match_indices(name).any(|(at, _)| {
            let before = hay[..at].chars().next_back();
            before.is_none_or(|c| !ident(c)) && hay[at + name.len()..].starts_with(tail)
        })
    };
    if as_word(code, "::") {
        return true;
    }
    code.split("use ").skip(1).any(|stmt| {
        let stmt = stmt.split(';').next().unwrap_or_default();
        stmt.split(|c: char| !ident(c)).any(|w| w == name)
    })
}

/// The module name a reader is named by in code (`attachment/ole` → `ole`).
fn short(path: &str) -> &str {
    path.rsplit('/').next().unwrap()
}

#[test]
fn extraction_readers_are_leaves_and_only_the_walker_dispatches() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/extract");
    let mut wrong = Vec::new();
    let mut listed: Vec<&str> = EXTRACT_READERS.to_vec();
    listed.extend(EXTRACT_HELPERS);
    listed.extend(["mod", "walk"]);
    // Every file of the tree is a reader, a helper, the walker or the root.
    let mut seen = Vec::new();
    collect_rs(&root, &root, &mut seen);
    for file in &seen {
        if !listed.contains(&file.as_str()) {
            wrong.push(format!(
                "extract/{file}: neither a reader nor a helper (list it)"
            ));
        }
    }
    for file in EXTRACT_READERS.iter().chain(EXTRACT_HELPERS) {
        let code = code_before_tests(&root.join(format!("{file}.rs")));
        if names_module(&code, "walk") {
            wrong.push(format!("extract/{file} calls the walker"));
        }
        for reader in EXTRACT_READERS {
            let own = OWN_PARTS.contains(&(file, short(reader)));
            if reader != file && !own && names_module(&code, short(reader)) {
                wrong.push(format!("extract/{file} uses the reader {reader}"));
            }
        }
    }
    // The MIME reader and the views of a part know nothing of attachments.
    for file in ["mime", "views"] {
        let code = code_before_tests(&root.join(format!("{file}.rs")));
        if names_module(&code, "attachment") {
            wrong.push(format!("extract/{file} uses attachment"));
        }
    }
    assert!(
        wrong.is_empty(),
        "extraction readers that are not leaves:\n{}",
        wrong.join("\n")
    );
}

/// The `.rs` files under `dir`, as paths relative to `root` without `.rs`.
fn collect_rs(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_rs(root, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(root).unwrap().with_extension("");
            out.push(rel.to_string_lossy().into_owned());
        }
    }
}

#[test]
fn the_leaf_check_sees_a_circle() {
    // What the check must catch: a reader that calls another, or the walker.
    assert!(names_module(
        "use super::{office, read_member, Ctx};",
        "office"
    ));
    assert!(names_module(
        "    super::lzfu::read_body(ctx, &b, &r);",
        "lzfu"
    ));
    assert!(names_module("use crate::extract::{mime, Ctx};", "mime"));
    assert!(names_module("use super::{\n    walk,\n};", "walk"));
    assert!(!names_module("let x = lopdf::Document::new();", "pdf"));
    assert!(!names_module(
        "let archive = zip::ZipArchive::new(c);",
        "archive"
    ));
}
