//! Supervisors: [`Supervisor`], its [`Builder`], its [`SupervisorHandle`].
//!
//! A supervisor starts its children in order, watches them, restarts them
//! per their [`ChildSpec`] and its [`Strategy`], and stops
//! them in reverse order. It is itself a child of its parent, when nested.
//!
//! One tokio task runs each supervisor (`driver`, around its pure state
//! machine, `core`); the
//! handle talks to it through a channel and reads its published state.

mod builder;
pub(crate) mod core;
mod driver;
mod handle;
pub(crate) mod protocol;
pub(crate) mod scope;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, mpsc, watch};
use tokio_util::sync::CancellationToken;

pub use builder::Builder;
pub use handle::SupervisorHandle;
pub use protocol::ChildCounts;

use crate::restart_limit::RestartLimit;
use crate::service::BoxError;
use crate::spec::{ChildKind, ReadyGate};
use tokio::task::JoinHandle;

use crate::link::RunLink;
use crate::run::ErasedService;
use crate::{ChildSpec, Restart, Shutdown, SupervisorError};
use driver::{Driver, Wiring};
use protocol::State;
pub(crate) use scope::{Scope, Tree};

/// What a child's restart does to its siblings (OTP's restart strategies).
///
/// With a group strategy, the siblings affected by a restart are stopped one
/// by one in reverse start order, each per its [`Shutdown`], then started
/// again in start order, each ready-gated one waiting for its readiness
/// before the next. The triggering exit counts once toward the intensity,
/// and its backoff delay applies to the whole group, between the stop and the
/// start.
///
/// As in OTP (`terminate_children/2` then `start_children/2`), every
/// affected child that is not `Temporary` is started again, including one
/// that had completed (a `Transient` child that returned `Ok`) or had been
/// stopped with `terminate_child`: the group comes back as a whole, in its
/// initial shape. An affected `Temporary` child is stopped and removed. One
/// exception of this crate's: a child given up by its circuit breaker
/// ([`ExitReason::CircuitOpen`](crate::ExitReason::CircuitOpen)) stays given
/// up, until restarted by hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Strategy {
    /// Only the child that exited is restarted (OTP's `one_for_one`).
    #[default]
    OneForOne,
    /// Every child is restarted when one exits and needs a restart (OTP's
    /// `one_for_all`): for children that only make sense together.
    OneForAll,
    /// The child that exited and every child started after it are restarted
    /// (OTP's `rest_for_one`): for children that depend on the earlier ones.
    RestForOne,
}

/// In what order a supervisor stops several children: when it stops, and
/// when a `OneForAll` or `RestForOne` restart stops the affected siblings.
///
/// Under either order the group's children are started again one at a
/// time in start order, each ready-gated one only once the previous one is
/// ready: only the stop differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShutdownOrder {
    /// One at a time, in reverse start order, each only once the one started
    /// after it has ended (OTP's supervisors; the default of a static
    /// supervisor). Later children may depend on earlier ones.
    Reverse,
    /// All at once, each per its `Shutdown` (Elixir's `DynamicSupervisor`;
    /// the default of a dynamic supervisor, whose children are independent).
    /// Much faster for many children: the stop takes as long as the slowest
    /// child, not the sum of all.
    Concurrent,
}

/// How a supervisor starts its children.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StartOrder {
    /// One at a time, in the order given, each ready-gated one only once
    /// the one before is ready (OTP's; the default). Later children may
    /// depend on earlier ones.
    #[default]
    InOrder,
    /// All at once; the supervisor has started once every ready-gated one
    /// is ready. For children that do not depend on one another and
    /// initialise slowly. A failure before ready is a failed start, as in
    /// order: the children started are stopped in reverse order, and the
    /// start fails with the path. Restarts of a group still start it in
    /// order.
    Concurrent,
}

/// When a supervisor stops by itself because its significant children
/// ended (OTP 24's `auto_shutdown`); see [`ChildSpec::significant`].
///
/// Only a significant child's own exit that is not restarted triggers it;
/// `terminate_child`, a sibling's group restart and the supervisor's own stop
/// never do. An auto-shutdown is a normal stop: the supervisor's outcome is
/// `Ok`, so a `Transient` parent entry does not restart it, and if that entry
/// is significant too, the parent's own auto-shutdown may follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AutoShutdown {
    /// Never stop by itself (the default); significant children are refused.
    #[default]
    Never,
    /// Stop when any significant child has ended.
    AnySignificant,
    /// Stop when every significant child has ended (one waiting to restart
    /// still counts as alive).
    AllSignificant,
}

/// The checked configuration of a supervisor.
#[derive(Debug)]
pub(crate) struct Config {
    pub(crate) name: Arc<str>,
    pub(crate) strategy: Strategy,
    pub(crate) auto_shutdown: AutoShutdown,
    /// `Some(max_children)` for a dynamic supervisor.
    pub(crate) dynamic: Option<Option<usize>>,
    pub(crate) shutdown_order: ShutdownOrder,
    pub(crate) start_order: StartOrder,
    pub(crate) intensity: RestartLimit,
    pub(crate) children: Vec<Arc<ChildSpec>>,
    /// The time the whole stop may take (`Builder::shutdown_budget`).
    pub(crate) shutdown_budget: Option<std::time::Duration>,
    /// The children's defaults, for those added by `start_child` too.
    pub(crate) defaults: crate::spec::ChildDefaults,
    /// The tree the next start of this configuration as a root runs:
    /// made by a `subscribe` before it, so that the subscriber sees its
    /// first event; each start takes it, or makes a fresh one.
    pub(crate) next_tree: parking_lot::Mutex<Option<Arc<Tree>>>,
    /// The permits of `spawn_blocking` tasks.
    pub(crate) blocking: Arc<tokio::sync::Semaphore>,
    /// A runtime of its own, when nested.
    pub(crate) runtime: Option<crate::runtime::RuntimeConfig>,
}

/// A configured supervisor, ready to [`start`](Self::start) or to nest in
/// another as a child.
///
/// ```
/// use std::time::Duration;
/// use tokio_supervisor::{service_fn, Backoff, ChildSpec, Supervisor};
///
/// #[tokio::main]
/// # async fn _hidden() {}
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let app = Supervisor::builder("app")
///         .intensity(10, Duration::from_secs(60))
///         .child(
///             ChildSpec::new("feed", service_fn(|ctx| async move {
///                 ctx.cancelled().await;
///                 Ok(())
///             }))
///             .backoff(Backoff::exponential(Duration::from_millis(100), Duration::from_secs(30)))
///             .restart_limit(5, Duration::from_secs(60)),
///         )
///         .build()?;
///
///     // In a real program: `app.spawn()?.run_until_signal().await?`.
///     let handle = app.start().await?;
///     handle.shutdown().await?;
///     Ok(())
/// }
/// ```
///
/// Cloning is cheap; each start runs a fresh tree from the same
/// configuration, with its own children, metrics and events.
#[derive(Debug, Clone)]
pub struct Supervisor {
    pub(crate) config: Arc<Config>,
}

impl Supervisor {
    /// Starts configuring a supervisor named `name` (the root of its
    /// children's paths; non-empty, no `/`).
    pub fn builder(name: impl Into<String>) -> Builder {
        Builder::new(name.into())
    }

    /// Starts configuring a dynamic supervisor (Elixir's
    /// `DynamicSupervisor`): it starts with no children; they are added at
    /// run time with [`SupervisorHandle::start_child`], each under a unique
    /// name made of its spec's name and a number (`conn-7`), up to
    /// [`max_children`](Builder::max_children). Its strategy is
    /// `OneForOne`; it takes no significant children.
    ///
    /// A child that has ended and will not be restarted (it completed, or
    /// was `Temporary`, or was stopped by
    /// [`terminate_child`](SupervisorHandle::terminate_child)) is removed,
    /// as in OTP's `simple_one_for_one`: finished jobs neither count toward
    /// the maximum nor stay listed. A child given up by its circuit breaker
    /// stays, visible, until restarted or deleted by hand.
    ///
    /// ```
    /// # use tokio_supervisor::{service_fn, ChildSpec, Supervisor};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = Supervisor::dynamic("pool").max_children(100).build()?.start().await?;
    /// let conn = ChildSpec::new("conn", service_fn(|ctx| async move {
    ///     ctx.cancelled().await;
    ///     Ok(())
    /// }));
    /// let first = pool.start_child(conn.clone()).await?;
    /// let second = pool.start_child(conn).await?;
    /// assert_eq!((first.as_str(), second.as_str()), ("pool/conn-1", "pool/conn-2"));
    /// pool.terminate_child(&first).await?;
    /// assert_eq!(pool.which_children().await.len(), 1); // `first` is gone
    /// # pool.shutdown().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn dynamic(name: impl Into<String>) -> Builder {
        Builder::new(name.into()).dynamic()
    }

    /// The supervisor's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Subscribes to the events of the tree that the next
    /// [`start`](Self::start) (or [`spawn`](Self::spawn)) of this
    /// supervisor or of a clone runs, before it starts, so that not even
    /// the first `Started` is missed. The receiver ends once that tree has
    /// stopped.
    ///
    /// Each start runs a fresh tree with its own events and metrics:
    /// subscribe again before the next one. Subscribe on the root: a
    /// supervisor nested in another sends its events to its root's
    /// subscribers. See the [`event`](crate::event) module for the lag
    /// behaviour.
    ///
    /// This is the one way to subscribe: a subscription made after the
    /// start would miss its first events. A part of the program that wants
    /// its own stream later gets one from a receiver made here, with
    /// [`Receiver::resubscribe`](tokio::sync::broadcast::Receiver::resubscribe)
    /// (the events from then on).
    ///
    /// ```
    /// # use tokio_supervisor::{service_fn, ChildSpec, EventKind, Supervisor};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let app = Supervisor::builder("app")
    ///     .child(ChildSpec::new("w", service_fn(|ctx| async move {
    ///         ctx.cancelled().await;
    ///         Ok(())
    ///     })))
    ///     .build()?;
    /// let mut events = app.subscribe();
    /// let handle = app.start().await?;
    /// let first = events.recv().await?;
    /// assert_eq!(&*first.path, "app/w");
    /// assert_eq!(first.kind, EventKind::Started { attempt: 1 });
    /// # handle.shutdown().await?;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<crate::Event> {
        self.config
            .next_tree
            .lock()
            .get_or_insert_with(Tree::new)
            .subscribe()
    }

    /// Starts the supervisor as a root and returns its handle at once, while
    /// the children are still starting in the background; await
    /// [`SupervisorHandle::started`] to know when they have all started.
    ///
    /// The start of `main`: `app.spawn()?.run_until_signal().await` (see
    /// [`SupervisorHandle::run_until_signal`]) runs the tree until SIGINT or
    /// SIGTERM, a signal during the start included. [`start`](Self::start)
    /// is for when the next step needs every child started (a test, a
    /// program that runs its own loop beside the tree).
    ///
    /// # Errors
    ///
    /// [`SupervisorError::NoRuntime`] outside a tokio runtime.
    pub fn spawn(self) -> Result<SupervisorHandle, SupervisorError> {
        let no_runtime = || SupervisorError::NoRuntime {
            supervisor: self.config.name.to_string(),
        };
        let rt = tokio::runtime::Handle::try_current().map_err(|_| no_runtime())?;
        // Timers would panic in the loop on a runtime without time.
        let timed = std::panic::catch_unwind(|| drop(tokio::time::sleep(Duration::ZERO)));
        if timed.is_err() {
            return Err(no_runtime());
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let (state_tx, state_rx) = watch::channel(State::Starting);
        // A fresh tree, unless a subscriber is waiting for this start.
        let tree = self.config.next_tree.lock().take().unwrap_or_default();
        let stop = CancellationToken::new();
        let handle = SupervisorHandle::new(
            self.config.name.clone(),
            tx.clone(),
            state_rx,
            &tree,
            self.config.blocking.clone(),
            stop.clone(),
        );
        let runner = Driver::new(
            self.config.clone(),
            Wiring {
                path: self.config.name.clone(),
                stop,
                scope: Arc::new(Scope {
                    tree,
                    lineage: vec![self.config.clone()],
                }),
                tx,
                rx,
                state: state_tx,
                parent: None,
            },
        );
        rt.spawn(runner.run());
        Ok(handle)
    }

    /// Starts the supervisor as a root: spawns its loop, starts the children
    /// in order (waiting for each ready-gated one), and returns a handle once
    /// all have started.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::StartFailed`] if a child failed to start (the ones
    /// already started were stopped, in reverse order, before this returns);
    /// [`SupervisorError::NoRuntime`] outside a tokio runtime.
    ///
    /// # Cancel safety
    ///
    /// If this future is dropped before it completes, the supervisor is shut
    /// down (nobody would have a handle to it).
    pub async fn start(self) -> Result<SupervisorHandle, SupervisorError> {
        let handle = self.spawn()?;
        let mut guard = ShutdownOnDrop(Some(handle.clone()));
        handle.started().await?;
        guard.0 = None;
        Ok(handle)
    }
}

/// Shuts the supervisor down if dropped while armed.
struct ShutdownOnDrop(Option<SupervisorHandle>);

impl Drop for ShutdownOnDrop {
    fn drop(&mut self) {
        if let Some(h) = &self.0 {
            h.request_shutdown();
        }
    }
}

/// A supervisor nested as a child: its driver runs in the child's task. It
/// is spawned from its run's link (not through `Service`, which gets only
/// the public `Context`): it needs the tree it runs in and the inbox its
/// parent made for it.
struct Nested(Arc<Config>);

impl ErasedService for Nested {
    fn spawn(self: Arc<Self>, link: RunLink, span: Option<tracing::Span>) -> JoinHandle<()> {
        let (tree, mut lineage) = match link.scope() {
            Some(s) => (s.tree.clone(), s.lineage.clone()),
            None => (Tree::new(), Vec::new()),
        };
        lineage.push(self.0.clone() as Arc<dyn std::any::Any + Send + Sync>);
        // The inbox its parent made, and keeps the sender of: to forward
        // commands for paths below this one, and to kill the subtree.
        type Channel = (
            mpsc::UnboundedSender<protocol::Msg>,
            mpsc::UnboundedReceiver<protocol::Msg>,
        );
        let (tx, rx) = link
            .take_inbox()
            .and_then(|inbox| inbox.downcast::<Channel>().ok())
            .map_or_else(mpsc::unbounded_channel, |channel| *channel);
        let ctx = link.context();
        let path = link.path().clone();
        let run = async move {
            let (state, _) = watch::channel(State::Starting);
            let runner = Driver::new(
                self.0.clone(),
                Wiring {
                    path,
                    stop: ctx.token(),
                    scope: Arc::new(Scope { tree, lineage }),
                    tx: tx.clone(),
                    rx,
                    state,
                    parent: Some(ctx),
                },
            );
            match &self.0.runtime {
                None => runner.run().await.map_err(Into::into),
                Some(config) => run_dedicated(runner, config, tx).await,
            }
        };
        crate::run::spawn_run(run, link, span)
    }
}

/// Runs a nested supervisor's loop on a runtime of its own, on its own
/// thread; returns once that thread and the runtime's workers have ended.
async fn run_dedicated(
    runner: Driver,
    config: &crate::runtime::RuntimeConfig,
    tx: mpsc::UnboundedSender<protocol::Msg>,
) -> Result<(), BoxError> {
    let rt = config.build()?;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let thread = std::thread::Builder::new()
        .name(config.name().to_owned())
        .spawn(move || {
            let outcome = rt.block_on(runner.run());
            // Outside any async context: dropping the runtime joins its
            // worker threads.
            drop(rt);
            let _ = done_tx.send(outcome);
        })?;
    // If this future is dropped (the parent aborts the subtree), kill the
    // subtree so that its thread ends too.
    struct KillOnDrop(Option<mpsc::UnboundedSender<protocol::Msg>>);
    impl Drop for KillOnDrop {
        fn drop(&mut self) {
            if let Some(tx) = self.0.take() {
                let _ = tx.send(protocol::Msg::Command(protocol::Command::Kill));
            }
        }
    }
    let mut guard = KillOnDrop(Some(tx));
    let outcome = done_rx.await;
    guard.0 = None;
    // Join the thread without blocking this runtime.
    let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    match outcome {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err("the dedicated runtime's thread ended without an outcome".into()),
    }
}

/// A supervisor as a child of another: [`Restart::Permanent`],
/// [`Shutdown::Infinity`] (it stops its own children first), and
/// ready-gated without a timeout (its parent moves on once all its children
/// have started; its failed start is its parent's failed start).
impl From<Supervisor> for ChildSpec {
    fn from(sup: Supervisor) -> Self {
        let name = sup.config.name.to_string();
        let config = sup.config.clone();
        let mut spec = ChildSpec::erased(name, Arc::new(Nested(sup.config)))
            .restart(Restart::Permanent)
            .shutdown(Shutdown::Infinity)
            .backoff(crate::Backoff::none());
        spec.kind = ChildKind::Supervisor;
        spec.nested = Some(config);
        spec.ready = Some(ReadyGate { timeout: None });
        spec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + Clone>() {}

    #[test]
    fn handle_is_send_sync_clone() {
        assert_send_sync::<SupervisorHandle>();
        assert_send_sync::<Supervisor>();
    }

    #[test]
    fn task_handle_is_send_sync() {
        fn check<T: Send + Sync>() {}
        check::<crate::TaskHandle<String>>();
    }
}
