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
//! * A stop hand-off (`hand_off_to`) fires only from a run the ordered stop
//!   reached (`arm_hand_off`), and only after the run's end was sent: the
//!   supervisor always sees this run's end before the next one's.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::resume::Resume;
use crate::supervisor::runner::Msg;
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
    /// The run an ordered stop stops after this one (see `hand_off_to`).
    hand_off: parking_lot::Mutex<Option<Context>>,
    /// This run was stopped by an ordered stop: its end stops `hand_off`.
    armed: AtomicBool,
    /// Where this run's task waits for the child's next run once this one
    /// has ended (see `resume`): the task's own, kept here so that the
    /// task itself need not hold it (an idle child's task stays small).
    resume: OnceLock<Arc<Resume>>,
}

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
            hand_off: parking_lot::Mutex::new(None),
            armed: AtomicBool::new(false),
            resume: OnceLock::new(),
        }
    }

    /// Makes this the fresh state of a new run (as [`Inner::new`]), in
    /// place: the path and channel it had are kept (a restart of the same
    /// child touches no reference count for them), and its task's `Resume`
    /// if `same_task`. Every field is named, so a field added later has to
    /// be decided on here.
    fn reset(&mut self, path: &Arc<str>, attempt: u32, born: Instant, same_task: bool) {
        let Inner {
            path: old_path,
            attempt: old_attempt,
            token,
            stop,
            stopped,
            ready,
            heartbeat,
            born: old_born,
            notify: _,
            hand_off,
            armed,
            resume,
        } = self;
        if !Arc::ptr_eq(old_path, path) {
            *old_path = path.clone();
        }
        *old_attempt = attempt;
        *old_born = born;
        *token = OnceLock::new();
        *stop.get_mut() = false;
        *stopped = Notify::new();
        *ready.get_mut() = false;
        *heartbeat.get_mut() = 0;
        *hand_off.get_mut() = None;
        *armed.get_mut() = false;
        if !same_task {
            *resume = OnceLock::new();
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

    /// The context of a new run of a child of the same supervisor, made in
    /// this one's allocation when nothing holds it any more (the ended
    /// run's task has dropped its clones, and the service kept none): a
    /// restart then allocates no context, and keeps the channel and tree it
    /// had. `None` when it is still shared (or detached).
    ///
    /// `task`: the `Resume` of the task the new run is handed to, if it is
    /// handed to a waiting one. When that is the task of the run that had
    /// this context (an immediate restart), its `Resume` stays, and the
    /// task's `keep_resume` finds it in place instead of setting it again.
    #[inline]
    pub(crate) fn renew(
        mut self,
        path: &Arc<str>,
        attempt: u32,
        slot: usize,
        run: u64,
        born: Instant,
        task: Option<&Arc<Resume>>,
    ) -> Option<Self> {
        let inner = Arc::get_mut(&mut self.inner)?;
        let notifier = inner.notify.as_mut()?;
        notifier.slot = slot;
        notifier.run = run;
        let same_task = inner
            .resume
            .get()
            .zip(task)
            .is_some_and(|(had, next)| Arc::ptr_eq(had, next));
        inner.reset(path, attempt, born, same_task);
        Some(self)
    }

    /// Tells the supervisor that this run ended, and how: the last thing a
    /// run's task does (see `service::Report`).
    /// `resume`: the run's task, waiting for the child's next run, if any
    /// (dropped unsent, it lets the task go).
    #[inline]
    pub(crate) fn report_end(
        self,
        outcome: crate::service::Outcome,
        resume: crate::resume::Parked,
    ) {
        if let Some(n) = &self.inner.notify {
            // The supervisor gone (a runtime shutting down): nobody to tell.
            let _ = n.tx.send(Msg::Exit(crate::service::Exit {
                slot: n.slot,
                // A child has one run at a time: the low bits tell runs apart.
                run: n.run as u32,
                outcome,
                resume,
            }));
        }
        // After the end is sent, so that the supervisor sees this end first.
        if self.inner.armed.load(Ordering::Acquire) {
            let next = self.inner.hand_off.lock().take();
            if let Some(next) = next {
                next.arm_hand_off();
                next.request_stop();
            }
        }
    }

    /// Names the run that an ordered stop stops right after this one: when
    /// this run ends, having been stopped by that ordered stop
    /// ([`arm_hand_off`](Self::arm_hand_off)), its own task asks `next` to
    /// stop, without waiting for the supervisor's loop to be scheduled. The
    /// loop still takes each step itself (the kill deadline, the phase) and
    /// is the only authority: the hand-off only makes the request earlier.
    pub(crate) fn hand_off_to(&self, next: Context) {
        *self.inner.hand_off.lock() = Some(next);
    }

    /// This run is being stopped by an ordered stop: its end hands off.
    pub(crate) fn arm_hand_off(&self) {
        self.inner.armed.store(true, Ordering::Release);
    }

    /// Whether an ordered stop reached this run (see `hand_off_to`).
    #[inline]
    pub(crate) fn handed_off(&self) -> bool {
        self.inner.armed.load(Ordering::Acquire)
    }

    /// The `Resume` of this run's task: the one it was handed with the run
    /// (`keep_resume`), or else a new one, for a task whose runs have no
    /// span.
    #[inline]
    pub(crate) fn resume(&self) -> Arc<Resume> {
        self.inner.resume.get_or_init(|| Resume::new(false)).clone()
    }

    /// Keeps the `Resume` of the task this run runs in (see `resume`); a
    /// context renewed for the same task has it already (see `renew`).
    #[inline]
    pub(crate) fn keep_resume(&self, resume: Arc<Resume>) {
        let _ = self.inner.resume.set(resume);
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

    #[inline]
    pub(crate) fn stop_requested(&self) -> bool {
        self.inner.stop.load(Ordering::Acquire)
    }

    /// Gives the parent supervisor a nested supervisor's command channel.
    pub(crate) fn register_nested(&self, nested: mpsc::UnboundedSender<Msg>) {
        if let Some(n) = &self.inner.notify {
            let _ = n.tx.send(Msg::Nested {
                slot: n.slot,
                run: n.run,
                tx: nested,
            });
        }
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
    async fn renew_reuses_an_unshared_context_and_starts_it_afresh() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let old = Context::new(
            "app/x".into(),
            1,
            tx,
            Scope::detached(),
            7,
            1,
            Instant::now(),
        );
        let _token = old.token();
        old.request_stop();
        old.heartbeat();
        let at = Arc::as_ptr(&old.inner);
        let new = old
            .renew(&"app/y".into(), 2, 8, 2, Instant::now(), None)
            .expect("unshared");
        assert_eq!(Arc::as_ptr(&new.inner), at, "same allocation");
        assert_eq!((new.path(), new.attempt()), ("app/y", 2));
        assert!(!new.is_cancelled(), "a fresh stop flag");
        assert!(new.last_heartbeat().is_none(), "no heartbeat yet");
        assert!(!new.token().is_cancelled(), "a fresh token");
        // It reports to the same supervisor, under its new slot and run.
        new.clone().report_end(
            crate::service::Outcome::Aborted,
            crate::resume::Parked::none(),
        );
        match rx.try_recv() {
            Ok(Msg::Exit(e)) => assert_eq!((e.slot, e.run), (8, 2)),
            other => panic!("{other:?}"),
        }

        // Still held elsewhere (a service kept a clone): not renewed, and
        // the old context is left as it was.
        let kept = new.clone();
        assert!(new
            .renew(&"app/z".into(), 3, 9, 3, Instant::now(), None)
            .is_none());
        assert_eq!(kept.path(), "app/y");
    }

    /// A restart of the same child keeps the path it had (the same
    /// allocation); another child's path replaces it.
    #[tokio::test]
    async fn renew_keeps_the_same_childs_path() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let path: Arc<str> = "app/x".into();
        let ctx = Context::new(path.clone(), 1, tx, Scope::detached(), 7, 1, Instant::now());
        let ctx = ctx
            .renew(&path, 2, 7, 2, Instant::now(), None)
            .expect("unshared");
        assert!(Arc::ptr_eq(ctx.path_arc(), &path), "the same allocation");
        let other: Arc<str> = "app/x".into();
        let ctx = ctx
            .renew(&other, 3, 7, 3, Instant::now(), None)
            .expect("unshared");
        assert!(Arc::ptr_eq(ctx.path_arc(), &other), "the path it was given");
        assert_eq!((ctx.path(), ctx.attempt()), ("app/x", 3));
    }

    #[tokio::test]
    async fn a_hand_off_fires_only_from_an_armed_run_and_after_its_end_is_sent() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let ctx = |slot| {
            Context::new(
                "app/x".into(),
                1,
                tx.clone(),
                Scope::detached(),
                slot,
                1,
                Instant::now(),
            )
        };
        let (a, b, c) = (ctx(0), ctx(1), ctx(2));
        a.hand_off_to(b.clone());
        b.hand_off_to(c.clone());

        // Not armed (it ended on its own, or a command stopped it): its end
        // hands nothing off.
        a.clone().report_end(
            crate::service::Outcome::Aborted,
            crate::resume::Parked::none(),
        );
        assert!(!b.is_cancelled() && !b.handed_off());

        // Armed by the ordered stop: its end, once sent, stops the next one
        // and arms it in turn.
        let a2 = ctx(0);
        a2.hand_off_to(b.clone());
        a2.arm_hand_off();
        a2.report_end(
            crate::service::Outcome::Aborted,
            crate::resume::Parked::none(),
        );
        assert!(b.is_cancelled() && b.handed_off());
        assert!(!c.is_cancelled(), "one step at a time");
        b.report_end(
            crate::service::Outcome::Aborted,
            crate::resume::Parked::none(),
        );
        assert!(c.is_cancelled() && c.handed_off());

        // The supervisor saw every end in the order they happened.
        let slots: Vec<usize> = std::iter::from_fn(|| match rx.try_recv() {
            Ok(Msg::Exit(e)) => Some(e.slot),
            _ => None,
        })
        .collect();
        assert_eq!(slots, [0, 0, 1]);
    }

    #[tokio::test]
    async fn renew_keeps_the_resume_only_for_the_same_task() {
        let (tx, _rx) = mpsc::unbounded_channel();
        let renew = |ctx: Context, task: Option<&Arc<Resume>>| {
            ctx.renew(&"app/x".into(), 2, 7, 2, Instant::now(), task)
                .expect("unshared")
        };
        let ctx = Context::new(
            "app/x".into(),
            1,
            tx,
            Scope::detached(),
            7,
            1,
            Instant::now(),
        );
        let task = ctx.resume();

        // Handed back to the task whose run had it: the same `Resume`.
        let ctx = renew(ctx, Some(&task));
        assert!(Arc::ptr_eq(&ctx.resume(), &task), "kept for its task");

        // Handed to another task: not the old one's.
        let other = Resume::new(false);
        let ctx = renew(ctx, Some(&other));
        assert!(!Arc::ptr_eq(&ctx.resume(), &task));
        assert!(
            !Arc::ptr_eq(&ctx.resume(), &other),
            "set by its task, not here"
        );

        // A fresh spawn: none of the old one's either.
        let had = ctx.resume();
        let ctx = renew(ctx, None);
        assert!(!Arc::ptr_eq(&ctx.resume(), &had));
    }

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
