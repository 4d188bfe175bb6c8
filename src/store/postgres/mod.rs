//! The shared store (issue #13): several nodes on one PostgreSQL database,
//! with the embedded store's behaviour. Every write that appends to the
//! audit trail first takes a transaction-scoped advisory lock and then the
//! head row `FOR UPDATE`, so appends from all nodes are serialised on the
//! head and the chain stays one; status changes are UPDATEs guarded by the
//! old status, so of two nodes releasing one message, one wins and the
//! other gets `WrongStatus`.
//!
//! Text columns hold exactly what the SQLite store holds (times as RFC 3339
//! strings, lists as JSON text), so sealed content's associated data and
//! the chain's hashes are the same on both, and `store migrate` copies rows
//! as they are. Times come from the database's clock, one for all nodes.
//!
//! Audited writes that arrive together share one transaction and one
//! commit (group commit, `store/group.rs`) on a writer connection; reads
//! and unaudited writes use a second connection behind a mutex. When one
//! breaks (PostgreSQL restarted or unreachable) the call fails with a store
//! error (451 upstream) and the next call connects again.

mod accounts;
mod audit;
mod cluster;
mod held;
mod schema;

use super::crypto::Sealer;
use super::group::{self, Group, Writer};
use super::StoreError;
use ::postgres::{Client, Config};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_rustls::rustls;

pub use schema::VERSION as SCHEMA_VERSION;

pub struct PgStore {
    config: Config,
    tls: MakeRustlsConnect,
    conn: Mutex<Option<Client>>,
    /// Audited writes, in shared transactions.
    writer: Group<PgWriter>,
    /// A third connection that only LISTENs (see `cluster.rs`).
    listener: Mutex<Option<Client>>,
    sealer: Sealer,
    node: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: never printed.
        f.debug_struct("PgStore").field("node", &self.node).finish()
    }
}

/// The sync client blocks on its own runtime when dropped (to say goodbye
/// to the server), which panics on a thread that drives async tasks: where
/// the last handle goes away in async code, the connections are closed on
/// a thread of their own.
impl Drop for PgStore {
    fn drop(&mut self) {
        let take =
            |m: &mut Mutex<Option<Client>>| m.get_mut().unwrap_or_else(|p| p.into_inner()).take();
        let writer = self.writer.writer_mut().client.take();
        let clients = [take(&mut self.conn), take(&mut self.listener), writer];
        if tokio::runtime::Handle::try_current().is_ok() {
            std::thread::spawn(move || drop(clients));
        }
    }
}

/// Key of the advisory lock every audited write takes first: it also
/// covers the very first append, when there is no head row to lock yet.
const WRITE_LOCK: i64 = 0x6d77_0001;

/// The database's clock as the SQLite store writes times.
const NOW: &str = "to_char(clock_timestamp() AT TIME ZONE 'UTC', \
                   'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')";

/// TLS for `sslmode=require` (and `prefer`, the default): rustls with ring,
/// as the rest of matterwall, against the system's roots.
fn tls() -> MakeRustlsConnect {
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    MakeRustlsConnect::new(config)
}

impl PgStore {
    /// Connects, migrates the schema (refusing one newer than this program
    /// knows) and checks that `key` is the key the database was written
    /// with.
    pub fn open(url: &str, key: &Path, node: &str) -> Result<PgStore, StoreError> {
        let mut config: Config = url
            .parse()
            .map_err(|e| StoreError::Invalid(format!("store URL: {e}")))?;
        config.connect_timeout(Duration::from_secs(5));
        config.application_name(&format!("matterwall {node}"));
        let sealer = Sealer::load_or_create(key)?;
        let writer = PgWriter {
            config: config.clone(),
            tls: tls(),
            client: None,
            node: node.to_string(),
        };
        let store = PgStore {
            config,
            tls: tls(),
            conn: Mutex::new(None),
            writer: Group::new(writer, group::LIMITS),
            listener: Mutex::new(None),
            sealer,
            node: node.to_string(),
        };
        store.with(|c| schema::migrate(c, &store.sealer))?;
        Ok(store)
    }

    fn connect(&self) -> Result<Client, StoreError> {
        Ok(self.config.connect(self.tls.clone())?)
    }

    /// Runs `f` on the connection, connecting first when there is none or
    /// the last one broke.
    pub(crate) fn with<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut slot = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_none_or(|c| c.is_closed()) {
            *slot = None;
            *slot = Some(self.connect()?);
        }
        let client = slot.as_mut().expect("connected above");
        let out = f(client);
        if out.is_err() && client.is_closed() {
            tracing::warn!(node = %self.node, "lost the PostgreSQL connection; reconnecting on the next call");
            *slot = None;
        }
        out
    }

    /// Runs `f` in the writers' shared transaction, which holds the write
    /// lock, in its own savepoint; returns once that transaction is
    /// committed.
    fn write<T>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.write_sized(0, f)
    }

    /// As [`Self::write`], for a write of about `bytes` (a held message):
    /// the batch's size is bounded.
    fn write_sized<T>(
        &self,
        bytes: usize,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.writer.run(bytes, f)
    }

    /// Batches committed and writes in them since open (the benchmark's
    /// writes per commit).
    pub fn commit_stats(&self) -> (u64, u64) {
        self.writer.stats()
    }

    /// The database's clock, in the store's time format.
    fn now_in(c: &mut impl ::postgres::GenericClient) -> Result<String, StoreError> {
        Ok(c.query_one(&format!("SELECT {NOW}"), &[])?.get(0))
    }
}

/// The writer connection as group commit drives it; it connects again at
/// the next batch once it broke.
struct PgWriter {
    config: Config,
    tls: MakeRustlsConnect,
    client: Option<Client>,
    node: String,
}

impl PgWriter {
    fn client(&mut self) -> Result<&mut Client, StoreError> {
        match self.client.as_mut() {
            Some(c) if !c.is_closed() => Ok(c),
            _ => Err(StoreError::Commit("lost the PostgreSQL connection".into())),
        }
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.client()?.batch_execute(sql)?)
    }
}

impl Writer for PgWriter {
    type Conn = Client;

    fn begin(&mut self) -> Result<(), StoreError> {
        if self.client.as_ref().is_none_or(|c| c.is_closed()) {
            self.client = None;
            self.client = Some(self.config.connect(self.tls.clone())?);
        }
        let c = self.client()?;
        c.batch_execute("BEGIN")?;
        c.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
        Ok(())
    }
    fn savepoint(&mut self) -> Result<(), StoreError> {
        self.batch("SAVEPOINT op")
    }
    fn release(&mut self) -> Result<(), StoreError> {
        self.batch("RELEASE SAVEPOINT op")
    }
    fn rollback_to(&mut self) -> Result<(), StoreError> {
        self.batch("ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op")
    }
    fn commit(&mut self) -> Result<(), StoreError> {
        self.batch("COMMIT")
    }
    fn abandon(&mut self) {
        if self.batch("ROLLBACK").is_err() && self.client.is_some() {
            tracing::warn!(node = %self.node, "lost the PostgreSQL connection; reconnecting on the next write");
            self.client = None;
        }
    }
    fn in_transaction(&self) -> bool {
        self.client.as_ref().is_some_and(|c| !c.is_closed())
    }
    fn conn(&mut self) -> &mut Client {
        self.client.as_mut().expect("connected at begin")
    }
}
