//! The supervisor's stop token, watched by the loop.
//!
//! `select!` over `token.cancelled()` makes a new waiter at every turn of the
//! loop: it takes the token's lock to check it, the `Notify`'s lock to
//! register and again to unregister, three lock operations per event
//! handled. [`StopSignal`] keeps one waiter registered for the whole run and
//! polls it only once the token is cancelled: one check per poll.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

/// Completes once the token is cancelled (see the module).
pub(crate) struct StopSignal {
    token: CancellationToken,
    wait: Pin<Box<WaitForCancellationFutureOwned>>,
    /// Polled once: its waiter is registered, and wakes the loop on cancel.
    armed: bool,
}

impl StopSignal {
    pub(crate) fn new(token: CancellationToken) -> Self {
        StopSignal {
            wait: Box::pin(token.clone().cancelled_owned()),
            token,
            armed: false,
        }
    }

    /// Ready once the token is cancelled. The first poll registers the
    /// waiter, with the caller's waker; later polls look at the token only,
    /// until the cancel (which wakes that waker) makes it worth polling.
    pub(crate) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.armed && !self.token.is_cancelled() {
            return Poll::Pending;
        }
        self.armed = true;
        self.wait.as_mut().poll(cx)
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
}
