//! `[smtp]` settings for where the firm's mail really comes from (issue 14):
//! the name matterwall gives itself (`hostname`: a fully qualified name in
//! the banner, the EHLO reply and its own EHLO toward the next hop, since
//! Exchange Online and Google check it) and `accept_tenant_ids` (the
//! Microsoft 365 tenants whose mail is taken) and `proxy_protocol_from`
//! (the load balancers that speak the PROXY protocol), checked at load.

use super::raw::RawSmtp;
use super::Problems;
use std::net::SocketAddr;

/// A DNS name: labels of letters, digits and inner hyphens, 1–63 bytes
/// each, 253 in all. It goes on the wire as is, so nothing else passes.
fn is_dns_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// Fully qualified: a DNS name of two labels or more whose last is not a
/// number (`gw.firm.example`, not `matterwall`, not `10.0.0.1`).
pub(crate) fn is_fqdn(name: &str) -> bool {
    is_dns_name(name)
        && name.contains('.')
        && !name
            .rsplit('.')
            .next()
            .is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit()))
}

/// `[smtp] hostname`: always a DNS name; fully qualified unless the
/// listener is on loopback only (the shipped example and the tests, where
/// no outside peer ever reads it).
pub(crate) fn check_hostname(smtp: &RawSmtp, problems: &mut Problems) {
    let name = &smtp.hostname;
    let loopback = smtp
        .listen
        .parse::<SocketAddr>()
        .is_ok_and(|a| a.ip().is_loopback());
    if !is_dns_name(name) {
        problems.add(format!("[smtp] hostname: {name:?} is not a host name"));
    } else if !loopback && !is_fqdn(name) {
        problems.add(format!(
            "[smtp] hostname: {name:?} is not fully qualified (e.g. \"gw.firm.example\"); \
             only a listener on loopback may go without"
        ));
    }
}

/// A tenant id as Microsoft shows it: a GUID, 8-4-4-4-12 hex digits.
fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// `[smtp] accept_tenant_ids`: each a GUID.
pub(crate) fn check_tenants(smtp: &RawSmtp, problems: &mut Problems) {
    for id in smtp.accept_tenant_ids.iter().filter(|id| !is_guid(id)) {
        problems.add(format!(
            "[smtp] accept_tenant_ids: {id:?} is not a tenant id (a GUID like \"6babcaad-604b-40ac-a9d7-9fd97c0b779f\")"
        ));
    }
}

/// `[smtp] proxy_protocol_from`: CIDR blocks, like `allowed_networks`.
pub(crate) fn compile_proxy_from(
    smtp: &RawSmtp,
    problems: &mut Problems,
) -> Vec<super::network::Network> {
    let mut out = Vec::new();
    for n in &smtp.proxy_protocol_from {
        match super::network::Network::parse(n) {
            Ok(n) => out.push(n),
            Err(why) => problems.add(format!("[smtp] proxy_protocol_from: {why}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fully_qualified_names() {
        for good in ["gw.firm.example", "mx-1.eu.firm.example", "a.b"] {
            assert!(is_fqdn(good), "{good}");
        }
        let long = format!("{}.example", "a".repeat(64));
        for bad in [
            "matterwall",
            "gw.firm.example.",
            "-gw.firm.example",
            "10.0.0.1",
            "gw firm.example",
            "gw.firm.example\r\n250 x",
            "",
            long.as_str(),
        ] {
            assert!(!is_fqdn(bad), "{bad:?}");
        }
    }

    #[test]
    fn tenant_ids_are_guids() {
        assert!(is_guid("6babcaad-604b-40ac-a9d7-9fd97c0b779f"));
        assert!(is_guid("6BABCAAD-604B-40AC-A9D7-9FD97C0B779F"));
        assert!(!is_guid("firm.onmicrosoft.com"));
        assert!(!is_guid("6babcaad-604b-40ac-a9d7-9fd97c0b779"));
    }

    #[test]
    fn a_short_name_is_only_for_loopback() {
        let mut smtp = RawSmtp::default();
        let found = |smtp: &RawSmtp| {
            let mut problems = Problems::new("m.toml");
            check_hostname(smtp, &mut problems);
            problems.found().to_vec()
        };
        let problems = found(&smtp);
        assert!(problems.is_empty(), "the default on loopback: {problems:?}");
        smtp.listen = "0.0.0.0:25".into();
        let problems = found(&smtp);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].reason.contains("not fully qualified"));
        smtp.hostname = "gw.firm.example".into();
        let problems = found(&smtp);
        assert!(problems.is_empty(), "{problems:?}");
        smtp.hostname = "gw\r\n".into();
        smtp.listen = "127.0.0.1:25".into();
        let problems = found(&smtp);
        assert_eq!(problems.len(), 1, "never a broken banner, even on loopback");
    }
}
