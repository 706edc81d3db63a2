//! A panic hook that stays quiet for supervised children only:
//! [`quiet_child_panics`].
//!
//! # Why
//!
//! A child's panic is caught by its supervisor, kept as
//! [`ExitReason::Panicked`] with its message, logged, sent to event
//! subscribers, and handled by the child's restart policy. The default
//! panic hook prints it to stderr first, with a backtrace if asked, so a
//! program whose children panic now and then (a demo, a fault-injection
//! test) fills its terminal. Silencing every panic with a no-op hook hides
//! the ones nobody handles: a bug in `main`, in a bare `tokio::spawn`, in
//! a library thread.
//!
//! The hook here is quiet for a panic raised while a supervised child is
//! polled (a service's run, a task, a blocking task's closure, their
//! destructors) and hands every other panic to the hook installed before
//! it. It knows where it is from a thread-local flag that the child's task
//! sets around each poll of the run (`in_child`): a panic hook runs on the
//! panicking thread, before the unwinding, so the flag is still set.
//!
//! [`ExitReason::Panicked`]: crate::ExitReason::Panicked

use std::cell::Cell;
use std::sync::Once;

thread_local! {
    /// Whether this thread is running a supervised child's code.
    static IN_CHILD: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` as a supervised child's code: a panic in it is quiet under
/// [`quiet_child_panics`]. Restores the flag as it was, so that nesting is
/// harmless.
#[inline]
pub(crate) fn in_child<R>(f: impl FnOnce() -> R) -> R {
    struct Restore(bool);
    impl Drop for Restore {
        #[inline]
        fn drop(&mut self) {
            IN_CHILD.set(self.0);
        }
    }
    let _restore = Restore(IN_CHILD.replace(true));
    f()
}

/// Installs a panic hook that prints nothing for a panic in a supervised
/// child and passes every other panic to the hook that was installed
/// before (the default one prints the message and location to stderr).
///
/// A child's panic is not lost: its supervisor keeps the message as the
/// child's [`ExitReason::Panicked`], logs it with `tracing` and sends it
/// to [event](crate::Event) subscribers. What the quiet hook drops is the
/// location and backtrace, so leave it out while you debug a panic.
///
/// "In a supervised child" means while the supervisor's task polls the
/// child's run (a [`Service`](crate::Service), a [`task_fn`](crate::task_fn),
/// a [`spawn_task`](crate::SupervisorHandle::spawn_task) future) or drops
/// it, and in a [`spawn_blocking`](crate::SupervisorHandle::spawn_blocking)
/// closure. A task the child spawns with `tokio::spawn` is not supervised,
/// and its panics go to the previous hook.
///
/// Call it once, early in `main`, before other threads start. Only the
/// first call installs the hook; it returns `true`, and later calls
/// `false` and do nothing (so a library and its program may both call it).
/// A hook set afterwards with [`std::panic::set_hook`] replaces this one.
///
/// # Examples
///
/// ```
/// #[tokio::main]
/// async fn main() {
///     tokio_supervisor::quiet_child_panics();
///     // ... build and run the supervision tree ...
/// }
/// ```
///
/// [`ExitReason::Panicked`]: crate::ExitReason::Panicked
pub fn quiet_child_panics() -> bool {
    static INSTALLED: Once = Once::new();
    let mut installed = false;
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            // Unknown (the thread-local is being destroyed): not a child's.
            if !IN_CHILD.try_with(Cell::get).unwrap_or(false) {
                previous(info);
            }
        }));
        installed = true;
    });
    installed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_is_set_inside_and_restored_after_even_on_panic() {
        assert!(!IN_CHILD.get());
        in_child(|| {
            assert!(IN_CHILD.get());
            in_child(|| assert!(IN_CHILD.get()));
            assert!(IN_CHILD.get(), "nested: restored to set");
        });
        assert!(!IN_CHILD.get());
        let r = std::panic::catch_unwind(|| in_child(|| panic!("unwinds through")));
        assert!(r.is_err());
        assert!(!IN_CHILD.get(), "restored by the unwinding");
    }
}
