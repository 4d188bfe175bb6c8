//! Users, sessions, API tokens and review-added waivers in PostgreSQL, as
//! in SQLite. Shared by every node: a session made on one is valid on all,
//! and a user disabled on one is disabled everywhere at its next lookup.

use super::super::accounts::{
    sso_change, NewUser, NewWaiver, Role, Scope, SessionRecord, SsoChange, User, WaiverRecord,
    SSO_PASSWORD,
};
use super::super::audit::AuditEvent;
use super::super::{Accounts, StoreError};
use super::{PgStore, NOW};
use ::postgres::Row;
use serde_json::json;

const USER: &str =
    "u.name, u.role, u.password, u.totp_nonce, u.totp, u.disabled, u.created_at, u.scope";

impl PgStore {
    /// The [`USER`] columns starting at column `b`.
    fn user_at(&self, r: &Row, b: usize) -> User {
        let name: String = r.get(b);
        let role: String = r.get(b + 1);
        let nonce: Option<Vec<u8>> = r.get(b + 3);
        let sealed: Option<Vec<u8>> = r.get(b + 4);
        let totp_secret = match (nonce, sealed) {
            (Some(n), Some(s)) => Some(
                self.sealer
                    .open(format!("user/{name}/totp").as_bytes(), &n, &s)
                    .unwrap_or_default(),
            ),
            _ => None,
        };
        User {
            role: Role::parse(&role).unwrap_or(Role::Auditor),
            password_hash: r.get(b + 2),
            totp_secret,
            disabled: r.get(b + 5),
            created_at: r.get(b + 6),
            scope: Scope::from_column(r.get(b + 7)),
            name,
        }
    }

    /// An audited write: `f`, then the entry, in one locked transaction.
    fn audited<T>(
        &self,
        by: &str,
        kind: &str,
        f: impl FnOnce(&mut ::postgres::Client) -> Result<(T, serde_json::Value), StoreError>,
    ) -> Result<T, StoreError> {
        self.write(|tx| {
            let (out, details) = f(tx)?;
            self.append_in(tx, &AuditEvent::new(by, kind, details))?;
            Ok(out)
        })
    }
}

fn waiver_row(r: &Row) -> WaiverRecord {
    WaiverRecord {
        id: r.get(0),
        client_id: r.get(1),
        recipient: r.get(2),
        expires: r.get(3),
        reference: r.get(4),
        added_by: r.get(5),
        added_at: r.get(6),
    }
}

impl Accounts for PgStore {
    fn add_user(&self, user: NewUser, by: &str) -> Result<(), StoreError> {
        let totp = user.totp_secret.as_ref().map(|s| {
            self.sealer
                .seal(format!("user/{}/totp", user.name).as_bytes(), s)
        });
        let (nonce, sealed) = totp.unzip();
        self.audited(by, "user-added", |tx| {
            let n = tx.execute(
                &format!(
                    "INSERT INTO users (name, role, password, totp_nonce, totp, created_at, scope)
                     VALUES ($1, $2, $3, $4, $5, {NOW}, $6) ON CONFLICT (name) DO NOTHING"
                ),
                &[
                    &user.name,
                    &user.role.as_str(),
                    &user.password_hash,
                    &nonce,
                    &sealed,
                    &Scope::to_column(user.scope.as_ref()),
                ],
            )?;
            if n == 0 {
                return Err(StoreError::Exists(format!("user {}", user.name)));
            }
            let details = json!({"user": user.name, "role": user.role.as_str(),
                                 "totp": user.totp_secret.is_some(), "scope": user.scope});
            Ok(((), details))
        })
    }

    fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let row = self.with(|c| {
            Ok(c.query_opt(
                &format!("SELECT {USER} FROM users u WHERE u.name = $1"),
                &[&name],
            )?)
        })?;
        Ok(row.map(|r| self.user_at(&r, 0)))
    }

    fn users(&self) -> Result<Vec<User>, StoreError> {
        let rows =
            self.with(|c| Ok(c.query(&format!("SELECT {USER} FROM users u ORDER BY name"), &[])?))?;
        Ok(rows.iter().map(|r| self.user_at(r, 0)).collect())
    }

    fn set_disabled(&self, name: &str, disabled: bool, by: &str) -> Result<(), StoreError> {
        let kind = if disabled {
            "user-disabled"
        } else {
            "user-enabled"
        };
        self.audited(by, kind, |tx| {
            let n = tx.execute(
                "UPDATE users SET disabled = $1 WHERE name = $2",
                &[&disabled, &name],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("user {name}")));
            }
            // Disabling revokes the user's API tokens for good (issue #15):
            // re-enabling must not bring a token that leaked meanwhile back.
            let mut details = json!({"user": name});
            if disabled {
                tx.execute("DELETE FROM sessions WHERE user_name = $1", &[&name])?;
                let n = tx.execute("DELETE FROM tokens WHERE user_name = $1", &[&name])?;
                details["tokens_revoked"] = n.into();
            }
            Ok(((), details))
        })
    }

    fn set_scope(&self, name: &str, scope: Option<&Scope>, by: &str) -> Result<(), StoreError> {
        self.audited(by, "user-scope-changed", |tx| {
            let n = tx.execute(
                "UPDATE users SET scope = $1 WHERE name = $2",
                &[&Scope::to_column(scope), &name],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("user {name}")));
            }
            Ok(((), json!({"user": name, "scope": scope})))
        })
    }

    fn use_totp_step(&self, name: &str, step: u64) -> Result<bool, StoreError> {
        let step = step as i64;
        let n = self.with(|c| {
            Ok(c.execute(
                "UPDATE users SET totp_last_step = $1
                 WHERE name = $2 AND (totp_last_step IS NULL OR totp_last_step < $1)",
                &[&step, &name],
            )?)
        })?;
        Ok(n == 1)
    }

    fn create_session(&self, s: &SessionRecord) -> Result<(), StoreError> {
        self.with(|c| {
            let mut tx = c.transaction()?;
            tx.execute(
                &format!("DELETE FROM sessions WHERE expires_at < {NOW}"),
                &[],
            )?;
            tx.execute(
                "INSERT INTO sessions (id_hash, user_name, csrf, created_at, expires_at,
                                       seen_at, authed_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
                &[
                    &s.id_hash,
                    &s.user,
                    &s.csrf,
                    &s.created_at,
                    &s.expires_at,
                    &s.seen_at,
                    &s.authed_at,
                ],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    fn session(&self, id_hash: &str) -> Result<Option<(SessionRecord, User)>, StoreError> {
        let row = self.with(|c| {
            Ok(c.query_opt(
                &format!(
                    "SELECT s.id_hash, s.user_name, s.csrf, s.created_at, s.expires_at,
                            coalesce(s.seen_at, s.created_at),
                            coalesce(s.authed_at, s.created_at), {USER}
                     FROM sessions s JOIN users u ON u.name = s.user_name
                     WHERE s.id_hash = $1 AND s.expires_at > {NOW} AND NOT u.disabled"
                ),
                &[&id_hash],
            )?)
        })?;
        Ok(row.map(|r| {
            let s = SessionRecord {
                id_hash: r.get(0),
                user: r.get(1),
                csrf: r.get(2),
                created_at: r.get(3),
                expires_at: r.get(4),
                seen_at: r.get(5),
                authed_at: r.get(6),
            };
            (s, self.user_at(&r, 7))
        }))
    }

    fn touch_session(&self, id_hash: &str, at: &str, authed: bool) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "UPDATE sessions SET seen_at = $2,
                                     authed_at = CASE WHEN $3 THEN $2 ELSE authed_at END
                 WHERE id_hash = $1",
                &[&id_hash, &at, &authed],
            )?;
            Ok(())
        })
    }

    fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute("DELETE FROM sessions WHERE id_hash = $1", &[&id_hash])?;
            Ok(())
        })
    }

    fn add_token(&self, hash: &str, user: &str, by: &str) -> Result<(), StoreError> {
        self.audited(by, "token-created", |tx| {
            tx.execute(
                &format!("INSERT INTO tokens (hash, user_name, created_at) VALUES ($1, $2, {NOW})"),
                &[&hash, &user],
            )?;
            let details = json!({"user": user, "token": &hash[..12.min(hash.len())]});
            Ok(((), details))
        })
    }

    fn token_user(&self, hash: &str) -> Result<Option<User>, StoreError> {
        let row = self.with(|c| {
            Ok(c.query_opt(
                &format!(
                    "SELECT {USER} FROM tokens t JOIN users u ON u.name = t.user_name
                     WHERE t.hash = $1 AND NOT u.disabled"
                ),
                &[&hash],
            )?)
        })?;
        Ok(row.map(|r| self.user_at(&r, 0)))
    }

    fn add_waiver(&self, w: NewWaiver, by: &str) -> Result<WaiverRecord, StoreError> {
        self.audited(by, "waiver-added", |tx| {
            let r = tx.query_one(
                &format!(
                    "INSERT INTO waivers (client_id, recipient, expires, reference, added_by,
                                          added_at)
                     VALUES ($1, $2, $3, $4, $5, {NOW})
                     RETURNING id, client_id, recipient, expires, reference, added_by, added_at"
                ),
                &[&w.client_id, &w.recipient, &w.expires, &w.reference, &by],
            )?;
            let rec = waiver_row(&r);
            let details = json!({"waiver": rec.id, "client": rec.client_id,
                "recipient": rec.recipient, "expires": rec.expires, "reference": rec.reference});
            Ok((rec, details))
        })
    }

    fn revoke_waiver(&self, id: i64, by: &str) -> Result<(), StoreError> {
        self.audited(by, "waiver-revoked", |tx| {
            let n = tx.execute(
                &format!(
                    "UPDATE waivers SET revoked_by = $1, revoked_at = {NOW}
                     WHERE id = $2 AND revoked_at IS NULL"
                ),
                &[&by, &id],
            )?;
            if n == 0 {
                return Err(StoreError::NotFound(format!("waiver {id}")));
            }
            Ok(((), json!({"waiver": id})))
        })
    }

    fn waivers(&self) -> Result<Vec<WaiverRecord>, StoreError> {
        let rows = self.with(|c| {
            Ok(c.query(
                "SELECT id, client_id, recipient, expires, reference, added_by, added_at
                 FROM waivers WHERE revoked_at IS NULL ORDER BY id",
                &[],
            )?)
        })?;
        Ok(rows.iter().map(waiver_row).collect())
    }
    fn sso_user(&self, name: &str, role: Role, by: &str) -> Result<User, StoreError> {
        self.write(|tx| {
            let found = tx.query_opt(
                "SELECT password, role, disabled FROM users WHERE name = $1 FOR UPDATE",
                &[&name],
            )?;
            let found: Option<(String, String, bool)> =
                found.map(|r| (r.get(0), r.get(1), r.get(2)));
            let found = found.as_ref().map(|(p, r, d)| (p.as_str(), r.as_str(), *d));
            let change = sso_change(name, found, role)?;
            match &change {
                SsoChange::Add => {
                    tx.execute(
                        &format!(
                            "INSERT INTO users (name, role, password, created_at)
                             VALUES ($1, $2, $3, {NOW})"
                        ),
                        &[&name, &role.as_str(), &SSO_PASSWORD],
                    )?;
                }
                SsoChange::ChangeRole { .. } => {
                    tx.execute(
                        "UPDATE users SET role = $1 WHERE name = $2",
                        &[&role.as_str(), &name],
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
        self.with(|c| {
            // Abandoned logins go whenever a new one starts.
            c.execute(
                &format!("DELETE FROM oidc_logins WHERE expires_at < {NOW}"),
                &[],
            )?;
            c.execute(
                "INSERT INTO oidc_logins (id_hash, nonce, data, expires_at)
                 VALUES ($1, $2, $3, $4)",
                &[&id_hash, &nonce, &sealed, &expires_at],
            )?;
            Ok(())
        })
    }

    fn take_oidc_login(&self, id_hash: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let row = self.with(|c| {
            Ok(c.query_opt(
                &format!(
                    "DELETE FROM oidc_logins WHERE id_hash = $1 AND expires_at > {NOW}
                     RETURNING nonce, data"
                ),
                &[&id_hash],
            )?)
        })?;
        let aad = format!("oidc/{id_hash}");
        Ok(row.and_then(|r| {
            let (n, d): (Vec<u8>, Vec<u8>) = (r.get(0), r.get(1));
            self.sealer.open(aad.as_bytes(), &n, &d)
        }))
    }
}
