//! `matterwall reload`: the same as `kill -HUP` on the running server, but
//! it checks the new configuration first and says what is wrong, so an
//! administrator never has to dig the refusal out of the server's log.
//! The server finds its PID file at [`pid_file`], written by `serve`.

use anyhow::{bail, Context, Result};
use matterwall::config::Config;
use matterwall::engine::Engine;
use std::path::{Path, PathBuf};

/// Where `serve` writes its PID: beside the embedded store's database, or
/// in the config folder for any other store.
pub(crate) fn pid_file(cfg: &Config) -> PathBuf {
    match cfg.store.url.strip_prefix("sqlite://") {
        Some(db) if !db.is_empty() => cfg.dir.join(db).with_file_name("matterwall.pid"),
        _ => cfg.dir.join("matterwall.pid"),
    }
}

/// Signals the server named by the engine's PID file to reload its files.
pub(crate) fn run(engine: &Engine) -> Result<()> {
    let cfg = &engine.config;
    let path = pid_file(cfg);
    let pid = read_pid(&path)?;
    if !is_matterwall(pid) {
        bail!(
            "{}: process {pid} is not a running matterwall (a stale PID file?)",
            path.display()
        );
    }
    let target = rustix::process::Pid::from_raw(pid).context("not a process id")?;
    rustix::process::kill_process(target, rustix::process::Signal::HUP)
        .with_context(|| format!("cannot signal process {pid}"))?;
    println!(
        "configuration is valid ({} clients, {} matters, {} rules); reload signalled to process {pid}",
        cfg.dict.clients.len(),
        cfg.dict.matters.len(),
        engine.policy.rules.len()
    );
    Ok(())
}

fn read_pid(path: &Path) -> Result<i32> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "{}: cannot read the PID file (is `matterwall serve` running?)",
            path.display()
        )
    })?;
    text.trim()
        .parse()
        .ok()
        .filter(|&p: &i32| p > 0)
        .with_context(|| format!("{}: not a process id: {:?}", path.display(), text.trim()))
}

/// A PID file can outlive its server, and the PID be reused by another
/// program: only signal a process whose command line names matterwall.
fn is_matterwall(pid: i32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| {
            let argv0 = c.split(|&b| b == 0).next().unwrap_or_default();
            String::from_utf8_lossy(argv0).contains("matterwall")
        })
        .unwrap_or(false)
}

/// Writes this process's PID; removed again by the returned guard.
pub(crate) struct PidFile(PathBuf);

impl PidFile {
    pub(crate) fn create(cfg: &Config) -> Result<PidFile> {
        let path = pid_file(cfg);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
        }
        std::fs::write(&path, format!("{}\n", std::process::id()))
            .with_context(|| format!("cannot write {}", path.display()))?;
        Ok(PidFile(path))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
