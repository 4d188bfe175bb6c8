//! Review users, sessions and waivers as stored. Password hashing, TOTP and
//! token generation live in `review::auth`; the store only keeps what they
//! produce (a PHC hash string, a sealed TOTP secret, SHA-256 digests).

use serde::Serialize;

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
}

/// The password column of a user made by a single sign-on login: not a
/// PHC string, so no password ever matches it.
pub(crate) const SSO_PASSWORD: &str = "!sso";

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
