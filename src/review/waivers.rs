//! Waivers added in the review interface: checked like a `waivers.csv` row,
//! stored (and audited) by the store, and swapped into the live list the
//! act stage reads for every message — so one added takes effect at once.

use crate::act::LiveWaivers;
use crate::config::Config;
use crate::policy::recipients::ExtraWaiver;
use crate::store::{NewWaiver, Store, StoreError, WaiverRecord};
use crate::text::address::{normalise_address, normalise_domain};
use chrono::NaiveDate;
use std::sync::Arc;

/// The stored waivers as the policy reads them (a row that no longer
/// parses is skipped: it cannot authorise anyone).
pub(crate) fn to_live(records: &[WaiverRecord]) -> Vec<ExtraWaiver> {
    records
        .iter()
        .filter_map(|w| {
            Some(ExtraWaiver {
                client_id: w.client_id.clone(),
                recipient: w.recipient.clone(),
                expires: NaiveDate::parse_from_str(&w.expires, "%Y-%m-%d").ok()?,
            })
        })
        .collect()
}

/// Reads the store's waivers into the live list.
pub(crate) fn refresh(store: &dyn Store, live: &LiveWaivers) -> Result<usize, StoreError> {
    let all = to_live(&store.waivers()?);
    let n = all.len();
    live.store(Arc::new(all));
    Ok(n)
}

/// Checks a waiver as typed into the form, against the loaded dictionary.
pub(crate) fn validate(
    cfg: &Config,
    client_id: &str,
    recipient: &str,
    expires: &str,
    reference: &str,
    today: NaiveDate,
) -> Result<NewWaiver, String> {
    let client_id = client_id.trim();
    if !cfg.dict.client_by_id.contains_key(client_id) {
        return Err(format!("unknown client id {client_id:?}"));
    }
    let r = recipient.trim();
    let recipient = if r.contains('@') {
        normalise_address(r)
    } else {
        normalise_domain(r)
    }
    .map_err(|why| format!("recipient {r:?}: {why}"))?;
    let date = NaiveDate::parse_from_str(expires.trim(), "%Y-%m-%d")
        .map_err(|_| "expires: give a date as YYYY-MM-DD".to_string())?;
    if date < today {
        return Err("expires: that date has passed".into());
    }
    let reference = reference.trim();
    if reference.is_empty() || reference.chars().count() > 200 {
        return Err("reference: required, at most 200 characters".into());
    }
    Ok(NewWaiver {
        client_id: client_id.to_string(),
        recipient,
        expires: date.format("%Y-%m-%d").to_string(),
        reference: reference.to_string(),
    })
}
