//! The engine: one loaded [`Config`] together with what the stages build
//! from it — the detector (names, matter numbers, patterns: `detect`) and the
//! policy (rules, look-alike index: `policy`). Built once per load and shared
//! read-only; a reload builds a new one and swaps the `Arc`, so a message is
//! always judged by one consistent config and its matchers, and a load that
//! fails leaves the running engine untouched.

use crate::config::{Config, ConfigError, Problem};
use crate::detect::{pattern, Detector};
use crate::policy::lookalike::LookalikeIndex;
use crate::policy::rules::{self, Action};
use crate::policy::Policy;
use std::path::Path;

/// A configuration and the matchers built from it.
#[derive(Debug)]
pub struct Engine {
    /// The settings and dictionaries as loaded.
    pub config: Config,
    /// The matchers built from them.
    pub detector: Detector,
    /// The rules and look-alike index built from them.
    pub policy: Policy,
}

impl Engine {
    /// Loads `path` and everything it names, compiles the detectors and
    /// rules, and builds the matchers. Every problem (file, line, reason) is
    /// collected before anything is built.
    pub fn load(path: &Path) -> Result<Engine, ConfigError> {
        let mut compiled = None;
        let config = Config::load_checked(path, |raw, problems| {
            let mut found = Vec::new();
            let patterns = pattern::compile_all(&raw.detectors, &mut found);
            let names: Vec<&str> = patterns.iter().map(|p| p.name.as_str()).collect();
            let rules = rules::compile_all(&raw.policy, &raw.rules, &names, &mut found);
            let delay_external = rules::delay_external(&raw.policy, &mut found);
            for e in &raw.examples {
                if let Err(why) = Action::parse(&e.action) {
                    found.push(format!("[[example]] {:?}: {why}", e.file));
                }
            }
            found.into_iter().for_each(|r| problems.add(r));
            let settings = (delay_external, raw.policy.first_contact_days);
            compiled = Some((patterns, rules, settings));
        })?;
        let (patterns, rules, settings) =
            compiled.expect("load_checked runs the check on every load");
        Engine::build(config, patterns, rules, settings)
            .map_err(|reason| ConfigError::one(Problem::at(path, None, reason)))
    }

    /// Builds the matchers. The look-alike index needs only the domains: it
    /// builds on a second core while the name automaton and the matter index
    /// build on this one (a large firm's load is dominated by these).
    fn build(
        config: Config,
        patterns: Vec<pattern::PatternDetector>,
        rules: Vec<rules::Rule>,
        (delay_external, first_contact_days): (Option<u64>, u32),
    ) -> Result<Engine, String> {
        let min_length = config.detect.lookalike_min_length;
        let (detector, lookalike) = std::thread::scope(|s| {
            let known = config.known_domains();
            let lookalike = s.spawn(move || LookalikeIndex::build(known, min_length));
            let detector = Detector::build(&config.dict, patterns);
            (detector, lookalike.join())
        });
        let detector = detector?;
        let lookalike =
            lookalike.map_err(|_| "building the look-alike index failed".to_string())?;
        Ok(Engine {
            config,
            detector,
            policy: Policy {
                rules,
                lookalike,
                delay_external,
                first_contact_days,
            },
        })
    }
}
