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
//! Each run is one tokio task, spawned bare (see `run`).

use std::future::Future;

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
/// Each run is a fresh call of `run` with a fresh [`Context`], in a tokio
/// task of its own; the previous run's future has been dropped by then.
///
/// The error a run returns is rendered (with its sources, `outer: inner`)
/// as the run ends, and dropped: snapshots, events and logs show its text.
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

    fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
        let mut out = "left over".to_owned();
        write_error_chain(err, &mut out);
        out
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
