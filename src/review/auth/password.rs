//! Passwords: argon2id with the crate's default cost (19 MiB, 2 passes,
//! OWASP's minimum), stored as a PHC string that carries its own salt and
//! parameters, so the cost can be raised later without breaking old hashes.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use std::sync::OnceLock;

/// Shorter passwords are refused when a user is created.
pub(crate) const MIN_LENGTH: usize = 12;

/// Hashes a new password with argon2id (a PHC string); refuses one shorter than the minimum.
pub fn hash(password: &str) -> Result<String, String> {
    if password.chars().count() < MIN_LENGTH {
        return Err(format!(
            "the password is shorter than {MIN_LENGTH} characters"
        ));
    }
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash the password: {e}"))
}

/// True when `password` matches `phc`. A malformed hash never matches.
pub(crate) fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same time as a real check, for a user that does not exist:
/// the login form must not tell which names are real by how fast it fails.
pub(crate) fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("not a real password at all").unwrap_or_default());
    let _ = verify(password, phc);
}

/// A random password for `user add` without `--password-stdin`.
pub fn generate() -> String {
    super::secret::random_token("").chars().take(20).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let h = hash("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse battery", &h));
        assert!(!verify("correct horse batterY", &h));
        assert!(!verify("x", "not a phc string"));
        assert!(hash("short").is_err());
        assert_eq!(generate().len(), 20);
    }
}
