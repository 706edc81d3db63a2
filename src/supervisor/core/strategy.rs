//! What a child's exit leads to: nothing, a restart of the child, a group
//! restart (`OneForAll`, `RestForOne`), a given-up child, the supervisor's
//! auto-shutdown, or its failure.
//!
//! The rule that decides whether to restart at all is the pure
//! `decision::decide`; this module carries the decision out on the table.

use std::time::{Duration, Instant};

use super::state::{By, State, Then};
use super::{Core, Ended, Mode, Step, Timer};
use crate::event::EventKind;
use crate::lifecycle::{ExitReason, Phase};
use crate::supervisor::core::decision::{decide, Decision};
use crate::supervisor::{AutoShutdown, ShutdownOrder, Strategy};
use crate::{ControlError, Restart, SupervisorError};

impl<R> Core<R> {
    /// Dispatches a child's ended run, once its exit is recorded; the child
    /// is `BackingOff` until this decides what follows.
    pub(super) fn after_exit(
        &mut self,
        slot: usize,
        ended: Ended,
        ran_for: Duration,
        now: Instant,
    ) {
        // A member of the group restart under way that ended before its
        // turn to be stopped (OTP folds that exit into the group restart).
        let in_group = matches!(ended, Ended::Ready | Ended::BeforeReady(_))
            && self.mode == Mode::Running
            && self.queued_for_regroup(slot);
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };

        // 1. Asked to stop (a request, a group restart, the supervisor's
        //    stop), or ended on its own during the supervisor's stop or
        //    while a group restart it belongs to is under way: it keeps its
        //    own reason and is not restarted by itself; nothing is counted.
        if matches!(ended, Ended::Asked(_)) || self.mode == Mode::Stopping || in_group {
            let regrouped =
                (in_group || ended == Ended::Asked(Then::Regroup)) && self.mode != Mode::Stopping;
            if regrouped {
                let shown = Phase::BackingOff;
                child.set(State::Pending { shown }, now);
            } else {
                child.set(State::Terminated(child.exit_reason()), now);
            }
            if child.start_awaited() {
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
                self.answer_starts(slot, Err(err));
                if added && !regrouped {
                    self.answer_terminates(slot);
                    self.forget(slot);
                    return;
                }
            }
            self.answer_terminates(slot);
            if self.current == Some(Step::Start(slot)) {
                self.current = None;
            }
            if !regrouped {
                self.remove_if_done(slot);
            }
            return;
        }

        // 2. A start by request that failed before ready: the request gets
        //    the error; not restarted, not counted. `start_child` keeps
        //    nothing (OTP), `restart_child` keeps the spec.
        if ended == Ended::BeforeReady(By::Request) {
            let reason = child.exit_reason();
            child.set(State::Terminated(reason.clone()), now);
            let added = child.is_being_added();
            let err = ControlError::StartFailed {
                path: child.path().to_string(),
                reason,
            };
            self.answer_starts(slot, Err(err));
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
        let plan_start =
            self.current == Some(Step::Start(slot)) || ended == Ended::BeforeReady(By::Concurrent);
        if plan_start && matches!(ended, Ended::BeforeReady(_)) {
            self.current = None;
            if self.mode == Mode::Starting {
                let reason = child.exit_reason();
                child.set(State::Terminated(reason.clone()), now);
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
        //    strategy cannot keep abandoning the start. It backs off
        //    meanwhile.
        if self.mode == Mode::Starting {
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
                child.set(State::Terminated(child.exit_reason()), now);
                self.remove_if_done(slot);
                self.check_auto_shutdown(significant);
            }
            Decision::Remove => {
                child.set(State::Terminated(child.exit_reason()), now);
                self.remove(slot);
                self.check_auto_shutdown(significant);
            }
            Decision::GiveUp { restarts, window } => {
                // A window too long to end in a process's life is none.
                let window = (window <= super::NEVER).then_some(window);
                let reason = ExitReason::CircuitOpen { restarts, window };
                tracing::error!(path = %child.path(), %reason, "giving up on child");
                self.totals.circuit_opened(&child.counters);
                child.set(State::Terminated(reason.clone()), now);
                // Kept, even in a dynamic supervisor: a given-up child stays
                // visible until restarted or deleted by hand.
                let path = child.path().clone();
                self.emit(&path, EventKind::GaveUp { reason });
            }
            Decision::Escalate => {
                let reason = child.exit_reason();
                child.set(State::Terminated(reason.clone()), now);
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
                self.metrics.intensity_exceeded(&self.path);
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
        if delay.is_zero() {
            // No deadline at all for a zero delay.
            return self.restart_now(slot);
        }
        // A delay too long to represent backs off for ever: the child waits
        // for a request (`restart_child`) or the stop.
        let key = super::deadline(now, delay)
            .map(|at| self.deadlines.insert_at(Timer::Restart(slot), at));
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        child.set(State::BackingOff { restart: key }, now);
        let path = child.path().clone();
        tracing::debug!(path = %path, ?delay, "backing off");
        self.emit(&path, EventKind::BackingOff { delay });
    }

    /// `OneForAll` / `RestForOne`: stops the affected siblings in reverse
    /// start order (under `ShutdownOrder::Concurrent`, all at once), waits
    /// `delay`, and starts every pending child in start order. A plan in
    /// progress is abandoned; the children it still had to start stay
    /// pending and are started by this one.
    fn restart_group(&mut self, trigger: usize, delay: Duration) {
        let now = self.now;
        let order = self.table.slots();
        let from = match self.config.strategy {
            Strategy::RestForOne => order.iter().position(|&s| s == trigger).unwrap_or(0),
            _ => 0,
        };
        if let Some(child) = self.table.get_mut(trigger) {
            child.set(
                State::Pending {
                    shown: Phase::BackingOff,
                },
                now,
            );
            let path = child.path().clone();
            tracing::warn!(
                path = %path,
                strategy = ?self.config.strategy,
                siblings = (order.len() - from).saturating_sub(1),
                ?delay,
                "restarting the group"
            );
            if !delay.is_zero() {
                self.emit(&path, EventKind::BackingOff { delay });
            }
        }
        self.clear_plan();
        self.group_trigger = Some(trigger);
        let concurrent = self.config.shutdown_order == ShutdownOrder::Concurrent;
        // The live members to stop and start again, by their place in
        // `order` (no search of the plan for each child).
        let mut regroup = vec![false; order.len()];
        // In bounds: `from` is a position in `order`, or 0.
        for (pos, &slot) in order.iter().enumerate().skip(from).rev() {
            if slot == trigger {
                continue;
            }
            let Some(child) = self.table.get_mut(slot) else {
                continue;
            };
            let then = if child.spec.restart != Restart::Temporary && !child.state.is_given_up() {
                Then::Regroup
            } else {
                Then::Stay
            };
            match &mut child.state {
                State::Starting { .. } | State::Running { .. } if concurrent => {
                    // Stopped now; the plan's `Drain` waits for them all.
                    self.stop_child_as(slot, then, true);
                }
                State::Starting { .. } | State::Running { .. } => {
                    regroup[pos] = then == Then::Regroup;
                    self.plan.push_back(Step::Stop(slot, then));
                }
                State::Stopping { then: t, .. } => {
                    *t = then;
                    if concurrent {
                        // Counted once, even if an abandoned group restart
                        // counted it already.
                        self.stop_child_as(slot, then, true);
                    } else {
                        self.plan.push_back(Step::Stop(slot, then));
                    }
                }
                State::BackingOff { .. } | State::Terminated(_) if then == Then::Regroup => {
                    // Waiting for its own restart, or down: the group's
                    // restart replaces it.
                    let shown = child.phase();
                    let before = child.set(State::Pending { shown }, now);
                    if let Some(key) = before.deadline() {
                        self.deadlines.try_remove(&key);
                    }
                }
                _ => {}
            }
        }
        if concurrent {
            self.plan.push_back(Step::Drain);
        }
        self.plan.push_back(Step::Wait(delay));
        // Start, in start order, every child pending or to be pending once
        // stopped.
        for (pos, slot) in order.into_iter().enumerate() {
            let restarts = regroup[pos]
                || self.table.get(slot).is_some_and(|c| match c.state {
                    State::Pending { .. } => true,
                    State::Stopping { then, .. } => then == Then::Regroup,
                    _ => false,
                });
            if restarts {
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::testing::{child, failed, Bench};
    use super::super::End;
    use crate::{Backoff, Phase, Strategy, Supervisor, SupervisorError};

    fn group(strategy: Strategy) -> Bench {
        let sup = Supervisor::builder("app")
            .strategy(strategy)
            .children(["a", "b", "c"].map(|n| child(n).backoff(Backoff::none())))
            .build()
            .unwrap();
        let mut b = Bench::start(sup);
        b.log();
        b
    }

    #[test]
    fn rest_for_one_stops_the_later_ones_in_reverse_and_starts_them_in_order() {
        let mut b = group(Strategy::RestForOne);
        b.end("b", failed());
        assert_eq!(b.log(), ["cancel c"]);
        b.end("c", End::Returned);
        assert_eq!(b.log(), ["spawn b", "spawn c"]);
    }

    #[test]
    fn a_siblings_own_exit_during_a_group_stop_is_folded_into_it() {
        let mut b = group(Strategy::OneForAll);
        b.end("c", failed());
        assert_eq!(b.log(), ["cancel b"]);
        // `a` fails on its own before its turn: no second restart, no
        // second count.
        b.end("a", failed());
        assert!(b.log().is_empty());
        b.end("b", End::Returned);
        assert_eq!(b.log(), ["spawn a", "spawn b", "spawn c"]);
    }

    #[test]
    fn one_restart_too_many_stops_the_supervisor_with_an_error() {
        let sup = Supervisor::builder("app")
            .intensity(1, Duration::from_secs(5))
            .child(child("a").backoff(Backoff::none()))
            .build()
            .unwrap();
        let mut b = Bench::start(sup);
        b.log();
        b.end("a", failed());
        assert_eq!(b.log(), ["spawn a"]);
        b.end("a", failed());
        assert_eq!(b.log(), ["stopping"]);
        assert!(b.core.finished());
        assert!(matches!(
            b.core.outcome(),
            Err(SupervisorError::IntensityExceeded { .. })
        ));
    }

    #[test]
    fn a_backoff_waits_for_its_deadline() {
        let sup = Supervisor::builder("app")
            .child(child("a").backoff(Backoff::fixed(Duration::from_millis(30))))
            .build()
            .unwrap();
        let mut b = Bench::start(sup);
        b.log();
        b.end("a", failed());
        assert_eq!(b.phase("a"), Some(Phase::BackingOff));
        b.advance(29);
        assert!(b.log().is_empty());
        b.advance(1);
        assert_eq!(b.log(), ["spawn a"]);
    }
}
