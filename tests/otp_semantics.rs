//! OTP's and Elixir's semantics where the crate once departed from them,
//! each test named after the case or scenario it reproduces.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use support::*;
use tokio_supervisor::{ChildSpec, EventKind, Shutdown, Supervisor};

/// Counts, per path, the `Started` and `Exited` events of a whole run.
fn started_and_exited(events: &[(String, EventKind)]) -> HashMap<String, (usize, usize)> {
    let mut counts: HashMap<String, (usize, usize)> = HashMap::new();
    for (path, kind) in events {
        match kind {
            EventKind::Started { .. } => counts.entry(path.clone()).or_default().0 += 1,
            EventKind::Exited { .. } => counts.entry(path.clone()).or_default().1 += 1,
            _ => {}
        }
    }
    counts
}

/// A subtree whose grandchildren ignore cancellation, stopped in `how`:
/// once `wait()` returns, no grandchild's future is alive, and every
/// `Started` has its `Exited`, on the multi-thread runtime.
async fn no_grandchild_outlives_the_stop(how: &str) {
    let (log, alive) = (Log::default(), Alive::default());
    let grandchild = |name: &str| scripted(name, &log, &alive, vec![Act::IgnoreCancel]);
    let db = Supervisor::builder("db")
        .child(grandchild("g1"))
        .child(grandchild("g2"))
        .child(grandchild("g3"))
        .build()
        .unwrap();
    let mut db = ChildSpec::from(db);
    if how == "brutal" {
        db = db.shutdown(Shutdown::Brutal);
    }
    if how == "timeout" {
        db = db.shutdown(Shutdown::Graceful(Duration::from_millis(1)));
    }
    let app = Supervisor::builder("app").child(db).build().unwrap();
    let mut events = app.subscribe();
    let h = app.start().await.unwrap();
    // Started means spawned: wait (a bounded number of turns) until every
    // grandchild's future has been polled.
    for _ in 0..100_000 {
        if alive.count() == 3 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(alive.count(), 3);
    match how {
        "kill" => h.kill().await.unwrap(),
        // The nested supervisor stopped by its parent's command.
        _ => {
            h.terminate_child("db").await.unwrap();
            h.shutdown().await.unwrap();
        }
    }
    assert_eq!(alive.count(), 0, "{how}: a grandchild outlived wait()");
    let events = drain(&mut events);
    for (path, (started, exited)) in started_and_exited(&events) {
        assert_eq!(
            started, exited,
            "{how}: {path} started {started}, exited {exited}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_do_not_outlive_wait_after_kill() {
    for _ in 0..10 {
        no_grandchild_outlives_the_stop("kill").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_do_not_outlive_a_nested_supervisor_stopped_brutal() {
    for _ in 0..10 {
        no_grandchild_outlives_the_stop("brutal").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_do_not_outlive_a_nested_supervisor_stopped_at_its_graceful_timeout() {
    for _ in 0..10 {
        no_grandchild_outlives_the_stop("timeout").await;
    }
}
