//! Services the program already holds behind a pointer: `Arc<S>`, and
//! trait objects through [`DynService`].
//!
//! # Why a second trait
//!
//! [`Service::run`] returns `impl Future`, so that implementors write a
//! plain `async fn` and the crate spawns each run's future without boxing
//! it. The price is that `dyn Service` does not exist: a trait whose method
//! returns `impl Trait` is not object safe. Most programs never need one,
//! because a [`ChildSpec`] is already the erased form: a `Vec<ChildSpec>`
//! holds services of any types.
//!
//! Some programs do hold trait objects: a plugin registry that returns
//! `Box<dyn …>`, services chosen from configuration at run time and passed
//! around before they are supervised. For them, [`DynService`] is the object
//! safe form of [`Service`], implemented for every service, and
//! `Box<dyn DynService>` and `Arc<dyn DynService>` are services again. It is
//! the shape of tower's `BoxService`: the future is boxed, one allocation
//! per run, and only where a trait object is asked for.
//!
//! `Arc<S>` is a service too, for a service value the program keeps a
//! handle on (to read its state, to reconfigure it) while it is supervised.
//! `Box<S>` is not: a `Box` of a known type is moved out with `*boxed` at no
//! cost, and a blanket impl for it would leave no room for the trait-object
//! one.
//!
//! [`ChildSpec`]: crate::ChildSpec

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::service::BoxError;
use crate::{Context, Service};

/// The object-safe form of [`Service`], implemented for every service: what
/// to hold in a `Box<dyn DynService>` or an `Arc<dyn DynService>`, which are
/// [`Service`]s themselves.
///
/// Implement [`Service`], never this trait: the blanket implementation
/// gives it to you. Its one method boxes the run's future; a supervisor
/// calls [`Service::run`] on the `Box` or the `Arc`, which calls it.
///
/// # Examples
///
/// Services of different types, chosen at run time, each started under its
/// own name:
///
/// ```
/// use tokio_supervisor::{service_fn, BoxError, ChildSpec, Context, DynService, Service, Supervisor};
///
/// struct Feed;
///
/// impl Service for Feed {
///     async fn run(&self, ctx: Context) -> Result<(), BoxError> {
///         ctx.cancelled().await;
///         Ok(())
///     }
/// }
///
/// fn plugin(name: &str) -> Box<dyn DynService> {
///     match name {
///         "feed" => Box::new(Feed),
///         _ => Box::new(service_fn(|ctx| async move {
///             ctx.cancelled().await;
///             Ok(())
///         })),
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut app = Supervisor::builder("app");
/// for name in ["feed", "audit"] {
///     app = app.child(ChildSpec::new(name, plugin(name)));
/// }
/// let handle = app.build()?.start().await?;
/// assert_eq!(handle.which_children().await.len(), 2);
/// handle.shutdown().await?;
/// # Ok(())
/// # }
/// ```
pub trait DynService: Send + Sync + 'static {
    /// [`Service::run`], its future boxed.
    fn run_boxed(
        &self,
        ctx: Context,
    ) -> Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + '_>>;
}

impl<S: Service> DynService for S {
    fn run_boxed(
        &self,
        ctx: Context,
    ) -> Pin<Box<dyn Future<Output = Result<(), BoxError>> + Send + '_>> {
        Box::pin(self.run(ctx))
    }
}

/// A boxed trait object is a service: each run boxes its future.
impl Service for Box<dyn DynService> {
    fn run(&self, ctx: Context) -> impl Future<Output = Result<(), BoxError>> + Send {
        (**self).run_boxed(ctx)
    }
}

/// A shared trait object is a service: each run boxes its future.
impl Service for Arc<dyn DynService> {
    fn run(&self, ctx: Context) -> impl Future<Output = Result<(), BoxError>> + Send {
        (**self).run_boxed(ctx)
    }
}

/// A shared service is a service: the supervisor holds one more reference
/// to it, and the program keeps its own.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::sync::Arc;
/// use tokio_supervisor::{BoxError, ChildSpec, Context, Service};
///
/// #[derive(Default)]
/// struct Feed {
///     received: AtomicU64,
/// }
///
/// impl Service for Feed {
///     async fn run(&self, ctx: Context) -> Result<(), BoxError> {
///         self.received.fetch_add(1, Ordering::Relaxed);
///         ctx.cancelled().await;
///         Ok(())
///     }
/// }
///
/// let feed = Arc::new(Feed::default());
/// let spec = ChildSpec::new("feed", Arc::clone(&feed));
/// // ... and read `feed.received` while the supervisor runs it.
/// # drop(spec);
/// ```
impl<S: Service> Service for Arc<S> {
    fn run(&self, ctx: Context) -> impl Future<Output = Result<(), BoxError>> + Send {
        S::run(self, ctx)
    }
}
