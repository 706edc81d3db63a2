//! An executable model of OTP's supervisor rules, plain Rust with no
//! async, shared by `tests/model.rs` (against the state machine, with no
//! runtime) and `tests/otp_model.rs` (against the whole supervisor on a
//! paused runtime). Each test draws the scenarios it can play.

#![allow(dead_code)] // each test uses its part

use std::collections::VecDeque;

use proptest::test_runner::{Config, RngSeed};

use tokio_supervisor::supervisor::AutoShutdown;
use tokio_supervisor::{Restart, ShutdownOrder, Strategy as SupStrategy};

// ----- the scenario ---------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Delay {
    None,
    Fixed(u64),
    /// Initial delay; multiplier 11, cap `initial * 121`, reset after 500 ms.
    Exp(u64),
}

pub const RESET_AFTER_MS: u64 = 500;

#[derive(Debug, Clone, Copy)]
pub struct ChildCfg {
    pub restart: Restart,
    pub delay: Delay,
    /// Ready-gated (ready as soon as spawned).
    pub gated: bool,
    pub significant: bool,
}

#[derive(Debug, Clone)]
pub struct Cfg {
    pub strategy: SupStrategy,
    /// The stop order of the supervisor and of its group restarts. The
    /// model's children stop at once when asked, so both orders must give
    /// the same log: `Concurrent` asks in reverse start order too.
    pub order: ShutdownOrder,
    pub max: u32,
    pub period_ms: u64,
    pub auto: AutoShutdown,
    pub children: Vec<ChildCfg>,
    /// A ready-gated child that never becomes ready, and its timeout: the
    /// start fails.
    pub never_ready: Option<(usize, u64)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kind {
    Ok,
    Err,
    Panic,
    /// A nested supervisor that gave up (its intensity exceeded).
    GaveUp,
}

#[derive(Debug, Clone, Copy)]
pub enum Act {
    Exit(usize, Kind),
    Advance(u64),
    Terminate(usize),
    Restart(usize),
    Delete(usize),
}

// ----- the model --------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum St {
    Running,
    /// Waiting for its own restart (one-for-one).
    Waiting(u64),
    /// Waiting for the group restart.
    Pending,
    Terminated,
    Removed,
}

#[derive(Debug)]
pub struct MChild {
    pub cfg: ChildCfg,
    pub st: St,
    pub attempt: u32,
    pub started_at: u64,
    pub restarts: u64,
}

/// OTP's rules, written out plainly, plus this crate's backoff.
#[derive(Debug)]
pub struct Model {
    pub strategy: SupStrategy,
    pub max: u32,
    pub period: u64,
    pub auto: AutoShutdown,
    pub kids: Vec<MChild>,
    pub now: u64,
    pub window: VecDeque<u64>,
    pub log: Vec<(u64, String)>,
    /// Stopped: by a failure (`failed`) or by itself (auto-shutdown).
    pub stopped: bool,
    pub failed: bool,
    pub plan_at: Option<u64>,
    /// The child whose exit the pending group restart is for.
    pub plan_for: Option<usize>,
}

impl Model {
    pub fn new(cfg: &Cfg) -> Self {
        let mut m = Model {
            strategy: cfg.strategy,
            max: cfg.max,
            period: cfg.period_ms,
            auto: cfg.auto,
            kids: cfg
                .children
                .iter()
                .map(|&c| MChild {
                    cfg: c,
                    st: St::Running,
                    attempt: 0,
                    started_at: 0,
                    restarts: 0,
                })
                .collect(),
            now: 0,
            window: VecDeque::new(),
            log: vec![],
            stopped: false,
            failed: false,
            plan_at: None,
            plan_for: None,
        };
        // In order; a child that never becomes ready ends the start: it is
        // aborted at its timeout, and the ones started before it stop in
        // reverse order.
        let last = cfg.never_ready.map_or(m.kids.len(), |(i, _)| i + 1);
        for i in 0..last {
            m.log.push((0, format!("start:{i}")));
        }
        for k in &mut m.kids[last..] {
            k.st = St::Terminated;
        }
        if let Some((i, timeout)) = cfg.never_ready {
            m.now = timeout;
            m.kids[i].st = St::Terminated;
            m.failed = true;
            m.stop_all();
        }
        m
    }

    pub fn is_running(&self, i: usize) -> bool {
        !self.stopped && self.kids[i].st == St::Running
    }

    pub fn next_delay(&mut self, i: usize, ran_for: u64) -> u64 {
        let k = &mut self.kids[i];
        match k.cfg.delay {
            Delay::None => 0,
            Delay::Fixed(d) => d,
            Delay::Exp(initial) => {
                if ran_for >= RESET_AFTER_MS {
                    k.attempt = 0;
                }
                let d = (initial * 11u64.pow(k.attempt.min(2))).min(initial * 121);
                k.attempt += 1;
                d
            }
        }
    }

    pub fn start(&mut self, i: usize) {
        self.log.push((self.now, format!("start:{i}")));
        let k = &mut self.kids[i];
        k.st = St::Running;
        k.started_at = self.now;
        k.restarts += 1;
    }

    pub fn stop(&mut self, i: usize) {
        self.log.push((self.now, format!("stop:{i}")));
        let k = &mut self.kids[i];
        k.st = if k.cfg.restart == Restart::Temporary {
            St::Removed
        } else {
            St::Terminated
        };
    }

    pub fn exit(&mut self, i: usize, kind: Kind) {
        let t = self.now;
        let ran_for = t - self.kids[i].started_at;
        // A nested supervisor that gave up ends with `shutdown`: not a
        // failure, restarted only if `Permanent`.
        let restart = match self.kids[i].cfg.restart {
            Restart::Permanent => true,
            Restart::Transient => matches!(kind, Kind::Err | Kind::Panic),
            Restart::Temporary => false,
        };
        if !restart {
            let k = &mut self.kids[i];
            k.st = if k.cfg.restart == Restart::Temporary {
                St::Removed
            } else {
                St::Terminated
            };
            if k.cfg.significant {
                self.auto_shutdown();
            }
            return;
        }
        // Intensity: records older than now - period are dropped; a record
        // exactly `period` old still counts.
        while self.window.front().is_some_and(|&x| t - x > self.period) {
            self.window.pop_front();
        }
        self.window.push_back(t);
        if self.window.len() > self.max as usize {
            self.kids[i].st = St::Terminated;
            self.failed = true;
            return self.stop_all();
        }
        let d = self.next_delay(i, ran_for);
        match self.strategy {
            SupStrategy::OneForOne => {
                if d == 0 {
                    self.start(i);
                } else {
                    self.kids[i].st = St::Waiting(t + d);
                }
            }
            _ => self.group(i, d),
        }
    }

    /// A significant child ended for good.
    pub fn auto_shutdown(&mut self) {
        let stop = match self.auto {
            AutoShutdown::Never => false,
            AutoShutdown::AnySignificant => true,
            AutoShutdown::AllSignificant => !self.kids.iter().any(|k| {
                k.cfg.significant && matches!(k.st, St::Running | St::Waiting(_) | St::Pending)
            }),
        };
        if stop {
            self.stop_all();
        }
    }

    pub fn group(&mut self, x: usize, d: u64) {
        self.kids[x].st = St::Pending;
        let from = if self.strategy == SupStrategy::RestForOne {
            x
        } else {
            0
        };
        for j in (from..self.kids.len()).rev().filter(|&j| j != x) {
            let temporary = self.kids[j].cfg.restart == Restart::Temporary;
            match self.kids[j].st {
                St::Running => {
                    self.log.push((self.now, format!("stop:{j}")));
                    self.kids[j].st = if temporary { St::Removed } else { St::Pending };
                }
                St::Terminated | St::Waiting(_) if !temporary => self.kids[j].st = St::Pending,
                _ => {}
            }
        }
        self.plan_at = Some(self.now + d);
        self.plan_for = Some(x);
        if d == 0 {
            self.fire_plan();
        }
    }

    pub fn fire_plan(&mut self) {
        self.plan_at = None;
        self.plan_for = None;
        for j in 0..self.kids.len() {
            if self.kids[j].st == St::Pending {
                self.start(j);
            }
        }
    }

    /// The supervisor's stop: every running child, in reverse order.
    pub fn stop_all(&mut self) {
        self.stopped = true;
        self.plan_at = None;
        for j in (0..self.kids.len()).rev() {
            match self.kids[j].st {
                St::Running => self.stop(j),
                St::Waiting(_) | St::Pending => self.kids[j].st = St::Terminated,
                _ => {}
            }
        }
    }

    pub fn advance(&mut self, d: u64) {
        let end = self.now + d;
        while !self.stopped {
            let timers = self
                .kids
                .iter()
                .enumerate()
                .filter_map(|(i, k)| match k.st {
                    St::Waiting(at) => Some((at, Some(i))),
                    _ => None,
                });
            let next = timers
                .chain(self.plan_at.map(|at| (at, None)))
                .filter(|&(at, _)| at <= end)
                .min_by_key(|&(at, _)| at);
            let Some((at, who)) = next else { break };
            self.now = at;
            match who {
                Some(i) => self.start(i),
                None => self.fire_plan(),
            }
        }
        self.now = end;
    }

    pub fn terminate(&mut self, i: usize) {
        if self.plan_for == Some(i) {
            // OTP: the pending group restart is dropped; the siblings it
            // stopped stay down.
            self.plan_at = None;
            self.plan_for = None;
            for k in &mut self.kids {
                if k.st == St::Pending {
                    k.st = St::Terminated;
                }
            }
        }
        match self.kids[i].st {
            St::Running => self.stop(i),
            St::Waiting(_) | St::Pending => self.kids[i].st = St::Terminated,
            St::Terminated | St::Removed => {}
        }
    }

    pub fn restart_cmd(&mut self, i: usize) {
        if self.kids[i].st == St::Terminated {
            self.log.push((self.now, format!("start:{i}")));
            let k = &mut self.kids[i];
            k.st = St::Running;
            k.started_at = self.now;
            k.attempt = 0;
        }
    }

    pub fn delete(&mut self, i: usize) {
        if self.kids[i].st == St::Terminated {
            self.kids[i].st = St::Removed;
        }
    }

    pub fn apply(&mut self, a: Act) {
        if self.stopped {
            return;
        }
        match a {
            Act::Exit(i, kind) => {
                if self.is_running(i) {
                    self.exit(i, kind);
                }
            }
            Act::Advance(d) => self.advance(d),
            Act::Terminate(i) => self.terminate(i),
            Act::Restart(i) => self.restart_cmd(i),
            Act::Delete(i) => self.delete(i),
        }
    }
}

#[derive(Debug, PartialEq)]
pub struct Observed {
    pub log: Vec<(u64, String)>,
    /// Before the final stop: which children run.
    pub running: Vec<bool>,
    /// At the end: which children remain, and their restarts.
    pub present: Vec<bool>,
    pub restarts: Vec<u64>,
    pub failed: bool,
}

/// The machine, and the children it runs, played by the test.
pub fn expected(cfg: &Cfg, acts: &[Act]) -> Observed {
    let mut m = Model::new(cfg);
    for &a in acts {
        m.apply(a);
    }
    let running = (0..m.kids.len()).map(|i| m.is_running(i)).collect();
    if !m.stopped {
        m.stop_all();
    }
    Observed {
        present: m.kids.iter().map(|k| k.st != St::Removed).collect(),
        restarts: m.kids.iter().map(|k| k.restarts).collect(),
        running,
        failed: m.failed,
        log: m.log,
    }
}

/// A case worked out by hand: rest_for_one with a fixed delay, then the
/// intensity. Each test plays it; the model's own answer is checked below.
pub fn hand_worked_case() -> (Cfg, Vec<Act>) {
    let c = |restart, delay| ChildCfg {
        restart,
        delay,
        gated: false,
        significant: false,
    };
    let cfg = Cfg {
        strategy: SupStrategy::RestForOne,
        order: ShutdownOrder::Reverse,
        max: 1,
        period_ms: 1_000,
        auto: AutoShutdown::Never,
        children: vec![
            c(Restart::Permanent, Delay::None),
            c(Restart::Permanent, Delay::Fixed(102)),
            c(Restart::Temporary, Delay::None),
        ],
        never_ready: None,
    };
    let acts = vec![
        Act::Exit(1, Kind::Err), // stop c2 (removed), c1 waits 102 ms
        Act::Advance(200),       // c1 restarts at 102
        Act::Exit(0, Kind::Ok),  // second restart within 1 s: escalation
    ];
    (cfg, acts)
}

/// The model itself, on the hand-worked case.
#[test]
fn the_model_on_a_hand_worked_case() {
    let (cfg, acts) = hand_worked_case();
    let want = expected(&cfg, &acts);
    let log: Vec<_> = want.log.iter().map(|(t, s)| format!("{t}:{s}")).collect();
    assert_eq!(
        log,
        [
            "0:start:0",
            "0:start:1",
            "0:start:2",
            "0:stop:2",
            "102:start:1",
            "200:stop:1"
        ]
    );
    assert!(want.failed);
    assert_eq!(want.present, [true, true, false]);
}

/// The properties' configuration: `cases` cases on a fixed seed, unless
/// `PROPTEST_CASES` or `PROPTEST_RNG_SEED` say otherwise.
pub fn proptest_config(cases: u32) -> Config {
    let mut c = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_RNG_SEED").is_none() {
        c.rng_seed = RngSeed::Fixed(0x5eed_f07b);
    }
    if let Some(cases) = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        c.cases = cases;
    }
    c
}
