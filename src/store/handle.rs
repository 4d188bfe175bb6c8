//! The async side's one way into the store. The [`Store`] traits are
//! synchronous (SQLite fsyncs, PostgreSQL's blocking client), so every call
//! from a session, a review request or a background job runs on tokio's
//! blocking pool: a slow commit never stalls the reactor, and a store that
//! must not be called from async code (the blocking PostgreSQL client)
//! never is. Like mini-redis's `Db`, it is cheap to clone and shared by
//! everything that runs in the server.

use super::{AuditEntry, AuditEvent, Store, StoreError};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;

#[derive(Clone)]
/// The store as async code calls it: cloneable, every call run off the async threads, failures counted for `/metrics`, one audit-append path.
pub struct Handle {
    store: Arc<dyn Store>,
    /// Calls that failed, for `/metrics`: a full disk or a failing device
    /// shows as a rising count, not only as 4xx replies in the log.
    failures: Arc<AtomicU64>,
    /// The outbox job's counters and wake-up, shared by every clone.
    outbox: Arc<super::outbox::OutboxCounters>,
    /// First-contact learnings that could not be written (issue #18).
    contacts_unlearned: Arc<AtomicU64>,
}

impl Handle {
    /// Wraps an opened store.
    pub fn new(store: Arc<dyn Store>) -> Handle {
        Handle {
            store,
            failures: Arc::default(),
            outbox: Arc::default(),
            contacts_unlearned: Arc::default(),
        }
    }

    /// Signs a link in a notice ([`super::Cluster::sign_link`]): no I/O,
    /// so not on the blocking pool.
    pub(crate) fn sign_link(&self, msg: &[u8]) -> String {
        self.store.sign_link(msg)
    }

    /// Checks a link's tag ([`super::Cluster::link_signed`]).
    pub(crate) fn link_signed(&self, msg: &[u8], tag: &str) -> bool {
        self.store.link_signed(msg, tag)
    }

    /// The outbox's counters, and the job's wake-up.
    pub(crate) fn outbox(&self) -> &super::outbox::OutboxCounters {
        &self.outbox
    }

    /// How many store calls have failed since start.
    pub(crate) fn failures(&self) -> u64 {
        self.failures.load(Relaxed)
    }

    /// Runs `f` against the store on the blocking pool. A panic inside it
    /// becomes [`StoreError::Task`]: the caller answers as for any store
    /// failure (451, a refused review action), never as a success.
    pub(crate) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.store.clone();
        let result = tokio::task::spawn_blocking(move || f(store.as_ref()))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))
            .and_then(|r| r);
        if result.as_ref().is_err_and(StoreError::is_failure) {
            self.failures.fetch_add(1, Relaxed);
        }
        result
    }

    /// How many first-contact learnings failed since start, for `/metrics`.
    pub(crate) fn contacts_unlearned(&self) -> u64 {
        self.contacts_unlearned.load(Relaxed)
    }

    /// Records that passed mail from `sender` went to `domains` (issue
    /// #18). The mail is already gone, so a failure changes nothing for
    /// it: it is logged (message id and error, no address) and counted,
    /// and the next mail to those domains counts as a first contact again.
    pub(crate) async fn learn_contacts(&self, id: &str, sender: String, domains: Vec<String>) {
        if domains.is_empty() {
            return;
        }
        let learned = self
            .run(move |st| st.learn_contacts(&sender, &domains))
            .await;
        if let Err(e) = learned {
            self.contacts_unlearned.fetch_add(1, Relaxed);
            tracing::error!(id, error = %e, "cannot record first contacts; those domains stay new");
        }
    }

    /// Appends one audit entry, committed before it returns.
    pub(crate) async fn append(&self, event: AuditEvent) -> Result<AuditEntry, StoreError> {
        self.run(move |st| st.append(event)).await
    }

    /// Appends an entry recording something already done that is not undone
    /// when the trail cannot be written (a login, a reload, an uncertain
    /// release): the failure is logged (`what` names the event, never its
    /// content) and reported as false.
    pub(crate) async fn append_or_log(&self, what: &str, event: AuditEvent) -> bool {
        match self.append(event).await {
            Ok(_) => true,
            Err(e) => {
                tracing::error!(event = what, error = %e, "cannot write the audit trail");
                false
            }
        }
    }
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("store::Handle")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::sqlite::SqliteStore;

    fn handle(dir: &tempfile::TempDir) -> Handle {
        let store =
            SqliteStore::open(&dir.path().join("s.db"), &dir.path().join("k"), "test").unwrap();
        Handle::new(Arc::new(store))
    }

    #[tokio::test]
    async fn a_panic_in_a_store_call_is_an_error_not_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        let h = handle(&dir);
        let r: Result<(), _> = h.run(|_| panic!("boom")).await;
        assert!(matches!(r, Err(StoreError::Task(_))));
        // The handle still works afterwards.
        assert_eq!(h.run(|st| st.held_count()).await.unwrap(), 0);
        // A refusal (no such message) is not a failure of the store.
        assert!(h.run(|st| st.get("nope")).await.is_err());
        assert_eq!(h.failures(), 1);
    }

    #[tokio::test]
    async fn appends_go_to_the_one_chain() {
        let dir = tempfile::tempdir().unwrap();
        let h = handle(&dir);
        let ev = || AuditEvent::new("t", "test", serde_json::json!({}));
        let a = h.append(ev()).await.unwrap();
        assert!(h.append_or_log("test", ev()).await);
        let head = h.run(|st| st.audit_head()).await.unwrap().unwrap();
        assert_eq!(head.seq, a.seq + 1);
    }
}
