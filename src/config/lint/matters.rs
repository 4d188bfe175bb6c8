//! Matter numbers shaped like what ordinary mail is full of: a year, a date,
//! a month, a year range, a time of day. The detector matches a number with
//! any separators between its groups, so `2024-05` also matches "2024 05".

use super::Warning;
use crate::config::dictionary::{Dictionaries, MatterIdx};
use chrono::NaiveDate;

pub(crate) fn check(dict: &Dictionaries, out: &mut Vec<Warning>) {
    for m in 0..dict.matters.len() as MatterIdx {
        let number = dict.matters.number(m);
        let Some(shape) = date_shape(number) else {
            continue;
        };
        out.push(Warning {
            file: dict.sources.matters.clone(),
            line: dict.sources.matter_line(m),
            entry: format!("matter \"{number}\""),
            problem: format!("shaped like {shape}, which ordinary mail is full of"),
            fix: "export the number in a longer form mail does not use (with its prefix or client number), if the practice-management system has one".into(),
            class: "date-shape",
        });
    }
}

/// What common shape `number` has, if any.
pub(crate) fn date_shape(number: &str) -> Option<&'static str> {
    let groups: Vec<&str> = number
        .split(|c: char| " -/._:".contains(c))
        .filter(|g| !g.is_empty())
        .collect();
    if groups.is_empty() || !groups.iter().all(|g| g.bytes().all(|b| b.is_ascii_digit())) {
        return None;
    }
    let n: Vec<u32> = groups
        .iter()
        .map(|g| g.parse().unwrap_or(u32::MAX))
        .collect();
    let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    let year = |y: u32| (1900..=2099).contains(&y);
    let month = |m: u32| (1..=12).contains(&m);
    let date = |y: u32, m: u32, d: u32| NaiveDate::from_ymd_opt(y as i32, m, d).is_some();
    let short = |l: usize| l == 1 || l == 2;
    match (&lens[..], &n[..]) {
        ([4], [y]) if year(*y) => Some("a year"),
        ([8], [v])
            if date(v / 10000, v / 100 % 100, v % 100)
                || date(v % 10000, v / 10000 % 100, v / 1000000) =>
        {
            Some("a date")
        }
        ([4, 2, 2], [y, m, d]) if year(*y) && date(*y, *m, *d) => Some("a date"),
        ([a, b, 4], [x, y, z])
            if short(*a) && short(*b) && (date(*z, *y, *x) || date(*z, *x, *y)) =>
        {
            Some("a date")
        }
        ([2, 2, 2], [x, y, z]) if date(2000 + z, *y, *x) || date(2000 + z, *x, *y) => {
            Some("a date")
        }
        ([4, 2], [y, m]) if year(*y) && month(*m) => Some("a month"),
        ([4, 2], [y, next]) if year(*y) && (y + 1) % 100 == *next => Some("a year range"),
        ([a, 4], [m, y]) if short(*a) && month(*m) && year(*y) => Some("a month"),
        ([4, 4], [a, b]) if year(*a) && *a < *b && *b <= a + 10 => Some("a year range"),
        ([a, 2], [h, mi]) if short(*a) && *h <= 23 && *mi <= 59 && number.contains(':') => {
            Some("a time of day")
        }
        _ => None,
    }
}
