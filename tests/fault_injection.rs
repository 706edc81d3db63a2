//! Seeded fault injection, through the public API only.
//!
//! Each case builds a random supervision tree (depth up to 4; static and
//! dynamic supervisors; every `Strategy`, `Restart`, `Shutdown` and
//! `ShutdownOrder`; auto-shutdown and significant children) whose workers
//! serve until cancelled, fail after a delay, panic, hang ignoring their
//! cancellation (only where their `Shutdown` can end that: `Graceful` or
//! `Brutal`), never become ready (ready-gated with a timeout), or panic in
//! the `Drop` of a value they hold. A commander task races random commands
//! (`terminate_child`, `restart_child`, `delete_child`, `start_child` into
//! static and dynamic supervisors, `spawn_task`, `which_children`,
//! `count_children`, `tree`) against one way of stopping: `shutdown`,
//! `kill`, `request_shutdown` then `wait`, `run_until` with a `kill` from
//! elsewhere during its stop (as a second signal does), `run_until` alone,
//! an intensity escalation at the root, or an auto-shutdown by significant
//! children.
//!
//! After each case:
//! 1. the stop returned within a generous bound (else: a hang);
//! 2. no child future is alive once `wait()` has returned;
//! 3. no panic escaped (the hook sees only the children's own panics) and
//!    the outcome is never `SupervisorError::Lost`;
//! 4. per path, `Started` and `Exited` alternate, attempts count up by one,
//!    and every `Started` has its `Exited` (a lagging subscriber is a
//!    harness error);
//! 5. the final snapshots, `count_children`, the metrics and the events
//!    agree: starts, restarts, failures, last exit and exits by reason per
//!    child still listed; starts, restarts, exits by reason, breakers
//!    opened, the uptime histogram and intensity escalations (per
//!    supervisor) in total, removed children and past subtrees included.
//!
//! Most cases run on paused time (current-thread, cheap); a tenth on the
//! multi-thread runtime (2 workers, real time: tiny delays, and no verdict
//! depends on timing; a bound whose expiry is a hang).
//!
//! Seeds: case `i` of a test has seed `BASE + i`. `FAULT_SEED=<seed>` (decimal
//! or `0x` hex) replays that one case, `FAULT_CASES=<n>` sets how many cases
//! each test runs, `FAULT_TRACE=1` prints the case, its runs and its events.
//! A failure prints the seed, the tree, the commands and what went wrong. On
//! paused time a case replays exactly, up to tokio's `select!` branch order
//! (randomised per runtime); on the multi-thread runtime the interleaving
//! differs from run to run.
//!
//! It found two hangs, both fixed: a supervisor whose stop was begun by an
//! exit deferred during its start left its ordered stop waiting for the
//! next event; and a command sent as the root's loop ended could stay
//! unread in the channel, unanswered.

mod support;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex, Once, OnceLock};
use std::time::Duration;

use support::Alive;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::Instant;
use tokio_supervisor::{
    service_fn, AutoShutdown, Backoff, ChildSpec, Context, Event, EventKind, ExitReason, Phase,
    Restart, Shutdown, ShutdownOrder, Strategy, Supervisor, SupervisorError, SupervisorHandle,
};

const PAUSED_BASE: u64 = 0x0fa1_7000_0000;
const MULTI_BASE: u64 = 0x0fa1_7100_0000;
const PAUSED_CASES: u64 = 5_000;
const MULTI_CASES: u64 = 500;

/// Every panic a child injects starts with this; any other is foreign.
const INJECTED: &str = "fault-injected";

// ----- the panic hook ---------------------------------------------------

static FOREIGN_PANICS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static HOOK: Once = Once::new();

/// Counts every panic that is not a child's own (nor this file's verdict),
/// and prints it as the default hook does.
fn install_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let payload = info.payload();
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "<non-string payload>".to_owned());
            if msg.starts_with(INJECTED) {
                return;
            }
            if !msg.starts_with("fault case") {
                let at = info.location().map(ToString::to_string).unwrap_or_default();
                FOREIGN_PANICS
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(format!("{msg} at {at}"));
            }
            previous(info);
        }));
    });
}

fn foreign_panics() -> usize {
    FOREIGN_PANICS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .len()
}

// ----- the scenario -----------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Flavor {
    /// Current-thread runtime, time paused (auto-advanced).
    Paused,
    /// Multi-thread runtime, 2 workers, real time.
    Multi,
}

/// What one run of a worker does.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    /// Serve until cancelled, then return `Ok`.
    Serve,
    /// Return `Ok` after the delay (or once cancelled).
    OkAfter(u64),
    /// Return `Err` after the delay; if `heed`, return `Ok` once cancelled
    /// before that, else fail after the delay all the same.
    ErrAfter(u64, bool),
    /// Panic after the delay (or return `Ok` once cancelled).
    PanicAfter(u64),
    /// Serve, then ignore the cancellation forever.
    Hang,
    /// Ready-gated: never call `ready`; serve until cancelled.
    NeverReady,
    /// Return a `Fatal` error after the delay (or `Ok` once cancelled).
    FatalAfter(u64),
}

#[derive(Debug, Clone, Copy)]
struct RunCfg {
    act: Act,
    /// Hold a value that panics in `Drop`.
    drop_panic: bool,
}

#[derive(Debug, Clone, Copy)]
enum BackoffCfg {
    None,
    Fixed(u64),
    Exp(u64, u64),
}

#[derive(Debug, Clone)]
struct WorkerCfg {
    name: String,
    restart: Restart,
    shutdown: Shutdown,
    backoff: BackoffCfg,
    /// `(wait_ready timeout, ready after)` in ms.
    gate: Option<(u64, u64)>,
    /// A circuit breaker: more than this many restarts within 1 s.
    limit: Option<u32>,
    /// `periodic(ms)`: run again this long after each `Ok`.
    periodic: Option<u64>,
    significant: bool,
    /// Run `n` (counted per path over the whole case) does `script[n - 1]`,
    /// the last entry for every later run.
    script: Vec<RunCfg>,
}

#[derive(Debug, Clone)]
struct SupCfg {
    name: String,
    dynamic: bool,
    max_children: Option<usize>,
    strategy: Strategy,
    order: Option<ShutdownOrder>,
    /// `(max, window in ms)`.
    intensity: (u32, u64),
    auto: AutoShutdown,
    children: Vec<Node>,
    /// `StartOrder::Concurrent`.
    concurrent_start: bool,
    /// `shutdown_budget`, in ms.
    budget: Option<u64>,
    // As a child of its parent (unused at the root):
    restart: Restart,
    shutdown: Shutdown,
    significant: bool,
    backoff: BackoffCfg,
}

#[derive(Debug, Clone)]
enum Node {
    Worker(WorkerCfg),
    Sup(SupCfg),
}

/// How the case stops the tree; times in ms from the spawn.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stop {
    Shutdown(u64),
    Kill(u64),
    RequestThenWait(u64),
    /// `run_until` a first "signal" after `.0`, and a second one (a `kill`
    /// from another task) `.1` later, if any.
    Signals(u64, Option<u64>),
    /// `run_until` with a timer on the spawned handle, and nothing else: no
    /// commands, only the events to check.
    RunUntil(u64),
    /// The root has a low intensity over an hour, and a permanent child
    /// that fails at every run.
    Escalation,
    /// The root shuts itself down once its significant children complete.
    AutoShutdown,
}

#[derive(Debug, Clone, Copy)]
enum TaskAct {
    OkAfter(u64),
    PanicAfter(u64),
    Pending,
}

#[derive(Debug, Clone)]
enum Cmd {
    Terminate(usize),
    Restart(usize),
    Delete(usize),
    StartChild(usize, Box<WorkerCfg>),
    SpawnTask(String, TaskAct),
    Which,
    WhichOf(usize),
    Count,
    Tree,
}

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    flavor: Flavor,
    stop: Stop,
    root: SupCfg,
    /// `(pause before, command)`.
    commands: Vec<(u64, Cmd)>,
}

// ----- the generator --------------------------------------------------

struct Gen {
    rng: fastrand::Rng,
    flavor: Flavor,
    /// Nodes left to place in the tree.
    budget: usize,
}

fn pick<T: Copy>(rng: &mut fastrand::Rng, choices: &[(u32, T)]) -> T {
    let total: u32 = choices.iter().map(|c| c.0).sum();
    let mut x = rng.u32(0..total);
    for &(w, v) in choices {
        if x < w {
            return v;
        }
        x -= w;
    }
    unreachable!("the weights sum to {total}")
}

impl Gen {
    /// A delay in ms: up to `paused` on paused time, `multi` on real time.
    fn ms(&mut self, paused: u64, multi: u64) -> u64 {
        match self.flavor {
            Flavor::Paused => self.rng.u64(0..=paused),
            Flavor::Multi => self.rng.u64(0..=multi),
        }
    }

    fn restart(&mut self) -> Restart {
        pick(
            &mut self.rng,
            &[
                (1, Restart::Permanent),
                (1, Restart::Transient),
                (1, Restart::Temporary),
            ],
        )
    }

    fn short_graceful(&mut self) -> Shutdown {
        Shutdown::Graceful(Duration::from_millis(self.ms(20, 3)))
    }

    fn backoff(&mut self) -> BackoffCfg {
        match self.rng.u8(0..10) {
            0..=3 => BackoffCfg::None,
            4..=6 => BackoffCfg::Fixed(1 + self.ms(19, 1)),
            _ => {
                let initial = 1 + self.ms(9, 1);
                BackoffCfg::Exp(initial, initial + self.ms(90, 3))
            }
        }
    }

    fn worker(&mut self, name: String, may_be_significant: bool) -> WorkerCfg {
        let restart = self.restart();
        let shutdown = match self.rng.u8(0..20) {
            0..=8 => self.short_graceful(),
            9..=14 => Shutdown::Brutal,
            _ => Shutdown::Infinity,
        };
        let gate = (self.rng.u8(0..4) == 0).then(|| {
            let timeout = 1 + self.ms(29, 4);
            // Mostly ready in time; now and then too late.
            let after = if self.rng.u8(0..10) == 0 {
                timeout + 1 + self.ms(10, 2)
            } else {
                self.rng.u64(0..=timeout / 2)
            };
            (timeout, after)
        });
        let runs = self.rng.usize(1..=3);
        let script = (0..runs)
            .map(|i| {
                let mut choices = vec![(30, 0u8), (8, 1), (20, 2), (12, 3)];
                if shutdown != Shutdown::Infinity {
                    choices.push((12, 4));
                }
                if gate.is_some() {
                    choices.push((if i == 0 { 3 } else { 10 }, 5));
                }
                choices.push((4, 6));
                let act = match pick(&mut self.rng, &choices) {
                    0 => Act::Serve,
                    1 => Act::OkAfter(self.ms(40, 3)),
                    2 => {
                        let heed = self.rng.bool();
                        Act::ErrAfter(self.ms(40, 3), heed)
                    }
                    3 => Act::PanicAfter(self.ms(40, 3)),
                    4 => Act::Hang,
                    6 => Act::FatalAfter(self.ms(40, 3)),
                    _ => Act::NeverReady,
                };
                // A value that panics in `Drop` while a panic unwinds would
                // abort the process: never with `PanicAfter`.
                let drop_panic = !matches!(act, Act::PanicAfter(_)) && self.rng.u8(0..7) == 0;
                RunCfg { act, drop_panic }
            })
            .collect();
        let limit = (self.rng.u8(0..10) == 0).then(|| self.rng.u32(0..=3));
        let periodic = (self.rng.u8(0..8) == 0).then(|| 1 + self.ms(30, 3));
        let significant = may_be_significant && restart != Restart::Permanent && self.rng.bool();
        WorkerCfg {
            name,
            restart,
            shutdown,
            backoff: self.backoff(),
            gate,
            limit,
            periodic,
            significant,
            script,
        }
    }

    /// A supervisor at `depth` (the root is 1). `significant_ok`: its
    /// parent shuts down automatically, so it may be significant.
    fn sup(&mut self, name: String, depth: usize, significant_ok: bool, dynamic: bool) -> SupCfg {
        let auto = if dynamic {
            AutoShutdown::Never
        } else {
            pick(
                &mut self.rng,
                &[
                    (6, AutoShutdown::Never),
                    (2, AutoShutdown::AnySignificant),
                    (2, AutoShutdown::AllSignificant),
                ],
            )
        };
        let strategy = if dynamic {
            Strategy::OneForOne
        } else {
            pick(
                &mut self.rng,
                &[
                    (1, Strategy::OneForOne),
                    (1, Strategy::OneForAll),
                    (1, Strategy::RestForOne),
                ],
            )
        };
        let order = pick(
            &mut self.rng,
            &[
                (3, None),
                (4, Some(ShutdownOrder::Reverse)),
                (4, Some(ShutdownOrder::Concurrent)),
            ],
        );
        let window = match self.flavor {
            Flavor::Paused => pick(&mut self.rng, &[(1, 50), (1, 200), (2, 1_000), (2, 5_000)]),
            Flavor::Multi => pick(&mut self.rng, &[(1, 5), (1, 50), (2, 1_000)]),
        };
        let intensity = (
            pick(&mut self.rng, &[(1, 0), (3, 1), (3, 2), (2, 3), (1, 5)]),
            window,
        );
        let mut children = vec![];
        if !dynamic {
            let n = self.rng.usize(1..=(6 - depth).max(2));
            for i in 0..n {
                if self.budget == 0 && i > 0 {
                    break;
                }
                self.budget = self.budget.saturating_sub(1);
                let nested = depth < 4 && self.budget >= 2 && self.rng.u8(0..10) < 3;
                let may_be_significant = auto != AutoShutdown::Never;
                children.push(if nested {
                    let dynamic = self.rng.u8(0..5) == 0;
                    Node::Sup(self.sup(format!("s{i}"), depth + 1, may_be_significant, dynamic))
                } else {
                    Node::Worker(self.worker(format!("w{i}"), may_be_significant))
                });
            }
        }
        let restart = self.restart();
        let shutdown = match self.rng.u8(0..4) {
            0 | 1 => Shutdown::Infinity,
            2 => self.short_graceful(),
            _ => Shutdown::Brutal,
        };
        SupCfg {
            name,
            dynamic,
            max_children: (dynamic && self.rng.bool()).then(|| self.rng.usize(1..=3)),
            strategy,
            order,
            intensity,
            auto,
            children,
            concurrent_start: !dynamic && self.rng.u8(0..4) == 0,
            budget: (self.rng.u8(0..6) == 0).then(|| 1 + self.ms(150, 4)),
            restart,
            shutdown,
            significant: significant_ok && restart != Restart::Permanent && self.rng.bool(),
            backoff: if self.rng.bool() {
                BackoffCfg::None
            } else {
                self.backoff()
            },
        }
    }
}

/// The paths of a tree (relative to the root): `(path, is_supervisor,
/// dynamic, depth)`, depth 1 for the root's children.
fn paths(sup: &SupCfg, prefix: &str, depth: usize, out: &mut Vec<(String, bool, bool, usize)>) {
    for c in &sup.children {
        match c {
            Node::Worker(w) => out.push((format!("{prefix}{}", w.name), false, false, depth)),
            Node::Sup(s) => {
                let p = format!("{prefix}{}", s.name);
                out.push((p.clone(), true, s.dynamic, depth));
                paths(s, &format!("{p}/"), depth + 1, out);
            }
        }
    }
}

fn generate(seed: u64, flavor: Flavor) -> Case {
    let mut g = Gen {
        rng: fastrand::Rng::with_seed(seed),
        flavor,
        budget: 0,
    };
    g.budget = g.rng.usize(1..=20);
    let stop = match g.rng.u8(0..16) {
        0..=2 => Stop::Shutdown(g.ms(300, 10)),
        3..=5 => Stop::Kill(g.ms(300, 10)),
        6..=7 => Stop::RequestThenWait(g.ms(300, 10)),
        8..=9 => {
            let first = g.ms(300, 10);
            let second = g.rng.bool().then(|| g.ms(30, 3));
            Stop::Signals(first, second)
        }
        10 => Stop::RunUntil(g.ms(300, 10)),
        11..=13 => Stop::Escalation,
        _ => Stop::AutoShutdown,
    };
    let self_stopping = matches!(stop, Stop::Escalation | Stop::AutoShutdown);
    let dynamic_root = !self_stopping && g.rng.u8(0..8) == 0;
    let mut root = g.sup("app".into(), 1, false, dynamic_root);
    match stop {
        Stop::Escalation => {
            root.intensity = (0, 3_600_000);
            root.auto = AutoShutdown::Never;
            strip_significance(&mut root);
            let delay = g.ms(200, 5);
            let heed = g.rng.bool();
            let mut bomb = g.worker("bomb".into(), false);
            bomb.restart = Restart::Permanent;
            bomb.gate = None;
            bomb.limit = None;
            bomb.periodic = None;
            bomb.script = vec![RunCfg {
                act: Act::ErrAfter(delay, heed),
                drop_panic: false,
            }];
            let at = g.rng.usize(0..=root.children.len());
            root.children.insert(at, Node::Worker(bomb));
        }
        Stop::AutoShutdown => {
            // A restart loop that never trips the intensity (a window
            // shorter than the backoff) could keep restarting the trigger
            // before it completes: over this window, any loop trips it.
            root.intensity.1 = 3_600_000;
            root.auto = if g.rng.bool() {
                AutoShutdown::AnySignificant
            } else {
                AutoShutdown::AllSignificant
            };
            strip_significance(&mut root);
            for k in 0..g.rng.usize(1..=2) {
                let delay = g.ms(100, 5);
                let mut t = g.worker(format!("trigger{k}"), false);
                t.restart = Restart::Transient;
                t.significant = true;
                t.gate = None;
                t.limit = None;
                // A periodic child's `Ok` is not an end: it would never
                // trigger the auto-shutdown.
                t.periodic = None;
                if t.shutdown == Shutdown::Infinity {
                    t.shutdown = Shutdown::Brutal;
                }
                t.script = vec![RunCfg {
                    act: Act::OkAfter(delay),
                    drop_panic: false,
                }];
                let at = g.rng.usize(0..=root.children.len());
                root.children.insert(at, Node::Worker(t));
            }
        }
        _ => {}
    }
    let commands = if matches!(stop, Stop::RunUntil(_)) {
        vec![]
    } else {
        let n = g.rng.usize(
            0..=match flavor {
                Flavor::Paused => 30,
                Flavor::Multi => 15,
            },
        );
        (0..n)
            .map(|_| {
                let gap = g.ms(12, 1);
                let cmd = match g.rng.u8(0..20) {
                    0..=3 => Cmd::Terminate(g.rng.usize(..)),
                    4..=6 => Cmd::Restart(g.rng.usize(..)),
                    7..=8 => Cmd::Delete(g.rng.usize(..)),
                    9..=12 => {
                        let name = format!("x{}", g.rng.u8(0..3));
                        Cmd::StartChild(g.rng.usize(..), Box::new(g.worker(name, false)))
                    }
                    13..=14 => {
                        let act = match g.rng.u8(0..3) {
                            0 => TaskAct::OkAfter(g.ms(40, 3)),
                            1 => TaskAct::PanicAfter(g.ms(40, 3)),
                            _ => TaskAct::Pending,
                        };
                        Cmd::SpawnTask(format!("t{}", g.rng.u8(0..3)), act)
                    }
                    15 => Cmd::Which,
                    16 => Cmd::WhichOf(g.rng.usize(..)),
                    17 => Cmd::Count,
                    _ => Cmd::Tree,
                };
                (gap, cmd)
            })
            .collect()
    };
    Case {
        seed,
        flavor,
        stop,
        root,
        commands,
    }
}

/// No significant child directly under `sup` (its auto-shutdown is the
/// case's, triggered by children the generator adds).
fn strip_significance(sup: &mut SupCfg) {
    for c in &mut sup.children {
        match c {
            Node::Worker(w) => w.significant = false,
            Node::Sup(s) => s.significant = false,
        }
    }
}

// ----- rendering, for failure reports ----------------------------------

fn render(case: &Case) -> String {
    let mut out = format!("seed {}: stop {:?}\ntree:\n", case.seed, case.stop);
    render_sup(&case.root, 1, &mut out);
    out.push_str("commands:\n");
    for (gap, cmd) in &case.commands {
        let _ = writeln!(out, "  +{gap}ms {}", render_cmd(cmd));
    }
    out
}

fn render_cmd(cmd: &Cmd) -> String {
    match cmd {
        Cmd::StartChild(at, w) => format!("StartChild(#{at}, {})", render_worker(w)),
        other => format!("{other:?}"),
    }
}

fn render_worker(w: &WorkerCfg) -> String {
    let mut s = format!(
        "{} {:?} {:?} backoff={:?}",
        w.name, w.restart, w.shutdown, w.backoff
    );
    if let Some(g) = w.gate {
        let _ = write!(s, " gate(timeout {}ms, ready after {}ms)", g.0, g.1);
    }
    if let Some(l) = w.limit {
        let _ = write!(s, " limit={l}/1s");
    }
    if w.significant {
        s.push_str(" significant");
    }
    let script: Vec<String> = w
        .script
        .iter()
        .map(|r| {
            if r.drop_panic {
                format!("{:?}+DropPanic", r.act)
            } else {
                format!("{:?}", r.act)
            }
        })
        .collect();
    let _ = write!(s, " runs=[{}]", script.join(", "));
    s
}

fn render_sup(s: &SupCfg, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    let kind = if s.dynamic {
        format!("dynamic max={:?}", s.max_children)
    } else {
        format!("{:?} auto={:?}", s.strategy, s.auto)
    };
    let _ = write!(
        out,
        "{indent}{} {kind} order={:?} intensity={}/{}ms",
        s.name, s.order, s.intensity.0, s.intensity.1
    );
    if depth > 1 {
        let _ = write!(
            out,
            " as child: {:?} {:?} backoff={:?}{}",
            s.restart,
            s.shutdown,
            s.backoff,
            if s.significant { " significant" } else { "" }
        );
    }
    out.push('\n');
    for c in &s.children {
        match c {
            Node::Worker(w) => {
                let _ = writeln!(out, "{indent}  {}", render_worker(w));
            }
            Node::Sup(n) => render_sup(n, depth + 1, out),
        }
    }
}

// ----- the real tree ---------------------------------------------------

/// What every child of a case shares.
#[derive(Clone)]
struct Env {
    alive: Alive,
    /// Runs per path, over the whole case.
    runs: Arc<Mutex<HashMap<String, usize>>>,
}

impl Env {
    fn next_run(&self, path: &str) -> usize {
        let mut runs = self.runs.lock().unwrap();
        let n = runs.entry(path.to_owned()).or_default();
        *n += 1;
        *n
    }
}

/// Panics when dropped.
struct DropPanic;

impl Drop for DropPanic {
    fn drop(&mut self) {
        panic!("{INJECTED} panic in drop");
    }
}

/// A delay: a yield for zero, so that zero never touches the timer.
async fn pause(ms: u64) {
    if ms == 0 {
        tokio::task::yield_now().await;
    } else {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
}

fn backoff(b: BackoffCfg) -> Backoff {
    match b {
        BackoffCfg::None => Backoff::none(),
        BackoffCfg::Fixed(d) => Backoff::fixed(Duration::from_millis(d)),
        BackoffCfg::Exp(initial, max) => {
            Backoff::exponential(Duration::from_millis(initial), Duration::from_millis(max))
        }
    }
}

fn worker_spec(w: &WorkerCfg, env: &Env) -> ChildSpec {
    let script = Arc::new(w.script.clone());
    let gate = w.gate;
    let env = env.clone();
    let mut spec = ChildSpec::new(
        w.name.clone(),
        service_fn(move |ctx: Context| {
            let script = script.clone();
            let env = env.clone();
            async move {
                // Declared first, dropped last: after a `DropPanic` too.
                let _alive = env.alive.enter();
                let n = env.next_run(ctx.path());
                let run = script[(n - 1).min(script.len() - 1)];
                // Made only when asked for: a `DropPanic` made and dropped
                // at once would panic here.
                let _bomb = if run.drop_panic {
                    Some(DropPanic)
                } else {
                    None
                };
                if tracing_on() {
                    eprintln!("run {n} of {}: {run:?}", ctx.path());
                }
                if let Some((_, after)) = gate {
                    if run.act != Act::NeverReady {
                        pause(after).await;
                        ctx.ready();
                    }
                }
                match run.act {
                    Act::Serve | Act::NeverReady => {
                        ctx.cancelled().await;
                        Ok(())
                    }
                    Act::OkAfter(d) => {
                        tokio::select! {
                            _ = ctx.cancelled() => {}
                            _ = pause(d) => {}
                        }
                        Ok(())
                    }
                    Act::ErrAfter(d, heed) => {
                        if heed {
                            tokio::select! {
                                _ = ctx.cancelled() => return Ok(()),
                                _ = pause(d) => {}
                            }
                        } else {
                            pause(d).await;
                        }
                        Err(format!("{INJECTED} failure").into())
                    }
                    Act::PanicAfter(d) => {
                        tokio::select! {
                            _ = ctx.cancelled() => return Ok(()),
                            _ = pause(d) => {}
                        }
                        panic!("{INJECTED} panic");
                    }
                    Act::Hang => {
                        ctx.cancelled().await;
                        std::future::pending::<()>().await;
                        Ok(())
                    }
                    Act::FatalAfter(d) => {
                        tokio::select! {
                            _ = ctx.cancelled() => return Ok(()),
                            _ = pause(d) => {}
                        }
                        Err(tokio_supervisor::Fatal::new(format!("{INJECTED} fatal")).into())
                    }
                }
            }
        }),
    )
    .restart(w.restart)
    .shutdown(w.shutdown)
    .backoff(backoff(w.backoff));
    if let Some((timeout, _)) = w.gate {
        spec = spec.wait_ready(Duration::from_millis(timeout));
    }
    if let Some(max) = w.limit {
        spec = spec.restart_limit(max, Duration::from_secs(1));
    }
    if let Some(every) = w.periodic {
        spec = spec.periodic(Duration::from_millis(every));
    }
    spec.significant(w.significant)
}

fn build(s: &SupCfg, env: &Env) -> Result<Supervisor, String> {
    let mut b = if s.dynamic {
        let b = Supervisor::dynamic(s.name.clone());
        match s.max_children {
            Some(m) => b.max_children(m),
            None => b,
        }
    } else {
        Supervisor::builder(s.name.clone())
            .strategy(s.strategy)
            .auto_shutdown(s.auto)
    };
    if let Some(order) = s.order {
        b = b.shutdown_order(order);
    }
    b = b.intensity(s.intensity.0, Duration::from_millis(s.intensity.1));
    if s.concurrent_start {
        b = b.start_order(tokio_supervisor::StartOrder::Concurrent);
    }
    if let Some(ms) = s.budget {
        b = b.shutdown_budget(Duration::from_millis(ms));
    }
    for c in &s.children {
        b = b.child(match c {
            Node::Worker(w) => worker_spec(w, env),
            Node::Sup(n) => ChildSpec::from(build(n, env)?)
                .restart(n.restart)
                .shutdown(n.shutdown)
                .significant(n.significant)
                .backoff(backoff(n.backoff)),
        });
    }
    b.build()
        .map_err(|e| format!("harness: a generated configuration is refused: {e}"))
}

// ----- the commander ---------------------------------------------------

/// What the commands may aim at.
struct Targets {
    /// Children, relative or full paths.
    children: Vec<String>,
    /// Paths that name no child, or go through a worker.
    bogus: Vec<String>,
    /// Supervisors to start children into: `(path, dynamic)`.
    sups: Vec<(String, bool)>,
    /// Keep away from the root's own children (the trigger of the case's
    /// self-stop must stay untouched).
    spare_root_children: bool,
}

impl Targets {
    /// A child's path; one in ten names no child.
    fn aim(&self, i: usize) -> String {
        if i % 10 == 0 || self.children.is_empty() {
            self.bogus[(i / 10) % self.bogus.len()].clone()
        } else {
            self.children[(i / 10) % self.children.len()].clone()
        }
    }
}

/// Whether to print each case, its runs and its events (`FAULT_TRACE=1`).
fn tracing_on() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("FAULT_TRACE").is_some())
}

async fn commander(
    h: SupervisorHandle,
    commands: Vec<(u64, Cmd)>,
    mut targets: Targets,
    env: Env,
    log: Arc<Mutex<Vec<String>>>,
) -> Result<(), String> {
    for (gap, cmd) in commands {
        pause(gap).await;
        let res = command(&h, &cmd, &mut targets, &env).await;
        log.lock().unwrap().push(res);
    }
    Ok(())
}

/// Runs one command; what it answered, for the log.
async fn command(h: &SupervisorHandle, cmd: &Cmd, targets: &mut Targets, env: &Env) -> String {
    {
        match cmd {
            Cmd::Terminate(i) => {
                let p = targets.aim(*i);
                format!("terminate {p}: {:?}", h.terminate_child(&p).await)
            }
            Cmd::Restart(i) => {
                let p = targets.aim(*i);
                format!("restart {p}: {:?}", h.restart_child(&p).await)
            }
            Cmd::Delete(i) => {
                let p = targets.aim(*i);
                format!("delete {p}: {:?}", h.delete_child(&p).await)
            }
            Cmd::StartChild(i, w) => {
                let (sup, dynamic) = targets.sups[*i % targets.sups.len()].clone();
                let mut w = (**w).clone();
                if dynamic {
                    w.name = "d".into();
                }
                let res = if sup.is_empty() {
                    h.start_child(worker_spec(&w, env)).await
                } else {
                    h.start_child_in(&sup, worker_spec(&w, env)).await
                };
                if let Ok(path) = &res {
                    let depth = path.matches('/').count();
                    if !(targets.spare_root_children && depth == 1) {
                        targets.children.push(path.clone());
                    }
                }
                format!("start_child in {sup:?}: {res:?}")
            }
            Cmd::SpawnTask(name, act) => {
                let alive = env.alive.clone();
                let act = *act;
                let fut = async move {
                    let _alive = alive.enter();
                    match act {
                        TaskAct::OkAfter(d) => pause(d).await,
                        TaskAct::PanicAfter(d) => {
                            pause(d).await;
                            panic!("{INJECTED} task panic");
                        }
                        TaskAct::Pending => std::future::pending().await,
                    }
                };
                // Not joined: a refusal shows in the supervisor's answers to
                // the commands after it, and the task runs on unawaited.
                let task = h.spawn_task(name.clone(), fut);
                format!("spawn_task {}", task.path())
            }
            Cmd::Which => format!("which_children: {}", h.which_children().await.len()),
            Cmd::WhichOf(i) => {
                let p = targets.aim(*i);
                let res = h.which_children_of(&p).await.map(|v| v.len());
                format!("which_children_of {p}: {res:?}")
            }
            Cmd::Count => format!("count_children: {:?}", h.count_children().await),
            Cmd::Tree => {
                let tree = h.tree().await;
                format!("tree: {} lines", tree.to_string().lines().count())
            }
        }
    }
}

// ----- the checks --------------------------------------------------------

/// What the events say of one path since its current child was added (or
/// its supervisor started again).
#[derive(Debug, Default, Clone)]
struct PathGen {
    open: Option<u32>,
    last_attempt: u32,
    pending_restart: Option<u32>,
    starts: u64,
    restarts: u64,
    failures: u64,
    exits: BTreeMap<String, u64>,
    last_exit: Option<ExitReason>,
    gave_up: u64,
}

#[derive(Debug, Default)]
struct EventStats {
    per_path: HashMap<String, PathGen>,
    starts: u64,
    restarts: u64,
    exits: BTreeMap<String, u64>,
    gave_up: u64,
    /// `SupervisorFailed` for an exceeded intensity, per supervisor path.
    intensity: BTreeMap<String, u64>,
}

/// Check 4, and the tallies for check 5.
fn check_events(events: &[Event]) -> Result<EventStats, String> {
    let mut st = EventStats::default();
    for (i, e) in events.iter().enumerate() {
        let path = e.path.to_string();
        let here = || format!("event #{i} {path} {:?}", e.kind);
        match &e.kind {
            EventKind::Started { attempt } => {
                let g = st.per_path.entry(path.clone()).or_default();
                if let Some(a) = g.open {
                    return Err(format!("{}: run {a} had not exited", here()));
                }
                if *attempt == 1 && g.last_attempt > 0 {
                    // A new generation: the same name added again (a failed
                    // `start_child` leaves no `ChildRemoved`), or its
                    // supervisor started again. Not reset on the
                    // supervisor's own `Started`: on the multi-thread
                    // runtime, the parent sends it after spawning the
                    // nested supervisor's task, whose children's `Started`
                    // may come first.
                    *g = PathGen::default();
                }
                if *attempt != g.last_attempt + 1 {
                    return Err(format!(
                        "{}: attempt {attempt} after attempt {}",
                        here(),
                        g.last_attempt
                    ));
                }
                if let Some(r) = g.pending_restart.take() {
                    if r != *attempt {
                        return Err(format!("{}: announced as Restarted {{ {r} }}", here()));
                    }
                }
                g.open = Some(*attempt);
                g.last_attempt = *attempt;
                g.starts += 1;
                st.starts += 1;
            }
            EventKind::Restarted { attempt } => {
                let g = st.per_path.entry(path.clone()).or_default();
                if g.open.is_some() || g.pending_restart.is_some() {
                    return Err(format!("{}: restarted while {g:?}", here()));
                }
                g.pending_restart = Some(*attempt);
                g.restarts += 1;
                st.restarts += 1;
            }
            EventKind::Exited { reason } => {
                // A nested supervisor ends only once its whole subtree has.
                let prefix = format!("{path}/");
                for (p, g) in &st.per_path {
                    if let Some(a) = g.open.filter(|_| p.starts_with(&prefix)) {
                        return Err(format!("{}: run {a} of {p} had not exited", here()));
                    }
                }
                let g = st.per_path.entry(path.clone()).or_default();
                if g.open.take().is_none() {
                    return Err(format!("{}: no run to exit", here()));
                }
                *g.exits.entry(reason.as_str().to_owned()).or_default() += 1;
                *st.exits.entry(reason.as_str().to_owned()).or_default() += 1;
                if reason.is_failure() {
                    g.failures += 1;
                }
                g.last_exit = Some(reason.clone());
            }
            EventKind::GaveUp { .. } => {
                st.per_path.entry(path.clone()).or_default().gave_up += 1;
                st.gave_up += 1;
            }
            EventKind::ChildRemoved => {
                let prefix = format!("{path}/");
                for (p, g) in st.per_path.iter_mut() {
                    if *p == path || p.starts_with(&prefix) {
                        if let Some(a) = g.open {
                            return Err(format!("{}: run {a} of {p} still open", here()));
                        }
                        *g = PathGen::default();
                    }
                }
            }
            EventKind::SupervisorFailed { error }
                if error.starts_with("supervisor `")
                    && error.contains("exceeded its restart intensity") =>
            {
                *st.intensity.entry(path.clone()).or_default() += 1;
            }
            _ => {}
        }
    }
    for (p, g) in &st.per_path {
        if let Some(a) = g.open {
            return Err(format!("{p}: run {a} started and never exited"));
        }
        if let Some(a) = g.pending_restart {
            return Err(format!("{p}: Restarted {{ {a} }} never started"));
        }
    }
    Ok(st)
}

/// Check 5: the final snapshots, counts and metrics against the events.
async fn check_views(h: &SupervisorHandle, st: &EventStats) -> Result<(), String> {
    let snaps = h.which_children().await;
    let counts = h.count_children().await;
    let m = h.metrics();
    if counts.specs != snaps.len() || counts.active != 0 {
        return Err(format!(
            "count_children {counts:?} after the stop, with {} snapshots",
            snaps.len()
        ));
    }
    if counts.supervisors + counts.workers != counts.specs {
        return Err(format!("count_children {counts:?} does not add up"));
    }
    let none = PathGen::default();
    for s in &snaps {
        let g = st.per_path.get(&*s.path).unwrap_or(&none);
        if !matches!(s.phase, Phase::Terminated(_)) {
            return Err(format!("{} is {:?} after the stop", s.path, s.phase));
        }
        if (s.starts, s.restarts, s.failures) != (g.starts, g.restarts, g.failures) {
            return Err(format!(
                "{}: snapshot starts/restarts/failures {:?}, events {:?}",
                s.path,
                (s.starts, s.restarts, s.failures),
                (g.starts, g.restarts, g.failures)
            ));
        }
        if g.starts > 0 && s.last_exit != g.last_exit {
            return Err(format!(
                "{}: snapshot last_exit {:?}, events {:?}",
                s.path, s.last_exit, g.last_exit
            ));
        }
    }
    // Per child, for the children still listed.
    let mut listed: Vec<&str> = snaps.iter().map(|s| &*s.path).collect();
    listed.sort_unstable();
    let metered: Vec<&str> = m.children.iter().map(|c| &*c.path).collect();
    if listed != metered {
        return Err(format!(
            "metrics list {metered:?}, snapshots list {listed:?}"
        ));
    }
    for c in &m.children {
        let g = st.per_path.get(&*c.path).unwrap_or(&none);
        let got = (
            c.counts.starts,
            c.counts.restarts,
            &c.counts.exits,
            c.counts.circuit_open,
            c.active,
        );
        let want = (g.starts, g.restarts, &g.exits, g.gave_up, false);
        if got != want {
            return Err(format!(
                "{}: metrics (starts, restarts, exits, circuit_open, active) {got:?}, events {want:?}",
                c.path
            ));
        }
    }
    // In total, every child past and present.
    let got = (
        m.total.starts,
        m.total.restarts,
        &m.total.exits,
        m.total.circuit_open,
        m.active,
    );
    let want = (st.starts, st.restarts, &st.exits, st.gave_up, 0);
    if got != want {
        return Err(format!(
            "total metrics (starts, restarts, exits, circuit_open, active) {got:?}, events {want:?}"
        ));
    }
    let exits: u64 = st.exits.values().sum();
    let bucketed: u64 = m.uptime_buckets.iter().map(|b| b.1).sum();
    if bucketed != exits {
        return Err(format!(
            "uptime histogram counts {bucketed} runs, events {exits} exits"
        ));
    }
    let per_sup: BTreeMap<String, u64> = m
        .supervisors
        .iter()
        .map(|s| (s.path.to_string(), s.intensity_exceeded))
        .collect();
    let total: u64 = st.intensity.values().sum();
    if per_sup != st.intensity || m.intensity_exceeded != total {
        return Err(format!(
            "intensity exceeded: metrics {} {per_sup:?}, events {total} {:?}",
            m.intensity_exceeded, st.intensity
        ));
    }
    Ok(())
}

// ----- coverage ----------------------------------------------------------

/// What the cases exercised, printed at the end (`--nocapture`), so that
/// a generator that drifts into trivial trees shows.
#[derive(Debug, Default)]
struct Tally {
    cases: u64,
    events: u64,
    outcomes: BTreeMap<String, u64>,
    exits: BTreeMap<String, u64>,
    max_events: usize,
    commands_ok: u64,
    commands_refused: u64,
    refusals: BTreeMap<String, u64>,
}

static TALLY: Mutex<[Option<Tally>; 2]> = Mutex::new([None, None]);

fn tally(flavor: Flavor, f: impl FnOnce(&mut Tally)) {
    f(
        TALLY.lock().unwrap_or_else(|e| e.into_inner())[flavor as usize]
            .get_or_insert_with(Tally::default),
    );
}

// ----- one case ----------------------------------------------------------

/// Receives every event until the channel closes; a lag is a harness error.
async fn collect(mut rx: tokio::sync::broadcast::Receiver<Event>) -> Result<Vec<Event>, String> {
    let mut out = vec![];
    let trace = tracing_on();
    let t0 = Instant::now();
    loop {
        match rx.recv().await {
            Ok(e) => {
                if trace {
                    eprintln!("{:>6?} {} {:?}", t0.elapsed(), e.path, e.kind);
                }
                out.push(e);
            }
            Err(RecvError::Closed) => return Ok(out),
            Err(RecvError::Lagged(n)) => {
                return Err(format!(
                    "harness: the event collector lagged by {n}: make the trees smaller"
                ))
            }
        }
    }
}

fn check_outcome(outcome: &Result<(), SupervisorError>) -> Result<(), String> {
    match outcome {
        Err(e @ (SupervisorError::Lost { .. } | SupervisorError::NoRuntime { .. })) => {
            Err(format!("the supervisor's outcome: {e:?}"))
        }
        _ => Ok(()),
    }
}

async fn execute(case: &Case, log: Arc<Mutex<Vec<String>>>) -> Result<(), String> {
    let bound = match case.flavor {
        Flavor::Paused => Duration::from_secs(3_600),
        Flavor::Multi => Duration::from_secs(30),
    };
    let deadline = Instant::now() + bound;
    let hang = |what: &str| format!("hang: {what} still pending after {bound:?}");
    let env = Env {
        alive: Alive::default(),
        runs: Arc::default(),
    };
    let sup = build(&case.root, &env)?;
    let collector = tokio::spawn(collect(sup.subscribe()));

    let handle = if let Stop::RunUntil(t) = case.stop {
        let h = sup.spawn().map_err(|e| format!("spawn: {e}"))?;
        let outcome = tokio::time::timeout_at(deadline, h.run_until(pause(t)))
            .await
            .map_err(|_| hang("run_until"))?;
        log.lock().unwrap().push(format!("outcome: {outcome:?}"));
        check_outcome(&outcome)?;
        None
    } else {
        let h = sup.spawn().map_err(|e| format!("spawn: {e}"))?;
        let mut all = vec![];
        paths(&case.root, "", 1, &mut all);
        let spare = matches!(case.stop, Stop::Escalation | Stop::AutoShutdown);
        let mut children: Vec<String> = all
            .iter()
            .filter(|(_, _, _, depth)| !(spare && *depth == 1))
            .map(|(p, ..)| p.clone())
            .collect();
        // Full paths too, as in snapshots.
        if let Some((p, ..)) = all.iter().find(|(_, _, _, d)| !(spare && *d == 1)) {
            children.push(format!("app/{p}"));
        }
        let bogus = ["nope", "app", "w0/x", "s0/nope", "s0/"]
            .map(String::from)
            .to_vec();
        let mut sups: Vec<(String, bool)> = all
            .iter()
            .filter(|(_, is_sup, ..)| *is_sup)
            .map(|(p, _, dynamic, _)| (p.clone(), *dynamic))
            .collect();
        if !spare {
            sups.push((String::new(), case.root.dynamic));
        }
        sups.push(("nope".into(), false));
        let targets = Targets {
            children,
            bogus,
            sups,
            spare_root_children: spare,
        };
        let cmd = tokio::spawn(commander(
            h.clone(),
            case.commands.clone(),
            targets,
            env.clone(),
            log.clone(),
        ));
        let stopped = async {
            match case.stop {
                Stop::Shutdown(t) => {
                    pause(t).await;
                    h.shutdown().await
                }
                Stop::Kill(t) => {
                    pause(t).await;
                    h.kill().await
                }
                Stop::RequestThenWait(t) => {
                    pause(t).await;
                    h.request_shutdown();
                    h.wait().await
                }
                Stop::Signals(first, second) => {
                    let run = h.run_until(pause(first));
                    let second = async {
                        match second {
                            Some(t) => {
                                pause(first).await;
                                pause(t).await;
                                let _ = h.kill().await;
                            }
                            None => std::future::pending().await,
                        }
                    };
                    // The second "signal" only while the stop runs.
                    let second = async {
                        tokio::select! {
                            () = second => {}
                            _ = h.wait() => {}
                        }
                    };
                    tokio::join!(run, second).0
                }
                Stop::Escalation | Stop::AutoShutdown | Stop::RunUntil(_) => h.wait().await,
            }
        };
        let outcome = tokio::time::timeout_at(deadline, stopped)
            .await
            .map_err(|_| hang("the stop"))?;
        // Check 2, at once: nothing of the tree may run past `wait()`.
        let alive = env.alive.count();
        log.lock().unwrap().push(format!("outcome: {outcome:?}"));
        if alive != 0 {
            return Err(format!(
                "{alive} child futures alive after the stop returned"
            ));
        }
        check_outcome(&outcome)?;
        if matches!(case.stop, Stop::Escalation) && outcome.is_ok() {
            return Err("the root did not fail, with a permanent child that always fails".into());
        }
        if !h.is_finished() {
            return Err("the stop returned, the handle is not finished".into());
        }
        match tokio::time::timeout_at(deadline, cmd).await {
            Err(_) => return Err(hang("a command")),
            Ok(Err(e)) => return Err(format!("the commander task failed: {e}")),
            Ok(Ok(res)) => res?,
        }
        Some(h)
    };
    if env.alive.count() != 0 {
        return Err(format!(
            "{} child futures alive after the stop",
            env.alive.count()
        ));
    }
    let events = match tokio::time::timeout_at(deadline, collector).await {
        Err(_) => return Err(hang("the event stream's end")),
        Ok(Err(e)) => return Err(format!("the collector task failed: {e}")),
        Ok(Ok(events)) => events?,
    };
    let st = check_events(&events)?;
    tally(case.flavor, |t| {
        t.cases += 1;
        t.events += events.len() as u64;
        t.max_events = t.max_events.max(events.len());
        for (k, n) in &st.exits {
            *t.exits.entry(k.clone()).or_default() += n;
        }
        let log = log.lock().unwrap();
        for l in log.iter() {
            if let Some(o) = l.strip_prefix("outcome: ") {
                let o = o.split([' ', '(']).take(2).collect::<Vec<_>>().join(" ");
                *t.outcomes.entry(o).or_default() += 1;
            } else if let Some((_, e)) = l.split_once(": Err(") {
                t.commands_refused += 1;
                let kind = e.split([' ', '(']).next().unwrap_or_default().to_owned();
                *t.refusals.entry(kind).or_default() += 1;
            } else {
                t.commands_ok += 1;
            }
        }
    });
    if let Some(h) = handle {
        check_views(&h, &st).await?;
    }
    Ok(())
}

fn run_case(seed: u64, flavor: Flavor) -> Result<(), String> {
    let case = generate(seed, flavor);
    if tracing_on() {
        eprintln!("{}", render(&case));
    }
    let log = Arc::new(Mutex::new(Vec::new()));
    let rt = match flavor {
        Flavor::Paused => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .start_paused(true)
            .build(),
        Flavor::Multi => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build(),
    }
    .expect("a runtime");
    let before = foreign_panics();
    let res = rt.block_on(execute(&case, log.clone()));
    drop(rt);
    let after = foreign_panics();
    let res = res.and_then(|()| {
        if after > before {
            let panics = FOREIGN_PANICS.lock().unwrap_or_else(|e| e.into_inner());
            Err(format!("a panic escaped: {:?}", &panics[before..]))
        } else {
            Ok(())
        }
    });
    res.map_err(|e| {
        let log = log.lock().unwrap();
        format!(
            "seed {seed} ({flavor:?}): {e}\n{}log:\n  {}",
            render(&case),
            log.join("\n  ")
        )
    })
}

/// The seeds to run: `FAULT_SEED` alone, or `FAULT_CASES` (default
/// `default`) from `base`.
fn seeds(base: u64, default: u64) -> Vec<u64> {
    if let Ok(s) = std::env::var("FAULT_SEED") {
        let s = s.trim();
        let seed = match s.strip_prefix("0x") {
            Some(hex) => u64::from_str_radix(hex, 16),
            None => s.parse(),
        };
        return vec![seed.expect("FAULT_SEED: a u64, decimal or 0x hex")];
    }
    let n = std::env::var("FAULT_CASES")
        .ok()
        .map(|s| s.parse().expect("FAULT_CASES: a number"))
        .unwrap_or(default);
    (0..n).map(|i| base + i).collect()
}

fn run_all(base: u64, default: u64, flavor: Flavor) {
    install_hook();
    let seeds = seeds(base, default);
    let started = std::time::Instant::now();
    for &seed in &seeds {
        if let Err(e) = run_case(seed, flavor) {
            panic!(
                "fault case failed: {e}\nreplay: FAULT_SEED={seed} cargo test --all-features \
                 --test fault_injection {}",
                match flavor {
                    Flavor::Paused => "paused_time",
                    Flavor::Multi => "multi_thread",
                }
            );
        }
    }
    let t = TALLY.lock().unwrap_or_else(|e| e.into_inner())[flavor as usize].take();
    eprintln!(
        "{} {flavor:?} cases in {:?}: {t:#?}",
        seeds.len(),
        started.elapsed()
    );
}

#[test]
fn paused_time_cases() {
    run_all(PAUSED_BASE, PAUSED_CASES, Flavor::Paused);
}

#[test]
fn multi_thread_cases() {
    run_all(MULTI_BASE, MULTI_CASES, Flavor::Multi);
}
