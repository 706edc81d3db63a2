//! The lifecycle of a child: its [`Phase`], why it ended ([`ExitReason`]),
//! and a plain copy of its state for operators ([`ChildSnapshot`]).
//!
//! # Why a validated state machine
//!
//! Hand-written supervisors keep a child's state in a loose enum that any
//! code path may overwrite. Bugs then show up as impossible states: a child
//! "running" while its restart timer is armed, or "terminated" and restarted
//! by a stale timer. Here a child's state is one enum whose variants carry
//! their own data, so that such states cannot be written, and the phase is
//! derived from it; the crate's debug builds (its tests) assert that every
//! change of phase is one [`Phase::can_transition_to`] allows.
//!
//! The allowed transitions are drawn on [`Phase`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use crate::exit::ExitReason;
use crate::restart::Restart;

/// Where a child is in its lifecycle.
///
/// Every change is one [`Phase::can_transition_to`] allows:
///
/// ```text
///            ┌──────────────────────────────────────────────┐
///            ▼                                              │ restart_child
///        Starting ──► Running ──► BackingOff ──► Restarting ─┤
///            │           │  ▲          │            │  │     │
///            │           │  └──────────┼────────────┘  │     │
///            │           ▼             ▼               ▼     │
///            └──────► Stopping ──► Terminated(reason) ◄──────┘
/// ```
///
/// `Running → Restarting` is taken directly when the backoff delay is zero;
/// `Stopping → Restarting` / `Stopping → BackingOff` when a group strategy
/// stops a sibling in order to restart it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Phase {
    /// Spawned for the first time (or by hand); for a ready-gated child, not
    /// yet ready.
    Starting,
    /// Running (and ready, if the child is ready-gated).
    Running,
    /// Exited and waiting for its backoff delay before the next attempt.
    BackingOff,
    /// Being started again after an exit; for a ready-gated child, spawned
    /// but not yet ready.
    Restarting,
    /// Asked to stop (cancelled, or aborted for [`Shutdown::Brutal`]) and not
    /// yet exited.
    ///
    /// [`Shutdown::Brutal`]: crate::Shutdown::Brutal
    Stopping,
    /// Not running and not scheduled to run again.
    Terminated(ExitReason),
}

impl Phase {
    /// A short lowercase name for the phase (`"backing_off"`), without the
    /// exit reason: the variant's name, as serde writes it.
    ///
    /// A child given up by its circuit breaker is `"terminated"`, like any
    /// other ended child; its reason tells them apart
    /// ([`ExitReason::as_str`] is `"circuit_open"`, and [`Display`] prints
    /// `terminated (circuit open: …)`). Match on
    /// `Phase::Terminated(ExitReason::CircuitOpen { .. })` to find the
    /// children given up.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokio_supervisor::{ExitReason, Phase};
    ///
    /// let given_up = Phase::Terminated(ExitReason::CircuitOpen {
    ///     restarts: 5,
    ///     window: Some(Duration::from_secs(60)),
    /// });
    /// assert_eq!(given_up.as_str(), "terminated");
    /// assert_eq!(
    ///     given_up.to_string(),
    ///     "terminated (circuit open: more than 5 restarts within 60s)"
    /// );
    /// ```
    ///
    /// [`Display`]: fmt::Display
    #[must_use]
    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::Starting => "starting",
            Phase::Running => "running",
            Phase::BackingOff => "backing_off",
            Phase::Restarting => "restarting",
            Phase::Stopping => "stopping",
            Phase::Terminated(_) => "terminated",
        }
    }

    /// Whether the lifecycle allows going from `self` to `next`.
    ///
    /// The exit reason of [`Phase::Terminated`] plays no part in the answer.
    ///
    /// ```
    /// use tokio_supervisor::{ExitReason, Phase};
    ///
    /// assert!(Phase::Running.can_transition_to(&Phase::BackingOff));
    /// assert!(!Phase::BackingOff.can_transition_to(&Phase::Running));
    /// assert!(!Phase::Terminated(ExitReason::Completed).can_transition_to(&Phase::Running));
    /// ```
    #[must_use]
    pub fn can_transition_to(&self, next: &Phase) -> bool {
        use Phase::*;
        matches!(
            (self, next),
            (Starting, Running | Stopping | BackingOff | Terminated(_))
                | (Running, BackingOff | Restarting | Stopping | Terminated(_))
                | (BackingOff, Restarting | Terminated(_))
                | (Restarting, Running | BackingOff | Stopping | Terminated(_))
                | (Stopping, Terminated(_) | Restarting | BackingOff)
                | (Terminated(_), Starting)
        )
    }

    /// Whether the child has a task that is alive (starting, running,
    /// restarting or stopping).
    #[must_use]
    pub fn is_alive(&self) -> bool {
        matches!(
            self,
            Phase::Starting | Phase::Running | Phase::Restarting | Phase::Stopping
        )
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Phase::Terminated(reason) => write!(f, "terminated ({reason})"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// A change of [`Phase`] that the lifecycle does not allow: a bug of this
/// crate's, asserted on in debug builds (see `Child::set`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid lifecycle transition from {from} to {to}")]
#[cfg_attr(not(debug_assertions), allow(dead_code))]
pub(crate) struct InvalidTransition {
    /// The phase the child was in.
    pub(crate) from: &'static str,
    /// The phase that was refused.
    pub(crate) to: &'static str,
}

/// A plain, serializable copy of one child's lifecycle, as returned by
/// [`SupervisorHandle::which_children`](crate::SupervisorHandle::which_children).
///
/// Times are durations (relative to the moment the snapshot was taken), so
/// the snapshot serializes without a clock.
///
/// ```
/// # use tokio_supervisor::ChildSnapshot;
/// fn print(children: &[ChildSnapshot]) {
///     for c in children {
///         println!("{} {} starts={} restarts={}", c.path, c.phase, c.starts, c.restarts);
///     }
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChildSnapshot {
    /// Full path from the root supervisor (`app/db/pool`).
    pub path: Arc<str>,
    /// The child's name (the last segment of the path).
    pub name: Arc<str>,
    /// Current phase (with the exit reason once terminated).
    pub phase: Phase,
    /// The child's restart policy.
    pub restart: Restart,
    /// Whether the child is a nested supervisor.
    pub is_supervisor: bool,
    /// How many times a task was spawned for the child (the first start
    /// included).
    pub starts: u64,
    /// How many times the supervisor started the child again after an exit
    /// (its automatic restarts, group restarts included; not
    /// `restart_child`).
    pub restarts: u64,
    /// How many runs ended abnormally (error, panic, abort, ready timeout,
    /// hang): those for which [`ExitReason::is_failure`] holds.
    pub failures: u64,
    /// The message of the most recent failure, if any ([`ExitReason::message`]:
    /// a returned error's own text, or `"panicked: …"`).
    pub last_error: Option<String>,
    /// Why the most recent run ended, if one has ended.
    pub last_exit: Option<ExitReason>,
    /// How long the current run has been going, if the child is alive.
    pub uptime: Option<Duration>,
    /// Total time spent alive over all runs, the current one included.
    pub total_uptime: Duration,
    /// When backing off, how long until the next attempt.
    pub next_restart_in: Option<Duration>,
    /// For a blocking task: the CPU time its thread has used, where the
    /// platform tells it cheaply (Linux).
    pub cpu_time: Option<Duration>,
    /// How long the child has been in its current phase (backing off for
    /// how long, terminated since when).
    pub in_phase_for: Duration,
    /// The child's mailbox, if it has one
    /// ([`ChildSpec::with_mailbox`](crate::ChildSpec::with_mailbox)): its
    /// queue depth, and the messages dropped or refused.
    #[serde(default)]
    pub mailbox: Option<MailboxStats>,
}

/// A child's [mailbox](crate::mailbox) as its snapshot and its metrics
/// show it. Defined here, with the snapshot, so that the lifecycle depends
/// on no other module.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MailboxStats {
    /// How many messages it holds at most.
    pub capacity: usize,
    /// Messages queued now, not yet received.
    pub queued: usize,
    /// Messages that were queued and dropped unreceived, because the child
    /// terminated or was removed.
    pub dropped: u64,
    /// Sends refused: the mailbox was full (`try_send`), closed, or stayed
    /// full until the send's timeout.
    pub refused: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all() -> Vec<Phase> {
        vec![
            Phase::Starting,
            Phase::Running,
            Phase::BackingOff,
            Phase::Restarting,
            Phase::Stopping,
            Phase::Terminated(ExitReason::Completed),
        ]
    }

    /// The diagram of the module docs, written out independently of the
    /// implementation's `match`.
    const ALLOWED: &[(&str, &str)] = &[
        ("starting", "running"),
        ("starting", "stopping"),
        ("starting", "backing_off"),
        ("starting", "terminated"),
        ("running", "backing_off"),
        ("running", "restarting"),
        ("running", "stopping"),
        ("running", "terminated"),
        ("backing_off", "restarting"),
        ("backing_off", "terminated"),
        ("restarting", "running"),
        ("restarting", "backing_off"),
        ("restarting", "stopping"),
        ("restarting", "terminated"),
        ("stopping", "terminated"),
        ("stopping", "restarting"),
        ("stopping", "backing_off"),
        ("terminated", "starting"),
    ];

    #[test]
    fn every_pair_is_allowed_exactly_when_listed() {
        let mut refused = 0;
        for from in all() {
            for to in all() {
                let listed = ALLOWED.contains(&(from.as_str(), to.as_str()));
                assert_eq!(from.can_transition_to(&to), listed, "{from} -> {to}");
                if !listed {
                    refused += 1;
                }
            }
        }
        assert_eq!(refused, 36 - ALLOWED.len());
    }

    #[test]
    fn no_phase_transitions_to_itself() {
        for p in all() {
            assert!(!p.can_transition_to(&p.clone()), "{p}");
        }
    }

    #[test]
    fn the_reason_does_not_matter_for_terminated() {
        for reason in [
            ExitReason::Shutdown,
            ExitReason::Failed("x".into()),
            ExitReason::CircuitOpen {
                restarts: 3,
                window: Some(Duration::from_secs(1)),
            },
        ] {
            assert!(Phase::Running.can_transition_to(&Phase::Terminated(reason.clone())));
            assert!(!Phase::Terminated(reason).can_transition_to(&Phase::Running));
        }
    }

    #[test]
    fn failures_are_the_abnormal_exits() {
        assert!(!ExitReason::Completed.is_failure());
        assert!(!ExitReason::Shutdown.is_failure());
        assert!(ExitReason::Failed("e".into()).is_failure());
        assert!(ExitReason::Panicked("p".into()).is_failure());
        assert!(ExitReason::Aborted.is_failure());
        assert!(ExitReason::ReadyTimeout {
            timeout: Duration::from_secs(1)
        }
        .is_failure());
        assert!(!ExitReason::CircuitOpen {
            restarts: 1,
            window: Some(Duration::from_secs(1))
        }
        .is_failure());
    }

    #[test]
    fn phase_serializes_with_its_reason() {
        let p = Phase::Terminated(ExitReason::Panicked("boom".into()));
        let json = serde_json::to_string(&p).unwrap();
        assert_eq!(json, r#"{"terminated":{"panicked":"boom"}}"#);
        let back: Phase = serde_json::from_str(&json).unwrap();
        assert_eq!(back, p);
        assert_eq!(
            serde_json::to_string(&Phase::BackingOff).unwrap(),
            r#""backing_off""#
        );
    }
}
