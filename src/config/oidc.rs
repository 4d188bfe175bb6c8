//! `[review.oidc]` checked: single sign-on with an OpenID Connect provider
//! (issue #18). URLs parse and are HTTPS (plain HTTP only on loopback, for
//! a provider under test), the secret file is read, every role named in
//! `roles` exists. Each problem names the file, the key's line and why.
//! The provider itself is not contacted here: a provider that is down must
//! not stop a load (the review listener fetches its discovery document).

use super::error::{Problem, Problems};
use super::raw::RawOidc;
use crate::store::Role;
use std::path::Path;

/// The path the review listener serves the provider's answer on.
pub const CALLBACK_PATH: &str = "/login/oidc/callback";

/// `[review.oidc]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oidc {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
    pub redirect_url: String,
    pub role_claim: String,
    pub name_claim: String,
    /// Asked for besides `openid`.
    pub scopes: Vec<String>,
    pub label: String,
    /// Claim value → role, in the file's order (sorted by value).
    pub roles: Vec<(String, Role)>,
}

/// Line numbers for spans of the TOML text.
struct Lines<'a> {
    text: &'a str,
}

impl Lines<'_> {
    /// Reports `why` at the line `span` starts on (a default value has an
    /// empty span at 0: no line then).
    fn at(&self, problems: &mut Problems, span: std::ops::Range<usize>, why: String) {
        if span == (0..0) {
            problems.add(why);
        } else {
            let line = self.text[..span.start.min(self.text.len())].lines().count();
            problems.line(line.max(1), why);
        }
    }
}

/// Checks `raw` (the config file's `text` gives the lines); `None` after
/// reporting a problem.
pub fn compile(raw: &RawOidc, text: &str, dir: &Path, problems: &mut Problems) -> Option<Oidc> {
    let lines = Lines { text };
    let before = problems.count();
    check_url(&lines, problems, "issuer", &raw.issuer);
    let redirect = check_url(&lines, problems, "redirect_url", &raw.redirect_url);
    if let Some(u) = &redirect {
        if u.path() != CALLBACK_PATH || u.query().is_some() {
            let why = format!("[review.oidc] redirect_url must end in {CALLBACK_PATH} (the page that takes the provider's answer), not {:?}", u.path());
            lines.at(problems, raw.redirect_url.span(), why);
        }
    }
    for (key, v) in [
        ("client_id", &raw.client_id),
        ("role_claim", &raw.role_claim),
        ("name_claim", &raw.name_claim),
    ] {
        if v.get_ref().trim().is_empty() || v.get_ref().contains(char::is_control) {
            let why = format!("[review.oidc] {key} is empty or has control characters");
            lines.at(problems, v.span(), why);
        }
    }
    let secret = read_secret(&lines, problems, dir, raw);
    let roles = check_roles(&lines, problems, raw);
    if problems.count() > before {
        return None;
    }
    Some(Oidc {
        issuer: raw.issuer.get_ref().trim_end_matches('/').to_string(),
        client_id: raw.client_id.get_ref().clone(),
        client_secret: secret?,
        redirect_url: raw.redirect_url.get_ref().clone(),
        role_claim: raw.role_claim.get_ref().clone(),
        name_claim: raw.name_claim.get_ref().clone(),
        scopes: raw.scopes.get_ref().clone(),
        label: raw
            .label
            .clone()
            .unwrap_or_else(|| "Sign in with single sign-on".into()),
        roles,
    })
}

/// An absolute http(s) URL; plain HTTP only for a loopback host (a
/// provider or a listener under test), since the code and the ID token
/// travel on it.
fn check_url(
    lines: &Lines<'_>,
    problems: &mut Problems,
    key: &str,
    v: &toml::Spanned<String>,
) -> Option<url::Url> {
    let u = match url::Url::parse(v.get_ref()) {
        Ok(u) => u,
        Err(e) => {
            let why = format!("[review.oidc] {key}: {:?} is not a URL: {e}", v.get_ref());
            lines.at(problems, v.span(), why);
            return None;
        }
    };
    let loopback = matches!(
        u.host(),
        Some(url::Host::Domain("localhost"))
            | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
            | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
    );
    let ok = match u.scheme() {
        "https" => true,
        "http" => loopback,
        _ => false,
    };
    if !ok || u.fragment().is_some() || !u.username().is_empty() {
        let why = format!(
            "[review.oidc] {key}: {:?} must be an https URL (http only on localhost), without credentials or fragment",
            v.get_ref()
        );
        lines.at(problems, v.span(), why);
        return None;
    }
    Some(u)
}

/// The first line of `client_secret_file` (relative to the config folder).
fn read_secret(
    lines: &Lines<'_>,
    problems: &mut Problems,
    dir: &Path,
    raw: &RawOidc,
) -> Option<String> {
    let file = super::resolve(dir, raw.client_secret_file.get_ref());
    match std::fs::read_to_string(&file) {
        Ok(t) => {
            let secret = t.lines().next().unwrap_or("").trim().to_string();
            if secret.is_empty() {
                let why = "client_secret_file: the first line (the secret) is empty";
                problems.push(Problem::at(&file, None, why));
                return None;
            }
            Some(secret)
        }
        Err(e) => {
            let why = format!(
                "[review.oidc] client_secret_file: cannot read {}: {e}",
                file.display()
            );
            lines.at(problems, raw.client_secret_file.span(), why);
            None
        }
    }
}

fn check_roles(lines: &Lines<'_>, problems: &mut Problems, raw: &RawOidc) -> Vec<(String, Role)> {
    let span = raw.roles.span();
    if raw.roles.get_ref().is_empty() {
        let why = "[review.oidc] roles is empty: nobody could log in (map claim values to reviewer, auditor or admin)";
        lines.at(problems, span.clone(), why.into());
    }
    let mut out = Vec::new();
    for (value, role) in raw.roles.get_ref() {
        match Role::parse(role) {
            Some(r) => out.push((value.clone(), r)),
            None => {
                let why = format!(
                    "[review.oidc.roles] {value:?} = {role:?}: not reviewer, auditor or admin"
                );
                lines.at(problems, span.clone(), why);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(toml_text: &str, secret: Option<&str>) -> (Option<Oidc>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        if let Some(s) = secret {
            std::fs::write(dir.path().join("secret"), s).unwrap();
        }
        #[derive(serde::Deserialize)]
        struct Wrap {
            review: Review,
        }
        #[derive(serde::Deserialize)]
        struct Review {
            oidc: RawOidc,
        }
        let raw: Wrap = toml::from_str(toml_text).unwrap();
        let mut p = Problems::new("m.toml");
        let got = compile(&raw.review.oidc, toml_text, dir.path(), &mut p);
        let found = p.found().iter().map(|p| p.to_string()).collect();
        (got, found)
    }

    const GOOD: &str = "[review.oidc]\nissuer = \"https://login.example/tenant/v2.0/\"\n\
        client_id = \"mw\"\nclient_secret_file = \"secret\"\n\
        redirect_url = \"https://review.firm.example/login/oidc/callback\"\n\
        [review.oidc.roles]\n\"mw-reviewers\" = \"reviewer\"\n\"mw-admins\" = \"admin\"\n";

    #[test]
    fn a_good_section() {
        let (got, found) = load(GOOD, Some("s3cret\n"));
        assert_eq!(found, Vec::<String>::new());
        let got = got.unwrap();
        assert_eq!(got.issuer, "https://login.example/tenant/v2.0");
        assert_eq!(got.client_secret, "s3cret");
        assert_eq!(got.role_claim, "groups");
        assert_eq!(got.name_claim, "email");
        assert_eq!(
            got.roles,
            vec![
                ("mw-admins".to_string(), Role::Admin),
                ("mw-reviewers".to_string(), Role::Reviewer)
            ]
        );
    }

    #[test]
    fn each_problem_names_its_line() {
        let bad = GOOD
            .replace("https://login.example", "http://login.example")
            .replace("/login/oidc/callback", "/callback")
            .replace("\"admin\"", "\"root\"");
        let (got, found) = load(&bad, None);
        assert!(got.is_none());
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(
            found[0].starts_with("m.toml:2: [review.oidc] issuer"),
            "{found:?}"
        );
        assert!(
            found[1].starts_with(
                "m.toml:5: [review.oidc] redirect_url must end in /login/oidc/callback"
            ),
            "{found:?}"
        );
        assert!(
            found[2].starts_with("m.toml:4: [review.oidc] client_secret_file: cannot read"),
            "{found:?}"
        );
        assert!(
            found[3].contains("\"mw-admins\" = \"root\": not reviewer, auditor or admin"),
            "{found:?}"
        );
        let local = GOOD.replace("https://login.example", "http://localhost:9000");
        assert_eq!(load(&local, Some("s")).1, Vec::<String>::new());
    }
}
