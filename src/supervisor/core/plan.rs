//! Plans: sequences that must happen in order (the start, in spec order;
//! a group restart: stop in reverse order, wait the backoff, start in
//! order; the stop, in reverse order), one step at a time, and the stop.

use std::time::Duration;

use super::{Action, Core, Mode, Step, Timer};
use crate::event::EventKind;
use crate::lifecycle::Phase;
use crate::SupervisorError;

impl<R> Core<R> {
    /// Executes plan steps until one has to wait, or the plan is done.
    pub(super) fn advance(&mut self) {
        while self.current.is_none() {
            let Some(step) = self.plan.pop_front() else {
                self.group_trigger = None;
                if self.mode == Mode::Starting {
                    self.mode = Mode::Running;
                    self.started = true;
                    // The start plan's queue held one step per child.
                    self.plan.shrink_to_fit();
                    self.out.push_back(Action::Started);
                    self.emit_own(EventKind::SupervisorStarted);
                    tracing::info!(supervisor = %self.path, "supervisor started");
                    // The exits that came during the start, handled now
                    // (OTP handles them once `init` has returned).
                    for (slot, ran_for) in std::mem::take(&mut self.deferred) {
                        // Unless a command has dealt with it meanwhile.
                        let waiting = self.table.get(slot).is_some_and(|c| {
                            c.run.is_none() && !c.pending_start && c.phase == Phase::BackingOff
                        });
                        if waiting {
                            self.on_exit(slot, ran_for, self.now);
                        }
                    }
                    // They may have started a restart, or the stop.
                    if !self.plan.is_empty() {
                        continue;
                    }
                }
                return;
            };
            let waits = match step {
                Step::Start(slot) => {
                    let waits = self.plan_start(slot);
                    if waits && self.concurrent_start() {
                        // Started with the others; `AwaitReady` waits.
                        if let Some(run) = self.table.get_mut(slot).and_then(|c| c.run.as_mut()) {
                            run.awaited = true;
                            self.awaiting_ready += 1;
                        }
                        false
                    } else {
                        waits
                    }
                }
                Step::AwaitReady => self.awaiting_ready > 0,
                Step::Stop(slot) => self.plan_stop(slot),
                Step::Drain => self.draining > 0,
                Step::Wait(delay) => self.plan_wait(delay),
            };
            if waits {
                self.current = Some(step);
            }
        }
    }
    /// A plan's start step: starts the child if it is still pending.
    /// Whether this is the start of a supervisor that starts its children
    /// all at once.
    fn concurrent_start(&self) -> bool {
        self.mode == Mode::Starting
            && self.config.start_order == crate::supervisor::StartOrder::Concurrent
    }

    pub(super) fn plan_start(&mut self, slot: usize) -> bool {
        let Some(child) = self.table.get_mut(slot) else {
            return false;
        };
        if !child.pending_start || child.run.is_some() {
            return false;
        }
        child.pending_start = false;
        match child.phase {
            Phase::Starting => {}
            Phase::BackingOff => child.set_phase(Phase::Restarting, self.now),
            _ => child.set_phase(Phase::Starting, self.now),
        }
        if child.starts > 0 {
            self.count_restart(slot);
        }
        self.spawn(slot, false)
    }
    /// A plan's stop step (an ordered stop): stops the child if it still
    /// runs. A child that has ended since the plan was made has nothing
    /// left to stop (and, in a group restart, keeps its pending start).
    pub(super) fn plan_stop(&mut self, slot: usize) -> bool {
        if self.table.get(slot).and_then(|c| c.run.as_ref()).is_none() {
            return false;
        }
        self.stop_child(slot)
    }
    /// A plan's delay step (a group restart's backoff).
    pub(super) fn plan_wait(&mut self, delay: Duration) -> bool {
        if delay.is_zero() {
            return false;
        }
        // A delay too long to represent waits for ever (the group stays
        // down until a command or the stop calls the plan off).
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
    /// Stops every child in reverse start order, then ends the loop with
    /// `outcome`. The first outcome wins.
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
        // no timer can fire a restart; a child that is not running has
        // nothing to wait for. A concurrent stop needs no list of the
        // slots (the walk follows the table's own links); an ordered one
        // keeps it as its plan.
        if self.config.shutdown_order == crate::supervisor::ShutdownOrder::Concurrent {
            let mut next = self.table.last();
            while let Some(slot) = next {
                next = self.table.prev(slot);
                if let Some(c) = self.table.get_mut(slot) {
                    c.pending_start = false;
                }
                self.stop_child(slot);
            }
            return;
        }
        let order = self.table.slots_rev();
        for &slot in &order {
            let Some(c) = self.table.get_mut(slot) else {
                continue;
            };
            c.pending_start = false;
            if c.run.is_none() {
                self.stop_child(slot);
            }
        }
        self.plan = order.into_iter().map(Step::Stop).collect();
    }
    /// Aborts every live child at once (a second stop signal).
    /// The stop's budget ran out: every child still running is aborted (a
    /// nested supervisor aborts its own), and the outcome names them.
    pub(super) fn budget_ran_out(&mut self) {
        let aborted: Vec<String> = self
            .table
            .slots_rev()
            .into_iter()
            .filter_map(|s| self.table.get(s))
            .filter(|c| c.run.is_some())
            .map(|c| c.path().to_string())
            .collect();
        if aborted.is_empty() {
            return;
        }
        tracing::warn!(supervisor = %self.path, ?aborted, "shutdown budget ran out: aborting the children still running");
        self.aborted_at_budget = Some(aborted);
        self.abort_runs();
    }

    pub(super) fn kill_all(&mut self) {
        self.begin_stop(Ok(()));
        self.abort_runs();
    }
}
