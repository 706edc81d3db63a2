//! How to run one child: [`ChildSpec`], with its [`Restart`] and
//! [`Shutdown`] policies.
//!
//! A spec is plain configuration, checked when the supervisor is built
//! ([`Builder::build`](crate::supervisor::Builder::build)): names, windows and
//! backoff parameters give a typed [`ConfigError`](crate::ConfigError)
//! naming the child's path, never a panic.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::contain::Contained;
use crate::exit::ExitReason;
pub use crate::restart::Restart;
use crate::restart_limit::RestartLimit;
use crate::run::ErasedService;
use crate::{Backoff, Service};

/// How the supervisor stops a child (OTP's `shutdown`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shutdown {
    /// Cancel the child's context, wait up to the timeout for `run` to
    /// return, then abort the task. The default for workers, with 5 s.
    ///
    /// Any timeout is accepted: zero cancels and aborts in the same turn
    /// (the child gets no poll to clean up), and one too long to represent
    /// as a deadline (`Duration::MAX`) waits like [`Infinity`](Self::Infinity).
    ///
    /// The deadline is kept to tokio's timer resolution, a millisecond:
    /// children stopped within the same millisecond share one timer entry,
    /// so a child may be aborted up to 1 ms after its timeout, never before.
    Graceful(Duration),
    /// Abort the task at once; `run` gets no chance to clean up.
    Brutal,
    /// Cancel the child's context and wait as long as it takes. The default
    /// for nested supervisors, which stop their own children first.
    Infinity,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::Graceful(Duration::from_secs(5))
    }
}

/// Called with the exit reason of a run: a task's completion, which settles
/// its `TaskHandle`.
pub(crate) type OnExit = Arc<dyn Fn(&ExitReason) + Send + Sync>;

/// The CPU time a blocking task's thread used, where it can be read.
pub(crate) trait CpuTime: Send + Sync + fmt::Debug {
    fn cpu_time(&self) -> Option<std::time::Duration>;
}

/// Whether a spec runs user code or a nested supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChildKind {
    Worker,
    Supervisor,
}

/// How to start, restart and stop one child.
///
/// ```
/// use std::time::Duration;
/// use tokio_supervisor::{service_fn, Backoff, ChildSpec, Restart, Shutdown};
///
/// let spec = ChildSpec::new("feed", service_fn(|ctx| async move {
///     ctx.ready();
///     ctx.cancelled().await;
///     Ok(())
/// }))
/// .restart(Restart::Permanent)
/// .shutdown(Shutdown::Graceful(Duration::from_secs(2)))
/// .backoff(Backoff::exponential(Duration::from_millis(100), Duration::from_secs(30)))
/// .restart_limit(5, Duration::from_secs(60))
/// .wait_ready(Duration::from_secs(10));
/// assert_eq!(spec.name(), "feed");
/// ```
#[derive(Clone)]
#[must_use = "a ChildSpec does nothing until given to a supervisor"]
pub struct ChildSpec {
    pub(crate) name: Arc<str>,
    /// The user's service, dropped with its panics contained (the last
    /// reference may go in the supervisor's loop).
    pub(crate) service: Contained<Arc<dyn ErasedService>>,
    pub(crate) kind: ChildKind,
    pub(crate) restart: Restart,
    pub(crate) shutdown: Shutdown,
    pub(crate) backoff: Backoff,
    pub(crate) restart_limit: Option<RestartLimit>,
    pub(crate) ready: Option<ReadyGate>,
    pub(crate) heartbeat: Option<Duration>,
    /// The settings given on this spec, which a supervisor's defaults do not
    /// replace (see `inherit`).
    pub(crate) explicit: Explicit,
    /// Run again this long after each `Ok` (see `periodic`).
    pub(crate) periodic: Option<Duration>,
    pub(crate) significant: bool,
    /// A task's completion hook (settles its `TaskHandle`).
    pub(crate) on_exit: Option<Contained<OnExit>>,
    /// A nested supervisor's configuration, opaque here (its identity
    /// refuses a supervisor inside itself).
    pub(crate) nested: Option<Arc<dyn std::any::Any + Send + Sync>>,
    /// A blocking task's CPU-time probe.
    pub(crate) cpu: Option<Arc<dyn CpuTime>>,
    /// The child's mailbox, as its supervisor sees it (see `with_mailbox`).
    pub(crate) mailbox: Option<Arc<dyn crate::mailbox::Port>>,
}

/// Which settings a spec was given itself.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Explicit {
    restart: bool,
    shutdown: bool,
    backoff: bool,
    restart_limit: bool,
}

/// A supervisor's defaults for its children's settings
/// ([`Builder::default_restart`](crate::supervisor::Builder::default_restart)
/// and the like): each applies to the children that do not set their own.
#[derive(Debug, Clone, Default)]
pub(crate) struct ChildDefaults {
    pub(crate) restart: Option<Restart>,
    pub(crate) shutdown: Option<Shutdown>,
    pub(crate) backoff: Option<Backoff>,
    pub(crate) restart_limit: Option<RestartLimit>,
}

impl ChildSpec {
    /// Takes `defaults` for every setting this spec did not set itself.
    pub(crate) fn inherit(&mut self, defaults: &ChildDefaults) {
        if let (Some(r), false) = (defaults.restart, self.explicit.restart) {
            self.restart = r;
        }
        if let (Some(s), false) = (defaults.shutdown, self.explicit.shutdown) {
            self.shutdown = s;
        }
        if let (Some(b), false) = (&defaults.backoff, self.explicit.backoff) {
            self.backoff = b.clone();
        }
        if let (Some(l), false) = (defaults.restart_limit, self.explicit.restart_limit) {
            self.restart_limit = Some(l);
        }
    }
}

/// How long a ready-gated start waits for `ctx.ready()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReadyGate {
    /// `None`: wait as long as it takes (nested supervisors).
    pub(crate) timeout: Option<Duration>,
}

impl ChildSpec {
    /// A spec for `service` under `name`, with the defaults: [`Restart::Transient`],
    /// [`Shutdown::Graceful`] with 5 s, [`Backoff::default`] (exponential,
    /// 100 ms to 30 s), no restart limit, not ready-gated.
    ///
    /// The name must be non-empty, must not contain `/`, and must be unique
    /// among its siblings; this is checked when the supervisor is built.
    pub fn new(name: impl Into<String>, service: impl Service) -> Self {
        Self::erased(name, Arc::new(service))
    }

    /// A spec for a service that spawns its runs itself (a nested
    /// supervisor), with `new`'s defaults.
    pub(crate) fn erased(name: impl Into<String>, service: Arc<dyn ErasedService>) -> Self {
        ChildSpec {
            name: name.into().into(),
            service: Contained::new(service),
            kind: ChildKind::Worker,
            restart: Restart::default(),
            shutdown: Shutdown::default(),
            backoff: Backoff::default(),
            restart_limit: None,
            ready: None,
            heartbeat: None,
            periodic: None,
            explicit: Explicit::default(),
            significant: false,
            on_exit: None,
            nested: None,
            cpu: None,
            mailbox: None,
        }
    }

    /// A spec for a `service` that receives the messages of `mailbox`:
    /// each run gets the receiving end as an [`Inbox`](crate::Inbox),
    /// beside its context, and gives it back when it ends; the senders
    /// ([`mailbox::channel`](crate::mailbox::channel)) stay valid across
    /// every restart. The [`mailbox`](crate::mailbox) module says what
    /// happens to messages on a crash, a restart, a give-up or a removal.
    ///
    /// The inbox comes as an argument rather than from the [`Context`](crate::Context):
    /// it is typed at compile time, and a run cannot forget it or ask for
    /// the wrong type.
    ///
    /// A closure is simpler with [`with_mailbox_fn`](Self::with_mailbox_fn).
    ///
    /// ```
    /// use tokio_supervisor::{mailbox, BoxError, ChildSpec, Context, Inbox, MailboxService};
    ///
    /// struct Log {
    ///     prefix: &'static str,
    /// }
    ///
    /// impl MailboxService<String> for Log {
    ///     async fn run(&self, _ctx: Context, mut inbox: Inbox<String>) -> Result<(), BoxError> {
    ///         while let Some(line) = inbox.recv().await {
    ///             println!("{}{line}", self.prefix);
    ///         }
    ///         Ok(())
    ///     }
    /// }
    ///
    /// let (tx, mailbox) = mailbox::channel(64);
    /// let spec = ChildSpec::with_mailbox("log", mailbox, Log { prefix: "> " });
    /// assert!(spec.has_mailbox());
    /// # let _ = tx;
    /// ```
    pub fn with_mailbox<T, S>(
        name: impl Into<String>,
        mailbox: crate::Mailbox<T>,
        service: S,
    ) -> Self
    where
        T: Send + 'static,
        S: crate::MailboxService<T>,
    {
        let name = name.into();
        let (service, port) = mailbox.into_service(&name, service);
        let mut spec = ChildSpec::new(name, service);
        spec.mailbox = Some(port);
        spec
    }

    /// [`with_mailbox`](Self::with_mailbox) for a closure of the run's
    /// context and inbox, called once per run (as [`service_fn`](crate::service_fn)):
    /// the message type comes from the mailbox, so the closure needs no
    /// annotation.
    ///
    /// ```
    /// use tokio_supervisor::{mailbox, ChildSpec};
    ///
    /// let (tx, mailbox) = mailbox::channel::<(u64, u64)>(128);
    /// let spec = ChildSpec::with_mailbox_fn("sum", mailbox, |_ctx, mut inbox| async move {
    ///     while let Some((a, b)) = inbox.recv().await {
    ///         tracing::info!(sum = a + b);
    ///     }
    ///     Ok(())
    /// });
    /// # let _ = (tx, spec);
    /// ```
    pub fn with_mailbox_fn<T, F, Fut>(
        name: impl Into<String>,
        mailbox: crate::Mailbox<T>,
        f: F,
    ) -> Self
    where
        T: Send + 'static,
        F: Fn(crate::Context, crate::Inbox<T>) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = Result<(), crate::BoxError>> + Send + 'static,
    {
        ChildSpec::with_mailbox(name, mailbox, crate::mailbox::MailboxFn { f })
    }

    /// Whether the child has a mailbox ([`with_mailbox`](Self::with_mailbox)).
    #[must_use]
    pub fn has_mailbox(&self) -> bool {
        self.mailbox.is_some()
    }

    /// Sets the restart policy.
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self.explicit.restart = true;
        self
    }

    /// Sets how the child is stopped.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self.explicit.shutdown = true;
        self
    }

    /// Sets the delay policy between restarts.
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self.explicit.backoff = true;
        self
    }

    /// Sets the circuit breaker: more than `max` restarts within `window`
    /// and the child is given up, terminated with
    /// [`ExitReason::CircuitOpen`]; its siblings keep running.
    ///
    /// `max` 0 gives the child up at its first restart; `u32::MAX` means no
    /// limit. `window` must be greater than zero (`build` refuses zero with
    /// [`ConfigError::ZeroRestartWindow`](crate::ConfigError::ZeroRestartWindow));
    /// `Duration::MAX` counts every restart of the child's life: the
    /// `Restart { max }` of task registries.
    ///
    /// ```
    /// use std::time::Duration;
    /// # use tokio_supervisor::{task_fn, ChildSpec};
    /// # let (feed, job) = (task_fn(|| async {}), task_fn(|| async {}));
    /// // At most 5 restarts in any minute.
    /// let feed = ChildSpec::new("feed", feed).restart_limit(5, Duration::from_secs(60));
    /// // At most 3 restarts in the child's whole life.
    /// let job = ChildSpec::new("job", job).restart_limit(3, Duration::MAX);
    /// ```
    pub fn restart_limit(mut self, max: u32, window: Duration) -> Self {
        self.restart_limit = Some(RestartLimit { max, window });
        self.explicit.restart_limit = true;
        self
    }

    /// Makes the start ready-gated: the supervisor starts the next sibling
    /// only once this child has called [`Context::ready`](crate::Context::ready),
    /// and treats an exit, or no call within `timeout`, as a failed start.
    ///
    /// A failed start of the supervisor's own start (or of `start_child`)
    /// is not retried: the start fails, with the path. A *restart* that
    /// fails before ready is a failure like any other: retried after the
    /// backoff, counted toward the restart limit and the intensity, until
    /// one of them gives up. An error that no retry can fix is returned as
    /// [`Fatal`](crate::Fatal), to give the child up at once.
    ///
    /// `timeout` must be greater than zero (`build` and `start_child` refuse
    /// zero with [`ConfigError::ZeroDuration`](crate::ConfigError::ZeroDuration));
    /// a timeout too long to represent as a deadline (`Duration::MAX`)
    /// waits as long as it takes.
    pub fn wait_ready(mut self, timeout: Duration) -> Self {
        self.ready = Some(ReadyGate {
            timeout: Some(timeout),
        });
        self
    }

    /// Declares a heartbeat timeout: once running (ready, if ready-gated),
    /// the child must call [`Context::heartbeat`](crate::Context::heartbeat)
    /// at least every `timeout`. One that does not is hung: it is cancelled,
    /// aborted after its shutdown timeout if it ignores that, ends with
    /// [`ExitReason::Hung`], and is restarted per its policy.
    ///
    /// The deadlines live in the supervisor's timer queue (one entry per
    /// child, moved forward lazily): no task and no interval per child, and a
    /// heartbeat is one atomic store.
    ///
    /// `timeout` must be greater than zero (`build` and `start_child` refuse
    /// zero with [`ConfigError::ZeroDuration`](crate::ConfigError::ZeroDuration));
    /// a timeout too long to represent as a deadline (`Duration::MAX`) never
    /// declares the child hung.
    pub fn heartbeat(mut self, timeout: Duration) -> Self {
        self.heartbeat = Some(timeout);
        self
    }

    /// Makes the child periodic: each time its run returns `Ok`, it runs
    /// again `every` later, whatever its [`Restart`] policy and its
    /// supervisor's strategy (it alone runs again). For a poller or a job
    /// that works in rounds: it keeps its cadence forever.
    ///
    /// Such a run again is its cadence, not a failure: it neither grows the
    /// backoff (whose sequence starts over) nor counts toward the restart
    /// limit or the supervisor's intensity. OTP has no periodic child: a
    /// `Permanent` child that returns is restarted there and counted toward
    /// the intensity, as it is here without `periodic`. A failure (an
    /// `Err`, a panic) is handled as for any child: backoff, restart limit,
    /// intensity.
    ///
    /// `every` must be greater than zero (`build` and `start_child` refuse
    /// zero with [`ConfigError::ZeroDuration`](crate::ConfigError::ZeroDuration));
    /// one too long to represent as a deadline (`Duration::MAX`) never runs
    /// it again.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokio_supervisor::{service_fn, ChildSpec};
    ///
    /// let poll = ChildSpec::new("poll", service_fn(|_ctx| async move {
    ///     // fetch, publish ...
    ///     Ok(())
    /// }))
    /// .periodic(Duration::from_millis(100));
    /// # let _ = poll;
    /// ```
    pub fn periodic(mut self, every: Duration) -> Self {
        self.periodic = Some(every);
        self
    }

    /// Marks the child significant for its supervisor's
    /// [`AutoShutdown`](crate::AutoShutdown) (OTP 24's `significant`): when it
    /// ends on its own and is not restarted (a `Transient` child returning
    /// `Ok`, a `Temporary` child ending in any way), the supervisor may stop
    /// by itself. A significant child must not be `Permanent`, and its
    /// supervisor's auto-shutdown must not be `Never`.
    pub fn significant(mut self, significant: bool) -> Self {
        self.significant = significant;
        self
    }

    /// Whether the child is significant.
    #[must_use]
    pub fn is_significant(&self) -> bool {
        self.significant
    }

    /// The child's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The child's restart policy.
    #[must_use]
    pub fn restart_policy(&self) -> Restart {
        self.restart
    }

    /// The child's shutdown policy.
    #[must_use]
    pub fn shutdown_policy(&self) -> Shutdown {
        self.shutdown
    }

    /// Whether this spec runs a nested supervisor.
    #[must_use]
    pub fn is_supervisor(&self) -> bool {
        self.kind == ChildKind::Supervisor
    }
}

impl fmt::Debug for ChildSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChildSpec")
            .field("name", &self.name)
            .field("supervisor", &self.is_supervisor())
            .field("restart", &self.restart)
            .field("shutdown", &self.shutdown)
            .field("backoff", &self.backoff)
            .field("restart_limit", &self.restart_limit)
            .field("ready", &self.ready)
            .field("significant", &self.significant)
            .field("mailbox", &self.mailbox.as_ref().map(|m| m.stats()))
            .finish_non_exhaustive()
    }
}

/// Why a child or supervisor name is refused.
pub(crate) fn check_name(name: &str) -> Result<(), &'static str> {
    if name.is_empty() {
        Err("names must not be empty")
    } else if name.contains('/') {
        Err("names must not contain '/'")
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restart_matrix() {
        let ok = ExitReason::Completed;
        let err = ExitReason::Failed("e".into());
        let panic = ExitReason::Panicked("p".into());
        let abort = ExitReason::Aborted;
        assert!(Restart::Permanent.should_restart(&ok));
        assert!(Restart::Permanent.should_restart(&err));
        assert!(!Restart::Transient.should_restart(&ok));
        assert!(Restart::Transient.should_restart(&err));
        assert!(Restart::Transient.should_restart(&panic));
        assert!(
            Restart::Transient.should_restart(&abort),
            "a kill is abnormal"
        );
        for r in [&ok, &err, &panic, &abort] {
            assert!(!Restart::Temporary.should_restart(r));
        }
    }

    #[test]
    fn names() {
        assert!(check_name("feed").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a/b").is_err());
    }
}
