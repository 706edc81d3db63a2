//! Lifecycle events, for subscribers that want to see what happens as it
//! happens (a log line, a dashboard, a test).
//!
//! Events go through a [`tokio::sync::broadcast`] channel shared by the
//! whole tree (a nested supervisor's events reach the root's subscribers).
//! Sending never waits: a subscriber that falls more than
//! [`EVENT_CAPACITY`] events behind loses the oldest ones, and its next
//! `recv` returns [`RecvError::Lagged(n)`](tokio::sync::broadcast::error::RecvError::Lagged)
//! with the number lost. A slow subscriber never slows the supervisor.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::exit::ExitReason;

/// How many events a subscriber may fall behind before it loses the oldest.
pub const EVENT_CAPACITY: usize = 1024;

/// Something that happened to a child or a supervisor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Event {
    /// Full path of the child or supervisor (`app/db/pool`).
    pub path: Arc<str>,
    /// Wall-clock time of the event.
    pub at: SystemTime,
    /// What happened.
    pub kind: EventKind,
}

/// What happened; see [`Event`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum EventKind {
    /// A task was spawned for the child; `attempt` 1 is the first start.
    Started {
        /// Which run this is.
        attempt: u32,
    },
    /// A ready-gated child called `ctx.ready()`.
    Ready,
    /// The child's run ended.
    Exited {
        /// Why it ended.
        reason: ExitReason,
    },
    /// The child will be restarted after `delay`.
    BackingOff {
        /// The backoff delay.
        delay: Duration,
    },
    /// The child is being restarted (a `Started` follows).
    Restarted {
        /// The attempt that is about to start.
        attempt: u32,
    },
    /// The child's circuit breaker opened; it will not be restarted.
    GaveUp {
        /// [`ExitReason::CircuitOpen`] with the limit.
        reason: ExitReason,
    },
    /// A child was added at run time (`start_child`) and has started.
    ChildAdded,
    /// A child was removed from its supervisor (a `Temporary` child ended,
    /// or `delete_child`).
    ChildRemoved,
    /// The supervisor started all its children.
    SupervisorStarted,
    /// The supervisor failed (intensity exceeded, or a failed start).
    SupervisorFailed {
        /// The error's message.
        error: String,
    },
    /// The supervisor began stopping its children (in reverse order).
    ShutdownStarted,
    /// The supervisor and all its children have stopped.
    ShutdownDone,
}
