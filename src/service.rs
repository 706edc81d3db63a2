//! The user's code: the [`Service`] trait and [`service_fn`].
//!
//! A service is an async `run` that works until its [`Context`] is
//! cancelled, then returns. Returning `Ok(())` means "done"; returning `Err`
//! or panicking means "failed". What happens next is the supervisor's
//! business, set by the child's [`ChildSpec`](crate::ChildSpec).
//!
//! `run` takes `&self`, so one service value serves every restart: keep
//! configuration in the struct and per-run state in locals of `run`.
//!
//! Users write a plain `async fn run`; the crate erases the service's type
//! once, in the spec (see `ErasedService`), and spawns each run's future into
//! its task as it is: no box per start, and around its polls only the
//! `catch_unwind` that tokio would otherwise do itself (`Report`).
//!
//! A run's task reports its own end to the supervisor, on the channel that
//! also carries `ready()` and commands: when it returns or panics, and, from
//! a drop guard, when it is aborted or dropped unfinished. No `JoinSet` (an
//! allocation and four lock operations per run) and no map from task ids to
//! children: the report names the child, and comes after every message the
//! run sent before it. A run that ended on its own leaves its task waiting
//! for the supervisor's word, which is the child's next run when the
//! restart is immediate: a restart then spawns no task (see `resume`).

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Poll, Waker};

use tokio::task::JoinHandle;

use crate::contain::Contained;
use crate::panic_hook::in_child;
use crate::resume::{NextRun, Parked, Resume};
use crate::Context;

/// The error type a service returns: any error, boxed.
///
/// `?` converts into it from every `std::error::Error + Send + Sync +
/// 'static`, from `anyhow::Error`, and from `String` / `&str`.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A long-running unit of work that a supervisor starts, watches and
/// restarts.
///
/// Implement it with a native `async fn`; no `#[async_trait]` is needed:
///
/// ```
/// use tokio_supervisor::{BoxError, Context, Service};
///
/// struct Ticker {
///     every: std::time::Duration,
/// }
///
/// impl Service for Ticker {
///     async fn run(&self, ctx: Context) -> Result<(), BoxError> {
///         let mut interval = tokio::time::interval(self.every);
///         loop {
///             tokio::select! {
///                 _ = ctx.cancelled() => return Ok(()),
///                 _ = interval.tick() => println!("{} tick", ctx.path()),
///             }
///         }
///     }
/// }
/// ```
///
/// `?` works on any standard error, and on `anyhow::Error`:
///
/// ```
/// use tokio_supervisor::{BoxError, Context, Service};
///
/// struct LoadConfig;
///
/// impl Service for LoadConfig {
///     async fn run(&self, _ctx: Context) -> Result<(), BoxError> {
///         let port: u16 = "8080".parse()?; // std::num::ParseIntError
///         let _text = std::fs::read_to_string("/nonexistent").or_else(|_| {
///             Err(anyhow::anyhow!("no config for port {port}")) // anyhow::Error
///         })?;
///         Ok(())
///     }
/// }
/// ```
///
/// The future must be `Send` (it runs on a multi-threaded runtime) and the
/// service `Send + Sync + 'static` (it is shared across restarts).
///
/// Each run is a fresh call of `run` with a fresh [`Context`]; the previous
/// run's future has been dropped by then. A run restarted at once (no
/// backoff, after an `Ok` or an `Err`) runs in the tokio task of the run
/// before it, which is cheaper than spawning one, so `tokio::task::id()`
/// can be the same for both; a run after a backoff or a panic, or after a
/// stop, gets a task of its own. Nothing else carries over.
///
/// The error a run returns may be kept by its supervisor, as it is, until
/// the child's next exit (or its removal): its text, with its sources, is
/// rendered when something shows it (a snapshot, a log line; at once if an
/// event subscriber listens), not at every restart. So an error should
/// carry a description, not a resource the next run needs (a lock guard,
/// a connection).
pub trait Service: Send + Sync + 'static {
    /// Runs the service until it is done, fails, or `ctx` is cancelled.
    ///
    /// Return `Ok(())` promptly once [`Context::cancelled`] completes: the
    /// supervisor waits for it up to the child's
    /// [`Shutdown`](crate::Shutdown) timeout, then aborts the task.
    fn run(&self, ctx: Context) -> impl Future<Output = Result<(), BoxError>> + Send;
}

/// A [`Service`] made from a closure; see [`service_fn`].
#[derive(Clone)]
pub struct ServiceFn<F> {
    f: F,
}

impl<F> std::fmt::Debug for ServiceFn<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceFn").finish_non_exhaustive()
    }
}

/// Makes a [`Service`] from a closure that returns a future, called once per
/// start.
///
/// ```
/// use tokio_supervisor::{service_fn, ChildSpec};
///
/// let spec = ChildSpec::new(
///     "heartbeat",
///     service_fn(|ctx| async move {
///         ctx.cancelled().await;
///         Ok(())
///     }),
/// );
/// ```
#[must_use]
pub fn service_fn<F, Fut>(f: F) -> ServiceFn<F>
where
    F: Fn(Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    ServiceFn { f }
}

impl<F, Fut> Service for ServiceFn<F>
where
    F: Fn(Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    fn run(&self, ctx: Context) -> impl Future<Output = Result<(), BoxError>> + Send {
        (self.f)(ctx)
    }
}

/// What a child's task reports as it ends: which run of which child ended,
/// and how. The task names itself, so the supervisor needs no map from task
/// ids to children.
#[derive(Debug)]
pub(crate) struct Exit {
    pub(crate) slot: usize,
    /// The run's id, truncated: a child has one run at a time, so its low
    /// 32 bits tell it from an earlier one.
    pub(crate) run: u32,
    pub(crate) outcome: Outcome,
    /// The run's task, waiting to be handed the child's next run (see
    /// `resume`); empty if it ends with this run.
    pub(crate) resume: Parked,
}

/// How a run ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// `run` returned (an error is dropped with its panics contained).
    Returned(Result<(), Contained<BoxError>>),
    /// `run` panicked (or its future's destructor did): the payload.
    Panicked(Contained<Box<dyn Any + Send>>),
    /// The task was aborted (or dropped unfinished, as a runtime shuts
    /// down).
    Aborted,
}

/// Sends a run's [`Exit`], exactly once: from `Report::poll` when the run
/// ends, or else as it is dropped. It holds a clone of the run's context,
/// which knows the supervisor's channel and the run's name in it.
struct EndGuard(Option<Context>);

impl EndGuard {
    /// The run ended on its own: reported. If `offer`, and unless its
    /// supervisor asked for the stop (then nothing restarts it at once),
    /// the task offers itself for the child's next run: the `Resume` to
    /// wait on is returned, armed to wake `waker` (the task's) with the
    /// loop's word.
    #[inline]
    fn send(&mut self, outcome: Outcome, offer: bool, waker: &Waker) -> Option<Arc<Resume>> {
        let ctx = self.0.take()?;
        if !offer || ctx.stop_requested() {
            ctx.report_end(outcome, Parked::none());
            return None;
        }
        let resume = ctx.resume();
        resume.arm(waker);
        ctx.report_end(outcome, Parked::new(resume.clone()));
        Some(resume)
    }
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        // Not sent yet: the run's future is being dropped unfinished. Its
        // field is declared before this one, so it is dropped first, and
        // this runs as it unwinds if its destructor panicked.
        if let Some(ctx) = self.0.take() {
            let outcome = if std::thread::panicking() {
                Outcome::Panicked(Contained::new(Box::new(
                    "the run's future panicked as it was dropped",
                )))
            } else {
                Outcome::Aborted
            };
            ctx.report_end(outcome, Parked::none());
        }
    }
}

/// A task waiting for the supervisor's word; dropped while it waits (its
/// runtime shutting down), it can be handed nothing more, and a run handed
/// to it meanwhile is reported as aborted (`Resume::abandon`).
struct Waiting(Option<Arc<Resume>>);

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(resume) = &self.0 {
            resume.abandon();
        }
    }
}

pin_project_lite::pin_project! {
    #[project = StageProj]
    #[project_replace = StageReplace]
    enum Stage<F, K> {
        Running { #[pin] run: F },
        // `keep`: what the run gave back to make the next one with.
        Waiting { waiting: Waiting, keep: K },
        Done,
    }
}

pin_project_lite::pin_project! {
    /// A child's future, run to its end and reported as an [`Exit`]. A
    /// panic is caught here, per poll, as tokio itself does, so that it too
    /// comes back with the child's slot; on the normal path `catch_unwind`
    /// costs nothing. The future is dropped before its end is reported, as
    /// tokio does before it completes a task: whatever it holds (a bound
    /// port, a file lock) is released before the next run starts. Then,
    /// if the task offered itself for the child's next run, it waits here
    /// for the supervisor's word (see `resume`), in the room the future
    /// had. A struct rather than an `async fn`, whose state would hold the
    /// future twice.
    struct Report<F, K> {
        #[pin]
        stage: Stage<F, K>,
        // After `stage`: dropped after it.
        end: EndGuard,
    }
}

impl<F, K> Report<F, K> {
    /// `run`, whose end is reported on `ctx`.
    fn new(run: F, ctx: Context) -> Self {
        Report {
            stage: Stage::Running { run },
            end: EndGuard(Some(ctx)),
        }
    }
}

/// A run's future gives back, with its result, what the next run of the
/// child is made with (`K`: the service; see [`Runs`]).
type Ran<K> = (Result<(), BoxError>, K);

impl<F: Future<Output = Ran<K>>, K> Future for Report<F, K> {
    /// The child's next run, handed to this task, the task's `Resume`, and
    /// what the run gave back.
    type Output = Option<(NextRun, Arc<Resume>, K)>;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        if let StageProj::Running { run } = this.stage.as_mut().project() {
            // Inside `in_child`: a panic hook can tell the child's panics
            // from others (`quiet_child_panics`).
            let polled = in_child(|| catch_unwind(AssertUnwindSafe(|| run.poll(cx))));
            let (outcome, keep) = match polled {
                Ok(Poll::Pending) => return Poll::Pending,
                Ok(Poll::Ready((r, keep))) => {
                    (Outcome::Returned(r.map_err(Contained::new)), Some(keep))
                }
                Err(payload) => (Outcome::Panicked(Contained::new(payload)), None),
            };
            // Dropped here, in the guard too: a destructor that panics is
            // how the run ended.
            let dropped =
                in_child(|| catch_unwind(AssertUnwindSafe(|| this.stage.set(Stage::Done))));
            let outcome = match dropped {
                Ok(()) => outcome,
                Err(payload) => Outcome::Panicked(Contained::new(payload)),
            };
            // A run that panicked gave nothing back: its task ends.
            let resume = this.end.send(outcome, keep.is_some(), cx.waker());
            let (Some(resume), Some(keep)) = (resume, keep) else {
                return Poll::Ready(None);
            };
            this.stage.set(Stage::Waiting {
                waiting: Waiting(Some(resume)),
                keep,
            });
            // Armed with this task's waker: the word, even one given
            // already from another thread, wakes it.
            return Poll::Pending;
        }
        let StageProj::Waiting { waiting, .. } = this.stage.as_mut().project() else {
            return Poll::Ready(None); // polled again after its end
        };
        let next = match waiting.0.as_ref().map(|resume| resume.poll_next(cx)) {
            Some(Poll::Pending) => return Poll::Pending,
            Some(Poll::Ready(next)) => next,
            None => None,
        };
        match this.stage.project_replace(Stage::Done) {
            // Taken out of its guard: the task goes on, and has abandoned
            // nothing.
            StageReplace::Waiting { mut waiting, keep } => {
                Poll::Ready(next.zip(waiting.0.take()).map(|(n, r)| (n, r, keep)))
            }
            _ => Poll::Ready(None),
        }
    }
}

/// Object-safe form of [`Service`]. It spawns the run itself, so that the
/// task stores the concrete future inline: a `Box<dyn Future>` would cost
/// one more allocation and free on every start and restart.
pub(crate) trait ErasedService: Send + Sync + 'static {
    /// Spawns a run of the child, inside `span` when a subscriber wants it;
    /// its end is reported on `ctx`'s supervisor channel.
    fn spawn(self: Arc<Self>, ctx: Context, span: Option<tracing::Span>) -> JoinHandle<()>;
}

impl<S: Service> ErasedService for S {
    fn spawn(self: Arc<Self>, ctx: Context, span: Option<tracing::Span>) -> JoinHandle<()> {
        match span {
            None => tokio::spawn(Runs::new(self, ctx, NoSpan, run_of::<S>)),
            Some(span) => {
                // Made now, not at the first offer, to say that this task
                // takes runs with a span (tracing is on: spans allocate).
                ctx.keep_resume(Resume::new(true));
                tokio::spawn(Runs::new(self, ctx, span, run_of::<S>))
            }
        }
    }
}

/// The future of one run of `service`. It owns the service while it runs
/// and gives it back as it returns, for the task to make the next run
/// with (see [`Runs`]).
// An `async` block, not an `async fn`: the same future, but the `async fn`
// made the task's allocation a size class larger (1 011 bytes an idle child
// against 883, `tests/soak.rs`).
#[allow(clippy::manual_async_fn)]
fn run_of<S: Service>(service: Arc<S>, ctx: Context) -> impl Future<Output = Ran<Arc<S>>> + Send {
    async move {
        let r = service.run(ctx).await;
        (r, service)
    }
}

/// The span a run's task enters around each poll of the run: none (no
/// subscriber wanted one when the task was spawned), or the run's.
trait RunSpan {
    /// The next run's span (a task is handed runs with a span only if it
    /// has one, and without only if not: `Parked::hand`).
    fn replace(&mut self, span: Option<tracing::Span>);
    fn enter(&self) -> Option<tracing::span::Entered<'_>>;
}

/// No span: the task holds none (see [`Runs`]).
struct NoSpan;

impl RunSpan for NoSpan {
    #[inline]
    fn replace(&mut self, _: Option<tracing::Span>) {}
    #[inline]
    fn enter(&self) -> Option<tracing::span::Entered<'_>> {
        None
    }
}

impl RunSpan for tracing::Span {
    #[inline]
    fn replace(&mut self, span: Option<tracing::Span>) {
        if let Some(span) = span {
            *self = span;
        }
    }
    #[inline]
    fn enter(&self) -> Option<tracing::span::Entered<'_>> {
        Some(tracing::Span::enter(self))
    }
}

pin_project_lite::pin_project! {
    /// A run's task: the run, then, as long as the supervisor hands it one,
    /// the child's next run (see `resume`), in place of the last. A struct
    /// rather than an `async fn`: the task's size decides the size class
    /// of its allocation, and an idle child's task must stay as small as
    /// one that runs the future alone. So it holds the run's `Report` and
    /// a span only if it has one: the service is in the run's future while
    /// it runs, and in the `Report` while the task waits; its `Resume` is
    /// kept in the run's context; `make` is a function item.
    struct Runs<S, F, M, T> {
        #[pin]
        report: Report<F, Arc<S>>,
        make: M,
        span: T,
    }
}

impl<S, F, M, T> Runs<S, F, M, T>
where
    M: Fn(Arc<S>, Context) -> F,
{
    fn new(service: Arc<S>, ctx: Context, span: T, make: M) -> Self {
        let run = make(service, ctx.clone());
        Runs {
            report: Report::new(run, ctx),
            make,
            span,
        }
    }
}

impl<S, F, M, T> Future for Runs<S, F, M, T>
where
    F: Future<Output = Ran<Arc<S>>>,
    M: Fn(Arc<S>, Context) -> F,
    T: RunSpan,
{
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let mut this = self.project();
        loop {
            let next = {
                let _entered = this.span.enter();
                std::task::ready!(this.report.as_mut().poll(cx))
            };
            let Some(((ctx, span), resume, service)) = next else {
                return Poll::Ready(());
            };
            ctx.keep_resume(resume);
            this.span.replace(span);
            let run = (this.make)(service, ctx.clone());
            this.report.set(Report::new(run, ctx));
        }
    }
}

/// Renders an error and its chain of sources as `outer: inner: root` into
/// `out` (cleared first): the supervisor reuses one buffer, so a failure
/// costs no allocation but the message's own.
pub(crate) fn write_error_chain(err: &(dyn std::error::Error + 'static), out: &mut String) {
    use std::fmt::Write;
    out.clear();
    let _ = write!(out, "{err}");
    let mut source = err.source();
    // A chain that loops back on itself ends here.
    let mut depth = 0;
    while let Some(s) = source {
        depth += 1;
        if depth > 32 {
            out.push_str(": ...");
            break;
        }
        let mark = out.len();
        let _ = write!(out, ": {s}");
        // anyhow and others often repeat the source in Display: skip echoes.
        if out[..mark].ends_with(&out[mark + 2..]) {
            out.truncate(mark);
        }
        source = s.source();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    use std::sync::atomic::{AtomicBool, Ordering};

    use tokio::sync::mpsc;

    use crate::supervisor::runner::Msg;
    use crate::supervisor::Scope;

    /// A hand-written future that holds `held` until it is dropped, and
    /// ends at its first poll (with `Err`, or a panic).
    struct Holding {
        held: Arc<AtomicBool>,
        panics: bool,
    }

    impl Future for Holding {
        type Output = Ran<()>;
        fn poll(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<Self::Output> {
            assert!(!self.panics, "boom");
            Poll::Ready((Err("failed".into()), ()))
        }
    }

    impl Drop for Holding {
        fn drop(&mut self) {
            self.held.store(false, Ordering::SeqCst);
        }
    }

    /// The context of run 9 of the child in slot 3, and its supervisor's
    /// end of the channel.
    fn run_context() -> (Context, mpsc::UnboundedReceiver<Msg>) {
        context(1, 9)
    }

    /// The context of run `run` (attempt `attempt`) of the child in slot 3.
    fn context(attempt: u32, run: u64) -> (Context, mpsc::UnboundedReceiver<Msg>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let ctx = Context::new(
            "sup/c".into(),
            attempt,
            tx,
            Scope::detached(),
            3,
            run,
            tokio::time::Instant::now(),
        );
        (ctx, rx)
    }

    fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    }

    /// A report whose run has ended on its own, its task waiting for the
    /// next run: the end it sent.
    fn ended(report: Pin<&mut Report<Holding, ()>>, rx: &mut mpsc::UnboundedReceiver<Msg>) -> Exit {
        assert!(poll_once(report).is_pending(), "waits for the next run");
        let e = exit(rx);
        assert!(e.resume.is_waiting(), "offered for the next run");
        e
    }

    fn report(
        held: &Arc<AtomicBool>,
        panics: bool,
    ) -> (Report<Holding, ()>, mpsc::UnboundedReceiver<Msg>) {
        let (ctx, rx) = run_context();
        held.store(true, Ordering::SeqCst);
        let run = Holding {
            held: held.clone(),
            panics,
        };
        (Report::new(run, ctx), rx)
    }

    fn exit(rx: &mut mpsc::UnboundedReceiver<Msg>) -> Exit {
        match rx.try_recv() {
            Ok(Msg::Exit(e)) => e,
            other => panic!("expected one exit, got {other:?}"),
        }
    }

    /// The run's future is dropped before its end is reported: what it held
    /// is free by the time the supervisor can start the next run.
    #[tokio::test]
    async fn a_run_is_dropped_before_its_end_is_reported() {
        for panics in [false, true] {
            let held = Arc::new(AtomicBool::new(false));
            let (report, mut rx) = report(&held, panics);
            let mut report = std::pin::pin!(report);
            let e = if panics {
                // A run that panicked gives nothing back to make the next
                // one with: its task ends.
                assert!(matches!(poll_once(report.as_mut()), Poll::Ready(None)));
                let e = exit(&mut rx);
                assert!(!e.resume.is_waiting());
                e
            } else {
                ended(report.as_mut(), &mut rx)
            };
            assert!(
                !held.load(Ordering::SeqCst),
                "still held as the end was sent"
            );
            assert_eq!((e.slot, e.run), (3, 9));
            match (panics, e.outcome) {
                (false, Outcome::Returned(Err(err))) => assert_eq!(err.to_string(), "failed"),
                (true, Outcome::Panicked(_)) => {}
                (_, other) => panic!("{other:?}"),
            }
            assert!(rx.try_recv().is_err(), "reported once");
        }
    }

    /// A run that ended on its own leaves its task waiting for the child's
    /// next run; let go (the end's `Parked` dropped unhanded), it ends.
    #[test]
    fn an_ended_run_waits_for_the_next_until_let_go() {
        let held = Arc::new(AtomicBool::new(false));
        let (report, mut rx) = report(&held, false);
        let mut report = std::pin::pin!(report);
        let e = ended(report.as_mut(), &mut rx);
        assert!(poll_once(report.as_mut()).is_pending(), "still waits");
        drop(e);
        assert!(matches!(poll_once(report.as_mut()), Poll::Ready(None)));
        assert!(rx.try_recv().is_err(), "reported once");
    }

    /// Handed the next run, the waiting task takes it: its context and
    /// its span, with the task's `Resume` for the run after.
    #[test]
    fn a_waiting_task_takes_the_next_run() {
        let held = Arc::new(AtomicBool::new(false));
        let (report, mut rx) = report(&held, false);
        let mut report = std::pin::pin!(report);
        let e = ended(report.as_mut(), &mut rx);
        let (next, _rx) = context(2, 10);
        e.resume.hand((next, None)).unwrap();
        match poll_once(report.as_mut()) {
            Poll::Ready(Some(((ctx, span), _resume, ()))) => {
                assert_eq!(ctx.attempt(), 2);
                assert!(span.is_none());
            }
            other => panic!("expected the next run, got {:?}", other.is_ready()),
        }
    }

    /// A run handed to a task that is dropped before it takes it (its
    /// runtime shutting down) still reports its end, as aborted; a task
    /// already gone gives the run back, to be spawned afresh.
    #[test]
    fn a_run_handed_to_a_dropped_task_is_reported_aborted() {
        let held = Arc::new(AtomicBool::new(false));
        let (report, mut rx) = report(&held, false);
        let mut report = Box::pin(report);
        let parked = ended(report.as_mut(), &mut rx).resume;
        let (next, mut next_rx) = context(2, 10);
        parked.hand((next, None)).unwrap();
        drop(report);
        let e = exit(&mut next_rx);
        assert!(matches!(e.outcome, Outcome::Aborted));
        assert_eq!((e.slot, e.run), (3, 10));
        assert!(!e.resume.is_waiting());
        assert!(next_rx.try_recv().is_err(), "reported once");

        let (report, mut rx) = self::report(&held, false);
        let mut report = Box::pin(report);
        let parked = ended(report.as_mut(), &mut rx).resume;
        drop(report);
        let (next, mut next_rx) = context(2, 10);
        assert!(parked.hand((next, None)).is_err(), "given back");
        assert!(next_rx.try_recv().is_err(), "nothing reported for it");
    }

    /// A run its supervisor stopped reports its end without an offer: its
    /// task ends (nothing restarts it at once).
    #[test]
    fn a_run_stopped_by_its_supervisor_does_not_wait() {
        let held = Arc::new(AtomicBool::new(false));
        let (report, mut rx) = report(&held, false);
        report.end.0.as_ref().unwrap().request_stop();
        let mut report = std::pin::pin!(report);
        assert!(matches!(poll_once(report.as_mut()), Poll::Ready(None)));
        assert!(!exit(&mut rx).resume.is_waiting());
    }

    /// A run dropped unfinished (aborted, or its runtime shut down) reports
    /// `Aborted`, once its future is gone.
    #[test]
    fn a_run_dropped_unfinished_reports_aborted() {
        let held = Arc::new(AtomicBool::new(false));
        let (report, mut rx) = report(&held, false);
        assert!(rx.try_recv().is_err(), "nothing before the end");
        drop(report);
        assert!(!held.load(Ordering::SeqCst));
        assert!(matches!(exit(&mut rx).outcome, Outcome::Aborted));
        assert!(rx.try_recv().is_err(), "reported once");
    }

    fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
        let mut out = "left over".to_owned();
        write_error_chain(err, &mut out);
        out
    }

    /// A future whose destructor panics as it is dropped unfinished (an
    /// abort) is reported as a panic of the run, still exactly once.
    #[test]
    fn a_panic_while_dropped_unfinished_is_reported_as_a_panic() {
        struct PanicsOnDrop;
        impl Future for PanicsOnDrop {
            type Output = Ran<()>;
            fn poll(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<Self::Output> {
                Poll::Pending
            }
        }
        impl Drop for PanicsOnDrop {
            fn drop(&mut self) {
                panic!("destructor");
            }
        }
        let (ctx, mut rx) = run_context();
        let report: Report<_, ()> = Report::new(PanicsOnDrop, ctx);
        let dropped = catch_unwind(AssertUnwindSafe(|| drop(report)));
        assert!(dropped.is_err(), "the destructor's panic goes on to tokio");
        assert!(matches!(exit(&mut rx).outcome, Outcome::Panicked(_)));
        assert!(rx.try_recv().is_err(), "reported once");
    }

    #[test]
    fn chain_joins_sources() {
        let e = Outer(std::io::Error::other("disk gone"));
        assert_eq!(error_chain(&e), "outer: disk gone");
        let e: BoxError = "plain".into();
        assert_eq!(error_chain(&*e), "plain");
    }

    #[test]
    fn chain_of_anyhow_context() {
        let e: BoxError = anyhow::anyhow!("root cause").context("connecting").into();
        assert_eq!(error_chain(&*e), "connecting: root cause");
    }
}
