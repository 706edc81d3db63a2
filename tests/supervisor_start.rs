//! Start-up: spec order, ready-gated starts, failed starts (with the full
//! path at any depth), nested supervisors, and `run_until`.

mod support;

use std::sync::Arc;

use support::*;
use tokio::time::Instant;
use tokio_supervisor::{ExitReason, Phase, Supervisor, SupervisorError};

#[tokio::test(start_paused = true)]
async fn ready_gated_child_holds_back_the_next_sibling() {
    let log = Log::default();
    let alive = Alive::default();
    let slow_ready = {
        let log = log.clone();
        tokio_supervisor::ChildSpec::new(
            "db",
            tokio_supervisor::service_fn(move |ctx| {
                let log = log.clone();
                async move {
                    log.push("db:start");
                    tokio::time::sleep(ms(300)).await;
                    log.push("db:ready");
                    ctx.ready();
                    ctx.cancelled().await;
                    Ok(())
                }
            }),
        )
        .wait_ready(secs(5))
    };
    let t0 = Instant::now();
    let h = Supervisor::builder("app")
        .child(slow_ready)
        .child(scripted("api", &log, &alive, vec![Act::Serve]))
        .start_ok()
        .await;
    assert_eq!(
        t0.elapsed(),
        ms(300),
        "start() returns once all are started"
    );
    assert_eq!(log.entries(), ["db:start", "db:ready", "api:start:1"]);
    h.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn error_before_ready_fails_the_start_and_stops_started_siblings_in_reverse() {
    let log = Log::default();
    let alive = Alive::default();
    let res = Supervisor::builder("app")
        .child(scripted("a", &log, &alive, vec![Act::Serve]))
        .child(scripted("b", &log, &alive, vec![Act::Serve]))
        .child(
            scripted("pool", &log, &alive, vec![Act::ErrBeforeReady(ms(50))]).wait_ready(secs(5)),
        )
        .child(scripted("d", &log, &alive, vec![Act::Serve]))
        .build()
        .unwrap()
        .start()
        .await;
    let err = res.unwrap_err();
    assert_eq!(
        err,
        SupervisorError::StartFailed {
            path: "app/pool".into(),
            reason: ExitReason::Failed("init failed".into()),
        }
    );
    assert_eq!(err.to_string(), "failed to start `app/pool`: init failed");
    assert_eq!(
        log.matching("start"),
        ["a:start:1", "b:start:1", "pool:start:1"],
        "not retried"
    );
    assert_eq!(log.matching("stop"), ["b:stop", "a:stop"]);
    assert_eq!(alive.count(), 0);
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn panic_before_ready_is_a_failed_start() {
    let log = Log::default();
    let alive = Alive::default();
    let err = Supervisor::builder("app")
        .child(scripted("p", &log, &alive, vec![Act::NeverReady]).wait_ready(secs(1)))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SupervisorError::StartFailed {
            path: "app/p".into(),
            reason: ExitReason::ReadyTimeout { timeout: secs(1) },
        },
        "a readiness timeout"
    );

    let err = Supervisor::builder("app")
        .child(scripted("p", &log, &alive, vec![Act::PanicAfter(ms(1))]).wait_ready(secs(1)))
        .build()
        .unwrap()
        .start()
        .await;
    // PanicAfter calls ready first: a panic after ready is a normal failure.
    let h = err.unwrap();
    h.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn readiness_timeout_fires_at_the_deadline_not_before() {
    let log = Log::default();
    let alive = Alive::default();
    let t0 = Instant::now();
    let err = Supervisor::builder("app")
        .child(scripted("slow", &log, &alive, vec![Act::NeverReady]).wait_ready(secs(3)))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap_err();
    assert!(matches!(err, SupervisorError::StartFailed { .. }));
    assert_eq!(t0.elapsed(), secs(3));
    assert_eq!(alive.count(), 0, "the unready child was aborted");
}

#[tokio::test(start_paused = true)]
async fn nested_failed_start_reports_the_deepest_path() {
    let log = Log::default();
    let alive = Alive::default();
    let db = Supervisor::builder("db")
        .child(scripted("conn", &log, &alive, vec![Act::Serve]))
        .child(
            scripted("pool", &log, &alive, vec![Act::ErrBeforeReady(ms(10))]).wait_ready(secs(5)),
        )
        .build()
        .unwrap();
    let err = Supervisor::builder("app")
        .child(scripted("cache", &log, &alive, vec![Act::Serve]))
        .child(db)
        .child(scripted("api", &log, &alive, vec![Act::Serve]))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.child_path(), Some("app/db/pool"));
    assert_eq!(
        err.to_string(),
        "failed to start `app/db/pool`: init failed"
    );
    assert_eq!(log.matching("stop"), ["conn:stop", "cache:stop"]);
    assert!(log.matching("api").is_empty());
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn nested_tree_starts_in_order_and_stops_deepest_first() {
    let log = Log::default();
    let alive = Alive::default();
    let db = Supervisor::builder("db")
        .child(scripted("conn", &log, &alive, vec![Act::Serve]))
        .child(scripted("pool", &log, &alive, vec![Act::Serve]))
        .build()
        .unwrap();
    let h = Supervisor::builder("app")
        .child(scripted("cache", &log, &alive, vec![Act::Serve]))
        .child(db)
        .child(scripted("api", &log, &alive, vec![Act::Serve]))
        .start_ok()
        .await;
    assert_eq!(
        log.matching("start"),
        [
            "cache:start:1",
            "conn:start:1",
            "pool:start:1",
            "api:start:1"
        ]
    );
    let snap = h.which_children().await;
    assert_eq!(snap[1].path.as_ref(), "app/db");
    assert!(snap[1].is_supervisor);
    assert_eq!(snap[1].phase, Phase::Running);
    h.shutdown().await.unwrap();
    assert_eq!(
        log.matching("stop"),
        ["api:stop", "pool:stop", "conn:stop", "cache:stop"]
    );
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn run_until_stops_gracefully_when_the_future_completes() {
    let log = Log::default();
    let alive = Alive::default();
    let sup = Supervisor::builder("app")
        .child(scripted("a", &log, &alive, vec![Act::Serve]))
        .child(scripted("b", &log, &alive, vec![Act::Serve]))
        .build()
        .unwrap();
    let h = sup.spawn().unwrap();
    h.run_until(tokio::time::sleep(secs(5))).await.unwrap();
    assert_eq!(log.matching("stop"), ["b:stop", "a:stop"]);
    assert!(h.is_finished());
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn run_until_returns_the_failure_of_the_tree() {
    let log = Log::default();
    let alive = Alive::default();
    let sup = Supervisor::builder("app")
        .intensity(1, secs(10))
        .child(
            scripted("c", &log, &alive, vec![Act::ErrAfter(ms(1))])
                .backoff(tokio_supervisor::Backoff::none()),
        )
        .build()
        .unwrap();
    let h = sup.spawn().unwrap();
    let err = h.run_until(std::future::pending()).await.unwrap_err();
    assert!(matches!(err, SupervisorError::IntensityExceeded { .. }));
}

#[tokio::test(start_paused = true)]
async fn a_nested_supervisor_that_fails_is_restarted_by_its_parent() {
    use std::sync::atomic::{AtomicU32, Ordering};
    // Runs are counted across subtree restarts: the first run fails, later
    // ones serve. (A restarted subtree starts fresh, so each of its children
    // is at attempt 1 again.)
    let runs = Arc::new(AtomicU32::new(0));
    let r2 = runs.clone();
    let w = tokio_supervisor::ChildSpec::new(
        "w",
        tokio_supervisor::service_fn(move |ctx| {
            let runs = r2.clone();
            async move {
                if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                    tokio::time::sleep(ms(100)).await;
                    return Err("first run fails".into());
                }
                ctx.cancelled().await;
                Ok(())
            }
        }),
    )
    .backoff(tokio_supervisor::Backoff::none());
    let inner = Supervisor::builder("inner")
        .intensity(0, secs(10))
        .child(w)
        .build()
        .unwrap();
    let sup = Supervisor::builder("app").child(inner).build().unwrap();
    let mut rx = sup.subscribe();
    let h = sup.start().await.unwrap();
    tokio::time::sleep(secs(1)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    let snap = h.which_children().await;
    assert_eq!((snap[0].starts, snap[0].restarts), (2, 1));
    assert_eq!(snap[0].phase, Phase::Running);
    assert!(
        snap[0]
            .last_error
            .as_deref()
            .is_some_and(|e| e.contains("`app/inner` exceeded its restart intensity")),
        "{:?}",
        snap[0].last_error
    );
    let events = drain(&mut rx);
    assert!(
        events.iter().any(|(p, k)| p == "app/inner"
            && matches!(k, tokio_supervisor::EventKind::SupervisorFailed { .. })),
        "nested events reach the root's subscribers"
    );
    assert!(events.iter().any(
        |(p, k)| p == "app/inner/w" && matches!(k, tokio_supervisor::EventKind::Started { .. })
    ));
    h.shutdown().await.unwrap();
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_gated_child_failing_before_ready_in_a_restart_is_restarted_again() {
    let log = Log::default();
    let alive = Alive::default();
    let sup = Supervisor::builder("app")
        .child(
            scripted(
                "g",
                &log,
                &alive,
                vec![
                    Act::ErrAfter(ms(10)),       // ready, then fails
                    Act::ErrBeforeReady(ms(10)), // restart fails before ready
                    Act::NeverReady,             // restart times out
                    Act::Serve,
                ],
            )
            .wait_ready(secs(1))
            .backoff(tokio_supervisor::Backoff::none()),
        )
        .build()
        .unwrap();
    let mut rx = sup.subscribe();
    let h = sup.start().await.unwrap();
    tokio::time::sleep(secs(5)).await;
    let snap = h.which_children().await;
    assert_eq!(snap[0].phase, Phase::Running);
    assert_eq!((snap[0].starts, snap[0].failures), (4, 3));
    let exits: Vec<_> = drain(&mut rx)
        .into_iter()
        .filter_map(|(_, k)| match k {
            tokio_supervisor::EventKind::Exited { reason } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        exits,
        [
            ExitReason::Failed("fail".into()),
            ExitReason::Failed("init failed".into()),
            ExitReason::ReadyTimeout { timeout: secs(1) },
        ]
    );
    h.shutdown().await.unwrap();
}

/// A concurrent start: every child at once, the start done once every
/// ready-gated one is ready; a failure before ready fails the start with
/// its path, and the children started stop in reverse order.
#[tokio::test(start_paused = true)]
async fn a_concurrent_start_waits_for_every_gated_child_and_fails_as_in_order() {
    let log = Log::default();
    let alive = Alive::default();
    let gated = |name: &str, act: Act| scripted(name, &log, &alive, vec![act]).wait_ready(secs(5));
    // Three 300 ms initialisations: 300 ms, not 900.
    let t0 = tokio::time::Instant::now();
    let h = Supervisor::builder("agent")
        .start_order(tokio_supervisor::StartOrder::Concurrent)
        .child(ready_after("a", &log, &alive, ms(300)))
        .child(ready_after("b", &log, &alive, ms(300)))
        .child(scripted("plain", &log, &alive, vec![Act::Serve]))
        .child(ready_after("c", &log, &alive, ms(300)))
        .start_ok()
        .await;
    assert_eq!(t0.elapsed(), ms(300));
    assert_eq!(log.matching(":start:").len(), 4);
    h.shutdown().await.unwrap();

    // One fails before ready while the others are still starting.
    let log = Log::default();
    let err = Supervisor::builder("agent")
        .start_order(tokio_supervisor::StartOrder::Concurrent)
        .child(ready_after("a", &log, &alive, ms(300)))
        .child(gated("broken", Act::ErrBeforeReady(ms(100))))
        .child(ready_after("c", &log, &alive, ms(300)))
        .build()
        .unwrap()
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.child_path(), Some("agent/broken"));
    assert_eq!(log.matching(":stop"), ["c:stop", "a:stop"], "reverse order");
    assert_eq!(alive.count(), 0);
}

/// A gated child stopped by `terminate_child` during a concurrent start no
/// longer holds the start back (found by fault injection).
#[tokio::test(start_paused = true)]
async fn a_concurrent_start_goes_on_when_a_gated_child_is_terminated() {
    let log = Log::default();
    let alive = Alive::default();
    let app = Supervisor::builder("app")
        .start_order(tokio_supervisor::StartOrder::Concurrent)
        .child(ready_after("slow", &log, &alive, secs(60)))
        .child(ready_after("quick", &log, &alive, ms(10)))
        .build()
        .unwrap();
    let h = app.spawn().unwrap();
    tokio::time::sleep(ms(1)).await;
    h.terminate_child("slow").await.unwrap();
    let started = tokio::time::timeout(secs(1), h.started()).await;
    assert_eq!(started.expect("the start still waits"), Ok(()));
    assert!(h.is_running());
    h.shutdown().await.unwrap();
}
