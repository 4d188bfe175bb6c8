//! The quarantine in PostgreSQL, as in SQLite: sealed raw bytes, verdict
//! and subject bound to the record's stored columns; status changes guarded
//! by the old status and by the audit trail's last word on the message,
//! each with its audit entry in the same transaction.

use super::super::audit::AuditEvent;
use super::super::held::{
    binding, due_at, four_eyes_note, may_approve, may_release, open_content, open_subject, refusal,
    trail_allows, Action, HeldMessage, HeldPage, HeldQuery, HeldSort, HeldStatus, HeldSummary,
    NewHeld, SealedContent,
};
use super::super::{NewNotice, Quarantine, QueuedNotice, Review, StoreError};
use super::PgStore;
use ::postgres::types::Type;
use ::postgres::{Client, Row};
use serde_json::json;
use std::time::Duration;

const SUMMARY: &str = "id, received_at, status, envelope, action, rules, size, comment, \
                       clients, matters, subject_nonce, subject, reviewed_by, two_person, \
                       approved_by, due_at";

/// See the SQLite store: who approved `id`, by the audit trail.
fn trail_approver(c: &mut Client, id: &str) -> Result<Option<String>, StoreError> {
    Ok(c.query_opt(
        "SELECT actor FROM audit WHERE kind = 'approve' AND message = $1
         ORDER BY seq DESC LIMIT 1",
        &[&id],
    )?
    .map(|r| r.get(0)))
}

fn status_of(s: &str) -> HeldStatus {
    // The CHECK constraint admits only known names.
    HeldStatus::parse(s).unwrap_or(HeldStatus::Held)
}

fn action_of(s: &str) -> Action {
    // Only `hold` is ever written (a held record is what a hold decided);
    // a column edited behind our back is refused on release by the seal,
    // which binds the stored text, not this reading of it.
    Action::parse(s).unwrap_or(Action::Hold)
}

fn current(c: &mut Client, id: &str) -> Result<Option<HeldStatus>, StoreError> {
    Ok(
        c.query_opt("SELECT status FROM held WHERE id = $1", &[&id])?
            .map(|r| status_of(r.get(0))),
    )
}

/// See the SQLite store: the trail's last status entry for `id` must agree
/// that it is in `from`.
fn trail_agrees(c: &mut Client, id: &str, from: HeldStatus) -> Result<(), StoreError> {
    let last: Option<String> = c
        .query_opt(
            "SELECT kind FROM audit
             WHERE kind IN ('verdict', 'release', 'released', 'release-failed', 'reject', 'expired')
               AND message = $1
             ORDER BY seq DESC LIMIT 1",
            &[&id],
        )?
        .map(|r| r.get(0));
    trail_allows(id, from, last.as_deref(), || current(c, id))
}

fn transition(
    c: &mut Client,
    id: &str,
    (from, to): (HeldStatus, HeldStatus),
    comment: Option<&str>,
    reviewed_by: Option<&str>,
) -> Result<(), StoreError> {
    trail_agrees(c, id, from)?;
    let changed = c.execute(
        &format!(
            "UPDATE held SET status = $1, updated_at = {}, comment = COALESCE($2, comment),
                             reviewed_by = COALESCE($3, reviewed_by)
             WHERE id = $4 AND status = $5",
            super::NOW
        ),
        &[&to.as_str(), &comment, &reviewed_by, &id, &from.as_str()],
    )?;
    if changed == 1 {
        return Ok(());
    }
    Err(refusal(id, current(c, id)?, from))
}

fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

fn order_by(sort: HeldSort) -> &'static str {
    match sort {
        HeldSort::Received => "received_at",
        HeldSort::Sender => "lower(envelope::jsonb->>'from')",
        HeldSort::Size => "size",
        HeldSort::Status => "status",
    }
}

const FILTER: &str = "
    ($1::text IS NULL OR status = $1)
    AND ($2::text IS NULL OR clients::jsonb ? $2)
    AND ($3::text IS NULL OR matters::jsonb ? $3)
    AND ($4::text IS NULL OR strpos(lower(envelope::jsonb->>'from'), lower($4)) > 0)
    AND ($5::text IS NULL OR rules::jsonb ? $5)
    AND ($6::text IS NULL OR received_at >= $6)
    AND ($7::text IS NULL OR received_at < $7)
    AND ($8::text[] IS NULL OR NOT (matters::jsonb ?| $8))
    AND ($9::text[] IS NULL OR clients::jsonb ?| $9)";

impl PgStore {
    fn summary(&self, r: &Row) -> HeldSummary {
        let id: String = r.get(0);
        let env: serde_json::Value = serde_json::from_str(r.get(3)).unwrap_or_default();
        let nonce: Option<&[u8]> = r.get(10);
        let sealed: Option<&[u8]> = r.get(11);
        let subject = open_subject(&self.sealer, &id, nonce, sealed);
        let (two_person, approved_by): (bool, Option<String>) = (r.get(13), r.get(14));
        let status = status_of(r.get(2));
        HeldSummary {
            awaiting: four_eyes_note(two_person, status, approved_by.as_deref()),
            received_at: r.get(1),
            status,
            from: env["from"].as_str().unwrap_or("").to_string(),
            to: serde_json::from_value(env["to"].clone()).unwrap_or_default(),
            action: action_of(r.get(4)),
            rules: json_list(r.get(5)),
            size: r.get::<_, i64>(6) as u64,
            comment: r.get(7),
            clients: json_list(r.get(8)),
            matters: json_list(r.get(9)),
            subject,
            reviewed_by: r.get(12),
            two_person,
            approved_by,
            due_at: r.get(15),
            id,
        }
    }

    fn reviewer_of(c: &mut Client, id: &str) -> Result<String, StoreError> {
        let by: Option<String> = c
            .query_opt("SELECT reviewed_by FROM held WHERE id = $1", &[&id])?
            .and_then(|r| r.get(0));
        Ok(by.unwrap_or_else(|| "system".into()))
    }

    /// A status change with its audit entry, in one locked transaction.
    fn change(
        &self,
        id: &str,
        step: (HeldStatus, HeldStatus),
        by: (Option<&str>, Option<&str>),
        kind: &str,
        details: serde_json::Value,
    ) -> Result<(), StoreError> {
        self.write(|tx| {
            transition(tx, id, step, by.1, by.0)?;
            let actor = match by.0 {
                Some(a) => a.to_string(),
                None => Self::reviewer_of(tx, id)?,
            };
            self.append_in(tx, &AuditEvent::new(actor, kind, details))?;
            Ok(())
        })
    }
}

impl Quarantine for PgStore {
    fn hold_with(
        &self,
        mut msg: NewHeld,
        verdict: AuditEvent,
        notices: Vec<NewNotice>,
    ) -> Result<String, StoreError> {
        let id = msg.id.clone();
        let envelope = json!({"from": msg.from, "to": msg.to}).to_string();
        let rules = serde_json::to_string(&msg.rules)?;
        let clients = serde_json::to_string(&msg.clients)?;
        let matters = serde_json::to_string(&msg.matters)?;
        let size = msg.raw.len();
        self.write_sized(size, |tx| {
            // The received time is bound into the seal, so it is read first.
            let received_at = tx.now();
            let verdict_cols = (msg.action.as_str(), rules.as_str());
            let bound = binding(&id, &received_at, &envelope, verdict_cols, msg.two_person);
            // Sealed in place: the body is not held twice.
            let plain = std::mem::take(&mut msg.raw);
            let (raw_nonce, raw) = self.sealer.seal_owned(bound.as_bytes(), plain);
            let (verdict_nonce, verdict_ct) = self.sealer.seal(
                format!("{bound}/verdict").as_bytes(),
                msg.verdict_json.as_bytes(),
            );
            let (subject_nonce, subject) = self
                .sealer
                .seal(format!("{id}/subject").as_bytes(), msg.subject.as_bytes());
            let insert = tx.prepared(
                "INSERT INTO held (id, received_at, updated_at, status, envelope, action, rules,
                                   size, raw_nonce, raw, verdict_nonce, verdict, clients, matters,
                                   subject_nonce, subject, two_person, due_at)
                 VALUES ($1, $2, $2, 'held', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
                         $15, $16)",
                &[
                    Type::TEXT,
                    Type::TEXT,
                    Type::TEXT,
                    Type::TEXT,
                    Type::TEXT,
                    Type::INT8,
                    Type::BYTEA,
                    Type::BYTEA,
                    Type::BYTEA,
                    Type::BYTEA,
                    Type::TEXT,
                    Type::TEXT,
                    Type::BYTEA,
                    Type::BYTEA,
                    Type::BOOL,
                    Type::TEXT,
                ],
            )?;
            tx.execute(
                &insert,
                &[
                    &id,
                    &received_at,
                    &envelope,
                    &msg.action.as_str(),
                    &rules,
                    &(size as i64),
                    &raw_nonce,
                    &raw,
                    &verdict_nonce,
                    &verdict_ct,
                    &clients,
                    &matters,
                    &subject_nonce,
                    &subject,
                    &msg.two_person,
                    &due_at(&received_at, msg.delay),
                ],
            )?;
            self.append_in(tx, &verdict)?;
            self.queue_in(tx, notices, None)?;
            crate::failpoint::hit("hold-write");
            Ok(())
        })?;
        Ok(id)
    }

    fn list(&self) -> Result<Vec<HeldSummary>, StoreError> {
        self.with(|c| {
            let rows = c.query(
                &format!("SELECT {SUMMARY} FROM held ORDER BY received_at DESC, id"),
                &[],
            )?;
            Ok(rows.iter().map(|r| self.summary(r)).collect())
        })
    }

    fn query(&self, q: &HeldQuery) -> Result<HeldPage, StoreError> {
        let status = q.status.map(HeldStatus::as_str);
        // Walls for reviewers (issue #15): the matters a reviewer is
        // screened from, as one text[] parameter; NULL for none.
        let walls = (!q.hide_matters.is_empty()).then(|| q.hide_matters.clone());
        // Reviewer scope (issue #18): the client ids, NULL for all; an empty
        // array matches nothing (`?|` of no key is false).
        let scope = q.only_clients.clone();
        let no_walls: Option<Vec<String>> = None;
        self.with(|c| {
            let args: [&(dyn ::postgres::types::ToSql + Sync); 9] = [
                &status, &q.client, &q.matter, &q.sender, &q.rule, &q.since, &q.until, &walls,
                &scope,
            ];
            let count = |c: &mut ::postgres::Client,
                         args: &[&(dyn ::postgres::types::ToSql + Sync)]| {
                c.query_one(&format!("SELECT count(*) FROM held WHERE {FILTER}"), args)
                    .map(|r| r.get::<_, i64>(0))
            };
            let total = count(c, &args)?;
            let hidden = if walls.is_some() || scope.is_some() {
                let mut all = args;
                all[7] = &no_walls;
                all[8] = &no_walls;
                count(c, &all)? - total
            } else {
                0
            };
            let dir = if q.ascending { "ASC" } else { "DESC" };
            let rows = c.query(
                &format!(
                    "SELECT {SUMMARY} FROM held WHERE {FILTER}
                     ORDER BY {} {dir}, received_at DESC, id LIMIT {} OFFSET {}",
                    order_by(q.sort),
                    q.limit.max(1),
                    q.offset
                ),
                &args,
            )?;
            Ok(HeldPage {
                items: rows.iter().map(|r| self.summary(r)).collect(),
                total: total as u64,
                hidden: hidden.max(0) as u64,
            })
        })
    }

    fn status_counts(&self) -> Result<Vec<(HeldStatus, u64)>, StoreError> {
        self.with(|c| {
            let rows = c.query("SELECT status, count(*) FROM held GROUP BY status", &[])?;
            Ok(rows
                .iter()
                .map(|r| (status_of(r.get(0)), r.get::<_, i64>(1) as u64))
                .collect())
        })
    }

    fn listed(&self, id: &str) -> Result<HeldSummary, StoreError> {
        let sql = format!("SELECT {SUMMARY} FROM held WHERE id = $1");
        let row = self.with(|c| Ok(c.query_opt(&sql, &[&id])?))?;
        let r = row.ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        Ok(self.summary(&r))
    }

    fn get(&self, id: &str) -> Result<HeldMessage, StoreError> {
        let row = self.with(|c| {
            Ok(c.query_opt(
                &format!(
                    "SELECT {SUMMARY}, raw_nonce, raw, verdict_nonce, verdict FROM held WHERE id = $1"
                ),
                &[&id],
            )?)
        })?;
        let r = row.ok_or_else(|| StoreError::NotFound(id.to_string()))?;
        let content = SealedContent {
            received_at: r.get(1),
            envelope: r.get(3),
            action: r.get(4),
            rules: r.get(5),
            raw: (r.get(16), r.get(17)),
            verdict: (r.get(18), r.get(19)),
        };
        open_content(&self.sealer, self.summary(&r), content)
    }

    fn begin_release(&self, id: &str, by: &Review<'_>) -> Result<HeldMessage, StoreError> {
        let msg = self.get(id)?;
        let details = json!({"message": id, "comment": by.comment});
        let step = (HeldStatus::Held, HeldStatus::Releasing);
        self.write(|tx| {
            // Writers hold the cluster's write lock: an approval on another
            // node cannot slip in between this check and the change.
            may_release(&msg.summary, by.actor, trail_approver(tx, id)?.as_deref())?;
            transition(tx, id, step, by.comment, Some(by.actor))?;
            self.append_in(tx, &AuditEvent::new(by.actor, "release", details))?;
            Ok(())
        })?;
        Ok(msg)
    }

    fn approve(&self, id: &str, by: &Review<'_>) -> Result<(), StoreError> {
        // The seal binds `two_person` and the envelope: read them opened.
        let msg = self.get(id)?;
        self.write(|tx| {
            let approved: Option<String> = tx
                .query_opt("SELECT approved_by FROM held WHERE id = $1", &[&id])?
                .and_then(|r| r.get(0));
            trail_agrees(tx, id, HeldStatus::Held)?;
            let now_is = HeldSummary {
                approved_by: approved,
                ..msg.summary.clone()
            };
            may_approve(&now_is, by.actor)?;
            let changed = tx.execute(
                &format!(
                    "UPDATE held SET approved_by = $1, updated_at = {}
                     WHERE id = $2 AND status = 'held' AND approved_by IS NULL",
                    super::NOW
                ),
                &[&by.actor, &id],
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
        let details = json!({"message": id, "refused": refused});
        let step = (HeldStatus::Releasing, HeldStatus::Released);
        self.write(|tx| {
            transition(tx, id, step, None, None)?;
            let actor = Self::reviewer_of(tx, id)?;
            self.append_in(tx, &AuditEvent::new(actor, "released", details))?;
            self.queue_in(tx, notices, lease)
        })
    }

    fn abort_release(&self, id: &str, why: &str) -> Result<(), StoreError> {
        let details = json!({"message": id, "reason": why});
        let step = (HeldStatus::Releasing, HeldStatus::Held);
        self.change(id, step, (None, Some(why)), "release-failed", details)
    }

    fn reject_queueing(
        &self,
        id: &str,
        by: &Review<'_>,
        notices: Vec<NewNotice>,
        lease: Option<Duration>,
    ) -> Result<Vec<QueuedNotice>, StoreError> {
        let details = json!({"message": id, "comment": by.comment});
        let step = (HeldStatus::Held, HeldStatus::Rejected);
        self.write(|tx| {
            transition(tx, id, step, by.comment, Some(by.actor))?;
            self.append_in(tx, &AuditEvent::new(by.actor, "reject", details))?;
            self.queue_in(tx, notices, lease)
        })
    }

    fn stuck_releasing(&self) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            let rows = c.query("SELECT id FROM held WHERE status = 'releasing'", &[])?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn expire(&self, before: &str) -> Result<Vec<(String, HeldStatus)>, StoreError> {
        self.write(|tx| {
            let rows = tx.query(
                "SELECT id, status FROM held WHERE received_at < $1
                 AND status IN ('held', 'released', 'rejected') FOR UPDATE",
                &[&before],
            )?;
            let gone: Vec<(String, HeldStatus)> = rows
                .iter()
                .map(|r| (r.get(0), status_of(r.get(1))))
                .collect();
            for (id, was) in &gone {
                tx.execute(
                    &format!(
                        "UPDATE held SET status = 'expired', updated_at = {},
                         raw = ''::bytea, raw_nonce = ''::bytea, verdict = ''::bytea,
                         verdict_nonce = ''::bytea, subject = NULL, subject_nonce = NULL
                         WHERE id = $1",
                        super::NOW
                    ),
                    &[id],
                )?;
                let details = json!({"message": id, "was": was});
                self.append_in(tx, &AuditEvent::new("system", "expired", details))?;
            }
            Self::prune_notices(tx, before)?;
            Ok(gone)
        })
    }

    fn copy_accepted(&self, key: &str, window: Duration) -> Result<bool, StoreError> {
        let window = window.as_secs() as i64;
        self.with(|c| {
            Ok(c.query_opt(
                "SELECT 1 FROM accepted_copy WHERE key = $1
                 AND accepted_at > extract(epoch FROM now())::bigint - $2",
                &[&key, &window],
            )?
            .is_some())
        })
    }

    fn record_copy(&self, key: &str, id: &str, window: Duration) -> Result<(), StoreError> {
        let window = window.as_secs() as i64;
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "INSERT INTO accepted_copy (key, message_id, accepted_at)
                 VALUES ($1, $2, extract(epoch FROM now())::bigint)
                 ON CONFLICT (key) DO UPDATE SET message_id = excluded.message_id,
                                                 accepted_at = excluded.accepted_at",
                &[&key, &id],
            )?;
            tx.execute(
                "DELETE FROM accepted_copy
                 WHERE accepted_at <= extract(epoch FROM now())::bigint - $1",
                &[&window],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn oldest_held(&self) -> Result<Option<String>, StoreError> {
        self.oldest_held_in()
    }

    fn queue_stats(&self, since: &str) -> Result<crate::store::QueueStats, StoreError> {
        self.queue_stats_in(since)
    }

    fn due(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        self.with(|c| {
            let now = Self::now_in(c)?;
            let rows = c.query(
                "SELECT id FROM held WHERE status = 'held' AND due_at IS NOT NULL
                   AND due_at <= $1 ORDER BY due_at LIMIT $2",
                &[&now, &(limit as i64)],
            )?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    fn held_count(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            let n: i64 = c
                .query_one("SELECT count(*) FROM held WHERE status = 'held'", &[])?
                .get(0);
            Ok(n as u64)
        })
    }
}
