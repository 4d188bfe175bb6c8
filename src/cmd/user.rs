//! `matterwall user add`, `matterwall user scope` and `matterwall token
//! create`: the accounts the review interface and its API accept. All are
//! audited (actor `cli:USER`).

use super::quarantine::{cli_actor, open_store};
use anyhow::{bail, Context, Result};
use matterwall::config::Config;
use matterwall::review::auth::{password, secret, totp, valid_user_name};
use matterwall::review::scope;
use matterwall::store::{NewUser, Role};
use std::io::BufRead;

/// Creates a user. The password is read from the first line of standard
/// input with `password_stdin`; otherwise one is generated and printed once.
/// With `with_totp`, a TOTP secret is enrolled and its `otpauth://` URI
/// printed for the user's authenticator app. `(clients, groups)`, as
/// typed, limit a reviewer to those clients (issue #18; both empty: none).
pub(crate) fn add(
    cfg: &Config,
    name: &str,
    role: &str,
    password_stdin: bool,
    with_totp: bool,
    (clients, groups): (&str, &str),
) -> Result<()> {
    if !valid_user_name(name) {
        bail!("user name {name:?}: use 1 to 64 letters, digits, '.', '_', '-' or '@'");
    }
    let role = Role::parse(role)
        .with_context(|| format!("role {role:?}: expected reviewer, auditor or admin"))?;
    let scope = scope::from_lists(cfg, role, clients, groups).map_err(anyhow::Error::msg)?;
    let (pw, generated) = if password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("cannot read the password from standard input")?;
        (line.trim_end_matches(['\r', '\n']).to_string(), false)
    } else {
        (password::generate(), true)
    };
    let password_hash = password::hash(&pw).map_err(anyhow::Error::msg)?;
    let totp_secret = with_totp.then(totp::new_secret);
    let user = NewUser {
        name: name.to_string(),
        role,
        password_hash,
        totp_secret: totp_secret.clone(),
        scope: scope.clone(),
    };
    open_store(cfg)?.add_user(user, &cli_actor())?;
    println!("user {name} added ({})", role.as_str());
    if let Some(sc) = scope {
        println!("scope: {}", sc.describe());
    }
    if generated {
        println!("password: {pw}");
    }
    if let Some(s) = totp_secret {
        println!("totp: {}", totp::otpauth_uri("matterwall", name, &s));
    }
    Ok(())
}

/// Prints user `name`'s scope; or sets it to `(clients, groups)`, checked
/// against the dictionaries; or with `clear` lifts it. Setting both lists
/// empty is refused rather than read as "lift": lifting is said out loud.
pub(crate) fn scope(
    cfg: &Config,
    name: &str,
    (clients, groups): (&str, &str),
    clear: bool,
) -> Result<()> {
    let store = open_store(cfg)?;
    let Some(user) = store.user(name)? else {
        bail!("no user {name}: add it first with `matterwall user add`");
    };
    let typed = !clients.is_empty() || !groups.is_empty();
    if !clear && !typed {
        match &user.scope {
            Some(sc) => println!("{name}: {}", sc.describe()),
            None => println!("{name}: every client (no scope)"),
        }
        return Ok(());
    }
    let new = if clear {
        None
    } else {
        match scope::from_lists(cfg, user.role, clients, groups).map_err(anyhow::Error::msg)? {
            Some(sc) => Some(sc),
            None => bail!("give client ids with --clients or groups with --groups, or --clear"),
        }
    };
    store.set_scope(name, new.as_ref(), &cli_actor())?;
    match new {
        Some(sc) => println!("{name}: scope set to {}", sc.describe()),
        None => println!("{name}: scope lifted (every client)"),
    }
    Ok(())
}

/// Prints a new API bearer token acting as `name`. Only its SHA-256 is
/// stored: the token cannot be shown again.
pub(crate) fn token(cfg: &Config, name: &str) -> Result<()> {
    let store = open_store(cfg)?;
    match store.user(name)? {
        None => bail!("no user {name}: add it first with `matterwall user add`"),
        Some(u) if u.disabled => bail!("user {name} is disabled"),
        Some(_) => {}
    }
    let token = secret::random_token("mwt_");
    store.add_token(&secret::digest(&token), name, &cli_actor())?;
    println!("{token}");
    Ok(())
}
