//! Horizontal bar charts as inline SVG, for the HTML report: a few rects and
//! labels need no plotting crate. Every label is escaped here.

use html_escape::encode_text;
use std::fmt::Write;

const WIDTH: usize = 760;
const LABEL: usize = 300;
const ROW: usize = 22;

/// A chart of `bars` (label, value), largest first as given, titled `title`.
pub(crate) fn bars(title: &str, bars: &[(String, u64)]) -> String {
    if bars.is_empty() {
        return String::new();
    }
    let max = bars.iter().map(|b| b.1).max().unwrap_or(1).max(1);
    let height = ROW * bars.len() + 8;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{height}\" \
         role=\"img\" aria-label=\"{}\">",
        html_escape::encode_double_quoted_attribute(title)
    );
    let span = (WIDTH - LABEL - 70) as f64;
    for (i, (label, value)) in bars.iter().enumerate() {
        let y = i * ROW + 4;
        let w = ((*value as f64 / max as f64) * span).max(1.0);
        let _ = write!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{LABEL}\" y=\"{y}\" width=\"{w:.1}\" height=\"{}\" rx=\"2\"/>\
             <text x=\"{:.1}\" y=\"{}\">{value}</text>",
            LABEL - 8,
            y + 14,
            encode_text(&shorten(label, 44)),
            ROW - 6,
            LABEL as f64 + w + 6.0,
            y + 14,
        );
    }
    svg.push_str("</svg>");
    svg
}

/// `text` cut to `max` characters with an ellipsis (labels must fit).
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut s: String = text.chars().take(max - 1).collect();
    s.push('…');
    s
}
