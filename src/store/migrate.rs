//! `matterwall store migrate --to postgres://…` (issue #13): copies an
//! embedded store into an empty PostgreSQL one, row for row, sealed content
//! and audit hashes as they are (both backends store the same text, so the
//! seals' associated data and the chain still hold), then verifies the
//! chain there. Both must use the same key file: the PostgreSQL store
//! records the key's fingerprint on first open and refuses another.

use super::postgres::PgStore;
use super::sqlite::SqliteStore;
use super::{audit, AuditLog, StoreError};
use ::postgres::types::{ToSql, Type};
use rusqlite::types::Value;

/// A table: its name on PostgreSQL, the SQLite expressions read, and the
/// PostgreSQL columns they go to (in the same order).
struct Table {
    name: &'static str,
    from: &'static str,
    to: &'static str,
}

const TABLES: &[Table] = &[
    Table {
        name: "held",
        from: "id, received_at, updated_at, status, envelope, action, rules, size, raw_nonce, \
               raw, verdict_nonce, verdict, comment, clients, matters, subject_nonce, subject, \
               reviewed_by, two_person, approved_by, due_at",
        to: "id, received_at, updated_at, status, envelope, action, rules, size, raw_nonce, \
             raw, verdict_nonce, verdict, comment, clients, matters, subject_nonce, subject, \
             reviewed_by, two_person, approved_by, due_at",
    },
    Table {
        name: "accepted_copy",
        from: "key, message_id, accepted_at",
        to: "key, message_id, accepted_at",
    },
    Table {
        name: "users",
        from: "name, role, password, totp_nonce, totp, totp_last_step, disabled, created_at, \
               scope",
        to: "name, role, password, totp_nonce, totp, totp_last_step, disabled, created_at, scope",
    },
    Table {
        name: "sessions",
        from: "id_hash, user, csrf, created_at, expires_at",
        to: "id_hash, user_name, csrf, created_at, expires_at",
    },
    Table {
        name: "tokens",
        from: "hash, user, created_at",
        to: "hash, user_name, created_at",
    },
    Table {
        name: "waivers",
        from: "id, client_id, recipient, expires, reference, added_by, added_at, revoked_by, \
               revoked_at",
        to: "id, client_id, recipient, expires, reference, added_by, added_at, revoked_by, \
             revoked_at",
    },
    Table {
        name: "audit",
        from: "seq, at, actor, kind, details, prev_hash, hash, \
               CAST(CASE WHEN json_valid(details) THEN json_extract(details, '$.message') END \
                    AS TEXT)",
        to: "seq, at, actor, kind, details, prev_hash, hash, message",
    },
    Table {
        name: "audit_head",
        from: "id, seq, hash, mac",
        to: "id, seq, hash, mac",
    },
    Table {
        name: "jobs",
        from: "name, claimed_at, node",
        to: "name, claimed_at, node",
    },
    // Pending notices move with the rest (sealed as they are; the same key
    // opens them there) and go out from the new store. A claim by a node
    // is reclaimed when that node starts on the new store.
    Table {
        name: "outbox",
        from: "id, kind, about, rcpts, created_at, status, attempts, next_at, claimed_by,                last_error, done_at, raw_nonce, raw",
        to: "id, kind, about, rcpts, created_at, status, attempts, next_at, claimed_by,              last_error, done_at, raw_nonce, raw",
    },
    // First contact (issue #18): without the history, every domain would
    // be new again on the first day on PostgreSQL.
    Table {
        name: "contacts",
        from: "sender, domain, last_seen",
        to: "sender, domain, last_seen",
    },
];

/// What was copied: rows per table, and the verified chain's length.
#[derive(Debug)]
pub struct Copied {
    /// Rows copied, per table.
    pub rows: Vec<(&'static str, u64)>,
    /// Audit entries verified in the new store.
    pub audit_entries: u64,
}

/// A value read from SQLite, as the PostgreSQL column's type wants it.
fn convert(v: Value, ty: &Type) -> Result<Box<dyn ToSql + Sync>, StoreError> {
    let bad = |v: &Value| StoreError::Invalid(format!("cannot copy {v:?} into a {ty} column"));
    Ok(match (v, ty) {
        (Value::Null, t) if *t == Type::BYTEA => Box::new(None::<Vec<u8>>),
        (Value::Null, t) if *t == Type::INT8 => Box::new(None::<i64>),
        (Value::Null, _) => Box::new(None::<String>),
        (Value::Integer(i), t) if *t == Type::INT8 => Box::new(i),
        (Value::Integer(i), t) if *t == Type::INT4 => Box::new(i as i32),
        (Value::Integer(i), t) if *t == Type::BOOL => Box::new(i != 0),
        (Value::Text(s), t) if *t == Type::TEXT => Box::new(s),
        (Value::Blob(b), t) if *t == Type::BYTEA => Box::new(b),
        (v, _) => return Err(bad(&v)),
    })
}

/// Opens the embedded store at `from` (a `sqlite://` URL) and the
/// PostgreSQL one at `to`, both with `key` (a path), and copies.
pub fn run(
    from: &str,
    config_dir: &std::path::Path,
    key_file: Option<&str>,
    to: &str,
    node: &str,
) -> Result<Copied, StoreError> {
    let path = from
        .strip_prefix("sqlite://")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            StoreError::Invalid(format!(
                "[store] url is {from:?}: migrate copies from the embedded (sqlite://) store"
            ))
        })?;
    let db = config_dir.join(path);
    if !db.exists() {
        return Err(StoreError::Invalid(format!(
            "{}: no such store",
            db.display()
        )));
    }
    let key = match key_file {
        Some(k) => config_dir.join(k),
        None => db.with_file_name("matterwall.key"),
    };
    let source = SqliteStore::open(&db, &key, node)?;
    let target = PgStore::open(to, &key, node)?;
    copy(&source, &target)
}

/// Copies every table of `from` into `to`, which must be empty.
pub(crate) fn copy(from: &SqliteStore, to: &PgStore) -> Result<Copied, StoreError> {
    let mut rows = Vec::new();
    to.with(|c| {
        let mut tx = c.transaction()?;
        let used: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM held) OR EXISTS (SELECT 1 FROM users)
                     OR EXISTS (SELECT 1 FROM waivers) OR EXISTS (SELECT 1 FROM audit)
                     OR EXISTS (SELECT 1 FROM audit_head)",
                &[],
            )?
            .get(0);
        if used {
            return Err(StoreError::Invalid(
                "the PostgreSQL store is not empty: migrate only into a new database".into(),
            ));
        }
        // The copied rows carry their own seqs; the head comes last.
        tx.batch_execute("ALTER TABLE audit DISABLE TRIGGER audit_seq_contiguous")?;
        for t in TABLES {
            rows.push((t.name, copy_table(from, &mut tx, t)?));
        }
        tx.batch_execute(
            "ALTER TABLE audit ENABLE TRIGGER audit_seq_contiguous;
             SELECT setval(pg_get_serial_sequence('waivers', 'id'),
                           COALESCE((SELECT MAX(id) FROM waivers), 0) + 1, false);",
        )?;
        tx.commit()?;
        Ok(())
    })?;
    let audit_entries = match audit::verify(to)? {
        Ok(n) => n,
        Err(broken) => {
            return Err(StoreError::Invalid(format!(
                "copied, but the audit trail does not verify there: {broken}"
            )))
        }
    };
    let source = from.audit_head()?.map_or(0, |h| h.seq);
    if audit_entries != source {
        return Err(StoreError::Invalid(format!(
            "copied {audit_entries} audit entries of {source}"
        )));
    }
    Ok(Copied {
        rows,
        audit_entries,
    })
}

fn copy_table(
    from: &SqliteStore,
    tx: &mut ::postgres::Transaction<'_>,
    t: &Table,
) -> Result<u64, StoreError> {
    let n = t.to.split(',').count();
    let marks: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
    let insert = tx.prepare(&format!(
        "INSERT INTO {} ({}) VALUES ({})",
        t.name,
        t.to,
        marks.join(", ")
    ))?;
    let types = insert.params().to_vec();
    let conn = from.conn();
    let mut stmt = conn.prepare(&format!("SELECT {} FROM {}", t.from, t.name))?;
    let mut q = stmt.query([])?;
    let mut copied = 0;
    // Row by row: a quarantine can be large, and only one row is in memory.
    while let Some(r) = q.next()? {
        let mut args: Vec<Box<dyn ToSql + Sync>> = Vec::with_capacity(n);
        for (i, ty) in types.iter().enumerate() {
            args.push(convert(r.get::<_, Value>(i)?, ty)?);
        }
        let refs: Vec<&(dyn ToSql + Sync)> = args.iter().map(|b| b.as_ref()).collect();
        tx.execute(&insert, &refs)?;
        copied += 1;
    }
    Ok(copied)
}
