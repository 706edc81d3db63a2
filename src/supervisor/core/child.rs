//! One entry of the child table: the spec, the state, the counters and the
//! requests waiting on it. Owned by the core; nothing here is shared.
//!
//! # Invariants
//!
//! * `state.run()` is some exactly when a run of this child has not ended.
//! * `state.deadline()` is the one live deadline of this child in the
//!   core's queue, if any; it is taken when the deadline passes or is
//!   removed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::decision::RestartState;
use super::state::State;
use crate::lifecycle::{ChildSnapshot, ExitReason, Phase};
use crate::metrics::ChildCounters;
use crate::{ChildSpec, SupervisorError};

/// A request waiting for something to happen to a child: the key of its
/// reply in `Core::replies`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Waiter {
    /// `start_child`: answered with the path once ready.
    Added(usize),
    /// `restart_child`: answered once ready.
    Restarted(usize),
    /// `terminate_child`: answered once the run has ended.
    Terminated(usize),
}

#[derive(Debug)]
pub(crate) struct Child {
    /// Shared with the configuration: one pointer, cloned with one increment.
    pub(crate) spec: Arc<ChildSpec>,
    pub(crate) counters: Arc<ChildCounters>,
    pub(crate) state: State,
    /// When the phase shown last changed.
    pub(crate) since: Instant,
    pub(crate) restart_state: RestartState,
    pub(crate) starts: u64,
    pub(crate) restarts: u64,
    pub(crate) failures: u64,
    pub(crate) last_exit: Option<ExitReason>,
    /// The last failure, kept only while `last_exit` is not one (a failure
    /// followed by a clean exit).
    /// Boxed: rare, and this sits in every slot of the table.
    pub(crate) earlier_failure: Option<Box<ExitReason>>,
    /// A nested supervisor's own error, kept to report a failed start with
    /// the deepest path.
    pub(crate) last_supervisor_error: Option<Box<SupervisorError>>,
    /// Uptime of ended runs, in microseconds.
    pub(crate) total_uptime_us: u64,
    /// Commands waiting on this child.
    /// Boxed: commands rarely wait on a child, and this sits in every slot
    /// of the table (8 bytes instead of a `Vec`'s 24).
    #[allow(clippy::box_collection)]
    pub(crate) waiters: Option<Box<Vec<Waiter>>>,
}

/// Asserts that the lifecycle allows the change of phase `from` → `to`.
#[cfg(debug_assertions)]
fn check_transition(path: &str, from: &Phase, to: &Phase) {
    // A start that is ready at once passes through `Starting` or
    // `Restarting` within the one input.
    let through = |m: Phase| from.can_transition_to(&m) && m.can_transition_to(to);
    if !from.can_transition_to(to) && !through(Phase::Starting) && !through(Phase::Restarting) {
        invalid_transition(path, from, to);
    }
}

/// `set`'s report of a bug, out of the hot path.
#[cfg(debug_assertions)]
#[cold]
#[inline(never)]
fn invalid_transition(path: &str, from: &Phase, to: &Phase) {
    let e = crate::lifecycle::InvalidTransition {
        from: from.as_str(),
        to: to.as_str(),
    };
    tracing::error!(path = %path, error = %e, "bug: invalid lifecycle transition");
    debug_assert!(false, "{path}: {e}");
}

impl Child {
    pub(crate) fn new(spec: Arc<ChildSpec>, counters: Arc<ChildCounters>, now: Instant) -> Self {
        // The mailbox learns its path and accepts messages; the counters
        // keep it, for the metrics and lookups by path.
        counters.attach_mailbox(spec.mailbox.as_ref());
        Child {
            restart_state: RestartState::new(&spec),
            spec,
            counters,
            state: State::Pending {
                shown: Phase::Starting,
            },
            since: now,
            starts: 0,
            restarts: 0,
            failures: 0,
            earlier_failure: None,
            last_exit: None,
            last_supervisor_error: None,
            total_uptime_us: 0,
            waiters: None,
        }
    }

    /// The child's full path (`app/db/pool`), kept once, in its metrics
    /// counters, which need it too.
    pub(crate) fn path(&self) -> &Arc<str> {
        self.counters.path()
    }

    /// Whether the child counts as alive for `AllSignificant`: not
    /// terminated, or about to be started again.
    pub(crate) fn is_alive_or_pending(&self) -> bool {
        !self.state.is_terminated()
    }

    /// Whether the child has a run that has not ended.
    pub(crate) fn is_live(&self) -> bool {
        self.state.run().is_some()
    }

    /// Adds a command waiting on this child.
    pub(crate) fn wait(&mut self, w: Waiter) {
        self.waiters.get_or_insert_with(Default::default).push(w);
    }

    /// Takes the requests waiting on this child.
    pub(crate) fn take_waiters(&mut self) -> Vec<Waiter> {
        self.waiters.take().map(|b| *b).unwrap_or_default()
    }

    /// Whether a `start_child` is waiting for this child's start.
    pub(crate) fn is_being_added(&self) -> bool {
        self.waiters
            .iter()
            .flat_map(|w| w.iter())
            .any(|w| matches!(w, Waiter::Added(_)))
    }

    /// Whether a request waits for this child's start.
    pub(crate) fn start_awaited(&self) -> bool {
        self.waiters
            .iter()
            .flat_map(|w| w.iter())
            .any(|w| matches!(w, Waiter::Added(_) | Waiter::Restarted(_)))
    }

    /// Moves to `next`, and returns the state it leaves. In debug builds,
    /// a change of the phase shown that the lifecycle does not allow (a bug
    /// of this crate) is asserted on.
    #[inline]
    pub(crate) fn set(&mut self, next: State, now: Instant) -> State {
        let (from, to) = (self.state.shown(), next.shown());
        if std::mem::discriminant(&from) != std::mem::discriminant(&to) {
            #[cfg(debug_assertions)]
            check_transition(self.path(), &from, &to);
            // The mailbox follows: running, terminated (closed, its queue
            // dropped), or pending again.
            if let Some(mailbox) = &self.spec.mailbox {
                mailbox.phase(&next.phase());
            }
            self.since = now;
        }
        std::mem::replace(&mut self.state, next)
    }

    /// The phase shown to the outside.
    pub(crate) fn phase(&self) -> Phase {
        self.state.phase()
    }

    /// Records how a run ended; a failure is counted.
    pub(crate) fn record_exit(&mut self, reason: ExitReason) {
        if reason.is_failure() {
            self.failures += 1;
            self.earlier_failure = None;
        } else if let Some(prev) = self.last_exit.take().filter(ExitReason::is_failure) {
            self.earlier_failure = Some(Box::new(prev));
        }
        self.last_exit = Some(reason);
    }

    /// The reason of the last exit; `Completed` if the child has not
    /// exited yet (nothing asks then).
    pub(crate) fn exit_reason(&self) -> ExitReason {
        self.last_exit.clone().unwrap_or(ExitReason::Completed)
    }

    /// `next_restart`: when it restarts, if it waits to (from the timers).
    pub(crate) fn snapshot(&self, now: Instant, next_restart: Option<Instant>) -> ChildSnapshot {
        let uptime = self
            .state
            .run()
            .map(|r| now.saturating_duration_since(r.started_at));
        let last_exit = self.last_exit.clone();
        let last_error = match &last_exit {
            Some(r) if r.is_failure() => Some(r.message()),
            _ => self.earlier_failure.as_deref().map(ExitReason::message),
        };
        ChildSnapshot {
            path: self.path().clone(),
            name: self.spec.name.clone(),
            phase: self.phase(),
            restart: self.spec.restart,
            is_supervisor: self.spec.is_supervisor(),
            starts: self.starts,
            restarts: self.restarts,
            failures: self.failures,
            last_error,
            last_exit,
            uptime,
            total_uptime: Duration::from_micros(self.total_uptime_us) + uptime.unwrap_or_default(),
            next_restart_in: next_restart.map(|t| t.saturating_duration_since(now)),
            cpu_time: self.spec.cpu.as_ref().and_then(|p| p.cpu_time()),
            in_phase_for: now.saturating_duration_since(self.since),
            mailbox: self.spec.mailbox.as_ref().map(|m| m.stats()),
        }
    }
}
