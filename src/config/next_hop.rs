//! `[next_hop]` compiled: the STARTTLS mode with its verifier and the client
//! certificate we present (`tls_client_cert`/`tls_client_key`: Exchange
//! Online's inbound connector recognises the gateway by it), and the SMTP
//! AUTH credentials (`auth_user`/`auth_password_file`: Google Workspace's
//! SMTP relay). Both are checked here at load, so a bad file or a setting
//! that would send a password in plaintext is a config error, never a
//! surprise at the first message.

use super::raw::RawNextHop;
use super::tls::{self, ClientIdentity, NextHopTls};
use super::{Problem, Problems};
use std::fmt;
use std::path::Path;

/// SMTP AUTH credentials toward the next hop. Used only over TLS.
#[derive(Clone)]
pub(crate) struct Auth {
    pub(crate) user: String,
    pub(crate) password: String,
}

/// The password never reaches a log line, even through `{:?}`.
impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Auth {{ user: {:?}, password: <redacted> }}", self.user)
    }
}

/// `[next_hop] tls`, `tls_ca`, `tls_client_cert` and `tls_client_key`.
pub(crate) fn compile_tls(hop: &RawNextHop, dir: &Path, problems: &mut Problems) -> NextHopTls {
    let required = match hop.tls.as_str() {
        "none" => false,
        "opportunistic" => false,
        "required" => true,
        other => {
            problems.add(format!(
                "[next_hop] tls: {other:?} is not none, opportunistic or required"
            ));
            return NextHopTls::None;
        }
    };
    let identity = match (&hop.tls_client_cert, &hop.tls_client_key) {
        (None, None) => None,
        (Some(c), Some(k)) => Some((super::resolve(dir, c), super::resolve(dir, k))),
        _ => {
            let why = "[next_hop] tls_client_cert and tls_client_key go together";
            problems.add(why);
            return NextHopTls::None;
        }
    };
    if identity.is_some() && !required {
        // A gateway whose certificate is its identity must not relay
        // without it: the next hop would refuse, or worse, take it as anyone.
        let why = "[next_hop] tls_client_cert needs tls = \"required\"";
        problems.add(why);
        return NextHopTls::None;
    }
    if hop.tls == "none" {
        return NextHopTls::None;
    }
    let ca = hop.tls_ca.as_deref().map(|p| super::resolve(dir, p));
    let identity = identity
        .as_ref()
        .map(|(cert, key)| ClientIdentity { cert, key });
    match tls::client_config(ca.as_deref(), identity) {
        Ok(c) if required => NextHopTls::Required(c),
        Ok(c) => NextHopTls::Opportunistic(c),
        Err(p) => {
            problems.push(p);
            NextHopTls::None
        }
    }
}

/// `[next_hop] auth_user` and `auth_password_file` (the password is the
/// file's first line). AUTH is only ever sent over TLS, so it needs
/// `tls = "required"`.
pub(crate) fn compile_auth(hop: &RawNextHop, dir: &Path, problems: &mut Problems) -> Option<Auth> {
    let (user, file) = match (&hop.auth_user, &hop.auth_password_file) {
        (None, None) => return None,
        (Some(u), Some(f)) => (u, super::resolve(dir, f)),
        _ => {
            let why = "[next_hop] auth_user and auth_password_file go together";
            problems.add(why);
            return None;
        }
    };
    if hop.tls != "required" {
        let why =
            "[next_hop] auth_user needs tls = \"required\" (a password never goes in plaintext)";
        problems.add(why);
        return None;
    }
    if user.is_empty() || user.contains(['\0', '\r', '\n']) {
        problems.add("[next_hop] auth_user is empty or has control characters");
        return None;
    }
    let text = match std::fs::read_to_string(&file) {
        Ok(t) => t,
        Err(e) => {
            let why = format!("auth_password_file: cannot read: {e}");
            problems.push(Problem::at(&file, None, why));
            return None;
        }
    };
    let password = text.lines().next().unwrap_or("").to_string();
    if password.is_empty() || password.contains('\0') {
        let why = "auth_password_file: the first line (the password) is empty";
        problems.push(Problem::at(&file, None, why));
        return None;
    }
    Some(Auth {
        user: user.clone(),
        password,
    })
}
