//! Policy review before enforcement (issue 17): every message of a mail
//! archive through one policy, or two to compare, with a summary, the
//! differences, JSON lines and an HTML report. It judges with
//! [`crate::check::check`] exactly as the proxy would, and sends nothing.
//!
//! [`archive`] streams the messages of mbox files, Maildirs and `.eml`
//! trees; [`run`] judges them on every core and hands them back in order;
//! [`summary`] adds them up, [`compare`] says how two verdicts differ;
//! [`text`] and [`html`] render the summary; [`fires`] counts the messages
//! each dictionary entry fires in (`dictionaries lint --against`).

pub mod archive;
pub(crate) mod chart;
pub(crate) mod compare;
pub mod fires;
pub mod html;
pub mod run;
pub mod summary;
pub(crate) mod text;

use crate::check::Verdict;
use run::Judged;
use serde::Serialize;
use serde_json::json;

/// One message as a JSON line: its path, envelope and verdict (the shape
/// `check` prints), with `--compare` policy B's verdict and whether it
/// differs; a message that could not be read has `error` instead.
pub fn json_line(j: &Judged) -> String {
    let line = match &j.outcome {
        Err(why) => Line {
            path: &j.label,
            error: Some(why),
            ..Line::default()
        },
        Ok(o) => Line {
            path: &j.label,
            envelope: Some(json!({"from": o.envelope.from, "to": o.envelope.to})),
            verdict: Some(&o.a),
            compare: o.b.as_ref(),
            differs: o.b.as_ref().map(|_| o.difference.is_some()),
            error: None,
        },
    };
    serde_json::to_string(&line).expect("a verdict always encodes")
}

/// A JSON line, fields in this order (path first, for `grep` and `jq`).
#[derive(Default, Serialize)]
struct Line<'a> {
    path: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    envelope: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    verdict: Option<&'a Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    compare: Option<&'a Verdict>,
    #[serde(skip_serializing_if = "Option::is_none")]
    differs: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}
