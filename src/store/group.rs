//! Group commit (issue #13, "Speed"): writers that arrive together share
//! one transaction, so durability costs one fsync per batch rather than
//! one per held message or audit entry.
//!
//! Each writer runs its own operation, on its own thread, on the backend's
//! one writer connection: the first to take the lock opens the batch's
//! transaction, every operation runs inside its own savepoint (an error
//! rolls back that operation alone and goes to its caller alone), and the
//! batch is committed by the writer that finds nobody else on the way in
//! (or the batch full). A writer is answered only once the commit that
//! holds its operation succeeded; if that commit fails, every writer in
//! the batch gets the error. Operations run one after another in the
//! order they took the lock, so audit entries chain in commit order.
//!
//! Running each operation on its caller's thread (rather than a leader
//! running everyone's) keeps the operations' borrowed closures as they
//! are: no `'static` bounds, no unsafe code.
//!
//! Readers must not use the writer connection: between two writers the
//! batch's transaction is open, and what it holds is not yet committed.

use super::StoreError;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};

/// A backend's writer connection, as the group drives it.
pub(crate) trait Writer {
    /// What an operation is given: the connection, inside its savepoint.
    type Conn;
    /// Opens the batch's transaction (connecting first if need be).
    fn begin(&mut self) -> Result<(), StoreError>;
    fn savepoint(&mut self) -> Result<(), StoreError>;
    fn release(&mut self) -> Result<(), StoreError>;
    /// Undoes the operation since the savepoint, and drops the savepoint.
    fn rollback_to(&mut self) -> Result<(), StoreError>;
    fn commit(&mut self) -> Result<(), StoreError>;
    /// Ends a failed batch's transaction, if any is left (best effort; a
    /// broken connection is dropped, to be made again by the next `begin`).
    fn abandon(&mut self);
    /// Whether the transaction is still open: SQLite rolls a whole
    /// transaction back on some errors (a full disk, an I/O error), and a
    /// PostgreSQL connection can break.
    fn in_transaction(&self) -> bool;
    fn conn(&mut self) -> &mut Self::Conn;
}

/// How big a batch may grow before it is committed regardless of who is
/// still arriving: a writer's answer waits for the whole batch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) ops: usize,
    pub(crate) bytes: usize,
}

pub(crate) const LIMITS: Limits = Limits {
    ops: 64,
    bytes: 16 << 20,
};

/// Set once, when the batch is committed or given up.
type Outcome = Arc<OnceLock<Result<(), SharedError>>>;

/// A failed commit, as each writer of the batch gets it.
#[derive(Clone, Debug)]
struct SharedError(Arc<StoreError>);

struct Batch {
    ops: usize,
    bytes: usize,
    outcome: Outcome,
}

struct State<W> {
    writer: W,
    open: Option<Batch>,
}

pub(crate) struct Group<W> {
    state: Mutex<State<W>>,
    settled: Condvar,
    /// Writers between arriving and taking the lock: while there are any,
    /// the open batch waits for them rather than committing.
    arriving: AtomicUsize,
    limits: Limits,
    batches: AtomicU64,
    ops: AtomicU64,
}

impl<W> std::fmt::Debug for Group<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Group")
            .field("batches", &self.batches)
            .field("ops", &self.ops)
            .finish()
    }
}

/// What became of one operation in its savepoint.
enum Step<T> {
    Done(T),
    /// The operation's own error: rolled back alone, the batch goes on.
    Refused(StoreError),
    /// The transaction itself broke: the whole batch fails.
    Broken(StoreError),
    /// The operation panicked; `undone` says whether its savepoint could
    /// be rolled back (if not, the batch fails with it).
    Panicked {
        payload: Box<dyn std::any::Any + Send>,
        undone: bool,
    },
}

impl<W: Writer> Group<W> {
    pub(crate) fn new(writer: W, limits: Limits) -> Group<W> {
        Group {
            state: Mutex::new(State { writer, open: None }),
            settled: Condvar::new(),
            arriving: AtomicUsize::new(0),
            limits,
            batches: AtomicU64::new(0),
            ops: AtomicU64::new(0),
        }
    }

    /// Batches committed and operations in them, since start.
    #[cfg(test)]
    pub(crate) fn stats(&self) -> (u64, u64) {
        (self.batches.load(SeqCst), self.ops.load(SeqCst))
    }

    /// The writer, for a store being dropped.
    pub(crate) fn writer_mut(&mut self) -> &mut W {
        &mut self
            .state
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .writer
    }

    fn lock(&self) -> MutexGuard<'_, State<W>> {
        // Every path settles the batch before it can unwind, so a poisoned
        // lock still guards a consistent state.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in the shared transaction and returns its result once the
    /// batch holding it is committed. `bytes` is what it writes, roughly,
    /// for the batch's size bound.
    pub(crate) fn run<T>(
        &self,
        bytes: usize,
        f: impl FnOnce(&mut W::Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.arriving.fetch_add(1, SeqCst);
        let mut st = self.lock();
        self.arriving.fetch_sub(1, SeqCst);
        if st.open.is_none() {
            if let Err(e) = st.writer.begin() {
                st.writer.abandon();
                return Err(e);
            }
            st.open = Some(Batch {
                ops: 0,
                bytes: 0,
                outcome: Arc::default(),
            });
        }
        match step(&mut st.writer, f) {
            Step::Done(out) => {
                let batch = st.open.as_mut().expect("opened above");
                batch.ops += 1;
                batch.bytes += bytes;
                let outcome = batch.outcome.clone();
                self.settle_if_due(&mut st);
                while outcome.get().is_none() {
                    st = self.settled.wait(st).unwrap_or_else(|p| p.into_inner());
                }
                match outcome.get().expect("settled") {
                    Ok(()) => Ok(out),
                    Err(e) => Err(copy(&e.0)),
                }
            }
            Step::Refused(e) => {
                self.settle_if_due(&mut st);
                Err(e)
            }
            Step::Broken(e) => {
                self.fail(&mut st, copy(&e));
                Err(e)
            }
            Step::Panicked { payload, undone } => {
                if undone {
                    self.settle_if_due(&mut st);
                } else {
                    let why = "an operation panicked and its transaction was lost";
                    self.fail(&mut st, StoreError::Task(why.into()));
                }
                drop(st);
                resume_unwind(payload)
            }
        }
    }

    /// Commits the open batch unless more writers are on their way and it
    /// has room for them.
    fn settle_if_due(&self, st: &mut State<W>) {
        let Some(batch) = &st.open else { return };
        let full = batch.ops >= self.limits.ops || batch.bytes >= self.limits.bytes;
        if !full && self.arriving.load(SeqCst) > 0 {
            return;
        }
        let batch = st.open.take().expect("checked above");
        if batch.ops == 0 {
            // Every operation in it was refused: nothing to keep.
            st.writer.abandon();
            return;
        }
        let outcome = st.writer.commit().map_err(|e| {
            st.writer.abandon();
            SharedError(Arc::new(e))
        });
        if outcome.is_ok() {
            self.batches.fetch_add(1, SeqCst);
            self.ops.fetch_add(batch.ops as u64, SeqCst);
        }
        let _ = batch.outcome.set(outcome);
        self.settled.notify_all();
    }

    /// Gives up the open batch: every writer in it gets `e`.
    fn fail(&self, st: &mut State<W>, e: StoreError) {
        st.writer.abandon();
        if let Some(batch) = st.open.take() {
            let _ = batch.outcome.set(Err(SharedError(Arc::new(e))));
            self.settled.notify_all();
        }
    }

    #[cfg(test)]
    fn arriving(&self) -> usize {
        self.arriving.load(SeqCst)
    }
}

/// Runs `f` inside its own savepoint.
fn step<W: Writer, T>(w: &mut W, f: impl FnOnce(&mut W::Conn) -> Result<T, StoreError>) -> Step<T> {
    if let Err(e) = w.savepoint() {
        return Step::Broken(e);
    }
    let undo = |w: &mut W| w.in_transaction() && w.rollback_to().is_ok();
    match catch_unwind(AssertUnwindSafe(|| f(w.conn()))) {
        Ok(Ok(out)) => match w.release() {
            Ok(()) => Step::Done(out),
            Err(e) => Step::Broken(e),
        },
        Ok(Err(e)) if undo(w) => Step::Refused(e),
        Ok(Err(e)) => Step::Broken(e),
        Err(payload) => Step::Panicked {
            undone: undo(w),
            payload,
        },
    }
}

/// Another writer's copy of a failed commit's error: as close to the
/// original as the types allow, so a full disk still reads as one (452).
fn copy(e: &StoreError) -> StoreError {
    match e {
        StoreError::Sqlite(rusqlite::Error::SqliteFailure(code, msg)) => {
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(*code, msg.clone()))
        }
        StoreError::Io { path, source } => StoreError::Io {
            path: path.clone(),
            source: std::io::Error::new(source.kind(), source.to_string()),
        },
        other => StoreError::Commit(other.to_string()),
    }
}

#[cfg(test)]
mod tests;
