//! SMTP AUTH as a client (RFC 4954), PLAIN (RFC 4616) or LOGIN, toward a
//! next hop that asks for it (Google Workspace's SMTP relay, a smarthost).
//! Only ever over TLS: on a plaintext connection the relay fails with a
//! transport error (`451`) before any credential is sent. A refused login
//! is a transport failure too, never a bounce: the message is fine, our
//! credentials are not.

use super::{capability_lines, Conn, RelayError};
use crate::config::next_hop::Auth;
use crate::smtp::codec::Reply;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

/// Which mechanism the next hop's EHLO reply lets us use; PLAIN first.
fn mechanism(ehlo: &Reply) -> Option<&'static str> {
    let offered: Vec<String> = capability_lines(ehlo)
        .filter_map(|l| {
            let upper = l.to_ascii_uppercase();
            let rest = upper
                .strip_prefix("AUTH ")
                .or_else(|| upper.strip_prefix("AUTH="))?
                .to_string();
            Some(rest)
        })
        .flat_map(|rest| {
            rest.split_whitespace()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .collect();
    ["PLAIN", "LOGIN"]
        .into_iter()
        .find(|m| offered.iter().any(|o| o == m))
}

/// Logs in with `auth`; the connection must already be TLS.
pub(super) async fn login(conn: &mut Conn, auth: &Auth, ehlo: &Reply) -> Result<(), RelayError> {
    if !conn.io.get_ref().is_tls() {
        return Err(RelayError::Auth(
            "refusing to send credentials without TLS".into(),
        ));
    }
    let Some(mech) = mechanism(ehlo) else {
        return Err(RelayError::Auth(
            "the next hop offers neither AUTH PLAIN nor LOGIN".into(),
        ));
    };
    let done = match mech {
        "PLAIN" => {
            let token = B64.encode(format!("\0{}\0{}", auth.user, auth.password));
            secret(conn, format!("AUTH PLAIN {token}")).await?
        }
        _ => {
            let go = conn.command("AUTH", "AUTH LOGIN".into()).await?;
            expect_334(&go)?;
            let go = secret(conn, B64.encode(&auth.user)).await?;
            expect_334(&go)?;
            secret(conn, B64.encode(&auth.password)).await?
        }
    };
    if done.code == 235 {
        Ok(())
    } else {
        Err(RelayError::Auth(format!(
            "AUTH {mech} refused: {}",
            done.code
        )))
    }
}

/// A line carrying a credential: sent like any command, but an error about
/// it never quotes the line.
async fn secret(conn: &mut Conn, line: String) -> Result<Reply, RelayError> {
    conn.command("AUTH", line).await
}

fn expect_334(reply: &Reply) -> Result<(), RelayError> {
    if reply.code == 334 {
        Ok(())
    } else {
        Err(RelayError::Auth(format!(
            "AUTH LOGIN refused: {}",
            reply.code
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_is_preferred_and_login_is_found() {
        let ehlo = |caps: &str| Reply::new(250, format!("mx.example\n{caps}"));
        assert_eq!(mechanism(&ehlo("AUTH LOGIN PLAIN")), Some("PLAIN"));
        assert_eq!(mechanism(&ehlo("AUTH=LOGIN")), Some("LOGIN"));
        assert_eq!(mechanism(&ehlo("auth cram-md5 login")), Some("LOGIN"));
        assert_eq!(mechanism(&ehlo("AUTH CRAM-MD5")), None);
        assert_eq!(mechanism(&ehlo("SIZE 10")), None);
    }
}
