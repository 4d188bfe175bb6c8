//! What the next hop's answers mean, per copy and for the message: the one
//! reply to DATA, and who goes in a delivery report.
//!
//! - Every copy accepted (now or in an earlier attempt) → 250.
//! - Any copy failed temporarily, or could not be made → 451: the client
//!   retries, and the copies already accepted are skipped then.
//! - Otherwise every failure was permanent: with at least one copy
//!   delivered → 250 and a delivery report ([`super::dsn`]) for the refused
//!   recipients, as `pass` does for refused recipients (a failure reply
//!   would misreport the copies that went); with none → the first
//!   permanent reply.
//!
//! Recipients the next hop refused permanently inside an accepted copy are
//! reported whatever the reply: on a retry that copy is skipped, so this
//! attempt is the only one that knows about them.

use super::super::{pass, tempfail, Tempfail};
use super::Copy;
use crate::smtp::codec::Reply;
use crate::smtp::relay::{Outcome, RelayError};

/// What became of one copy.
pub(crate) enum Fate {
    /// The next hop's reply to the final dot, and recipients of the copy it
    /// refused permanently at RCPT.
    Accepted {
        reply: Reply,
        refused: Vec<(String, Reply)>,
    },
    /// Accepted in an earlier attempt at the same message.
    Earlier,
    Temporary(Reply),
    /// The reply that stands, and every recipient of the copy with its own.
    Permanent {
        reply: Reply,
        refused: Vec<(String, Reply)>,
    },
}

/// Reads the relay's result for a copy to `rcpts`.
pub(crate) fn fate(id: &str, rcpts: &[String], result: Result<Outcome, RelayError>) -> Fate {
    let all = |r: &Reply| rcpts.iter().map(|to| (to.clone(), r.clone())).collect();
    let (reply, refused) = match result {
        Ok(o) => {
            for (rcpt, reply) in &o.refused {
                tracing::warn!(id, rcpt = %rcpt, reply = reply.code, "next hop refused a recipient");
            }
            match o.data {
                Some(r) if r.is_positive() => {
                    return Fate::Accepted {
                        reply: r,
                        refused: o.refused,
                    }
                }
                Some(r) => (r.clone(), all(&r)),
                None => match o.refused.first() {
                    Some((_, r)) => (r.clone(), o.refused.clone()),
                    None => (tempfail(Tempfail::Internal), Vec::new()),
                },
            }
        }
        Err(RelayError::Refused { reply, .. }) => (reply.clone(), all(&reply)),
        Err(e) => {
            tracing::warn!(id, error = %e, maybe_delivered = e.maybe_delivered(), "relay failed");
            return Fate::Temporary(tempfail(Tempfail::NextHop));
        }
    };
    let temporary = reply.code < 500 || refused.iter().any(|(_, r)| r.code < 500);
    match pass::upstream(reply) {
        r if temporary || r.code < 500 => Fate::Temporary(tempfail(Tempfail::NextHop)),
        r => Fate::Permanent { reply: r, refused },
    }
}

/// One log line per copy: message id, copy number, recipients, kind, reply.
pub(crate) fn log(id: &str, n: usize, copy: &Copy, fate: &Fate) {
    let reply = match fate {
        Fate::Earlier => "accepted in an earlier attempt; not sent again".to_string(),
        Fate::Accepted { reply, .. } | Fate::Temporary(reply) | Fate::Permanent { reply, .. } => {
            reply.to_string()
        }
    };
    tracing::info!(
        id,
        copy = n,
        to = ?copy.rcpts,
        kind = copy.kind.as_str(),
        reply = %reply,
        "copy"
    );
}

/// The reply to DATA for all the copies.
pub(crate) fn answer(id: &str, fates: &[Fate]) -> Reply {
    let total = fates.len();
    let done = fates
        .iter()
        .filter(|f| matches!(f, Fate::Accepted { .. } | Fate::Earlier))
        .count();
    if done == total {
        return Reply::new(250, format!("2.0.0 {id}: {total} copies relayed"));
    }
    if let Some(Fate::Temporary(r)) = fates.iter().find(|f| matches!(f, Fate::Temporary(_))) {
        let enhanced = r.text.split(' ').next().unwrap_or("4.4.1");
        let failed = total - done;
        return Reply::new(
            451,
            format!("{enhanced} {failed} of {total} copies not relayed, try again later"),
        );
    }
    if done > 0 {
        return Reply::new(
            250,
            format!("2.0.0 {id}: {done} of {total} copies relayed; the sender gets a report for the refused recipients"),
        );
    }
    match fates.iter().find_map(|f| match f {
        Fate::Permanent { reply, .. } => Some(reply.clone()),
        _ => None,
    }) {
        Some(r) => r,
        None => tempfail(Tempfail::Internal),
    }
}

/// Recipients the sender must hear about from a delivery report.
pub(crate) fn to_report(fates: &[Fate], reply: &Reply) -> Vec<(String, Reply)> {
    let mut out = Vec::new();
    for f in fates {
        match f {
            Fate::Accepted { refused, .. } => out.extend(refused.iter().cloned()),
            Fate::Permanent { refused, .. } if reply.code == 250 => {
                out.extend(refused.iter().cloned())
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok() -> Fate {
        Fate::Accepted {
            reply: Reply::new(250, "2.0.0 queued"),
            refused: Vec::new(),
        }
    }

    fn refused(to: &str) -> Fate {
        let r = Reply::new(550, "5.1.1 no such user");
        Fate::Permanent {
            reply: r.clone(),
            refused: vec![(to.into(), r)],
        }
    }

    fn deferred() -> Fate {
        Fate::Temporary(tempfail(Tempfail::NextHop))
    }

    #[test]
    fn the_reply_to_data_for_every_mix_of_copies() {
        let cases: Vec<(Vec<Fate>, u16, &str, usize)> = vec![
            (
                vec![ok(), Fate::Earlier],
                250,
                "2.0.0 m: 2 copies relayed",
                0,
            ),
            (
                vec![ok(), deferred(), refused("b@x")],
                451,
                "4.4.1 2 of 3 copies",
                0,
            ),
            (
                vec![ok(), refused("b@x")],
                250,
                "2.0.0 m: 1 of 2 copies relayed",
                1,
            ),
            (
                vec![Fate::Earlier, refused("b@x")],
                250,
                "2.0.0 m: 1 of 2",
                1,
            ),
            (
                vec![refused("a@x"), refused("b@x")],
                550,
                "5.1.1 no such user",
                0,
            ),
            (
                vec![Fate::Temporary(tempfail(Tempfail::Internal))],
                451,
                "4.3.0 1 of 1",
                0,
            ),
        ];
        for (fates, code, text, reported) in cases {
            let reply = answer("m", &fates);
            assert_eq!(reply.code, code, "{reply}");
            assert!(reply.text.starts_with(text), "{reply}");
            assert_eq!(to_report(&fates, &reply).len(), reported, "{reply}");
        }
    }

    #[test]
    fn refusals_inside_an_accepted_copy_are_reported_even_on_451() {
        let partly = Fate::Accepted {
            reply: Reply::new(250, "ok"),
            refused: vec![("gone@x".into(), Reply::new(550, "5.1.1 no"))],
        };
        let fates = [partly, deferred()];
        let reply = answer("m", &fates);
        assert_eq!(reply.code, 451);
        assert_eq!(to_report(&fates, &reply).len(), 1);
    }
}
