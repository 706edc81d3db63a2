//! The crate's error types.
//!
//! * [`ConfigError`]: a supervisor or spec that cannot be built. Returned
//!   by [`Builder::build`](crate::supervisor::Builder::build), before anything runs.
//! * [`SupervisorError`]: why a running supervisor failed (its start failed,
//!   or its restart intensity was exceeded). Returned by `start`, `wait`,
//!   `shutdown` and `run_until_signal`; cloneable, since every waiter gets
//!   it.
//!
//! Every message names the supervisor or child by its full path.

use std::time::Duration;

use crate::exit::ExitReason;

/// A configuration mistake, found when the supervisor is built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A child or supervisor name is empty or contains `/`.
    #[error("invalid name {name:?} at `{path}`: {reason}")]
    InvalidName {
        /// Where the name was given (the parent's path, plus the name).
        path: String,
        /// The refused name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Two siblings share a name.
    #[error("duplicate child name `{path}`: names must be unique among siblings")]
    DuplicateName {
        /// The path both children would have.
        path: String,
    },
    /// The intensity window is zero.
    #[error("supervisor `{supervisor}`: the intensity window must be greater than zero")]
    ZeroIntensityWindow {
        /// The supervisor's path.
        supervisor: String,
    },
    /// A child's restart-limit window is zero.
    #[error("child `{path}`: the restart limit window must be greater than zero")]
    ZeroRestartWindow {
        /// The child's path.
        path: String,
    },
    /// A timeout that would fail every run at once: `wait_ready` or
    /// `heartbeat` of zero.
    #[error("child `{path}`: {setting} must be greater than zero")]
    ZeroDuration {
        /// The child's path.
        path: String,
        /// The setting (`"wait_ready"` or `"heartbeat"`).
        setting: &'static str,
    },
    /// A supervisor started as a child of itself or of one of its own
    /// descendants (`start_child` of a clone of an ancestor): its tree would
    /// contain itself.
    #[error("`{path}`: a supervisor cannot be started inside itself")]
    NestedInItself {
        /// The path it would have had.
        path: String,
    },
    /// A child's backoff parameters are out of range.
    #[error("child `{path}`: invalid backoff: {reason}")]
    InvalidBackoff {
        /// The child's path.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A significant child is `Permanent`: it would never end on its own
    /// terms, so it could never trigger the auto-shutdown (OTP refuses it too).
    #[error("child `{path}`: a significant child must not be permanent")]
    SignificantPermanent {
        /// The child's path.
        path: String,
    },
    /// A significant child under a supervisor whose auto-shutdown is `Never`.
    #[error(
        "child `{path}`: significant children need auto_shutdown AnySignificant or AllSignificant"
    )]
    SignificantWithoutAutoShutdown {
        /// The child's path.
        path: String,
    },
    /// `max_children` on a static supervisor.
    #[error("supervisor `{supervisor}`: max_children is for dynamic supervisors")]
    MaxChildrenOnStatic {
        /// The supervisor's path.
        supervisor: String,
    },
    /// A dedicated runtime that cannot be built as configured.
    #[error("supervisor `{supervisor}`: invalid dedicated runtime: {reason}")]
    InvalidRuntime {
        /// The supervisor's path.
        supervisor: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An option that a dynamic supervisor does not support.
    #[error("dynamic supervisor `{supervisor}`: {reason}")]
    Dynamic {
        /// The supervisor's path.
        supervisor: String,
        /// What is not supported.
        reason: &'static str,
    },
}

/// Why a supervisor failed.
///
/// A nested supervisor that fails a start fails its parent's start; one
/// that exceeds its intensity ends, in its parent, with
/// [`ExitReason::Shutdown`] (as OTP's), restarted there if it is
/// `Permanent`. The root's failure is returned by
/// [`SupervisorHandle::wait`](crate::SupervisorHandle::wait) and
/// [`SupervisorHandle::run_until_signal`](crate::SupervisorHandle::run_until_signal), so
/// `main` can exit non-zero and let systemd or Kubernetes restart the
/// process.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// A child failed to start (an exit, panic or readiness timeout before it
    /// was ready); the children already started were stopped in reverse
    /// order.
    #[error("failed to start `{path}`: {}", reason.message())]
    StartFailed {
        /// Full path of the child that failed.
        path: String,
        /// How its start ended.
        reason: ExitReason,
    },
    /// More than `max` restarts happened within `window`: the supervisor
    /// stopped all its children in reverse order and failed.
    #[error(
        "supervisor `{supervisor}` exceeded its restart intensity ({max} restarts in {window:?}); \
         last exit: `{child}` {reason}"
    )]
    IntensityExceeded {
        /// The supervisor's path.
        supervisor: String,
        /// Full path of the child whose exit broke the limit.
        child: String,
        /// How that child's run ended.
        reason: ExitReason,
        /// The intensity.
        max: u32,
        /// The intensity window.
        window: Duration,
    },
    /// The stop's budget ([`Builder::shutdown_budget`](crate::supervisor::Builder::shutdown_budget))
    /// ran out: the children still running were aborted.
    #[error(
        "supervisor `{supervisor}` did not stop within its budget of {budget:?}; aborted: {}",
        aborted.join(", ")
    )]
    ShutdownBudgetExceeded {
        /// The supervisor's path.
        supervisor: String,
        /// The budget.
        budget: Duration,
        /// The children aborted, by path, in stop order (a nested
        /// supervisor for its whole subtree).
        aborted: Vec<String>,
    },
    /// The supervisor was shut down before all its children had started.
    #[error("supervisor `{supervisor}` was shut down before all its children had started")]
    StartCancelled {
        /// The supervisor's path.
        supervisor: String,
    },
    /// `start` was called outside a tokio runtime, or inside one without
    /// its time driver (`enable_time` or `enable_all`), which restarts and
    /// stops need.
    #[error("supervisor `{supervisor}` must be started inside a tokio runtime with time enabled")]
    NoRuntime {
        /// The supervisor's path.
        supervisor: String,
    },
    /// The signal handlers of `run_until_signal` could not be installed.
    #[error("supervisor `{supervisor}`: cannot listen for signals: {message}")]
    Signal {
        /// The supervisor's path.
        supervisor: String,
        /// The operating system's error.
        message: String,
    },
    /// The supervisor's task ended without reporting an outcome: its runtime
    /// was shut down under it, or it panicked (a bug: please report it).
    #[error(
        "supervisor `{supervisor}` ended without an outcome (runtime shut down or internal panic)"
    )]
    Lost {
        /// The supervisor's path.
        supervisor: String,
    },
}

impl SupervisorError {
    /// The full path of the child this error is about, if any.
    #[must_use]
    pub fn child_path(&self) -> Option<&str> {
        match self {
            SupervisorError::StartFailed { path, .. } => Some(path),
            SupervisorError::IntensityExceeded { child, .. } => Some(child),
            _ => None,
        }
    }
}

/// Why a command on a [`SupervisorHandle`](crate::SupervisorHandle) was
/// refused; OTP's answers, typed. Every message names the path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// No child at this path.
    #[error("no child `{path}`")]
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// `start_child`: a child of that name is running (OTP's `already_started`).
    #[error("child `{path}` is already running")]
    AlreadyRunning {
        /// The child's path.
        path: String,
    },
    /// `start_child`: a child of that name exists but is not running (OTP's
    /// `already_present`); use `restart_child` or `delete_child`.
    #[error("child `{path}` is already present (not running); restart or delete it")]
    AlreadyPresent {
        /// The child's path.
        path: String,
    },
    /// `restart_child` / `delete_child` of a running child.
    #[error("child `{path}` is running")]
    Running {
        /// The child's path.
        path: String,
    },
    /// `restart_child` / `delete_child` of a child waiting to be restarted.
    #[error("child `{path}` is restarting")]
    Restarting {
        /// The child's path.
        path: String,
    },
    /// A path that goes through a child that is not a supervisor, or through
    /// a nested supervisor that is not running.
    #[error("`{path}` is not a running supervisor")]
    NotASupervisor {
        /// The path of that child.
        path: String,
    },
    /// A name refused (empty, or with `/`).
    #[error("invalid child name {name:?} at `{path}`: {reason}")]
    InvalidName {
        /// Where the name was given.
        path: String,
        /// The name.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A spec refused (see [`ConfigError`]).
    #[error(transparent)]
    InvalidSpec(#[from] ConfigError),
    /// A dynamic supervisor already has `max` children.
    #[error("supervisor `{supervisor}` already has its maximum of {max} children")]
    MaxChildren {
        /// The supervisor's path.
        supervisor: String,
        /// Its `max_children`.
        max: usize,
    },
    /// The child failed to start (an exit or readiness timeout before ready).
    /// A child added by `start_child` is not kept; one restarted by
    /// `restart_child` is kept, terminated.
    #[error("failed to start `{path}`: {}", reason.message())]
    StartFailed {
        /// The child's path.
        path: String,
        /// How its start ended.
        reason: ExitReason,
    },
    /// The supervisor is stopping.
    #[error("supervisor `{supervisor}` is shutting down")]
    ShuttingDown {
        /// The supervisor's path.
        supervisor: String,
    },
    /// The supervisor has stopped.
    #[error("supervisor `{supervisor}` has stopped")]
    Stopped {
        /// The supervisor's path.
        supervisor: String,
    },
}
