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

use std::any::Any;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;

use tokio::task::{AbortHandle, JoinSet};

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

/// The tasks of a supervisor's children.
pub(crate) type Tasks = JoinSet<Exit>;

/// What a child's task returns: which run of which child ended, and how.
/// The task names itself, so the supervisor needs no map from task ids to
/// children (only for the few tasks it aborts, whose output is lost).
pub(crate) struct Exit {
    pub(crate) slot: usize,
    /// The run's id, truncated: a child has one run at a time, so its low
    /// 32 bits tell it from an earlier one.
    pub(crate) run: u32,
    pub(crate) outcome: Outcome,
}

/// How a run ended.
pub(crate) enum Outcome {
    /// `run` returned.
    Returned(Result<(), BoxError>),
    /// `run` panicked (or its future's destructor did): the payload.
    Panicked(Box<dyn Any + Send>),
    /// The supervisor aborted the task.
    Aborted,
}

pin_project_lite::pin_project! {
    /// A child's future, run to its end and reported as an [`Exit`]. A
    /// panic is caught here, per poll, as tokio itself does, so that it too
    /// comes back with the child's slot; on the normal path `catch_unwind`
    /// costs nothing. A struct rather than an `async fn`, whose state would
    /// hold the child's future twice; 8 bytes beside the future, so that
    /// the task stays in the allocation size of a bare one.
    struct Report<F> {
        #[pin]
        run: F,
        slot: u32,
        run_id: u32,
    }
}

impl<F: Future<Output = Result<(), BoxError>>> Future for Report<F> {
    type Output = Exit;

    fn poll(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Exit> {
        // An `async` body drops its locals as it returns, inside this guard
        // too. A hand-written future whose destructor panics after it is
        // ready is caught by tokio instead: a `JoinError` that the
        // supervisor matches by task id.
        let this = self.project();
        let outcome = match catch_unwind(AssertUnwindSafe(|| this.run.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(r)) => Outcome::Returned(r),
            Err(payload) => Outcome::Panicked(payload),
        };
        Poll::Ready(Exit {
            slot: *this.slot as usize,
            run: *this.run_id,
            outcome,
        })
    }
}

/// Object-safe form of [`Service`]. It spawns the run itself, so that the
/// task stores the concrete future inline: a `Box<dyn Future>` would cost
/// one more allocation and free on every start and restart.
pub(crate) trait ErasedService: Send + Sync + 'static {
    /// Spawns run `run` of the child in `slot` into `tasks`, inside `span`
    /// when a subscriber wants it.
    fn spawn(
        self: Arc<Self>,
        ctx: Context,
        tasks: &mut Tasks,
        span: Option<tracing::Span>,
        slot: usize,
        run: u64,
    ) -> AbortHandle;
}

impl<S: Service> ErasedService for S {
    fn spawn(
        self: Arc<Self>,
        ctx: Context,
        tasks: &mut Tasks,
        span: Option<tracing::Span>,
        slot: usize,
        run: u64,
    ) -> AbortHandle {
        let run = Report {
            run: async move { self.run(ctx).await },
            // Slots index the child table: they fit in 32 bits (see
            // `supervisor::table`).
            slot: slot as u32,
            run_id: run as u32,
        };
        match span {
            None => tasks.spawn(run),
            Some(span) => tasks.spawn(tracing::Instrument::instrument(run, span)),
        }
    }
}

/// Renders an error and its chain of sources as `outer: inner: root`.
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let part = s.to_string();
        // anyhow and others often repeat the source in Display: skip echoes.
        if !msg.ends_with(&part) {
            msg.push_str(": ");
            msg.push_str(&part);
        }
        source = s.source();
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn chain_joins_sources() {
        let e = Outer(std::io::Error::other("disk gone"));
        assert_eq!(error_chain(&e), "outer: disk gone");
    }

    #[test]
    fn chain_of_anyhow_context() {
        let e: BoxError = anyhow::anyhow!("root cause").context("connecting").into();
        assert_eq!(error_chain(&*e), "connecting: root cause");
    }
}
