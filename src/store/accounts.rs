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
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "reviewer" => Role::Reviewer,
            "auditor" => Role::Auditor,
            "admin" => Role::Admin,
            _ => return None,
        })
    }

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
    pub name: String,
    pub role: Role,
    /// An argon2id PHC string.
    pub password_hash: String,
    /// The raw TOTP secret, when a second factor is enrolled (sealed at rest).
    pub totp_secret: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct User {
    pub name: String,
    pub role: Role,
    #[serde(skip)]
    pub password_hash: String,
    #[serde(skip)]
    pub totp_secret: Option<Vec<u8>>,
    pub disabled: bool,
    pub created_at: String,
}

impl User {
    pub fn has_totp(&self) -> bool {
        self.totp_secret.is_some()
    }
}

/// A browser session. The cookie carries a random id; the store keeps only
/// its SHA-256, so a copy of the database opens no session.
#[derive(Debug, Clone)]
pub struct SessionRecord {
    pub id_hash: String,
    pub user: String,
    /// The synchroniser token every form of this session must carry.
    pub csrf: String,
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
    pub client_id: String,
    /// A normalised address, or a domain (subdomains included).
    pub recipient: String,
    /// ISO date; the waiver stops counting after that day.
    pub expires: String,
    pub reference: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct WaiverRecord {
    pub id: i64,
    pub client_id: String,
    pub recipient: String,
    pub expires: String,
    pub reference: String,
    pub added_by: String,
    pub added_at: String,
}
