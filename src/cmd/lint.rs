//! `matterwall dictionaries lint [--words FILE] [--against PATH...]`:
//! warnings about dictionary entries, then, with `--against`, how many
//! messages of an archive each name and alias fires in. Warnings are not
//! errors: the exit status is 0 whatever is found (2 only when the
//! configuration does not load or a file cannot be read).

use matterwall::config::lint::{self, Words};
use matterwall::replay::archive::Archive;
use matterwall::replay::fires;
use matterwall::replay::run::Options;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

pub(crate) fn run(
    config: &Path,
    words_file: Option<&Path>,
    against: &[PathBuf],
) -> Result<ExitCode, String> {
    let mut words = Words::builtin();
    if let Some(file) = words_file {
        words.add_file(file)?;
    }
    let mut out = std::io::stdout().lock();
    let (warnings, engine) = if against.is_empty() {
        let cfg = super::load(config)?;
        (lint::lint(&cfg, &words), None)
    } else {
        let engine = super::load_engine(config)?;
        (lint::lint(&engine.config, &words), Some(engine))
    };
    let mut text = String::new();
    for w in &warnings {
        text.push_str(&format!("{w}\n"));
    }
    text.push_str(&format!("{} warnings\n", warnings.len()));
    if let Some(engine) = engine {
        text.push_str(&fired(&engine, against));
    }
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write the warnings: {e}"))
        }
        _ => Ok(ExitCode::SUCCESS),
    }
}

/// The `--against` table: entry, messages, one example.
fn fired(engine: &matterwall::engine::Engine, against: &[PathBuf]) -> String {
    let options = Options {
        from: None,
        to: Vec::new(),
        today: matterwall::check::today(),
        workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let archive = Archive::open(against, engine.config.smtp.max_message_size);
    let stop = AtomicBool::new(false);
    let (table, messages) = fires::count(engine, archive, &options, &stop);
    let mut text = format!("\nnames and aliases by messages fired in, of {messages} messages:\n");
    let silent = table.iter().filter(|f| f.messages == 0).count();
    let file = engine.config.dict.sources.clients.display();
    for f in table.iter().filter(|f| f.messages > 0) {
        let what = if f.is_name { "name" } else { "alias" };
        let line = f.line.map(|l| format!(":{l}")).unwrap_or_default();
        text.push_str(&format!(
            "{:>8}  {} {what} {:?}  ({file}{line})  e.g. {}\n",
            f.messages,
            f.client,
            f.entry,
            f.example.as_deref().unwrap_or("")
        ));
    }
    text.push_str(&format!("{silent} names and aliases fired in no message\n"));
    text
}
