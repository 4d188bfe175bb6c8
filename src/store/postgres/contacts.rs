//! First-contact pairs in PostgreSQL (see `store::contacts`), on the
//! database's clock so every node ages them alike. Learning is one
//! autocommitted upsert outside the audit writers' lock (it is not part of
//! the chain and must not queue behind it); its rows are sorted, so two
//! nodes learning the same pairs lock them in one order. A lookup is one
//! round trip: both senders and every domain against the primary key.

use super::super::contacts::{self, Contacts, KnownContacts, FIRM};
use super::super::StoreError;
use super::{PgStore, NOW};
use std::time::Duration;

/// The time `$n` seconds before now on the database's clock, as the store
/// writes times.
fn ago(n: usize) -> String {
    format!(
        "to_char((clock_timestamp() - make_interval(secs => ${n}::float8)) AT TIME ZONE 'UTC', \
         'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"
    )
}

impl Contacts for PgStore {
    fn learn_contacts(&self, sender: &str, domains: &[String]) -> Result<(), StoreError> {
        if !contacts::learnable(sender) || domains.is_empty() {
            return Ok(());
        }
        let (senders, domains): (Vec<String>, Vec<String>) =
            contacts::rows(sender, domains).into_iter().unzip();
        let sql = format!(
            "INSERT INTO contacts (sender, domain, last_seen)
             SELECT s, d, {NOW} FROM unnest($1::text[], $2::text[]) AS t (s, d)
             ON CONFLICT (sender, domain) DO UPDATE SET last_seen = excluded.last_seen"
        );
        self.with(|c| {
            c.execute(&sql, &[&senders, &domains])?;
            Ok(())
        })
    }

    fn known_contacts(
        &self,
        sender: &str,
        domains: &[String],
        max_age: Duration,
    ) -> Result<KnownContacts, StoreError> {
        let mut whos = vec![FIRM.to_string()];
        if contacts::learnable(sender) {
            whos.push(sender.to_string());
        }
        let sql = format!(
            "SELECT sender, domain FROM contacts
             WHERE sender = ANY($1) AND domain = ANY($2) AND last_seen > {}",
            ago(3)
        );
        let secs = max_age.as_secs_f64();
        let rows = self.with(|c| Ok(c.query(&sql, &[&whos, &domains, &secs])?))?;
        Ok(contacts::known(rows.iter().map(|r| (r.get(0), r.get(1)))))
    }

    fn prune_contacts(&self, max_age: Duration) -> Result<u64, StoreError> {
        let sql = format!("DELETE FROM contacts WHERE last_seen <= {}", ago(1));
        let secs = max_age.as_secs_f64();
        self.with(|c| Ok(c.execute(&sql, &[&secs])?))
    }
}
