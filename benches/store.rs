//! Store benchmark (not a test; `benches/store.sh` runs it): how many holds
//! and how many audit appends the store commits per second when `THREADS`
//! writers call it at once, as that many SMTP sessions would, fsync on.
//! This is the store alone, without SMTP: `store.sh` measures the whole
//! path beside it.
//!
//! Run: `MW_STORE_URL=sqlite:///tmp/x/mw.db cargo bench --bench store`
//! (or `postgres://…`; also MW_THREADS, default 20, MW_OPS, default 4000,
//! MW_SIZE, the held message's bytes, default 4096).

use matterwall::store::{self, AuditEvent, NewHeld, Store};
use std::sync::Arc;
use std::time::Instant;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn held(size: usize) -> NewHeld {
    NewHeld {
        id: store::new_id(),
        from: "a.partner@firm.example".into(),
        to: vec!["j.smith@meridian-tankers.com".into()],
        action: matterwall::policy::rules::Action::Hold,
        rules: vec!["client-to-outsider".into()],
        clients: vec!["C-10442".into()],
        matters: vec!["2024-0117".into()],
        subject: "draft".into(),
        verdict_json: r#"{"action":"hold"}"#.into(),
        raw: vec![b'x'; size],
        two_person: false,
        delay: None,
    }
}

fn verdict(id: &str) -> AuditEvent {
    let details = serde_json::json!({"message": id, "action": "hold"});
    AuditEvent::new("smtp", "verdict", details)
}

type Op = Arc<dyn Fn(&dyn Store) + Send + Sync>;

/// Runs `ops` calls of `op` over `threads` threads; returns calls a second.
fn rate(st: &Arc<dyn Store>, threads: usize, ops: usize, op: Op) -> f64 {
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|t| {
            let (st, op) = (st.clone(), op.clone());
            let n = ops / threads + usize::from(t < ops % threads);
            std::thread::spawn(move || (0..n).for_each(|_| op(st.as_ref())))
        })
        .collect();
    workers.into_iter().for_each(|w| w.join().unwrap());
    ops as f64 / start.elapsed().as_secs_f64()
}

fn main() {
    let url = std::env::var("MW_STORE_URL").expect("MW_STORE_URL: sqlite://PATH or postgres://…");
    let threads = env("MW_THREADS", 20);
    let ops = env("MW_OPS", 4000);
    let size = env("MW_SIZE", 4096);
    let dir = tempfile::tempdir().unwrap();
    let st = store::open(&url, dir.path(), None, Some("bench")).unwrap();
    let hold: Op = Arc::new(move |st| {
        let msg = held(size);
        let v = verdict(&msg.id);
        st.hold(msg, v).unwrap();
    });
    let append: Op = Arc::new(|st| {
        st.append(verdict("pass")).unwrap();
    });
    let holds = rate(&st, threads, ops, hold);
    let appends = rate(&st, threads, ops, append);
    let head = st.audit_head().unwrap().map_or(0, |h| h.seq);
    let backend = url.split(':').next().unwrap_or("?");
    println!(
        "store-only {backend}: {threads} threads, {ops} each: {holds:.0} holds/s, \
         {appends:.0} audit appends/s ({head} entries in the chain)"
    );
}
