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
//! as they are. Times come from the database's clock, one for all nodes
//! (an audited write's time is that clock read when its batch took the
//! lock, plus the time since: see [`Tx::now`]).
//!
//! Audited writes that arrive together share one transaction and one
//! commit (group commit, `store/group.rs`) on a writer connection, with
//! the outbox's settlements; reads and the other writes use a second
//! connection behind a mutex. When one
//! breaks (PostgreSQL restarted or unreachable) the call fails with a store
//! error (451 upstream) and the next call connects again.

mod accounts;
mod audit;
mod cluster;
mod contacts;
mod held;
mod outbox;
mod schema;
mod stats;

use super::crypto::Sealer;
use super::group::{self, Group, Writer};
use super::StoreError;
use ::postgres::types::Type;
use ::postgres::{Client, Config, SimpleQueryMessage, SimpleQueryRow, Statement};
use chrono::{DateTime, SecondsFormat, Utc};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_postgres_rustls::MakeRustlsConnect;
use tokio_rustls::rustls;

pub use schema::VERSION as SCHEMA_VERSION;

pub(crate) struct PgStore {
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
        let writer = self.writer.writer_mut().tx.take().map(|tx| tx.client);
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

/// How the server's certificate is checked, by `sslmode` as libpq reads
/// it: `prefer` (the default) and `require` encrypt without verifying (a
/// passive eavesdropper learns nothing; an active man in the middle is not
/// stopped); `verify-full` verifies the chain (against `sslrootcert` when
/// given, else the system's roots) and the host name. tokio-postgres
/// parses only `disable`, `prefer` and `require`, so `verify-full` and
/// `sslrootcert` are taken out of the URL here and the rest goes to it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Verify {
    Not,
    Full { roots: Option<std::path::PathBuf> },
}

/// The URL tokio-postgres is given, and how to verify.
fn split_sslmode(url: &str) -> Result<(String, Verify), StoreError> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let (mut mode, mut roots) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = form_urlencoded::parse(pair.as_bytes())
            .next()
            .unwrap_or_default();
        match &*k {
            "sslmode" => mode = Some(v.into_owned()),
            "sslrootcert" => roots = Some(std::path::PathBuf::from(v.into_owned())),
            _ => kept.push(pair),
        }
    }
    let bad = |why: &str| Err(StoreError::Invalid(format!("store URL: {why}")));
    if roots.is_some() && mode.as_deref() != Some("verify-full") {
        return bad("sslrootcert is read only with sslmode=verify-full");
    }
    let (pg, verify) = match mode.as_deref() {
        None => (None, Verify::Not),
        Some(m @ ("disable" | "prefer" | "require")) => (Some(m), Verify::Not),
        Some("verify-full") => (Some("require"), Verify::Full { roots }),
        Some("verify-ca" | "allow") => {
            return bad("sslmode verify-ca and allow are not supported; use require or verify-full")
        }
        Some(_) => return bad("sslmode is disable, prefer, require or verify-full"),
    };
    let mode = pg.map(|m| format!("sslmode={m}"));
    kept.extend(mode.as_deref());
    let url = match kept.is_empty() {
        true => base.to_string(),
        false => format!("{base}?{}", kept.join("&")),
    };
    Ok((url, verify))
}

/// TLS as `verify` says: rustls with ring, as the rest of matterwall.
fn tls(verify: &Verify) -> Result<MakeRustlsConnect, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions");
    let config = match verify {
        Verify::Not => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(unverified::Unverified(provider)))
            .with_no_client_auth(),
        Verify::Full { roots } => builder
            .with_root_certificates(root_store(roots.as_deref())?)
            .with_no_client_auth(),
    };
    Ok(MakeRustlsConnect::new(config))
}

/// The roots `verify-full` trusts: the `sslrootcert` file, else the system's.
fn root_store(file: Option<&Path>) -> Result<rustls::RootCertStore, StoreError> {
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let Some(file) = file else {
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
        return Ok(roots);
    };
    let bad = |why: String| StoreError::Invalid(format!("sslrootcert {}: {why}", file.display()));
    let certs = rustls_pki_types::CertificateDer::pem_file_iter(file)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(bad("no certificate in it".into()));
    }
    Ok(roots)
}

/// libpq's `sslmode=require`: encrypted, the certificate not checked. The
/// handshake's signatures are still verified (the server proves it holds
/// the key of the certificate it sent), so the channel binding is sound.
mod unverified {
    use std::sync::Arc;
    use tokio_rustls::rustls::client::danger::{
        HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
    };
    use tokio_rustls::rustls::crypto::{self, CryptoProvider};
    use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use tokio_rustls::rustls::{DigitallySignedStruct, Error, SignatureScheme};

    #[derive(Debug)]
    pub(crate) struct Unverified(pub(crate) Arc<CryptoProvider>);

    impl ServerCertVerifier for Unverified {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            Ok(ServerCertVerified::assertion())
        }

        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            let algs = &self.0.signature_verification_algorithms;
            crypto::verify_tls12_signature(message, cert, dss, algs)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> Result<HandshakeSignatureValid, Error> {
            let algs = &self.0.signature_verification_algorithms;
            crypto::verify_tls13_signature(message, cert, dss, algs)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.0.signature_verification_algorithms.supported_schemes()
        }
    }
}

impl PgStore {
    /// Connects, migrates the schema (refusing one newer than this program
    /// knows) and checks that `key` is the key the database was written
    /// with.
    pub(crate) fn open(url: &str, key: &Path, node: &str) -> Result<PgStore, StoreError> {
        let (pg_url, verify) = split_sslmode(url)?;
        let mut config: Config = pg_url
            .parse()
            .map_err(|e| StoreError::Invalid(format!("store URL: {e}")))?;
        config.connect_timeout(Duration::from_secs(5));
        config.application_name(&format!("matterwall {node}"));
        let sealer = Sealer::load_or_create(key)?;
        let tls = tls(&verify)?;
        let writer = PgWriter {
            config: config.clone(),
            tls: tls.clone(),
            tx: None,
            node: node.to_string(),
            release_pending: false,
        };
        let store = PgStore {
            config,
            tls,
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
    fn write<T>(&self, f: impl FnOnce(&mut Tx) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.write_sized(0, f)
    }

    /// As [`Self::write`], for a write of about `bytes` (a held message):
    /// the batch's size is bounded.
    fn write_sized<T>(
        &self,
        bytes: usize,
        f: impl FnOnce(&mut Tx) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.writer.run(bytes, f)
    }

    /// The database's clock, in the store's time format.
    fn now_in(c: &mut impl ::postgres::GenericClient) -> Result<String, StoreError> {
        Ok(c.query_typed_one(&format!("SELECT {NOW}"), &[])?.get(0))
    }
}

/// The writer connection as group commit drives it; it connects again at
/// the next batch once it broke.
struct PgWriter {
    config: Config,
    tls: MakeRustlsConnect,
    tx: Option<Tx>,
    node: String,
    /// The last operation's savepoint, not yet released (see `release`).
    release_pending: bool,
}

/// What an audited write is given: the writer connection inside the
/// batch's transaction, with what the batch learned when it began.
///
/// Every statement on it is a round trip, and the writes of a batch run
/// one after another, so round trips (not the commit's fsync) bound the
/// writes per second. The batch therefore reads the audit head and the
/// database's clock once, when it begins (it holds the write lock from
/// then on, so no other node can move the head), and keeps both here; its
/// statements are prepared once per connection.
pub(crate) struct Tx {
    client: Client,
    prepared: HashMap<&'static str, Statement>,
    /// The head as the batch's appends leave it: `None` when there is no
    /// head row (an empty trail, or a damaged one: see `append_in`).
    head: Option<Head>,
    /// The head when the running operation began, for its rollback.
    saved: Option<Head>,
    /// The database's clock when the batch took the lock, and this node's
    /// monotonic clock at that moment (see [`Tx::now`]).
    clock: (DateTime<Utc>, Instant),
}

/// The audit head row: its sequence number, hash and keyed MAC.
#[derive(Clone, Debug)]
pub(crate) struct Head {
    pub(crate) seq: u64,
    pub(crate) hash: String,
    pub(crate) mac: String,
}

impl Tx {
    fn new(client: Client) -> Tx {
        Tx {
            client,
            prepared: HashMap::new(),
            head: None,
            saved: None,
            clock: (Utc::now(), Instant::now()),
        }
    }

    /// The database's clock now, in the store's time format, without a
    /// round trip: the time read when the batch took the lock, plus the
    /// time elapsed since on this node's monotonic clock. Times stay in
    /// commit order across batches and nodes: each batch reads the clock
    /// only once the previous batch, and every time in it, is committed.
    pub(crate) fn now(&self) -> String {
        let (at, since) = self.clock;
        let elapsed = chrono::Duration::from_std(since.elapsed()).unwrap_or_default();
        (at + elapsed).to_rfc3339_opts(SecondsFormat::Millis, true)
    }

    /// `sql` prepared on this connection with parameters of `types`, once.
    pub(crate) fn prepared(
        &mut self,
        sql: &'static str,
        types: &[Type],
    ) -> Result<Statement, StoreError> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare_typed(sql, types)?;
        self.prepared.insert(sql, s.clone());
        Ok(s)
    }

    pub(crate) fn head(&self) -> Option<&Head> {
        self.head.as_ref()
    }

    pub(crate) fn set_head(&mut self, head: Head) {
        self.head = Some(head);
    }

    /// Opens the batch's transaction: the write lock, then the clock and
    /// the head, in one round trip.
    fn begin(&mut self) -> Result<(), StoreError> {
        let sql = format!(
            "BEGIN; SELECT pg_advisory_xact_lock({WRITE_LOCK}); SELECT {NOW};
             SELECT seq, hash, mac FROM audit_head WHERE id = 1 FOR UPDATE"
        );
        let rows = statement_rows(self.client.simple_query(&sql)?);
        let at = rows.get(2).and_then(|r| r.first()).and_then(|r| r.get(0));
        let at = at.and_then(|t| DateTime::parse_from_rfc3339(t).ok());
        let Some(at) = at else {
            return Err(StoreError::Commit("PostgreSQL did not say the time".into()));
        };
        self.clock = (at.with_timezone(&Utc), Instant::now());
        self.head = rows.get(3).and_then(|r| r.first()).and_then(head_of);
        self.saved = None;
        Ok(())
    }
}

/// A simple query's rows, by statement.
fn statement_rows(messages: Vec<SimpleQueryMessage>) -> Vec<Vec<SimpleQueryRow>> {
    let mut out = vec![Vec::new()];
    for m in messages {
        match m {
            SimpleQueryMessage::Row(r) => out.last_mut().expect("one at least").push(r),
            SimpleQueryMessage::CommandComplete(_) => out.push(Vec::new()),
            _ => {}
        }
    }
    out
}

/// The head row as text; a row that does not read is none (and the next
/// append finds the trail damaged).
fn head_of(r: &SimpleQueryRow) -> Option<Head> {
    Some(Head {
        seq: r.get(0)?.parse().ok()?,
        hash: r.get(1)?.to_string(),
        mac: r.get(2)?.to_string(),
    })
}

impl std::ops::Deref for Tx {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl std::ops::DerefMut for Tx {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
    }
}

impl PgWriter {
    fn tx(&mut self) -> Result<&mut Tx, StoreError> {
        match self.tx.as_mut() {
            Some(tx) if !tx.client.is_closed() => Ok(tx),
            _ => Err(StoreError::Commit("lost the PostgreSQL connection".into())),
        }
    }

    fn batch(&mut self, sql: &str) -> Result<(), StoreError> {
        Ok(self.tx()?.client.batch_execute(sql)?)
    }
}

impl Writer for PgWriter {
    type Conn = Tx;

    fn begin(&mut self) -> Result<(), StoreError> {
        if self.tx.as_ref().is_none_or(|tx| tx.client.is_closed()) {
            self.tx = None;
            self.tx = Some(Tx::new(self.config.connect(self.tls.clone())?));
        }
        self.release_pending = false;
        self.tx()?.begin()
    }
    fn savepoint(&mut self) -> Result<(), StoreError> {
        let tx = self.tx()?;
        tx.saved = tx.head.clone();
        // The previous operation's release goes in the same round trip.
        if std::mem::take(&mut self.release_pending) {
            self.batch("RELEASE SAVEPOINT op; SAVEPOINT op")
        } else {
            self.batch("SAVEPOINT op")
        }
    }
    fn release(&mut self) -> Result<(), StoreError> {
        // Sent with the next savepoint, or dropped by COMMIT (which ends
        // every savepoint): a round trip fewer per operation. Until then
        // the operation's work is in the transaction as if released.
        self.release_pending = true;
        Ok(())
    }
    fn rollback_to(&mut self) -> Result<(), StoreError> {
        self.batch("ROLLBACK TO SAVEPOINT op; RELEASE SAVEPOINT op")?;
        let tx = self.tx()?;
        tx.head = tx.saved.take();
        Ok(())
    }
    fn commit(&mut self) -> Result<(), StoreError> {
        self.release_pending = false;
        self.batch("COMMIT")
    }
    fn abandon(&mut self) {
        self.release_pending = false;
        if self.batch("ROLLBACK").is_err() && self.tx.is_some() {
            tracing::warn!(node = %self.node, "lost the PostgreSQL connection; reconnecting on the next write");
            self.tx = None;
        }
    }
    fn in_transaction(&self) -> bool {
        self.tx.as_ref().is_some_and(|tx| !tx.client.is_closed())
    }
    fn conn(&mut self) -> &mut Tx {
        self.tx.as_mut().expect("connected at begin")
    }
}

#[cfg(test)]
mod tests {
    use super::{split_sslmode, Verify};

    #[test]
    fn sslmode_as_libpq_reads_it() {
        let u = "postgres://u@h/db";
        assert_eq!(split_sslmode(u).unwrap(), (u.to_string(), Verify::Not));
        let (url, v) = split_sslmode(&format!("{u}?sslmode=require&connect_timeout=3")).unwrap();
        assert_eq!(
            (url.as_str(), v),
            (
                "postgres://u@h/db?connect_timeout=3&sslmode=require",
                Verify::Not
            )
        );
        let (url, v) = split_sslmode(&format!(
            "{u}?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem"
        ))
        .unwrap();
        assert_eq!(url, format!("{u}?sslmode=require"));
        assert_eq!(
            v,
            Verify::Full {
                roots: Some("/etc/ca.pem".into())
            }
        );
        assert!(split_sslmode(&format!("{u}?sslmode=verify-ca")).is_err());
        assert!(split_sslmode(&format!("{u}?sslmode=require&sslrootcert=/x")).is_err());
    }
}
