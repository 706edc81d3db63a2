//! Ordered, graceful shutdown: reverse start order, per-child `Shutdown`,
//! and nothing left running when `wait()` returns.

mod support;

use std::time::Duration;

use support::*;
use tokio::time::Instant;
use tokio_supervisor::{
    service_fn, Backoff, ChildSpec, ExitReason, Phase, Shutdown, ShutdownOrder, Supervisor,
};

#[tokio::test(start_paused = true)]
async fn graceful_stop_in_reverse_start_order() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .children(["a", "b", "c", "d"].map(|n| scripted(n, &log, &alive, vec![Act::Serve])))
        .start_ok()
        .await;
    assert_eq!(
        log.matching("start"),
        ["a:start:1", "b:start:1", "c:start:1", "d:start:1"]
    );
    assert_eq!(alive.count(), 4);
    h.shutdown().await.unwrap();
    assert_eq!(
        log.matching("stop"),
        ["d:stop", "c:stop", "b:stop", "a:stop"]
    );
    assert_eq!(alive.count(), 0);
    assert_eq!(
        alive_tasks(),
        0,
        "no task of the supervisor or its children is alive"
    );
    for c in h.which_children().await {
        assert_eq!(
            c.phase,
            Phase::Terminated(ExitReason::Shutdown),
            "{}",
            c.path
        );
    }
}

#[tokio::test(start_paused = true)]
async fn each_child_is_stopped_only_after_the_later_one_has_ended() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .child(scripted("a", &log, &alive, vec![Act::SlowStop(ms(300))]))
        .child(scripted("b", &log, &alive, vec![Act::SlowStop(ms(200))]))
        .start_ok()
        .await;
    let t0 = Instant::now();
    h.shutdown().await.unwrap();
    assert_eq!(
        log.matching("stop"),
        ["b:stopping", "b:stop", "a:stopping", "a:stop"]
    );
    assert_eq!(t0.elapsed(), ms(500), "sequential: 200 ms, then 300 ms");
}

/// The ordered stop hands each child's stop request to the next from the
/// ending child's own task; a child to abort (`Brutal`) or to kill at its
/// timeout is left to the supervisor's loop, and the order holds through
/// both, at the exact times.
#[tokio::test(start_paused = true)]
async fn the_ordered_stop_keeps_its_order_through_brutal_and_killed_children() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .child(scripted("a", &log, &alive, vec![Act::Serve]))
        .child(
            scripted("b", &log, &alive, vec![Act::SlowStop(secs(10))]).shutdown(Shutdown::Brutal),
        )
        .child(
            scripted("c", &log, &alive, vec![Act::IgnoreCancel])
                .shutdown(Shutdown::Graceful(secs(2))),
        )
        .child(scripted("d", &log, &alive, vec![Act::SlowStop(ms(100))]))
        .child(scripted("e", &log, &alive, vec![Act::Serve]))
        .start_ok()
        .await;
    let t0 = Instant::now();
    h.shutdown().await.unwrap();
    let stops: Vec<(Duration, String)> = log
        .timed()
        .into_iter()
        .filter(|(_, e)| !e.contains(":start"))
        .map(|(t, e)| (t - t0, e))
        .collect();
    let at = |t: u64, e: &str| (ms(t), e.to_string());
    assert_eq!(
        stops,
        [
            at(0, "e:stop"),
            at(0, "d:stopping"),
            at(100, "d:stop"),
            at(100, "c:ignoring"),
            // c killed at its 2 s, b aborted at once, then a.
            at(2_100, "a:stop"),
        ]
    );
    assert_eq!(t0.elapsed(), ms(2_100));
    let reasons: Vec<Phase> = h
        .which_children()
        .await
        .into_iter()
        .map(|c| c.phase)
        .collect();
    assert_eq!(
        reasons,
        [
            Phase::Terminated(ExitReason::Shutdown),
            Phase::Terminated(ExitReason::Aborted),
            Phase::Terminated(ExitReason::Aborted),
            Phase::Terminated(ExitReason::Shutdown),
            Phase::Terminated(ExitReason::Shutdown),
        ]
    );
    assert_eq!(alive.count(), 0);
    assert_eq!(alive_tasks(), 0);
}

/// On the multi-thread runtime, with the children's tasks on both workers
/// while the loop stops them one by one, the order holds all the same. No
/// timer is involved, so the verdict does not depend on the machine's
/// speed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ordered_stop_keeps_its_order_on_the_multi_thread_runtime() {
    let names: Vec<String> = (0..100).map(|i| format!("w{i:03}")).collect();
    let expected: Vec<String> = names.iter().rev().map(|n| format!("{n}:stop")).collect();
    for round in 0..20 {
        let log = Log::default();
        let alive = Alive::default();
        let h = Supervisor::builder("sup")
            .children(
                names
                    .iter()
                    .map(|n| scripted(n, &log, &alive, vec![Act::Serve])),
            )
            .start_ok()
            .await;
        h.shutdown().await.unwrap();
        assert_eq!(log.matching(":stop"), expected, "round {round}");
        assert_eq!(alive.count(), 0, "round {round}");
    }
}

/// `ShutdownOrder::Concurrent`: every child is asked at once, so the stop
/// takes as long as the slowest child, not the sum.
#[tokio::test(start_paused = true)]
async fn concurrent_order_stops_every_child_at_once() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .shutdown_order(ShutdownOrder::Concurrent)
        .child(scripted("a", &log, &alive, vec![Act::SlowStop(ms(300))]))
        .child(scripted("b", &log, &alive, vec![Act::SlowStop(ms(200))]))
        .start_ok()
        .await;
    let t0 = Instant::now();
    h.shutdown().await.unwrap();
    assert_eq!(t0.elapsed(), ms(300), "the slowest child, not 200 + 300");
    assert_eq!(
        log.matching("stop"),
        ["b:stopping", "a:stopping", "b:stop", "a:stop"],
        "both asked before either ended, in reverse start order"
    );
    assert_eq!(alive.count(), 0);
    assert_eq!(alive_tasks(), 0);
}

/// Under `ShutdownOrder::Concurrent`, children stopped together share kill
/// deadlines; each child is still aborted at its own timeout, and only the
/// ones that ignore the request are.
#[tokio::test(start_paused = true)]
async fn concurrent_stop_aborts_each_stubborn_child_at_its_own_timeout() {
    let log = Log::default();
    let alive = Alive::default();
    let stubborn = |name, timeout| {
        scripted(name, &log, &alive, vec![Act::IgnoreCancel]).shutdown(Shutdown::Graceful(timeout))
    };
    let h = Supervisor::builder("sup")
        .shutdown_order(ShutdownOrder::Concurrent)
        .child(stubborn("s1", secs(2)))
        .child(scripted("a", &log, &alive, vec![Act::Serve]).shutdown(Shutdown::Graceful(secs(2))))
        .child(stubborn("s2", secs(2)))
        .child(stubborn("s3", secs(3)))
        .child(scripted("b", &log, &alive, vec![Act::SlowStop(ms(500))]))
        .start_ok()
        .await;
    let t0 = Instant::now();
    tokio::time::timeout(secs(10), h.shutdown())
        .await
        .expect("every stubborn child is aborted")
        .unwrap();
    assert_eq!(t0.elapsed(), secs(3), "the longest timeout");
    // Start order: s1, a, s2, s3, b.
    let snap = h.which_children().await;
    assert!(snap.iter().all(|c| c.next_restart_in.is_none()));
    let phases: Vec<_> = snap.into_iter().map(|c| c.phase).collect();
    let (aborted, shut_down) = (
        Phase::Terminated(ExitReason::Aborted),
        Phase::Terminated(ExitReason::Shutdown),
    );
    assert_eq!(
        phases,
        [
            aborted.clone(),
            shut_down.clone(),
            aborted.clone(),
            aborted,
            shut_down
        ]
    );
    assert_eq!(alive.count(), 0);
    assert_eq!(alive_tasks(), 0);
}

/// The kill deadline of a child that stopped in time stays armed while the
/// supervisor stops (it is cheaper to leave it than to take it out), and
/// when it passes it must kill nobody: a slower sibling with a longer
/// timeout still ends on its own, in both stop orders.
#[tokio::test(start_paused = true)]
async fn an_ended_childs_deadline_kills_no_slower_sibling() {
    for order in [ShutdownOrder::Reverse, ShutdownOrder::Concurrent] {
        let log = Log::default();
        let alive = Alive::default();
        // Stopped first in reverse order: `quick`, whose 1 s deadline
        // passes while `slow` (7 s to stop, allowed 10 s) is still stopping.
        let h = Supervisor::builder("sup")
            .shutdown_order(order)
            .child(
                scripted("slow", &log, &alive, vec![Act::SlowStop(secs(7))])
                    .shutdown(Shutdown::Graceful(secs(10))),
            )
            .child(
                scripted("quick", &log, &alive, vec![Act::Serve])
                    .shutdown(Shutdown::Graceful(secs(1))),
            )
            .start_ok()
            .await;
        let t0 = Instant::now();
        tokio::time::timeout(secs(20), h.shutdown())
            .await
            .expect("stopped")
            .unwrap();
        assert_eq!(t0.elapsed(), secs(7), "{order:?}: slow ended on its own");
        let phases: Vec<_> = h
            .which_children()
            .await
            .into_iter()
            .map(|c| c.phase)
            .collect();
        let shut_down = Phase::Terminated(ExitReason::Shutdown);
        assert_eq!(phases, [shut_down.clone(), shut_down], "{order:?}");
        assert_eq!(alive_tasks(), 0);
    }
}

/// The same in a group restart under `Concurrent`: a sibling that ignores
/// the stop is aborted at its timeout, and the group then starts again.
#[tokio::test(start_paused = true)]
async fn concurrent_group_restart_aborts_a_stubborn_sibling_at_its_timeout() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .strategy(tokio_supervisor::Strategy::OneForAll)
        .shutdown_order(ShutdownOrder::Concurrent)
        .child(
            scripted("a", &log, &alive, vec![Act::IgnoreCancel, Act::Serve])
                .shutdown(Shutdown::Graceful(secs(1))),
        )
        .child(scripted("b", &log, &alive, vec![Act::Serve]))
        .child(
            scripted("c", &log, &alive, vec![Act::ErrAfter(ms(100)), Act::Serve])
                .restart(tokio_supervisor::Restart::Permanent)
                .backoff(Backoff::none()),
        )
        .start_ok()
        .await;
    let t0 = log.timed()[0].0;
    tokio::time::sleep(secs(2)).await;
    let restarted = log
        .timed()
        .into_iter()
        .find(|(_, e)| e == "a:start:2")
        .expect("a restarted")
        .0;
    assert_eq!(
        restarted - t0,
        ms(1100),
        "c failed at 100 ms, a was aborted 1 s later"
    );
    let snap = h.which_children().await;
    assert!(snap.iter().all(|c| c.phase == Phase::Running), "{snap:?}");
    h.shutdown().await.unwrap();
    assert_eq!(alive.count(), 0);
}

/// A ready-gated child asked to stop before it was ready, which then calls
/// `ready()` and ignores the stop: its readiness must not call off its kill
/// deadline (nor arm a heartbeat), so it is still aborted at its timeout.
#[tokio::test(start_paused = true)]
async fn readiness_after_the_stop_request_keeps_the_kill_deadline() {
    let h = Supervisor::builder("sup")
        .child(
            ChildSpec::new(
                "late",
                service_fn(|ctx| async move {
                    ctx.cancelled().await;
                    ctx.ready();
                    std::future::pending::<()>().await;
                    Ok(())
                }),
            )
            .wait_ready(secs(60))
            .heartbeat(secs(10))
            .shutdown(Shutdown::Graceful(secs(1))),
        )
        .build()
        .unwrap()
        .spawn()
        .unwrap();
    tokio::time::sleep(ms(100)).await;
    let t0 = Instant::now();
    tokio::time::timeout(secs(30), h.shutdown())
        .await
        .expect("the child is aborted at its kill deadline")
        .unwrap();
    assert_eq!(t0.elapsed(), secs(1));
    let snap = h.which_children().await;
    assert_eq!(snap[0].phase, Phase::Terminated(ExitReason::Aborted));
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_child_ignoring_cancellation_is_aborted_after_its_timeout() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .child(scripted("a", &log, &alive, vec![Act::Serve]))
        .child(
            scripted("stubborn", &log, &alive, vec![Act::IgnoreCancel])
                .shutdown(Shutdown::Graceful(secs(2))),
        )
        .child(scripted("c", &log, &alive, vec![Act::Serve]))
        .start_ok()
        .await;
    let t0 = Instant::now();
    h.shutdown().await.unwrap();
    assert_eq!(t0.elapsed(), secs(2), "waited exactly the timeout");
    assert_eq!(log.matching("stop"), ["c:stop", "a:stop"]);
    assert_eq!(log.matching("ignoring"), ["stubborn:ignoring"]);
    let a_stopped = log
        .timed()
        .into_iter()
        .find(|(_, e)| e == "a:stop")
        .unwrap()
        .0;
    assert_eq!(
        a_stopped - t0,
        secs(2),
        "a is stopped only once stubborn is gone"
    );
    let snap = h.which_children().await;
    assert_eq!(snap[1].phase, Phase::Terminated(ExitReason::Aborted));
    assert_eq!(snap[0].phase, Phase::Terminated(ExitReason::Shutdown));
    assert_eq!(alive.count(), 0);
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn brutal_aborts_at_once() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .child(
            scripted("b", &log, &alive, vec![Act::SlowStop(secs(10))]).shutdown(Shutdown::Brutal),
        )
        .start_ok()
        .await;
    let t0 = Instant::now();
    h.shutdown().await.unwrap();
    assert_eq!(t0.elapsed(), ms(0));
    assert!(
        log.matching("stop").is_empty(),
        "never saw the cancellation"
    );
    let snap = h.which_children().await;
    assert_eq!(snap[0].phase, Phase::Terminated(ExitReason::Aborted));
    assert_eq!(alive.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn infinity_waits_as_long_as_it_takes() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .child(
            scripted("slow", &log, &alive, vec![Act::SlowStop(secs(3600))])
                .shutdown(Shutdown::Infinity),
        )
        .start_ok()
        .await;
    let t0 = Instant::now();
    h.shutdown().await.unwrap();
    assert_eq!(t0.elapsed(), secs(3600));
    let snap = h.which_children().await;
    assert_eq!(snap[0].phase, Phase::Terminated(ExitReason::Shutdown));
}

/// In either order, a child waiting to restart is called off at once, even
/// while a sibling after it takes its time to stop, and its timer never
/// fires a restart.
#[tokio::test(start_paused = true)]
async fn shutdown_during_backoff_never_restarts() {
    for order in [ShutdownOrder::Reverse, ShutdownOrder::Concurrent] {
        let log = Log::default();
        let alive = Alive::default();
        let h = Supervisor::builder("sup")
            .shutdown_order(order)
            .child(
                scripted("c", &log, &alive, vec![Act::ErrAfter(ms(10))])
                    .backoff(Backoff::fixed(secs(10))),
            )
            .child(
                scripted("slow", &log, &alive, vec![Act::SlowStop(secs(30))])
                    .shutdown(Shutdown::Infinity),
            )
            .start_ok()
            .await;
        tokio::time::sleep(secs(1)).await;
        let snap = h.which_children().await;
        assert_eq!(snap[0].phase, Phase::BackingOff, "{order:?}");
        assert!(snap[0].next_restart_in.is_some_and(|d| d <= secs(10)));
        let t0 = Instant::now();
        h.shutdown().await.unwrap();
        assert_eq!(t0.elapsed(), secs(30), "{order:?}: the slow sibling's stop");
        tokio::time::sleep(secs(60)).await;
        assert_eq!(log.matching("c:start"), ["c:start:1"], "{order:?}");
        let snap = h.which_children().await;
        assert_eq!(snap[0].phase, Phase::Terminated(ExitReason::Shutdown));
        assert_eq!(snap[0].next_restart_in, None);
        assert_eq!(alive.count(), 0);
    }
}

#[tokio::test(start_paused = true)]
async fn shutdown_while_children_are_starting_ends_cleanly() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .child(scripted("a", &log, &alive, vec![Act::Serve]))
        .child(scripted("b", &log, &alive, vec![Act::NeverReady]).wait_ready(secs(60)))
        .child(scripted("c", &log, &alive, vec![Act::Serve]))
        .build()
        .unwrap()
        .spawn()
        .unwrap();
    tokio::time::sleep(secs(1)).await;
    assert_eq!(log.matching("start"), ["a:start:1", "b:start:1"]);
    h.shutdown().await.unwrap();
    assert_eq!(log.matching("stop"), ["b:stop", "a:stop"]);
    assert_eq!(log.matching("c:"), Vec::<String>::new(), "c never started");
    let err = h.started().await.unwrap_err();
    assert!(
        matches!(
            err,
            tokio_supervisor::SupervisorError::StartCancelled { .. }
        ),
        "{err}"
    );
    let snap = h.which_children().await;
    assert_eq!(snap[2].phase, Phase::Terminated(ExitReason::Shutdown));
    assert_eq!(snap[2].starts, 0);
    assert_eq!(alive.count(), 0);
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_child_exiting_on_its_own_during_shutdown_keeps_its_reason() {
    // OTP's sup_stop race: not restarted, nothing hangs, its own reason kept.
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .child(scripted(
            "early",
            &log,
            &alive,
            vec![Act::ErrAfter(ms(100))],
        ))
        .child(
            scripted("slow", &log, &alive, vec![Act::SlowStop(ms(500))])
                .restart(tokio_supervisor::Restart::Permanent),
        )
        .start_ok()
        .await;
    h.shutdown().await.unwrap(); // slow takes 500 ms; early fails at 100 ms
    let snap = h.which_children().await;
    assert_eq!(
        snap[0].phase,
        Phase::Terminated(ExitReason::Failed("fail".into()))
    );
    assert_eq!(snap[1].phase, Phase::Terminated(ExitReason::Shutdown));
    assert_eq!(log.matching("start").len(), 2, "nothing restarted");
}

#[test]
fn dropping_the_runtime_aborts_every_child_and_wakes_waiters() {
    let alive = Alive::default();
    let a2 = alive.clone();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let h = rt.block_on(async move {
        Supervisor::builder("sup")
            .child(ChildSpec::new(
                "c",
                service_fn(move |ctx| {
                    let a = a2.clone();
                    async move {
                        let _g = a.enter();
                        ctx.cancelled().await;
                        Ok(())
                    }
                }),
            ))
            .start_ok()
            .await
    });
    assert_eq!(alive.count(), 1);
    drop(rt);
    assert_eq!(
        alive.count(),
        0,
        "the child task was dropped with its runtime"
    );
    // The handle outlives the runtime and still answers, at once.
    let rt2 = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt2.block_on(async {
        let err = h.wait().await.unwrap_err();
        assert!(
            matches!(err, tokio_supervisor::SupervisorError::Lost { .. }),
            "{err}"
        );
        assert!(h.is_finished());
        assert_eq!(h.which_children().await.len(), 1);
        assert!(h.shutdown().await.is_err());
    });
}

#[tokio::test(start_paused = true)]
async fn stopping_an_unready_child_is_a_shutdown_not_a_ready_timeout() {
    // Never ready; once cancelled it takes 3 s to clean up, past its 2 s
    // readiness deadline: the deadline must not fire during the stop.
    for shutdown in [Shutdown::Infinity, Shutdown::Graceful(secs(10))] {
        let h = Supervisor::builder("sup")
            .child(
                ChildSpec::new(
                    "slow",
                    service_fn(|ctx| async move {
                        ctx.cancelled().await;
                        tokio::time::sleep(secs(3)).await;
                        Ok(())
                    }),
                )
                .wait_ready(secs(2))
                .shutdown(shutdown),
            )
            .build()
            .unwrap()
            .spawn()
            .unwrap();
        tokio::time::sleep(secs(1)).await;
        let t0 = Instant::now();
        h.shutdown().await.unwrap();
        assert_eq!(t0.elapsed(), secs(3), "{shutdown:?}");
        let snap = h.which_children().await;
        assert_eq!(
            snap[0].phase,
            Phase::Terminated(ExitReason::Shutdown),
            "{shutdown:?}"
        );
    }
}

/// A child that returns an error once asked to stop has stopped, not
/// failed: no failure is counted, in its snapshot or in the metrics, at a
/// `terminate_child` or at the supervisor's stop.
#[tokio::test(start_paused = true)]
async fn an_error_returned_after_a_stop_request_is_a_stop() {
    let stops_badly = |name: &str| {
        tokio_supervisor::ChildSpec::new(
            name,
            tokio_supervisor::service_fn(|ctx| async move {
                ctx.cancelled().await;
                Err("flush failed on the way out".into())
            }),
        )
    };
    let h = Supervisor::builder("app")
        .child(stops_badly("a"))
        .child(stops_badly("b"))
        .start_ok()
        .await;
    h.terminate_child("a").await.unwrap();
    let a = h.child("a").await.unwrap();
    assert_eq!(a.phase, Phase::Terminated(ExitReason::Shutdown));
    assert_eq!((a.failures, a.last_error.as_deref()), (0, None));
    h.shutdown().await.unwrap();
    let m = h.metrics();
    assert_eq!(m.total.exits.get("shutdown"), Some(&2), "{m:?}");
    assert_eq!(m.total.exits.get("failed"), None, "{m:?}");
}

/// One budget for the whole stop: the ordered stop runs within it, and what
/// still runs when it runs out is aborted (a nested supervisor's children
/// too); the outcome names the children aborted.
#[tokio::test(start_paused = true)]
async fn the_shutdown_budget_bounds_the_whole_stop() {
    let log = Log::default();
    let alive = Alive::default();
    let db = Supervisor::builder("db")
        .child(scripted("pool", &log, &alive, vec![Act::IgnoreCancel]))
        .build()
        .unwrap();
    let h = Supervisor::builder("app")
        .shutdown_budget(secs(1))
        .child(scripted(
            "first",
            &log,
            &alive,
            vec![Act::SlowStop(ms(300))],
        ))
        .child(db)
        .child(scripted("stuck", &log, &alive, vec![Act::IgnoreCancel]))
        .child(scripted("last", &log, &alive, vec![Act::SlowStop(ms(300))]))
        .start_ok()
        .await;
    let t0 = tokio::time::Instant::now();
    let outcome = h.shutdown().await;
    // Without the budget: 0.3 s + 5 s (stuck's Graceful timeout) + the
    // nested pool's 5 s + 0.3 s.
    assert_eq!(t0.elapsed(), secs(1));
    match outcome {
        Err(tokio_supervisor::SupervisorError::ShutdownBudgetExceeded {
            supervisor,
            budget,
            aborted,
        }) => {
            assert_eq!((supervisor.as_str(), budget), ("app", secs(1)));
            assert_eq!(aborted, ["app/stuck", "app/db", "app/first"]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(alive.count(), 0, "every child ended, the nested pool too");
    let snaps = h.which_children().await;
    assert_eq!(
        snaps[3].last_exit,
        Some(ExitReason::Shutdown),
        "last stopped in time"
    );
    assert_eq!(snaps[2].last_exit, Some(ExitReason::Aborted));
}

/// A stop that ends within the budget is clean: the outcome is `Ok`.
#[tokio::test(start_paused = true)]
async fn a_stop_within_its_budget_is_clean() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("app")
        .shutdown_budget(secs(1))
        .child(scripted("a", &log, &alive, vec![Act::SlowStop(ms(300))]))
        .child(scripted("b", &log, &alive, vec![Act::SlowStop(ms(300))]))
        .start_ok()
        .await;
    assert_eq!(h.shutdown().await, Ok(()));
}

/// The same in a group restart: a sibling that returns an error as the
/// group restart stops it has stopped, not failed, and is started again
/// with the group.
#[tokio::test(start_paused = true)]
async fn an_error_returned_when_a_group_restart_stops_a_sibling_is_a_stop() {
    let log = Log::default();
    let alive = Alive::default();
    let stops_badly = tokio_supervisor::ChildSpec::new(
        "sibling",
        tokio_supervisor::service_fn(|ctx| async move {
            ctx.cancelled().await;
            Err("flush failed on the way out".into())
        }),
    );
    let h = Supervisor::builder("app")
        .strategy(tokio_supervisor::Strategy::OneForAll)
        .intensity(1, secs(60))
        .child(stops_badly)
        .child(
            scripted(
                "trigger",
                &log,
                &alive,
                vec![Act::ErrAfter(ms(10)), Act::Serve],
            )
            .backoff(tokio_supervisor::Backoff::none()),
        )
        .start_ok()
        .await;
    tokio::time::sleep(secs(1)).await;
    assert!(h.is_running());
    let sibling = h.child("sibling").await.unwrap();
    assert_eq!((sibling.starts, sibling.failures), (2, 0));
    assert_eq!(sibling.phase, Phase::Running);
    h.shutdown().await.unwrap();
    assert_eq!(
        h.metrics().total.exits.get("failed"),
        Some(&1),
        "the trigger's only"
    );
}
