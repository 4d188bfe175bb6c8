//! The quarantine in SQLite: held messages, their status machine, the
//! queue query. Raw bytes, verdict and subject are sealed, each with the
//! record id (and what it is) as associated data.

use super::super::audit::AuditEvent;
use super::super::held::{
    binding, due_at, four_eyes_note, may_approve, may_release, open_content, open_subject, refusal,
    trail_allows, Action, HeldMessage, HeldPage, HeldQuery, HeldSort, HeldStatus, HeldSummary,
    NewHeld, SealedContent,
};
use super::super::{NewNotice, Quarantine, QueuedNotice, Review, StoreError};
use super::{now, SqliteStore};
use rusqlite::blob::ZeroBlob;
use rusqlite::{params, Connection, DatabaseName, OptionalExtension, Row};
use serde_json::json;
use std::time::Duration;

/// The sealed body's length as SQLite sizes a blob.
fn sealed_len(raw: &[u8]) -> Result<i32, StoreError> {
    i32::try_from(raw.len())
        .map_err(|_| StoreError::Invalid("a held message over 2 GiB cannot be stored".into()))
}

fn unix_now() -> i64 {
    chrono::Utc::now().timestamp()
}

const SUMMARY: &str = "id, received_at, status, envelope, action, rules, size, comment, \
                       clients, matters, subject_nonce, subject, reviewed_by, two_person, \
                       approved_by, due_at";

/// Who approved `id` as its first reviewer, by the audit trail (issue #18):
/// the chained trail, not the column, decides a release.
fn trail_approver(conn: &Connection, id: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT actor FROM audit WHERE kind = 'approve'
               AND CASE WHEN json_valid(details) THEN json_extract(details, '$.message') END = ?1
             ORDER BY seq DESC LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?)
}

/// Refuses a status change unless the audit trail's last status entry for
/// `id` left it in `from`: the decision is [`trail_allows`], shared with
/// PostgreSQL.
fn trail_agrees(conn: &Connection, id: &str, from: HeldStatus) -> Result<(), StoreError> {
    let last: Option<String> = conn
        .query_row(
            "SELECT kind FROM audit
             WHERE kind IN ('verdict', 'release', 'released', 'release-failed', 'reject', 'expired')
               AND CASE WHEN json_valid(details) THEN json_extract(details, '$.message') END = ?1
             ORDER BY seq DESC LIMIT 1",
            [id],
            |r| r.get(0),
        )
        .optional()?;
    trail_allows(id, from, last.as_deref(), || {
        let status = conn
            .query_row("SELECT status FROM held WHERE id = ?1", [id], |r| r.get(0))
            .optional()?;
        Ok(status)
    })
}

/// Moves `id` from `from` to `to`; reports what it was if not `from`.
fn transition(
    conn: &Connection,
    id: &str,
    from: HeldStatus,
    to: HeldStatus,
    comment: Option<&str>,
    reviewed_by: Option<&str>,
) -> Result<(), StoreError> {
    trail_agrees(conn, id, from)?;
    let changed = conn.execute(
        "UPDATE held SET status = ?1, updated_at = ?2, comment = COALESCE(?3, comment),
                         reviewed_by = COALESCE(?4, reviewed_by)
         WHERE id = ?5 AND status = ?6",
        params![to, now(), comment, reviewed_by, id, from],
    )?;
    if changed == 1 {
        return Ok(());
    }
    let status = conn
        .query_row("SELECT status FROM held WHERE id = ?1", [id], |r| r.get(0))
        .optional()?;
    Err(refusal(id, status, from))
}

fn json_list(r: &Row<'_>, i: usize) -> rusqlite::Result<Vec<String>> {
    let text: String = r.get(i)?;
    Ok(serde_json::from_str(&text).unwrap_or_default())
}

impl SqliteStore {
    fn summary(&self, r: &Row<'_>) -> rusqlite::Result<HeldSummary> {
        let id: String = r.get(0)?;
        let envelope: String = r.get(3)?;
        let env: serde_json::Value = serde_json::from_str(&envelope).unwrap_or_default();
        let nonce: Option<Vec<u8>> = r.get(10)?;
        let sealed: Option<Vec<u8>> = r.get(11)?;
        let subject = open_subject(&self.sealer, &id, nonce.as_deref(), sealed.as_deref());
        let (two_person, approved_by): (bool, Option<String>) = (r.get(13)?, r.get(14)?);
        let status: HeldStatus = r.get(2)?;
        Ok(HeldSummary {
            awaiting: four_eyes_note(two_person, status, approved_by.as_deref()),
            received_at: r.get(1)?,
            status,
            from: env["from"].as_str().unwrap_or("").to_string(),
            to: serde_json::from_value(env["to"].clone()).unwrap_or_default(),
            action: r.get(4)?,
            rules: json_list(r, 5)?,
            size: r.get::<_, i64>(6)? as u64,
            comment: r.get(7)?,
            clients: json_list(r, 8)?,
            matters: json_list(r, 9)?,
            subject,
            reviewed_by: r.get(12)?,
            two_person,
            approved_by,
            due_at: r.get(15)?,
            id,
        })
    }

    fn reviewer_of(conn: &Connection, id: &str) -> Result<String, StoreError> {
        let by: Option<String> = conn
            .query_row("SELECT reviewed_by FROM held WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()?
            .flatten();
        Ok(by.unwrap_or_else(|| "system".into()))
    }
}

/// The SQL for a sort column: only these fixed strings reach the query.
fn order_by(sort: HeldSort) -> &'static str {
    match sort {
        HeldSort::Received => "received_at",
        HeldSort::Sender => "lower(json_extract(envelope, '$.from'))",
        HeldSort::Size => "size",
        HeldSort::Status => "status",
    }
}

const FILTER: &str = "
    (?1 IS NULL OR status = ?1)
    AND (?2 IS NULL OR EXISTS (SELECT 1 FROM json_each(held.clients) WHERE value = ?2))
    AND (?3 IS NULL OR EXISTS (SELECT 1 FROM json_each(held.matters) WHERE value = ?3))
    AND (?4 IS NULL OR instr(lower(json_extract(envelope, '$.from')), lower(?4)) > 0)
    AND (?5 IS NULL OR EXISTS (SELECT 1 FROM json_each(held.rules) WHERE value = ?5))
    AND (?6 IS NULL OR received_at >= ?6)
    AND (?7 IS NULL OR received_at < ?7)
    AND (?8 IS NULL OR NOT EXISTS (SELECT 1 FROM json_each(held.matters) m
                                   WHERE m.value IN (SELECT value FROM json_each(?8))))
    AND (?9 IS NULL OR EXISTS (SELECT 1 FROM json_each(held.clients) c
                               WHERE c.value IN (SELECT value FROM json_each(?9))))";

impl Quarantine for SqliteStore {
    fn hold_with(
        &self,
        msg: NewHeld,
        verdict: AuditEvent,
        notices: Vec<NewNotice>,
    ) -> Result<String, StoreError> {
        let id = msg.id.clone();
        let received_at = now();
        let envelope = json!({"from": msg.from, "to": msg.to}).to_string();
        let rules = serde_json::to_string(&msg.rules)?;
        let verdict_cols = (msg.action.as_str(), rules.as_str());
        let bound = binding(&id, &received_at, &envelope, verdict_cols, msg.two_person);
        let size = msg.raw.len();
        let (raw_nonce, raw) = self.sealer.seal_owned(bound.as_bytes(), msg.raw);
        let (verdict_nonce, verdict_ct) = self.sealer.seal(
            format!("{bound}/verdict").as_bytes(),
            msg.verdict_json.as_bytes(),
        );
        let (subject_nonce, subject) = self
            .sealer
            .seal(format!("{id}/subject").as_bytes(), msg.subject.as_bytes());
        let clients = serde_json::to_string(&msg.clients)?;
        let matters = serde_json::to_string(&msg.matters)?;
        self.write_sized(size, |tx| {
            tx.execute(
                "INSERT INTO held (id, received_at, updated_at, status, envelope, action, rules,
                                   size, raw_nonce, raw, verdict_nonce, verdict, clients, matters,
                                   subject_nonce, subject, two_person, due_at)
                 VALUES (?1, ?2, ?2, 'held', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14,
                         ?15, ?16)",
                params![
                    id,
                    received_at,
                    envelope,
                    msg.action,
                    rules,
                    size as i64,
                    raw_nonce,
                    ZeroBlob(sealed_len(&raw)?),
                    verdict_nonce,
                    verdict_ct,
                    clients,
                    matters,
                    subject_nonce,
                    subject,
                    msg.two_person,
                    due_at(&received_at, msg.delay)
                ],
            )?;
            // Written into the row's own pages: bound as a parameter, the
            // sealed body would be copied twice more on its way in.
            let row = tx.last_insert_rowid();
            tx.blob_open(DatabaseName::Main, "held", "raw", row, false)?
                .write_at(&raw, 0)?;
            self.append_in(tx, &verdict)?;
            self.queue_in(tx, notices, None)?;
            crate::failpoint::hit("hold-write");
            Ok(())
        })?;
        Ok(id)
    }

    fn list(&self) -> Result<Vec<HeldSummary>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {SUMMARY} FROM held ORDER BY received_at DESC, id"
        ))?;
        let rows = stmt.query_map([], |r| self.summary(r))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn query(&self, q: &HeldQuery) -> Result<HeldPage, StoreError> {
        let conn = self.conn();
        // The walls (?8) and the scope (?9) travel as JSON arrays, NULL for
        // none; the hidden count is the same query without either.
        let walls = (!q.hide_matters.is_empty())
            .then(|| serde_json::to_string(&q.hide_matters))
            .transpose()?;
        let scope = q
            .only_clients
            .as_ref()
            .map(serde_json::to_string)
            .transpose()?;
        let count = |walls: &Option<String>, scope: &Option<String>| -> rusqlite::Result<i64> {
            let args = params![
                q.status, q.client, q.matter, q.sender, q.rule, q.since, q.until, walls, scope
            ];
            conn.query_row(
                &format!("SELECT count(*) FROM held WHERE {FILTER}"),
                args,
                |r| r.get(0),
            )
        };
        let total = count(&walls, &scope)?;
        let hidden = if walls.is_some() || scope.is_some() {
            count(&None, &None)? - total
        } else {
            0
        };
        let args =
            params![q.status, q.client, q.matter, q.sender, q.rule, q.since, q.until, walls, scope];
        let dir = if q.ascending { "ASC" } else { "DESC" };
        let mut stmt = conn.prepare(&format!(
            "SELECT {SUMMARY} FROM held WHERE {FILTER}
             ORDER BY {} {dir}, received_at DESC, id LIMIT {} OFFSET {}",
            order_by(q.sort),
            q.limit.max(1),
            q.offset
        ))?;
        let rows = stmt.query_map(args, |r| self.summary(r))?;
        Ok(HeldPage {
            items: rows.collect::<Result<_, _>>()?,
            total: total as u64,
            hidden: hidden.max(0) as u64,
        })
    }

    fn status_counts(&self) -> Result<Vec<(HeldStatus, u64)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT status, count(*) FROM held GROUP BY status")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn listed(&self, id: &str) -> Result<HeldSummary, StoreError> {
        let conn = self.conn();
        let sql = format!("SELECT {SUMMARY} FROM held WHERE id = ?1");
        conn.query_row(&sql, [id], |r| self.summary(r))
            .optional()?
            .ok_or_else(|| StoreError::NotFound(id.to_string()))
    }

    fn get(&self, id: &str) -> Result<HeldMessage, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!(
                    "SELECT {SUMMARY}, raw_nonce, raw, verdict_nonce, verdict FROM held WHERE id = ?1"
                ),
                [id],
                |r| {
                    let blobs: [Vec<u8>; 4] = [r.get(16)?, r.get(17)?, r.get(18)?, r.get(19)?];
                    let cols: [String; 4] = [r.get(1)?, r.get(3)?, r.get(4)?, r.get(5)?];
                    Ok((self.summary(r)?, blobs, cols))
                },
            )
            .optional()?;
        let (summary, [rn, raw, vn, verdict], [at, envelope, action, rules]) =
            row.ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        let content = SealedContent {
            received_at: &at,
            envelope: &envelope,
            action: &action,
            rules: &rules,
            raw: (&rn, &raw),
            verdict: (&vn, &verdict),
        };
        open_content(&self.sealer, summary, content)
    }

    fn begin_release(&self, id: &str, by: &Review<'_>) -> Result<HeldMessage, StoreError> {
        // Decrypt first: a damaged record must stay `held`, never `releasing`.
        let msg = self.get(id)?;
        self.write(|tx| {
            may_release(&msg.summary, by.actor, trail_approver(tx, id)?.as_deref())?;
            transition(
                tx,
                id,
                HeldStatus::Held,
                HeldStatus::Releasing,
                by.comment,
                Some(by.actor),
            )?;
            let details = json!({"message": id, "comment": by.comment});
            self.append_in(tx, &AuditEvent::new(by.actor, "release", details))?;
            Ok(())
        })?;
        Ok(msg)
    }

    fn approve(&self, id: &str, by: &Review<'_>) -> Result<(), StoreError> {
        // The seal binds `two_person` and the envelope: read them opened.
        let msg = self.get(id)?;
        self.write(|tx| {
            trail_agrees(tx, id, HeldStatus::Held)?;
            let approved_by: Option<String> =
                tx.query_row("SELECT approved_by FROM held WHERE id = ?1", [id], |r| {
                    r.get(0)
                })?;
            let now_is = HeldSummary {
                approved_by,
                ..msg.summary.clone()
            };
            may_approve(&now_is, by.actor)?;
            let changed = tx.execute(
                "UPDATE held SET approved_by = ?1, updated_at = ?2
                 WHERE id = ?3 AND status = 'held' AND approved_by IS NULL",
                params![by.actor, now(), id],
            )?;
            if changed != 1 {
                return Err(StoreError::FourEyes(format!(
                    "message {id} changed meanwhile"
                )));
            }
            let details = json!({"message": id, "comment": by.comment});
            self.append_in(tx, &AuditEvent::new(by.actor, "approve", details))?;
            Ok(())
        })
    }

    fn finish_release_queueing(
        &self,
        id: &str,
        refused: &[String],
        notices: Vec<NewNotice>,
        lease: Option<Duration>,
    ) -> Result<Vec<QueuedNotice>, StoreError> {
        self.write(|tx| {
            transition(
                tx,
                id,
                HeldStatus::Releasing,
                HeldStatus::Released,
                None,
                None,
            )?;
            let actor = Self::reviewer_of(tx, id)?;
            let details = json!({"message": id, "refused": refused});
            self.append_in(tx, &AuditEvent::new(actor, "released", details))?;
            self.queue_in(tx, notices, lease)
        })
    }

    fn abort_release(&self, id: &str, why: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            transition(
                tx,
                id,
                HeldStatus::Releasing,
                HeldStatus::Held,
                Some(why),
                None,
            )?;
            let actor = Self::reviewer_of(tx, id)?;
            let details = json!({"message": id, "reason": why});
            let event = AuditEvent::new(actor, "release-failed", details);
            self.append_in(tx, &event)?;
            Ok(())
        })
    }

    fn reject_queueing(
        &self,
        id: &str,
        by: &Review<'_>,
        notices: Vec<NewNotice>,
        lease: Option<Duration>,
    ) -> Result<Vec<QueuedNotice>, StoreError> {
        self.write(|tx| {
            transition(
                tx,
                id,
                HeldStatus::Held,
                HeldStatus::Rejected,
                by.comment,
                Some(by.actor),
            )?;
            let details = json!({"message": id, "comment": by.comment});
            self.append_in(tx, &AuditEvent::new(by.actor, "reject", details))?;
            self.queue_in(tx, notices, lease)
        })
    }

    fn stuck_releasing(&self) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT id FROM held WHERE status = 'releasing'")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn expire(&self, before: &str) -> Result<Vec<(String, HeldStatus)>, StoreError> {
        let gone = self.write(|tx| {
            let gone: Vec<(String, HeldStatus)> = {
                let mut stmt = tx.prepare(
                    "SELECT id, status FROM held WHERE received_at < ?1
                     AND status IN ('held', 'released', 'rejected')",
                )?;
                let rows = stmt.query_map([before], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            for (id, was) in &gone {
                // The subject is content too; the ids and rule names stay.
                tx.execute(
                    "UPDATE held SET status = 'expired', updated_at = ?1, raw = X'', raw_nonce = X'',
                     verdict = X'', verdict_nonce = X'', subject = NULL, subject_nonce = NULL
                     WHERE id = ?2",
                    params![now(), id],
                )?;
                let details = json!({"message": id, "was": was});
                self.append_in(tx, &AuditEvent::new("system", "expired", details))?;
            }
            Self::prune_notices(tx, before)?;
            Ok(gone)
        })?;
        if !gone.is_empty() {
            // Old page images would otherwise linger in the WAL file.
            self.conn()
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        }
        Ok(gone)
    }

    fn copy_accepted(&self, key: &str, window: Duration) -> Result<bool, StoreError> {
        let since = unix_now() - window.as_secs() as i64;
        let found: Option<i64> = self
            .conn()
            .query_row(
                "SELECT 1 FROM accepted_copy WHERE key = ?1 AND accepted_at > ?2",
                params![key, since],
                |r| r.get(0),
            )
            .optional()?;
        Ok(found.is_some())
    }

    fn record_copy(&self, key: &str, id: &str, window: Duration) -> Result<(), StoreError> {
        let now = unix_now();
        let conn = self.conn();
        conn.execute(
            "INSERT OR REPLACE INTO accepted_copy (key, message_id, accepted_at) VALUES (?1, ?2, ?3)",
            params![key, id, now],
        )?;
        conn.execute(
            "DELETE FROM accepted_copy WHERE accepted_at <= ?1",
            params![now - window.as_secs() as i64],
        )?;
        Ok(())
    }

    fn oldest_held(&self) -> Result<Option<String>, StoreError> {
        self.oldest_held_in()
    }

    fn queue_stats(&self, since: &str) -> Result<crate::store::QueueStats, StoreError> {
        self.queue_stats_in(since)
    }

    fn due(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id FROM held WHERE status = 'held' AND due_at IS NOT NULL
               AND due_at <= ?1 ORDER BY due_at LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now(), limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn held_count(&self) -> Result<u64, StoreError> {
        let n: i64 =
            self.conn()
                .query_row("SELECT count(*) FROM held WHERE status = 'held'", [], |r| {
                    r.get(0)
                })?;
        Ok(n as u64)
    }
}

/// Statuses go to and come from the database as their lowercase names (the
/// schema's CHECK constraint lists them); an unknown one is an error, not a
/// guess.
impl rusqlite::ToSql for HeldStatus {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for HeldStatus {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        let s = v.as_str()?;
        HeldStatus::parse(s).ok_or_else(|| {
            rusqlite::types::FromSqlError::Other(format!("unknown held status {s:?}").into())
        })
    }
}

/// A held record's action, stored as its lowercase name like the status.
impl rusqlite::ToSql for Action {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(self.as_str().into())
    }
}

impl rusqlite::types::FromSql for Action {
    fn column_result(v: rusqlite::types::ValueRef<'_>) -> rusqlite::types::FromSqlResult<Self> {
        Action::parse(v.as_str()?).map_err(|why| rusqlite::types::FromSqlError::Other(why.into()))
    }
}
