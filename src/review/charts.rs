//! Charts as inline SVG written on the server (issue #18's dashboard): no
//! script, no chart library, nothing the strict CSP would have to allow.
//! Colours come from classes in the one stylesheet (an inline `style`
//! attribute would be refused by `style-src 'self'`); exact numbers are in
//! each shape's `<title>`, which a browser shows on hover without script.
//!
//! Every label (rule names, client names, reviewers) is config or user
//! data and goes through [`esc`]; numbers are formatted here. The output
//! is inserted unescaped (`|safe`) by the template, so this module is the
//! one place that must get escaping right, and its tests say so.

use std::fmt::Write;

/// Text made safe for SVG/XML text and attribute values: html-escape (the
/// crate the notices already use) escapes the markup characters; control
/// characters, not allowed in XML 1.0 text, become spaces first.
pub(crate) fn esc(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    html_escape::encode_safe(&clean).into_owned()
}

/// At most `n` characters, with an ellipsis when cut.
fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_string();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// How many characters of a row's label fit beside its note (about 60
/// at this font size across the chart's width, with a gap).
fn label_room(note: &str) -> usize {
    56usize.saturating_sub(note.chars().count().min(32)).max(12)
}

/// The smallest 1, 2 or 5 × 10^k at or above `n` (at least 1): a round
/// top for an axis.
fn nice_max(n: u64) -> u64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if step * m >= n {
                return step * m;
            }
        }
        step *= 10;
    }
}

fn open(out: &mut String, id: &str, w: u32, h: u32, title: &str) {
    let id = esc(id);
    let _ = write!(
        out,
        "<svg class=\"chart\" id=\"{id}\" viewBox=\"0 0 {w} {h}\" role=\"img\" \
         aria-labelledby=\"{id}-t\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"{id}-t\">{}</title>",
        esc(title)
    );
}

/// One series of a column chart: its name and its colour class.
pub(crate) struct Series<'a> {
    pub(crate) name: &'a str,
    pub(crate) class: &'static str,
}

/// A stacked column chart: one column per day (`days`, `YYYY-MM-DD`), the
/// values of `matrix[day][series]` stacked in `series` order. The x axis
/// names every seventh day and the last; the y axis its top and middle.
pub(crate) fn columns(
    id: &str,
    title: &str,
    days: &[String],
    series: &[Series<'_>],
    matrix: &[Vec<u64>],
) -> String {
    const W: f64 = 480.0;
    const H: f64 = 190.0;
    const LEFT: f64 = 30.0;
    const BOTTOM: f64 = 24.0;
    const TOP: f64 = 8.0;
    let mut out = String::new();
    open(&mut out, id, W as u32, H as u32, title);
    let totals: Vec<u64> = matrix.iter().map(|d| d.iter().sum()).collect();
    let top = nice_max(totals.iter().copied().max().unwrap_or(0));
    let plot_h = H - BOTTOM - TOP;
    let col = (W - LEFT - 4.0) / days.len().max(1) as f64;
    let y = |v: u64| TOP + plot_h - plot_h * v as f64 / top as f64;
    for tick in [0, top / 2, top] {
        let ty = y(tick);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{LEFT}\" x2=\"{W}\" y1=\"{ty:.1}\" y2=\"{ty:.1}\"/>\
             <text class=\"axis\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{tick}</text>",
            LEFT - 4.0,
            ty + 4.0
        );
    }
    for (d, day) in days.iter().enumerate() {
        let x = LEFT + col * d as f64 + col * 0.14;
        let mut base = 0;
        for (s, ser) in series.iter().enumerate() {
            let v = matrix.get(d).and_then(|r| r.get(s)).copied().unwrap_or(0);
            if v == 0 {
                continue;
            }
            let (y1, y0) = (y(base + v), y(base));
            let _ = write!(
                out,
                "<rect class=\"{}\" x=\"{x:.1}\" y=\"{y1:.1}\" width=\"{:.1}\" height=\"{:.1}\">\
                 <title>{}: {} {v}</title></rect>",
                ser.class,
                col * 0.72,
                (y0 - y1).max(0.5),
                esc(day),
                esc(ser.name),
            );
            base += v;
        }
        // Every seventh day, and the last unless it would touch the one before.
        let last = d + 1 == days.len();
        if (d % 7 == 0 && d + 4 < days.len()) || last {
            let label = day.get(5..).unwrap_or(day);
            let _ = write!(
                out,
                "<text class=\"axis\" x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                x + col * 0.36,
                H - 4.0,
                esc(label)
            );
        }
    }
    if totals.iter().all(|t| *t == 0) {
        let _ = write!(
            out,
            "<text class=\"none\" x=\"{}\" y=\"{}\" text-anchor=\"middle\">No holds in these days</text>",
            W / 2.0,
            H / 2.0
        );
    }
    out.push_str("</svg>");
    out
}

/// One row of a bar chart.
pub(crate) struct Bar {
    /// What the row is (a rule, a client, a reviewer).
    pub(crate) label: String,
    /// The bar's length, on the chart's common scale.
    pub(crate) value: f64,
    /// A lighter bar behind it (the 90th percentile behind the median; the
    /// deadline behind an age), on the same scale.
    pub(crate) back: Option<f64>,
    /// The numbers, written at the row's right.
    pub(crate) note: String,
    /// The bar's colour class.
    pub(crate) class: &'static str,
}

/// Horizontal bars, one row each: the label above its bar, the note at
/// the right; all on one scale (the largest value or back).
pub(crate) fn bars(id: &str, title: &str, rows: &[Bar], empty: &str) -> String {
    const W: f64 = 360.0;
    const ROW: f64 = 32.0;
    let h = (ROW * rows.len().max(1) as f64 + 4.0).round();
    let mut out = String::new();
    open(&mut out, id, W as u32, h as u32, title);
    let max = rows
        .iter()
        .flat_map(|r| [r.value, r.back.unwrap_or(0.0)])
        .fold(0.0_f64, f64::max)
        .max(f64::MIN_POSITIVE);
    let len = |v: f64| (W * v / max).clamp(0.0, W);
    for (i, r) in rows.iter().enumerate() {
        let top = ROW * i as f64;
        let tip = format!("{}: {}", r.label, r.note);
        let _ = write!(
            out,
            "<g><title>{}</title>\
             <text class=\"label\" x=\"0\" y=\"{:.1}\">{}</text>\
             <text class=\"note\" x=\"{W}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>\
             <rect class=\"track\" x=\"0\" y=\"{:.1}\" width=\"{W}\" height=\"10\"/>",
            esc(&tip),
            top + 12.0,
            esc(&clip(&r.label, label_room(&r.note))),
            top + 12.0,
            esc(&clip(&r.note, 32)),
            top + 17.0,
        );
        if let Some(back) = r.back {
            let _ = write!(
                out,
                "<rect class=\"back\" x=\"0\" y=\"{:.1}\" width=\"{:.1}\" height=\"10\"/>",
                top + 17.0,
                len(back)
            );
        }
        let _ = write!(
            out,
            "<rect class=\"{}\" x=\"0\" y=\"{:.1}\" width=\"{:.1}\" height=\"10\"/></g>",
            r.class,
            top + 17.0,
            len(r.value).max(if r.value > 0.0 { 1.5 } else { 0.0 })
        );
    }
    if rows.is_empty() {
        let _ = write!(
            out,
            "<text class=\"none\" x=\"{}\" y=\"22\" text-anchor=\"middle\">{}</text>",
            W / 2.0,
            esc(empty)
        );
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "<script>alert(1)</script>\"' onload=\"x\" &amp;";

    /// Whatever a rule or client is called, the SVG has no markup of it:
    /// no element, no attribute break-out, no entity left raw.
    #[test]
    fn labels_are_escaped_everywhere() {
        let days = vec!["2026-03-01".to_string(), HOSTILE.to_string()];
        let series = [Series {
            name: HOSTILE,
            class: "c0",
        }];
        let col = columns(HOSTILE, HOSTILE, &days, &series, &[vec![1], vec![2]]);
        let bar = bars(
            "b",
            HOSTILE,
            &[Bar {
                label: HOSTILE.into(),
                value: 1.0,
                back: Some(2.0),
                note: HOSTILE.into(),
                class: "c1",
            }],
            HOSTILE,
        );
        for svg in [col, bar] {
            assert!(!svg.contains("<script"), "{svg}");
            assert!(!svg.contains("\" onload"), "{svg}");
            assert!(svg.contains("&amp;amp;"), "{svg}");
            assert!(svg.contains("&lt;script&gt;"), "{svg}");
            assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
        }
    }

    #[test]
    fn escape_and_helpers() {
        assert_eq!(esc("a&b<c>\"d'\u{7}"), "a&amp;b&lt;c&gt;&quot;d&#x27; ");
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
        let tops: Vec<u64> = [0, 1, 3, 7, 10, 11, 42, 180].map(nice_max).to_vec();
        assert_eq!(tops, [1, 1, 5, 10, 10, 20, 50, 200]);
    }

    #[test]
    fn stacks_sum_to_the_day() {
        let days = vec!["2026-03-01".to_string()];
        let series = [
            Series {
                name: "a",
                class: "c0",
            },
            Series {
                name: "b",
                class: "c1",
            },
        ];
        let svg = columns("d", "t", &days, &series, &[vec![3, 2]]);
        assert!(svg.contains("<title>2026-03-01: a 3</title>"), "{svg}");
        assert!(svg.contains("<title>2026-03-01: b 2</title>"), "{svg}");
        // Top of the axis: 5, the day's total.
        assert!(svg.contains(">5</text>"), "{svg}");
        let none = columns("d", "t", &days, &series, &[vec![0, 0]]);
        assert!(none.contains("No holds"), "{none}");
        let empty = bars("b", "t", &[], "nobody yet");
        assert!(empty.contains("nobody yet"));
    }
}
