//! The supervisor's stop token, watched by the loop.
//!
//! `select!` over `token.cancelled()` makes a new waiter at every turn of the
//! loop: it takes the token's lock to check it, the `Notify`'s lock to
//! register and again to unregister, three lock operations per event
//! handled. [`StopSignal`] keeps one waiter registered for the whole run,
//! whose waker sets a flag before it wakes the loop's task: a turn of the
//! loop reads that flag, one atomic load, and polls the waiter only once it
//! is set (checking the token itself would take its lock at every turn).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// Completes once the token is cancelled (see the module).
pub(crate) struct StopSignal {
    wait: Pin<Box<WaitForCancellationFutureOwned>>,
    flag: Arc<Flag>,
    /// The task's waker as last handed to `flag` (`None`: never polled).
    task: Option<Waker>,
}

/// The waiter's waker: marks the cancel, then wakes the loop's task.
#[derive(Default)]
struct Flag {
    fired: AtomicBool,
    task: parking_lot::Mutex<Option<Waker>>,
}

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.fired.store(true, Ordering::Release);
        let task = self.task.lock().clone();
        if let Some(task) = task {
            task.wake();
        }
    }
}

impl StopSignal {
    pub(crate) fn new(token: CancellationToken) -> Self {
        StopSignal {
            wait: Box::pin(token.cancelled_owned()),
            flag: Arc::default(),
            task: None,
        }
    }

    /// Ready once the token is cancelled. The first poll registers the
    /// waiter; later polls read the flag only, until the cancel sets it (and
    /// wakes the task), or the task's waker changes.
    #[inline]
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // The loop's every turn: one comparison and one load.
        if self.registered(cx) && !self.flag.fired.load(Ordering::Acquire) {
            return Poll::Pending;
        }
        self.poll_waiter(cx)
    }

    /// Whether the waiter wakes the task that polls now.
    #[inline]
    fn registered(&self, cx: &Context<'_>) -> bool {
        self.task.as_ref().is_some_and(|w| w.will_wake(cx.waker()))
    }

    /// Registers the task's waker if it changed, and polls the waiter.
    fn poll_waiter(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.registered(cx) {
            *self.flag.task.lock() = Some(cx.waker().clone());
            self.task = Some(cx.waker().clone());
        }
        let waker = Waker::from(self.flag.clone());
        self.wait.as_mut().poll(&mut Context::from_waker(&waker))
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use super::*;

    /// The waiter registered by the first poll is what wakes the task on
    /// cancel: the polls in between neither wake it nor register again.
    #[tokio::test(start_paused = true)]
    async fn registers_once_then_wakes_the_task_on_cancel() {
        let token = CancellationToken::new();
        let mut stop = StopSignal::new(token.clone());
        let polls = Arc::new(AtomicUsize::new(0));
        let p = polls.clone();
        let waiter = tokio::spawn(async move {
            poll_fn(|cx| {
                p.fetch_add(1, Ordering::SeqCst);
                stop.poll(cx)
            })
            .await;
        });
        tokio::task::yield_now().await;
        tokio::task::yield_now().await;
        assert_eq!(polls.load(Ordering::SeqCst), 1, "polled once, then asleep");
        token.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(1), waiter)
            .await
            .expect("the cancel woke the task")
            .unwrap();
        assert_eq!(polls.load(Ordering::SeqCst), 2);
    }

    /// Polled from another task, it hands the new task's waker to its
    /// waiter: the cancel wakes the task that polls it now.
    #[tokio::test(start_paused = true)]
    async fn a_new_task_is_the_one_woken() {
        let token = CancellationToken::new();
        let stop = Arc::new(parking_lot::Mutex::new(StopSignal::new(token.clone())));
        let s = stop.clone();
        let first = tokio::spawn(async move {
            // Polled once, then given up.
            let mut polled = false;
            poll_fn(|cx| {
                if polled {
                    return std::task::Poll::Ready(());
                }
                polled = true;
                assert!(s.lock().poll(cx).is_pending());
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            })
            .await;
        });
        first.await.unwrap();
        let s = stop.clone();
        let second = tokio::spawn(async move { poll_fn(|cx| s.lock().poll(cx)).await });
        tokio::task::yield_now().await;
        assert!(!second.is_finished());
        token.cancel();
        tokio::time::timeout(std::time::Duration::from_secs(1), second)
            .await
            .expect("the cancel woke the second task")
            .unwrap();
    }
}
