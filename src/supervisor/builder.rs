//! [`Builder`]: configuring a supervisor, checked once in [`Builder::build`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use super::{AutoShutdown, Config, Strategy, Supervisor};
use crate::restart_limit::RestartLimit;
use crate::spec::{check_name, ChildDefaults};
use crate::{ChildSpec, ConfigError, Restart};

/// The default restart intensity: 10 restarts within 10 seconds (see
/// `Builder::intensity`).
pub(crate) const DEFAULT_INTENSITY: RestartLimit = RestartLimit {
    max: 10,
    window: Duration::from_secs(10),
};

/// Configures a [`Supervisor`]; made by [`Supervisor::builder`].
///
/// ```
/// use std::time::Duration;
/// use tokio_supervisor::{service_fn, ChildSpec, Strategy, Supervisor};
///
/// let sup = Supervisor::builder("app")
///     .strategy(Strategy::OneForOne)
///     .intensity(5, Duration::from_secs(30))
///     .child(ChildSpec::new("worker", service_fn(|ctx| async move {
///         ctx.cancelled().await;
///         Ok(())
///     })))
///     .build()
///     .expect("valid configuration");
/// assert_eq!(sup.name(), "app");
/// ```
///
/// # Defaults
///
/// Backoff, restart limit, shutdown and restart policy can be set once for
/// every child of this supervisor ([`default_backoff`](Self::default_backoff),
/// [`default_restart_limit`](Self::default_restart_limit),
/// [`default_shutdown`](Self::default_shutdown),
/// [`default_restart`](Self::default_restart)); a child that sets its own
/// keeps it. They apply to the children given here and to those added by
/// [`start_child`](crate::SupervisorHandle::start_child). They do not reach
/// into nested supervisors: each has its own builder, and so its own
/// defaults; a nested supervisor as a child sets its own restart, shutdown
/// and backoff (see `From<Supervisor> for ChildSpec`).
///
/// ```
/// use std::time::Duration;
/// use tokio_supervisor::{service_fn, Backoff, ChildSpec, Shutdown, Supervisor};
///
/// let feed = |name: &str| ChildSpec::new(name, service_fn(|ctx| async move {
///     ctx.cancelled().await;
///     Ok(())
/// }));
/// let sup = Supervisor::builder("feeds")
///     .default_backoff(Backoff::exponential(Duration::from_millis(200), Duration::from_secs(10)))
///     .default_restart_limit(5, Duration::from_secs(60))
///     .default_shutdown(Shutdown::Graceful(Duration::from_secs(2)))
///     .child(feed("binance"))
///     .child(feed("kraken").shutdown(Shutdown::Brutal)) // its own
///     .build()?;
/// # Ok::<(), tokio_supervisor::ConfigError>(())
/// ```
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct Builder {
    name: String,
    strategy: Strategy,
    auto_shutdown: AutoShutdown,
    dynamic: bool,
    max_children: Option<usize>,
    intensity: RestartLimit,
    children: Vec<ChildSpec>,
    blocking_limit: Option<usize>,
    runtime: Option<crate::runtime::RuntimeConfig>,
    shutdown_order: Option<super::ShutdownOrder>,
    defaults: ChildDefaults,
    shutdown_budget: Option<Duration>,
    start_order: super::StartOrder,
}

impl Builder {
    pub(super) fn new(name: String) -> Self {
        Builder {
            name,
            strategy: Strategy::default(),
            auto_shutdown: AutoShutdown::default(),
            dynamic: false,
            max_children: None,
            intensity: DEFAULT_INTENSITY,
            children: Vec::new(),
            blocking_limit: None,
            runtime: None,
            shutdown_order: None,
            defaults: ChildDefaults::default(),
            shutdown_budget: None,
            start_order: super::StartOrder::InOrder,
        }
    }

    pub(super) fn dynamic(mut self) -> Self {
        self.dynamic = true;
        self
    }

    /// Sets what a child's restart does to its siblings.
    pub fn strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Sets when the supervisor stops by itself as its significant children
    /// end (`Never` by default).
    pub fn auto_shutdown(mut self, auto_shutdown: AutoShutdown) -> Self {
        self.auto_shutdown = auto_shutdown;
        self
    }

    /// For a [dynamic](Supervisor::dynamic) supervisor: how many children it
    /// may have at once (those waiting to restart included); beyond it,
    /// `start_child` answers
    /// [`ControlError::MaxChildren`](crate::ControlError::MaxChildren).
    /// Unlimited by default. Zero refuses every child (as Elixir's
    /// `max_children: 0`); `usize::MAX` is unlimited. A static supervisor
    /// refuses it in `build`.
    pub fn max_children(mut self, max: usize) -> Self {
        self.max_children = Some(max);
        self
    }

    /// How many [`spawn_blocking`](crate::SupervisorHandle::spawn_blocking)
    /// tasks of this supervisor run at once; the others wait their turn,
    /// visible in `Phase::Starting`. The default is the number of CPUs
    /// (`std::thread::available_parallelism`): blocking tasks are meant for
    /// CPU-bound work. Zero is taken as 1, and a limit above tokio's
    /// [`Semaphore::MAX_PERMITS`](tokio::sync::Semaphore::MAX_PERMITS) as
    /// that maximum.
    pub fn blocking_limit(mut self, limit: usize) -> Self {
        self.blocking_limit = Some(limit);
        self
    }

    /// Sets how the children start: [`StartOrder::InOrder`](super::StartOrder::InOrder)
    /// (the default, OTP's) or all at once,
    /// [`StartOrder::Concurrent`](super::StartOrder::Concurrent).
    ///
    /// ```
    /// # use std::time::Duration;
    /// use tokio_supervisor::{service_fn, ChildSpec, StartOrder, Supervisor};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let slow_init = |name: &str| ChildSpec::new(name, service_fn(|ctx| async move {
    ///     tokio::time::sleep(Duration::from_millis(300)).await; // load, connect
    ///     ctx.ready();
    ///     ctx.cancelled().await;
    ///     Ok(())
    /// }))
    /// .wait_ready(Duration::from_secs(5));
    /// let t0 = tokio::time::Instant::now();
    /// let agent = Supervisor::builder("agent")
    ///     .start_order(StartOrder::Concurrent)
    ///     .children([slow_init("a"), slow_init("b"), slow_init("c")])
    ///     .build()?
    ///     .start()
    ///     .await?;
    /// assert_eq!(t0.elapsed(), Duration::from_millis(300)); // not 900
    /// # agent.shutdown().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub fn start_order(mut self, order: super::StartOrder) -> Self {
        self.start_order = order;
        self
    }

    /// Sets the order of the stop, and of the stop of the siblings in a
    /// `OneForAll` / `RestForOne` restart: [`ShutdownOrder::Reverse`](super::ShutdownOrder::Reverse) (one at a
    /// time, OTP's; the default of a static supervisor) or
    /// [`ShutdownOrder::Concurrent`](super::ShutdownOrder::Concurrent) (all at once, Elixir's
    /// `DynamicSupervisor`; the default of a dynamic one). Choose
    /// `Concurrent` for a static supervisor only when its children do not
    /// depend on one another while they stop.
    pub fn shutdown_order(mut self, order: super::ShutdownOrder) -> Self {
        self.shutdown_order = Some(order);
        self
    }

    /// The time the whole stop may take, however it begins (`shutdown`,
    /// [`run_until_signal`](crate::SupervisorHandle::run_until_signal), a failure):
    /// the ordered stop runs within it, each child per its own
    /// [`Shutdown`](crate::Shutdown), and whatever still runs when it runs
    /// out is aborted (the children of a nested supervisor too). Then the
    /// stop's outcome is
    /// [`SupervisorError::ShutdownBudgetExceeded`](crate::SupervisorError::ShutdownBudgetExceeded),
    /// naming the children aborted (unless the supervisor had failed
    /// already: its failure is the outcome).
    ///
    /// Set it a little under the time the process manager allows: a
    /// Kubernetes pod's `terminationGracePeriodSeconds`, systemd's
    /// `TimeoutStopSec`. Without it, each child's `Graceful` timeout applies
    /// on its own, and in an ordered stop they add up. Zero aborts at once;
    /// one too long to represent as a deadline (`Duration::MAX`) is no
    /// budget.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use tokio_supervisor::Supervisor;
    /// let app = Supervisor::builder("app")
    ///     .shutdown_budget(Duration::from_secs(25)) // the pod allows 30 s
    ///     # ;
    /// ```
    pub fn shutdown_budget(mut self, budget: Duration) -> Self {
        self.shutdown_budget = Some(budget);
        self
    }

    /// Runs this supervisor, when nested in another, on a runtime of its own,
    /// on its own OS threads; see [`runtime`](crate::runtime). A root
    /// supervisor runs where it is started, and ignores it.
    pub fn dedicated_runtime(mut self, config: crate::runtime::RuntimeConfig) -> Self {
        self.runtime = Some(config);
        self
    }

    /// Sets the restart intensity: more than `max` restarts (of any of its
    /// children) within a sliding `window` and the supervisor stops all its
    /// children (in reverse order) and fails. `max` may be 0 (the first
    /// restart fails the supervisor); `u32::MAX` means no limit. `window`
    /// (OTP's *period*) must be greater than zero (`build` refuses zero with
    /// [`ConfigError::ZeroIntensityWindow`](crate::ConfigError::ZeroIntensityWindow));
    /// `Duration::MAX` counts every restart of the supervisor's life.
    ///
    /// The supervisor remembers the time of at most `max + 1` restarts (as
    /// OTP, which keeps every restart of the window).
    ///
    /// # Default: 10 restarts within 10 seconds
    ///
    /// OTP's default (1 in 5 s) assumes restarts without delay. With the
    /// default exponential backoff (100 ms doubling), one child that fails
    /// over and over restarts at most 7 times in any 10 s, so it alone never
    /// exceeds this intensity: its backoff (and its own restart limit, if
    /// set) deals with it. Two or more children failing together, or
    /// children without backoff in a tight loop, exceed it within seconds,
    /// and the supervisor escalates: the failure is wider than one child.
    pub fn intensity(mut self, max: u32, window: Duration) -> Self {
        self.intensity = RestartLimit { max, window };
        self
    }

    /// The restart policy of every child that does not set its own
    /// ([`ChildSpec::restart`]), here and in `start_child`; see
    /// [Defaults](Self#defaults).
    pub fn default_restart(mut self, restart: crate::Restart) -> Self {
        self.defaults.restart = Some(restart);
        self
    }

    /// The shutdown of every child that does not set its own
    /// ([`ChildSpec::shutdown`]); see [Defaults](Self#defaults).
    pub fn default_shutdown(mut self, shutdown: crate::Shutdown) -> Self {
        self.defaults.shutdown = Some(shutdown);
        self
    }

    /// The backoff of every child that does not set its own
    /// ([`ChildSpec::backoff`]); see [Defaults](Self#defaults).
    pub fn default_backoff(mut self, backoff: crate::Backoff) -> Self {
        self.defaults.backoff = Some(backoff);
        self
    }

    /// The restart limit (circuit breaker) of every child that does not set
    /// its own ([`ChildSpec::restart_limit`], same ranges); see
    /// [Defaults](Self#defaults).
    pub fn default_restart_limit(mut self, max: u32, window: Duration) -> Self {
        self.defaults.restart_limit = Some(RestartLimit { max, window });
        self
    }

    /// Adds a child; children start in the order they are added and stop in
    /// reverse.
    pub fn child(mut self, child: impl Into<ChildSpec>) -> Self {
        self.children.push(child.into());
        self
    }

    /// Adds several children, in order.
    pub fn children<I>(mut self, children: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<ChildSpec>,
    {
        self.children.extend(children.into_iter().map(Into::into));
        self
    }

    /// Checks the configuration and makes the supervisor.
    ///
    /// # Errors
    ///
    /// A [`ConfigError`] naming the path of the first problem found: an
    /// empty name or one with `/` (the supervisor's or a child's), a
    /// duplicate child name, a zero intensity window, a zero restart-limit
    /// window, backoff parameters out of range, a significant child that is
    /// `Permanent` or under `AutoShutdown::Never`, or an option a dynamic
    /// supervisor does not take. A static supervisor may have no children:
    /// it is filled at run time with
    /// [`start_child`](crate::SupervisorHandle::start_child).
    pub fn build(self) -> Result<Supervisor, ConfigError> {
        if let Err(reason) = check_name(&self.name) {
            return Err(ConfigError::InvalidName {
                path: self.name.clone(),
                name: self.name,
                reason,
            });
        }
        let sup = &self.name;
        if self.intensity.window.is_zero() {
            return Err(ConfigError::ZeroIntensityWindow {
                supervisor: sup.clone(),
            });
        }
        if self
            .runtime
            .as_ref()
            .is_some_and(|r| r.name().contains('\0'))
        {
            return Err(ConfigError::InvalidRuntime {
                supervisor: sup.clone(),
                reason: "a thread name must not contain a NUL byte",
            });
        }
        let dynamic_error = |reason| {
            Err(ConfigError::Dynamic {
                supervisor: sup.clone(),
                reason,
            })
        };
        if self.dynamic {
            if !self.children.is_empty() {
                return dynamic_error("children are added at run time, with start_child");
            }
            if self.strategy != Strategy::OneForOne {
                return dynamic_error("the strategy is always OneForOne");
            }
            if self.auto_shutdown != AutoShutdown::Never {
                return dynamic_error("auto_shutdown is not supported");
            }
        } else if self.max_children.is_some() {
            return Err(ConfigError::MaxChildrenOnStatic {
                supervisor: sup.clone(),
            });
        }
        let mut children = self.children;
        for spec in &mut children {
            spec.inherit(&self.defaults);
        }
        let mut seen: HashSet<&str> = HashSet::with_capacity(children.len());
        for spec in &children {
            validate_spec(sup, spec, self.auto_shutdown)?;
            if !seen.insert(&*spec.name) {
                return Err(ConfigError::DuplicateName {
                    path: format!("{sup}/{}", spec.name),
                });
            }
        }
        Ok(Supervisor {
            config: Arc::new(Config {
                name: self.name.into(),
                strategy: self.strategy,
                auto_shutdown: self.auto_shutdown,
                dynamic: self.dynamic.then_some(self.max_children),
                shutdown_order: self.shutdown_order.unwrap_or(if self.dynamic {
                    super::ShutdownOrder::Concurrent
                } else {
                    super::ShutdownOrder::Reverse
                }),
                intensity: self.intensity,
                children: children.into_iter().map(Arc::new).collect(),
                defaults: self.defaults,
                shutdown_budget: self.shutdown_budget,
                start_order: self.start_order,
                next_tree: parking_lot::Mutex::new(None),
                runtime: self.runtime,
                blocking: Arc::new(tokio::sync::Semaphore::new(
                    self.blocking_limit
                        .unwrap_or_else(cpus)
                        .clamp(1, tokio::sync::Semaphore::MAX_PERMITS),
                )),
            }),
        })
    }
}

/// The number of CPUs, asked once: `available_parallelism` reads cgroup
/// files on Linux, too slow to do for every supervisor built.
fn cpus() -> usize {
    static CPUS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(4, |n| n.get()))
}

/// Checks one spec for a supervisor at `parent` (its path) with
/// `auto_shutdown`; shared by `build` and `start_child`.
pub(crate) fn validate_spec(
    parent: &str,
    spec: &ChildSpec,
    auto_shutdown: AutoShutdown,
) -> Result<(), ConfigError> {
    // The path is formatted only for an error: a valid spec costs nothing.
    let path = || format!("{parent}/{}", spec.name);
    if let Err(reason) = check_name(&spec.name) {
        return Err(ConfigError::InvalidName {
            path: path(),
            name: spec.name.to_string(),
            reason,
        });
    }
    if spec.restart_limit.is_some_and(|l| l.window.is_zero()) {
        return Err(ConfigError::ZeroRestartWindow { path: path() });
    }
    if spec
        .ready
        .and_then(|g| g.timeout)
        .is_some_and(|t| t.is_zero())
    {
        return Err(ConfigError::ZeroDuration {
            path: path(),
            setting: "wait_ready",
        });
    }
    if spec.periodic.is_some_and(|t| t.is_zero()) {
        return Err(ConfigError::ZeroDuration {
            path: path(),
            setting: "periodic",
        });
    }
    if spec.heartbeat.is_some_and(|t| t.is_zero()) {
        return Err(ConfigError::ZeroDuration {
            path: path(),
            setting: "heartbeat",
        });
    }
    if let Err(reason) = spec.backoff.validate() {
        return Err(ConfigError::InvalidBackoff {
            path: path(),
            reason,
        });
    }
    if spec.significant {
        if spec.restart == Restart::Permanent {
            return Err(ConfigError::SignificantPermanent { path: path() });
        }
        if auto_shutdown == AutoShutdown::Never {
            return Err(ConfigError::SignificantWithoutAutoShutdown { path: path() });
        }
    }
    Ok(())
}
