//! Envelope addresses, parsed strictly (RFC 5321 `Mailbox`) and normalised
//! before any check: domain lower-cased, trailing dot dropped, IDN turned into
//! A-labels. Forms that different MTAs route differently — source routes, the
//! percent hack, quoted local parts with `@` or `%`, address literals — are
//! refused rather than guessed at; the caller treats such a recipient as
//! unauthorised.

use std::fmt;

/// A parsed, normalised address. Both parts are lower case.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Address {
    pub(crate) local: String,
    pub(crate) domain: String,
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// Parses an envelope address (`a@b.com`, optionally inside `<…>`).
pub(crate) fn parse(input: &str) -> Result<Address, String> {
    let s = input.trim();
    let s = s
        .strip_prefix('<')
        .and_then(|r| r.strip_suffix('>'))
        .unwrap_or(s);
    if s.is_empty() {
        return Err("empty address".into());
    }
    if s.starts_with('@') {
        return Err("source route".into());
    }
    if s.bytes().any(|b| b.is_ascii_control()) {
        return Err("control character".into());
    }
    if !s.starts_with('"') && s.contains(' ') {
        return Err("space outside a quoted local part".into());
    }
    let (local, domain) = split_local(s)?;
    if local.contains('%') || local.contains('!') {
        return Err("percent or bang routing in the local part".into());
    }
    if domain.starts_with('[') {
        return Err("address literal".into());
    }
    let domain = normalise_domain(domain)?;
    Ok(Address {
        local: local.to_lowercase(),
        domain,
    })
}

/// Splits at the one `@` that separates local part and domain. A quoted local
/// part is accepted only when it holds no `@`, `%` or `\`.
fn split_local(s: &str) -> Result<(&str, &str), String> {
    if let Some(rest) = s.strip_prefix('"') {
        let end = rest.find('"').ok_or("unterminated quoted local part")?;
        let inner = &rest[..end];
        if inner.contains(['@', '%', '\\', '"']) {
            return Err("quoted local part holding @, % or a quoted-pair".into());
        }
        let after = &rest[end + 1..];
        let domain = after
            .strip_prefix('@')
            .ok_or("missing @ after quoted local part")?;
        return Ok((&s[..end + 2], domain));
    }
    let mut parts = s.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err("an address has exactly one @".into());
    };
    if local.is_empty() || local.len() > 64 {
        return Err("local part empty or longer than 64 octets".into());
    }
    let atext =
        |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || !c.is_ascii();
    if !local.chars().all(atext)
        || local.starts_with('.')
        || local.ends_with('.')
        || local.contains("..")
    {
        return Err("local part is not a dot-atom".into());
    }
    Ok((local, domain))
}

/// Normalises a domain: case, one trailing dot, IDN to A-labels (UTS 46), and
/// checks it is a host name (letters, digits, hyphens; at least two labels).
pub(crate) fn normalise_domain(input: &str) -> Result<String, String> {
    let d = input.trim();
    let d = d.strip_suffix('.').unwrap_or(d);
    if d.is_empty() {
        return Err("empty domain".into());
    }
    let ascii =
        idna::domain_to_ascii_strict(d).map_err(|_| "not a valid domain name".to_string())?;
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 || ascii.len() > 253 {
        return Err("not a fully qualified domain".into());
    }
    for label in &labels {
        let ldh = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if label.is_empty()
            || label.len() > 63
            || !ldh
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(format!("bad label {label:?}"));
        }
    }
    Ok(ascii)
}

/// Normalises a full address given in a dictionary (screened lists, waivers).
pub(crate) fn normalise_address(input: &str) -> Result<String, String> {
    parse(input).map(|a| a.to_string())
}

/// True when `domain` is `base` or a subdomain of it.
pub(crate) fn within(domain: &str, base: &str) -> bool {
    domain == base
        || (domain.len() > base.len()
            && domain.ends_with(base)
            && domain.as_bytes()[domain.len() - base.len() - 1] == b'.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_and_normalised() {
        let cases = [
            ("a@EVIL.TEST.", "a@evil.test"),
            ("<Bob.Smith@Example.COM>", "bob.smith@example.com"),
            ("x@bücher.example", "x@xn--bcher-kva.example"),
            ("\"john smith\"@example.com", "\"john smith\"@example.com"),
        ];
        for (input, want) in cases {
            assert_eq!(
                parse(input).map(|a| a.to_string()),
                Ok(want.to_string()),
                "{input}"
            );
        }
    }

    #[test]
    fn refused() {
        for input in [
            "a@evil.test@firm.test",
            "\"a@firm.test\"@evil.test",
            "@firm.test:a@evil.test",
            "a%evil.test@firm.test",
            "a@[192.0.2.1]",
            "a@localhost",
            "no-at-sign",
            "a b@example.com",
            "a@exa_mple.com",
            "",
        ] {
            assert!(parse(input).is_err(), "{input} should be refused");
        }
    }

    #[test]
    fn subdomains() {
        assert!(within("sub.client.fr", "client.fr"));
        assert!(within("client.fr", "client.fr"));
        assert!(!within("badclient.fr", "client.fr"));
    }
}
