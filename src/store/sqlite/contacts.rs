//! First-contact pairs in SQLite (see `store::contacts`): learning goes
//! through the group-commit writer, so it shares the fsync of the holds
//! and audit entries written beside it; lookups read the second
//! connection, one primary-key seek per pair.

use super::super::contacts::{self, Contacts, KnownContacts, FIRM};
use super::super::StoreError;
use super::{now, SqliteStore};
use rusqlite::params;
use std::time::Duration;

/// The time `max_age` before now, as the store writes times.
fn cutoff(max_age: Duration) -> String {
    let age = chrono::Duration::from_std(max_age).unwrap_or(chrono::Duration::MAX);
    let at = chrono::Utc::now()
        .checked_sub_signed(age)
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Contacts for SqliteStore {
    fn learn_contacts(&self, sender: &str, domains: &[String]) -> Result<(), StoreError> {
        if !contacts::learnable(sender) || domains.is_empty() {
            return Ok(());
        }
        let rows = contacts::rows(sender, domains);
        self.write(|c| {
            let at = now();
            let mut upsert = c.prepare_cached(
                "INSERT INTO contacts (sender, domain, last_seen) VALUES (?1, ?2, ?3)
                 ON CONFLICT (sender, domain) DO UPDATE SET last_seen = excluded.last_seen",
            )?;
            for (s, d) in &rows {
                upsert.execute(params![s, d, at])?;
            }
            Ok(())
        })
    }

    fn known_contacts(
        &self,
        sender: &str,
        domains: &[String],
        max_age: Duration,
    ) -> Result<KnownContacts, StoreError> {
        let since = cutoff(max_age);
        let conn = self.conn();
        let mut seek = conn.prepare_cached(
            "SELECT 1 FROM contacts WHERE sender = ?1 AND domain = ?2 AND last_seen > ?3",
        )?;
        let mut found = Vec::new();
        let whos: &[&str] = if contacts::learnable(sender) {
            &[sender, FIRM]
        } else {
            &[FIRM]
        };
        for d in domains {
            for who in whos {
                if seek.exists(params![who, d, since])? {
                    found.push((who.to_string(), d.clone()));
                }
            }
        }
        Ok(contacts::known(found))
    }

    fn prune_contacts(&self, max_age: Duration) -> Result<u64, StoreError> {
        let before = cutoff(max_age);
        let n = self.write(|c| {
            Ok(c.execute(
                "DELETE FROM contacts WHERE last_seen <= ?1",
                params![before],
            )?)
        })?;
        Ok(n as u64)
    }
}
