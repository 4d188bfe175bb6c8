//! The queue's filters as they arrive in a query string (web page and API
//! alike), validated into a [`HeldQuery`].

use crate::store::{HeldQuery, HeldSort, HeldStatus};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

/// Everything optional and a string: a bad value is reported by
/// [`QueueParams::to_query`], never a bare 422 from the extractor.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct QueueParams {
    pub(crate) status: Option<String>,
    pub(crate) client: Option<String>,
    pub(crate) matter: Option<String>,
    pub(crate) sender: Option<String>,
    pub(crate) rule: Option<String>,
    /// `lt1h`, `lt24h`, `lt7d` (newer than), `gt24h`, `gt7d` (older than).
    pub(crate) age: Option<String>,
    pub(crate) sort: Option<String>,
    /// `asc` or `desc` (default).
    pub(crate) dir: Option<String>,
    pub(crate) page: Option<String>,
    pub(crate) limit: Option<String>,
    pub(crate) offset: Option<String>,
}

/// The age choices, for the filter's select box.
pub(crate) const AGES: &[(&str, &str)] = &[
    ("lt1h", "under 1 hour"),
    ("lt24h", "under 1 day"),
    ("lt7d", "under 1 week"),
    ("gt24h", "over 1 day"),
    ("gt7d", "over 1 week"),
];

fn some(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

fn number(v: &Option<String>, name: &str, default: usize) -> Result<usize, String> {
    match some(v) {
        None => Ok(default),
        Some(s) => s.parse().map_err(|_| format!("{name}: not a number")),
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl QueueParams {
    /// `page_size` is the web page's fixed size; the API passes `None` and
    /// takes `limit`/`offset` (default 50, at most 500).
    pub(crate) fn to_query(
        &self,
        now: DateTime<Utc>,
        page_size: Option<usize>,
    ) -> Result<HeldQuery, String> {
        let status = some(&self.status)
            .map(|s| {
                HeldStatus::parse(&s).ok_or_else(|| {
                    let all: Vec<&str> = HeldStatus::ALL.iter().map(|x| x.as_str()).collect();
                    format!("status {s:?}: expected one of {}", all.join(", "))
                })
            })
            .transpose()?;
        let mut q = HeldQuery {
            status,
            client: some(&self.client),
            matter: some(&self.matter),
            sender: some(&self.sender),
            rule: some(&self.rule),
            ..Default::default()
        };
        match some(&self.age).as_deref() {
            None => {}
            Some("lt1h") => q.since = Some(stamp(now - Duration::hours(1))),
            Some("lt24h") => q.since = Some(stamp(now - Duration::hours(24))),
            Some("lt7d") => q.since = Some(stamp(now - Duration::days(7))),
            Some("gt24h") => q.until = Some(stamp(now - Duration::hours(24))),
            Some("gt7d") => q.until = Some(stamp(now - Duration::days(7))),
            Some(other) => return Err(format!("age {other:?}: not one of the choices")),
        }
        if let Some(s) = some(&self.sort) {
            q.sort = HeldSort::parse(&s).ok_or_else(|| format!("sort {s:?}: unknown column"))?;
        }
        q.ascending = match some(&self.dir).as_deref() {
            None | Some("desc") => false,
            Some("asc") => true,
            Some(other) => return Err(format!("dir {other:?}: expected asc or desc")),
        };
        match page_size {
            Some(size) => {
                let page = number(&self.page, "page", 1)?.max(1);
                q.limit = size;
                q.offset = (page - 1).saturating_mul(size);
            }
            None => {
                q.limit = number(&self.limit, "limit", 50)?.clamp(1, 500);
                q.offset = number(&self.offset, "offset", 0)?;
            }
        }
        Ok(q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_to_query() {
        let now = Utc::now();
        let p = QueueParams {
            client: Some(" C-1 ".into()),
            sender: Some("".into()),
            age: Some("gt24h".into()),
            sort: Some("size".into()),
            dir: Some("asc".into()),
            page: Some("3".into()),
            ..Default::default()
        };
        let q = p.to_query(now, Some(25)).unwrap();
        assert_eq!(q.client.as_deref(), Some("C-1"));
        assert_eq!(q.sender, None);
        assert!(q.until.is_some() && q.since.is_none());
        assert_eq!(
            (q.sort, q.ascending, q.offset, q.limit),
            (HeldSort::Size, true, 50, 25)
        );
        for bad in [
            QueueParams {
                age: Some("1d".into()),
                ..Default::default()
            },
            QueueParams {
                sort: Some("subject; drop".into()),
                ..Default::default()
            },
            QueueParams {
                status: Some("x".into()),
                ..Default::default()
            },
            QueueParams {
                limit: Some("many".into()),
                ..Default::default()
            },
        ] {
            assert!(bad.to_query(now, None).is_err(), "{bad:?}");
        }
    }
}
