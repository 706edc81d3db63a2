//! A run's life, as the core sees it: spawned, ready, watched by its
//! heartbeat, asked to stop, aborted, ended and classified.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::child::Waiter;
use super::state::{By, Counted, Run, State, Then, Verdict};
use super::{Action, Answer, Core, End, Ended, Mode, Step, Timer};
use crate::event::EventKind;
use crate::lifecycle::ExitReason;
use crate::{ChildSpec, ControlError, Shutdown, SupervisorError};

impl<R> Core<R> {
    pub(super) fn on_ready(&mut self, slot: usize, run_id: u64) {
        let now = self.now;
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        // Only a starting run becomes ready: a stale message from an
        // earlier run, a repeat, or a run asked to stop (too late to count)
        // or given up on is ignored.
        let State::Starting {
            run, by, deadline, ..
        } = child.state
        else {
            return;
        };
        if run.id != run_id || run.verdict.is_some() {
            return;
        }
        child.set(
            State::Running {
                run,
                deadline: None,
            },
            now,
        );
        let path = child.path().clone();
        if let Some(key) = deadline {
            self.deadlines.try_remove(&key);
        }
        tracing::debug!(path = %path, "child ready");
        self.arm_heartbeat(slot);
        if by == By::Request {
            self.finish_manual_start(slot);
        }
        self.emit(&path, EventKind::Ready);
        if self.current == Some(Step::Start(slot)) {
            self.current = None;
        }
        if by == By::Concurrent {
            self.left_concurrent_start();
        }
    }

    /// A run of a concurrent start no longer keeps it waiting (ready,
    /// stopped or ended).
    fn left_concurrent_start(&mut self) {
        self.awaiting_ready = self.awaiting_ready.saturating_sub(1);
        if self.awaiting_ready == 0 && self.current == Some(Step::AwaitReady) {
            self.current = None;
        }
    }

    pub(super) fn on_end(&mut self, slot: usize, run_id: u32, end: End) {
        // Invariant: every run counted in `live` ends exactly once.
        self.live -= 1;
        let now = self.now;
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        if child.state.run().is_none_or(|r| r.id as u32 != run_id) {
            return;
        }
        // Ended: backing off, until what follows is decided below, at
        // this same instant.
        let before = child.set(State::BackingOff { restart: None }, now);
        let Some(run) = before.run().copied() else {
            return;
        };
        let ran_for = now.saturating_duration_since(run.started_at);
        child.total_uptime_us = child
            .total_uptime_us
            .saturating_add(u64::try_from(ran_for.as_micros()).unwrap_or(u64::MAX));
        let asked = matches!(before, State::Stopping { .. }) || run.verdict == Some(Verdict::Hung);
        let (reason, sup_err) = classify(end, &run, asked, &child.spec, child.path());
        if let Some(hook) = &child.spec.on_exit {
            self.out.push_back(Action::Settle {
                hook: Arc::clone(hook),
                reason: reason.clone(),
            });
        }
        self.totals
            .exited(&child.counters, reason.as_str(), ran_for);
        log_exit(child.path(), &reason, asked || self.mode == Mode::Stopping);
        child.record_exit(reason);
        if let Some(gave_up @ SupervisorError::IntensityExceeded { .. }) = &sup_err {
            // Not a failure of the child (OTP's `shutdown`), but what its
            // snapshot's `last_error` tells.
            child.earlier_failure = Some(Box::new(ExitReason::Failed(gave_up.to_string().into())));
        }
        child.last_supervisor_error = sup_err.map(Box::new);
        let exited = self
            .listening
            .then(|| (child.path().clone(), child.exit_reason()));
        if let Some(key) = before.deadline() {
            self.deadlines.try_remove(&key);
        }
        if let Some((path, reason)) = exited {
            self.emit(&path, EventKind::Exited { reason });
        }
        if self.current == Some(Step::Stop(slot, Then::Stay))
            || self.current == Some(Step::Stop(slot, Then::Regroup))
        {
            self.current = None;
        }
        let ended = match before {
            State::Stopping { then, counted, .. } => {
                match counted {
                    // Invariant: a run is counted in one wait of the plan
                    // only while it is stopping, and leaves it here.
                    Counted::Drain => {
                        self.draining -= 1;
                        if self.draining == 0 && self.current == Some(Step::Drain) {
                            self.current = None;
                        }
                    }
                    Counted::Start => self.left_concurrent_start(),
                    Counted::No => {}
                }
                Ended::Asked(then)
            }
            State::Starting { by, .. } => {
                if by == By::Concurrent {
                    // Ended before it was ready: the start fails
                    // (`after_exit`); either way it no longer waits for it.
                    self.left_concurrent_start();
                }
                Ended::BeforeReady(by)
            }
            _ => Ended::Ready,
        };
        self.after_exit(slot, ended, ran_for, now);
    }

    /// A child's stop deadline passed: aborts its run.
    pub(super) fn kill(&mut self, slot: usize) {
        let Some(child) = self.table.get(slot).filter(|c| c.is_live()) else {
            return;
        };
        if child.spec.cpu.is_some() {
            // Blocking work cannot be aborted: say so, loudly.
            tracing::error!(
                path = %child.counters.path(),
                "blocking task did not finish within its shutdown timeout; \
                 its thread runs on, detached"
            );
            self.metrics.blocking_detached();
        } else {
            tracing::warn!(path = %child.counters.path(), "child did not stop in time; aborting it");
        }
        self.abort(slot);
    }

    /// Aborts a child's run. A nested supervisor is killed instead: it
    /// aborts its own children and ends once they have ended, so that no
    /// grandchild outlives it; its exit is `Aborted` all the same.
    pub(super) fn abort(&mut self, slot: usize) {
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        let nested = child.spec.is_supervisor();
        if let Some(run) = child.state.run_mut() {
            if nested {
                run.decide(Verdict::Killed);
            }
            self.out.push_back(Action::Abort { slot });
        }
    }

    /// Arms the heartbeat deadline of a child that has just become running.
    pub(super) fn arm_heartbeat(&mut self, slot: usize) {
        let Some(child) = self.table.get(slot) else {
            return;
        };
        if let (Some(timeout), State::Running { deadline: None, .. }) =
            (child.spec.heartbeat, &child.state)
        {
            let key = self.arm(Timer::Heartbeat(slot), timeout);
            if let Some(child) = self.table.get_mut(slot) {
                child.state.set_deadline(key);
            }
        }
    }

    /// The heartbeat deadline passed, and the driver read when the run last
    /// beat: moves the deadline forward if it beat since, or declares the
    /// child hung.
    pub(super) fn check_heartbeat(&mut self, slot: usize, run_id: u64, last: Option<Instant>) {
        let now = self.now;
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        let Some(timeout) = child.spec.heartbeat else {
            return;
        };
        let State::Running {
            run,
            deadline: None,
        } = &mut child.state
        else {
            return; // stopped, or a deadline set since
        };
        if run.id != run_id || run.verdict.is_some() {
            return;
        }
        let last = last.unwrap_or(run.started_at);
        match super::deadline(last, timeout) {
            // Too far away to represent: never hung.
            None => return,
            Some(at) if at > now => {
                let key = self.deadlines.insert_at(Timer::Heartbeat(slot), at);
                child.state.set_deadline(Some(key));
                return;
            }
            Some(_) => {}
        }
        tracing::error!(path = %child.counters.path(), ?timeout, "child is hung: no heartbeat; cancelling it");
        // Cancelled, not `Stopping`: the exit is a failure, restarted per
        // its policy.
        run.decide(Verdict::Hung);
        let kill_after = match child.spec.shutdown {
            Shutdown::Graceful(t) => Some(t),
            Shutdown::Brutal => Some(Duration::ZERO),
            Shutdown::Infinity => None,
        };
        self.out.push_back(Action::Cancel { slot });
        if let Some(t) = kill_after {
            let key = self.arm(Timer::Kill(slot), t);
            if let Some(child) = self.table.get_mut(slot) {
                child.state.set_deadline(key);
            }
        }
    }

    /// Starts a child again after an exit (an automatic restart).
    #[inline]
    pub(super) fn restart_now(&mut self, slot: usize) {
        self.count_restart(slot);
        self.spawn(slot, By::Plan, true);
    }

    /// A restart about to be spawned (automatic, or a group's): counted on
    /// the child and in the metrics, and announced.
    pub(super) fn count_restart(&mut self, slot: usize) {
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        child.restarts += 1;
        self.totals.restarted(&child.counters);
        let attempt = u32::try_from(child.starts.saturating_add(1)).unwrap_or(u32::MAX);
        let path = child.path().clone();
        self.emit(&path, EventKind::Restarted { attempt });
    }

    /// Spawns a run of the child; `by`: who waits for its readiness;
    /// `restart`: an automatic restart. Returns whether it is ready-gated
    /// (and so not ready yet).
    pub(super) fn spawn(&mut self, slot: usize, by: By, restart: bool) -> bool {
        let now = self.now;
        let Some(child) = self.table.get_mut(slot) else {
            return false;
        };
        self.next_run += 1;
        child.starts += 1;
        self.totals.started(&child.counters);
        let attempt = u32::try_from(child.starts).unwrap_or(u32::MAX);
        let id = self.next_run;
        self.live += 1;
        let run = Run {
            id,
            started_at: now,
            verdict: None,
        };
        let gate = child.spec.ready;
        let timer = match gate {
            None => {
                child.set(
                    State::Running {
                        run,
                        deadline: None,
                    },
                    now,
                );
                child.spec.heartbeat.map(|t| (Timer::Heartbeat(slot), t))
            }
            Some(g) => {
                let starting = State::Starting {
                    run,
                    by,
                    restart,
                    deadline: None,
                };
                child.set(starting, now);
                g.timeout.map(|t| (Timer::Ready(slot), t))
            }
        };
        let path = child.path().clone();
        self.out.push_back(Action::Spawn {
            slot,
            run: id,
            attempt,
        });
        if let Some((timer, after)) = timer {
            let key = self.arm(timer, after);
            if let Some(child) = self.table.get_mut(slot) {
                child.state.set_deadline(key);
            }
        }
        log_started(&path, attempt);
        self.emit(&path, EventKind::Started { attempt });
        if by == By::Request && gate.is_none() {
            self.finish_manual_start(slot);
        }
        gate.is_some()
    }

    /// Asks a child to stop per its `Shutdown`; `then`: what follows its
    /// end. Returns whether the caller must wait for its run to end. A
    /// child that is stopping already keeps what follows its end.
    pub(super) fn stop_child(&mut self, slot: usize, then: Then) -> bool {
        self.stop_child_as(slot, then, false)
    }

    /// `stop_child`; `drain`: one of the children a group restart stops at
    /// once (`ShutdownOrder::Concurrent`), counted in `draining` until
    /// its end.
    pub(super) fn stop_child_as(&mut self, slot: usize, then: Then, drain: bool) -> bool {
        let now = self.now;
        let Some(child) = self.table.get_mut(slot) else {
            return false;
        };
        let (run, by) = match &mut child.state {
            State::Stopping { counted, .. } => {
                if drain && *counted == Counted::No {
                    *counted = Counted::Drain;
                    self.draining += 1;
                }
                return true;
            }
            State::Starting { run, by, .. } => (*run, Some(*by)),
            State::Running { run, .. } => (*run, None),
            State::Pending { .. } => {
                self.settle_pending(slot);
                return false;
            }
            State::BackingOff { .. } => {
                // A pending restart is simply called off.
                let before = child.set(State::Terminated(ExitReason::Shutdown), now);
                if let Some(key) = before.deadline() {
                    self.deadlines.try_remove(&key);
                }
                return false;
            }
            State::Terminated(_) => return false,
        };
        tracing::debug!(path = %child.counters.path(), shutdown = ?child.spec.shutdown, "stopping child");
        let shutdown = child.spec.shutdown;
        // A concurrent start waits for a child stopped before it was ready
        // until its end; a concurrent group stop, for each of its children.
        let counted = if by == Some(By::Concurrent) {
            Counted::Start
        } else if drain {
            self.draining += 1;
            Counted::Drain
        } else {
            Counted::No
        };
        let stopping = State::Stopping {
            run,
            then,
            counted,
            kill: None,
        };
        // A readiness or heartbeat deadline no longer applies.
        if let Some(key) = child.set(stopping, now).deadline() {
            self.deadlines.try_remove(&key);
        }
        match shutdown {
            Shutdown::Brutal => self.abort(slot),
            Shutdown::Infinity => self.out.push_back(Action::Cancel { slot }),
            Shutdown::Graceful(timeout) => {
                self.out.push_back(Action::Cancel { slot });
                // A timeout too long to represent waits like `Infinity`.
                let key = self.arm(Timer::Kill(slot), timeout);
                if let Some(child) = self.table.get_mut(slot) {
                    child.state.set_deadline(key);
                }
            }
        }
        true
    }

    /// Aborts the run of every child still live; each reports its end.
    pub(super) fn abort_runs(&mut self) {
        for slot in self.table.slots() {
            self.abort(slot);
        }
    }

    /// Answers the requests waiting for this child's start with `result`
    /// (the path, for `start_child`).
    pub(super) fn answer_starts(&mut self, slot: usize, result: Result<(), ControlError>) {
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        let path = child.path().to_string();
        for w in child.take_waiters() {
            match w {
                Waiter::Added(id) => {
                    let answer = Answer::Added(result.clone().map(|()| path.clone()));
                    self.answer(id, answer);
                }
                Waiter::Restarted(id) => self.answer(id, Answer::Done(result.clone())),
                other @ Waiter::Terminated(_) => {
                    if let Some(child) = self.table.get_mut(slot) {
                        child.wait(other);
                    }
                }
            }
        }
    }

    /// Answers the requests waiting for this child's end.
    pub(super) fn answer_terminates(&mut self, slot: usize) {
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        for w in child.take_waiters() {
            match w {
                Waiter::Terminated(id) => self.answer(id, Answer::Done(Ok(()))),
                other => {
                    if let Some(child) = self.table.get_mut(slot) {
                        child.wait(other);
                    }
                }
            }
        }
    }
}

/// Turns a run's end into how the run ended (`asked`: the supervisor asked
/// it to stop), and keeps a nested supervisor's own error.
fn classify(
    end: End,
    run: &Run,
    asked: bool,
    spec: &ChildSpec,
    path: &str,
) -> (ExitReason, Option<SupervisorError>) {
    let reason = match run.verdict {
        Some(Verdict::ReadyTimeout) => {
            let timeout = spec.ready.and_then(|g| g.timeout).unwrap_or_default();
            ExitReason::ReadyTimeout { timeout }
        }
        Some(Verdict::Hung) => {
            let timeout = spec.heartbeat.unwrap_or_default();
            ExitReason::Hung { timeout }
        }
        Some(Verdict::Killed) => ExitReason::Aborted,
        None => match end {
            End::Returned if asked => ExitReason::Shutdown,
            End::Returned => ExitReason::Completed,
            End::Failed {
                text,
                fatal,
                supervisor,
            } => {
                if let Some(gave_up @ SupervisorError::IntensityExceeded { .. }) = supervisor {
                    // A nested supervisor that gave up ends as OTP's does,
                    // with reason `shutdown`: its parent restarts it if it
                    // is `Permanent`, not if `Transient`, and a significant
                    // one may stop its parent.
                    return (ExitReason::Shutdown, Some(gave_up));
                }
                if asked {
                    // Asked to stop, it returned an error: a stop, not a
                    // failure (OTP logs a shutdown error and restarts
                    // nothing). The error is kept in the log line.
                    tracing::info!(path, error = %text, "child stopped with an error");
                    return (ExitReason::Shutdown, supervisor);
                }
                if fatal {
                    return (ExitReason::Fatal(text), supervisor);
                }
                return (ExitReason::Failed(text), supervisor);
            }
            End::Panicked(message) => ExitReason::Panicked(message),
            End::Aborted => ExitReason::Aborted,
        },
    };
    (reason, None)
}

// The log lines of a run, functions of their own, never inlined: a
// `tracing` macro expands to a callsite, a filter check and the code that
// builds the event, which would spread the restart path over more
// instruction-cache lines.

/// A run's start, logged.
#[inline(never)]
fn log_started(path: &str, attempt: u32) {
    tracing::info!(path = %path, attempt, "child started");
}

/// A run's end, logged: a failure as a warning, unless the supervisor
/// asked for the stop.
#[inline(never)]
fn log_exit(path: &str, reason: &ExitReason, stopping: bool) {
    if stopping || !reason.is_failure() {
        tracing::info!(path, %reason, "child exited");
    } else {
        tracing::warn!(path, %reason, "child failed");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::super::testing::{child, Bench};
    use super::super::{End, Input};
    use crate::{Backoff, ExitReason, Phase, Shutdown, Supervisor};

    #[test]
    fn a_child_not_ready_in_time_is_aborted_and_the_start_fails() {
        let sup = Supervisor::builder("app")
            .child(child("a").wait_ready(Duration::from_millis(50)))
            .build()
            .unwrap();
        let mut b = Bench::start(sup);
        assert_eq!(b.log(), ["spawn a"]);
        b.advance(50);
        assert_eq!(b.log(), ["abort a"]);
        b.end("a", End::Aborted);
        assert_eq!(b.log(), ["stopping"]);
        assert_eq!(
            b.phase("a"),
            Some(Phase::Terminated(ExitReason::ReadyTimeout {
                timeout: Duration::from_millis(50)
            }))
        );
        assert!(b.core.outcome().is_err());
    }

    #[test]
    fn a_child_with_no_heartbeat_is_cancelled_as_hung_then_killed() {
        let sup = Supervisor::builder("app")
            .child(
                child("a")
                    .heartbeat(Duration::from_millis(100))
                    .shutdown(Shutdown::Graceful(Duration::from_millis(10)))
                    .backoff(Backoff::none()),
            )
            .build()
            .unwrap();
        let mut b = Bench::start(sup);
        b.log();
        b.advance(100);
        assert_eq!(b.log(), ["beat a"], "the driver is asked when it last beat");
        let slot = b.slot("a");
        b.feed(Input::Beat {
            slot,
            run: 1,
            last: None,
        });
        assert_eq!(b.log(), ["cancel a"]);
        assert_eq!(b.phase("a"), Some(Phase::Running), "hung, not stopping");
        b.advance(10);
        assert_eq!(b.log(), ["abort a"]);
        b.end("a", End::Aborted);
        assert_eq!(b.log(), ["spawn a"], "a failure, restarted");
    }

    #[test]
    fn a_stale_ready_is_ignored() {
        let sup = Supervisor::builder("app")
            .child(child("a").wait_ready(Duration::from_secs(1)))
            .build()
            .unwrap();
        let mut b = Bench::start(sup);
        b.log();
        let slot = b.slot("a");
        b.feed(Input::Ready { slot, run: 99 });
        assert_eq!(b.phase("a"), Some(Phase::Starting));
        b.ready("a");
        assert_eq!(b.log(), ["started"]);
        assert_eq!(b.phase("a"), Some(Phase::Running));
    }
}
