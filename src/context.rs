//! What a running child gets from its supervisor: [`Context`].
//!
//! A context belongs to one run of one child. A restart gets a fresh context
//! (new token, next attempt number). Cloning it is cheap (one `Arc`).
//!
//! # Invariants
//!
//! * Only the supervisor stops a context (`request_stop`): it sets the `stop`
//!   flag, then wakes the `Notify`. [`Context::cancelled`] creates its
//!   `Notified` future before it reads the flag, and a `Notified` future gets
//!   `notify_waiters` from the moment it is created, so no wakeup is lost.
//!   [`Context::is_cancelled`] is one atomic load.
//! * A [`CancellationToken`] is made only if the child asks for one
//!   ([`Context::token`]); `request_stop` cancels it if it exists, and
//!   `token` cancels it itself if the stop came first, so either order ends
//!   cancelled. Most runs never allocate one.
//! * [`Context::ready`] sends at most one message per run.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::supervisor::protocol::Msg;
use crate::supervisor::Scope;

/// The handle a running child gets: cancellation, readiness, heartbeat, and
/// who it is.
///
/// ```
/// use tokio_supervisor::{service_fn, BoxError, Context};
///
/// async fn serve(ctx: Context) -> Result<(), BoxError> {
///     // ... connect, bind, warm caches ...
///     ctx.ready(); // lets a ready-gated start move on to the next sibling
///     while !ctx.is_cancelled() {
///         ctx.heartbeat();
///         tokio::select! {
///             _ = ctx.cancelled() => break,
///             _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
///         }
///     }
///     tracing::info!(path = ctx.path(), attempt = ctx.attempt(), "stopping");
///     Ok(())
/// }
/// let _ = service_fn(serve);
/// ```
#[derive(Clone)]
pub struct Context {
    inner: Arc<Inner>,
}

struct Inner {
    path: Arc<str>,
    attempt: u32,
    /// Made on demand by `token()`.
    token: OnceLock<CancellationToken>,
    stop: AtomicBool,
    stopped: Notify,
    ready: AtomicBool,
    /// Nanoseconds since `born` at the last heartbeat.
    heartbeat: AtomicU64,
    born: Instant,
    notify: Option<Notifier>,
    /// A nested supervisor's inbox, made by its parent (see `take_inbox`);
    /// boxed, so that every other run's context pays one pointer for it.
    inbox: Option<Box<parking_lot::Mutex<Option<Inbox>>>>,
}

/// A supervisor's inbox: both ends of its channel.
pub(crate) type Inbox = (mpsc::UnboundedSender<Msg>, mpsc::UnboundedReceiver<Msg>);

struct Notifier {
    tx: mpsc::UnboundedSender<Msg>,
    scope: Arc<Scope>,
    slot: usize,
    run: u64,
}

impl Inner {
    /// A run's fresh state: not stopped, not ready, no heartbeat yet.
    fn new(path: Arc<str>, attempt: u32, notify: Option<Notifier>, born: Instant) -> Self {
        Inner {
            path,
            attempt,
            token: OnceLock::new(),
            stop: AtomicBool::new(false),
            stopped: Notify::new(),
            ready: AtomicBool::new(false),
            heartbeat: AtomicU64::new(0),
            born,
            notify,
            inbox: None,
        }
    }
}

impl Context {
    pub(crate) fn new(
        path: Arc<str>,
        attempt: u32,
        tx: mpsc::UnboundedSender<Msg>,
        scope: Arc<Scope>,
        slot: usize,
        run: u64,
        born: Instant,
    ) -> Self {
        let notifier = Notifier {
            tx,
            scope,
            slot,
            run,
        };
        Context {
            inner: Arc::new(Inner::new(path, attempt, Some(notifier), born)),
        }
    }

    /// Tells the supervisor that this run ended, and how: the last thing a
    /// run's task does (see `service::Report`).
    #[inline]
    pub(crate) fn report_end(self, outcome: crate::supervisor::protocol::Outcome) {
        if let Some(n) = &self.inner.notify {
            // The supervisor gone (a runtime shutting down): nobody to tell.
            let _ = n.tx.send(Msg::Exit(crate::supervisor::protocol::Exit {
                slot: n.slot,
                // A child has one run at a time: the low bits tell runs apart.
                run: n.run as u32,
                outcome,
            }));
        }
    }

    /// A context that belongs to no supervisor, for running a service
    /// directly (in a unit test, say). Its [`ready`](Self::ready) goes
    /// nowhere, and [`token`](Self::token) returns the context's own token:
    /// cancelling it stops the service as a supervisor would.
    ///
    /// ```
    /// # use tokio_supervisor::Context;
    /// let ctx = Context::detached("test/worker");
    /// assert_eq!(ctx.name(), "worker");
    /// assert_eq!(ctx.attempt(), 1);
    /// ```
    #[must_use]
    pub fn detached(path: &str) -> Self {
        Context {
            inner: Arc::new(Inner::new(path.into(), 1, None, Instant::now())),
        }
    }

    /// Completes when the supervisor asks this child to stop.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: use it freely in `tokio::select!`.
    pub async fn cancelled(&self) {
        if self.inner.notify.is_none() {
            // Detached: its own token is what stops it.
            return self.own_token().cancelled().await;
        }
        loop {
            // Created before the flag is read: no wakeup can be lost.
            let stopped = self.inner.stopped.notified();
            if self.is_cancelled() {
                return;
            }
            stopped.await;
        }
    }

    /// Whether the supervisor has asked this child to stop. One atomic load:
    /// cheap enough for a hot loop.
    #[must_use]
    pub fn is_cancelled(&self) -> bool {
        self.inner.stop.load(Ordering::Acquire)
            || (self.inner.notify.is_none() && self.own_token().is_cancelled())
    }

    /// The context's own token, made on first use; cancelled at once if the
    /// stop came before it.
    fn own_token(&self) -> &CancellationToken {
        let token = self.inner.token.get_or_init(CancellationToken::new);
        if self.inner.stop.load(Ordering::Acquire) {
            token.cancel();
        }
        token
    }

    /// A token cancelled when this child is asked to stop, to hand to
    /// libraries that take a [`CancellationToken`].
    ///
    /// It is a [child token](CancellationToken::child_token): cancelling it
    /// yourself affects only that token and its clones, never this context
    /// or the supervisor. On a [`detached`](Self::detached) context, it is the
    /// context's own token.
    #[must_use]
    pub fn token(&self) -> CancellationToken {
        if self.inner.notify.is_none() {
            return self.own_token().clone();
        }
        self.own_token().child_token()
    }

    /// Tells the supervisor this run is ready. Only the first call of a run
    /// counts; it matters for children started with
    /// [`ChildSpec::wait_ready`](crate::ChildSpec::wait_ready), whose
    /// supervisor waits for it before starting the next sibling.
    pub fn ready(&self) {
        if !self.inner.ready.swap(true, Ordering::AcqRel) {
            if let Some(n) = &self.inner.notify {
                // The supervisor may be gone already: nothing to tell then.
                let _ = n.tx.send(Msg::Ready {
                    slot: n.slot,
                    run: n.run,
                });
            }
        }
    }

    /// Whether [`ready`](Self::ready) was called in this run.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.inner.ready.load(Ordering::Acquire)
    }

    /// Records that the child is alive and making progress. One atomic
    /// store.
    ///
    /// The heartbeat watchdog (`ChildSpec::heartbeat`) reads it; until a spec
    /// declares one, it is only recorded.
    pub fn heartbeat(&self) {
        let nanos = self.inner.born.elapsed().as_nanos();
        self.inner
            .heartbeat
            .store(u64::try_from(nanos).unwrap_or(u64::MAX), Ordering::Release);
    }

    /// When [`heartbeat`](Self::heartbeat) was last called in this run, if
    /// ever.
    #[must_use]
    pub fn last_heartbeat(&self) -> Option<Instant> {
        match self.inner.heartbeat.load(Ordering::Acquire) {
            0 => None,
            n => Some(self.inner.born + std::time::Duration::from_nanos(n)),
        }
    }

    /// The child's full path from the root supervisor, `app/db/pool`.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.inner.path
    }

    /// The child's own name: the last segment of [`path`](Self::path).
    #[must_use]
    pub fn name(&self) -> &str {
        let p = &*self.inner.path;
        p.rsplit_once('/').map_or(p, |(_, name)| name)
    }

    /// Which run this is: 1 for the first start, 2 after the first restart,
    /// and so on.
    #[must_use]
    pub fn attempt(&self) -> u32 {
        self.inner.attempt
    }

    // --- supervisor side ---

    pub(crate) fn path_arc(&self) -> &Arc<str> {
        &self.inner.path
    }

    /// Asks the child to stop: sets the flag, then cancels the token.
    pub(crate) fn request_stop(&self) {
        self.inner.stop.store(true, Ordering::Release);
        self.inner.stopped.notify_waiters();
        if let Some(token) = self.inner.token.get() {
            token.cancel();
        }
    }

    /// The inbox the parent made for this run, a nested supervisor's
    /// (`with_inbox`), once.
    pub(crate) fn take_inbox(&self) -> Option<Inbox> {
        self.inner.inbox.as_ref()?.lock().take()
    }

    /// This new context, for a nested supervisor's run, with the inbox its
    /// parent made for it (the parent keeps the sender, to forward
    /// commands and to kill it).
    pub(crate) fn with_inbox(mut self, inbox: Inbox) -> Self {
        // Invariant: called on a context just made, which nothing shares.
        if let Some(inner) = Arc::get_mut(&mut self.inner) {
            inner.inbox = Some(Box::new(parking_lot::Mutex::new(Some(inbox))));
        }
        self
    }

    /// The tree and supervisors this context's child runs inside.
    pub(crate) fn scope(&self) -> Option<&Arc<Scope>> {
        self.inner.notify.as_ref().map(|n| &n.scope)
    }
}

impl std::fmt::Debug for Context {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Context")
            .field("path", &self.path())
            .field("attempt", &self.attempt())
            .field("is_cancelled", &self.is_cancelled())
            .field("is_ready", &self.is_ready())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn stop_request_reaches_flag_token_and_child_tokens() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let ctx = Context::new(
            "app/x".into(),
            3,
            tx,
            Scope::detached(),
            7,
            42,
            Instant::now(),
        );
        let child = ctx.token();
        assert!(!ctx.is_cancelled());
        ctx.request_stop();
        assert!(ctx.is_cancelled());
        ctx.cancelled().await;
        assert!(child.is_cancelled());
        assert!(
            ctx.token().is_cancelled(),
            "a token made after the stop is cancelled"
        );
        assert_eq!(ctx.attempt(), 3);
        assert_eq!(ctx.name(), "x");

        ctx.ready();
        ctx.ready();
        assert!(matches!(rx.try_recv(), Ok(Msg::Ready { slot: 7, run: 42 })));
        assert!(rx.try_recv().is_err(), "ready is sent once per run");
    }

    #[tokio::test]
    async fn a_childs_own_cancel_does_not_stop_the_context() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let ctx = Context::new(
            "app/x".into(),
            1,
            tx,
            Scope::detached(),
            0,
            0,
            Instant::now(),
        );
        ctx.token().cancel();
        assert!(!ctx.is_cancelled());
        assert!(!ctx.inner.token.get().unwrap().is_cancelled());
    }

    #[tokio::test(start_paused = true)]
    async fn heartbeat_records_the_time() {
        let ctx = Context::detached("a");
        assert_eq!(ctx.last_heartbeat(), None);
        tokio::time::advance(std::time::Duration::from_secs(2)).await;
        ctx.heartbeat();
        let at = ctx.last_heartbeat().unwrap();
        assert_eq!(at, Instant::now());
    }
}
