//! What a child's exit leads to: nothing, a restart of the child, a group
//! restart (`OneForAll`, `RestForOne`), a given-up child, the supervisor's
//! auto-shutdown, or its failure.
//!
//! The rule that decides whether to restart at all is the pure
//! `decision::decide`; this module carries the decision out on the table.

use std::time::Duration;

use tokio::time::Instant;

use super::{emit, timers, Ended, Mode, Runner, Step, Timer};
use crate::event::EventKind;
use crate::lifecycle::{ExitReason, Phase};
use crate::supervisor::decision::{decide, Decision};
use crate::supervisor::{AutoShutdown, ShutdownOrder, Strategy};
use crate::{ControlError, Restart, SupervisorError};

impl Runner {
    /// Dispatches a child's ended run, once its exit is recorded (its
    /// reason is rendered from the child only where it is kept or shown).
    pub(super) fn after_exit(&mut self, slot: usize, run: Ended, ran_for: Duration, now: Instant) {
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };

        // 1. Asked to stop (a command, a group restart, the supervisor's
        //    stop), or ended on its own during the supervisor's stop or
        //    while a group restart it belongs to is under way (OTP folds
        //    that exit into the group restart): it keeps its own reason and
        //    is not restarted by itself; nothing is counted.
        let in_group = child.pending_start && self.mode == Mode::Running;
        if child.phase == Phase::Stopping || self.mode == Mode::Stopping || in_group {
            let regrouped = child.pending_start && self.mode != Mode::Stopping;
            if regrouped {
                child.set_phase(Phase::BackingOff, self.clock.now());
            } else {
                child.pending_start = false;
                child.set_phase(Phase::Terminated(child.exit_reason()), self.clock.now());
            }
            if run.manual {
                let err = if self.mode == Mode::Stopping {
                    ControlError::ShuttingDown {
                        supervisor: self.path.to_string(),
                    }
                } else {
                    ControlError::StartFailed {
                        path: child.path().to_string(),
                        reason: child.exit_reason(),
                    }
                };
                let added = child.is_being_added();
                child.answer_starts(Err(err));
                if added && !regrouped {
                    child.answer_terminates();
                    self.forget(slot);
                    return;
                }
            }
            child.answer_terminates();
            if self.current == Some(Step::Start(slot)) {
                self.current = None;
            }
            if !regrouped {
                self.remove_if_done(slot);
            }
            return;
        }

        // 2. A start by command that failed before ready: the command gets
        //    the error; not restarted, not counted. `start_child` keeps
        //    nothing (OTP), `restart_child` keeps the spec.
        if run.manual {
            let reason = child.exit_reason();
            child.set_phase(Phase::Terminated(reason.clone()), self.clock.now());
            let added = child.is_being_added();
            let err = ControlError::StartFailed {
                path: child.path().to_string(),
                reason,
            };
            child.answer_starts(Err(err));
            if added {
                self.forget(slot);
            } else {
                self.remove_if_done(slot);
            }
            return;
        }

        // 3. A plan's start that failed before ready: during the initial
        //    start, the supervisor's start fails; later (a group restart), it
        //    is a failure like any other.
        if (self.current == Some(Step::Start(slot)) || run.awaited) && !run.ready {
            self.current = None;
            if self.mode == Mode::Starting {
                let reason = child.exit_reason();
                child.set_phase(Phase::Terminated(reason.clone()), self.clock.now());
                let err = match child.last_supervisor_error.as_deref().cloned() {
                    // A nested supervisor's failed start: the deepest path.
                    Some(e @ SupervisorError::StartFailed { .. }) => e,
                    _ => SupervisorError::StartFailed {
                        path: child.path().to_string(),
                        reason,
                    },
                };
                self.begin_stop(Err(err));
                return;
            }
        }

        // 4. A started child's exit while the others are still starting:
        //    handled once the start is done (OTP's supervisor sees it after
        //    `init` has returned), so that a crash loop under a group
        //    strategy cannot keep abandoning the start.
        if self.mode == Mode::Starting {
            child.set_phase(Phase::BackingOff, self.clock.now());
            self.deferred.push((slot, ran_for));
            return;
        }
        self.on_exit(slot, ran_for, now);
    }

    /// A child's run ended on its own while the supervisor runs.
    pub(super) fn on_exit(&mut self, slot: usize, ran_for: Duration, now: Instant) {
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        let restarts = child
            .last_exit
            .as_ref()
            .is_some_and(|e| child.spec.restart.should_restart(e));
        let completed = child.last_exit == Some(ExitReason::Completed);
        let decision = decide(
            &child.spec,
            &mut child.restart_state,
            &mut self.intensity,
            (restarts, completed),
            ran_for,
            now,
        );
        let significant = child.spec.significant;
        match decision {
            Decision::Stay => {
                child.set_phase(Phase::Terminated(child.exit_reason()), self.clock.now());
                self.remove_if_done(slot);
                self.check_auto_shutdown(significant);
            }
            Decision::Remove => {
                child.set_phase(Phase::Terminated(child.exit_reason()), self.clock.now());
                self.remove(slot);
                self.check_auto_shutdown(significant);
            }
            Decision::GiveUp { restarts, window } => {
                // A window too long to end in a process's life is none.
                let window = (window <= timers::NEVER).then_some(window);
                let reason = ExitReason::CircuitOpen { restarts, window };
                tracing::error!(path = %child.path(), %reason, "giving up on child");
                self.totals.circuit_opened(&child.counters);
                #[cfg(feature = "systemd")]
                if self.systemd {
                    crate::systemd::status(&format!("gave up on {}: {reason}", child.path()));
                }
                child.set_phase(Phase::Terminated(reason.clone()), self.clock.now());
                // Kept, even in a dynamic supervisor: a given-up child stays
                // visible until restarted or deleted by hand.
                emit(&self.tree, child.path(), || EventKind::GaveUp { reason });
            }
            Decision::Escalate => {
                let reason = child.exit_reason();
                child.set_phase(Phase::Terminated(reason.clone()), self.clock.now());
                // A nested supervisor that gave up ended with `Shutdown`; its
                // own failure says more, down to the deepest path.
                let reason = match child.last_supervisor_error.as_deref() {
                    Some(e @ SupervisorError::IntensityExceeded { .. }) => {
                        ExitReason::Failed(e.to_string().into())
                    }
                    _ => reason,
                };
                let err = SupervisorError::IntensityExceeded {
                    supervisor: self.path.to_string(),
                    child: child.path().to_string(),
                    reason,
                    max: self.intensity.max(),
                    window: self.intensity.window(),
                };
                tracing::error!(supervisor = %self.path, error = %err, "restart intensity exceeded");
                self.tree.metrics.intensity_exceeded(&self.path);
                self.begin_stop(Err(err));
            }
            Decision::Rerun { delay } => self.restart_one(slot, delay, now),
            Decision::Restart { delay } => match self.config.strategy {
                Strategy::OneForOne => self.restart_one(slot, delay, now),
                Strategy::OneForAll | Strategy::RestForOne => self.restart_group(slot, delay),
            },
        }
    }

    /// `OneForOne`: restarts this child alone, after `delay`.
    #[inline]
    fn restart_one(&mut self, slot: usize, delay: Duration, now: Instant) {
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        if delay.is_zero() {
            // No timer at all for a zero delay.
            self.restart_now(slot);
        } else {
            if child.phase != Phase::BackingOff {
                child.set_phase(Phase::BackingOff, self.clock.now());
            }
            // A delay too long to represent backs off for ever: the child
            // waits for a command (`restart_child`) or the stop.
            child.timer = timers::deadline(now, delay)
                .map(|at| self.timers.insert_at(Timer::Restart(slot), at));
            tracing::debug!(path = %child.path(), ?delay, "backing off");
            emit(&self.tree, child.path(), || EventKind::BackingOff { delay });
        }
    }

    /// `OneForAll` / `RestForOne`: stops the affected siblings in reverse
    /// start order (under `ShutdownOrder::Concurrent`, all at once), waits
    /// `delay`, and starts every pending child in start order. A plan in
    /// progress is abandoned; the children it still had to start stay
    /// pending and are started by this one.
    fn restart_group(&mut self, trigger: usize, delay: Duration) {
        let order = self.table.slots();
        let from = match self.config.strategy {
            Strategy::RestForOne => order.iter().position(|&s| s == trigger).unwrap_or(0),
            _ => 0,
        };
        // In bounds: `from` is a position in `order`, or 0.
        let members = &order[from..];
        if let Some(child) = self.table.get_mut(trigger) {
            child.pending_start = true;
            if child.phase != Phase::BackingOff {
                child.set_phase(Phase::BackingOff, self.clock.now());
            }
            tracing::warn!(
                path = %child.path(),
                strategy = ?self.config.strategy,
                siblings = members.len().saturating_sub(1),
                ?delay,
                "restarting the group"
            );
            if !delay.is_zero() {
                emit(&self.tree, child.path(), || EventKind::BackingOff { delay });
            }
        }
        self.clear_plan();
        self.group_trigger = Some(trigger);
        let concurrent = self.config.shutdown_order == ShutdownOrder::Concurrent;
        for &slot in members.iter().rev().filter(|&&s| s != trigger) {
            let Some(child) = self.table.get_mut(slot) else {
                continue;
            };
            let given_up = matches!(
                child.phase,
                Phase::Terminated(ExitReason::CircuitOpen { .. })
            );
            if child.spec.restart != Restart::Temporary && !given_up {
                child.pending_start = true;
            }
            if let Some(run) = child.run.as_mut().filter(|_| concurrent) {
                // Stopped now; the plan's `Drain` waits for them all. A
                // child already counted (a group restart abandoned for
                // this one) is not counted twice.
                if !run.drained {
                    run.drained = true;
                    self.draining += 1;
                }
                self.stop_child(slot);
            } else if child.run.is_some() {
                self.plan.push_back(Step::Stop(slot));
            } else if let Some(key) = child.timer.take() {
                // Waiting for its own restart: the group's restart replaces it.
                self.timers.try_remove(&key);
            }
        }
        if concurrent {
            self.plan.push_back(Step::Drain);
        }
        self.plan.push_back(Step::Wait(delay));
        for slot in self.table.slots() {
            if self.table.get(slot).is_some_and(|c| c.pending_start) {
                self.plan.push_back(Step::Start(slot));
            }
        }
    }

    /// A significant child ended and is not restarted: the supervisor may
    /// stop by itself.
    fn check_auto_shutdown(&mut self, significant: bool) {
        if !significant || self.mode == Mode::Stopping {
            return;
        }
        let stop = match self.config.auto_shutdown {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !self
                .table
                .iter()
                .any(|c| c.spec.significant && c.is_alive_or_pending()),
        };
        if stop {
            tracing::info!(supervisor = %self.path, mode = ?self.config.auto_shutdown, "auto-shutdown: significant children ended");
            self.begin_stop(Ok(()));
        }
    }
}
