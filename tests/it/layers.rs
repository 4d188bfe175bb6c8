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
