//! One entry of the child table: the spec, the lifecycle, the current run
//! and the counters. Owned by the supervisor's loop; nothing here is shared.
//!
//! # Invariants
//!
//! * `run.is_some()` exactly when a run of this child has not reported its
//!   end (phases `Starting`, `Running`, `Restarting`, `Stopping`).
//! * `timer` is the one live entry of this child in the loop's timers, if any
//!   (restart delay, kill deadline or readiness deadline; never two at once);
//!   it is cleared when the entry expires or is removed.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::decision::RestartState;
use super::protocol::Reply;
use crate::lifecycle::{ChildSnapshot, ExitReason, Phase};
use crate::metrics::ChildCounters;
use crate::{ChildSpec, Context, ControlError, SupervisorError};

/// The current run of a child.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) ctx: Context,
    /// Its task, kept to abort it; it reports its end itself.
    pub(crate) task: JoinHandle<()>,
    pub(crate) started_at: Instant,
    pub(crate) id: u64,
    /// Ready (always true for children that are not ready-gated).
    pub(crate) ready: bool,
    /// The readiness deadline passed and the task was aborted for it.
    pub(crate) ready_timed_out: bool,
    /// The heartbeat deadline passed: the run was cancelled as hung.
    pub(crate) hung: bool,
    /// Started by a command (`start_child`, `restart_child`) that waits for
    /// its readiness: a failure before ready answers that command and is
    /// neither restarted nor counted.
    pub(crate) manual: bool,
    /// Stopped at once with its siblings by a group restart under
    /// `ShutdownOrder::Concurrent`: counted in `Runner::draining`.
    pub(crate) drained: bool,
    /// Started by a concurrent start, which waits for its readiness.
    pub(crate) awaited: bool,
    /// A nested supervisor whose subtree was killed: its exit is
    /// `Aborted`, as an aborted task's.
    pub(crate) killed: bool,
    /// A nested supervisor's inbox, made as its run is spawned.
    pub(crate) nested: Option<tokio::sync::mpsc::UnboundedSender<super::protocol::Msg>>,
}

impl Run {
    /// Aborts the run. A nested supervisor is killed instead: it aborts its
    /// own children and ends once they have ended, so that no grandchild
    /// outlives it (its task, aborted, could not wait for them).
    pub(crate) fn abort(&mut self) {
        if let Some(tx) = &self.nested {
            let kill = super::protocol::Msg::Command(super::protocol::Command::Kill);
            if tx.send(kill).is_ok() {
                self.killed = true;
                return;
            }
        }
        self.task.abort();
    }
}

/// A command waiting for something to happen to a child.
#[derive(Debug)]
pub(crate) enum Waiter {
    /// `start_child`: answered with the path once ready.
    Added(Reply<String>),
    /// `restart_child`: answered once ready.
    Restarted(Reply<()>),
    /// `terminate_child`: answered once the task has ended.
    Terminated(Reply<()>),
}

#[derive(Debug)]
pub(crate) struct Child {
    /// Shared with the configuration: one pointer, cloned with one increment.
    pub(crate) spec: Arc<ChildSpec>,
    pub(crate) counters: Arc<ChildCounters>,
    pub(crate) phase: Phase,
    /// When the phase last changed.
    pub(crate) phase_since: Instant,
    pub(crate) run: Option<Run>,
    pub(crate) timer: Option<crate::supervisor::runner::timers::Key>,
    pub(crate) restart_state: RestartState,
    pub(crate) starts: u64,
    pub(crate) restarts: u64,
    pub(crate) failures: u64,
    pub(crate) last_exit: Option<ExitReason>,
    /// The last failure, kept only while `last_exit` is not one (a failure
    /// followed by a clean exit).
    pub(crate) earlier_failure: Option<ExitReason>,
    /// A nested supervisor's own error, kept to report a failed start with
    /// the deepest path.
    pub(crate) last_supervisor_error: Option<Box<SupervisorError>>,
    /// Uptime of ended runs, in microseconds.
    pub(crate) total_uptime_us: u64,
    /// Waiting for a start step of the current plan (the initial start, or a
    /// group restart).
    pub(crate) pending_start: bool,
    /// Commands waiting on this child.
    /// Boxed: commands rarely wait on a child, and this sits in every slot
    /// of the table (8 bytes instead of a `Vec`'s 24).
    #[allow(clippy::box_collection)]
    pub(crate) waiters: Option<Box<Vec<Waiter>>>,
}

/// `set_phase`'s report of a bug, out of the hot path.
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
        // Mailbox hook: the mailbox learns its path and accepts messages;
        // the counters keep it, for the metrics and lookups by path.
        counters.attach_mailbox(spec.mailbox.as_ref());
        Child {
            restart_state: RestartState::new(&spec),
            spec,
            counters,
            phase: Phase::Starting,
            phase_since: now,
            run: None,
            timer: None,
            starts: 0,
            restarts: 0,
            failures: 0,
            earlier_failure: None,
            last_exit: None,
            last_supervisor_error: None,
            total_uptime_us: 0,
            pending_start: false,
            waiters: None,
        }
    }

    /// Whether the child counts as alive for `AllSignificant`: not
    /// terminated, or about to be started again.
    /// The child's full path (`app/db/pool`), kept once, in its metrics
    /// counters, which need it too.
    pub(crate) fn path(&self) -> &Arc<str> {
        self.counters.path()
    }

    pub(crate) fn is_alive_or_pending(&self) -> bool {
        self.pending_start || !matches!(self.phase, Phase::Terminated(_))
    }

    /// Answers the commands waiting for this child's start with `result`
    /// (the path, for `start_child`).
    pub(crate) fn answer_starts(&mut self, result: Result<(), ControlError>) {
        for w in self.take_waiters() {
            match w {
                Waiter::Added(r) => {
                    let _ = r.send(result.clone().map(|()| self.path().to_string()));
                }
                Waiter::Restarted(r) => {
                    let _ = r.send(result.clone());
                }
                other @ Waiter::Terminated(_) => self.wait(other),
            }
        }
    }

    /// Adds a command waiting on this child.
    pub(crate) fn wait(&mut self, w: Waiter) {
        self.waiters.get_or_insert_with(Default::default).push(w);
    }

    fn take_waiters(&mut self) -> Vec<Waiter> {
        self.waiters.take().map(|b| *b).unwrap_or_default()
    }

    /// Whether a `start_child` is waiting for this child's start.
    pub(crate) fn is_being_added(&self) -> bool {
        self.waiters
            .iter()
            .flat_map(|w| w.iter())
            .any(|w| matches!(w, Waiter::Added(_)))
    }

    /// Answers the commands waiting for this child's end.
    pub(crate) fn answer_terminates(&mut self) {
        for w in self.take_waiters() {
            match w {
                Waiter::Terminated(r) => {
                    let _ = r.send(Ok(()));
                }
                other => self.wait(other),
            }
        }
    }

    /// Moves to `next`; an invalid transition is a bug of this crate: it is
    /// logged (and asserted on in debug builds), and the phase is forced so
    /// the supervisor stays consistent with the child's real state.
    #[inline]
    pub(crate) fn set_phase(&mut self, next: Phase, now: Instant) {
        if !self.phase.can_transition_to(&next) {
            invalid_transition(self.path(), &self.phase, &next);
        }
        // Mailbox hook: running, terminated (closed, queue dropped), or
        // pending again.
        if let Some(mailbox) = &self.spec.mailbox {
            mailbox.phase(&next);
        }
        self.phase = next;
        self.phase_since = now;
    }

    /// Records how a run ended; a failure is counted.
    pub(crate) fn record_exit(&mut self, reason: ExitReason) {
        if reason.is_failure() {
            self.failures += 1;
            self.earlier_failure = None;
        } else if let Some(prev) = self.last_exit.take().filter(ExitReason::is_failure) {
            self.earlier_failure = Some(prev);
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
            .run
            .as_ref()
            .map(|r| now.saturating_duration_since(r.started_at));
        let last_exit = self.last_exit.clone();
        let last_error = match &last_exit {
            Some(r) if r.is_failure() => Some(r.message()),
            _ => self.earlier_failure.as_ref().map(ExitReason::message),
        };
        ChildSnapshot {
            path: self.path().clone(),
            name: self.spec.name.clone(),
            phase: self.phase.clone(),
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
            in_phase_for: now.saturating_duration_since(self.phase_since),
            mailbox: self.spec.mailbox.as_ref().map(|m| m.stats()),
        }
    }
}
