//! One-off, restartable and blocking tasks, as children of the tree.
//!
//! Blocking tasks run on real threads: where a test needs one to take a
//! while, it blocks on a channel the test controls (never a timed sleep), so
//! no verdict depends on the machine's speed.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::*;
use tokio_supervisor::{
    task_fn, Backoff, ChildSpec, ControlError, ExitReason, Phase, Restart, Supervisor,
    SupervisorHandle, TaskError, TaskHandle,
};

#[tokio::test(start_paused = true)]
async fn a_task_gives_its_typed_result_and_leaves_the_table() {
    let h = Supervisor::dynamic("jobs").start_ok().await;
    let t = h.spawn_task("compute", async {
        tokio::time::sleep(secs(2)).await;
        vec![1, 2, 3]
    });
    assert_eq!(t.name(), "compute");
    assert_eq!(t.path(), "jobs/compute");
    tokio::time::sleep(secs(1)).await;
    let snap = h.which_children().await;
    assert_eq!(snap.len(), 1, "visible while it runs");
    assert_eq!(snap[0].phase, Phase::Running);
    assert_eq!(snap[0].uptime, Some(secs(1)), "its wall time so far");
    assert_eq!(snap[0].restart, Restart::Temporary);
    assert_eq!(t.join().await, Ok(vec![1, 2, 3]));
    assert!(h.which_children().await.is_empty(), "gone when it ends");
}

#[tokio::test(start_paused = true)]
async fn panic_abort_and_shutdown_are_task_errors() {
    let h = Supervisor::dynamic("jobs").start_ok().await;
    let p = h.spawn_task("p", async { panic!("bad row 7") });
    assert_eq!(
        p.join().await,
        Err::<(), _>(TaskError::Panicked("bad row 7".into()))
    );

    let a = h.spawn_task("a", std::future::pending::<u32>());
    a.abort();
    assert_eq!(a.join().await, Err(TaskError::Cancelled));

    let s = h.spawn_task("s", std::future::pending::<u32>());
    h.shutdown().await.unwrap();
    assert_eq!(s.join().await, Err(TaskError::Cancelled));
}

#[tokio::test(start_paused = true)]
async fn dropping_the_handle_does_not_cancel_abort_on_drop_does() {
    let h = Supervisor::dynamic("jobs").start_ok().await;
    let done = Arc::new(AtomicUsize::new(0));
    let d2 = done.clone();
    let t = h.spawn_task("kept", async move {
        tokio::time::sleep(secs(1)).await;
        d2.fetch_add(1, Ordering::SeqCst);
    });
    drop(t);
    tokio::time::sleep(secs(2)).await;
    assert_eq!(done.load(Ordering::SeqCst), 1, "ran to its end");

    let d3 = done.clone();
    let t = h
        .spawn_task("guarded", async move {
            tokio::time::sleep(secs(1)).await;
            d3.fetch_add(1, Ordering::SeqCst);
        })
        .abort_on_drop();
    drop(t);
    tokio::time::sleep(secs(2)).await;
    assert_eq!(done.load(Ordering::SeqCst), 1, "aborted on drop");
    assert!(h.which_children().await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn try_join_gives_the_handle_back_until_done() {
    let h = Supervisor::dynamic("jobs").start_ok().await;
    let t = h.spawn_task("t", async {
        tokio::time::sleep(secs(1)).await;
        42
    });
    let t = t.try_join().expect_err("not done yet");
    tokio::time::sleep(secs(2)).await;
    assert_eq!(t.try_join().ok(), Some(Ok(42)));
}

#[tokio::test(start_paused = true)]
async fn names_in_use_are_refused_and_terminate_child_aborts_by_name() {
    let h = Supervisor::dynamic("jobs").start_ok().await;
    let t = h.spawn_task("index", std::future::pending::<()>());
    let again = h.spawn_task("index", async {});
    assert_eq!(again.path(), "jobs/index", "known before the answer");
    assert_eq!(
        again.join().await,
        Err(TaskError::Refused {
            path: "jobs/index".into(),
            reason: ControlError::AlreadyRunning {
                path: "jobs/index".into()
            }
        }),
        "never a silent replacement"
    );
    h.terminate_child("index").await.unwrap();
    assert_eq!(t.join().await, Err(TaskError::Cancelled));
    // The name is free again once the task is gone.
    let t = h.spawn_task("index", async { 1 });
    assert_eq!(t.join().await, Ok(1));
    // Bad input: refused, reported at join, naming the path.
    let err = h.spawn_task("a/b", async {}).join().await.unwrap_err();
    assert!(
        matches!(&err, TaskError::Refused { path, reason: ControlError::InvalidName { .. } } if path == "jobs/a/b"),
        "{err}"
    );
    let err = h.spawn_task("", async {}).join().await.unwrap_err();
    assert!(
        matches!(&err, TaskError::Refused { path, reason: ControlError::InvalidName { .. } } if path == "jobs/"),
        "{err}"
    );
    h.shutdown().await.unwrap();
    let err = h.spawn_task("late", async {}).join().await.unwrap_err();
    assert_eq!(
        err,
        TaskError::Refused {
            path: "jobs/late".into(),
            reason: ControlError::Stopped {
                supervisor: "jobs".into()
            }
        }
    );
    assert_eq!(
        err.to_string(),
        "task `jobs/late` was not started: supervisor `jobs` has stopped"
    );
}

/// `spawn_task` and `spawn_blocking` are plain functions, as `tokio::spawn`:
/// synchronous code (a registry's `spawn`, a callback) starts a task and
/// gets its handle at once, without an `.await`.
#[tokio::test(start_paused = true)]
async fn tasks_start_from_synchronous_code() {
    struct Registry {
        jobs: SupervisorHandle,
    }
    impl Registry {
        // Not async: no `.await` is possible here.
        fn spawn(&self, name: &str, secs_of_work: u64) -> TaskHandle<u64> {
            self.jobs.spawn_task(name, async move {
                tokio::time::sleep(secs(secs_of_work)).await;
                secs_of_work
            })
        }
        fn spawn_sum(&self, name: &str, n: u64) -> TaskHandle<u64> {
            self.jobs.spawn_blocking(name, move || (1..=n).sum())
        }
    }
    let registry = Registry {
        jobs: Supervisor::dynamic("jobs").start_ok().await,
    };
    let slow = registry.spawn("slow", 3);
    let sum = registry.spawn_sum("sum", 10);
    assert_eq!((slow.path(), sum.name()), ("jobs/slow", "sum"));
    // Listed by a query sent after the spawn: commands are read in order.
    let listed = registry.jobs.which_children().await;
    assert!(listed.iter().any(|c| &*c.path == "jobs/slow"));
    let t0 = tokio::time::Instant::now();
    assert_eq!(slow.join().await, Ok(3));
    assert_eq!(t0.elapsed(), secs(3), "on virtual time");
    assert_eq!(sum.join().await, Ok(55));
    // Even from a thread outside any runtime.
    let jobs = registry.jobs.clone();
    let from_thread = std::thread::spawn(move || jobs.spawn_task("from-thread", async { 7 }))
        .join()
        .unwrap();
    assert_eq!(from_thread.join().await, Ok(7));
    registry.jobs.shutdown().await.unwrap();
}

/// A task refused while its supervisor stops, or at a dynamic supervisor's
/// maximum, is reported by `join` and by `try_join`, with its path; nothing
/// runs.
#[tokio::test(start_paused = true)]
async fn refusals_are_reported_at_join_and_try_join() {
    let ran = Arc::new(AtomicUsize::new(0));
    let work = |ran: &Arc<AtomicUsize>| {
        let ran = ran.clone();
        async move {
            ran.fetch_add(1, Ordering::SeqCst);
        }
    };
    let h = Supervisor::dynamic("pool").max_children(1).start_ok().await;
    let held = h.spawn_task("held", std::future::pending::<()>());
    let full = h.spawn_task("over", work(&ran));
    assert_eq!(
        full.join().await,
        Err(TaskError::Refused {
            path: "pool/over".into(),
            reason: ControlError::MaxChildren {
                supervisor: "pool".into(),
                max: 1
            }
        })
    );
    // `try_join` gives the handle back until the answer has come.
    let full = h.spawn_task("over", work(&ran));
    let full = full
        .try_join()
        .expect_err("not answered before the supervisor runs");
    settle().await;
    let refused = full.try_join().expect("answered");
    assert!(
        matches!(&refused, Err(TaskError::Refused { path, reason: ControlError::MaxChildren { .. } }) if path == "pool/over"),
        "{refused:?}"
    );
    h.shutdown().await.unwrap();
    assert_eq!(held.join().await, Err(TaskError::Cancelled));

    // Stopping: a task sent during the stop is refused, never started. The
    // stop takes a while: a child that ignores its cancellation is waited
    // for up to its 5 s `Graceful` timeout.
    let (log, alive) = (Log::default(), Alive::default());
    let app = Supervisor::builder("app")
        .child(scripted("stubborn", &log, &alive, vec![Act::IgnoreCancel]))
        .start_ok()
        .await;
    app.request_shutdown();
    settle().await;
    assert!(app.is_stopping());
    let late = app.spawn_task("late", work(&ran));
    let blocking = app.spawn_blocking("late-blocking", || ());
    let shutting_down = |path: &str| {
        Err(TaskError::Refused {
            path: path.into(),
            reason: ControlError::ShuttingDown {
                supervisor: "app".into(),
            },
        })
    };
    assert_eq!(late.join().await, shutting_down("app/late"));
    assert_eq!(blocking.join().await, shutting_down("app/late-blocking"));
    app.wait().await.unwrap();
    assert_eq!(ran.load(Ordering::SeqCst), 0, "no refused task ran");
}

#[tokio::test(start_paused = true)]
async fn a_factory_task_restarts_on_panic_with_backoff_up_to_its_maximum() {
    let runs = Arc::new(AtomicUsize::new(0));
    let r2 = runs.clone();
    let spec = ChildSpec::new(
        "flaky",
        task_fn(move || {
            let runs = r2.clone();
            async move {
                // Always true; keeps the future's output `()`.
                if runs.fetch_add(1, Ordering::SeqCst) < usize::MAX {
                    panic!("always");
                }
            }
        }),
    )
    .restart(Restart::Transient)
    .backoff(Backoff::exponential(ms(100), secs(10)))
    .restart_limit(3, Duration::MAX);
    let h = Supervisor::dynamic("jobs").start_ok().await;
    let path = h.start_child(spec).await.unwrap();
    let t0 = tokio::time::Instant::now();
    tokio::time::sleep(secs(5)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 4, "1 run + 3 restarts");
    let snap = h.which_children().await;
    let c = snap.iter().find(|c| *c.path == *path).unwrap();
    assert!(matches!(
        c.phase,
        Phase::Terminated(ExitReason::CircuitOpen { restarts: 3, .. })
    ));
    assert_eq!(c.last_exit, Some(ExitReason::Panicked("always".into())));
    assert!(t0.elapsed() >= ms(700), "100 + 200 + 400 ms of backoff");
}

#[tokio::test(start_paused = true)]
async fn a_factory_task_restarts_on_error_only_when_it_returns_a_result() {
    let runs = Arc::new(AtomicUsize::new(0));
    // Returns (): an ordinary end is not a failure.
    let r = runs.clone();
    let unit = ChildSpec::new(
        "unit",
        task_fn(move || {
            let r = r.clone();
            async move {
                r.fetch_add(1, Ordering::SeqCst);
            }
        }),
    )
    .backoff(Backoff::none());
    // Returns Result: an Err is a failure, restarted.
    let r = runs.clone();
    let fallible = ChildSpec::new(
        "fallible",
        task_fn(move || {
            let r = r.clone();
            async move {
                let n = r.fetch_add(1, Ordering::SeqCst);
                if n < 3 {
                    Err(format!("attempt {n}"))
                } else {
                    Ok(())
                }
            }
        }),
    )
    .backoff(Backoff::none())
    .restart_limit(5, Duration::MAX);
    let h = Supervisor::dynamic("jobs").start_ok().await;
    h.start_child(unit).await.unwrap();
    settle().await;
    assert_eq!(runs.load(Ordering::SeqCst), 1, "the unit task ran once");
    h.start_child(fallible).await.unwrap();
    settle().await;
    assert_eq!(runs.load(Ordering::SeqCst), 4, "restarted on Err until Ok");
    let snap = h.which_children().await;
    assert!(snap
        .iter()
        .all(|c| c.phase == Phase::Terminated(ExitReason::Completed)));
}

#[tokio::test(start_paused = true)]
async fn blocking_tasks_never_exceed_the_cap() {
    let h = Supervisor::dynamic("cpu")
        .blocking_limit(3)
        .start_ok()
        .await;
    let running = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let release_rx = Arc::new(std::sync::Mutex::new(release_rx));
    let mut tasks = vec![];
    for i in 0..10 {
        let (running, peak, release) = (running.clone(), peak.clone(), release_rx.clone());
        tasks.push(h.spawn_blocking(format!("job{i}"), move || {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            release.lock().unwrap().recv().unwrap();
            running.fetch_sub(1, Ordering::SeqCst);
            i * 10
        }));
    }
    // Wait (without a clock) until the first three hold their permits.
    while running.load(Ordering::SeqCst) < 3 {
        tokio::task::yield_now().await;
    }
    let snap = h.which_children().await;
    let phase_count = |p: Phase| snap.iter().filter(|c| c.phase == p).count();
    assert_eq!(phase_count(Phase::Running), 3);
    assert_eq!(phase_count(Phase::Starting), 7, "over the cap: pending");
    for _ in 0..10 {
        release_tx.send(()).unwrap();
    }
    let mut results = vec![];
    for t in tasks {
        results.push(t.join().await.unwrap());
    }
    assert_eq!(results, (0..10).map(|i| i * 10).collect::<Vec<_>>());
    assert_eq!(
        peak.load(Ordering::SeqCst),
        3,
        "the peak never exceeds the cap"
    );
    assert!(h.which_children().await.is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_blocking_panic_is_captured() {
    let h = Supervisor::dynamic("cpu").start_ok().await;
    let t = h.spawn_blocking("parse", || -> u32 { panic!("malformed input") });
    assert_eq!(
        t.join().await,
        Err(TaskError::Panicked("malformed input".into()))
    );
    assert_eq!(h.metrics().total.exits.get("panicked"), Some(&1));
}

#[cfg(target_os = "linux")]
#[tokio::test(start_paused = true)]
async fn a_blocking_task_shows_its_cpu_time() {
    let h = Supervisor::dynamic("cpu").start_ok().await;
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (spun_tx, spun_rx) = tokio::sync::oneshot::channel::<()>();
    let t = h.spawn_blocking("spin", move || {
        // Burn CPU until the thread has used at least 20 ms of it.
        let start = cpu_ns();
        while cpu_ns() - start < 20_000_000 {
            std::hint::black_box((0..1000u64).sum::<u64>());
        }
        let _ = spun_tx.send(());
        go_rx.recv().unwrap();
    });
    spun_rx.await.unwrap();
    let snap = h.which_children().await;
    let cpu = snap[0].cpu_time.expect("readable on Linux");
    assert!(cpu >= ms(20), "{cpu:?}");
    go_tx.send(()).unwrap();
    t.join().await.unwrap();
}

#[cfg(target_os = "linux")]
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn shutdown_with_tasks_pending_running_and_finished() {
    let h = Supervisor::dynamic("jobs")
        .blocking_limit(1)
        .start_ok()
        .await;
    let finished = h.spawn_task("finished", async { "done" });
    settle().await;
    let running = h.spawn_task("running", std::future::pending::<()>());
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holding = h.spawn_blocking("holding", move || release_rx.recv().map(|_| 7));
    let pending = h.spawn_blocking("pending", || 8);
    settle().await;
    let snap = h.which_children().await;
    let phase = |n: &str| snap.iter().find(|c| &*c.name == n).unwrap().phase.clone();
    assert_eq!(phase("running"), Phase::Running);
    assert_eq!(phase("holding"), Phase::Running);
    assert_eq!(phase("pending"), Phase::Starting);

    // Stop: the blocking task that runs is waited for (its 5 s timeout), so
    // release it from another thread while the stop is in progress.
    let h2 = h.clone();
    let stop = tokio::spawn(async move { h2.shutdown().await });
    settle().await;
    release_tx.send(()).unwrap();
    stop.await.unwrap().unwrap();
    assert_eq!(finished.join().await, Ok("done"));
    assert_eq!(running.join().await, Err(TaskError::Cancelled));
    assert_eq!(
        holding.join().await,
        Ok(Ok(7)),
        "it finished within its timeout"
    );
    assert_eq!(pending.join().await, Err(TaskError::Cancelled), "never ran");
    assert_eq!(h.metrics().blocking_detached, 0);
}

/// Blocking work that ignores the stop is not waited for forever: after its
/// shutdown timeout it is left running, detached, and reported.
#[tokio::test(start_paused = true)]
async fn a_blocking_task_that_cannot_stop_is_reported_not_waited_for() {
    let h = Supervisor::dynamic("jobs").start_ok().await;
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let stuck = h.spawn_blocking("stuck", move || release_rx.recv());
    settle().await;
    h.request_shutdown();
    settle().await;
    // Time does not run by itself while a blocking task holds a thread:
    // move it past the 5 s shutdown timeout by hand.
    tokio::time::advance(secs(5)).await;
    h.wait().await.unwrap();
    assert_eq!(h.metrics().blocking_detached, 1);
    assert_eq!(stuck.join().await, Err(TaskError::Cancelled));
    release_tx.send(()).unwrap(); // let the thread end
}

/// A factory's future cannot see its context: the task drops it as soon as
/// it is asked to stop, so a tree of them stops at once, as a clean stop,
/// not after each one's 5 s `Graceful` timeout.
#[tokio::test(start_paused = true)]
async fn factory_tasks_stop_at_once_with_the_default_shutdown() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let mut app = Supervisor::builder("app");
    for name in ["a", "b", "c"] {
        let dropped = dropped.clone();
        app = app.child(ChildSpec::new(
            name,
            task_fn(move || {
                let guard = DropCount(dropped.clone());
                async move {
                    let _guard = guard;
                    tokio::time::sleep(secs(3600)).await; // an hour's work
                }
            }),
        ));
    }
    let h = app.start_ok().await;
    tokio::time::sleep(ms(1500)).await;
    let asked = tokio::time::Instant::now();
    h.shutdown().await.unwrap();
    assert!(asked.elapsed() < ms(10), "stopped in {:?}", asked.elapsed());
    assert_eq!(dropped.load(Ordering::SeqCst), 3, "every future dropped");
    for c in h.which_children().await {
        assert_eq!(c.last_exit, Some(ExitReason::Shutdown), "{}", c.path);
    }
}

struct DropCount(Arc<AtomicUsize>);

impl Drop for DropCount {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}
