//! Every case of the labelled corpus (`../shared/corpus`) through the built
//! `matterwall check`: the action, the ids that must be reported and the ids
//! that must not. All failures are collected and shown together.

use crate::support;
use serde_json::Value;

#[test]
fn every_corpus_case_gets_its_expected_verdict() {
    let corpus = support::corpus();
    let (_tmp, config) = support::config_with_dictionaries(&corpus);
    let expected = std::fs::read_to_string(corpus.join("expected.jsonl")).unwrap();
    let cases: Vec<Value> = expected
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let count = cases.len();
    // Each case is a `matterwall check` process that spends most of its
    // time loading the dictionaries: two at a time, one per core, in the
    // test that is otherwise the whole suite's longest.
    const WORKERS: usize = 2;
    let mut failures: Vec<(usize, String)> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|w| {
                let (cases, config, corpus) = (&cases, &config, &corpus);
                s.spawn(move || {
                    let mine = cases.iter().enumerate().skip(w).step_by(WORKERS);
                    mine.filter_map(|(i, case)| {
                        let why = run_case(config, corpus, case).err()?;
                        Some((i, format!("{}: {why}", case["file"].as_str().unwrap())))
                    })
                    .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    failures.sort();
    let failures: Vec<String> = failures.into_iter().map(|(_, f)| f).collect();
    assert!(count >= 60, "only {count} corpus cases found");
    assert!(
        failures.is_empty(),
        "{} of {count} corpus cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn run_case(
    config: &std::path::Path,
    corpus: &std::path::Path,
    case: &Value,
) -> Result<(), String> {
    let file = corpus.join("msgs").join(case["file"].as_str().unwrap());
    let mut args = vec![
        "--config".to_string(),
        config.display().to_string(),
        "check".into(),
    ];
    args.extend(["--from".into(), case["from"].as_str().unwrap().to_string()]);
    for to in case["to"].as_array().unwrap() {
        args.extend(["--to".into(), to.as_str().unwrap().to_string()]);
    }
    args.push(file.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = support::matterwall(&args);
    if !out.status.success() {
        return Err(format!(
            "exit {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let verdict: Value =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("not JSON: {e}"))?;
    let ids: Vec<&str> = verdict["matches"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    let mut problems = Vec::new();
    if verdict["action"] != case["action"] {
        problems.push(format!(
            "action {} (rules {}), expected {}",
            verdict["action"], verdict["rules"], case["action"]
        ));
    }
    for id in case["must_match"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
    {
        if !ids.contains(&id) {
            problems.push(format!("{id} not matched"));
        }
    }
    for id in case["must_not_match"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
    {
        if ids.contains(&id) {
            problems.push(format!("{id} matched but must not be"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} [why: {}]",
            problems.join("; "),
            case["why"].as_str().unwrap_or("")
        ))
    }
}
