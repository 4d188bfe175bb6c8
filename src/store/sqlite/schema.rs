//! Tables, and the migration of a database made by an older version
//! (`PRAGMA user_version`: 0 had only `held`).

use super::super::StoreError;
use rusqlite::Connection;

/// Version 0: the quarantine as issue 4 made it (and the encrypt action's
/// accepted copies, created if missing at every start).
const V0: &str = "
CREATE TABLE IF NOT EXISTS held (
    id            TEXT PRIMARY KEY,
    received_at   TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    status        TEXT NOT NULL
                  CHECK (status IN ('held','releasing','released','rejected','expired')),
    envelope      TEXT NOT NULL,
    action        TEXT NOT NULL,
    rules         TEXT NOT NULL,
    size          INTEGER NOT NULL,
    raw_nonce     BLOB NOT NULL,
    raw           BLOB NOT NULL,
    verdict_nonce BLOB NOT NULL,
    verdict       BLOB NOT NULL,
    comment       TEXT
);
CREATE INDEX IF NOT EXISTS held_status ON held (status, received_at);
CREATE TABLE IF NOT EXISTS accepted_copy (
    key         TEXT PRIMARY KEY,
    message_id  TEXT NOT NULL,
    accepted_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS accepted_copy_at ON accepted_copy (accepted_at);
";

/// Version 1: the review interface (issue 6). The audit table refuses
/// UPDATE and DELETE by trigger: that stops mistakes, not an attacker, who
/// can drop the trigger; the hash chain and the keyed head catch that.
const V1: &str = "
ALTER TABLE held ADD COLUMN clients TEXT NOT NULL DEFAULT '[]';
ALTER TABLE held ADD COLUMN matters TEXT NOT NULL DEFAULT '[]';
ALTER TABLE held ADD COLUMN subject_nonce BLOB;
ALTER TABLE held ADD COLUMN subject BLOB;
ALTER TABLE held ADD COLUMN reviewed_by TEXT;
CREATE INDEX held_received ON held (received_at);

CREATE TABLE users (
    name           TEXT PRIMARY KEY,
    role           TEXT NOT NULL CHECK (role IN ('reviewer','auditor','admin')),
    password       TEXT NOT NULL,
    totp_nonce     BLOB,
    totp           BLOB,
    totp_last_step INTEGER,
    disabled       INTEGER NOT NULL DEFAULT 0,
    created_at     TEXT NOT NULL
);
CREATE TABLE sessions (
    id_hash    TEXT PRIMARY KEY,
    user       TEXT NOT NULL REFERENCES users (name),
    csrf       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE tokens (
    hash       TEXT PRIMARY KEY,
    user       TEXT NOT NULL REFERENCES users (name),
    created_at TEXT NOT NULL
);
CREATE TABLE waivers (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    client_id  TEXT NOT NULL,
    recipient  TEXT NOT NULL,
    expires    TEXT NOT NULL,
    reference  TEXT NOT NULL,
    added_by   TEXT NOT NULL,
    added_at   TEXT NOT NULL,
    revoked_by TEXT,
    revoked_at TEXT
);
CREATE TABLE audit (
    seq       INTEGER PRIMARY KEY,
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    kind      TEXT NOT NULL,
    details   TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);
CREATE INDEX audit_kind ON audit (kind, seq);
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL,
    mac  TEXT NOT NULL
);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
";

/// Version 2: `seq` starts at 1 and stays contiguous (issue #15): a row
/// whose seq is not the head's plus one (so `seq <= 0`, or past a gap) is
/// refused when written; the head moves in the same transaction. Someone who
/// can write the file can drop the trigger; `audit verify` and the listing
/// (which reads only the contiguous prefix up to the head) still catch it.
const V2: &str = "
CREATE TRIGGER audit_seq_contiguous BEFORE INSERT ON audit
WHEN NEW.seq IS NOT COALESCE((SELECT seq FROM audit_head WHERE id = 1), 0) + 1
BEGIN SELECT RAISE(ABORT, 'audit seq must start at 1 and stay contiguous'); END;
";

/// Version 3: a session's last request and last authentication (issue
/// #15): the idle timeout and re-authentication before a release. NULL
/// (a session from before) reads as its creation time.
const V3: &str = "
ALTER TABLE sessions ADD COLUMN seen_at TEXT;
ALTER TABLE sessions ADD COLUMN authed_at TEXT;
";

/// Version 4: once-per-cluster job claims (issue #13), kept on both
/// backends so a job's schedule survives a restart.
const V4: &str = "
CREATE TABLE jobs (
    name       TEXT PRIMARY KEY,
    claimed_at TEXT NOT NULL,
    node       TEXT NOT NULL
);
";

/// Version 5: the notice outbox (issue #13, see `store::outbox`). Times
/// are the store's RFC 3339 text, which sorts as it reads.
const V5: &str = "
CREATE TABLE outbox (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    about      TEXT NOT NULL,
    rcpts      TEXT NOT NULL,
    created_at TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('pending','sent','failed')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    next_at    TEXT NOT NULL,
    claimed_by TEXT,
    last_error TEXT,
    done_at    TEXT,
    raw_nonce  BLOB NOT NULL,
    raw        BLOB NOT NULL
);
CREATE INDEX outbox_due ON outbox (status, next_at);
";

/// Version 6: four-eyes release (issue #18). `two_person` is also bound
/// into the record's seal; `approved_by` shows the first reviewer in the
/// queue, while a release reads the approval from the audit trail.
const V6: &str = "
ALTER TABLE held ADD COLUMN two_person INTEGER NOT NULL DEFAULT 0;
ALTER TABLE held ADD COLUMN approved_by TEXT;
";

/// Version 7: logins in flight at an OpenID provider (issue #18, single
/// sign-on): state, nonce and PKCE verifier sealed under the SHA-256 of
/// the browser's cookie, taken (deleted) by the provider's answer.
const V7: &str = "
CREATE TABLE oidc_logins (
    id_hash    TEXT PRIMARY KEY,
    nonce      BLOB NOT NULL,
    data       BLOB NOT NULL,
    expires_at TEXT NOT NULL
);
";

/// Version 8: the dashboard (issue #18) reads the decisions of the last
/// 30 days (`release` and `reject` entries by time) without walking the
/// whole trail.
const V8: &str = "
CREATE INDEX audit_decided ON audit (kind, at);
";

/// Version 9: reviewer scope (issue #18): the clients a user may review,
/// as JSON (`store::Scope`); NULL for every client.
const V9: &str = "
ALTER TABLE users ADD COLUMN scope TEXT;
";

/// Version 10: undo-send (issue #18). `due_at` only points the release job
/// at candidates; the delay itself is read again from the sealed verdict.
const V10: &str = "
ALTER TABLE held ADD COLUMN due_at TEXT;
CREATE INDEX held_due ON held (status, due_at) WHERE due_at IS NOT NULL;
";

/// Version 11: first contact (issue #18, `store::contacts`): one row per
/// (sender, domain) and per firm-wide domain (sender `*`), with when it was
/// last written to. The key is the lookup's point query; `contacts_seen`
/// makes the retention job's prune a range delete.
const V11: &str = "
CREATE TABLE contacts (
    sender    TEXT NOT NULL,
    domain    TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    PRIMARY KEY (sender, domain)
) WITHOUT ROWID;
CREATE INDEX contacts_seen ON contacts (last_seen);
";

const MIGRATIONS: &[&str] = &[V1, V2, V3, V4, V5, V6, V7, V8, V9, V10, V11];

pub(crate) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    conn.execute_batch(V0)?;
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let version: usize = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if version > MIGRATIONS.len() {
        return Err(StoreError::Invalid(format!(
            "the database is version {version}, newer than this program knows ({}); upgrade matterwall",
            MIGRATIONS.len()
        )));
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(version) {
        tx.execute_batch(step)?;
        tx.pragma_update(None, "user_version", i + 1)?;
    }
    tx.commit()?;
    Ok(())
}
