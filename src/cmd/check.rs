//! `matterwall check`: the full decision for one message as one JSON line,
//! sending nothing (extract → detect → policy, no network).

use super::load_engine;
use matterwall::check::{self, Envelope};
use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

pub(crate) fn read_message(file: &Path) -> Result<Vec<u8>, String> {
    if file == Path::new("-") {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| format!("cannot read standard input: {e}"))?;
        return Ok(buf);
    }
    std::fs::read(file).map_err(|e| format!("{}: cannot read: {e}", file.display()))
}

pub(crate) fn run(
    config: &Path,
    from: Option<String>,
    to: Vec<String>,
    file: &Path,
) -> Result<ExitCode, String> {
    let engine = load_engine(config)?;
    let raw = read_message(file)?;
    let envelope = Envelope::or_headers(&raw, from, to);
    let verdict = check::check(&engine, &envelope, &raw, check::today());
    let json =
        serde_json::to_string(&verdict).map_err(|e| format!("cannot encode the verdict: {e}"))?;
    print_line(&json)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints one line; a reader that went away (`check … | head`) is not an
/// error worth a panic, as in ripgrep: the output is simply not wanted.
fn print_line(line: &str) -> Result<(), String> {
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{line}").and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!("cannot write the verdict: {e}")),
    }
}
