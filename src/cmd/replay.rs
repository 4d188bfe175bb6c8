//! `matterwall replay`: an archive through the policy (and a second one with
//! `--compare`), sending nothing. The glue: loading the engines, the
//! progress line on a terminal, Ctrl-C, and where each output goes.

use super::load_engine;
use matterwall::replay::archive::Archive;
use matterwall::replay::run::{self, Options, Policies};
use matterwall::replay::summary::Summary;
use matterwall::replay::{html, json_line};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the command line asked for.
pub(crate) struct Args {
    pub(crate) compare: Option<PathBuf>,
    pub(crate) from: Option<String>,
    pub(crate) to: Vec<String>,
    pub(crate) json: bool,
    pub(crate) html: Option<PathBuf>,
    pub(crate) paths: Vec<PathBuf>,
}

pub(crate) fn run(config: &Path, args: Args) -> Result<ExitCode, String> {
    let a = load_engine(config)?;
    let b = args.compare.as_deref().map(load_engine).transpose()?;
    let options = Options {
        from: args.from.clone(),
        to: args.to.clone(),
        today: matterwall::check::today(),
        workers: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let stop = interrupt_flag();
    let max = a.config.smtp.max_message_size;
    let archive = Archive::open(&args.paths, max);
    let mut progress = Progress::new(&args.paths);
    let mut summary = Summary::new(b.is_some());
    let mut out = std::io::stdout().lock();
    let mut write_failed = None;
    let started = Instant::now();
    let policies = Policies {
        a: &a,
        b: b.as_ref(),
    };
    run::run(policies, archive, &options, &stop, |judged| {
        summary.add(&judged);
        if args.json && write_failed.is_none() {
            write_failed = writeln!(out, "{}", json_line(&judged)).err();
        }
        progress.tick(&summary, started);
    });
    progress.clear();
    summary.elapsed = started.elapsed();
    summary.interrupted = stop.load(Ordering::Relaxed);
    finish(&args, &summary, out, write_failed)
}

/// Prints the summary (on stderr when stdout carries JSON lines) and
/// writes the HTML report.
fn finish(
    args: &Args,
    summary: &Summary,
    mut out: std::io::StdoutLock,
    write_failed: Option<std::io::Error>,
) -> Result<ExitCode, String> {
    if let Some(e) = write_failed.filter(|e| e.kind() != std::io::ErrorKind::BrokenPipe) {
        return Err(format!("cannot write the results: {e}"));
    }
    let printed = if args.json {
        summary.write_text(&mut std::io::stderr().lock())
    } else {
        summary.write_text(&mut out)
    };
    match printed.and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(format!("cannot write the summary: {e}"))
        }
        _ => {}
    }
    if let Some(path) = &args.html {
        std::fs::write(path, html::report(summary))
            .map_err(|e| format!("{}: cannot write the report: {e}", path.display()))?;
    }
    Ok(if summary.interrupted {
        ExitCode::from(130)
    } else {
        ExitCode::SUCCESS
    })
}

/// Set by the first Ctrl-C (the run stops reading and the summary so far
/// is printed); a second one ends the process at once.
fn interrupt_flag() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        rt.block_on(async {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::Relaxed);
            }
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        });
    });
    stop
}

/// One line on stderr, redrawn a few times a second, only on a terminal:
/// messages, bytes of the total, rates and the time left.
struct Progress {
    total: Option<u64>,
    last: Instant,
}

impl Progress {
    fn new(paths: &[PathBuf]) -> Progress {
        let total = std::io::stderr()
            .is_terminal()
            .then(|| Archive::total_bytes(paths));
        Progress {
            total,
            last: Instant::now(),
        }
    }

    fn tick(&mut self, s: &Summary, started: Instant) {
        let Some(total) = self.total else { return };
        if self.last.elapsed() < Duration::from_millis(200) {
            return;
        }
        self.last = Instant::now();
        let secs = started.elapsed().as_secs_f64().max(1e-3);
        let rate = s.bytes as f64 / secs;
        let left = total.saturating_sub(s.bytes) as f64 / rate.max(1.0);
        let pct = 100.0 * s.bytes as f64 / total.max(1) as f64;
        eprint!(
            "\r{:>9} msgs {pct:>5.1}%  {:>7.0} msgs/s {:>6.1} MB/s  ETA {:>4.0}s ",
            s.messages + s.unreadable,
            (s.messages + s.unreadable) as f64 / secs,
            rate / 1e6,
            left
        );
    }

    fn clear(&self) {
        if self.total.is_some() {
            eprint!("\r{:80}\r", "");
        }
    }
}
