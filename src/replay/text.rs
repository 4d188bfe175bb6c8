//! The replay summary as plain text, for a terminal or a file.

use super::summary::{Summary, Tally};
use std::io::{self, Write};

/// How many of the most frequent matches are listed.
pub(crate) const TOP_MATCHES: usize = 20;
/// How many differences are printed (all are in the JSON lines and counted).
const PRINTED_DIFFERENCES: usize = 200;

pub(crate) fn write(s: &Summary, out: &mut dyn Write) -> io::Result<()> {
    let state = if s.interrupted { " (interrupted)" } else { "" };
    writeln!(
        out,
        "replayed {} messages, {:.1} MB in {:.1} s: {:.0} msgs/s, {:.1} MB/s{state}",
        s.messages,
        s.bytes as f64 / 1e6,
        s.elapsed.as_secs_f64(),
        s.messages_per_second(),
        s.megabytes_per_second()
    )?;
    match &s.b {
        None => tally(out, "", &s.a)?,
        Some(b) => {
            tally(out, "policy A: ", &s.a)?;
            tally(out, "policy B: ", b)?;
        }
    }
    if s.unreadable > 0 {
        writeln!(out, "\nnot scanned: {} messages", s.unreadable)?;
        for (label, why) in &s.unreadable_examples {
            writeln!(out, "  {label}: {why}")?;
        }
    }
    if s.b.is_some() {
        differences(out, s)?;
    }
    Ok(())
}

fn tally(out: &mut dyn Write, policy: &str, t: &Tally) -> io::Result<()> {
    writeln!(out, "\n{policy}messages by action")?;
    for (action, n) in &t.by_action {
        writeln!(out, "  {:<8} {n:>8}", action.as_str())?;
    }
    writeln!(out, "{policy}messages by rule")?;
    for (rule, n) in t.rules_by_count() {
        writeln!(out, "  {rule:<40} {n:>8}")?;
    }
    writeln!(out, "{policy}most frequent matches (messages, one example)")?;
    for (k, seen) in t.top_matches(TOP_MATCHES) {
        let what = format!("{} {} {:?}", k.kind, k.id, k.text);
        writeln!(out, "  {what:<50} {:>8}  {}", seen.count, seen.example)?;
    }
    if !t.uninspectable.is_empty() {
        writeln!(out, "{policy}uninspectable (messages, one example)")?;
        for (reason, seen) in &t.uninspectable {
            writeln!(out, "  {reason:<50} {:>8}  {}", seen.count, seen.example)?;
        }
    }
    Ok(())
}

fn differences(out: &mut dyn Write, s: &Summary) -> io::Result<()> {
    writeln!(
        out,
        "\ndiffering verdicts: {} of {} messages",
        s.differing, s.messages
    )?;
    for ((a, b), n) in &s.transitions {
        writeln!(out, "  {:<8} -> {:<8} {n:>8}", a.as_str(), b.as_str())?;
    }
    for (label, d) in s.differences.iter().take(PRINTED_DIFFERENCES) {
        writeln!(out, "\n{label}")?;
        writeln!(out, "  subject: {:?}", d.subject)?;
        writeln!(out, "  {} -> {}", d.a.describe(), d.b.describe())?;
        for m in &d.only_a {
            writeln!(out, "  only A: {m}")?;
        }
        for m in &d.only_b {
            writeln!(out, "  only B: {m}")?;
        }
        for (addr, x, y) in &d.recipients {
            writeln!(out, "  recipient {addr}: {x} -> {y}")?;
        }
    }
    let shown = s.differences.len().min(PRINTED_DIFFERENCES) as u64;
    if s.differing > shown {
        writeln!(out, "\n… and {} more (see --json)", s.differing - shown)?;
    }
    Ok(())
}
