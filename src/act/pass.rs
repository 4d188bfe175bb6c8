//! Pass: relay to the next hop and answer with its reply to the final dot.
//!
//! Recipients the next hop refuses: a temporary refusal of any of them
//! stops the relay before DATA and the upstream gets that 4xx (it retries
//! the whole message; nobody is lost or duplicated). Permanent refusals
//! with at least one acceptance: the message goes to the accepted ones, the
//! upstream gets the next hop's 250, and the sender gets a delivery report
//! for the refused ones ([`super::dsn`]).

use super::{tempfail, Relayed, Tempfail};
use crate::config::Config;
use crate::smtp::codec::Reply;
use crate::smtp::relay::{self, RelayConfig, RelayError};
use crate::smtp::session::Transaction;
use crate::store::Handle;

pub(crate) async fn relay(
    cfg: &Config,
    store: Handle,
    id: &str,
    tx: &Transaction,
    raw: &[u8],
) -> Relayed {
    let rc = RelayConfig::from_config(cfg);
    match relay::relay(&rc, &tx.from, &tx.params, &tx.rcpts, raw).await {
        Ok(outcome) => {
            for (rcpt, reply) in &outcome.refused {
                tracing::warn!(id, rcpt = %rcpt, reply = reply.code, "next hop refused a recipient");
            }
            match outcome.data {
                Some(reply) => {
                    if !reply.is_positive() {
                        return upstream(reply).into();
                    }
                    crate::failpoint::hit("next-hop-accepted");
                    super::dsn::report(cfg, store, id, tx, raw, &outcome.refused).await;
                    Relayed {
                        reply: upstream(reply),
                        refused: outcome.refused.into_iter().map(|(r, _)| r).collect(),
                    }
                }
                None => {
                    let first = outcome
                        .refused
                        .iter()
                        .map(|(_, r)| r)
                        .min_by_key(|r| r.code >= 500)
                        .cloned();
                    first
                        .map(upstream)
                        .unwrap_or(tempfail(Tempfail::Internal))
                        .into()
                }
            }
        }
        Err(RelayError::Refused { phase, reply }) => {
            tracing::warn!(id, phase, reply = reply.code, "next hop refused");
            upstream(reply).into()
        }
        Err(e) => {
            if e.maybe_delivered() {
                tracing::warn!(id, error = %e, "next hop failed after the body; a retry may duplicate");
            } else {
                tracing::warn!(id, error = %e, "relay failed");
            }
            tempfail(Tempfail::NextHop).into()
        }
    }
}

/// The next hop's reply as we pass it on: 2xx and 5xx stand; a 4xx becomes
/// our 451 4.4.1 (a 421 from the next hop must not close our session).
pub(super) fn upstream(reply: Reply) -> Reply {
    match reply.code {
        200..=299 | 500..=599 => reply,
        _ => tempfail(Tempfail::NextHop),
    }
}
