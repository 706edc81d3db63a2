//! Why a child's run ended: [`ExitReason`], the one vocabulary of exits
//! that policies, snapshots, events and errors share.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why a child's run ended.
///
/// In OTP terms: [`Completed`](Self::Completed) is `normal`,
/// [`Shutdown`](Self::Shutdown) is `shutdown`, [`Aborted`](Self::Aborted) is
/// `killed`, and the failures are abnormal exits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ExitReason {
    /// `run` returned `Ok(())` without being asked to stop.
    Completed,
    /// `run` returned `Ok(())` after the supervisor asked it to stop, or the
    /// child was stopped while it was not running (backing off).
    Shutdown,
    /// `run` returned `Err`; the message is the error and its sources,
    /// joined with `": "`.
    Failed(Arc<str>),
    /// `run` panicked; the panic message.
    Panicked(Arc<str>),
    /// The task was aborted: [`Shutdown::Brutal`], or a graceful shutdown
    /// whose timeout ran out.
    ///
    /// [`Shutdown::Brutal`]: crate::Shutdown::Brutal
    Aborted,
    /// A ready-gated child did not call [`Context::ready`] within its timeout.
    ///
    /// [`Context::ready`]: crate::Context::ready
    ReadyTimeout {
        /// The timeout given to [`ChildSpec::wait_ready`](crate::ChildSpec::wait_ready).
        timeout: Duration,
    },
    /// The child stopped calling [`Context::heartbeat`] for longer than its
    /// [`ChildSpec::heartbeat`] timeout: it was hung, so it was cancelled
    /// (and aborted after its shutdown timeout) to be restarted.
    ///
    /// [`Context::heartbeat`]: crate::Context::heartbeat
    /// [`ChildSpec::heartbeat`]: crate::ChildSpec::heartbeat
    Hung {
        /// The heartbeat timeout.
        timeout: Duration,
    },
    /// `run` returned an error wrapped in [`Fatal`](crate::Fatal): given up at
    /// once, whatever its restart policy (with the error's text).
    Fatal(Arc<str>),
    /// The child's circuit breaker opened: it needed more than `restarts`
    /// restarts within `window`, and was given up.
    CircuitOpen {
        /// The restart limit that was exceeded.
        restarts: u32,
        /// The window of the restart limit; `None` for a limit over the
        /// child's whole life (a window of `Duration::MAX`, see
        /// [`ChildSpec::restart_limit`](crate::ChildSpec::restart_limit)).
        window: Option<Duration>,
    },
}

impl ExitReason {
    /// Whether this is an abnormal exit: an error, a panic, an abort, a
    /// readiness timeout or a hang ([`Hung`](Self::Hung): no heartbeat
    /// within its timeout). A [`Transient`](crate::Restart::Transient)
    /// child is restarted exactly on these.
    ///
    /// [`CircuitOpen`](Self::CircuitOpen) is not one: it is the breaker's
    /// verdict on earlier failures, not how a run ended.
    #[must_use]
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            ExitReason::Failed(_)
                | ExitReason::Fatal(_)
                | ExitReason::Panicked(_)
                | ExitReason::Aborted
                | ExitReason::ReadyTimeout { .. }
                | ExitReason::Hung { .. }
        )
    }

    /// What went wrong, as a person reads it: a returned error's own text
    /// (`"connection refused"`, with its sources), or else the reason as
    /// [`Display`](std::fmt::Display) writes it (`"panicked: boom"`). It is
    /// a snapshot's `last_error`, and the end of a failed start's message.
    ///
    /// ```
    /// # use tokio_supervisor::ExitReason;
    /// assert_eq!(ExitReason::Failed("refused".into()).message(), "refused");
    /// assert_eq!(ExitReason::Panicked("boom".into()).message(), "panicked: boom");
    /// ```
    #[must_use]
    pub fn message(&self) -> String {
        match self {
            ExitReason::Failed(msg) | ExitReason::Fatal(msg) => msg.to_string(),
            other => other.to_string(),
        }
    }

    /// A short lowercase label (`"panicked"`), suitable for a metric label.
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            ExitReason::Completed => "completed",
            ExitReason::Shutdown => "shutdown",
            ExitReason::Failed(_) => "failed",
            ExitReason::Fatal(_) => "fatal",
            ExitReason::Panicked(_) => "panicked",
            ExitReason::Aborted => "aborted",
            ExitReason::ReadyTimeout { .. } => "ready_timeout",
            ExitReason::Hung { .. } => "hung",
            ExitReason::CircuitOpen { .. } => "circuit_open",
        }
    }
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Completed => f.write_str("completed"),
            ExitReason::Shutdown => f.write_str("shut down"),
            ExitReason::Failed(msg) => write!(f, "failed: {msg}"),
            ExitReason::Fatal(msg) => write!(f, "fatal: {msg}"),
            ExitReason::Panicked(msg) => write!(f, "panicked: {msg}"),
            ExitReason::Aborted => f.write_str("aborted"),
            ExitReason::ReadyTimeout { timeout } => {
                write!(f, "not ready within {timeout:?}")
            }
            ExitReason::Hung { timeout } => write!(f, "hung: no heartbeat for {timeout:?}"),
            ExitReason::CircuitOpen {
                restarts,
                window: None,
            } => write!(f, "circuit open: more than {restarts} restarts"),
            ExitReason::CircuitOpen {
                restarts,
                window: Some(window),
            } => write!(
                f,
                "circuit open: more than {restarts} restarts within {window:?}"
            ),
        }
    }
}
