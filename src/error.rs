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

use crate::lifecycle::ExitReason;

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
    /// The intensity period is zero.
    #[error("supervisor `{supervisor}`: the intensity period must be greater than zero")]
    ZeroPeriod {
        /// The supervisor's path.
        supervisor: String,
    },
    /// A child's restart-limit window is zero.
    #[error("child `{path}`: the restart limit window must be greater than zero")]
    ZeroRestartWindow {
        /// The child's path.
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
    /// A supervisor was given no children.
    #[error("supervisor `{supervisor}` has no children")]
    NoChildren {
        /// The supervisor's path.
        supervisor: String,
    },
}

/// Why a supervisor failed.
///
/// A nested supervisor's failure is an abnormal exit of that child in its
/// parent; the root's failure is returned by
/// [`SupervisorHandle::wait`](crate::SupervisorHandle::wait) and
/// [`Supervisor::run_until_signal`](crate::Supervisor::run_until_signal), so
/// `main` can exit non-zero and let systemd or Kubernetes restart the
/// process.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SupervisorError {
    /// A child failed to start (an exit, panic or readiness timeout before it
    /// was ready); the children already started were stopped in reverse
    /// order.
    #[error("failed to start `{path}`: {reason}")]
    StartFailed {
        /// Full path of the child that failed.
        path: String,
        /// How its start ended.
        reason: ExitReason,
    },
    /// More than `max` restarts happened within `period`: the supervisor
    /// stopped all its children in reverse order and failed.
    #[error(
        "supervisor `{supervisor}` exceeded its restart intensity ({max} restarts in {period:?}); \
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
        /// The intensity period.
        period: Duration,
    },
    /// The supervisor was shut down before all its children had started.
    #[error("supervisor `{supervisor}` was shut down before all its children had started")]
    StartCancelled {
        /// The supervisor's path.
        supervisor: String,
    },
    /// `start` was called outside a tokio runtime.
    #[error("supervisor `{supervisor}` must be started inside a tokio runtime")]
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
