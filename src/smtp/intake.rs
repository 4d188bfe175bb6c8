//! What the session checks in a complete message before the act stage
//! sees it (issue 14). `[smtp] accept_tenant_ids`: mail from Microsoft 365
//! arrives from address ranges every tenant shares, so the tenant that
//! sent it is read from `X-MS-Exchange-CrossTenant-Id` (or, failing that,
//! `X-EOPTenantAttributedMessage`, whose value starts with the same GUID):
//! missing, or any copy naming another tenant, is `550 5.7.1`.
//!
//! Any `X-Matterwall-Stamp` is removed first ([`super::stamp::strip`]):
//! only what matterwall sends on carries one. One that is our own means
//! the message came back round: the firm's transport rule is missing its
//! exception, which the log says (the message is scanned again regardless).
//!
//! Header fields are read from the raw header block (up to the first empty
//! line), unfolded; names compare case-insensitively.

use super::codec::Reply;
use super::session::Limits;
use super::stamp;
use std::net::SocketAddr;

/// What the session hands the act stage: the message without stamps, or
/// the refusal to send instead.
pub(crate) fn admit(
    limits: &Limits,
    client: Option<SocketAddr>,
    raw: Vec<u8>,
) -> Result<Vec<u8>, Reply> {
    let stamped = !values(&raw, stamp::FIELD).is_empty();
    let ours = stamped
        && limits
            .stamp
            .get()
            .is_ok_and(|key| stamp::verify(&key, &raw).is_ok());
    let (raw, stripped) = stamp::strip(raw);
    if ours {
        tracing::warn!(client = ?client, "a message came back carrying our own stamp: check the transport rule's exception (mail loop)");
    } else if stripped > 0 {
        tracing::info!(client = ?client, stripped, "removed an X-Matterwall-Stamp that matterwall did not make");
    }
    match check_tenant(&raw, &limits.accept_tenants) {
        None => Ok(raw),
        Some(refusal) => Err(refusal),
    }
}

/// The header block: everything before the first empty line (all of the
/// message if there is none).
pub(crate) fn header_block(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"\r\n") {
        return &[];
    }
    match memchr::memmem::find(raw, b"\r\n\r\n") {
        Some(i) => &raw[..i + 2],
        None => raw,
    }
}

/// Each field of the header block as (name, unfolded value), in order.
pub(crate) fn fields(raw: &[u8]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in header_block(raw).split(|b| *b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let text = String::from_utf8_lossy(line);
        if line[0] == b' ' || line[0] == b'\t' {
            if let Some((_, value)) = out.last_mut() {
                value.push(' ');
                value.push_str(text.trim());
            }
            continue;
        }
        if let Some((name, value)) = text.split_once(':') {
            out.push((name.trim().to_string(), value.trim().to_string()));
        }
    }
    out
}

/// Values of every field named `name` (any case).
pub(crate) fn values(raw: &[u8], name: &str) -> Vec<String> {
    fields(raw)
        .into_iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v)
        .collect()
}

/// The tenant ids the message claims: the cross-tenant header's, or the
/// attribution header's when there is none (its value is `GUID:…`).
fn claimed_tenants(raw: &[u8]) -> Vec<String> {
    let ids = values(raw, "X-MS-Exchange-CrossTenant-Id");
    let ids = if ids.is_empty() {
        values(raw, "X-EOPTenantAttributedMessage")
            .into_iter()
            .map(|v| v.split(':').next().unwrap_or("").to_string())
            .collect()
    } else {
        ids
    };
    ids.into_iter()
        .map(|v| v.trim().to_ascii_lowercase())
        .collect()
}

/// `None` when the message may go on; otherwise the refusal. `accepted`
/// holds lower-case GUIDs; empty means the check is off.
pub(crate) fn check_tenant(raw: &[u8], accepted: &[String]) -> Option<Reply> {
    if accepted.is_empty() {
        return None;
    }
    let claimed = claimed_tenants(raw);
    let ok = !claimed.is_empty() && claimed.iter().all(|c| accepted.contains(c));
    (!ok).then(|| Reply::new(550, "5.7.1 not from an accepted Microsoft 365 tenant"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const OURS: &str = "6babcaad-604b-40ac-a9d7-9fd97c0b779f";

    fn msg(headers: &str) -> Vec<u8> {
        format!("{headers}From: a@firm.example\r\n\r\nX-MS-Exchange-CrossTenant-Id: {OURS}\r\n")
            .into_bytes()
    }

    #[test]
    fn the_tenant_header_decides() {
        let ours = vec![OURS.to_string()];
        let h = |v: &str| msg(&format!("X-MS-Exchange-CrossTenant-Id: {v}\r\n"));
        assert_eq!(check_tenant(&h(OURS), &ours), None);
        assert_eq!(check_tenant(&h(&OURS.to_uppercase()), &ours), None);
        assert_eq!(
            check_tenant(&h("00000000-0000-0000-0000-000000000000"), &ours)
                .unwrap()
                .code,
            550
        );
        // In the body only: missing.
        assert_eq!(check_tenant(&msg(""), &ours).unwrap().code, 550);
        // Two copies that disagree: refused.
        let two = msg(&format!(
            "X-MS-Exchange-CrossTenant-Id: {OURS}\r\nx-ms-exchange-crosstenant-id:\r\n 00000000-0000-0000-0000-000000000000\r\n"
        ));
        assert_eq!(check_tenant(&two, &ours).unwrap().code, 550);
        // The attribution header when the cross-tenant one is missing.
        let eop = msg(&format!("X-EOPTenantAttributedMessage: {OURS}:0\r\n"));
        assert_eq!(check_tenant(&eop, &ours), None);
        // Off when nothing is configured.
        assert_eq!(check_tenant(&msg(""), &[]), None);
    }

    #[test]
    fn folded_fields_are_unfolded() {
        let raw = b"Subject: a\r\n\tb\r\nX-A: 1\r\n\r\nX-A: 2\r\n";
        assert_eq!(values(raw, "subject"), ["a b"]);
        assert_eq!(values(raw, "x-a"), ["1"]);
    }
}
