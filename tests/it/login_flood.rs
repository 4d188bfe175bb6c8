//! Issue #15 finding 5: a script hammering the login form while its
//! (user, address) pair is rate limited must not grow the audit trail by
//! one permanent row per attempt: one entry per window, with a count.

use crate::support::review::{login_attempt, PW};
use crate::support::{self, Setup};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_logins_write_one_entry_per_window() {
    let setup = Setup::new(support::free_port(), "");
    setup.add_user("rita", "reviewer", PW);
    let server = setup.serve().await;
    let port = setup.http_port;
    for _ in 0..5 {
        assert_eq!(login_attempt(port, "rita", "wrong", "").await.status, 401);
    }
    for _ in 0..100 {
        assert_eq!(login_attempt(port, "rita", "wrong", "").await.status, 429);
    }
    server.stop().await;
    let failed: Vec<_> = setup
        .audit()
        .into_iter()
        .filter(|e| e["kind"] == "login-failed")
        .collect();
    let limited: Vec<_> = failed
        .iter()
        .filter(|e| e["details"]["reason"] == "rate limited")
        .collect();
    assert_eq!(failed.len(), 6, "five wrong passwords, one refusal entry");
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0]["details"]["address"], "127.0.0.1");
}
