//! Dedicated runtimes for subtrees: the children run on the subtree's own
//! threads; stops, failures, commands, events and metrics cross the
//! boundary; no thread outlives the tree.
//!
//! The subtree runs on real threads and real time: every wait here is on an
//! event (the tree's own, or a reply), never on a timer.

mod support;

use std::sync::{Arc, Mutex};

use support::*;
use tokio::sync::broadcast;
use tokio_supervisor::runtime::RuntimeConfig;
use tokio_supervisor::{
    service_fn, Backoff, ChildSpec, Context, Event, EventKind, Restart, Supervisor, SupervisorError,
};

/// Threads of this process whose name starts with `prefix` (Linux).
#[cfg(target_os = "linux")]
fn threads_named(prefix: &str) -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|e| std::fs::read_to_string(e.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end().starts_with(prefix))
        .count()
}

/// Threads still listed under `prefix` once they have all been joined.
///
/// `pthread_join` returns when the kernel clears the thread's id, a moment
/// before it removes the thread from `/proc/self/task`. A joined thread can
/// therefore still be listed for a few microseconds. We re-read the list
/// (yielding, never sleeping) until it is empty or a generous bound passes.
/// A thread that is really left running stays listed, and the assertion
/// fails.
#[cfg(target_os = "linux")]
fn threads_left(prefix: &str) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let n = threads_named(prefix);
        if n == 0 || std::time::Instant::now() >= deadline {
            return n;
        }
        std::thread::yield_now();
    }
}

/// A child that records the name of the thread it runs on, then serves.
/// Ready-gated: `start()` returns only once it has recorded (a child that is
/// not ready-gated counts as started once spawned, before its first poll).
fn recording(name: &str, seen: &Arc<Mutex<Vec<String>>>) -> ChildSpec {
    let seen = seen.clone();
    ChildSpec::new(
        name,
        service_fn(move |ctx: Context| {
            let seen = seen.clone();
            async move {
                let thread = std::thread::current().name().unwrap_or("?").to_owned();
                seen.lock().unwrap().push(thread);
                ctx.ready();
                ctx.cancelled().await;
                Ok(())
            }
        }),
    )
    .wait_ready(secs(60))
}

async fn next_event(rx: &mut broadcast::Receiver<Event>, path: &str, f: fn(&EventKind) -> bool) {
    loop {
        let e = rx.recv().await.expect("events");
        if &*e.path == path && f(&e.kind) {
            return;
        }
    }
}

#[tokio::test]
async fn a_subtree_runs_on_its_own_threads_and_leaves_none_behind() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let cpu = Supervisor::builder("cpu")
        .dedicated_runtime(RuntimeConfig::multi_thread(2).thread_name("cpu-pool"))
        .child(recording("a", &seen))
        .child(recording("b", &seen))
        .build()
        .unwrap();
    let sup = Supervisor::builder("app")
        .child(recording("io", &seen))
        .child(cpu)
        .build()
        .unwrap();
    let h = sup.start().await.unwrap();
    // start() returned: every child has started (the subtree is ready-gated).
    let threads = seen.lock().unwrap().clone();
    assert!(
        !threads[0].starts_with("cpu-pool"),
        "io runs on the caller's runtime"
    );
    assert!(
        threads[1].starts_with("cpu-pool-w") && threads[2].starts_with("cpu-pool-w"),
        "{threads:?}"
    );
    // The subtree's thread and its workers (tokio brings workers up
    // asynchronously: one may not be there yet).
    #[cfg(target_os = "linux")]
    assert!((2..=3).contains(&threads_named("cpu-pool")));

    // One tree: snapshots, commands and metrics reach across.
    let inner = h.which_children_of("cpu").await.unwrap();
    assert_eq!(
        inner.iter().map(|c| c.path.to_string()).collect::<Vec<_>>(),
        ["app/cpu/a", "app/cpu/b"]
    );
    h.terminate_child("cpu/b").await.unwrap();
    h.restart_child("app/cpu/b").await.unwrap(); // answered once b is ready again
    let m = h.metrics();
    let b = m.children.iter().find(|c| &*c.path == "app/cpu/b").unwrap();
    assert_eq!(b.counts.starts, 2);

    h.shutdown().await.unwrap();
    #[cfg(target_os = "linux")]
    assert_eq!(
        threads_left("cpu-pool"),
        0,
        "no thread outlives the root's wait()"
    );
}

#[tokio::test]
async fn a_current_thread_subtree_is_one_thread() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let solo = Supervisor::builder("solo")
        .dedicated_runtime(RuntimeConfig::current_thread().thread_name("solo-rt"))
        .child(recording("a", &seen))
        .child(recording("b", &seen))
        .build()
        .unwrap();
    let h = Supervisor::builder("app").child(solo).start_ok().await;
    assert_eq!(*seen.lock().unwrap(), ["solo-rt", "solo-rt"]);
    #[cfg(target_os = "linux")]
    assert_eq!(threads_named("solo-rt"), 1);
    h.shutdown().await.unwrap();
    #[cfg(target_os = "linux")]
    assert_eq!(threads_left("solo-rt"), 0);
}

#[tokio::test]
async fn failure_and_events_cross_the_boundary() {
    let remote = Remote::default();
    let cpu = Supervisor::builder("cpu")
        .dedicated_runtime(RuntimeConfig::multi_thread(1).thread_name("cpu-fail"))
        .intensity(0, secs(60))
        .child(
            // Ready-gated: start() returns once w can be driven (a child that
            // is not gated counts as started once spawned, before it runs).
            remote
                .gated("w")
                .restart(Restart::Permanent)
                .backoff(Backoff::none()),
        )
        .build()
        .unwrap();
    let sup = Supervisor::builder("app")
        .intensity(0, secs(60))
        .child(remote.gated("io"))
        .child(cpu)
        .build()
        .unwrap();
    let mut rx = sup.subscribe();
    let h = sup.start().await.unwrap();
    assert!(remote.alive("app/io") && remote.alive("app/cpu/w"));

    // w fails on the subtree's thread: cpu exceeds its intensity and fails;
    // app (intensity 0) fails in turn.
    remote.exit("app/cpu/w", How::Abnormal).await;
    let err = h.wait().await.unwrap_err();
    assert!(
        matches!(&err, SupervisorError::IntensityExceeded { supervisor, child, .. }
            if supervisor == "app" && child == "app/cpu"),
        "{err}"
    );
    next_event(&mut rx, "app/cpu", |k| {
        matches!(k, EventKind::SupervisorFailed { .. })
    })
    .await;
    assert!(!remote.alive("app/io"), "the rest of the tree was stopped");
    #[cfg(target_os = "linux")]
    assert_eq!(threads_left("cpu-fail"), 0);
}

#[tokio::test]
async fn a_failed_start_on_a_dedicated_runtime_names_the_path() {
    let remote = Remote::default();
    remote.set_fail_start("app/cpu/w", true);
    let cpu = Supervisor::builder("cpu")
        .dedicated_runtime(RuntimeConfig::current_thread().thread_name("cpu-start"))
        .child(remote.gated("w"))
        .build()
        .unwrap();
    let err = Supervisor::builder("app")
        .child(cpu)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap_err();
    assert_eq!(err.child_path(), Some("app/cpu/w"));
    #[cfg(target_os = "linux")]
    assert_eq!(threads_left("cpu-start"), 0);
}
