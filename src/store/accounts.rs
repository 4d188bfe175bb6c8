//! Review users, sessions and waivers as stored. Password hashing, TOTP and
//! token generation live in `review::auth`; the store only keeps what they
//! produce (a PHC hash string, a sealed TOTP secret, SHA-256 digests).

use serde::{Deserialize, Serialize};

/// What a user may do (DESIGN §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads the queue and acts on held mail.
    Reviewer,
    /// Reads the queue and the audit log; changes nothing.
    Auditor,
    /// Everything, including users and waivers.
    Admin,
}

impl Role {
    /// The role named as in the CLI and the API.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "reviewer" => Role::Reviewer,
            "auditor" => Role::Auditor,
            "admin" => Role::Admin,
            _ => return None,
        })
    }

    /// The role's name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Reviewer => "reviewer",
            Role::Auditor => "auditor",
            Role::Admin => "admin",
        }
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The login name.
    pub name: String,
    /// What the user may do.
    pub role: Role,
    /// An argon2id PHC string.
    pub password_hash: String,
    /// The raw TOTP secret, when a second factor is enrolled (sealed at rest).
    pub totp_secret: Option<Vec<u8>>,
    /// Issue #18: the clients a reviewer is limited to (`None`: all).
    pub scope: Option<Scope>,
}

/// Issue #18, reviewer scope: the clients a reviewer is limited to, by id
/// and by the `group` column of `clients.csv`. A user without one (`None`
/// on [`User::scope`]) sees every client. Stored as given and resolved
/// against the live dictionaries at each request (`review::walls`), so a
/// client removed by a reload simply stops matching.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Client ids (`client_id` in `clients.csv`).
    #[serde(default)]
    pub clients: Vec<String>,
    /// Client groups (`group` in `clients.csv`).
    #[serde(default)]
    pub groups: Vec<String>,
}

impl Scope {
    /// The stored column: NULL for no scope, JSON otherwise.
    pub(crate) fn to_column(scope: Option<&Scope>) -> Option<String> {
        scope.map(|s| serde_json::to_string(s).expect("a Scope serialises"))
    }

    /// The column read back. One that does not parse (a hand edit) is a
    /// scope that matches nothing: a damaged limit must not become none.
    pub(crate) fn from_column(column: Option<String>) -> Option<Scope> {
        column.map(|c| serde_json::from_str(&c).unwrap_or_default())
    }

    /// "clients C-1, C-2; groups shipping", as the users page and the CLI
    /// say it.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.clients.is_empty() {
            parts.push(format!("clients {}", self.clients.join(", ")));
        }
        if !self.groups.is_empty() {
            parts.push(format!("groups {}", self.groups.join(", ")));
        }
        if parts.is_empty() {
            "no client".into()
        } else {
            parts.join("; ")
        }
    }
}

#[derive(Debug, Clone, Serialize)]
/// A review user as stored (the password hash never leaves the store in JSON).
pub struct User {
    /// The login name.
    pub name: String,
    /// What the user may do (for a single sign-on user, what the
    /// provider's claim mapped to at the last login).
    pub role: Role,
    #[serde(skip)]
    pub(crate) password_hash: String,
    #[serde(skip)]
    /// The raw TOTP secret, opened; never serialised.
    pub totp_secret: Option<Vec<u8>>,
    /// A disabled user cannot log in and has no sessions or tokens.
    pub disabled: bool,
    pub(crate) created_at: String,
    /// Issue #18: the clients a reviewer is limited to (`None`: all).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
}

/// The password column of a user made by a single sign-on login: not a
/// PHC string, so no password ever matches it.
pub(crate) const SSO_PASSWORD: &str = "!sso";

/// What a single sign-on login does to the users table (both backends
/// run the SQL; the decision and its audit entry are made here once).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum SsoChange {
    /// No such user: add one with the provider's role and no password.
    Add,
    /// An enabled SSO user whose role the provider now maps differently.
    ChangeRole {
        /// The role it had.
        from: String,
    },
    /// Nothing to write (same role, or disabled: a disabled user stays as
    /// an administrator left it, and the login is refused elsewhere).
    Nothing,
}

/// Decides [`SsoChange`] for user `name` given what the table holds for it
/// (password, role, disabled); a local account of that name is refused:
/// single sign-on never takes over a break-glass account.
pub(crate) fn sso_change(
    name: &str,
    found: Option<(&str, &str, bool)>,
    role: Role,
) -> Result<SsoChange, super::StoreError> {
    match found {
        None => Ok(SsoChange::Add),
        Some((pw, _, _)) if pw != SSO_PASSWORD => {
            Err(super::StoreError::Exists(format!("local user {name}")))
        }
        Some((_, old, false)) if old != role.as_str() => Ok(SsoChange::ChangeRole {
            from: old.to_string(),
        }),
        Some(_) => Ok(SsoChange::Nothing),
    }
}

impl SsoChange {
    /// The audit entry for the change, by `by`.
    pub(crate) fn event(&self, by: &str, name: &str, role: Role) -> Option<super::AuditEvent> {
        let (kind, details) = match self {
            SsoChange::Add => (
                "user-added",
                serde_json::json!({"user": name, "role": role.as_str(), "sso": true}),
            ),
            SsoChange::ChangeRole { from } => (
                "user-role-changed",
                serde_json::json!({"user": name, "from": from, "to": role.as_str()}),
            ),
            SsoChange::Nothing => return None,
        };
        Some(super::AuditEvent::new(by, kind, details))
    }
}

impl User {
    pub(crate) fn has_totp(&self) -> bool {
        self.totp_secret.is_some()
    }

    /// Made by a single sign-on login (issue #18), not by `user add`.
    pub fn is_sso(&self) -> bool {
        self.password_hash == SSO_PASSWORD
    }
}

/// A browser session. The cookie carries a random id; the store keeps only
/// its SHA-256, so a copy of the database opens no session.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    /// SHA-256 of the cookie's random id.
    pub id_hash: String,
    /// Whose session it is.
    pub user: String,
    /// The synchroniser token every form of this session must carry.
    pub csrf: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The absolute end (`[review] session_minutes` after the login).
    pub expires_at: String,
    /// The last request: the idle timeout (`[review] idle_minutes`) counts
    /// from here.
    pub seen_at: String,
    /// The last time the user proved who they are (login, or the password
    /// asked again before a release).
    pub authed_at: String,
}

/// A waiver added in the review interface (DESIGN §3), beside those of
/// `waivers.csv`.
#[derive(Debug, Clone)]
pub struct NewWaiver {
    /// The client the waiver is for.
    pub client_id: String,
    /// A normalised address, or a domain (subdomains included).
    pub recipient: String,
    /// ISO date; the waiver stops counting after that day.
    pub expires: String,
    /// Why (a ticket or engagement letter); shown in the audit trail.
    pub reference: String,
}

#[derive(Debug, Clone, Serialize)]
/// A waiver as stored, with the id that revokes it.
pub struct WaiverRecord {
    /// The id to revoke it by.
    pub id: i64,
    pub(crate) client_id: String,
    pub(crate) recipient: String,
    pub(crate) expires: String,
    pub(crate) reference: String,
    pub(crate) added_by: String,
    pub(crate) added_at: String,
}
