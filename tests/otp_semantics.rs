//! OTP's and Elixir's semantics where the crate once departed from them,
//! each test named after the case or scenario it reproduces.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use support::*;
use tokio_supervisor::{ChildSpec, EventKind, Restart, Shutdown, Supervisor};

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

/// Elixir's `DynamicSupervisor` (and OTP's `simple_one_for_one`): a child
/// that ended and will not be restarted is removed, so a pool of short jobs
/// never fills up, and a second `terminate_child` finds nothing.
#[tokio::test(start_paused = true)]
async fn dynamic_supervisor_removes_children_that_end_and_are_not_restarted() {
    let (log, alive) = (Log::default(), Alive::default());
    let h = Supervisor::dynamic("pool").max_children(2).start_ok().await;
    // A hundred short jobs through a pool of two: each finished one leaves.
    for i in 0..100 {
        let job = scripted("job", &log, &alive, vec![Act::OkAfter(ms(10))]);
        h.start_child(job)
            .await
            .unwrap_or_else(|e| panic!("job {i}: {e}"));
        tokio::time::sleep(ms(20)).await;
        assert!(h.which_children().await.is_empty(), "job {i} kept");
    }
    // A temporary one that fails, and a permanent one terminated by hand.
    let temp =
        scripted("temp", &log, &alive, vec![Act::ErrAfter(ms(10))]).restart(Restart::Temporary);
    h.start_child(temp).await.unwrap();
    let serving = scripted("serve", &log, &alive, vec![Act::Serve]).restart(Restart::Permanent);
    let path = h.start_child(serving).await.unwrap();
    tokio::time::sleep(ms(20)).await;
    assert_eq!(counts(&h).await, [1, 1, 0, 1]);
    h.terminate_child(&path).await.unwrap();
    assert!(h.which_children().await.is_empty());
    assert_eq!(
        h.terminate_child(&path).await,
        Err(tokio_supervisor::ControlError::NotFound { path: path.clone() })
    );
    assert_eq!(h.metrics().children.len(), 0, "metrics of removed children");
    h.shutdown().await.unwrap();
}

/// OTP's `terminate_children/2` folds the exit of a sibling that dies on
/// its own while a `one_for_all` group is being stopped into that group
/// restart: counted once, the supervisor survives intensity 1.
#[tokio::test(start_paused = true)]
async fn one_for_all_folds_a_sibling_exit_during_the_group_stop() {
    let (log, alive) = (Log::default(), Alive::default());
    let h = Supervisor::builder("sup")
        .strategy(tokio_supervisor::Strategy::OneForAll)
        .intensity(1, secs(60))
        .child(scripted(
            "trigger",
            &log,
            &alive,
            vec![Act::ErrAfter(ms(10)), Act::Serve],
        ))
        .child(scripted(
            "a2",
            &log,
            &alive,
            vec![Act::ErrAfter(ms(510)), Act::Serve],
        ))
        .child(scripted(
            "b",
            &log,
            &alive,
            vec![Act::SlowStop(secs(1)), Act::Serve],
        ))
        .start_ok()
        .await;
    tokio::time::sleep(secs(3)).await;
    assert!(
        h.is_running(),
        "the supervisor failed: {:?}",
        h.wait().await
    );
    let snaps = h.which_children().await;
    for s in &snaps {
        assert_eq!(s.phase, tokio_supervisor::Phase::Running, "{}", s.path);
        assert_eq!(
            s.starts, 2,
            "{}: started again once, with its group",
            s.path
        );
    }
    assert_eq!(log.matching(":start:2").len(), 3);
    h.shutdown().await.unwrap();
}

/// OTP's `start_link` returns once `init` has started every child; an
/// exit that comes meanwhile is handled after. So a sibling that crash-loops
/// under `RestForOne` or `OneForAll` cannot keep the start from completing,
/// with default settings.
#[tokio::test(start_paused = true)]
async fn start_returns_while_a_sibling_crash_loops_under_a_group_strategy() {
    for strategy in [
        tokio_supervisor::Strategy::RestForOne,
        tokio_supervisor::Strategy::OneForAll,
    ] {
        let (log, alive) = (Log::default(), Alive::default());
        // Ready-gated, 200 ms to become ready.
        let b = ready_after("b", &log, &alive, ms(200));
        let app = Supervisor::builder("app")
            .strategy(strategy)
            .child(scripted("a", &log, &alive, vec![Act::ErrAfter(ms(10))]))
            .child(b)
            .build()
            .unwrap();
        let started = tokio::time::timeout(secs(3600), app.start()).await;
        let h = started
            .unwrap_or_else(|_| panic!("{strategy:?}: start() still pending after an hour"))
            .unwrap();
        // `a`'s exits are handled from then on: it is restarted.
        tokio::time::sleep(ms(500)).await;
        assert!(
            log.matching("a:start:").len() >= 2,
            "{strategy:?}: {:?}",
            log.entries()
        );
        let _ = h.shutdown().await;
    }
}

/// A nested supervisor that gives up (its intensity exceeded) that always
/// fails its leaf.
fn giving_up(log: &Log, alive: &Alive) -> Supervisor {
    Supervisor::builder("inner")
        .intensity(0, secs(10))
        .child(
            scripted("leaf", log, alive, vec![Act::ErrAfter(ms(50))])
                .backoff(tokio_supervisor::Backoff::none()),
        )
        .build()
        .unwrap()
}

/// OTP: a supervisor whose intensity is exceeded terminates with reason
/// `shutdown`, so a `Transient` supervisor child stays down (its parent
/// runs on), while its snapshot still tells why.
#[tokio::test(start_paused = true)]
async fn a_transient_nested_supervisor_that_gives_up_stays_down() {
    let (log, alive) = (Log::default(), Alive::default());
    let inner = ChildSpec::from(giving_up(&log, &alive)).restart(Restart::Transient);
    let h = Supervisor::builder("app")
        .child(inner)
        .child(scripted("other", &log, &alive, vec![Act::Serve]))
        .start_ok()
        .await;
    tokio::time::sleep(secs(1)).await;
    assert!(h.is_running());
    let snaps = h.which_children().await;
    assert_eq!(
        snaps[0].phase,
        tokio_supervisor::Phase::Terminated(tokio_supervisor::ExitReason::Shutdown)
    );
    assert_eq!(snaps[0].starts, 1, "not restarted");
    assert_eq!(snaps[0].failures, 0, "a shutdown, not a failure");
    let why = snaps[0].last_error.as_deref().unwrap_or_default();
    assert!(
        why.contains("`app/inner` exceeded its restart intensity"),
        "{why}"
    );
    assert_eq!(snaps[1].phase, tokio_supervisor::Phase::Running);
    h.shutdown().await.unwrap();
}

/// OTP's `significant_escalation`, for a nested supervisor: a significant
/// supervisor child that gives up (reason `shutdown`, not restarted as
/// `Transient`) stops its parent by auto-shutdown, a normal stop.
#[tokio::test(start_paused = true)]
async fn a_significant_nested_supervisor_that_gives_up_shuts_its_parent_down() {
    let (log, alive) = (Log::default(), Alive::default());
    let inner = ChildSpec::from(giving_up(&log, &alive))
        .restart(Restart::Transient)
        .significant(true);
    let h = Supervisor::builder("app")
        .auto_shutdown(tokio_supervisor::AutoShutdown::AnySignificant)
        .child(scripted("other", &log, &alive, vec![Act::Serve]))
        .child(inner)
        .start_ok()
        .await;
    let outcome = tokio::time::timeout(secs(60), h.wait()).await;
    assert_eq!(outcome.expect("the parent stops by itself"), Ok(()));
    assert_eq!(alive.count(), 0);
}

/// A `Permanent` supervisor child that gives up is restarted by its parent
/// and counted in the parent's intensity: over it, the root fails, naming
/// the path down to the leaf, so that `main` exits non-zero.
#[tokio::test(start_paused = true)]
async fn a_permanent_nested_supervisor_that_gives_up_is_restarted_then_escalates() {
    let (log, alive) = (Log::default(), Alive::default());
    let h = Supervisor::builder("app")
        .intensity(2, secs(60))
        .child(giving_up(&log, &alive))
        .start_ok()
        .await;
    let err = h.wait().await.unwrap_err();
    assert_eq!(err.child_path(), Some("app/inner"));
    let text = err.to_string();
    assert!(text.contains("app/inner/leaf"), "{text}");
    // Started once, restarted twice within the parent's intensity of 2.
    assert_eq!(log.matching("leaf:start:1").len(), 3);
}

/// An exit handled once the start is done may stop the supervisor (here,
/// intensity 0): its ordered stop then goes on at once, without waiting for
/// another event (found by fault injection).
#[tokio::test(start_paused = true)]
async fn a_stop_begun_by_an_exit_deferred_during_the_start_completes() {
    let (log, alive) = (Log::default(), Alive::default());
    let gated = ready_after("gated", &log, &alive, ms(5)).wait_ready(ms(12));
    let h = Supervisor::builder("app")
        .intensity(0, secs(3600))
        .child(scripted("a", &log, &alive, vec![Act::ErrAfter(ms(1))]).restart(Restart::Permanent))
        .child(gated)
        .start_ok()
        .await;
    let outcome = tokio::time::timeout(secs(60), h.wait()).await;
    let err = outcome.expect("the stop hung").unwrap_err();
    assert_eq!(err.child_path(), Some("app/a"));
    assert_eq!(alive.count(), 0);
}
