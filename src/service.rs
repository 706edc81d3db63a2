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
//! run sent before it.

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use tokio::task::JoinHandle;

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
}

/// How a run ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// `run` returned.
    Returned(Result<(), BoxError>),
    /// `run` panicked (or its future's destructor did): the payload.
    Panicked(Box<dyn Any + Send>),
    /// The task was aborted (or dropped unfinished, as a runtime shuts
    /// down).
    Aborted,
}

/// Sends a run's [`Exit`], exactly once: from `Report::poll` when the run
/// ends, or else as it is dropped. It holds a clone of the run's context,
/// which knows the supervisor's channel and the run's name in it.
struct EndGuard(Option<Context>);

impl EndGuard {
    fn send(&mut self, outcome: Outcome) {
        if let Some(ctx) = self.0.take() {
            ctx.report_end(outcome);
        }
    }
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        // Not sent yet: the run's future is being dropped unfinished. Its
        // field is declared before this one, so it is dropped first, and
        // this runs as it unwinds if its destructor panicked.
        let outcome = if std::thread::panicking() {
            Outcome::Panicked(Box::new("the run's future panicked as it was dropped"))
        } else {
            Outcome::Aborted
        };
        self.send(outcome);
    }
}

pin_project_lite::pin_project! {
    /// A child's future, run to its end and reported as an [`Exit`]. A
    /// panic is caught here, per poll, as tokio itself does, so that it too
    /// comes back with the child's slot; on the normal path `catch_unwind`
    /// costs nothing. The future is dropped before its end is reported, as
    /// tokio does before it completes a task: whatever it holds (a bound
    /// port, a file lock) is released before the next run starts. A struct
    /// rather than an `async fn`, whose state would hold the future twice.
    struct Report<F> {
        #[pin]
        run: Option<F>,
        // After `run`: dropped after it.
        end: EndGuard,
    }
}

impl<F: Future<Output = Result<(), BoxError>>> Future for Report<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let Some(run) = this.run.as_mut().as_pin_mut() else {
            return Poll::Ready(()); // polled again after its end
        };
        let outcome = match catch_unwind(AssertUnwindSafe(|| run.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(r)) => Outcome::Returned(r),
            Err(payload) => Outcome::Panicked(payload),
        };
        // Dropped here, in the guard too: a destructor that panics is how
        // the run ended.
        let outcome = match catch_unwind(AssertUnwindSafe(|| this.run.set(None))) {
            Ok(()) => outcome,
            Err(payload) => Outcome::Panicked(payload),
        };
        this.end.send(outcome);
        Poll::Ready(())
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
        let end = EndGuard(Some(ctx.clone()));
        let run = Report {
            run: Some(async move { self.run(ctx).await }),
            end,
        };
        match span {
            None => tokio::spawn(run),
            Some(span) => tokio::spawn(tracing::Instrument::instrument(run, span)),
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
    while let Some(s) = source {
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
    use crate::supervisor::Tree;

    /// A hand-written future that holds `held` until it is dropped, and
    /// ends at its first poll (with `Err`, or a panic).
    struct Holding {
        held: Arc<AtomicBool>,
        panics: bool,
    }

    impl Future for Holding {
        type Output = Result<(), BoxError>;
        fn poll(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> Poll<Self::Output> {
            assert!(!self.panics, "boom");
            Poll::Ready(Err("failed".into()))
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
        let (tx, rx) = mpsc::unbounded_channel();
        let ctx = Context::new(
            "sup/c".into(),
            1,
            tx,
            Tree::new(),
            3,
            9,
            tokio::time::Instant::now(),
        );
        (ctx, rx)
    }

    fn report(
        held: &Arc<AtomicBool>,
        panics: bool,
    ) -> (Report<Holding>, mpsc::UnboundedReceiver<Msg>) {
        let (ctx, rx) = run_context();
        held.store(true, Ordering::SeqCst);
        let run = Holding {
            held: held.clone(),
            panics,
        };
        (
            Report {
                run: Some(run),
                end: EndGuard(Some(ctx)),
            },
            rx,
        )
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
            std::future::poll_fn(|cx| report.as_mut().poll(cx)).await;
            let e = exit(&mut rx);
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
            type Output = Result<(), BoxError>;
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
        let report = Report {
            run: Some(PanicsOnDrop),
            end: EndGuard(Some(ctx)),
        };
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
