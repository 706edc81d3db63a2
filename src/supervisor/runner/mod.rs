//! The supervisor's event loop: one task per supervisor, sole owner of its
//! child table.
//!
//! # How it works
//!
//! The loop sleeps in one `select!` and wakes only on an event:
//!
//! * a message: a child's run ended (its task reports its child's slot and
//!   run with how the run ended: `Ok`, `Err`, a panic it caught, or an
//!   abort), a child's `ctx.ready()`, or a command from a handle. One
//!   channel, so a run's `ready()` is always seen before its end;
//! * a timer of the loop's deadline queue (`timers`: restart delay, kill
//!   deadline, readiness or heartbeat deadline, a group restart's delay): one
//!   `Sleep` for all children, no task per timer, no interval;
//! * the supervisor's stop token.
//!
//! Children are spawned as they are, their future stored inline in the
//! task; the only thing around their polls is the `catch_unwind` that tokio
//! would otherwise do itself (`run::Report`). The loop never awaits
//! anything but that `select!`, and holds no lock: everything it touches is
//! its own.
//!
//! Sequences that must happen in order (the start, in spec order; a group
//! restart: stop in reverse order, wait the backoff, start in order; the
//! stop, in reverse order) are a *plan*: a queue of steps executed one at a
//! time. A step that has to wait (a ready-gated start waits for
//! `ctx.ready()`, a stop waits for the task to end, a delay for its timer) is
//! `current` until the event that completes it arrives; other events and
//! commands are served meanwhile, so the supervisor never stops answering.
//!
//! Only the loop stops a child: in an ordered stop, it asks the next child
//! to stop when the end of the one before arrives.
//!
//! The submodules: `plan` (the plans and the stop), `runs` (a run's life:
//! spawn, readiness, heartbeat, stop, end), `strategy` (what an exit leads
//! to) and `control` (the commands).
//!
//! # Invariants
//!
//! * Every run sends exactly one `Msg::Exit`, after its future is dropped;
//!   `live` counts the runs whose exit has not arrived, and each of them is
//!   the `run` of its child. Each run is a task of its own, which ends
//!   with it.
//! * A child with `pending_start` is started by a `Start` step of the
//!   current plan; whoever abandons a plan keeps its pending children pending
//!   (a new group restart starts them) or clears them (a stop).
//! * In `Mode::Stopping`, nothing is ever spawned; the loop ends when the plan
//!   is done and `live` is zero, so when it ends no child's future is alive.

mod clock;
mod control;
mod plan;
mod runs;
mod strategy;
pub(crate) mod timers;

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::child::Child;
use super::table::Table;
use super::{Config, Scope, Tree};
use crate::event::{Event, EventKind};
use crate::lifecycle::{ChildSnapshot, ExitReason, Phase};
use crate::restart_limit::RestartWindow;
pub(crate) use crate::supervisor::protocol::{Command, Msg, Reply, State, TaskId};
use crate::{Context, Restart, SupervisorError};
use timers::Timers;

/// What woke the loop (see `Runner::poll_event`).
enum Woken {
    Msg(Msg),
    Timer(Timer, timers::Key),
    Stop,
}

#[derive(Debug, Clone, Copy)]
enum Timer {
    Restart(usize),
    Kill(usize),
    Ready(usize),
    /// The heartbeat deadline of a running child.
    Heartbeat(usize),
    /// The delay step of the current plan.
    Plan,
    /// The end of the stop's budget (`Builder::shutdown_budget`).
    Budget,
    /// The systemd watchdog ping (root only, feature `systemd`).
    #[cfg_attr(not(feature = "systemd"), allow(dead_code))]
    Watchdog,
}

/// What the handling of an exit needs to know of the run that ended.
#[derive(Debug, Clone, Copy)]
struct Ended {
    /// Started by a command waiting for its readiness (`Run::manual`).
    manual: bool,
    /// It had become ready.
    ready: bool,
    /// Started by a concurrent start, which waited for its readiness.
    awaited: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Start(usize),
    Stop(usize),
    /// Waits until every child stopped at once by a group restart under
    /// `ShutdownOrder::Concurrent` has ended (`Runner::draining`).
    Drain,
    Wait(Duration),
    /// Waits until every ready-gated child of a concurrent start is ready
    /// (`Runner::awaiting_ready`).
    AwaitReady,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Starting,
    Running,
    Stopping,
}

/// What a runner is connected to.
pub(crate) struct Wiring {
    pub(crate) path: Arc<str>,
    pub(crate) stop: CancellationToken,
    pub(crate) scope: Arc<Scope>,
    pub(crate) tx: mpsc::UnboundedSender<Msg>,
    pub(crate) rx: mpsc::UnboundedReceiver<Msg>,
    pub(crate) state: watch::Sender<State>,
    /// For a nested supervisor: its own context, told `ready` once started.
    pub(crate) parent: Option<Context>,
}

pub(crate) struct Runner {
    config: Arc<Config>,
    path: Arc<str>,
    table: Table,
    /// The instant of the event being handled.
    clock: clock::EventClock,
    /// Where a child added by command has its path built.
    scratch: String,
    /// Runs spawned whose `Msg::Exit` has not arrived yet.
    live: usize,
    timers: Timers<Timer>,
    plan_timer: Option<timers::Key>,
    intensity: RestartWindow,
    tx: mpsc::UnboundedSender<Msg>,
    rx: mpsc::UnboundedReceiver<Msg>,
    /// Completes once the supervisor's stop token is cancelled.
    stop: Pin<Box<WaitForCancellationFutureOwned>>,
    tree: Arc<Tree>,
    /// The tree and the supervisors this one runs inside, for its children.
    scope: Arc<Scope>,
    /// This loop's share of the tree's metrics totals (it alone writes it).
    totals: Arc<crate::metrics::LoopTotals>,
    state: watch::Sender<State>,
    parent: Option<Context>,
    mode: Mode,
    plan: VecDeque<Step>,
    current: Option<Step>,
    /// The child whose exit the group restart in progress (the plan) is
    /// for: terminating it calls the whole restart off.
    group_trigger: Option<usize>,
    /// Children of a concurrent start not ready yet (`Step::AwaitReady`).
    awaiting_ready: usize,
    /// The children still running when the stop's budget ran out, and
    /// aborted then (see `budget_ran_out`).
    aborted_at_budget: Option<Vec<String>>,
    /// Exits of started children that came while the supervisor was still
    /// starting the others, with how long each run lasted: handled once
    /// the start is done, so that a crash loop cannot keep the start from
    /// completing.
    deferred: Vec<(usize, Duration)>,
    /// Children stopped at once by a group restart (their `Run::drained`
    /// is set) whose task has not ended yet.
    draining: usize,
    outcome: Option<Result<(), SupervisorError>>,
    /// Whether every child had started (the start plan completed).
    started: bool,
    next_run: u64,
    /// The number of the last child a dynamic supervisor named.
    next_dynamic_id: u64,
    /// Whether this (root) supervisor notifies systemd.
    #[cfg_attr(not(feature = "systemd"), allow(dead_code))]
    systemd: bool,
}

impl Runner {
    pub(crate) fn new(config: Arc<Config>, w: Wiring) -> Self {
        #[cfg(feature = "systemd")]
        let systemd = w.parent.is_none() && crate::systemd::enabled();
        #[cfg(not(feature = "systemd"))]
        let systemd = false;
        let n = config.children.len();
        let clock = clock::EventClock::default();
        let mut table = Table::default();
        table.reserve(n);
        let mut plan = VecDeque::with_capacity(config.children.len());
        let mut counters = Vec::with_capacity(config.children.len());
        let mut buf = String::new();
        for spec in &config.children {
            let path = child_path(&w.path, &spec.name, &mut buf);
            let c = crate::metrics::ChildCounters::new(&path);
            counters.push(c.clone());
            let mut child = Child::new(spec.clone(), c, clock.now());
            child.pending_start = true;
            plan.push_back(Step::Start(table.push(child)));
        }
        if config.start_order == crate::supervisor::StartOrder::Concurrent {
            plan.push_back(Step::AwaitReady);
        }
        w.scope.tree.metrics.register_all(counters);
        let totals = w.scope.tree.metrics.add_loop();
        Runner {
            totals,
            intensity: RestartWindow::new(config.intensity.max, config.intensity.window),
            config,
            path: w.path,
            table,
            live: 0,
            clock,
            scratch: String::new(),
            timers: Timers::default(),
            plan_timer: None,
            tx: w.tx,
            rx: w.rx,
            stop: Box::pin(w.stop.cancelled_owned()),
            tree: w.scope.tree.clone(),
            scope: w.scope,
            state: w.state,
            parent: w.parent,
            mode: Mode::Starting,
            plan,
            current: None,
            group_trigger: None,
            deferred: Vec::new(),
            aborted_at_budget: None,
            awaiting_ready: 0,
            draining: 0,
            outcome: None,
            started: false,
            next_run: 0,
            next_dynamic_id: 0,
            systemd,
        }
    }

    /// Runs the supervisor until it has stopped, and returns its outcome.
    #[allow(clippy::manual_async_fn)] // see the comment below
    pub(crate) fn run(mut self) -> impl Future<Output = Result<(), SupervisorError>> + Send {
        // An `async` block that uses `self` as it captured it: an `async fn`
        // would move its argument into a local of its own, and its future
        // would hold the `Runner` twice (1 472 bytes against 768).
        async move {
            tracing::debug!(supervisor = %self.path, children = self.table.len(), "supervisor starting");
            self.clock.tick();
            loop {
                self.advance();
                if self.finished() {
                    break;
                }
                let event = poll_fn(|cx| self.poll_event(cx)).await;
                self.clock.tick();
                match event {
                    Woken::Msg(msg) => self.on_msg(msg),
                    Woken::Timer(timer, key) => self.on_timer(timer, key),
                    Woken::Stop => {
                        tracing::info!(supervisor = %self.path, "shutdown requested");
                        self.begin_stop(Ok(()));
                    }
                }
            }
            let outcome = match (self.outcome.take(), self.aborted_at_budget.take()) {
                // A clean stop that had to abort children is not clean.
                (None | Some(Ok(())), Some(aborted)) => {
                    Err(SupervisorError::ShutdownBudgetExceeded {
                        supervisor: self.path.to_string(),
                        budget: self.config.shutdown_budget.unwrap_or_default(),
                        aborted,
                    })
                }
                (outcome, _) => outcome.unwrap_or(Ok(())),
            };
            match &outcome {
                Ok(()) => tracing::info!(supervisor = %self.path, "supervisor stopped"),
                Err(e) => tracing::error!(supervisor = %self.path, error = %e, "supervisor failed"),
            }
            self.emit_own(|| EventKind::ShutdownDone);
            self.publish(|r| State::Stopped {
                started: r.started,
                outcome: outcome.clone(),
                children: Arc::new(r.snapshots()),
            });

            outcome
        }
    }

    /// The loop's next event, in order of precedence: a message (a run's
    /// end, a `ready()`, a command), a timer, the stop token (until the
    /// supervisor stops). One poll of the three sources, written out rather
    /// than a `select!`, which builds the three futures and its branch mask
    /// again at every turn of the loop.
    fn poll_event(&mut self, cx: &mut std::task::Context<'_>) -> Poll<Woken> {
        // `None` cannot come: the loop holds a sender of its own.
        if let Poll::Ready(Some(msg)) = self.rx.poll_recv(cx) {
            return Poll::Ready(Woken::Msg(msg));
        }
        if !self.timers.is_empty() {
            if let Poll::Ready(Some((timer, key))) = self.timers.poll_expired(cx) {
                return Poll::Ready(Woken::Timer(timer, key));
            }
        }
        if self.mode != Mode::Stopping && self.stop.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Woken::Stop);
        }
        Poll::Pending
    }

    fn finished(&self) -> bool {
        self.mode == Mode::Stopping
            && self.current.is_none()
            && self.plan.is_empty()
            && self.live == 0
    }

    fn on_msg(&mut self, msg: Msg) {
        match msg {
            Msg::Exit(exit) => self.on_end(exit),
            Msg::Ready { slot, run } => self.on_ready(slot, run),
            Msg::Command(cmd) => self.on_command(cmd),
        }
    }

    fn on_timer(&mut self, timer: Timer, key: timers::Key) {
        let slot = match timer {
            Timer::Watchdog => {
                // Only while the tree runs: a stopping or wedged loop stops
                // pinging, and systemd acts.
                #[cfg(feature = "systemd")]
                if self.mode == Mode::Running {
                    crate::systemd::watchdog();
                    if let Some(every) = crate::systemd::watchdog_interval() {
                        if let Some(at) = timers::deadline(self.clock.now(), every) {
                            self.timers.insert_at(Timer::Watchdog, at);
                        }
                    }
                }
                return;
            }
            Timer::Budget => {
                self.budget_ran_out();
                return;
            }
            Timer::Plan => {
                if self.plan_timer == Some(key) {
                    self.plan_timer = None;
                    if matches!(self.current, Some(Step::Wait(_))) {
                        self.current = None;
                    }
                }
                return;
            }
            Timer::Restart(s) | Timer::Kill(s) | Timer::Ready(s) | Timer::Heartbeat(s) => s,
        };
        let Some(child) = self.table.get_mut(slot) else {
            return;
        };
        if child.timer != Some(key) {
            return;
        }
        child.timer = None;
        match timer {
            Timer::Restart(_) => {
                self.restart_now(slot);
            }
            Timer::Kill(_) => self.kill(slot),
            Timer::Ready(_) => {
                if let Some(run) = child.run.as_mut().filter(|r| !r.ready) {
                    tracing::warn!(path = %child.counters.path(), "child not ready in time; aborting it");
                    run.ready_timed_out = true;
                    run.abort();
                }
            }
            Timer::Heartbeat(_) => self.check_heartbeat(slot),
            Timer::Plan | Timer::Watchdog | Timer::Budget => {}
        }
    }

    /// Removes a child from the table (a `ChildRemoved` event).
    fn remove(&mut self, slot: usize) {
        if let Some(path) = self.forget(slot) {
            tracing::debug!(path = %path, "child removed");
            emit(&self.tree, &path, || EventKind::ChildRemoved);
        }
    }

    /// Removes a child from the table, with its timer and its metrics, and
    /// without an event (a child whose `start_child` failed was never added).
    fn forget(&mut self, slot: usize) -> Option<Arc<str>> {
        let mut child = self.table.remove(slot)?;
        if let Some(key) = child.timer.take() {
            self.timers.try_remove(&key);
        }
        self.plan
            .retain(|s| *s != Step::Start(slot) && *s != Step::Stop(slot));
        self.tree.metrics.unregister(&child.counters);
        Some(child.path().clone())
    }

    /// Removes a child that has ended for good: a `Temporary` child, or,
    /// while the supervisor runs, any terminated child of a dynamic
    /// supervisor (OTP's `simple_one_for_one`, Elixir's
    /// `DynamicSupervisor`), so that finished jobs neither count toward
    /// `max_children` nor pile up. A child given up by its circuit breaker
    /// stays, visible, until restarted or deleted by hand.
    fn remove_if_done(&mut self, slot: usize) {
        let done = self.table.get(slot).is_some_and(|c| {
            c.spec.restart == Restart::Temporary
                || (self.config.dynamic.is_some()
                    && self.mode != Mode::Stopping
                    && !c.pending_start
                    && matches!(c.phase, Phase::Terminated(ref r) if !matches!(r, ExitReason::CircuitOpen { .. })))
        });
        if done {
            self.remove(slot);
        }
    }

    /// Publishes the supervisor's state to its handles. A nested supervisor
    /// has none (its parent reaches it by commands, and learns of its start
    /// from `ready()`), and neither has a root whose handles are all gone:
    /// then nothing is made, snapshots included, and nobody is notified.
    fn publish(&self, state: impl FnOnce(&Self) -> State) {
        if self.state.receiver_count() > 0 {
            self.state.send_replace(state(self));
        }
    }

    fn snapshots(&self) -> Vec<ChildSnapshot> {
        let now = self.clock.now();
        let plan_deadline = self
            .plan_timer
            .as_ref()
            .and_then(|k| self.timers.deadline(k));
        self.table
            .iter()
            .map(|c| {
                let next = match (&c.phase, c.timer.as_ref()) {
                    (Phase::BackingOff, Some(key)) => self.timers.deadline(key),
                    _ if c.pending_start => plan_deadline,
                    _ => None,
                };
                c.snapshot(now, next)
            })
            .collect()
    }

    /// Emits a supervisor-level event (see [`emit`]).
    fn emit_own(&self, kind: impl FnOnce() -> EventKind) {
        emit(&self.tree, &self.path, kind);
    }
}

/// Sends an event about `path`, made by `kind`, if anyone listens: with
/// no subscriber nothing is made, cloned, stamped or sent. A function of
/// the tree rather than a method, so that a child of the table can be
/// borrowed while it is called.
fn emit(tree: &Tree, path: &Arc<str>, kind: impl FnOnce() -> EventKind) {
    if let Some(events) = tree.listened() {
        send_event(&events, path, kind);
    }
}

/// `emit`'s sending half, out of line: the loop's hot paths carry only the
/// check (see the comment above `run_span`).
#[cold]
#[inline(never)]
fn send_event(
    events: &tokio::sync::broadcast::Sender<Event>,
    path: &Arc<str>,
    kind: impl FnOnce() -> EventKind,
) {
    let _ = events.send(Event {
        path: path.clone(),
        at: SystemTime::now(),
        kind: kind(),
    });
}

impl Drop for Runner {
    fn drop(&mut self) {
        // Dropped without publishing an outcome (runtime shut down under us,
        // or a panic): tell the handles instead of leaving them waiting, and
        // abort the children: no task is left that nobody owns.
        self.abort_runs();
        // A nested supervisor's children leave the tree's metrics with it
        // (their counts stay in the totals): its parent may start it again,
        // and the new one registers its children anew. A root's stay, for
        // the handles to read after the stop.
        if self.parent.is_some() {
            let counters = self.table.iter().map(|c| &*c.counters);
            self.tree.metrics.unregister_all(counters);
        }
        // Its share of the totals joins the retired ones (its live children
        // are none by now, or were just aborted and are not counted).
        self.tree.metrics.retire_loop(&self.totals);
        if self.parent.is_none() {
            // The root has stopped: every subscriber's stream ends, after
            // the last event (`ShutdownDone`, or the lost outcome's).
            self.tree.close();
        }
        if !matches!(*self.state.borrow(), State::Stopped { .. }) {
            // Published nothing at the end either if nobody listened; then
            // nobody can listen now (receivers are only cloned), and
            // `publish` makes nothing.
            self.publish(|r| State::Stopped {
                started: r.started,
                outcome: Err(SupervisorError::Lost {
                    supervisor: r.path.to_string(),
                }),
                children: Arc::new(r.snapshots()),
            });
        }
    }
}

/// `parent/name`, without the formatting machinery (one per child start-up),
/// joined in `buf` (reused from child to child): one allocation, the path's.
pub(super) fn child_path(parent: &str, name: &str, buf: &mut String) -> Arc<str> {
    buf.clear();
    buf.push_str(parent);
    buf.push('/');
    buf.push_str(name);
    Arc::from(buf.as_str())
}

// The log lines of a restart, and its span, are functions of their own,
// never inlined: a `tracing` macro expands to a callsite, a filter check
// and the code that builds the event, and that code, inlined into the
// loop's handlers, spread a restart over more instruction-cache lines than
// a 32 KiB cache holds (callgrind's cache model: 172 misses a restart,
// against none for bare tokio's loop).
