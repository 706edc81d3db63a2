//! `quiet_child_panics`: quiet for a supervised child's panics, and every
//! other panic still reaches the hook installed before it.
//!
//! The panic hook is the process's: this file holds one test, so that no
//! other test of its binary panics (or sets a hook) while it counts.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};

use support::*;
use tokio_supervisor::{
    quiet_child_panics, service_fn, Backoff, ChildSpec, ExitReason, Supervisor, TaskError,
};

/// Calls of the hook installed before `quiet_child_panics`.
static PREVIOUS_HOOK_CALLS: AtomicUsize = AtomicUsize::new(0);

fn calls() -> usize {
    PREVIOUS_HOOK_CALLS.load(Ordering::SeqCst)
}

#[tokio::test(start_paused = true)]
async fn child_panics_are_quiet_and_the_others_reach_the_previous_hook() {
    // Counts, and prints as before (a failed assertion here is a panic).
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        PREVIOUS_HOOK_CALLS.fetch_add(1, Ordering::SeqCst);
        default(info);
    }));
    assert!(quiet_child_panics(), "the first call installs it");
    assert!(!quiet_child_panics(), "a second call does nothing");

    // A service that panics on its first run, then serves.
    let h = Supervisor::builder("app")
        .child(
            ChildSpec::new(
                "svc",
                service_fn(|ctx| async move {
                    assert!(ctx.attempt() > 1, "first run");
                    ctx.cancelled().await;
                    Ok(())
                }),
            )
            .backoff(Backoff::none()),
        )
        .start_ok()
        .await;
    settle().await;
    let svc = h.which_children().await.remove(0);
    assert_eq!(svc.starts, 2);
    assert!(matches!(svc.last_exit, Some(ExitReason::Panicked(_))));

    // A one-off task and a blocking task that panic.
    let task = h.spawn_task("task", async { panic!("in a task") });
    assert_eq!(
        task.join().await,
        Err::<(), _>(TaskError::Panicked("in a task".into()))
    );
    let blocking = h.spawn_blocking("blocking", || -> u32 { panic!("in a blocking task") });
    assert_eq!(
        blocking.join().await,
        Err(TaskError::Panicked("in a blocking task".into()))
    );
    assert_eq!(calls(), 0, "a supervised child's panic is quiet");

    // Outside any child: passed on, once each.
    let outside = std::panic::catch_unwind(|| panic!("outside"));
    assert!(outside.is_err());
    assert_eq!(
        calls(),
        1,
        "a panic outside a child reaches the previous hook"
    );
    let bare = tokio::spawn(async { panic!("in a bare task") }).await;
    assert!(bare.unwrap_err().is_panic());
    assert_eq!(calls(), 2, "so does one in an unsupervised task");

    h.shutdown().await.unwrap();
}
