//! Plans: sequences that must happen in order (the start, in spec order;
//! a group restart: stop in reverse order, wait the backoff, start in
//! order; the stop, in reverse order), one step at a time, and the stop.

use std::time::Duration;

use super::state::{By, State, Then};
use super::{Action, Core, Mode, Step, Timer};
use crate::event::EventKind;
use crate::lifecycle::{ExitReason, Phase};
use crate::SupervisorError;

impl<R> Core<R> {
    /// Executes plan steps until one has to wait, or the plan is done.
    pub(super) fn advance(&mut self) {
        while self.current.is_none() {
            let Some(step) = self.plan.pop_front() else {
                self.group_trigger = None;
                if self.mode == Mode::Starting {
                    self.start_done();
                    // The deferred exits may have started a restart, or
                    // the stop.
                    if !self.plan.is_empty() {
                        continue;
                    }
                }
                return;
            };
            let waits = match step {
                Step::Start(slot) => {
                    let concurrent = self.mode == Mode::Starting
                        && self.config.start_order == crate::supervisor::StartOrder::Concurrent;
                    let by = if concurrent { By::Concurrent } else { By::Plan };
                    let waits = self.plan_start(slot, by);
                    if waits && concurrent {
                        // Started with the others; `AwaitReady` waits.
                        self.awaiting_ready += 1;
                    }
                    waits && !concurrent
                }
                Step::AwaitReady => self.awaiting_ready > 0,
                Step::Stop(slot, then) => self.plan_stop(slot, then),
                Step::Drain => self.draining > 0,
                Step::Wait(delay) => self.plan_wait(delay),
            };
            if waits {
                self.current = Some(step);
            }
        }
    }

    /// The start plan is done: the supervisor runs.
    fn start_done(&mut self) {
        self.mode = Mode::Running;
        self.started = true;
        // The start plan's queue held one step per child.
        self.plan.shrink_to_fit();
        self.out.push_back(Action::Started);
        self.emit_own(EventKind::SupervisorStarted);
        tracing::info!(supervisor = %self.path, "supervisor started");
        // The exits that came during the start, handled now (OTP handles
        // them once `init` has returned).
        for (slot, ran_for) in std::mem::take(&mut self.deferred) {
            // Unless a request has dealt with it meanwhile.
            let waiting = self
                .table
                .get(slot)
                .is_some_and(|c| matches!(c.state, State::BackingOff { restart: None }));
            if waiting {
                self.on_exit(slot, ran_for, self.now);
            }
        }
    }

    /// A plan's start step: starts the child if it is still pending.
    /// Returns whether the plan must wait for its readiness.
    pub(super) fn plan_start(&mut self, slot: usize, by: By) -> bool {
        let Some(child) = self.table.get(slot) else {
            return false;
        };
        let State::Pending { shown } = &child.state else {
            return false;
        };
        let restart = *shown == Phase::BackingOff;
        if child.starts > 0 {
            self.count_restart(slot);
        }
        self.spawn(slot, by, restart)
    }

    /// A plan's stop step (an ordered stop): stops the child if it still
    /// runs, to be started again by the group (`Then::Regroup`) or not. A
    /// child that has ended since the plan was made has nothing left to
    /// stop (and, in a group restart, is pending already).
    pub(super) fn plan_stop(&mut self, slot: usize, then: Then) -> bool {
        match self.table.get(slot).map(|c| &c.state) {
            Some(State::Starting { .. } | State::Running { .. }) => self.stop_child(slot, then),
            // Asked already (a request): it keeps what follows.
            Some(State::Stopping { .. }) => true,
            _ => false,
        }
    }

    /// A plan's delay step (a group restart's backoff).
    pub(super) fn plan_wait(&mut self, delay: Duration) -> bool {
        if delay.is_zero() {
            return false;
        }
        // A delay too long to represent waits for ever (the group stays
        // down until a request or the stop calls the plan off).
        self.plan_timer = self.arm(Timer::Plan, delay);
        true
    }

    /// Abandons the plan in progress (its pending children stay pending).
    pub(super) fn clear_plan(&mut self) {
        self.plan.clear();
        self.current = None;
        self.group_trigger = None;
        if let Some(key) = self.plan_timer.take() {
            self.deadlines.try_remove(&key);
        }
    }

    /// Calls off the group restart in progress: the children it was to
    /// start again stay down, terminated.
    pub(super) fn abandon_group_restart(&mut self) {
        self.clear_plan();
        for slot in self.table.slots() {
            let Some(child) = self.table.get_mut(slot) else {
                continue;
            };
            match &mut child.state {
                State::Pending { .. } => self.settle_pending(slot),
                State::Stopping { then, .. } => *then = Then::Stay,
                _ => {}
            }
        }
    }

    /// A pending child whose start is called off: terminated, with the
    /// reason it had if it was terminated before.
    pub(super) fn settle_pending(&mut self, slot: usize) {
        let now = self.now;
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        if let State::Pending { shown } = &child.state {
            let reason = match shown {
                Phase::Terminated(r) => r.clone(),
                _ => ExitReason::Shutdown,
            };
            child.set(State::Terminated(reason), now);
        }
    }

    /// Stops every child in reverse start order, then ends with `outcome`.
    /// The first outcome wins.
    pub(super) fn begin_stop(&mut self, outcome: Result<(), SupervisorError>) {
        if self.mode == Mode::Stopping {
            return;
        }
        if let Err(e) = &outcome {
            self.emit_own(EventKind::SupervisorFailed {
                error: e.to_string(),
            });
        }
        self.mode = Mode::Stopping;
        self.outcome = Some(outcome);
        self.out.push_back(Action::Stopping);
        self.emit_own(EventKind::ShutdownStarted);
        self.clear_plan();
        if let Some(budget) = self.config.shutdown_budget {
            self.arm(Timer::Budget, budget);
        }
        // One walk of the table, in the order of shutdown. Pending starts
        // and restarts are called off at once, whatever the order, so that
        // no deadline can start anything; a child that is not running has
        // nothing to wait for. A concurrent stop needs no list of the
        // slots (the walk follows the table's own links); an ordered one
        // keeps it as its plan.
        let concurrent = self.config.shutdown_order == crate::supervisor::ShutdownOrder::Concurrent;
        let mut next = self.table.last();
        while let Some(slot) = next {
            next = self.table.prev(slot);
            let Some(child) = self.table.get_mut(slot) else {
                continue;
            };
            match &mut child.state {
                State::Stopping { then, .. } => {
                    *then = Then::Stay;
                    if !concurrent {
                        // Waited for in its turn.
                        self.plan.push_back(Step::Stop(slot, Then::Stay));
                    }
                }
                State::Starting { .. } | State::Running { .. } if !concurrent => {
                    self.plan.push_back(Step::Stop(slot, Then::Stay));
                }
                _ => {
                    self.stop_child(slot, Then::Stay);
                }
            }
        }
    }

    /// The stop's budget ran out: every child still running is aborted (a
    /// nested supervisor aborts its own), and the outcome names them.
    pub(super) fn budget_ran_out(&mut self) {
        let aborted: Vec<String> = self
            .table
            .slots_rev()
            .into_iter()
            .filter_map(|s| self.table.get(s))
            .filter(|c| c.is_live())
            .map(|c| c.path().to_string())
            .collect();
        if aborted.is_empty() {
            return;
        }
        tracing::warn!(supervisor = %self.path, ?aborted, "shutdown budget ran out: aborting the children still running");
        self.aborted_at_budget = Some(aborted);
        self.abort_runs();
    }

    /// Aborts every live child at once (a second stop signal).
    pub(super) fn kill_all(&mut self) {
        self.begin_stop(Ok(()));
        self.abort_runs();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::testing::{child, Bench};
    use crate::{Phase, ShutdownOrder, StartOrder, Supervisor};

    fn gated(name: &str) -> crate::ChildSpec {
        child(name).wait_ready(Duration::from_secs(5))
    }

    #[test]
    fn the_start_waits_for_each_ready_gated_child_in_order() {
        let sup = Supervisor::builder("app")
            .child(gated("a"))
            .child(gated("b"))
            .build()
            .unwrap();
        let mut b = Bench::start(sup);
        assert_eq!(b.log(), ["spawn a"], "b waits for a's readiness");
        b.ready("a");
        assert_eq!(b.log(), ["spawn b"]);
        b.ready("b");
        assert_eq!(b.log(), ["started"]);
    }

    #[test]
    fn a_concurrent_start_spawns_all_then_waits_for_every_one() {
        let sup = Supervisor::builder("app")
            .start_order(StartOrder::Concurrent)
            .child(gated("a"))
            .child(gated("b"))
            .build()
            .unwrap();
        let mut b = Bench::start(sup);
        assert_eq!(b.log(), ["spawn a", "spawn b"]);
        b.ready("b");
        assert!(b.log().is_empty(), "a is not ready yet");
        b.ready("a");
        assert_eq!(b.log(), ["started"]);
    }

    #[test]
    fn the_stop_goes_in_reverse_order_one_at_a_time() {
        let sup = Supervisor::builder("app")
            .children(["a", "b", "c"].map(child))
            .build()
            .unwrap();
        let mut b = Bench::start(sup);
        b.log();
        b.feed(super::super::Input::Stop);
        assert_eq!(b.log(), ["stopping", "cancel c"]);
        b.end("c", super::super::End::Returned);
        assert_eq!(b.log(), ["cancel b"]);
        b.end("b", super::super::End::Returned);
        assert_eq!(b.log(), ["cancel a"]);
        b.end("a", super::super::End::Returned);
        assert!(b.core.finished());
        assert_eq!(
            b.phase("c"),
            Some(Phase::Terminated(crate::ExitReason::Shutdown))
        );
    }

    #[test]
    fn a_concurrent_stop_asks_every_child_at_once() {
        let sup = Supervisor::builder("app")
            .shutdown_order(ShutdownOrder::Concurrent)
            .children(["a", "b"].map(child))
            .build()
            .unwrap();
        let mut b = Bench::start(sup);
        b.log();
        b.feed(super::super::Input::Stop);
        assert_eq!(b.log(), ["stopping", "cancel b", "cancel a"]);
        assert!(!b.core.finished(), "until the runs end");
    }

    /// A concurrent start waits for a child stopped before it was ready
    /// until that child has ended.
    #[test]
    fn a_concurrent_start_waits_for_the_end_of_a_child_stopped_meanwhile() {
        let sup = Supervisor::builder("app")
            .start_order(StartOrder::Concurrent)
            .child(gated("a"))
            .child(gated("b"))
            .build()
            .unwrap();
        let mut b = Bench::start(sup);
        b.log();
        b.request(super::super::Request::Terminate {
            name: "a".into(),
            only: None,
            reply: 1,
        });
        assert_eq!(b.log(), ["cancel a"]);
        b.ready("b");
        assert!(b.log().is_empty(), "a still runs");
        b.end("a", super::super::End::Returned);
        assert_eq!(b.log(), [super::super::testing::done(1), "started".into()]);
    }
}
