//! Users, sessions, API tokens and review-added waivers in SQLite. A TOTP
//! secret is sealed like message content; sessions and tokens are kept only
//! as SHA-256 digests.

use super::super::accounts::{
    sso_change, NewUser, NewWaiver, Role, Scope, SessionRecord, SsoChange, User, WaiverRecord,
    SSO_PASSWORD,
};
use super::super::audit::AuditEvent;
use super::super::{Accounts, StoreError};
use super::{now, SqliteStore};
use rusqlite::{params, OptionalExtension, Row};
use serde_json::json;

const USER: &str = "name, role, password, totp_nonce, totp, disabled, created_at, scope";

impl SqliteStore {
    fn user_row(&self, r: &Row<'_>) -> rusqlite::Result<User> {
        self.user_at(r, 0)
    }

    /// The [`USER`] columns starting at column `b`.
    fn user_at(&self, r: &Row<'_>, b: usize) -> rusqlite::Result<User> {
        let name: String = r.get(b)?;
        let role: String = r.get(b + 1)?;
        let nonce: Option<Vec<u8>> = r.get(b + 3)?;
        let sealed: Option<Vec<u8>> = r.get(b + 4)?;
        let totp_secret = match (nonce, sealed) {
            // A secret that fails to open locks the user out rather than
            // silently dropping the second factor.
            (Some(n), Some(s)) => Some(
                self.sealer
                    .open(format!("user/{name}/totp").as_bytes(), &n, &s)
                    .unwrap_or_default(),
            ),
            _ => None,
        };
        Ok(User {
            role: Role::parse(&role).unwrap_or(Role::Auditor),
            password_hash: r.get(b + 2)?,
            totp_secret,
            disabled: r.get::<_, i64>(b + 5)? != 0,
            created_at: r.get(b + 6)?,
            scope: Scope::from_column(r.get(b + 7)?),
            name,
        })
    }
}

fn waiver_row(r: &Row<'_>) -> rusqlite::Result<WaiverRecord> {
    Ok(WaiverRecord {
        id: r.get(0)?,
        client_id: r.get(1)?,
        recipient: r.get(2)?,
        expires: r.get(3)?,
        reference: r.get(4)?,
        added_by: r.get(5)?,
        added_at: r.get(6)?,
    })
}

impl Accounts for SqliteStore {
    fn add_user(&self, user: NewUser, by: &str) -> Result<(), StoreError> {
        let totp = user.totp_secret.as_ref().map(|s| {
            self.sealer
                .seal(format!("user/{}/totp", user.name).as_bytes(), s)
        });
        let (nonce, sealed) = totp.unzip();
        self.write(|tx| {
            let exists: bool = tx.query_row(
                "SELECT EXISTS (SELECT 1 FROM users WHERE name = ?1)",
                [&user.name],
                |r| r.get(0),
            )?;
            if exists {
                return Err(StoreError::Exists(format!("user {}", user.name)));
            }
            tx.execute(
                "INSERT INTO users (name, role, password, totp_nonce, totp, created_at, scope)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    user.name,
                    user.role.as_str(),
                    user.password_hash,
                    nonce,
                    sealed,
                    now(),
                    Scope::to_column(user.scope.as_ref())
                ],
            )?;
            let details = json!({"user": user.name, "role": user.role.as_str(),
                                 "totp": user.totp_secret.is_some(), "scope": user.scope});
            self.append_in(tx, &AuditEvent::new(by, "user-added", details))?;
            Ok(())
        })
    }

    fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                &format!("SELECT {USER} FROM users WHERE name = ?1"),
                [name],
                |r| self.user_row(r),
            )
            .optional()?)
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!("SELECT {USER} FROM users ORDER BY name"))?;
        let rows = stmt.query_map([], |r| self.user_row(r))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn set_disabled(&self, name: &str, disabled: bool, by: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE users SET disabled = ?1 WHERE name = ?2",
                params![disabled as i64, name],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("user {name}")));
            }
            // Disabling revokes the user's API tokens for good (issue #15):
            // re-enabling must not bring a token that leaked meanwhile back.
            let mut details = json!({"user": name});
            if disabled {
                tx.execute("DELETE FROM sessions WHERE user = ?1", [name])?;
                let n = tx.execute("DELETE FROM tokens WHERE user = ?1", [name])?;
                details["tokens_revoked"] = n.into();
            }
            let kind = if disabled {
                "user-disabled"
            } else {
                "user-enabled"
            };
            self.append_in(tx, &AuditEvent::new(by, kind, details))?;
            Ok(())
        })
    }

    fn set_scope(&self, name: &str, scope: Option<&Scope>, by: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE users SET scope = ?1 WHERE name = ?2",
                params![Scope::to_column(scope), name],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("user {name}")));
            }
            let details = json!({"user": name, "scope": scope});
            self.append_in(tx, &AuditEvent::new(by, "user-scope-changed", details))?;
            Ok(())
        })
    }

    fn use_totp_step(&self, name: &str, step: u64) -> Result<bool, StoreError> {
        let n = self.conn().execute(
            "UPDATE users SET totp_last_step = ?1
             WHERE name = ?2 AND (totp_last_step IS NULL OR totp_last_step < ?1)",
            params![step as i64, name],
        )?;
        Ok(n == 1)
    }

    fn create_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        let conn = self.conn();
        // Expired sessions go whenever a new one starts: the table stays small.
        conn.execute("DELETE FROM sessions WHERE expires_at < ?1", [now()])?;
        conn.execute(
            "INSERT INTO sessions (id_hash, user, csrf, created_at, expires_at, seen_at, authed_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                s.id_hash,
                s.user,
                s.csrf,
                s.created_at,
                s.expires_at,
                s.seen_at,
                s.authed_at
            ],
        )?;
        Ok(())
    }

    fn session(&self, id_hash: &str) -> Result<Option<(SessionRecord, User)>, StoreError> {
        let conn = self.conn();
        let row = conn
            .query_row(
                &format!(
                    "SELECT s.id_hash, s.user, s.csrf, s.created_at, s.expires_at,
                            coalesce(s.seen_at, s.created_at),
                            coalesce(s.authed_at, s.created_at), u.{}
                     FROM sessions s JOIN users u ON u.name = s.user
                     WHERE s.id_hash = ?1 AND s.expires_at > ?2 AND u.disabled = 0",
                    USER.replace(", ", ", u.")
                ),
                params![id_hash, now()],
                |r| {
                    let s = SessionRecord {
                        id_hash: r.get(0)?,
                        user: r.get(1)?,
                        csrf: r.get(2)?,
                        created_at: r.get(3)?,
                        expires_at: r.get(4)?,
                        seen_at: r.get(5)?,
                        authed_at: r.get(6)?,
                    };
                    let u = self.user_at(r, 7)?;
                    Ok((s, u))
                },
            )
            .optional()?;
        Ok(row)
    }

    fn touch_session(&self, id_hash: &str, at: &str, authed: bool) -> Result<(), StoreError> {
        self.conn().execute(
            "UPDATE sessions SET seen_at = ?2,
                                 authed_at = CASE WHEN ?3 THEN ?2 ELSE authed_at END
             WHERE id_hash = ?1",
            params![id_hash, at, authed],
        )?;
        Ok(())
    }

    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM sessions WHERE id_hash = ?1", [id_hash])?;
        Ok(())
    }

    fn add_token(&self, hash: &str, user: &str, by: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO tokens (hash, user, created_at) VALUES (?1, ?2, ?3)",
                params![hash, user, now()],
            )?;
            // The first 12 hex digits name the token in the trail without
            // making it usable.
            let details = json!({"user": user, "token": &hash[..12.min(hash.len())]});
            self.append_in(tx, &AuditEvent::new(by, "token-created", details))?;
            Ok(())
        })
    }

    fn token_user(&self, hash: &str) -> Result<Option<User>, StoreError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                &format!(
                    "SELECT u.{} FROM tokens t JOIN users u ON u.name = t.user
                     WHERE t.hash = ?1 AND u.disabled = 0",
                    USER.replace(", ", ", u.")
                ),
                [hash],
                |r| self.user_row(r),
            )
            .optional()?)
    }

    fn add_waiver(&self, w: NewWaiver, by: &str) -> Result<WaiverRecord, StoreError> {
        self.write(|tx| {
            let at = now();
            tx.execute(
                "INSERT INTO waivers (client_id, recipient, expires, reference, added_by, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![w.client_id, w.recipient, w.expires, w.reference, by, at],
            )?;
            let rec = WaiverRecord {
                id: tx.last_insert_rowid(),
                client_id: w.client_id,
                recipient: w.recipient,
                expires: w.expires,
                reference: w.reference,
                added_by: by.to_string(),
                added_at: at,
            };
            let details = json!({"waiver": rec.id, "client": rec.client_id,
                "recipient": rec.recipient, "expires": rec.expires, "reference": rec.reference});
            self.append_in(tx, &AuditEvent::new(by, "waiver-added", details))?;
            Ok(rec)
        })
    }

    fn revoke_waiver(&self, id: i64, by: &str) -> Result<(), StoreError> {
        self.write(|tx| {
            let n = tx.execute(
                "UPDATE waivers SET revoked_by = ?1, revoked_at = ?2
                 WHERE id = ?3 AND revoked_at IS NULL",
                params![by, now(), id],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("waiver {id}")));
            }
            let details = json!({"waiver": id});
            self.append_in(tx, &AuditEvent::new(by, "waiver-revoked", details))?;
            Ok(())
        })
    }

    fn waivers(&self) -> Result<Vec<WaiverRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT id, client_id, recipient, expires, reference, added_by, added_at
             FROM waivers WHERE revoked_at IS NULL ORDER BY id",
        )?;
        let rows = stmt.query_map([], waiver_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
    fn sso_user(&self, name: &str, role: Role, by: &str) -> Result<User, StoreError> {
        self.write(|tx| {
            let found: Option<(String, String, i64)> = tx
                .query_row(
                    "SELECT password, role, disabled FROM users WHERE name = ?1",
                    [name],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .optional()?;
            let found = found
                .as_ref()
                .map(|(p, r, d)| (p.as_str(), r.as_str(), *d != 0));
            let change = sso_change(name, found, role)?;
            match &change {
                SsoChange::Add => {
                    tx.execute(
                        "INSERT INTO users (name, role, password, created_at)
                         VALUES (?1, ?2, ?3, ?4)",
                        params![name, role.as_str(), SSO_PASSWORD, now()],
                    )?;
                }
                SsoChange::ChangeRole { .. } => {
                    tx.execute(
                        "UPDATE users SET role = ?1 WHERE name = ?2",
                        params![role.as_str(), name],
                    )?;
                }
                SsoChange::Nothing => {}
            }
            let event = change.event(by, name, role);
            if let Some(e) = event {
                self.append_in(tx, &e)?;
            }
            Ok(())
        })?;
        self.user(name)?
            .ok_or_else(|| StoreError::NotFound(format!("user {name}")))
    }

    fn put_oidc_login(
        &self,
        id_hash: &str,
        data: &[u8],
        expires_at: &str,
    ) -> Result<(), StoreError> {
        let (nonce, sealed) = self.sealer.seal(format!("oidc/{id_hash}").as_bytes(), data);
        let conn = self.conn();
        // Abandoned logins go whenever a new one starts: the table stays small.
        conn.execute("DELETE FROM oidc_logins WHERE expires_at < ?1", [now()])?;
        conn.execute(
            "INSERT INTO oidc_logins (id_hash, nonce, data, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![id_hash, nonce, sealed, expires_at],
        )?;
        Ok(())
    }

    fn take_oidc_login(&self, id_hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row: Option<(Vec<u8>, Vec<u8>)> = self
            .conn()
            .query_row(
                "DELETE FROM oidc_logins WHERE id_hash = ?1 AND expires_at > ?2
                 RETURNING nonce, data",
                params![id_hash, now()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let aad = format!("oidc/{id_hash}");
        Ok(row.and_then(|(n, d)| self.sealer.open(aad.as_bytes(), &n, &d)))
    }
}
