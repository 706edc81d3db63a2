//! A run: one tokio task per run of a child, spawned bare, whose end is
//! reported to its supervisor exactly once.
//!
//! The task polls the service's future inside `catch_unwind` (what tokio
//! would otherwise do itself, so that the panic comes back with the
//! child's name) and nothing else. When the future returns or panics, it
//! is dropped first, so that whatever it held (a bound port, a file lock)
//! is free before the supervisor can start the next run; then the end is
//! sent, on the channel that also carries the run's `ready()` and the
//! handles' commands, so that it comes after every message the run sent
//! before it. A run aborted, or dropped unfinished as its runtime shuts
//! down, reports `Aborted` from a drop guard. No `JoinSet` and no map from
//! task ids to children: the report names the child.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use tokio::task::JoinHandle;
use tracing::Instrument;

use crate::contain::Contained;
use crate::link::{Outcome, RunLink};
use crate::panic_hook::in_child;
use crate::service::{BoxError, Service};

/// Object-safe form of [`Service`]: it spawns the run itself, so that the
/// task holds the concrete future inline, with no box per run.
pub(crate) trait ErasedService: Send + Sync + 'static {
    /// Spawns a run of the child, inside `span` when a subscriber wants it;
    /// its end is reported on `link`.
    fn spawn(self: Arc<Self>, link: RunLink, span: Option<tracing::Span>) -> JoinHandle<()>;
}

impl<S: Service> ErasedService for S {
    fn spawn(self: Arc<Self>, link: RunLink, span: Option<tracing::Span>) -> JoinHandle<()> {
        let ctx = link.context();
        spawn_run(async move { self.run(ctx).await }, link, span)
    }
}

/// Spawns `run`, reported on `link`, inside `span` if any.
pub(crate) fn spawn_run<F>(run: F, link: RunLink, span: Option<tracing::Span>) -> JoinHandle<()>
where
    F: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    let name = link.path().clone();
    let report = Report::new(run, link);
    match span {
        None => spawn_named(report, &name),
        Some(span) => spawn_named(report.instrument(span), &name),
    }
}

/// Spawns a run's task; built with `--cfg tokio_unstable`, the task is
/// named by the child's path, which tokio-console shows.
fn spawn_named<F>(future: F, _name: &str) -> JoinHandle<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    #[cfg(tokio_unstable)]
    {
        // Invariant: tokio's `Builder::spawn` of a future cannot fail (its
        // `io::Result` is for the blocking pool's threads).
        match tokio::task::Builder::new().name(_name).spawn(future) {
            Ok(handle) => handle,
            Err(e) => unreachable!("spawning a task failed: {e}"),
        }
    }
    #[cfg(not(tokio_unstable))]
    {
        tokio::spawn(future)
    }
}

/// Sends a run's [`Exit`], exactly once: from [`Report::poll`] when the run
/// ends, or else as it is dropped.
struct EndGuard(Option<RunLink>);

impl EndGuard {
    fn send(&mut self, outcome: Outcome) {
        if let Some(link) = self.0.take() {
            link.report_end(outcome);
        }
    }
}

impl Drop for EndGuard {
    fn drop(&mut self) {
        // Not sent yet: the run's future is being dropped unfinished. Its
        // field is declared before this one, so it is dropped first, and
        // this runs as it unwinds if its destructor panicked.
        let outcome = if std::thread::panicking() {
            Outcome::Panicked(Contained::new(Box::new(
                "the run's future panicked as it was dropped",
            )))
        } else {
            Outcome::Aborted
        };
        self.send(outcome);
    }
}

pin_project_lite::pin_project! {
    /// A child's future, run to its end and reported as an [`Exit`].
    struct Report<F> {
        #[pin]
        run: Option<F>,
        // After `run`: dropped after it.
        end: EndGuard,
    }
}

impl<F> Report<F> {
    /// `run`, whose end is reported on `link`.
    fn new(run: F, link: RunLink) -> Self {
        Report {
            run: Some(run),
            end: EndGuard(Some(link)),
        }
    }
}

impl<F: Future<Output = Result<(), BoxError>>> Future for Report<F> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<()> {
        let mut this = self.project();
        let Some(run) = this.run.as_mut().as_pin_mut() else {
            return Poll::Ready(()); // polled again after its end
        };
        // Inside `in_child`: a panic hook can tell the child's panics from
        // others (`quiet_child_panics`).
        let outcome = match in_child(|| catch_unwind(AssertUnwindSafe(|| run.poll(cx)))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(r)) => Outcome::Returned(r.map_err(Contained::new)),
            Err(payload) => Outcome::Panicked(Contained::new(payload)),
        };
        // Dropped before the end is sent; a destructor that panics is how
        // the run ended.
        let outcome = match in_child(|| catch_unwind(AssertUnwindSafe(|| this.run.set(None)))) {
            Ok(()) => outcome,
            Err(payload) => Outcome::Panicked(Contained::new(payload)),
        };
        this.end.send(outcome);
        Poll::Ready(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::sync::atomic::{AtomicBool, Ordering};

    use tokio::sync::mpsc;

    use crate::supervisor::protocol::{Exit, Msg};
    use crate::supervisor::Scope;

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

    /// The link of run 9 of the child in slot 3, and its supervisor's end
    /// of the channel.
    fn run_context() -> (RunLink, mpsc::UnboundedReceiver<Msg>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let ctx = RunLink::new(
            "sup/c".into(),
            1,
            Arc::new(tx),
            Scope::detached(),
            3,
            9,
            tokio::time::Instant::now(),
        );
        (ctx, rx)
    }

    fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
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
            let mut report = Box::pin(report);
            assert!(poll_once(report.as_mut()).is_ready());
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
            drop(report);
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
        let report = Report::new(PanicsOnDrop, ctx);
        let dropped = catch_unwind(AssertUnwindSafe(|| drop(report)));
        assert!(dropped.is_err(), "the destructor's panic goes on to tokio");
        assert!(matches!(exit(&mut rx).outcome, Outcome::Panicked(_)));
        assert!(rx.try_recv().is_err(), "reported once");
    }
}
