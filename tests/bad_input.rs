//! Bad input and hostile user values: every test feeds the crate something a
//! careless or unlucky caller could give it (a name, a path, a count, a
//! duration at either end of its range, a re-entrant call, a handle used
//! after the stop or from another runtime, a user value that panics) and
//! asserts the exact outcome: a typed error naming the path, or the
//! documented behaviour. Never a panic of the crate, never a hang, never
//! `SupervisorError::Lost` while the runtime lives.
//!
//! Time is virtual (`start_paused`): a "ten years" wait costs nothing. The
//! two tests of handles used from another runtime build their own runtimes;
//! their timeouts only bound a hang.
//!
//! The tests at the end (after the `decided configuration errors` mark) use
//! `ConfigError` variants decided for the hardening (`ZeroDuration`,
//! `InvalidCount`, `NestedInItself`).

mod support;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::*;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_supervisor::{
    service_fn, Backoff, BoxError, ChildSnapshot, ChildSpec, ConfigError, Context, ControlError,
    EventKind, ExitReason, Phase, Restart, Shutdown, Supervisor, SupervisorError, SupervisorHandle,
    TaskError,
};

// ----- helpers -----

/// A child that serves until cancelled.
fn serve(name: &str) -> ChildSpec {
    ChildSpec::new(
        name,
        service_fn(|ctx: Context| async move {
            ctx.cancelled().await;
            Ok(())
        }),
    )
}

/// A child whose every run fails at once.
fn always_fails(name: &str) -> ChildSpec {
    ChildSpec::new(
        name,
        service_fn(|_ctx: Context| async move { Err::<(), BoxError>("fail".into()) }),
    )
}

fn days(n: u64) -> Duration {
    Duration::from_secs(n * 86_400)
}

/// The snapshot of the child at `path` (full path).
async fn snap(h: &SupervisorHandle, path: &str) -> ChildSnapshot {
    let all = h.which_children().await;
    all.iter()
        .find(|c| &*c.path == path)
        .cloned()
        .unwrap_or_else(|| panic!("no child {path} in {:?}", paths(&all)))
}

fn paths(v: &[ChildSnapshot]) -> Vec<String> {
    v.iter().map(|c| c.path.to_string()).collect()
}

/// The path or supervisor a control error names.
fn named(e: &ControlError) -> &str {
    match e {
        ControlError::NotFound { path }
        | ControlError::AlreadyRunning { path }
        | ControlError::AlreadyPresent { path }
        | ControlError::Running { path }
        | ControlError::Restarting { path }
        | ControlError::NotASupervisor { path }
        | ControlError::InvalidName { path, .. }
        | ControlError::StartFailed { path, .. } => path,
        ControlError::MaxChildren { supervisor, .. }
        | ControlError::ShuttingDown { supervisor }
        | ControlError::Stopped { supervisor } => supervisor,
        other => panic!("no path in {other:?}"),
    }
}

/// `f`, bounded: a hang fails the test instead of blocking the suite. On a
/// paused runtime the bound is virtual and reached only when nothing else
/// can happen.
async fn bounded<F: Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), f)
        .await
        .expect("hung: no answer")
}

/// Runs `f` in a task and gives it `turns` scheduler turns (no clock
/// involved): `None` if it did not finish, so that a busy loop (which never
/// lets the paused clock auto-advance) fails the test instead of hanging it.
async fn within_turns<F>(turns: usize, f: F) -> Option<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let task = tokio::spawn(f);
    for _ in 0..turns {
        if task.is_finished() {
            return Some(task.await.unwrap());
        }
        tokio::task::yield_now().await;
    }
    task.abort();
    None
}

/// Where the test hands the tree's own handle to a child (for re-entrant
/// calls): the child waits for it.
type HandleSlot = watch::Sender<Option<SupervisorHandle>>;

async fn own_handle(rx: &watch::Receiver<Option<SupervisorHandle>>) -> SupervisorHandle {
    let mut rx = rx.clone();
    let h = rx.wait_for(Option::is_some).await.unwrap();
    h.clone().unwrap()
}

/// Reads events until the receiver closes; fails if it stays open (its
/// next `recv` would hang) or lags.
async fn events_until_closed(
    rx: &mut tokio::sync::broadcast::Receiver<tokio_supervisor::Event>,
) -> Vec<(String, EventKind)> {
    let mut seen = vec![];
    loop {
        match tokio::time::timeout(secs(1), rx.recv()).await {
            Ok(Ok(e)) => seen.push((e.path.to_string(), e.kind)),
            Ok(Err(RecvError::Closed)) => return seen,
            Ok(Err(RecvError::Lagged(n))) => panic!("lagged by {n}"),
            Err(_) => panic!("the receiver is still open after the stop; events: {seen:?}"),
        }
    }
}

/// A child that keeps failing at once, under `backoff`, must end up backing
/// off "forever" after `starts` runs: still backing off ten years later,
/// the tree still running, and a clean shutdown.
async fn backs_off_forever(backoff: Backoff, starts: u64) {
    let h = Supervisor::builder("app")
        .intensity(1000, secs(1))
        .child(always_fails("w").backoff(backoff))
        .start_ok()
        .await;
    tokio::time::sleep(secs(10)).await;
    let w = snap(&h, "app/w").await;
    assert_eq!((w.starts, &w.phase), (starts, &Phase::BackingOff));
    assert!(h.is_running(), "the tree stopped");
    tokio::time::sleep(days(3650)).await;
    let w = snap(&h, "app/w").await;
    assert_eq!(
        (w.starts, &w.phase),
        (starts, &Phase::BackingOff),
        "restarted within ten years"
    );
    assert!(h.is_running(), "the tree stopped");
    assert_eq!(h.shutdown().await, Ok(()));
    let w = snap(&h, "app/w").await;
    assert_eq!(w.phase, Phase::Terminated(ExitReason::Shutdown));
    assert_eq!(w.starts, starts);
}

// ----- names -----

#[test]
fn empty_child_name_is_refused_with_path() {
    let e = Supervisor::builder("app")
        .child(serve(""))
        .build()
        .unwrap_err();
    assert!(
        matches!(&e, ConfigError::InvalidName { path, name, .. } if path == "app/" && name.is_empty()),
        "{e:?}"
    );
    assert!(e.to_string().contains("`app/`"), "{e}");
}

#[test]
fn child_name_with_slash_is_refused_with_path() {
    let e = Supervisor::builder("app")
        .child(serve("db/pool"))
        .build()
        .unwrap_err();
    assert!(
        matches!(&e, ConfigError::InvalidName { path, name, .. } if path == "app/db/pool" && name == "db/pool"),
        "{e:?}"
    );
    assert!(e.to_string().contains("app/db/pool"), "{e}");
}

#[test]
fn empty_or_slashed_supervisor_name_is_refused() {
    let e = Supervisor::builder("")
        .child(serve("w"))
        .build()
        .unwrap_err();
    assert!(
        matches!(&e, ConfigError::InvalidName { path, name, .. } if path.is_empty() && name.is_empty()),
        "{e:?}"
    );
    let e = Supervisor::dynamic("a/b").build().unwrap_err();
    assert!(
        matches!(&e, ConfigError::InvalidName { path, name, .. } if path == "a/b" && name == "a/b"),
        "{e:?}"
    );
    assert!(e.to_string().contains("a/b"), "{e}");
}

#[test]
fn duplicate_sibling_names_are_refused_with_path() {
    let e = Supervisor::builder("app")
        .child(serve("a"))
        .child(serve("b"))
        .child(serve("a"))
        .build()
        .unwrap_err();
    assert_eq!(
        e,
        ConfigError::DuplicateName {
            path: "app/a".into()
        }
    );
    assert!(e.to_string().contains("`app/a`"), "{e}");
    // A nested supervisor counts as a sibling too.
    let db = Supervisor::builder("a").child(serve("w")).build().unwrap();
    let e = Supervisor::builder("app")
        .child(serve("a"))
        .child(db)
        .build()
        .unwrap_err();
    assert_eq!(
        e,
        ConfigError::DuplicateName {
            path: "app/a".into()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn whitespace_unicode_and_very_long_names_are_kept_as_given() {
    let long = "x".repeat(10_000);
    let h = Supervisor::builder("app")
        .child(serve("  "))
        .child(serve("ünïcødé-🦀"))
        .child(serve(&long))
        .start_ok()
        .await;
    let kids = h.which_children().await;
    assert_eq!(
        paths(&kids),
        [
            "app/  ".to_string(),
            "app/ünïcødé-🦀".into(),
            format!("app/{long}")
        ]
    );
    assert!(kids.iter().all(|c| c.phase == Phase::Running));
    // Addressable by exactly those names.
    assert_eq!(h.terminate_child("  ").await, Ok(()));
    assert_eq!(h.terminate_child("app/ünïcødé-🦀").await, Ok(()));
    assert_eq!(h.terminate_child(&long).await, Ok(()));
    let kids = h.which_children().await;
    assert!(
        kids.iter()
            .all(|c| c.phase == Phase::Terminated(ExitReason::Shutdown)),
        "{kids:?}"
    );
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn start_child_with_a_running_name_is_already_running() {
    let h = Supervisor::builder("app")
        .child(serve("w"))
        .start_ok()
        .await;
    let e = h.start_child(serve("w")).await.unwrap_err();
    assert_eq!(
        e,
        ControlError::AlreadyRunning {
            path: "app/w".into()
        }
    );
    assert!(e.to_string().contains("app/w"), "{e}");
    assert_eq!(
        snap(&h, "app/w").await.starts,
        1,
        "the running one is untouched"
    );
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn start_child_with_a_terminated_name_is_already_present() {
    let h = Supervisor::builder("app")
        .child(serve("w"))
        .start_ok()
        .await;
    h.terminate_child("w").await.unwrap();
    let e = h.start_child(serve("w")).await.unwrap_err();
    assert_eq!(
        e,
        ControlError::AlreadyPresent {
            path: "app/w".into()
        }
    );
    assert!(e.to_string().contains("app/w"), "{e}");
    assert_eq!(
        snap(&h, "app/w").await.phase,
        Phase::Terminated(ExitReason::Shutdown)
    );
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn start_child_with_empty_or_slashed_name_is_invalid_name_with_path() {
    let h = Supervisor::builder("app")
        .child(serve("w"))
        .start_ok()
        .await;
    let e = h.start_child(serve("")).await.unwrap_err();
    assert!(
        matches!(&e, ControlError::InvalidName { path, name, .. } if path == "app/" && name.is_empty()),
        "{e:?}"
    );
    let e = h.start_child(serve("a/b")).await.unwrap_err();
    assert!(
        matches!(&e, ControlError::InvalidName { path, name, .. } if path == "app/a/b" && name == "a/b"),
        "{e:?}"
    );
    assert!(e.to_string().contains("app/a/b"), "{e}");
    // In a dynamic supervisor too, before any number is added.
    let pool = Supervisor::dynamic("pool").start_ok().await;
    let e = pool.start_child(serve("")).await.unwrap_err();
    assert!(
        matches!(&e, ControlError::InvalidName { path, name, .. } if path == "pool/" && name.is_empty()),
        "{e:?}"
    );
    assert_eq!(paths(&h.which_children().await), ["app/w"]);
    assert!(pool.which_children().await.is_empty());
    assert_eq!(h.shutdown().await, Ok(()));
    assert_eq!(pool.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn spawn_task_with_a_taken_name_is_already_running() {
    let jobs = Supervisor::dynamic("jobs").start_ok().await;
    let first = jobs.spawn_task("job", async {
        tokio::time::sleep(secs(5)).await;
        1
    });
    let e = jobs
        .spawn_task("job", async { 2 })
        .join()
        .await
        .unwrap_err();
    assert_eq!(
        e,
        TaskError::Refused {
            path: "jobs/job".into(),
            reason: ControlError::AlreadyRunning {
                path: "jobs/job".into()
            }
        }
    );
    assert_eq!(first.join().await, Ok(1), "the first is not replaced");
    assert_eq!(jobs.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn dynamic_generated_names_skip_a_name_taken_by_a_task() {
    let pool = Supervisor::dynamic("pool").start_ok().await;
    let _task = pool.spawn_task("conn-2", std::future::pending::<()>());
    let conn = serve("conn");
    assert_eq!(
        pool.start_child(conn.clone()).await,
        Ok("pool/conn-1".to_string())
    );
    assert_eq!(pool.start_child(conn).await, Ok("pool/conn-3".to_string()));
    assert_eq!(
        paths(&pool.which_children().await),
        ["pool/conn-2", "pool/conn-1", "pool/conn-3"]
    );
    assert_eq!(pool.shutdown().await, Ok(()));
}

// ----- paths -----

#[tokio::test(start_paused = true)]
async fn unknown_child_is_not_found_with_full_path() {
    let h = Supervisor::builder("app")
        .child(serve("w"))
        .start_ok()
        .await;
    let nope = ControlError::NotFound {
        path: "app/nope".into(),
    };
    assert_eq!(h.terminate_child("nope").await, Err(nope.clone()));
    assert_eq!(h.restart_child("nope").await, Err(nope.clone()));
    assert_eq!(h.delete_child("app/nope").await, Err(nope.clone()));
    assert_eq!(h.which_children_of("nope").await, Err(nope.clone()));
    assert_eq!(
        h.start_child_in("nope", serve("x")).await,
        Err(nope.clone())
    );
    assert!(nope.to_string().contains("app/nope"));
    assert_eq!(snap(&h, "app/w").await.phase, Phase::Running);
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn path_through_a_worker_is_not_a_supervisor() {
    let h = Supervisor::builder("app")
        .child(serve("w"))
        .start_ok()
        .await;
    let not_sup = ControlError::NotASupervisor {
        path: "app/w".into(),
    };
    assert_eq!(h.terminate_child("w/x").await, Err(not_sup.clone()));
    assert_eq!(h.which_children_of("w").await, Err(not_sup.clone()));
    assert_eq!(h.which_children_of("app/w").await, Err(not_sup.clone()));
    assert_eq!(
        h.start_child_in("w", serve("x")).await,
        Err(not_sup.clone())
    );
    assert!(not_sup.to_string().contains("app/w"));
    assert_eq!(snap(&h, "app/w").await.phase, Phase::Running);
    assert_eq!(h.shutdown().await, Ok(()));
}

/// A path with an empty segment names no child: a trailing slash is not
/// read as the child itself (see `SupervisorHandle`'s Paths).
#[tokio::test(start_paused = true)]
async fn path_with_trailing_slash_names_no_child() {
    let db = Supervisor::builder("db").child(serve("w")).build().unwrap();
    let h = Supervisor::builder("app")
        .child(db)
        .child(serve("x"))
        .start_ok()
        .await;
    let e = h.which_children_of("db/").await.unwrap_err();
    assert_eq!(
        e,
        ControlError::NotFound {
            path: "app/db/".into()
        }
    );
    let e = h.terminate_child("x/").await.unwrap_err();
    assert_eq!(
        e,
        ControlError::NotFound {
            path: "app/x/".into()
        }
    );
    assert!(e.to_string().contains("app/x/"), "{e}");
    assert_eq!(snap(&h, "app/x").await.phase, Phase::Running);
    assert_eq!(snap(&h, "app/db").await.phase, Phase::Running);
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn path_with_double_slash_is_not_found_and_touches_nothing() {
    let db = Supervisor::builder("db").child(serve("w")).build().unwrap();
    let h = Supervisor::builder("app").child(db).start_ok().await;
    let e = h.terminate_child("db//w").await.unwrap_err();
    assert!(
        matches!(&e, ControlError::NotFound { path } if path.starts_with("app/db/")),
        "{e:?}"
    );
    assert!(e.to_string().contains("app/db/"), "{e}");
    let below = h.which_children_of("db").await.unwrap();
    assert_eq!(below[0].phase, Phase::Running, "app/db/w untouched");
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn terminate_child_of_empty_path_is_not_found_and_stops_nothing() {
    let h = Supervisor::builder("app")
        .child(serve("w"))
        .start_ok()
        .await;
    let e = h.terminate_child("").await.unwrap_err();
    assert!(
        matches!(&e, ControlError::NotFound { path } if path == "app/" || path == "app"),
        "{e:?}"
    );
    assert!(e.to_string().contains("app"), "{e}");
    assert!(h.is_running());
    assert_eq!(snap(&h, "app/w").await.phase, Phase::Running);
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn full_and_relative_paths_reach_the_same_child() {
    let db = Supervisor::builder("db").child(serve("w")).build().unwrap();
    let h = Supervisor::builder("app").child(db).start_ok().await;
    assert_eq!(h.terminate_child("app/db/w").await, Ok(()));
    let below = h.which_children_of("app/db").await.unwrap();
    assert_eq!(below[0].phase, Phase::Terminated(ExitReason::Shutdown));
    assert_eq!(h.restart_child("db/w").await, Ok(()));
    let below = h.which_children_of("db").await.unwrap();
    assert_eq!(
        (below[0].phase.clone(), below[0].starts),
        (Phase::Running, 2)
    );
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn nested_supervisor_named_like_the_root_is_addressed_by_full_path() {
    let inner = Supervisor::builder("app")
        .child(serve("w"))
        .build()
        .unwrap();
    let h = Supervisor::builder("app")
        .child(inner)
        .child(serve("x"))
        .start_ok()
        .await;
    assert_eq!(paths(&h.which_children().await), ["app/app", "app/x"]);
    // The supervisor itself is no child: its own children are
    // `which_children`'s, and "" or its name name no nested supervisor.
    let itself = ControlError::NotFound { path: "app".into() };
    assert_eq!(h.which_children_of("").await.unwrap_err(), itself);
    assert_eq!(h.which_children_of("app").await.unwrap_err(), itself);
    assert_eq!(h.start_child_in("", serve("y")).await.unwrap_err(), itself);
    assert_eq!(
        h.start_child_in("app", serve("y")).await.unwrap_err(),
        itself
    );
    assert_eq!(
        paths(&h.which_children_of("app/app").await.unwrap()),
        ["app/app/w"]
    );
    assert_eq!(h.terminate_child("app/app/w").await, Ok(()));
    let below = h.which_children_of("app/app").await.unwrap();
    assert_eq!(paths(&below), ["app/app/w"]);
    assert_eq!(below[0].phase, Phase::Terminated(ExitReason::Shutdown));
    assert_eq!(snap(&h, "app/x").await.phase, Phase::Running);
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn tree_with_nested_supervisor_named_like_the_root_terminates_and_lists_it_once() {
    let inner = Supervisor::builder("app")
        .child(serve("w"))
        .build()
        .unwrap();
    let h = Supervisor::builder("app")
        .child(inner)
        .child(serve("x"))
        .start_ok()
        .await;
    let h2 = h.clone();
    let tree = within_turns(200, async move { h2.tree().await })
        .await
        .expect("tree() did not terminate");
    let all: Vec<String> = tree.iter().map(|c| c.path.to_string()).collect();
    assert_eq!(all, ["app/app", "app/app/w", "app/x"]);
    let text = tree.to_string();
    assert_eq!(text.lines().count(), 4, "{text}");
    assert_eq!(h.shutdown().await, Ok(()));
}

// ----- counts -----

#[tokio::test(start_paused = true)]
async fn intensity_zero_fails_the_supervisor_at_the_first_restart() {
    let (log, alive) = (Log::default(), Alive::default());
    let h = Supervisor::builder("app")
        .intensity(0, secs(10))
        .child(scripted("w", &log, &alive, vec![Act::ErrAfter(secs(1))]).backoff(Backoff::none()))
        .start_ok()
        .await;
    let t0 = Instant::now();
    let e = h.wait().await.unwrap_err();
    assert_eq!(t0.elapsed(), secs(1));
    assert_eq!(
        e,
        SupervisorError::IntensityExceeded {
            supervisor: "app".into(),
            child: "app/w".into(),
            reason: ExitReason::Failed("fail".into()),
            max: 0,
            window: secs(10),
        }
    );
    assert!(e.to_string().contains("app/w"), "{e}");
    assert_eq!(log.matching(":start:"), ["w:start:1"], "never restarted");
}

#[tokio::test(start_paused = true)]
async fn restart_limit_zero_gives_up_at_the_first_failure() {
    let (log, alive) = (Log::default(), Alive::default());
    let h = Supervisor::builder("app")
        .child(
            scripted("w", &log, &alive, vec![Act::ErrAfter(secs(1))])
                .backoff(Backoff::none())
                .restart_limit(0, secs(60)),
        )
        .child(serve("sibling"))
        .start_ok()
        .await;
    tokio::time::sleep(secs(2)).await;
    let w = snap(&h, "app/w").await;
    assert_eq!(
        w.phase,
        Phase::Terminated(ExitReason::CircuitOpen {
            restarts: 0,
            window: Some(secs(60))
        })
    );
    assert_eq!(w.starts, 1);
    assert_eq!(snap(&h, "app/sibling").await.phase, Phase::Running);
    assert!(h.is_running());
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn max_children_one_refuses_a_second_child() {
    let pool = Supervisor::dynamic("pool").max_children(1).start_ok().await;
    assert_eq!(
        pool.start_child(serve("conn")).await,
        Ok("pool/conn-1".to_string())
    );
    let full = ControlError::MaxChildren {
        supervisor: "pool".into(),
        max: 1,
    };
    assert_eq!(pool.start_child(serve("conn")).await, Err(full.clone()));
    assert_eq!(
        pool.spawn_task("t", async {}).join().await,
        Err(TaskError::Refused {
            path: "pool/t".into(),
            reason: full.clone()
        })
    );
    assert!(full.to_string().contains("pool"));
    assert_eq!(paths(&pool.which_children().await), ["pool/conn-1"]);
    assert_eq!(pool.shutdown().await, Ok(()));
}

#[test]
fn max_children_on_a_static_supervisor_is_refused() {
    let e = Supervisor::builder("app")
        .max_children(3)
        .child(serve("w"))
        .build()
        .unwrap_err();
    assert_eq!(
        e,
        ConfigError::MaxChildrenOnStatic {
            supervisor: "app".into()
        }
    );
    assert!(e.to_string().contains("app"), "{e}");
}

// ----- durations: Shutdown -----

#[tokio::test(start_paused = true)]
async fn graceful_zero_is_accepted_and_aborts_at_once() {
    let (log, alive) = (Log::default(), Alive::default());
    let h = Supervisor::builder("app")
        .child(
            scripted("w", &log, &alive, vec![Act::IgnoreCancel])
                .shutdown(Shutdown::Graceful(Duration::ZERO)),
        )
        .start_ok()
        .await;
    let t0 = Instant::now();
    assert_eq!(h.shutdown().await, Ok(()));
    assert!(t0.elapsed() <= ms(1), "took {:?}", t0.elapsed());
    assert_eq!(alive.count(), 0);
    assert_eq!(
        snap(&h, "app/w").await.phase,
        Phase::Terminated(ExitReason::Aborted)
    );
}

#[tokio::test(start_paused = true)]
async fn graceful_duration_max_waits_for_a_slow_stop_like_infinity() {
    let (log, alive) = (Log::default(), Alive::default());
    let h = Supervisor::builder("app")
        .child(
            scripted("w", &log, &alive, vec![Act::SlowStop(days(100))])
                .shutdown(Shutdown::Graceful(Duration::MAX)),
        )
        .start_ok()
        .await;
    let t0 = Instant::now();
    assert_eq!(h.shutdown().await, Ok(()));
    assert_eq!(t0.elapsed(), days(100), "not aborted: waited for the stop");
    assert_eq!(log.matching("w:stop"), ["w:stopping", "w:stop"]);
    assert_eq!(
        snap(&h, "app/w").await.phase,
        Phase::Terminated(ExitReason::Shutdown)
    );
}

#[tokio::test(start_paused = true)]
async fn graceful_duration_max_never_aborts_a_child_that_ignores_cancel() {
    let (log, alive) = (Log::default(), Alive::default());
    let h = Supervisor::builder("app")
        .child(
            scripted("w", &log, &alive, vec![Act::IgnoreCancel])
                .shutdown(Shutdown::Graceful(Duration::MAX)),
        )
        .start_ok()
        .await;
    h.request_shutdown();
    assert!(
        tokio::time::timeout(days(3650), h.wait()).await.is_err(),
        "stopped (or was lost) although the child ignores its cancel"
    );
    assert_eq!(alive.count(), 1, "aborted within ten years");
    assert_eq!(snap(&h, "app/w").await.phase, Phase::Stopping);
    assert_eq!(h.kill().await, Ok(()));
    assert_eq!(alive.count(), 0);
    assert_eq!(
        snap(&h, "app/w").await.phase,
        Phase::Terminated(ExitReason::Aborted)
    );
}

#[tokio::test(start_paused = true)]
async fn hung_child_with_graceful_max_is_cancelled_not_aborted() {
    let (log, alive) = (Log::default(), Alive::default());
    let h = Supervisor::builder("app")
        .child(
            scripted("w", &log, &alive, vec![Act::SlowStop(days(10))])
                .heartbeat(secs(1))
                .shutdown(Shutdown::Graceful(Duration::MAX))
                .backoff(Backoff::none()),
        )
        .start_ok()
        .await;
    tokio::time::sleep(days(5)).await;
    assert!(h.is_running(), "the tree stopped");
    assert_eq!(
        log.entries(),
        ["w:start:1", "w:stopping"],
        "cancelled as hung"
    );
    assert_eq!(snap(&h, "app/w").await.starts, 1, "not aborted");
    tokio::time::sleep(days(5) + ms(1500)).await;
    let w = snap(&h, "app/w").await;
    assert_eq!(w.starts, 2, "restarted once its stop completed");
    assert_eq!(w.last_exit, Some(ExitReason::Hung { timeout: secs(1) }));
    assert!(h.is_running());
    assert_eq!(h.shutdown().await, Ok(()));
}

// ----- durations: backoff -----

#[tokio::test(start_paused = true)]
async fn backoff_fixed_zero_restarts_at_once() {
    let (log, alive) = (Log::default(), Alive::default());
    let t0 = Instant::now();
    let h = Supervisor::builder("app")
        .child(
            scripted("w", &log, &alive, vec![Act::Err, Act::Serve])
                .backoff(Backoff::fixed(Duration::ZERO)),
        )
        .start_ok()
        .await;
    settle().await;
    let w = snap(&h, "app/w").await;
    assert_eq!((w.starts, w.phase), (2, Phase::Running));
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn backoff_fixed_max_backs_off_forever_and_shuts_down_ok() {
    backs_off_forever(Backoff::fixed(Duration::MAX), 1).await;
}

#[tokio::test(start_paused = true)]
async fn backoff_fixed_max_with_jitter_backs_off_forever() {
    backs_off_forever(Backoff::fixed(Duration::MAX).jitter(0.5).seed(7), 1).await;
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_with_max_initial_backs_off_forever() {
    backs_off_forever(Backoff::exponential(Duration::MAX, Duration::MAX), 1).await;
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_with_max_cap_and_huge_multiplier_backs_off_forever() {
    // 1 s, then 1 s × 1e300 (past f64's range): saturated at the cap.
    backs_off_forever(
        Backoff::exponential(secs(1), Duration::MAX).multiplier(1e300),
        2,
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_with_f64_max_multiplier_backs_off_forever() {
    backs_off_forever(
        Backoff::exponential(secs(1), Duration::MAX).multiplier(f64::MAX),
        2,
    )
    .await;
}

#[tokio::test(start_paused = true)]
async fn exponential_backoff_zero_initial_and_cap_restarts_at_once() {
    let (log, alive) = (Log::default(), Alive::default());
    let t0 = Instant::now();
    let h = Supervisor::builder("app")
        .child(
            scripted("w", &log, &alive, vec![Act::Err, Act::Err, Act::Serve])
                .backoff(Backoff::exponential(Duration::ZERO, Duration::ZERO)),
        )
        .start_ok()
        .await;
    settle().await;
    let w = snap(&h, "app/w").await;
    assert_eq!((w.starts, w.phase), (3, Phase::Running));
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(h.shutdown().await, Ok(()));
}

#[test]
fn backoff_initial_above_cap_is_refused_with_path() {
    for b in [
        Backoff::exponential(secs(1), Duration::ZERO),
        Backoff::exponential(Duration::MAX, secs(30)),
    ] {
        let e = Supervisor::builder("app")
            .child(serve("w").backoff(b))
            .build()
            .unwrap_err();
        assert!(
            matches!(&e, ConfigError::InvalidBackoff { path, reason } if path == "app/w" && reason.contains("cap")),
            "{e:?}"
        );
        assert!(e.to_string().contains("app/w"), "{e}");
    }
}

#[test]
fn backoff_jitter_outside_unit_range_or_nan_is_refused_with_path() {
    for j in [1.5, -0.1, f64::NAN, f64::INFINITY] {
        let e = Supervisor::builder("app")
            .child(serve("w").backoff(Backoff::fixed(secs(1)).jitter(j)))
            .build()
            .unwrap_err();
        assert!(
            matches!(&e, ConfigError::InvalidBackoff { path, reason } if path == "app/w" && reason.contains("jitter")),
            "jitter {j}: {e:?}"
        );
        assert!(e.to_string().contains("app/w"), "{e}");
    }
    // Both ends of the range are fine.
    for j in [0.0, 1.0] {
        assert!(Supervisor::builder("app")
            .child(serve("w").backoff(Backoff::fixed(secs(1)).jitter(j)))
            .build()
            .is_ok());
    }
}

#[test]
fn backoff_multiplier_below_one_negative_nan_or_infinite_is_refused_with_path() {
    for m in [0.5, 0.0, -2.0, f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let e = Supervisor::builder("app")
            .child(serve("w").backoff(Backoff::exponential(ms(100), secs(1)).multiplier(m)))
            .build()
            .unwrap_err();
        assert!(
            matches!(&e, ConfigError::InvalidBackoff { path, reason } if path == "app/w" && reason.contains("multiplier")),
            "multiplier {m}: {e:?}"
        );
        assert!(e.to_string().contains("app/w"), "{e}");
    }
    assert!(Supervisor::builder("app")
        .child(serve("w").backoff(Backoff::exponential(ms(100), secs(1)).multiplier(1.0)))
        .build()
        .is_ok());
}

#[tokio::test(start_paused = true)]
async fn backoff_reset_after_zero_restarts_from_the_initial_delay_every_time() {
    // Every run counts as stable: the delay never grows past 1 s.
    let h = Supervisor::builder("app")
        .intensity(1000, secs(10))
        .child(
            always_fails("w")
                .backoff(Backoff::exponential(secs(1), secs(3600)).reset_after(Duration::ZERO)),
        )
        .start_ok()
        .await;
    tokio::time::sleep(ms(10_500)).await;
    let w = snap(&h, "app/w").await;
    assert_eq!(w.starts, 11, "one run per second, at 0 s..=10 s");
    assert_eq!(w.next_restart_in, Some(ms(500)));
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn backoff_reset_after_max_never_resets_the_delay() {
    // Each run lasts 100 days (far beyond the default 30 s): with
    // `reset_after(MAX)` the delay still grows, 1 s, 2 s, 4 s.
    let (log, alive) = (Log::default(), Alive::default());
    let h = Supervisor::builder("app")
        .child(
            scripted("w", &log, &alive, vec![Act::ErrAfter(days(100))])
                .backoff(Backoff::exponential(secs(1), secs(3600)).reset_after(Duration::MAX)),
        )
        .start_ok()
        .await;
    // Run 2 starts at 100 d + 1 s and fails at 200 d + 1 s; its delay is 2 s.
    tokio::time::sleep(days(200) + ms(2500)).await;
    let w = snap(&h, "app/w").await;
    assert_eq!((w.starts, &w.phase), (2, &Phase::BackingOff));
    assert_eq!(w.next_restart_in, Some(ms(500)));
    tokio::time::sleep(secs(1)).await;
    assert_eq!(snap(&h, "app/w").await.starts, 3);
    assert_eq!(h.shutdown().await, Ok(()));
}

// ----- durations: readiness, heartbeat, windows -----

#[tokio::test(start_paused = true)]
async fn wait_ready_max_means_no_timeout() {
    let t0 = Instant::now();
    let h = Supervisor::builder("app")
        .child(
            ChildSpec::new(
                "w",
                service_fn(|ctx: Context| async move {
                    tokio::time::sleep(days(1000)).await;
                    ctx.ready();
                    ctx.cancelled().await;
                    Ok(())
                }),
            )
            .wait_ready(Duration::MAX),
        )
        .build()
        .unwrap()
        .start()
        .await
        .expect("a start that waits 1000 days for readiness");
    assert_eq!(t0.elapsed(), days(1000));
    let w = snap(&h, "app/w").await;
    assert_eq!((w.starts, w.phase), (1, Phase::Running));
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn wait_ready_max_child_that_never_readies_is_waited_for_and_stops_ok() {
    let (log, alive) = (Log::default(), Alive::default());
    let h = Supervisor::builder("app")
        .child(scripted("w", &log, &alive, vec![Act::NeverReady]).wait_ready(Duration::MAX))
        .build()
        .unwrap()
        .spawn()
        .unwrap();
    assert!(
        tokio::time::timeout(days(3650), h.started()).await.is_err(),
        "the start ended within ten years"
    );
    let w = snap(&h, "app/w").await;
    assert_eq!((w.starts, w.phase), (1, Phase::Starting));
    assert_eq!(h.shutdown().await, Ok(()));
    assert_eq!(
        h.started().await,
        Err(SupervisorError::StartCancelled {
            supervisor: "app".into()
        })
    );
    assert_eq!(alive.count(), 0);
}

#[tokio::test(start_paused = true)]
async fn heartbeat_max_never_declares_a_run_hung() {
    let h = Supervisor::builder("app")
        .child(serve("w").heartbeat(Duration::MAX))
        .start_ok()
        .await;
    tokio::time::sleep(days(3650)).await;
    let w = snap(&h, "app/w").await;
    assert_eq!(
        (w.starts, &w.phase, &w.last_exit),
        (1, &Phase::Running, &None)
    );
    assert!(h.is_running());
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn restart_limit_window_max_counts_every_restart_ever() {
    let (log, alive) = (Log::default(), Alive::default());
    let h = Supervisor::builder("app")
        .intensity(u32::MAX, secs(1))
        .child(
            scripted("w", &log, &alive, vec![Act::ErrAfter(days(100))])
                .backoff(Backoff::none())
                .restart_limit(2, Duration::MAX),
        )
        .start_ok()
        .await;
    tokio::time::sleep(days(299)).await;
    assert_eq!(
        snap(&h, "app/w").await.phase,
        Phase::Running,
        "2 restarts are allowed"
    );
    tokio::time::sleep(days(2)).await;
    let w = snap(&h, "app/w").await;
    assert_eq!(
        w.phase,
        Phase::Terminated(ExitReason::CircuitOpen {
            restarts: 2,
            window: None
        })
    );
    assert_eq!(w.starts, 3);
    assert!(h.is_running());
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn intensity_window_max_counts_every_restart_ever() {
    let (log, alive) = (Log::default(), Alive::default());
    let h = Supervisor::builder("app")
        .intensity(2, Duration::MAX)
        .child(scripted("w", &log, &alive, vec![Act::ErrAfter(days(100))]).backoff(Backoff::none()))
        .start_ok()
        .await;
    let t0 = Instant::now();
    let e = h.wait().await.unwrap_err();
    assert_eq!(t0.elapsed(), days(300), "the third failure escalates");
    assert_eq!(
        e,
        SupervisorError::IntensityExceeded {
            supervisor: "app".into(),
            child: "app/w".into(),
            reason: ExitReason::Failed("fail".into()),
            max: 2,
            window: Duration::MAX,
        }
    );
    assert!(e.to_string().contains("app/w"), "{e}");
}

#[test]
fn zero_intensity_window_is_refused_with_supervisor_path() {
    let e = Supervisor::builder("app")
        .intensity(3, Duration::ZERO)
        .child(serve("w"))
        .build()
        .unwrap_err();
    assert_eq!(
        e,
        ConfigError::ZeroIntensityWindow {
            supervisor: "app".into()
        }
    );
    assert!(e.to_string().contains("`app`"), "{e}");
    let e = Supervisor::dynamic("pool")
        .intensity(u32::MAX, Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(
        e,
        ConfigError::ZeroIntensityWindow {
            supervisor: "pool".into()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn zero_restart_window_is_refused_at_build_and_at_start_child() {
    let e = Supervisor::builder("app")
        .child(serve("w").restart_limit(1, Duration::ZERO))
        .build()
        .unwrap_err();
    assert_eq!(
        e,
        ConfigError::ZeroRestartWindow {
            path: "app/w".into()
        }
    );
    assert!(e.to_string().contains("app/w"), "{e}");
    let h = Supervisor::builder("app")
        .child(serve("w"))
        .start_ok()
        .await;
    let e = h
        .start_child(serve("x").restart_limit(1, Duration::ZERO))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        ControlError::InvalidSpec(ConfigError::ZeroRestartWindow {
            path: "app/x".into()
        })
    );
    assert!(e.to_string().contains("app/x"), "{e}");
    assert_eq!(paths(&h.which_children().await), ["app/w"]);
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn bad_backoff_through_start_child_is_invalid_spec_with_path() {
    let db = Supervisor::builder("db").child(serve("w")).build().unwrap();
    let h = Supervisor::builder("app").child(db).start_ok().await;
    let e = h
        .start_child_in(
            "db",
            serve("x").backoff(Backoff::fixed(secs(1)).jitter(2.0)),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ControlError::InvalidSpec(ConfigError::InvalidBackoff { path, .. }) if path == "app/db/x"),
        "{e:?}"
    );
    assert!(e.to_string().contains("app/db/x"), "{e}");
    assert_eq!(
        paths(&h.which_children_of("db").await.unwrap()),
        ["app/db/w"]
    );
    assert_eq!(h.shutdown().await, Ok(()));
}

// ----- re-entrant calls -----

#[tokio::test(start_paused = true)]
async fn shutdown_awaited_inside_a_child_completes_at_its_graceful_timeout() {
    let (slot, rx): (HandleSlot, _) = watch::channel(None);
    let returned = Arc::new(AtomicBool::new(false));
    let r = returned.clone();
    let h = Supervisor::builder("app")
        .child(
            ChildSpec::new(
                "w",
                service_fn(move |_ctx: Context| {
                    let (rx, r) = (rx.clone(), r.clone());
                    async move {
                        let me = own_handle(&rx).await;
                        let _ = me.shutdown().await;
                        r.store(true, Ordering::SeqCst);
                        Ok(())
                    }
                }),
            )
            .shutdown(Shutdown::Graceful(secs(1))),
        )
        .start_ok()
        .await;
    let t0 = Instant::now();
    slot.send(Some(h.clone())).unwrap();
    assert_eq!(h.wait().await, Ok(()));
    let took = t0.elapsed();
    assert!(took >= secs(1) && took <= ms(1001), "took {took:?}");
    assert!(
        !returned.load(Ordering::SeqCst),
        "the child's own shutdown() returned before it was aborted"
    );
    assert_eq!(
        snap(&h, "app/w").await.phase,
        Phase::Terminated(ExitReason::Aborted)
    );
}

#[tokio::test(start_paused = true)]
async fn request_shutdown_inside_a_child_stops_promptly() {
    let (slot, rx): (HandleSlot, _) = watch::channel(None);
    let log = Log::default();
    let l = log.clone();
    let h = Supervisor::builder("app")
        .child(
            ChildSpec::new(
                "w",
                service_fn(move |ctx: Context| {
                    let (rx, l) = (rx.clone(), l.clone());
                    async move {
                        let me = own_handle(&rx).await;
                        me.request_shutdown();
                        ctx.cancelled().await;
                        l.push("w:saw cancel");
                        Ok(())
                    }
                }),
            )
            .shutdown(Shutdown::Graceful(secs(60))),
        )
        .start_ok()
        .await;
    let t0 = Instant::now();
    slot.send(Some(h.clone())).unwrap();
    assert_eq!(h.wait().await, Ok(()));
    assert_eq!(t0.elapsed(), Duration::ZERO);
    assert_eq!(log.entries(), ["w:saw cancel"]);
    assert_eq!(
        snap(&h, "app/w").await.phase,
        Phase::Terminated(ExitReason::Shutdown)
    );
}

#[tokio::test(start_paused = true)]
async fn which_children_inside_a_child_answers() {
    let (slot, rx): (HandleSlot, _) = watch::channel(None);
    let (seen_tx, seen_rx) = tokio::sync::oneshot::channel::<Vec<ChildSnapshot>>();
    let seen_tx = Arc::new(Mutex::new(Some(seen_tx)));
    let h = Supervisor::builder("app")
        .child(ChildSpec::new(
            "w",
            service_fn(move |ctx: Context| {
                let (rx, seen_tx) = (rx.clone(), seen_tx.clone());
                async move {
                    let me = own_handle(&rx).await;
                    let kids = me.which_children().await;
                    if let Some(tx) = seen_tx.lock().unwrap().take() {
                        let _ = tx.send(kids);
                    }
                    ctx.cancelled().await;
                    Ok(())
                }
            }),
        ))
        .start_ok()
        .await;
    slot.send(Some(h.clone())).unwrap();
    let kids = bounded(seen_rx).await.unwrap();
    assert_eq!(paths(&kids), ["app/w"]);
    assert_eq!(kids[0].phase, Phase::Running);
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn terminate_child_of_itself_inside_a_child_is_aborted_at_its_graceful_timeout() {
    let (slot, rx): (HandleSlot, _) = watch::channel(None);
    let h = Supervisor::builder("app")
        .child(
            ChildSpec::new(
                "w",
                service_fn(move |_ctx: Context| {
                    let rx = rx.clone();
                    async move {
                        let me = own_handle(&rx).await;
                        me.terminate_child("w").await?;
                        Ok(())
                    }
                }),
            )
            .restart(Restart::Permanent)
            .shutdown(Shutdown::Graceful(secs(1))),
        )
        .child(serve("x"))
        .start_ok()
        .await;
    slot.send(Some(h.clone())).unwrap();
    tokio::time::sleep(ms(999)).await;
    assert_eq!(snap(&h, "app/w").await.phase, Phase::Stopping);
    tokio::time::sleep(ms(2)).await;
    let w = snap(&h, "app/w").await;
    assert_eq!(w.phase, Phase::Terminated(ExitReason::Aborted));
    assert_eq!(w.starts, 1, "a terminated child is not restarted");
    assert!(h.is_running());
    assert_eq!(snap(&h, "app/x").await.phase, Phase::Running);
    assert_eq!(h.shutdown().await, Ok(()));
}

// ----- handles used after the stop -----

#[tokio::test(start_paused = true)]
async fn after_stop_snapshots_counts_metrics_and_tree_are_final() {
    let db = Supervisor::builder("db").child(serve("w")).build().unwrap();
    let h = Supervisor::builder("app")
        .child(db)
        .child(serve("w"))
        .start_ok()
        .await;
    assert_eq!(h.shutdown().await, Ok(()));
    let kids = h.which_children().await;
    assert_eq!(paths(&kids), ["app/db", "app/w"]);
    assert!(kids
        .iter()
        .all(|c| c.phase == Phase::Terminated(ExitReason::Shutdown)));
    assert_eq!(counts(&h).await, [2, 0, 1, 1]);
    let m = h.metrics();
    assert_eq!(m.total.starts, 3);
    assert_eq!(m.total.exits.get("shutdown"), Some(&3));
    let tree = bounded(h.tree()).await;
    let all: Vec<String> = tree.iter().map(|c| c.path.to_string()).collect();
    assert_eq!(all, ["app/db", "app/w"]);
}

#[tokio::test(start_paused = true)]
async fn after_stop_commands_answer_stopped_naming_the_supervisor() {
    let db = Supervisor::builder("db").child(serve("w")).build().unwrap();
    let h = Supervisor::builder("app").child(db).start_ok().await;
    assert_eq!(h.shutdown().await, Ok(()));
    let stopped = ControlError::Stopped {
        supervisor: "app".into(),
    };
    assert_eq!(h.start_child(serve("x")).await, Err(stopped.clone()));
    assert_eq!(
        h.start_child_in("db", serve("x")).await,
        Err(stopped.clone())
    );
    assert_eq!(h.terminate_child("db").await, Err(stopped.clone()));
    assert_eq!(h.restart_child("db").await, Err(stopped.clone()));
    assert_eq!(h.delete_child("db").await, Err(stopped.clone()));
    assert_eq!(h.which_children_of("db").await, Err(stopped.clone()));
    let refused = |path: &str| {
        Err(TaskError::Refused {
            path: path.into(),
            reason: stopped.clone(),
        })
    };
    assert_eq!(
        h.spawn_task("t", async { 1 }).join().await,
        refused("app/t")
    );
    assert_eq!(h.spawn_blocking("b", || 1).join().await, refused("app/b"));
    assert!(stopped.to_string().contains("`app`"));
}

#[tokio::test(start_paused = true)]
async fn after_stop_shutdown_wait_kill_and_started_repeat_the_outcome() {
    let h = Supervisor::builder("app")
        .child(serve("w"))
        .start_ok()
        .await;
    assert_eq!(h.shutdown().await, Ok(()));
    assert_eq!(h.shutdown().await, Ok(()));
    assert_eq!(h.wait().await, Ok(()));
    assert_eq!(h.kill().await, Ok(()));
    assert_eq!(h.started().await, Ok(()));
    h.request_shutdown();
    assert!(h.is_finished() && !h.is_running());
    assert_eq!(h.name(), "app");
}

#[tokio::test(start_paused = true)]
async fn after_failure_every_waiter_gets_the_same_error() {
    let (log, alive) = (Log::default(), Alive::default());
    let h = Supervisor::builder("app")
        .intensity(0, secs(5))
        .child(scripted("w", &log, &alive, vec![Act::ErrAfter(secs(1))]))
        .start_ok()
        .await;
    let e = h.wait().await.unwrap_err();
    assert!(
        matches!(&e, SupervisorError::IntensityExceeded { supervisor, child, .. } if supervisor == "app" && child == "app/w"),
        "{e:?}"
    );
    assert_eq!(h.wait().await, Err(e.clone()));
    assert_eq!(h.shutdown().await, Err(e.clone()));
    assert_eq!(h.kill().await, Err(e.clone()));
    assert_eq!(h.started().await, Ok(()), "it had started");
    assert_eq!(
        h.start_child(serve("x")).await,
        Err(ControlError::Stopped {
            supervisor: "app".into()
        })
    );
}

#[tokio::test(start_paused = true)]
async fn subscriber_from_before_the_stop_sees_closed_after_the_stop_events() {
    let leaked: Arc<Mutex<Vec<Context>>> = Arc::default();
    let l = leaked.clone();
    let app = Supervisor::builder("app")
        .child(ChildSpec::new(
            "w",
            service_fn(move |ctx: Context| {
                l.lock().unwrap().push(ctx.clone());
                async move {
                    ctx.cancelled().await;
                    Ok(())
                }
            }),
        ))
        .build()
        .unwrap();
    let keep = app.clone();
    let mut rx = app.subscribe();
    let h = app.start().await.unwrap();
    let h_clone = h.clone();
    // A stream of its own, made later from the first (the events from then
    // on): it ends with the tree too.
    let mut late = rx.resubscribe();
    assert_eq!(h.shutdown().await, Ok(()));
    let seen = events_until_closed(&mut rx).await;
    let seen_late = events_until_closed(&mut late).await;
    assert_eq!(
        seen_late.last(),
        Some(&("app".to_string(), EventKind::ShutdownDone)),
        "{seen_late:?}"
    );
    assert!(
        seen.contains(&(
            "app/w".into(),
            EventKind::Exited {
                reason: ExitReason::Shutdown
            }
        )),
        "{seen:?}"
    );
    assert_eq!(
        seen.last(),
        Some(&("app".to_string(), EventKind::ShutdownDone)),
        "{seen:?}"
    );
    drop((keep, h_clone, leaked));
}

#[tokio::test(start_paused = true)]
async fn command_in_flight_to_an_aborted_nested_supervisor_names_it_not_the_root() {
    let db = Supervisor::builder("db").child(serve("w")).build().unwrap();
    let h = Supervisor::builder("app")
        .child(ChildSpec::from(db).shutdown(Shutdown::Brutal))
        .child(serve("x"))
        .start_ok()
        .await;
    let (h1, h2, h3) = (h.clone(), h.clone(), h.clone());
    let terminate = tokio::spawn(async move { h1.terminate_child("db").await });
    let list = tokio::spawn(async move { h2.which_children_of("db").await });
    let start = tokio::spawn(async move { h3.start_child_in("db", serve("y")).await });
    let list = bounded(list).await.unwrap();
    let start = bounded(start).await.unwrap();
    assert_eq!(bounded(terminate).await.unwrap(), Ok(()));
    // A `Brutal` nested supervisor is killed: it may still answer a listing
    // as it stops; whatever it refuses names it, never the root.
    let mut errors = vec![start.unwrap_err()];
    errors.extend(list.err());
    for e in errors {
        assert_eq!(named(&e), "app/db", "{e:?} while the root runs");
        assert!(e.to_string().contains("app/db"), "{e}");
    }
    assert!(h.is_running());
    assert_eq!(snap(&h, "app/x").await.phase, Phase::Running);
    assert_eq!(h.shutdown().await, Ok(()));
}

// ----- clones of one supervisor -----

#[tokio::test(start_paused = true)]
async fn trees_from_clones_of_one_supervisor_count_their_own_metrics() {
    let app = Supervisor::builder("app")
        .child(serve("w"))
        .build()
        .unwrap();
    let h1 = app.clone().start().await.unwrap();
    let h2 = app.clone().start().await.unwrap();
    for h in [&h1, &h2] {
        assert_eq!(paths(&h.which_children().await), ["app/w"]);
        let m = h.metrics();
        assert_eq!(m.total.starts, 1, "{m:?}");
        let children: Vec<&str> = m.children.iter().map(|c| &*c.path).collect();
        assert_eq!(children, ["app/w"]);
    }
    h2.terminate_child("w").await.unwrap();
    assert!(
        h1.metrics().total.exits.is_empty(),
        "h2's exit in h1's metrics"
    );
    assert_eq!(h2.metrics().total.exits.get("shutdown"), Some(&1));
    assert_eq!(h1.shutdown().await, Ok(()));
    assert_eq!(h2.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn trees_from_clones_of_one_supervisor_send_their_own_events() {
    let app = Supervisor::builder("app")
        .child(serve("w"))
        .build()
        .unwrap();
    let first = app.clone();
    let mut r1 = first.subscribe();
    let h1 = first.start().await.unwrap();
    let h2 = app.clone().start().await.unwrap();
    settle().await;
    drain(&mut r1); // h1's own start
    h2.terminate_child("w").await.unwrap();
    settle().await;
    assert_eq!(drain(&mut r1), [], "h2's events reached h1's subscriber");
    h1.terminate_child("w").await.unwrap();
    settle().await;
    assert_eq!(
        drain(&mut r1),
        [(
            "app/w".to_string(),
            EventKind::Exited {
                reason: ExitReason::Shutdown
            }
        )]
    );
    assert_eq!(h1.shutdown().await, Ok(()));
    assert_eq!(h2.shutdown().await, Ok(()));
}

// ----- handles used from another runtime -----

#[test]
fn handle_used_from_another_runtime_while_the_first_runs() {
    let a = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let app = Supervisor::builder("app")
        .child(serve("w"))
        .build()
        .unwrap();
    let mut events = app.subscribe();
    let h = a.block_on(async { app.start().await.unwrap() });
    let b = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    b.block_on(async {
        assert_eq!(paths(&bounded(h.which_children()).await), ["app/w"]);
        assert_eq!(
            bounded(h.start_child(serve("y"))).await,
            Ok("app/y".to_string())
        );
        assert_eq!(bounded(h.terminate_child("app/y")).await, Ok(()));
        loop {
            let e = bounded(events.recv()).await.unwrap();
            if &*e.path == "app/y" && matches!(e.kind, EventKind::Exited { .. }) {
                break;
            }
        }
        assert_eq!(bounded(counts(&h)).await, [2, 1, 0, 2]);
        assert_eq!(h.metrics().total.starts, 2);
        assert_eq!(bounded(h.shutdown()).await, Ok(()));
        assert!(h.is_finished());
    });
    drop(a);
}

#[test]
fn handle_after_its_runtime_was_dropped_answers_and_never_hangs() {
    let a = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = Supervisor::builder("app")
        .child(serve("w"))
        .build()
        .unwrap();
    let mut events = app.subscribe();
    let h = a.block_on(async { app.start().await.unwrap() });
    drop(a);
    let b = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    b.block_on(async {
        assert_eq!(paths(&bounded(h.which_children()).await), ["app/w"]);
        let c = bounded(h.count_children()).await;
        assert_eq!((c.specs, c.active, c.workers), (1, 0, 1));
        let stopped = ControlError::Stopped {
            supervisor: "app".into(),
        };
        assert_eq!(
            bounded(h.start_child(serve("x"))).await,
            Err(stopped.clone())
        );
        assert_eq!(bounded(h.terminate_child("w")).await, Err(stopped.clone()));
        assert_eq!(
            bounded(h.which_children_of("w")).await,
            Err(stopped.clone())
        );
        assert_eq!(
            bounded(h.spawn_task("t", async { 1 }).join()).await,
            Err(TaskError::Refused {
                path: "app/t".into(),
                reason: stopped.clone()
            })
        );
        // The stream of a subscriber from before the start has ended.
        while events.try_recv().is_ok() {} // the start's
        assert!(matches!(events.try_recv(), Err(TryRecvError::Closed)));
        let lost = SupervisorError::Lost {
            supervisor: "app".into(),
        };
        assert_eq!(bounded(h.wait()).await, Err(lost.clone()));
        assert_eq!(bounded(h.shutdown()).await, Err(lost.clone()));
        assert_eq!(bounded(h.kill()).await, Err(lost.clone()));
        assert!(lost.to_string().contains("`app`"));
        assert_eq!(bounded(h.started()).await, Ok(()), "it had started");
        assert!(h.is_finished() && !h.is_running());
        assert_eq!(h.metrics().total.starts, 1);
    });
}

// ----- task handles act on their own run only -----

#[tokio::test(start_paused = true)]
async fn stale_task_handle_abort_spares_a_new_task_of_the_same_name() {
    let jobs = Supervisor::dynamic("jobs").start_ok().await;
    let old = jobs.spawn_task("job", async { 1 });
    settle().await;
    assert!(jobs.which_children().await.is_empty(), "the old task ended");
    let new = jobs.spawn_task("job", async {
        tokio::time::sleep(secs(10)).await;
        2
    });
    old.abort();
    settle().await;
    let kids = jobs.which_children().await;
    assert_eq!(paths(&kids), ["jobs/job"]);
    assert_eq!(kids[0].phase, Phase::Running, "the new task was aborted");
    assert_eq!(new.join().await, Ok(2));
    assert_eq!(old.join().await, Ok(1));
    assert_eq!(jobs.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn joining_an_abort_on_drop_handle_late_spares_a_new_task_of_the_same_name() {
    let jobs = Supervisor::dynamic("jobs").start_ok().await;
    let old = jobs.spawn_task("job", async { 1 }).abort_on_drop();
    settle().await;
    assert!(jobs.which_children().await.is_empty(), "the old task ended");
    let new = jobs.spawn_task("job", async {
        tokio::time::sleep(secs(10)).await;
        2
    });
    assert_eq!(old.join().await, Ok(1));
    settle().await;
    let kids = jobs.which_children().await;
    assert_eq!(paths(&kids), ["jobs/job"]);
    assert_eq!(kids[0].phase, Phase::Running, "the new task was aborted");
    assert_eq!(new.join().await, Ok(2));
    assert_eq!(jobs.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn dropping_an_abort_on_drop_handle_of_a_settled_task_spares_a_new_one() {
    let jobs = Supervisor::dynamic("jobs").start_ok().await;
    let old = jobs
        .spawn_task("job", async { panic!("bad input") })
        .abort_on_drop();
    settle().await;
    assert!(jobs.which_children().await.is_empty(), "the old task ended");
    let new = jobs.spawn_task("job", async {
        tokio::time::sleep(secs(10)).await;
        2
    });
    drop(old);
    settle().await;
    assert_eq!(
        snap(&jobs, "jobs/job").await.phase,
        Phase::Running,
        "the new task was aborted"
    );
    assert_eq!(new.join().await, Ok(2));
    let again = jobs.spawn_task("job", async { panic!("bad input") });
    assert_eq!(
        again.join().await,
        Err(TaskError::Panicked("bad input".into()))
    );
    assert_eq!(jobs.shutdown().await, Ok(()));
}

// ----- user values that panic -----

/// An error whose `Display` panics.
#[derive(Debug)]
struct BadDisplay;

impl fmt::Display for BadDisplay {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Display of a user error")
    }
}

impl std::error::Error for BadDisplay {}

/// An error whose `Drop` panics.
#[derive(Debug)]
struct BadDrop;

impl fmt::Display for BadDrop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("bad drop")
    }
}

impl std::error::Error for BadDrop {}

impl Drop for BadDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("Drop of a user error");
        }
    }
}

/// An error whose `Debug` panics.
struct BadDebug;

impl fmt::Debug for BadDebug {
    fn fmt(&self, _: &mut fmt::Formatter<'_>) -> fmt::Result {
        panic!("Debug of a user error")
    }
}

impl fmt::Display for BadDebug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("display ok")
    }
}

impl std::error::Error for BadDebug {}

/// A panic payload whose `Drop` panics.
struct Bomb;

impl Drop for Bomb {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("Drop of a panic payload");
        }
    }
}

/// A child whose first `fails` runs fail (after `after`) with `make()`,
/// then serves.
fn fails_with<E>(
    fails: u32,
    after: Duration,
    make: impl Fn() -> E + Send + Sync + 'static,
) -> ChildSpec
where
    E: std::error::Error + Send + Sync + 'static,
{
    let make = Arc::new(make);
    ChildSpec::new(
        "w",
        service_fn(move |ctx: Context| {
            let make = make.clone();
            async move {
                if ctx.attempt() <= fails {
                    tokio::time::sleep(after).await;
                    return Err(Box::new(make()) as BoxError);
                }
                ctx.cancelled().await;
                Ok(())
            }
        }),
    )
    .backoff(Backoff::none())
}

#[tokio::test(start_paused = true)]
async fn error_whose_display_panics_is_recorded_and_restarted() {
    let h = Supervisor::builder("app")
        .child(fails_with(1, secs(1), || BadDisplay))
        .child(serve("x"))
        .start_ok()
        .await;
    tokio::time::sleep(secs(2)).await;
    let w = snap(&h, "app/w").await;
    assert_eq!((w.starts, &w.phase), (2, &Phase::Running));
    let err = w.last_error.clone().unwrap_or_default();
    assert!(err.contains("<error display panicked>"), "{err:?}");
    assert!(h.is_running());
    assert_eq!(paths(&h.which_children().await), ["app/w", "app/x"]);
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn error_whose_display_panics_is_contained_with_an_event_subscriber() {
    let (h, mut rx) = Supervisor::builder("app")
        .child(fails_with(2, secs(1), || BadDisplay))
        .start_subscribed()
        .await;
    tokio::time::sleep(secs(3)).await;
    let exits: Vec<ExitReason> = drain(&mut rx)
        .into_iter()
        .filter_map(|(p, k)| match k {
            EventKind::Exited { reason } if p == "app/w" => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(exits.len(), 2, "{exits:?}");
    for r in &exits {
        assert!(
            matches!(r, ExitReason::Failed(m) if m.contains("<error display panicked>")),
            "{r:?}"
        );
    }
    let w = snap(&h, "app/w").await;
    assert_eq!((w.starts, &w.phase), (3, &Phase::Running));
    assert!(h.is_running());
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn error_whose_drop_panics_is_contained() {
    let h = Supervisor::builder("app")
        .child(fails_with(2, secs(1), || BadDrop))
        .child(serve("x"))
        .start_ok()
        .await;
    tokio::time::sleep(secs(3)).await;
    let w = snap(&h, "app/w").await;
    assert_eq!((w.starts, &w.phase), (3, &Phase::Running));
    assert_eq!(w.last_error.as_deref(), Some("bad drop"));
    assert!(h.is_running());
    assert_eq!(h.shutdown().await, Ok(()));
    // And with a subscriber, where the error is rendered (and let go) at once.
    let (h, _rx) = Supervisor::builder("app")
        .child(fails_with(2, secs(1), || BadDrop))
        .start_subscribed()
        .await;
    tokio::time::sleep(secs(3)).await;
    assert_eq!(snap(&h, "app/w").await.starts, 3);
    assert!(h.is_running());
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn panic_payload_whose_drop_panics_is_contained() {
    let h = Supervisor::builder("app")
        .child(
            ChildSpec::new(
                "w",
                service_fn(|ctx: Context| async move {
                    if ctx.attempt() == 1 {
                        tokio::time::sleep(secs(1)).await;
                        std::panic::panic_any(Bomb);
                    }
                    ctx.cancelled().await;
                    Ok(())
                }),
            )
            .backoff(Backoff::none()),
        )
        .child(serve("x"))
        .start_ok()
        .await;
    tokio::time::sleep(secs(2)).await;
    let w = snap(&h, "app/w").await;
    assert_eq!((w.starts, &w.phase), (2, &Phase::Running));
    assert!(
        matches!(w.last_exit, Some(ExitReason::Panicked(_))),
        "{w:?}"
    );
    assert!(h.is_running());
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn non_string_panic_payload_is_recorded_as_a_panic() {
    let (h, mut rx) = Supervisor::builder("app")
        .child(
            ChildSpec::new(
                "w",
                service_fn(|ctx: Context| async move {
                    if ctx.attempt() == 1 {
                        tokio::time::sleep(secs(1)).await;
                        std::panic::panic_any(42_u32);
                    }
                    ctx.cancelled().await;
                    Ok(())
                }),
            )
            .backoff(Backoff::none()),
        )
        .start_subscribed()
        .await;
    tokio::time::sleep(secs(2)).await;
    let w = snap(&h, "app/w").await;
    assert_eq!((w.starts, &w.phase), (2, &Phase::Running));
    assert!(
        matches!(&w.last_exit, Some(ExitReason::Panicked(m)) if !m.is_empty()),
        "{w:?}"
    );
    assert!(drain(&mut rx).iter().any(|(p, k)| p == "app/w"
        && matches!(
            k,
            EventKind::Exited {
                reason: ExitReason::Panicked(_)
            }
        )));
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn error_whose_debug_panics_is_never_formatted_with_debug() {
    // Every log line enabled, and an event subscriber: whatever shows the
    // error must use its Display.
    let _tracing = tracing::subscriber::set_default(
        tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .with_max_level(tracing::Level::TRACE)
            .finish(),
    );
    let (h, mut rx) = Supervisor::builder("app")
        .child(fails_with(1, secs(1), || BadDebug))
        .start_subscribed()
        .await;
    tokio::time::sleep(secs(2)).await;
    let w = snap(&h, "app/w").await;
    assert_eq!((w.starts, &w.phase), (2, &Phase::Running));
    assert_eq!(w.last_error.as_deref(), Some("display ok"));
    assert!(drain(&mut rx).contains(&(
        "app/w".to_string(),
        EventKind::Exited {
            reason: ExitReason::Failed("display ok".into())
        }
    )));
    assert_eq!(h.shutdown().await, Ok(()));
    assert_eq!(
        snap(&h, "app/w").await.phase,
        Phase::Terminated(ExitReason::Shutdown)
    );
}

// ===== decided configuration errors =====
// `ConfigError::ZeroDuration { path, setting }`,
// `ConfigError::InvalidCount { path, setting, reason }` and
// `ConfigError::NestedInItself { path }`.

#[test]
fn wait_ready_zero_is_refused_with_path_and_setting() {
    let e = Supervisor::builder("app")
        .child(serve("w").wait_ready(Duration::ZERO))
        .build()
        .unwrap_err();
    assert!(
        matches!(&e, ConfigError::ZeroDuration { path, setting, .. } if path == "app/w" && *setting == "wait_ready"),
        "{e:?}"
    );
    assert!(e.to_string().contains("app/w"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn wait_ready_zero_through_start_child_is_invalid_spec() {
    let h = Supervisor::builder("app")
        .child(serve("w"))
        .start_ok()
        .await;
    let e = h
        .start_child(serve("x").wait_ready(Duration::ZERO))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ControlError::InvalidSpec(ConfigError::ZeroDuration { path, setting, .. }) if path == "app/x" && *setting == "wait_ready"),
        "{e:?}"
    );
    assert!(e.to_string().contains("app/x"), "{e}");
    assert_eq!(paths(&h.which_children().await), ["app/w"]);
    assert_eq!(h.shutdown().await, Ok(()));
}

#[test]
fn heartbeat_zero_is_refused_with_path_and_setting() {
    let e = Supervisor::builder("db")
        .child(serve("w").heartbeat(Duration::ZERO))
        .build()
        .unwrap_err();
    assert!(
        matches!(&e, ConfigError::ZeroDuration { path, setting, .. } if path == "db/w" && *setting == "heartbeat"),
        "{e:?}"
    );
    assert!(e.to_string().contains("db/w"), "{e}");
}

#[tokio::test(start_paused = true)]
async fn heartbeat_zero_through_start_child_is_invalid_spec() {
    let db = Supervisor::builder("db").child(serve("w")).build().unwrap();
    let h = Supervisor::builder("app").child(db).start_ok().await;
    let e = h
        .start_child_in("db", serve("x").heartbeat(Duration::ZERO))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ControlError::InvalidSpec(ConfigError::ZeroDuration { path, setting, .. }) if path == "app/db/x" && *setting == "heartbeat"),
        "{e:?}"
    );
    assert!(e.to_string().contains("app/db/x"), "{e}");
    assert_eq!(
        paths(&h.which_children_of("db").await.unwrap()),
        ["app/db/w"]
    );
    assert_eq!(h.shutdown().await, Ok(()));
}

/// `blocking_limit(0)` is documented as 1: a blocking task still runs.
#[tokio::test(start_paused = true)]
async fn blocking_limit_zero_is_taken_as_one() {
    let h = Supervisor::dynamic("pool")
        .blocking_limit(0)
        .start_ok()
        .await;
    let t = h.spawn_blocking("sum", || 40 + 2);
    assert_eq!(t.join().await, Ok(42));
    assert_eq!(h.shutdown().await, Ok(()));
}

/// A limit above tokio's `Semaphore::MAX_PERMITS` is that maximum, not a
/// panic in `build`.
#[tokio::test(start_paused = true)]
async fn blocking_limit_above_semaphore_max_is_clamped() {
    let h = Supervisor::dynamic("pool")
        .blocking_limit(usize::MAX)
        .start_ok()
        .await;
    let t = h.spawn_blocking("sum", || 40 + 2);
    assert_eq!(t.join().await, Ok(42));
    assert_eq!(h.shutdown().await, Ok(()));
}

/// `max_children(0)`, as Elixir's `max_children: 0`: every child refused,
/// with the supervisor's path.
#[tokio::test(start_paused = true)]
async fn max_children_zero_refuses_every_child() {
    let h = Supervisor::dynamic("pool").max_children(0).start_ok().await;
    let e = h.start_child(serve("conn")).await.unwrap_err();
    assert_eq!(
        e,
        ControlError::MaxChildren {
            supervisor: "pool".into(),
            max: 0
        }
    );
    assert!(e.to_string().contains("pool"), "{e}");
    assert!(h.which_children().await.is_empty());
    assert_eq!(h.shutdown().await, Ok(()));
}

/// `multi_thread(0)` is documented as one worker.
#[test]
fn multi_thread_zero_workers_is_taken_as_one() {
    let rt = tokio_supervisor::runtime::RuntimeConfig::multi_thread(0);
    assert!(
        format!("{rt:?}").starts_with("RuntimeConfig::multi_thread(1)"),
        "{rt:?}"
    );
    assert!(Supervisor::builder("cpu")
        .dedicated_runtime(rt)
        .child(serve("w"))
        .build()
        .is_ok());
}

#[tokio::test(start_paused = true)]
async fn starting_a_supervisor_inside_itself_is_refused_with_its_path() {
    let app = Supervisor::builder("app")
        .child(serve("w"))
        .build()
        .unwrap();
    let h = app.clone().start().await.unwrap();
    let e = h
        .start_child(ChildSpec::from(app.clone()))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ControlError::InvalidSpec(ConfigError::NestedInItself { path, .. }) if path == "app/app"),
        "{e:?}"
    );
    assert!(e.to_string().contains("app/app"), "{e}");
    assert_eq!(paths(&h.which_children().await), ["app/w"]);
    assert!(h.is_running());
    assert_eq!(h.shutdown().await, Ok(()));
}

#[tokio::test(start_paused = true)]
async fn starting_a_supervisor_inside_its_own_descendant_is_refused_with_its_path() {
    let db = Supervisor::builder("db").child(serve("w")).build().unwrap();
    let app = Supervisor::builder("app")
        .child(db.clone())
        .build()
        .unwrap();
    let h = app.clone().start().await.unwrap();
    for (spec, want) in [
        (ChildSpec::from(app.clone()), "app/db/app"),
        (ChildSpec::from(db.clone()), "app/db/db"),
    ] {
        let e = h.start_child_in("db", spec).await.unwrap_err();
        assert!(
            matches!(&e, ControlError::InvalidSpec(ConfigError::NestedInItself { path, .. }) if path == want),
            "{e:?}"
        );
        assert!(e.to_string().contains(want), "{e}");
    }
    assert_eq!(
        paths(&h.which_children_of("db").await.unwrap()),
        ["app/db/w"]
    );
    assert_eq!(h.shutdown().await, Ok(()));
}
