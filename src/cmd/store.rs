//! `matterwall store migrate --to postgres://…`: the embedded store into
//! an empty PostgreSQL one (see `matterwall::store::migrate`).

use anyhow::{Context, Result};
use matterwall::config::Config;
use matterwall::store;
use std::process::ExitCode;

pub(crate) fn migrate(cfg: &Config, to: &str) -> Result<ExitCode> {
    let node = cfg.store.node.clone().unwrap_or_else(store::default_node);
    let copied = store::migrate::run(
        &cfg.store.url,
        &cfg.dir,
        cfg.store.key_file.as_deref(),
        to,
        &node,
    )
    .context("store migrate")?;
    for (table, n) in &copied.rows {
        println!("{table}: {n} row(s)");
    }
    println!(
        "audit trail intact there: {} entries; now set [store] url to the PostgreSQL URL \
         and key_file to this key on every node",
        copied.audit_entries
    );
    Ok(ExitCode::SUCCESS)
}
