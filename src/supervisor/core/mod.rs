//! The supervisor's core: a synchronous state machine that owns the child
//! table, the plans, the intensity window and every child's state, as OTP's
//! `supervisor.erl` keeps one state record and moves it from state to state.
//!
//! # Why a pure core
//!
//! Every rule of supervision (what an exit leads to, in which order a group
//! stops and starts, when a command is answered, what the stop does) lives
//! here, in code that never awaits, spawns, sends on a channel or reads a
//! clock: [`Core::handle`] takes one [`Input`] and the instant it happened,
//! and appends the [`Action`]s it leads to. The driver (`super::driver`)
//! is the only part that touches tokio: it turns the inbox, the one timer
//! and the stop token into inputs, and carries the actions out. So the
//! rules can be tested, and property-tested against a model of OTP's, with
//! no runtime, on a clock the test moves by hand.
//!
//! # How it works
//!
//! Sequences that must happen in order (the start, in spec order; a group
//! restart: stop in reverse order, wait the backoff, start in order; the
//! stop, in reverse order) are a *plan*: a queue of steps executed one at a
//! time. A step that has to wait (a ready-gated start waits for its
//! `Ready`, a stop for the run's `Exit`, a delay for its deadline) is
//! `current` until the input that completes it; other inputs and commands
//! are served meanwhile, so the supervisor never stops answering.
//!
//! The submodules: `plan` (the plans and the stop), `runs` (a run's life:
//! spawn, readiness, heartbeat, stop, end), `strategy` (what an exit leads
//! to), `commands` (the handles' requests), `decision` (the pure restart
//! decision), `child` and `table` (the child table), `deadlines`.
//!
//! # Invariants
//!
//! * The driver sends exactly one `Input::Exit` per `Action::Spawn`, after
//!   the run's future is dropped; `live` counts the runs whose exit has not
//!   come, and each of them is the `run` of its child.
//! * A `Pending` child is started by a `Start` step of the current plan;
//!   whoever abandons a plan keeps its pending children pending (a new
//!   group restart starts them) or terminates them (a stop, a terminated
//!   trigger).
//! * In `Mode::Stopping`, nothing is ever spawned; the core is finished when
//!   the plan is done and `live` is zero, so by then no run is alive.

// Public with the `machine` feature, which exports the core (see
// `crate::machine`); crate-private otherwise.
#![cfg_attr(not(feature = "machine"), allow(unreachable_pub))]

mod child;
mod commands;
mod deadlines;
mod decision;
mod plan;
mod runs;
mod state;
mod strategy;
mod table;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use slab::Slab;

use self::child::Child;
use self::state::State;
use self::table::Table;
use super::Config;
use crate::event::EventKind;
use crate::lifecycle::{ChildSnapshot, ExitReason};
use crate::restart_limit::RestartWindow;
use crate::spec::OnExit;
use crate::supervisor::protocol::{ChildCounts, TaskId};
use crate::{ChildSpec, ControlError, Restart, SupervisorError};

pub(crate) use deadlines::{deadline, NEVER};

/// Something that happened to a supervisor, for [`Core::handle`].
#[derive(Debug)]
pub enum Input<R> {
    /// A run ended (exactly once per [`Action::Spawn`]).
    Exit {
        /// The child's slot, as in its `Spawn`.
        slot: usize,
        /// The run's id, as in its `Spawn` (its low 32 bits).
        run: u32,
        /// How it ended.
        end: End,
    },
    /// A run called `ctx.ready()`.
    Ready {
        /// The child's slot.
        slot: usize,
        /// The run's id.
        run: u64,
    },
    /// The answer to [`Action::Beat`]: when the run last beat.
    Beat {
        /// The child's slot.
        slot: usize,
        /// The run's id.
        run: u64,
        /// Its last heartbeat, if any.
        last: Option<Instant>,
    },
    /// A handle's request about this supervisor's own children.
    Request(Request<R>),
    /// Time passed: the deadlines due by now pass.
    Tick,
    /// The supervisor was asked to stop.
    Stop,
    /// Abort every child now (a second stop signal).
    Kill,
}

/// How a run ended, as the driver read it from the task.
#[derive(Debug)]
pub enum End {
    /// It returned `Ok(())`.
    Returned,
    /// It returned an error, rendered.
    Failed {
        /// The error, rendered with its sources.
        text: Arc<str>,
        /// The error was a [`Fatal`](crate::Fatal).
        fatal: bool,
        /// A nested supervisor's own error, kept for its path.
        supervisor: Option<SupervisorError>,
    },
    /// It panicked: the message.
    Panicked(Arc<str>),
    /// Its task was aborted.
    Aborted,
}

/// A handle's request about this supervisor's own children. `R` is the
/// caller's reply channel, opaque here: the core hands it back in an
/// [`Action::Answer`].
#[derive(Debug)]
pub enum Request<R> {
    /// `start_child`: answered with [`Answer::Added`].
    Start {
        /// The child.
        spec: Box<ChildSpec>,
        /// A task: answered once spawned, and named exactly as given.
        task: bool,
        /// Where the answer goes.
        reply: R,
    },
    /// `terminate_child`: answered with [`Answer::Done`] once the run ended.
    Terminate {
        /// The child's name.
        name: String,
        /// Only if the child is this task.
        only: Option<TaskId>,
        /// Where the answer goes.
        reply: R,
    },
    /// `restart_child`: answered with [`Answer::Done`] once ready.
    Restart {
        /// The child's name.
        name: String,
        /// Where the answer goes.
        reply: R,
    },
    /// `delete_child`: answered with [`Answer::Done`].
    Delete {
        /// The child's name.
        name: String,
        /// Where the answer goes.
        reply: R,
    },
}

/// The answer to a request.
#[derive(Debug)]
pub enum Answer {
    /// To `Start`: the child's path.
    Added(Result<String, ControlError>),
    /// To the others.
    Done(Result<(), ControlError>),
}

/// What the core asks the driver to do.
pub enum Action<R> {
    /// Start a run of the child in `slot` (its spec: [`Core::spec`]).
    Spawn {
        /// The child's slot, which names it in inputs and actions.
        slot: usize,
        /// The run's id.
        run: u64,
        /// Which run of the child this is, from 1.
        attempt: u32,
    },
    /// Ask the run to stop (its context's cancellation).
    Cancel {
        /// The child's slot.
        slot: usize,
    },
    /// Abort the run (a nested supervisor: kill its subtree).
    Abort {
        /// The child's slot.
        slot: usize,
    },
    /// Read when the run last beat, and answer with [`Input::Beat`].
    Beat {
        /// The child's slot.
        slot: usize,
        /// The run's id.
        run: u64,
    },
    /// Answer a request.
    Answer {
        /// The request's reply channel.
        reply: R,
        /// The answer.
        answer: Answer,
    },
    /// Send an event (made only while [`Core::set_listening`] says so).
    Event {
        /// Whom it is about.
        path: Arc<str>,
        /// What happened.
        kind: EventKind,
    },
    /// A task ended: settle its handle.
    Settle {
        /// The task's completion hook.
        hook: OnExit,
        /// How it ended.
        reason: ExitReason,
    },
    /// Every child has started (the start plan completed).
    Started,
    /// The stop has begun.
    Stopping,
}

impl<R> std::fmt::Debug for Action<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Action::Spawn { slot, run, attempt } => write!(f, "Spawn({slot}, {run}, {attempt})"),
            Action::Cancel { slot } => write!(f, "Cancel({slot})"),
            Action::Abort { slot } => write!(f, "Abort({slot})"),
            Action::Beat { slot, run } => write!(f, "Beat({slot}, {run})"),
            Action::Answer { answer, .. } => write!(f, "Answer({answer:?})"),
            Action::Event { path, kind } => write!(f, "Event({path}, {kind:?})"),
            Action::Settle { reason, .. } => write!(f, "Settle({reason:?})"),
            Action::Started => f.write_str("Started"),
            Action::Stopping => f.write_str("Stopping"),
        }
    }
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
}

/// Where a run was when it ended, for what follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// The supervisor had asked it to stop.
    Asked(state::Then),
    /// It was not ready yet; who waited for it.
    BeforeReady(state::By),
    /// It was running (ready).
    Ready,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Start(usize),
    /// Stops the child if it runs; what follows its end.
    Stop(usize, state::Then),
    /// Waits until every child stopped at once by a group restart under
    /// `ShutdownOrder::Concurrent` has ended (`Core::draining`).
    Drain,
    Wait(Duration),
    /// Waits until every ready-gated child of a concurrent start is ready
    /// (`Core::awaiting_ready`).
    AwaitReady,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Starting,
    Running,
    Stopping,
}

/// One supervisor's state machine (see the module).
pub struct Core<R> {
    config: Arc<Config>,
    path: Arc<str>,
    table: Table,
    /// The instant of the input being handled.
    now: Instant,
    /// Where a child added by command has its path built.
    scratch: String,
    /// Runs spawned whose exit has not come yet.
    live: usize,
    deadlines: deadlines::Deadlines<Timer>,
    plan_timer: Option<deadlines::Key>,
    intensity: RestartWindow,
    metrics: Arc<crate::metrics::Registry>,
    /// This supervisor's share of the tree's metrics totals.
    totals: Arc<crate::metrics::LoopTotals>,
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
    /// Children stopped at once by a group restart (counted
    /// `Counted::Drain`) whose run has not ended yet.
    draining: usize,
    outcome: Option<Result<(), SupervisorError>>,
    /// Whether every child had started (the start plan completed).
    started: bool,
    next_run: u64,
    /// The number of the last child a dynamic supervisor named.
    next_dynamic_id: u64,
    /// The requests waiting for something to happen to a child.
    replies: Slab<R>,
    /// The actions of the input being handled: the driver's queue, lent
    /// for the handling (see `handle`).
    out: VecDeque<Action<R>>,
    /// Whether anyone listens to events: if not, none is made.
    listening: bool,
    /// The configurations of the supervisors this one runs inside, itself
    /// included: none of them may be started as a child here.
    lineage: Vec<Arc<dyn std::any::Any + Send + Sync>>,
}

impl<R> std::fmt::Debug for Core<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Core")
            .field("path", &self.path)
            .field("mode", &self.mode)
            .field("children", &self.table.len())
            .field("live", &self.live)
            .finish_non_exhaustive()
    }
}

impl<R> Core<R> {
    /// The state machine of `supervisor`, as a root, at `now`: nothing
    /// happens until [`begin`](Self::begin).
    #[cfg(feature = "machine")]
    pub fn of(supervisor: &crate::Supervisor, now: Instant) -> Self {
        let config = supervisor.config.clone();
        Core::new(
            config.clone(),
            config.name.clone(),
            Arc::default(),
            vec![config],
            now,
        )
    }

    /// A supervisor of `config` at `path`, whose children's metrics go to
    /// `metrics`; nothing happens until [`begin`](Self::begin).
    pub(crate) fn new(
        config: Arc<Config>,
        path: Arc<str>,
        metrics: Arc<crate::metrics::Registry>,
        lineage: Vec<Arc<dyn std::any::Any + Send + Sync>>,
        now: Instant,
    ) -> Self {
        let n = config.children.len();
        let mut table = Table::default();
        table.reserve(n);
        let mut plan = VecDeque::with_capacity(n);
        let mut counters = Vec::with_capacity(n);
        let mut buf = String::new();
        for spec in &config.children {
            let child_path = child_path(&path, &spec.name, &mut buf);
            let c = crate::metrics::ChildCounters::new(&child_path);
            counters.push(c.clone());
            let child = Child::new(spec.clone(), c, now);
            plan.push_back(Step::Start(table.push(child)));
        }
        if config.start_order == crate::supervisor::StartOrder::Concurrent {
            plan.push_back(Step::AwaitReady);
        }
        metrics.register_all(counters);
        let totals = metrics.add_loop();
        Core {
            totals,
            metrics,
            intensity: RestartWindow::new(config.intensity.max, config.intensity.window),
            config,
            path,
            table,
            now,
            live: 0,
            scratch: String::new(),
            deadlines: deadlines::Deadlines::default(),
            plan_timer: None,
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
            replies: Slab::new(),
            out: VecDeque::new(),
            listening: false,
            lineage,
        }
    }

    /// Starts the children, at `now`.
    pub fn begin(&mut self, now: Instant, out: &mut VecDeque<Action<R>>) {
        tracing::debug!(supervisor = %self.path, children = self.table.len(), "supervisor starting");
        self.now = now;
        std::mem::swap(&mut self.out, out);
        self.advance();
        std::mem::swap(&mut self.out, out);
    }

    /// Handles `input`, which happened at `now`, and appends the actions it
    /// leads to to `out`.
    pub fn handle(&mut self, input: Input<R>, now: Instant, out: &mut VecDeque<Action<R>>) {
        self.now = now;
        // The actions go straight to the caller's queue, after what it
        // holds already: one buffer, no copy.
        std::mem::swap(&mut self.out, out);
        match input {
            Input::Exit { slot, run, end } => self.on_end(slot, run, end),
            Input::Ready { slot, run } => self.on_ready(slot, run),
            Input::Beat { slot, run, last } => self.check_heartbeat(slot, run, last),
            Input::Request(request) => self.on_request(request),
            Input::Tick => {
                while let Some((timer, key)) = self.deadlines.pop_due(now) {
                    self.on_timer(timer, key);
                }
            }
            Input::Stop => {
                if self.mode != Mode::Stopping {
                    tracing::info!(supervisor = %self.path, "shutdown requested");
                    self.begin_stop(Ok(()));
                }
            }
            Input::Kill => self.kill_all(),
        }
        self.advance();
        std::mem::swap(&mut self.out, out);
    }

    /// Whether anyone listens to events (the driver says): events are made
    /// only then.
    pub fn set_listening(&mut self, listening: bool) {
        self.listening = listening;
    }

    /// The earliest deadline, for the driver's timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.next()
    }

    /// Whether the supervisor has stopped: every run has ended.
    pub fn finished(&self) -> bool {
        self.mode == Mode::Stopping
            && self.current.is_none()
            && self.plan.is_empty()
            && self.live == 0
    }

    /// Whether the stop has begun.
    pub fn stopping(&self) -> bool {
        self.mode == Mode::Stopping
    }

    /// Whether every child had started.
    pub fn started(&self) -> bool {
        self.started
    }

    /// The supervisor's path.
    pub fn path(&self) -> &Arc<str> {
        &self.path
    }

    /// The spec of the child in `slot`.
    pub fn spec(&self, slot: usize) -> Option<&Arc<ChildSpec>> {
        self.table.get(slot).map(|c| &c.spec)
    }

    /// The child's full path.
    pub fn child_path_of(&self, slot: usize) -> Option<&Arc<str>> {
        self.table.get(slot).map(Child::path)
    }

    /// The slot of the child `name`.
    pub fn slot_of(&self, name: &str) -> Option<usize> {
        self.table.slot_of(name)
    }

    /// The path a child `name` of this supervisor has.
    pub(crate) fn path_for(&self, name: &str) -> String {
        format!("{}/{name}", self.path)
    }

    /// The outcome, once finished: a clean stop that had to abort children
    /// at its budget is not clean.
    pub fn outcome(&mut self) -> Result<(), SupervisorError> {
        match (self.outcome.take(), self.aborted_at_budget.take()) {
            (None | Some(Ok(())), Some(aborted)) => Err(SupervisorError::ShutdownBudgetExceeded {
                supervisor: self.path.to_string(),
                budget: self.config.shutdown_budget.unwrap_or_default(),
                aborted,
            }),
            (outcome, _) => outcome.unwrap_or(Ok(())),
        }
    }

    /// Every child's snapshot, at `now`.
    pub fn snapshots(&self, now: Instant) -> Vec<ChildSnapshot> {
        let plan_deadline = self.plan_timer.as_ref().and_then(|k| self.deadlines.get(k));
        self.table
            .iter()
            .map(|c| {
                let next = match &c.state {
                    State::BackingOff { restart: Some(key) } => self.deadlines.get(key),
                    State::Pending { .. } => plan_deadline,
                    _ => None,
                };
                c.snapshot(now, next)
            })
            .collect()
    }

    /// How many children, as OTP's `count_children`.
    pub fn counts(&self) -> ChildCounts {
        let mut c = ChildCounts::default();
        for child in self.table.iter() {
            c.specs += 1;
            if child.is_live() {
                c.active += 1;
            }
            if child.spec.is_supervisor() {
                c.supervisors += 1;
            } else {
                c.workers += 1;
            }
        }
        c
    }

    /// Removes every child's metrics from the tree (a nested supervisor that
    /// ends: its parent may start it again, which registers them anew), and
    /// retires this supervisor's share of the totals.
    pub(crate) fn retire(&self, unregister: bool) {
        if unregister {
            self.metrics
                .unregister_all(self.table.iter().map(|c| &*c.counters));
        }
        self.metrics.retire_loop(&self.totals);
    }

    fn on_timer(&mut self, timer: Timer, key: deadlines::Key) {
        let slot = match timer {
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
        if child.state.deadline() != Some(key) {
            return; // a deadline removed, its key reused since
        }
        child.state.take_deadline();
        match (timer, &mut child.state) {
            (Timer::Restart(_), State::BackingOff { .. }) => self.restart_now(slot),
            (Timer::Kill(_), _) => self.kill(slot),
            (Timer::Ready(_), State::Starting { run, .. }) => {
                tracing::warn!(path = %child.counters.path(), "child not ready in time; aborting it");
                run.decide(state::Verdict::ReadyTimeout);
                self.abort(slot);
            }
            (Timer::Heartbeat(_), State::Running { run, .. }) => {
                let run = run.id;
                self.out.push_back(Action::Beat { slot, run });
            }
            _ => {}
        }
    }

    /// Sets a deadline of `timer`, `after` from now (none if too far away).
    fn arm(&mut self, timer: Timer, after: Duration) -> Option<deadlines::Key> {
        deadline(self.now, after).map(|at| self.deadlines.insert_at(timer, at))
    }

    /// Removes a child from the table (a `ChildRemoved` event).
    fn remove(&mut self, slot: usize) {
        if let Some(path) = self.forget(slot) {
            tracing::debug!(path = %path, "child removed");
            self.emit(&path, EventKind::ChildRemoved);
        }
    }

    /// Removes a child from the table, with its deadline and its metrics,
    /// and without an event (a child whose `start_child` failed was never
    /// added).
    fn forget(&mut self, slot: usize) -> Option<Arc<str>> {
        let mut child = self.table.remove(slot)?;
        if let Some(key) = child.state.take_deadline() {
            self.deadlines.try_remove(&key);
        }
        self.plan
            .retain(|s| !matches!(*s, Step::Start(s) | Step::Stop(s, _) if s == slot));
        self.metrics.unregister(&child.counters);
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
                    && c.state.is_terminated()
                    && !c.state.is_given_up())
        });
        if done {
            self.remove(slot);
        }
    }

    /// An event about `path`.
    fn emit(&mut self, path: &Arc<str>, kind: EventKind) {
        if !self.listening {
            return;
        }
        self.out.push_back(Action::Event {
            path: path.clone(),
            kind,
        });
    }

    /// A supervisor-level event.
    fn emit_own(&mut self, kind: EventKind) {
        let path = self.path.clone();
        self.emit(&path, kind);
    }

    /// Whether the group restart under way is to stop the child in `slot`
    /// in its turn and start it again (its run still going, its stop step
    /// still ahead).
    fn queued_for_regroup(&self, slot: usize) -> bool {
        self.group_trigger.is_some() && self.plan.contains(&Step::Stop(slot, state::Then::Regroup))
    }

    /// Whether `config` (a spec's nested configuration) is this supervisor
    /// or one it runs inside.
    fn lineage_has(&self, config: &Arc<dyn std::any::Any + Send + Sync>) -> bool {
        self.lineage
            .iter()
            .any(|c| std::ptr::addr_eq(Arc::as_ptr(c), Arc::as_ptr(config)))
    }

    /// Keeps a request's reply until it is answered.
    fn keep(&mut self, reply: R) -> usize {
        self.replies.insert(reply)
    }

    /// Answers the kept reply `id`.
    fn answer(&mut self, id: usize, answer: Answer) {
        if let Some(reply) = self.replies.try_remove(id) {
            self.out.push_back(Action::Answer { reply, answer });
        }
    }

    /// Answers a reply at once.
    fn reply(&mut self, reply: R, answer: Answer) {
        self.out.push_back(Action::Answer { reply, answer });
    }
}

/// `parent/name`, without the formatting machinery (one per child start-up),
/// joined in `buf` (reused from child to child): one allocation, the path's.
pub(crate) fn child_path(parent: &str, name: &str, buf: &mut String) -> Arc<str> {
    buf.clear();
    buf.push_str(parent);
    buf.push('/');
    buf.push_str(name);
    Arc::from(buf.as_str())
}

/// A core on a clock moved by hand, and what it asked for, for the unit
/// tests of the core's modules.
#[cfg(test)]
pub(crate) mod testing {
    use std::collections::VecDeque;
    use std::time::{Duration, Instant};

    use super::{Action, Answer, Core, End, Input, Request};
    use crate::{service_fn, ChildSpec, Phase, Supervisor};

    /// A child that does nothing (the core never runs it).
    pub(crate) fn child(name: &str) -> ChildSpec {
        ChildSpec::new(name, service_fn(|_| async { Ok(()) }))
    }

    pub(crate) struct Bench {
        pub(crate) core: Core<u32>,
        t0: Instant,
        now: Duration,
        out: VecDeque<Action<u32>>,
        /// Each slot's live run.
        runs: std::collections::HashMap<usize, u64>,
    }

    impl Bench {
        /// Builds `sup` and begins it at time zero.
        pub(crate) fn start(sup: Supervisor) -> Self {
            let t0 = Instant::now();
            let config = sup.config.clone();
            let mut b = Bench {
                core: Core::new(
                    config.clone(),
                    config.name.clone(),
                    Default::default(),
                    vec![config],
                    t0,
                ),
                t0,
                now: Duration::ZERO,
                out: VecDeque::new(),
                runs: Default::default(),
            };
            b.core.begin(t0, &mut b.out);
            b
        }

        fn at(&self) -> Instant {
            self.t0 + self.now
        }

        pub(crate) fn feed(&mut self, input: Input<u32>) {
            let at = self.at();
            self.core.handle(input, at, &mut self.out);
        }

        /// Moves the clock `ms` on and lets the deadlines due pass.
        pub(crate) fn advance(&mut self, ms: u64) {
            self.now += Duration::from_millis(ms);
            self.feed(Input::Tick);
        }

        pub(crate) fn slot(&self, name: &str) -> usize {
            self.core.slot_of(name).expect("a child of that name")
        }

        pub(crate) fn phase(&self, name: &str) -> Option<Phase> {
            let snaps = self.core.snapshots(self.at());
            snaps
                .into_iter()
                .find(|c| &*c.name == name)
                .map(|c| c.phase)
        }

        /// What the core asked for since the last call, one line each
        /// (`spawn c1`, `cancel c0`, `abort c2`, `answer …`), events left out.
        pub(crate) fn log(&mut self) -> Vec<String> {
            let mut log = Vec::new();
            while let Some(a) = self.out.pop_front() {
                let name = |core: &Core<u32>, slot: usize| {
                    core.child_path_of(slot)
                        .map(|p| p.rsplit('/').next().unwrap_or("").to_owned())
                        .unwrap_or_default()
                };
                log.push(match a {
                    Action::Spawn { slot, run, .. } => {
                        self.runs.insert(slot, run);
                        format!("spawn {}", name(&self.core, slot))
                    }
                    Action::Cancel { slot } => format!("cancel {}", name(&self.core, slot)),
                    Action::Abort { slot } => format!("abort {}", name(&self.core, slot)),
                    Action::Beat { slot, .. } => format!("beat {}", name(&self.core, slot)),
                    Action::Answer { reply, answer } => format!("answer {reply} {answer:?}"),
                    Action::Started => "started".to_owned(),
                    Action::Stopping => "stopping".to_owned(),
                    Action::Event { .. } | Action::Settle { .. } => continue,
                });
            }
            log
        }

        /// The live run of `name` ends as `end`.
        pub(crate) fn end(&mut self, name: &str, end: End) {
            let slot = self.slot(name);
            let run = self.runs.remove(&slot).expect("a live run");
            self.feed(Input::Exit {
                slot,
                run: run as u32,
                end,
            });
        }

        /// The live run of `name` calls `ready()`.
        pub(crate) fn ready(&mut self, name: &str) {
            let slot = self.slot(name);
            let run = self.runs[&slot];
            self.feed(Input::Ready { slot, run });
        }

        pub(crate) fn request(&mut self, request: Request<u32>) {
            self.feed(Input::Request(request));
        }
    }

    /// An error, as a run's end.
    pub(crate) fn failed() -> End {
        End::Failed {
            text: "boom".into(),
            fatal: false,
            supervisor: None,
        }
    }

    /// `answer 1 Done(Ok(()))`, as `log` writes it.
    pub(crate) fn done(reply: u32) -> String {
        format!("answer {reply} {:?}", Answer::Done(Ok(())))
    }
}
