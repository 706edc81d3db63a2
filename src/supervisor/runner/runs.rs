//! A run's life, as the loop sees it: spawned, ready, watched by its
//! heartbeat, asked to stop, aborted, ended and classified.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use super::{emit, send_event, timers, Ended, Mode, Runner, Step, Timer};
use crate::event::EventKind;
use crate::lifecycle::{ExitReason, Phase};
use crate::supervisor::child::{Child, Run};
use crate::supervisor::protocol::{Exit, Outcome};
use crate::{ChildSpec, Context, Shutdown, SupervisorError};

impl Runner {
    pub(super) fn on_ready(&mut self, slot: usize, run_id: u64) {
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        let Some(run) = child.run.as_mut().filter(|r| r.id == run_id && !r.ready) else {
            return; // a stale message from an earlier run, or a repeat
        };
        if child.phase == Phase::Stopping {
            // Asked to stop before it was ready: too late to count. Its
            // timer is now its kill deadline, which must stay, and no
            // heartbeat applies; a command waiting for the start is
            // answered when the run ends.
            return;
        }
        run.ready = true;
        let manual = std::mem::take(&mut run.manual);
        let awaited = std::mem::take(&mut run.awaited);
        if let Some(key) = child.timer.take() {
            self.timers.try_remove(&key);
        }
        if matches!(child.phase, Phase::Starting | Phase::Restarting) {
            child.set_phase(Phase::Running, self.clock.now());
        }
        let path = child.path().clone();
        tracing::debug!(path = %path, "child ready");
        self.arm_heartbeat(slot);
        if manual {
            self.finish_manual_start(slot);
        }
        emit(&self.tree, &path, || EventKind::Ready);
        if self.current == Some(Step::Start(slot)) {
            self.current = None;
        }
        if awaited {
            self.awaiting_ready -= 1;
            if self.awaiting_ready == 0 && self.current == Some(Step::AwaitReady) {
                self.current = None;
            }
        }
    }
    pub(super) fn on_end(&mut self, exit: Exit) {
        // Invariant: every run counted in `live` sends exactly one exit.
        self.live -= 1;
        let Exit { slot, run, outcome } = exit;
        let now = self.clock.now();
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        let Some(run) = child.run.take_if(|r| r.id as u32 == run) else {
            return;
        };
        if let Some(key) = child.timer.take() {
            self.timers.try_remove(&key);
        }
        let ran_for = now.saturating_duration_since(run.started_at);
        child.total_uptime_us = child
            .total_uptime_us
            .saturating_add(u64::try_from(ran_for.as_micros()).unwrap_or(u64::MAX));
        let stop_requested = run.ctx.stop_requested();
        let (reason, sup_err) = classify(outcome, &run, &child.spec);
        if let Some(settle_task) = &child.spec.on_exit {
            settle_task(&reason);
        }
        self.totals
            .exited(&child.counters, reason.as_str(), ran_for);
        log_exit(
            child.path(),
            &reason,
            stop_requested || self.mode == Mode::Stopping,
        );
        child.record_exit(reason);
        if let Some(gave_up @ SupervisorError::IntensityExceeded { .. }) = &sup_err {
            // Not a failure of the child (OTP's `shutdown`), but what its
            // snapshot's `last_error` tells.
            child.earlier_failure = Some(ExitReason::Failed(gave_up.to_string().into()));
        }
        child.last_supervisor_error = sup_err.map(Box::new);
        if let Some(events) = self.tree.listened() {
            send_event(&events, child.path(), || EventKind::Exited {
                reason: child.exit_reason(),
            });
        }
        if self.current == Some(Step::Stop(slot)) {
            self.current = None;
        }
        if run.drained {
            // Invariant: a run is `drained` only while counted in `draining`.
            self.draining -= 1;
            if self.draining == 0 && self.current == Some(Step::Drain) {
                self.current = None;
            }
        }
        if run.awaited {
            // Ended before it was ready: the start fails (`after_exit`),
            // unless it was stopped by a command; either way the start no
            // longer waits for it.
            self.awaiting_ready = self.awaiting_ready.saturating_sub(1);
            if self.awaiting_ready == 0 && self.current == Some(Step::AwaitReady) {
                self.current = None;
            }
        }
        let ended = Ended {
            manual: run.manual,
            ready: run.ready,
            awaited: run.awaited,
        };
        self.after_exit(slot, ended, ran_for, now);
    }
    /// A child's stop deadline passed: aborts its task.
    pub(super) fn kill(&mut self, slot: usize) {
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        let Some(run) = child.run.as_mut() else {
            return;
        };
        if child.spec.cpu.is_some() {
            // Blocking work cannot be aborted: say so, loudly.
            tracing::error!(
                path = %child.counters.path(),
                "blocking task did not finish within its shutdown timeout; \
                 its thread runs on, detached"
            );
            self.tree.metrics.blocking_detached();
        } else {
            tracing::warn!(path = %child.counters.path(), "child did not stop in time; aborting it");
        }
        run.abort();
    }
    /// Arms the heartbeat deadline of a child that has just become running.
    pub(super) fn arm_heartbeat(&mut self, slot: usize) {
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        if let (Some(timeout), None) = (child.spec.heartbeat, child.timer) {
            child.timer = timers::deadline(self.clock.now(), timeout)
                .map(|at| self.timers.insert_at(Timer::Heartbeat(slot), at));
        }
    }
    /// The heartbeat deadline passed: moves it forward if the child beat
    /// since, or declares it hung.
    pub(super) fn check_heartbeat(&mut self, slot: usize) {
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        let (Some(timeout), Some(run)) = (child.spec.heartbeat, child.run.as_mut()) else {
            return;
        };
        let now = self.clock.now();
        let last = run.ctx.last_heartbeat().unwrap_or(run.started_at);
        match timers::deadline(last, timeout) {
            // Too far away to represent: never hung.
            None => return,
            Some(deadline) if deadline > now => {
                child.timer = Some(self.timers.insert_at(Timer::Heartbeat(slot), deadline));
                return;
            }
            Some(_) => {}
        }
        tracing::error!(path = %child.counters.path(), ?timeout, "child is hung: no heartbeat; cancelling it");
        run.hung = true;
        run.ctx.request_stop();
        // Not `Stopping`: the exit is a failure, restarted per its policy.
        let kill_after = match child.spec.shutdown {
            Shutdown::Graceful(t) => Some(t),
            Shutdown::Brutal => Some(Duration::ZERO),
            Shutdown::Infinity => None,
        };
        if let Some(t) = kill_after {
            child.timer =
                timers::deadline(now, t).map(|at| self.timers.insert_at(Timer::Kill(slot), at));
        }
    }
    /// Starts a child again after an exit (an automatic restart).
    #[inline]
    pub(super) fn restart_now(&mut self, slot: usize) {
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        // A ready-gated child that failed before ready is already
        // `Restarting`.
        if child.phase != Phase::Restarting {
            child.set_phase(Phase::Restarting, self.clock.now());
        }
        let _attempt = count_restart(child, &self.totals, &self.tree);
        #[cfg(feature = "systemd")]
        if self.systemd {
            let path = child.path();
            crate::systemd::status(&format!("restarting {path} (attempt {_attempt})"));
        }
        self.spawn(slot, false);
    }
    /// Spawns a run of the child; `manual` when a command waits for its
    /// readiness. Returns whether the caller must wait for that readiness.
    pub(super) fn spawn(&mut self, slot: usize, manual: bool) -> bool {
        let Some(child) = self.table.get_mut(slot) else {
            return false;
        };
        self.next_run += 1;
        child.starts += 1;
        self.totals.started(&child.counters);
        let attempt = u32::try_from(child.starts).unwrap_or(u32::MAX);
        let path = child.path();
        let run_id = self.next_run;
        let now = self.clock.now();
        let span = run_span(child.path(), attempt);
        let ctx = Context::new(
            path.clone(),
            attempt,
            self.tx.clone(),
            self.scope.clone(),
            slot,
            run_id,
            now,
        );
        // A nested supervisor's inbox is made here, so that its parent can
        // reach it (to kill its subtree) from the start.
        let (ctx, nested) = if child.spec.is_supervisor() {
            let (tx, rx) = mpsc::unbounded_channel();
            (ctx.with_inbox((tx.clone(), rx)), Some(tx))
        } else {
            (ctx, None)
        };
        let task = Arc::clone(&child.spec.service).spawn(ctx.clone(), span);
        self.live += 1;
        let gate = child.spec.ready;
        child.run = Some(Run {
            ctx,
            task,
            started_at: now,
            id: self.next_run,
            ready: gate.is_none(),
            ready_timed_out: false,
            hung: false,
            manual: manual && gate.is_some(),
            drained: false,
            killed: false,
            awaited: false,
            nested,
        });
        match gate {
            None => {
                child.set_phase(Phase::Running, now);
                if let Some(timeout) = child.spec.heartbeat {
                    child.timer = timers::deadline(now, timeout)
                        .map(|at| self.timers.insert_at(Timer::Heartbeat(slot), at));
                }
            }
            Some(g) => {
                if let Some(t) = g.timeout {
                    child.timer = timers::deadline(now, t)
                        .map(|at| self.timers.insert_at(Timer::Ready(slot), at));
                }
            }
        }
        log_started(child.path(), attempt);
        emit(&self.tree, child.path(), || EventKind::Started { attempt });
        if manual && gate.is_none() {
            self.finish_manual_start(slot);
        }
        gate.is_some()
    }
    /// Asks a child to stop per its `Shutdown`. Returns whether the caller
    /// must wait for its task to end.
    pub(super) fn stop_child(&mut self, slot: usize) -> bool {
        let Some(child) = self.table.get_mut(slot) else {
            return false;
        };
        let Some(run) = child.run.as_mut() else {
            // Not running: a pending restart or a start that never happened
            // is simply called off.
            if let Some(key) = child.timer.take() {
                self.timers.try_remove(&key);
            }
            child.pending_start = false;
            if !matches!(child.phase, Phase::Terminated(_)) {
                child.set_phase(Phase::Terminated(ExitReason::Shutdown), self.clock.now());
            }
            return false;
        };
        if child.phase == Phase::Stopping {
            return true;
        }
        tracing::debug!(path = %child.counters.path(), shutdown = ?child.spec.shutdown, "stopping child");
        // A readiness deadline no longer applies to a child being stopped.
        if let Some(key) = child.timer.take() {
            self.timers.try_remove(&key);
        }
        match child.spec.shutdown {
            Shutdown::Brutal => run.abort(),
            Shutdown::Infinity => run.ctx.request_stop(),
            Shutdown::Graceful(timeout) => {
                run.ctx.request_stop();
                // A timeout too long to represent waits like `Infinity`.
                child.timer = timers::deadline(self.clock.now(), timeout)
                    .map(|at| self.timers.insert_at(Timer::Kill(slot), at));
            }
        }
        child.set_phase(Phase::Stopping, self.clock.now());
        true
    }
    /// Aborts the task of every run still live; each reports its end.
    pub(super) fn abort_runs(&mut self) {
        for slot in self.table.slots() {
            if let Some(run) = self.table.get_mut(slot).and_then(|c| c.run.as_mut()) {
                run.abort();
            }
        }
    }
}

/// A restart about to be spawned (automatic, or a group's): counted on the
/// child and in the metrics, and announced. Returns its attempt number (the
/// run it will be: one more than the child's starts so far).
pub(super) fn count_restart(
    child: &mut Child,
    totals: &crate::metrics::LoopTotals,
    tree: &crate::supervisor::Tree,
) -> u32 {
    child.restarts += 1;
    totals.restarted(&child.counters);
    let attempt = u32::try_from(child.starts.saturating_add(1)).unwrap_or(u32::MAX);
    emit(tree, child.path(), || EventKind::Restarted { attempt });
    attempt
}
/// Turns a task's end into how the run ended (a returned error rendered
/// now, its panics contained), and keeps a nested supervisor's own error.
fn classify(
    outcome: Outcome,
    run: &Run,
    spec: &ChildSpec,
) -> (ExitReason, Option<SupervisorError>) {
    let reason = if run.ready_timed_out {
        let timeout = spec.ready.and_then(|g| g.timeout).unwrap_or_default();
        ExitReason::ReadyTimeout { timeout }
    } else if run.hung {
        let timeout = spec.heartbeat.unwrap_or_default();
        ExitReason::Hung { timeout }
    } else if run.killed {
        ExitReason::Aborted
    } else {
        match outcome {
            Outcome::Returned(Ok(())) if run.ctx.stop_requested() => ExitReason::Shutdown,
            Outcome::Returned(Ok(())) => ExitReason::Completed,
            Outcome::Returned(Err(e)) => {
                let sup = e.downcast_ref::<SupervisorError>().cloned();
                if let Some(gave_up @ SupervisorError::IntensityExceeded { .. }) = sup {
                    // A nested supervisor that gave up ends as OTP's does,
                    // with reason `shutdown`: its parent restarts it if it
                    // is `Permanent`, not if `Transient`, and a significant
                    // one may stop its parent.
                    return (ExitReason::Shutdown, Some(gave_up));
                }
                let mut text = String::new();
                crate::contain::render_error(&**e, &mut text);
                if run.ctx.stop_requested() {
                    // Asked to stop, it returned an error: a stop, not a
                    // failure (OTP logs a shutdown error and restarts
                    // nothing). The error is kept in the log line.
                    tracing::info!(path = %run.ctx.path(), error = %text, "child stopped with an error");
                    return (ExitReason::Shutdown, sup);
                }
                if e.downcast_ref::<crate::Fatal>().is_some() {
                    return (ExitReason::Fatal(text.into()), sup);
                }
                return (ExitReason::Failed(text.into()), sup);
            }
            // The payload is dropped here, its panics contained.
            Outcome::Panicked(payload) => ExitReason::Panicked(panic_message(&**payload).into()),
            Outcome::Aborted => ExitReason::Aborted,
        }
    };
    (reason, None)
}
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "Box<dyn Any>"
    }
}
/// The run happens inside a `child{path, attempt}` span, attached only
/// when a subscriber wants it: otherwise the future is spawned bare.
#[inline(never)]
fn run_span(path: &str, attempt: u32) -> Option<tracing::Span> {
    let span = tracing::info_span!(
        "child",
        path = %path,
        attempt,
        wall_time = tracing::field::Empty,
        cpu_time = tracing::field::Empty,
    );
    (!span.is_disabled()).then_some(span)
}
/// A run's start, logged (see above).
#[inline(never)]
fn log_started(path: &str, attempt: u32) {
    tracing::info!(path = %path, attempt, "child started");
}
/// A run's end, logged: a failure as a warning, unless the supervisor
/// asked for the stop (see above).
#[inline(never)]
fn log_exit(path: &str, reason: &ExitReason, stopping: bool) {
    if stopping || !reason.is_failure() {
        tracing::info!(path, %reason, "child exited");
    } else {
        tracing::warn!(path, %reason, "child failed");
    }
}
