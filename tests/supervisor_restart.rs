//! Restart policies after `Ok`, `Err` and panic, on virtual time.

mod support;

use support::*;
use tokio_supervisor::{Backoff, ExitReason, Phase, Restart, Supervisor};

async fn run_one(restart: Restart, act: Act) -> (Log, Vec<tokio_supervisor::ChildSnapshot>) {
    let log = Log::default();
    let alive = Alive::default();
    let spec = scripted("c", &log, &alive, vec![act, Act::Serve])
        .restart(restart)
        .backoff(Backoff::none());
    let h = Supervisor::builder("sup").child(spec).start_ok().await;
    tokio::time::sleep(ms(100)).await;
    let snap = h.which_children().await;
    h.shutdown().await.unwrap();
    assert_eq!(alive.count(), 0);
    (log, snap)
}

#[tokio::test(start_paused = true)]
async fn permanent_restarts_after_ok_err_and_panic() {
    for act in [
        Act::OkAfter(ms(10)),
        Act::ErrAfter(ms(10)),
        Act::PanicAfter(ms(10)),
    ] {
        let (log, snap) = run_one(Restart::Permanent, act.clone()).await;
        assert_eq!(log.matching("start"), ["c:start:1", "c:start:2"], "{act:?}");
        assert_eq!(snap[0].phase, Phase::Running);
        assert_eq!((snap[0].starts, snap[0].restarts), (2, 1));
    }
}

#[tokio::test(start_paused = true)]
async fn transient_restarts_after_err_and_panic_only() {
    let (log, snap) = run_one(Restart::Transient, Act::OkAfter(ms(10))).await;
    assert_eq!(log.matching("start"), ["c:start:1"]);
    assert_eq!(snap[0].phase, Phase::Terminated(ExitReason::Completed));
    assert_eq!(snap[0].failures, 0);

    let (log, snap) = run_one(Restart::Transient, Act::ErrAfter(ms(10))).await;
    assert_eq!(log.matching("start"), ["c:start:1", "c:start:2"]);
    assert_eq!(snap[0].failures, 1);
    assert_eq!(snap[0].last_error.as_deref(), Some("fail"));
    assert_eq!(snap[0].last_exit, Some(ExitReason::Failed("fail".into())));

    let (log, snap) = run_one(Restart::Transient, Act::PanicAfter(ms(10))).await;
    assert_eq!(log.matching("start"), ["c:start:1", "c:start:2"]);
    assert_eq!(
        snap[0].last_exit,
        Some(ExitReason::Panicked("boom".into())),
        "the panic message is captured"
    );
    assert_eq!(snap[0].last_error.as_deref(), Some("panicked: boom"));
}

#[tokio::test(start_paused = true)]
async fn last_error_outlives_a_later_clean_exit_and_follows_the_newest_failure() {
    let log = Log::default();
    let alive = Alive::default();
    let script = vec![
        Act::ErrAfter(ms(10)),
        Act::OkAfter(ms(10)),
        Act::PanicAfter(ms(10)),
        Act::OkAfter(ms(10)),
        Act::Serve,
    ];
    let spec = scripted("c", &log, &alive, script)
        .restart(Restart::Permanent)
        .backoff(Backoff::none());
    let h = Supervisor::builder("sup").child(spec).start_ok().await;
    tokio::time::sleep(ms(15)).await;
    let snap = h.which_children().await;
    assert_eq!(snap[0].last_error.as_deref(), Some("fail"));
    tokio::time::sleep(ms(10)).await;
    let snap = h.which_children().await;
    assert_eq!(snap[0].last_exit, Some(ExitReason::Completed));
    assert_eq!(
        snap[0].last_error.as_deref(),
        Some("fail"),
        "a clean exit does not erase the last error"
    );
    tokio::time::sleep(ms(20)).await;
    let snap = h.which_children().await;
    assert_eq!(snap[0].last_exit, Some(ExitReason::Completed));
    assert_eq!(snap[0].last_error.as_deref(), Some("panicked: boom"));
    assert_eq!((snap[0].starts, snap[0].failures), (5, 2));
    h.shutdown().await.unwrap();
    assert_eq!(alive.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn temporary_is_never_restarted_and_is_removed() {
    for act in [
        Act::OkAfter(ms(10)),
        Act::ErrAfter(ms(10)),
        Act::PanicAfter(ms(10)),
    ] {
        let (log, snap) = run_one(Restart::Temporary, act.clone()).await;
        assert_eq!(log.matching("start"), ["c:start:1"], "{act:?}");
        assert!(snap.is_empty(), "a temporary child is removed when it ends");
    }
}

#[tokio::test(start_paused = true)]
async fn panic_message_reaches_the_exit_event() {
    let log = Log::default();
    let alive = Alive::default();
    let (h, mut rx) = Supervisor::builder("sup")
        .child(
            scripted("c", &log, &alive, vec![Act::PanicAfter(ms(5)), Act::Serve])
                .backoff(Backoff::none()),
        )
        .start_subscribed()
        .await;
    tokio::time::sleep(ms(10)).await;
    let events = drain(&mut rx);
    assert!(
        events.iter().any(|(p, k)| p == "sup/c"
            && *k
                == tokio_supervisor::EventKind::Exited {
                    reason: ExitReason::Panicked("boom".into())
                }),
        "{events:?}"
    );
    h.shutdown().await.unwrap();
}

/// A run that returns `Ok` while a local of it panics as it is dropped: the
/// panic is how the run ended, and the child is restarted as after any
/// panic.
#[tokio::test(start_paused = true)]
async fn a_panic_in_a_runs_destructor_is_a_panic_of_the_run() {
    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("destructor");
        }
    }
    let h = Supervisor::builder("sup")
        .child(
            tokio_supervisor::ChildSpec::new(
                "c",
                tokio_supervisor::service_fn(|ctx| async move {
                    if ctx.attempt() == 1 {
                        let _guard = PanicOnDrop;
                        tokio::time::sleep(ms(5)).await;
                        // `_guard` is dropped as the run returns.
                        return Ok::<(), tokio_supervisor::BoxError>(());
                    }
                    ctx.cancelled().await;
                    Ok(())
                }),
            )
            .restart(Restart::Permanent)
            .backoff(Backoff::none()),
        )
        .start_ok()
        .await;
    tokio::time::sleep(ms(10)).await;
    let c = &h.which_children().await[0];
    assert_eq!(c.restarts, 1, "{c:?}");
    assert_eq!(c.phase, Phase::Running);
    assert_eq!(
        c.last_error.as_deref(),
        Some("panicked: destructor"),
        "{c:?}"
    );
    h.shutdown().await.unwrap();
    assert_eq!(alive_tasks(), 0);
}

#[tokio::test(start_paused = true)]
async fn siblings_are_untouched_by_a_one_for_one_restart() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("sup")
        .child(scripted("a", &log, &alive, vec![Act::Serve]))
        .child(
            scripted("b", &log, &alive, vec![Act::ErrAfter(ms(10)), Act::Serve])
                .backoff(Backoff::none()),
        )
        .child(scripted("c", &log, &alive, vec![Act::Serve]))
        .start_ok()
        .await;
    tokio::time::sleep(ms(50)).await;
    assert_eq!(
        log.matching("start"),
        ["a:start:1", "b:start:1", "c:start:1", "b:start:2"]
    );
    assert!(log.matching("stop").is_empty());
    h.shutdown().await.unwrap();
    assert_eq!(log.matching("stop"), ["c:stop", "b:stop", "a:stop"]);
}

/// `n` children `w000`, `w001`, … under `OneForAll` in OTP's stop order,
/// with an intensity of one restart: the first fails once, as `fail` says,
/// and the others serve until stopped.
fn one_failing_group(n: usize, fail: Act, log: &Log, alive: &Alive) -> (Vec<String>, Supervisor) {
    let names: Vec<String> = (0..n).map(|i| format!("w{i:03}")).collect();
    let children = names.iter().enumerate().map(|(i, name)| {
        let script = if i == 0 {
            vec![fail.clone(), Act::Serve]
        } else {
            vec![Act::Serve]
        };
        scripted(name, log, alive, script).backoff(Backoff::none())
    });
    let sup = Supervisor::builder("sup")
        .strategy(tokio_supervisor::Strategy::OneForAll)
        .intensity(1, secs(3600))
        .children(children)
        .build()
        .unwrap();
    (names, sup)
}

/// The siblings of the first child, stopped in reverse start order.
fn stopped_in_reverse(names: &[String]) -> Vec<String> {
    names[1..]
        .iter()
        .rev()
        .map(|n| format!("{n}:stop"))
        .collect()
}

/// A `OneForAll` group restart in OTP's order stops the siblings one at a
/// time in reverse, each handing the stop to the next as it ends, and
/// restarts them all once: the siblings' own ends are part of the restart,
/// never failures of their own (with an intensity of one restart, a single
/// miscounted end would take the supervisor down).
#[tokio::test(start_paused = true)]
async fn an_ordered_group_restart_stops_each_sibling_once_in_reverse() {
    let log = Log::default();
    let alive = Alive::default();
    let (names, sup) = one_failing_group(20, Act::ErrAfter(ms(50)), &log, &alive);
    let h = sup.start().await.unwrap();
    tokio::time::sleep(ms(100)).await;
    assert_eq!(log.matching(":stop"), stopped_in_reverse(&names));
    let restarted: Vec<String> = names.iter().map(|n| format!("{n}:start:2")).collect();
    assert_eq!(log.matching(":start:2"), restarted);
    assert!(log.matching(":start:3").is_empty());
    assert!(h.is_running(), "one restart, within the intensity");
    for c in h.which_children().await {
        assert_eq!(
            (c.restarts, c.phase.clone()),
            (1, Phase::Running),
            "{}",
            c.path
        );
    }
    assert_eq!(alive.count(), 20);
    h.shutdown().await.unwrap();
}

/// The same on the multi-thread runtime, with the siblings' tasks on both
/// workers while the loop stops and starts them: each sibling
/// is stopped once, in reverse, and started again once. Nothing waits on a
/// timer (the first failure is immediate, the test waits on events), so
/// the verdict does not depend on the machine's speed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordered_group_restart_holds_on_the_multi_thread_runtime() {
    let log = Log::default();
    let alive = Alive::default();
    let (names, sup) = one_failing_group(100, Act::Err, &log, &alive);
    let mut events = sup.subscribe();
    let h = sup.start().await.unwrap();
    let mut restarted = 0;
    while restarted < names.len() {
        let e = events.recv().await.expect("events keep coming");
        if matches!(e.kind, tokio_supervisor::EventKind::Started { attempt: 2 }) {
            restarted += 1;
        }
    }
    assert_eq!(log.matching(":stop"), stopped_in_reverse(&names));
    assert!(h.is_running(), "one restart, within the intensity");
    // A `Started` event comes as the run is spawned, before its first poll
    // logs it: once stopped, every run has logged its start.
    h.shutdown().await.unwrap();
    assert_eq!(alive.count(), 0);
    // Spawned in start order; on two workers, they may log in any order.
    let again: Vec<String> = names.iter().map(|n| format!("{n}:start:2")).collect();
    let mut started = log.matching(":start:2");
    started.sort();
    assert_eq!(started, again);
    assert!(log.matching(":start:3").is_empty());
}

/// How a run of `recorded` ends, by attempt.
#[derive(Clone, Copy)]
enum Then {
    Fail,
    Panic,
    Serve,
}

type TaskLog = std::sync::Arc<std::sync::Mutex<Vec<(u32, tokio::task::Id)>>>;

/// A child that records the attempt and tokio task of each run, then
/// ends as `then` says for that attempt.
fn recorded(log: &TaskLog, then: fn(u32) -> Then) -> tokio_supervisor::ChildSpec {
    let log = log.clone();
    tokio_supervisor::ChildSpec::new(
        "c",
        tokio_supervisor::service_fn(move |ctx| {
            let log = log.clone();
            async move {
                let attempt = ctx.attempt();
                log.lock().unwrap().push((attempt, tokio::task::id()));
                match then(attempt) {
                    Then::Fail => Err("again".into()),
                    Then::Panic => panic!("boom"),
                    Then::Serve => {
                        ctx.cancelled().await;
                        Ok(())
                    }
                }
            }
        }),
    )
    .restart(Restart::Permanent)
}

/// Every run, restarted at once or not, after an error or a panic, gets a
/// tokio task of its own (runs no longer reuse their predecessor's task:
/// a deliberate change, for one simple rule); and when the supervisor
/// stops, no task is left.
#[tokio::test(start_paused = true)]
async fn every_run_gets_a_task_of_its_own_and_none_is_left() {
    let before = alive_tasks();
    let log = TaskLog::default();
    // The third run panics, the seventh serves, the others fail.
    let spec = recorded(&log, |attempt| match attempt {
        3 => Then::Panic,
        7 => Then::Serve,
        _ => Then::Fail,
    })
    .backoff(Backoff::none());
    let h = Supervisor::builder("sup")
        .intensity(100, ms(1000))
        .child(spec)
        .start_ok()
        .await;
    settle().await;
    let runs = log.lock().unwrap().clone();
    let attempts: Vec<u32> = runs.iter().map(|(a, _)| *a).collect();
    assert_eq!(attempts, [1, 2, 3, 4, 5, 6, 7]);
    let tasks: std::collections::HashSet<_> = runs.iter().map(|(_, t)| *t).collect();
    assert_eq!(tasks.len(), runs.len(), "a task shared by two runs");
    h.shutdown().await.unwrap();
    settle().await;
    assert_eq!(alive_tasks(), before, "a task left running");
}

/// A restart after a backoff gets a task of its own: the ended run's task
/// does not wait through the delay.
#[tokio::test(start_paused = true)]
async fn a_restart_after_a_backoff_gets_a_new_task() {
    let log = TaskLog::default();
    let spec = recorded(&log, |attempt| match attempt {
        1 => Then::Fail,
        _ => Then::Serve,
    })
    .backoff(Backoff::fixed(ms(50)));
    let h = Supervisor::builder("sup").child(spec).start_ok().await;
    settle().await;
    let in_backoff = alive_tasks();
    tokio::time::sleep(ms(60)).await;
    settle().await;
    let runs = log.lock().unwrap().clone();
    assert_eq!(runs.len(), 2);
    assert_ne!(runs[0].1, runs[1].1);
    // During the backoff only the supervisor's loop (and this test) ran:
    // the ended run's task had gone.
    assert_eq!(alive_tasks(), in_backoff + 1, "the restarted run's task");
    h.shutdown().await.unwrap();
}

/// The error a run returns is rendered as the run ends and dropped at once
/// (it was kept until the next exit before: a deliberate change, so that
/// an error never holds a resource past its run); its text stays in the
/// snapshots.
#[tokio::test(start_paused = true)]
async fn a_returned_error_is_rendered_at_its_exit_and_dropped_at_once() {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;

    #[derive(Debug)]
    struct Holding(#[allow(dead_code)] Arc<()>);
    impl std::fmt::Display for Holding {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("holding")
        }
    }
    impl std::error::Error for Holding {}

    let held = Arc::new(());
    let runs = Arc::new(AtomicU32::new(0));
    let h = held.clone();
    let spec = tokio_supervisor::ChildSpec::new(
        "c",
        tokio_supervisor::service_fn(move |ctx| {
            let run = runs.fetch_add(1, Ordering::SeqCst) + 1;
            let err = (run == 1).then(|| Holding(h.clone()));
            async move {
                match (run, err) {
                    (1, Some(err)) => {
                        tokio::time::sleep(ms(10)).await;
                        Err(err.into())
                    }
                    (2, _) => {
                        tokio::time::sleep(ms(10)).await;
                        Ok(())
                    }
                    _ => {
                        ctx.cancelled().await;
                        Ok(())
                    }
                }
            }
        }),
    )
    .restart(Restart::Permanent)
    .backoff(Backoff::none());
    // This test's and the service's.
    let base = Arc::strong_count(&held);
    let sup = Supervisor::builder("sup").child(spec).start_ok().await;

    tokio::time::sleep(ms(15)).await;
    assert_eq!(Arc::strong_count(&held), base, "dropped as the run ended");
    let snap = sup.which_children().await;
    assert_eq!(snap[0].last_error.as_deref(), Some("holding"));

    tokio::time::sleep(ms(10)).await;
    let snap = sup.which_children().await;
    assert_eq!(snap[0].last_exit, Some(ExitReason::Completed));
    assert_eq!(snap[0].last_error.as_deref(), Some("holding"));
    sup.shutdown().await.unwrap();
}

/// A failure before ready in a restart is retried like any failure (with
/// backoff, up to the restart limit or the intensity), while an error
/// wrapped in `Fatal` gives the child up at once, whatever its policy, with
/// the reason visible, and counts nothing toward the intensity.
#[tokio::test(start_paused = true)]
async fn a_fatal_error_gives_the_child_up_at_once() {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    let runs = Arc::new(AtomicU32::new(0));
    let r = runs.clone();
    let spec = tokio_supervisor::ChildSpec::new(
        "feed",
        tokio_supervisor::service_fn(move |ctx| {
            let run = r.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if run == 1 {
                    // The first run fails in a way a restart may fix.
                    return Err("connection reset".into());
                }
                ctx.ready();
                Err(tokio_supervisor::Fatal::new("no API token configured").into())
            }
        }),
    )
    .restart(Restart::Permanent)
    .backoff(Backoff::fixed(ms(100)));
    let app = Supervisor::builder("app")
        .intensity(1, secs(60))
        .child(spec)
        .build()
        .unwrap();
    let mut events = app.subscribe();
    let h = app.start().await.unwrap();
    tokio::time::sleep(secs(5)).await;
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "restarted once, then given up"
    );
    let c = h.child("feed").await.unwrap();
    assert_eq!(
        c.phase,
        Phase::Terminated(ExitReason::Fatal("no API token configured".into()))
    );
    assert_eq!(c.last_error.as_deref(), Some("no API token configured"));
    assert!(
        h.is_running(),
        "a fatal error is the child's, not the supervisor's"
    );
    let exits: Vec<_> = drain(&mut events)
        .into_iter()
        .filter_map(|(_, k)| match k {
            tokio_supervisor::EventKind::Exited { reason } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(exits, ["failed", "fatal"]);
    assert_eq!(h.metrics().total.exits.get("fatal"), Some(&1));
    h.shutdown().await.unwrap();
}

/// A periodic child runs again at its cadence after each `Ok`, forever:
/// no backoff growth, nothing counted toward its restart limit or the
/// intensity, and, under a group strategy, it alone runs again. A failure
/// still gets the backoff.
#[tokio::test(start_paused = true)]
async fn a_periodic_child_keeps_its_cadence_forever() {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Arc;
    let runs = Arc::new(AtomicU32::new(0));
    let r = runs.clone();
    let poller = tokio_supervisor::ChildSpec::new(
        "poller",
        tokio_supervisor::service_fn(move |_ctx| {
            let run = r.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if run == 10 {
                    return Err("feed down".into());
                }
                Ok(())
            }
        }),
    )
    .restart(Restart::Permanent)
    .periodic(ms(100))
    .backoff(Backoff::fixed(secs(1)))
    .restart_limit(3, secs(60));
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("app")
        .strategy(tokio_supervisor::Strategy::OneForAll)
        .intensity(3, secs(5))
        .child(scripted("sibling", &log, &alive, vec![Act::Serve]))
        .child(poller)
        .start_ok()
        .await;
    tokio::time::sleep(secs(300)).await;
    // About 3 000 runs in 5 minutes, less the one failure's 1 s backoff.
    let n = runs.load(Ordering::SeqCst);
    assert!((2_980..=3_001).contains(&n), "{n} runs");
    assert!(h.is_running());
    let c = h.child("poller").await.unwrap();
    assert_eq!(c.failures, 1);
    // The one failure restarted the group (OneForAll); the 3 000 clean runs
    // did not.
    assert_eq!(log.matching("sibling:start").len(), 2);
    h.shutdown().await.unwrap();
}
