//! The receiving end of a child's mailbox, lent to one run: [`Inbox`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};

use tokio::sync::mpsc;

use super::shared::Shared;
use crate::Context;

/// The receiving end of a child's mailbox, lent to one run: the run gets
/// it as the argument of its [`MailboxService::run`](super::MailboxService::run),
/// and it goes back to the mailbox when dropped, however the run ends
/// (returned, failed, panicked or aborted), for the next run to take.
///
/// [`recv`](Self::recv) returns `None` once the run is asked to stop, so
/// that the plain loop `while let Some(msg) = inbox.recv().await` ends
/// with the run; the messages still queued then stay for the next run, or
/// are dropped if the child terminates.
///
/// Keep it inside the run's own future: handed to a task that outlives
/// the run, it keeps the next run from taking it (that run fails with
/// [`MailboxError::Taken`](super::MailboxError::Taken)).
///
/// ```
/// use tokio_supervisor::{BoxError, Context, Inbox, MailboxService};
///
/// struct Stage;
///
/// impl MailboxService<Vec<u8>> for Stage {
///     async fn run(&self, ctx: Context, mut inbox: Inbox<Vec<u8>>) -> Result<(), BoxError> {
///         ctx.ready();
///         let mut batch = Vec::with_capacity(64);
///         while inbox.recv_many(&mut batch, 64).await > 0 {
///             for frame in batch.drain(..) {
///                 let _ = frame; // parse, forward, ...
///             }
///         }
///         Ok(())
///     }
/// }
/// ```
pub struct Inbox<T> {
    rx: Option<mpsc::Receiver<T>>,
    shared: Arc<Shared<T>>,
    ctx: Context,
    /// `ctx.cancelled()`, made once a run: its waiter is registered with
    /// the run's stop signal at the first park, and stays registered.
    cancelled: Pin<Box<dyn Future<Output = ()> + Send + Sync>>,
    /// The waker `cancelled` was last polled with (see `poll_recv`).
    registered: Option<Waker>,
}

impl<T> Inbox<T> {
    pub(super) fn new(rx: mpsc::Receiver<T>, shared: Arc<Shared<T>>, ctx: Context) -> Self {
        let cancelled = {
            let ctx = ctx.clone();
            Box::pin(async move { ctx.cancelled().await })
        };
        Inbox {
            rx: Some(rx),
            shared,
            ctx,
            cancelled,
            registered: None,
        }
    }

    /// Whether the run is asked to stop; if not, makes sure that a stop
    /// wakes the task that polls with `cx`.
    ///
    /// Why no wakeup is lost: the stop flag is read first; then, unless
    /// the `cancelled` future was last polled with a waker that wakes the
    /// same task (`will_wake`, a pointer comparison), it is polled again,
    /// which registers this waker (tokio's `Notified` keeps the latest).
    /// A stop after the flag was read wakes the registered waker; a stop
    /// before it was read is seen by the read. Polling `cancelled` only
    /// when the waker changes spares the park of every `recv` the lock
    /// of the stop signal's waiter list: one lock a run, not two a park.
    fn poll_stop(&mut self, cx: &mut TaskContext<'_>) -> bool {
        if self.ctx.is_cancelled() {
            return true;
        }
        if self
            .registered
            .as_ref()
            .is_some_and(|w| w.will_wake(cx.waker()))
        {
            return false;
        }
        if self.cancelled.as_mut().poll(cx).is_ready() {
            return true;
        }
        self.registered = Some(cx.waker().clone());
        false
    }

    pub(super) fn poll_recv(&mut self, cx: &mut TaskContext<'_>) -> Poll<Option<T>> {
        if self.ctx.is_cancelled() {
            return Poll::Ready(None);
        }
        let Some(rx) = self.rx.as_mut() else {
            return Poll::Ready(None);
        };
        match rx.poll_recv(cx) {
            Poll::Ready(msg) => Poll::Ready(msg),
            Poll::Pending if self.poll_stop(cx) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }

    fn poll_recv_many(
        &mut self,
        cx: &mut TaskContext<'_>,
        buf: &mut Vec<T>,
        limit: usize,
    ) -> Poll<usize> {
        if self.ctx.is_cancelled() {
            return Poll::Ready(0);
        }
        let Some(rx) = self.rx.as_mut() else {
            return Poll::Ready(0);
        };
        match rx.poll_recv_many(cx, buf, limit) {
            Poll::Ready(n) => Poll::Ready(n),
            Poll::Pending if self.poll_stop(cx) => Poll::Ready(0),
            Poll::Pending => Poll::Pending,
        }
    }

    /// Receives the next message, waiting for one; `None` once the run is
    /// asked to stop ([`Context::cancelled`]), even if messages are
    /// queued: they stay for the next run.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a message is taken off the queue only when this
    /// completes with it, so in `tokio::select!` no message is lost.
    pub async fn recv(&mut self) -> Option<T> {
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Receives up to `limit` messages into `buf`, waiting for at least
    /// one: how many were received; 0 once the run is asked to stop (or
    /// if `limit` is 0).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe, as [`recv`](Self::recv).
    pub async fn recv_many(&mut self, buf: &mut Vec<T>, limit: usize) -> usize {
        std::future::poll_fn(|cx| self.poll_recv_many(cx, buf, limit)).await
    }

    /// Receives a message if one is queued, without waiting (even once the
    /// run is asked to stop: to finish the work in hand).
    pub fn try_recv(&mut self) -> Option<T> {
        self.rx.as_mut()?.try_recv().ok()
    }

    /// Messages queued now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.rx.as_ref().map_or(0, mpsc::Receiver::len)
    }

    /// Whether no message is queued.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The mailbox's capacity.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shared.tx.max_capacity()
    }
}

impl<T> Drop for Inbox<T> {
    fn drop(&mut self) {
        if let Some(rx) = self.rx.take() {
            self.shared.give_back(rx);
        }
    }
}

impl<T> std::fmt::Debug for Inbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inbox")
            .field("path", &self.ctx.path())
            .field("queued", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}
