//! What a running child gets from its supervisor: [`Context`].
//!
//! A context belongs to one run of one child. A restart gets a fresh context
//! (new token, next attempt number). Cloning it is cheap (one `Arc`). It is
//! the child's view of the run; the supervisor's side is `link::RunLink`,
//! which says how the stop reaches a context without losing a wakeup.
//!
//! [`Context::is_cancelled`] is one atomic load; [`Context::ready`] sends at
//! most one message per run; a [`CancellationToken`] is made only if the
//! child asks for one ([`Context::token`]).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::link::Shared;

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
    inner: Arc<Shared>,
}

impl Context {
    /// The child's view of a run's shared record (see `link`).
    pub(crate) fn of(inner: Arc<Shared>) -> Self {
        Context { inner }
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
            inner: Arc::new(Shared::new(path.into(), 1, None, Instant::now())),
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
        // Pairs with the fence in `RunLink::request_stop`: of the token's
        // store and the flag's, at least one side sees the other's, so the
        // token ends cancelled whichever came first.
        std::sync::atomic::fence(Ordering::SeqCst);
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
                n.to.ready(n.slot, n.run);
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
        self.inner.last_heartbeat()
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
    use crate::link::RunLink;
    use crate::supervisor::protocol::Msg;
    use crate::supervisor::Scope;
    use tokio::sync::mpsc;

    #[tokio::test]
    async fn stop_request_reaches_flag_token_and_child_tokens() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let link = RunLink::new(
            "app/x".into(),
            3,
            Arc::new(tx),
            Scope::detached(),
            7,
            42,
            Instant::now(),
        );
        let ctx = link.context();
        let child = ctx.token();
        assert!(!ctx.is_cancelled());
        link.request_stop();
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
        let ctx = RunLink::new(
            "app/x".into(),
            1,
            Arc::new(tx),
            Scope::detached(),
            0,
            0,
            Instant::now(),
        )
        .context();
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
