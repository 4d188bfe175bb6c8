//! The replay report as one self-contained HTML file: no script, no fetch,
//! a Content-Security-Policy that forbids both, the summary tables, inline
//! SVG charts ([`super::chart`]) and, with `--compare`, the differences.
//!
//! Everything that came from an archive (paths, subjects, matched words) is
//! hostile input, as in the review interface: every value goes through
//! [`esc`], so a subject reading `<script>` is text on the page.

use super::chart;
use super::summary::{Summary, Tally};
use super::text::TOP_MATCHES;
use html_escape::encode_text;
use std::fmt::Write;

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}\
h1{font-size:22px}h2{font-size:18px;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ddd;padding:3px 8px;\
text-align:left;vertical-align:top}th{background:#f3f3f3}td.n{text-align:right}\
svg text{font:12px system-ui,sans-serif;fill:#222}svg rect{fill:#3b6ea8}\
.pass{color:#2a7a2a}.hold,.reject{color:#b02a2a}.encrypt{color:#8a6d00}\
.warn{background:#fff3cd;padding:.5em}code{font-size:12px}";

/// Escapes text for an HTML element's content.
fn esc(s: &str) -> String {
    encode_text(s).into_owned()
}

/// The whole report.
pub fn report(s: &Summary) -> String {
    let mut h = String::with_capacity(64 * 1024);
    h.push_str(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:\">\
         <title>matterwall replay report</title><style>",
    );
    h.push_str(STYLE);
    h.push_str("</style></head><body><h1>matterwall replay report</h1>");
    overview(&mut h, s);
    match &s.b {
        None => tally(&mut h, "", &s.a),
        Some(b) => {
            // What a trial is for comes first: what the change changes.
            differences(&mut h, s);
            tally(&mut h, "Policy A: ", &s.a);
            tally(&mut h, "Policy B: ", b);
        }
    }
    unreadable(&mut h, s);
    h.push_str("</body></html>\n");
    h
}

fn overview(h: &mut String, s: &Summary) {
    if s.interrupted {
        h.push_str("<p class=\"warn\">Interrupted: the counts cover the messages read so far.</p>");
    }
    let _ = write!(
        h,
        "<table><tr><th>messages</th><td class=\"n\">{}</td></tr>\
         <tr><th>size</th><td class=\"n\">{:.1} MB</td></tr>\
         <tr><th>not scanned</th><td class=\"n\">{}</td></tr>\
         <tr><th>time</th><td class=\"n\">{:.1} s</td></tr>\
         <tr><th>rate</th><td class=\"n\">{:.0} messages/s, {:.1} MB/s</td></tr></table>",
        s.messages,
        s.bytes as f64 / 1e6,
        s.unreadable,
        s.elapsed.as_secs_f64(),
        s.messages_per_second(),
        s.megabytes_per_second()
    );
}

fn tally(h: &mut String, policy: &str, t: &Tally) {
    let _ = write!(h, "<h2>{}Messages by action</h2><table>", esc(policy));
    h.push_str("<tr><th>action</th><th>messages</th></tr>");
    for (action, n) in &t.by_action {
        let a = action.as_str();
        let _ = write!(
            h,
            "<tr><td class=\"{a}\">{a}</td><td class=\"n\">{n}</td></tr>"
        );
    }
    h.push_str("</table>");
    let _ = write!(h, "<h2>{}Verdicts by rule</h2>", esc(policy));
    let rules: Vec<(String, u64)> = t
        .rules_by_count()
        .into_iter()
        .map(|(r, n)| (r.clone(), n))
        .collect();
    if rules.is_empty() {
        h.push_str("<p>No rule fired.</p>");
    }
    h.push_str(&chart::bars("messages by rule", &rules));
    let top = t.top_matches(TOP_MATCHES);
    let aliases: Vec<(String, u64)> = top
        .iter()
        .filter(|(k, _)| k.kind == "client")
        .map(|(k, seen)| (format!("{} “{}”", k.id, k.text), seen.count))
        .collect();
    let _ = write!(h, "<h2>{}Top firing names and aliases</h2>", esc(policy));
    if aliases.is_empty() {
        h.push_str("<p>No client name or alias fired.</p>");
    }
    h.push_str(&chart::bars("top firing aliases", &aliases));
    let _ = write!(h, "<h2>{}Most frequent matches</h2><table>", esc(policy));
    h.push_str("<tr><th>kind</th><th>id</th><th>text</th><th>messages</th><th>example</th></tr>");
    for (k, seen) in top {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td><code>{}</code></td></tr>",
            esc(&k.kind),
            esc(&k.id),
            esc(&k.text),
            seen.count,
            esc(&seen.example)
        );
    }
    h.push_str("</table>");
    if !t.uninspectable.is_empty() {
        let _ = write!(h, "<h2>{}Uninspectable</h2><table>", esc(policy));
        h.push_str("<tr><th>reason</th><th>messages</th><th>example</th></tr>");
        for (reason, seen) in &t.uninspectable {
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"n\">{}</td><td><code>{}</code></td></tr>",
                esc(reason),
                seen.count,
                esc(&seen.example)
            );
        }
        h.push_str("</table>");
    }
}

fn differences(h: &mut String, s: &Summary) {
    let _ = write!(
        h,
        "<h2>Differences: {} of {} messages</h2><table><tr><th>A</th><th>B</th><th>messages</th></tr>",
        s.differing, s.messages
    );
    for ((a, b), n) in &s.transitions {
        let (a, b) = (a.as_str(), b.as_str());
        let _ = write!(
            h,
            "<tr><td class=\"{a}\">{a}</td><td class=\"{b}\">{b}</td><td class=\"n\">{n}</td></tr>"
        );
    }
    h.push_str("</table><table><tr><th>message</th><th>subject</th><th>A</th><th>B</th><th>what made the difference</th></tr>");
    for (label, d) in &s.differences {
        let mut why = Vec::new();
        why.extend(d.only_a.iter().map(|m| format!("only A: {m}")));
        why.extend(d.only_b.iter().map(|m| format!("only B: {m}")));
        why.extend(
            d.recipients
                .iter()
                .map(|(r, x, y)| format!("recipient {r}: {x} → {y}")),
        );
        let why: Vec<String> = why.iter().map(|w| esc(w)).collect();
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"{}\">{}</td><td class=\"{}\">{}</td><td>{}</td></tr>",
            esc(label),
            esc(&d.subject),
            d.a.action.as_str(),
            esc(&d.a.describe()),
            d.b.action.as_str(),
            esc(&d.b.describe()),
            why.join("<br>")
        );
    }
    h.push_str("</table>");
    let kept = s.differences.len() as u64;
    if s.differing > kept {
        let _ = write!(h, "<p>… and {} more (see --json).</p>", s.differing - kept);
    }
}

fn unreadable(h: &mut String, s: &Summary) {
    if s.unreadable == 0 {
        return;
    }
    let _ = write!(h, "<h2>Not scanned: {}</h2><table>", s.unreadable);
    for (label, why) in &s.unreadable_examples {
        let _ = write!(
            h,
            "<tr><td><code>{}</code></td><td>{}</td></tr>",
            esc(label),
            esc(why)
        );
    }
    h.push_str("</table>");
}
