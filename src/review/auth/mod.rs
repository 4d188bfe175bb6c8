//! Authentication primitives for the review interface and the CLI that
//! creates users and tokens: argon2id passwords, RFC 6238 TOTP, random
//! secrets and their SHA-256 digests. No I/O here; the store keeps the
//! results, `review::session` and `review::api` use them per request.

pub mod password;
pub mod secret;
pub mod totp;

/// User names: what a person types at the login form and what the audit
/// trail shows. Kept to a plain set so a name is never markup or a path.
pub fn valid_user_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
        && !name.starts_with("cli:")
}

#[cfg(test)]
mod tests {
    #[test]
    fn user_names() {
        for ok in ["alice", "a.b-c_d", "x@firm.example"] {
            assert!(super::valid_user_name(ok), "{ok}");
        }
        for bad in ["", "a b", "<script>", "a/b", &"x".repeat(65), "é"] {
            assert!(!super::valid_user_name(bad), "{bad}");
        }
    }
}
