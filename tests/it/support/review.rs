//! The review listener as a test drives it: a logged-in browser session
//! ([`Web`]: cookie and CSRF token), the login form, and bearer-token API
//! calls, over real sockets through [`super::http`]. Shared by the review,
//! session, wall and login-flood tests.

use super::http::{self, Response};

pub const PW: &str = "a long enough password";

pub async fn api(port: u16, method: &str, path: &str, token: Option<&str>, body: &str) -> Response {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("Content-Type", "application/json")];
    if let Some(a) = &auth {
        headers.push(("Authorization", a.as_str()));
    }
    http::request(port, method, path, &headers, body.as_bytes()).await
}

/// A logged-in browser session as seen over HTTP: its cookie and the CSRF
/// token its pages carry.
pub struct Web {
    pub port: u16,
    pub cookie: String,
    pub csrf: String,
}

impl Web {
    /// The session a successful login (`r`, its 303) set, with the CSRF
    /// token read from the queue page it opens.
    pub async fn signed_in(port: u16, r: &Response) -> Web {
        let cookie = format!("mw_session={}", r.cookies()["mw_session"]);
        let page = http::get(port, "/queue", &[("Cookie", &cookie)]).await;
        assert_eq!(page.status, 200);
        Web {
            port,
            csrf: hidden_csrf(&page.text()),
            cookie,
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        http::get(self.port, path, &[("Cookie", &self.cookie)]).await
    }

    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let headers = [
            ("Cookie", self.cookie.as_str()),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ];
        http::request(self.port, "POST", path, &headers, &http::form(fields)).await
    }
}

pub fn hidden_csrf(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..at + html[at..].find('"').unwrap()].to_string()
}

/// Fetches the login form and posts it; returns the response and the
/// login cookie sent.
pub async fn login_attempt(port: u16, user: &str, pw: &str, code: &str) -> Response {
    let form = http::get(port, "/login", &[]).await;
    let token = form.cookies()["mw_login"].clone();
    assert_eq!(hidden_csrf(&form.text()), token);
    let cookie = format!("mw_login={token}");
    let body = http::form(&[
        ("csrf", &token),
        ("username", user),
        ("password", pw),
        ("code", code),
    ]);
    let headers = [
        ("Cookie", cookie.as_str()),
        ("Content-Type", "application/x-www-form-urlencoded"),
    ];
    http::request(port, "POST", "/login", &headers, &body).await
}

pub async fn login(port: u16, user: &str, pw: &str) -> Web {
    let r = login_attempt(port, user, pw, "").await;
    assert_eq!(r.status, 303, "{}", r.text());
    let set = r
        .headers
        .iter()
        .find(|(n, v)| n == "set-cookie" && v.starts_with("mw_session="))
        .unwrap()
        .1
        .clone();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    assert!(!set.contains("Secure"), "no TLS here: {set}");
    assert!(r.header("strict-transport-security").is_none());
    Web::signed_in(port, &r).await
}

pub fn base32_decode(s: &str) -> Vec<u8> {
    let mut bits = 0u64;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {s}"),
        };
        bits = (bits << 5) | v as u64;
        n += 5;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}
