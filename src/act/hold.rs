//! Hold: commit the message to the quarantine (fsync'd), and only then 250.

use super::{tempfail, Tempfail};
use crate::check::Verdict;
use crate::smtp::codec::Reply;
use crate::smtp::session::Transaction;
use crate::store::{NewHeld, Store};
use std::sync::Arc;

pub async fn hold(
    store: Arc<dyn Store>,
    id: &str,
    tx: &Transaction,
    verdict: &Verdict,
    raw: Vec<u8>,
) -> Reply {
    let verdict_json = match serde_json::to_string(verdict) {
        Ok(j) => j,
        Err(e) => {
            tracing::error!(id, error = %e, "cannot encode the verdict");
            return tempfail(Tempfail::Internal);
        }
    };
    let msg = NewHeld {
        id: id.to_string(),
        from: tx.from.clone(),
        to: tx.rcpts.clone(),
        action: verdict.action.as_str().to_string(),
        rules: verdict.rules.clone(),
        verdict_json,
        raw,
    };
    match tokio::task::spawn_blocking(move || store.hold(msg)).await {
        Ok(Ok(id)) => Reply::new(250, format!("2.0.0 held as {id}")),
        Ok(Err(e)) => {
            tracing::error!(id, error = %e, "cannot store the held message; answering 451");
            tempfail(Tempfail::Internal)
        }
        Err(_) => {
            tracing::error!(id, "the store panicked; answering 451");
            tempfail(Tempfail::Internal)
        }
    }
}
