//! First contact (issue #18): a recipient domain the sender (or, with
//! `first_contact = "firm"`, anyone in the firm) never sent passed mail to
//! within `[policy] first_contact_days`. Combined with `mentions = true`
//! it catches the misdirected autocomplete: a client's matter going to a
//! domain nobody here has written to.
//!
//! The policy does no I/O: the act stage asks the store which domains are
//! known before the scan and hands the answer in as [`Contacts`]; this
//! module turns it into per-recipient flags, so a `split` rule holds only
//! the first-contact recipients. Internal domains are never first contact.

use super::recipients::Recipient;
use crate::config::raw::FirstContact;
use crate::store::KnownContacts;

/// What is known about the recipients' domains when the policy runs.
#[derive(Debug, Clone, Default)]
pub(crate) enum Contacts {
    /// Not looked up: no rule tests `first_contact`, or `matterwall check`,
    /// which reads no mail history. Every domain counts as known.
    #[default]
    NotChecked,
    /// The store's answer.
    Known(KnownContacts),
    /// The store could not answer: every outside domain counts as a first
    /// contact (fail closed: a rule that holds new domains holds, one that
    /// relaxes for known domains does not relax).
    Unavailable,
}

/// Why a recipient is a first contact, as `check` and the held record
/// show it.
const NEW_TO_SENDER: &str = "sender";
const NEW_TO_FIRM: &str = "firm";
const UNCHECKED: &str = "unchecked";

/// Sets each outside recipient's first-contact flags from `contacts`.
pub(crate) fn mark(rcpts: &mut [Recipient], contacts: &Contacts) {
    for r in rcpts.iter_mut().filter(|r| !r.flags.internal) {
        let (sender, firm, why) = match (contacts, r.parsed.as_ref()) {
            (Contacts::NotChecked, _) => continue,
            // An address that does not parse has no domain to know.
            (Contacts::Unavailable, _) | (Contacts::Known(_), None) => (true, true, UNCHECKED),
            (Contacts::Known(k), Some(a)) => {
                let firm = !k.firm.contains(&a.domain);
                let sender = firm || !k.sender.contains(&a.domain);
                (sender, firm, if firm { NEW_TO_FIRM } else { NEW_TO_SENDER })
            }
        };
        r.flags.first_contact = sender;
        r.flags.first_contact_firm = firm;
        if sender {
            r.first_contact = Some(why);
        }
    }
}

/// Whether a rule's `first_contact` condition holds for these recipients
/// (all of them, or one alone when a split tests each).
pub(crate) fn fires(want: FirstContact, rcpts: &[super::recipients::Flags]) -> bool {
    match want {
        FirstContact::Off => !rcpts.iter().any(|r| r.first_contact),
        FirstContact::Sender => rcpts.iter().any(|r| r.first_contact),
        FirstContact::Firm => rcpts.iter().any(|r| r.first_contact_firm),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::recipients::Flags;

    fn rcpt(addr: &str, internal: bool) -> Recipient {
        Recipient {
            address: addr.into(),
            parsed: crate::text::address::parse(addr).ok(),
            flags: Flags {
                internal,
                external: !internal,
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn known(sender: &[&str], firm: &[&str]) -> Contacts {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Contacts::Known(KnownContacts {
            sender: set(sender),
            firm: set(firm),
        })
    }

    /// (contacts, recipient, internal) → (sender flag, firm flag, shown).
    #[test]
    fn flags_by_what_the_store_knows() {
        let cases = [
            (
                known(&[], &[]),
                "a@new.example",
                false,
                (true, true, Some("firm")),
            ),
            (
                known(&[], &["old.example"]),
                "a@old.example",
                false,
                (true, false, Some("sender")),
            ),
            (
                known(&["old.example"], &["old.example"]),
                "a@old.example",
                false,
                (false, false, None),
            ),
            (
                known(&[], &[]),
                "a@firm.example",
                true,
                (false, false, None),
            ),
            (
                Contacts::Unavailable,
                "a@old.example",
                false,
                (true, true, Some("unchecked")),
            ),
            (
                Contacts::NotChecked,
                "a@new.example",
                false,
                (false, false, None),
            ),
            (
                known(&[], &[]),
                "not an address",
                false,
                (true, true, Some("unchecked")),
            ),
        ];
        for (contacts, addr, internal, want) in cases {
            let mut r = [rcpt(addr, internal)];
            mark(&mut r, &contacts);
            let f = r[0].flags;
            assert_eq!(
                (f.first_contact, f.first_contact_firm, r[0].first_contact),
                want,
                "{addr}"
            );
        }
    }

    #[test]
    fn the_key_as_written() {
        let parse = |v: &str| {
            toml::from_str::<crate::config::raw::RawWhen>(&format!("first_contact = {v}"))
                .map(|w| w.first_contact)
                .map_err(|e| e.message().to_string())
        };
        assert_eq!(parse("true"), Ok(Some(FirstContact::Sender)));
        assert_eq!(parse("\"sender\""), Ok(Some(FirstContact::Sender)));
        assert_eq!(parse("\"firm\""), Ok(Some(FirstContact::Firm)));
        assert_eq!(parse("false"), Ok(Some(FirstContact::Off)));
        for bad in ["\"Firm\"", "\"\"", "1", "[true]"] {
            let err = parse(bad).unwrap_err();
            assert!(
                err.contains("true, false, \"sender\" or \"firm\""),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn the_condition_over_recipients() {
        let f = |s, firm| Flags {
            first_contact: s,
            first_contact_firm: firm,
            ..Default::default()
        };
        let mixed = [f(false, false), f(true, false)];
        assert!(fires(FirstContact::Sender, &mixed));
        assert!(!fires(FirstContact::Firm, &mixed));
        assert!(!fires(FirstContact::Off, &mixed));
        assert!(fires(FirstContact::Off, &[f(false, false)]));
        assert!(fires(FirstContact::Firm, &[f(true, true)]));
    }
}
