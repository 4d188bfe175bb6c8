//! `matterwall rules validate` and `rules test`: load everything and report
//! every problem; run the example messages the rules file declares.

use super::load_engine;
use matterwall::check::{self, Envelope};
use matterwall::engine::Engine;
use matterwall::policy::rules::Action;
use std::path::Path;
use std::process::ExitCode;

pub(crate) fn validate(config: &Path) -> Result<ExitCode, String> {
    match Engine::load(config) {
        Ok(engine) => {
            let cfg = &engine.config;
            println!(
                "{}: ok ({} clients, {} matters, {} waivers, {} keys, {} rules)",
                config.display(),
                cfg.dict.clients.len(),
                cfg.dict.matters.len(),
                cfg.dict.waivers.len(),
                cfg.certs.len(),
                engine.policy.rules.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            for p in &e.problems {
                eprintln!("{p}");
            }
            Err(format!(
                "{} problem(s); configuration refused",
                e.problems.len()
            ))
        }
    }
}

pub(crate) fn test(config: &Path) -> Result<ExitCode, String> {
    let engine = load_engine(config)?;
    let cfg = &engine.config;
    if cfg.examples.is_empty() {
        return Err(format!(
            "{}: declares no [[example]] messages",
            config.display()
        ));
    }
    let mut failed = 0;
    for ex in &cfg.examples {
        let raw = super::check::read_message(&ex.file)?;
        let envelope = Envelope::or_headers(&raw, ex.from.clone(), ex.to.clone());
        let v = check::check(&engine, &envelope, &raw, check::today());
        let rules_ok = ex.rules.as_ref().is_none_or(|want| *want == v.rule_names());
        // Checked by the load: every example names a known action.
        let want = Action::parse(&ex.action)?;
        let ok = v.action == want && rules_ok;
        failed += usize::from(!ok);
        println!(
            "{} {}: expected {}, got {} ({})",
            if ok { "ok  " } else { "FAIL" },
            ex.file.display(),
            ex.action,
            v.action.as_str(),
            v.rule_names().join(", ")
        );
    }
    println!("{} passed, {} failed", cfg.examples.len() - failed, failed);
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
