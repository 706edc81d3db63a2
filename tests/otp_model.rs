//! A property: the whole supervisor, on a paused runtime, behaves as a small
//! executable model of OTP's rules (plain Rust, no async, in this file).
//! `model.rs` checks the state machine alone against a larger model, with
//! many more cases; this one checks that the driver and the real tasks and
//! timers keep to it.
//!
//! Random supervisors (strategy, stop order, intensity, 1–8 children with
//! random restart types and backoffs) receive random sequences of child exits (`Ok`, `Err`,
//! panic), commands (`terminate_child`, `restart_child`) and time advances,
//! on virtual time. The log of starts and stops (with their times, in
//! order), the restarts, which children remain, and the supervisor's fate
//! must equal the model's.
//!
//! Determinism: the test acts only at multiples of 10 ms, and every delay of
//! child `i` is congruent to `i + 1` modulo 10 (exponential backoffs use the
//! multiplier 11, which keeps the residue), so no two timers ever fire at the
//! same instant, nor at an instant where the test acts. The seed is fixed
//! (override it with `PROPTEST_RNG_SEED`), so the 256 cases are the same on
//! every run.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, RngSeed};
use tokio::time::Instant;
use tokio_supervisor::{
    service_fn, Backoff, ChildSpec, Context, Phase, Restart, Shutdown, ShutdownOrder,
    Strategy as SupStrategy, Supervisor,
};

// ----- the scenario -----------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Delay {
    None,
    Fixed(u64),
    /// Initial delay; multiplier 11, cap `initial * 121`, reset after 500 ms.
    Exp(u64),
}

const RESET_AFTER_MS: u64 = 500;

#[derive(Debug, Clone, Copy)]
struct ChildCfg {
    restart: Restart,
    delay: Delay,
}

#[derive(Debug, Clone)]
struct Cfg {
    strategy: SupStrategy,
    /// The stop order of the supervisor and of its group restarts. The
    /// model's children stop at once when asked, so both orders must give
    /// the same log: `Concurrent` asks in reverse start order too.
    order: ShutdownOrder,
    max: u32,
    period_ms: u64,
    children: Vec<ChildCfg>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Ok,
    Err,
    Panic,
}

#[derive(Debug, Clone, Copy)]
enum Action {
    Exit(usize, Kind),
    Advance(u64),
    Terminate(usize),
    Restart(usize),
}

fn child_cfg(i: usize) -> impl Strategy<Value = ChildCfg> {
    let r = i as u64 + 1;
    let restart = prop_oneof![
        Just(Restart::Permanent),
        Just(Restart::Transient),
        Just(Restart::Temporary)
    ];
    let delay = prop_oneof![
        Just(Delay::None),
        prop_oneof![Just(1u64), Just(5), Just(20)].prop_map(move |k| Delay::Fixed(10 * k + r)),
        prop_oneof![Just(1u64), Just(3)].prop_map(move |k| Delay::Exp(10 * k + r)),
    ];
    (restart, delay).prop_map(|(restart, delay)| ChildCfg { restart, delay })
}

fn cfg() -> impl Strategy<Value = Cfg> {
    let strategy = prop_oneof![
        Just(SupStrategy::OneForOne),
        Just(SupStrategy::OneForAll),
        Just(SupStrategy::RestForOne)
    ];
    let period = prop_oneof![Just(1_000u64), Just(5_000), Just(60_000)];
    let order = prop_oneof![
        Just(ShutdownOrder::Reverse),
        Just(ShutdownOrder::Concurrent)
    ];
    (strategy, order, 0u32..=6, period, 1usize..=8).prop_flat_map(
        |(strategy, order, max, period_ms, n)| {
            let children: Vec<_> = (0..n).map(child_cfg).collect();
            children.prop_map(move |children| Cfg {
                strategy,
                order,
                max,
                period_ms,
                children,
            })
        },
    )
}

fn actions(n: usize) -> impl Strategy<Value = Vec<Action>> {
    let kind = prop_oneof![Just(Kind::Ok), Just(Kind::Err), Just(Kind::Panic)];
    let action = prop_oneof![
        6 => (0..n, kind).prop_map(|(i, k)| Action::Exit(i, k)),
        4 => prop_oneof![(1u64..=30).prop_map(|k| k * 10), Just(2_000)].prop_map(Action::Advance),
        1 => (0..n).prop_map(Action::Terminate),
        1 => (0..n).prop_map(Action::Restart),
    ];
    proptest::collection::vec(action, 1..40)
}

fn scenario() -> impl Strategy<Value = (Cfg, Vec<Action>)> {
    cfg().prop_flat_map(|c| {
        let n = c.children.len();
        (Just(c), actions(n))
    })
}

// ----- the model -----------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum St {
    Running,
    /// Waiting for its own restart timer (one-for-one).
    Waiting(u64),
    /// Waiting for the group restart.
    Pending,
    Terminated,
    Removed,
}

#[derive(Debug)]
struct MChild {
    cfg: ChildCfg,
    st: St,
    attempt: u32,
    started_at: u64,
    restarts: u64,
}

/// OTP's rules, written out plainly, plus this crate's backoff.
#[derive(Debug)]
struct Model {
    strategy: SupStrategy,
    max: u32,
    period: u64,
    kids: Vec<MChild>,
    now: u64,
    window: VecDeque<u64>,
    log: Vec<(u64, String)>,
    failed: bool,
    plan_at: Option<u64>,
    /// The child whose exit the pending group restart is for.
    plan_for: Option<usize>,
}

impl Model {
    fn new(cfg: &Cfg) -> Self {
        let mut m = Model {
            strategy: cfg.strategy,
            max: cfg.max,
            period: cfg.period_ms,
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
            failed: false,
            plan_at: None,
            plan_for: None,
        };
        for i in 0..m.kids.len() {
            m.log.push((0, format!("start:{i}")));
        }
        m
    }

    fn is_running(&self, i: usize) -> bool {
        !self.failed && self.kids[i].st == St::Running
    }

    fn next_delay(&mut self, i: usize, ran_for: u64) -> u64 {
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

    fn start(&mut self, i: usize) {
        self.log.push((self.now, format!("start:{i}")));
        let k = &mut self.kids[i];
        k.st = St::Running;
        k.started_at = self.now;
        k.restarts += 1;
    }

    fn stop(&mut self, i: usize) {
        self.log.push((self.now, format!("stop:{i}")));
        let k = &mut self.kids[i];
        k.st = if k.cfg.restart == Restart::Temporary {
            St::Removed
        } else {
            St::Terminated
        };
    }

    fn exit(&mut self, i: usize, kind: Kind) {
        let t = self.now;
        let ran_for = t - self.kids[i].started_at;
        let restart = match self.kids[i].cfg.restart {
            Restart::Permanent => true,
            Restart::Transient => kind != Kind::Ok,
            Restart::Temporary => false,
        };
        if !restart {
            let k = &mut self.kids[i];
            k.st = if k.cfg.restart == Restart::Temporary {
                St::Removed
            } else {
                St::Terminated
            };
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
            return self.fail();
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

    fn group(&mut self, x: usize, d: u64) {
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

    fn fire_plan(&mut self) {
        self.plan_at = None;
        self.plan_for = None;
        for j in 0..self.kids.len() {
            if self.kids[j].st == St::Pending {
                self.start(j);
            }
        }
    }

    fn fail(&mut self) {
        self.failed = true;
        self.plan_at = None;
        for j in (0..self.kids.len()).rev() {
            if self.kids[j].st == St::Running {
                self.stop(j);
            }
        }
    }

    fn advance(&mut self, d: u64) {
        let end = self.now + d;
        loop {
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

    fn terminate(&mut self, i: usize) {
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

    fn restart_cmd(&mut self, i: usize) {
        if self.kids[i].st == St::Terminated {
            self.log.push((self.now, format!("start:{i}")));
            let k = &mut self.kids[i];
            k.st = St::Running;
            k.started_at = self.now;
            k.attempt = 0;
        }
    }

    fn apply(&mut self, a: Action) {
        if self.failed {
            return;
        }
        match a {
            Action::Exit(i, kind) => {
                if self.is_running(i) {
                    self.exit(i, kind);
                }
            }
            Action::Advance(d) => self.advance(d),
            Action::Terminate(i) => self.terminate(i),
            Action::Restart(i) => self.restart_cmd(i),
        }
    }

    fn shutdown(&mut self) {
        if self.failed {
            return;
        }
        self.plan_at = None;
        for j in (0..self.kids.len()).rev() {
            if self.kids[j].st == St::Running {
                self.stop(j);
            }
        }
    }
}

// ----- the real thing ------------------------------------------------------

#[derive(Debug, PartialEq)]
struct Observed {
    log: Vec<(u64, String)>,
    /// Before the final stop: which children run.
    running: Vec<bool>,
    /// At the end: which children remain, and their restarts.
    present: Vec<bool>,
    restarts: Vec<u64>,
    failed: bool,
}

fn expected(cfg: &Cfg, actions: &[Action]) -> Observed {
    let mut m = Model::new(cfg);
    for &a in actions {
        m.apply(a);
    }
    let running = (0..m.kids.len()).map(|i| m.is_running(i)).collect();
    m.shutdown();
    Observed {
        present: m.kids.iter().map(|k| k.st != St::Removed).collect(),
        restarts: m.kids.iter().map(|k| k.restarts).collect(),
        running,
        failed: m.failed,
        log: m.log,
    }
}

type Senders = Arc<Mutex<HashMap<usize, tokio::sync::mpsc::UnboundedSender<Kind>>>>;
type TimedLog = Arc<Mutex<Vec<(u64, String)>>>;

fn spec(i: usize, c: ChildCfg, t0: Instant, log: &TimedLog, senders: &Senders) -> ChildSpec {
    let (log, senders) = (log.clone(), senders.clone());
    let backoff = match c.delay {
        Delay::None => Backoff::none(),
        Delay::Fixed(d) => Backoff::fixed(Duration::from_millis(d)),
        Delay::Exp(initial) => Backoff::exponential(
            Duration::from_millis(initial),
            Duration::from_millis(initial * 121),
        )
        .multiplier(11.0)
        .reset_after(Duration::from_millis(RESET_AFTER_MS)),
    };
    ChildSpec::new(
        format!("c{i}"),
        service_fn(move |ctx: Context| {
            let (log, senders) = (log.clone(), senders.clone());
            async move {
                let at = |log: &TimedLog, what: &str| {
                    let ms = t0.elapsed().as_millis() as u64;
                    log.lock().unwrap().push((ms, format!("{what}:{i}")));
                };
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                senders.lock().unwrap().insert(i, tx);
                at(&log, "start");
                tokio::select! {
                    _ = ctx.cancelled() => {
                        at(&log, "stop");
                        Ok(())
                    }
                    kind = rx.recv() => match kind {
                        Some(Kind::Ok) | None => Ok(()),
                        Some(Kind::Err) => Err("err".into()),
                        Some(Kind::Panic) => panic!("panic"),
                    },
                }
            }
        }),
    )
    .restart(c.restart)
    .shutdown(Shutdown::Graceful(Duration::from_secs(1)))
    .backoff(backoff)
}

async fn settle() {
    for _ in 0..200 {
        tokio::task::yield_now().await;
    }
}

fn observe(cfg: &Cfg, actions: &[Action]) -> Observed {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    rt.block_on(async {
        let t0 = Instant::now();
        let log = TimedLog::default();
        let senders = Senders::default();
        let n = cfg.children.len();
        let mut b = Supervisor::builder("sup")
            .strategy(cfg.strategy)
            .shutdown_order(cfg.order)
            .intensity(cfg.max, Duration::from_millis(cfg.period_ms));
        for (i, &c) in cfg.children.iter().enumerate() {
            b = b.child(spec(i, c, t0, &log, &senders));
        }
        let h = b.build().unwrap().start().await.unwrap();
        settle().await;
        // The model tells whether a child is running; the supervisor's own
        // snapshot is what is compared at the end.
        let mut model = Model::new(cfg);
        for &a in actions {
            match a {
                Action::Exit(i, kind) if model.is_running(i) => {
                    let tx = senders.lock().unwrap().get(&i).cloned();
                    tx.expect("the model says it runs").send(kind).unwrap();
                }
                Action::Exit(..) => {}
                Action::Advance(d) => tokio::time::sleep(Duration::from_millis(d)).await,
                Action::Terminate(i) => {
                    let _ = h.terminate_child(&format!("c{i}")).await;
                }
                Action::Restart(i) => {
                    let _ = h.restart_child(&format!("c{i}")).await;
                }
            }
            model.apply(a);
            settle().await;
        }
        let snap = h.which_children().await;
        let running = (0..n)
            .map(|i| {
                snap.iter()
                    .any(|c| c.name.as_ref() == format!("c{i}") && c.phase == Phase::Running)
            })
            .collect();
        let failed = h.shutdown().await.is_err();
        let snap = h.which_children().await;
        let find = |i: usize| snap.iter().find(|c| c.name.as_ref() == format!("c{i}"));
        let log = log.lock().unwrap().clone();
        Observed {
            log,
            running,
            present: (0..n).map(|i| find(i).is_some()).collect(),
            restarts: (0..n)
                .map(|i| find(i).map_or(model.kids[i].restarts, |c| c.restarts))
                .collect(),
            failed,
        }
    })
}

fn config() -> Config {
    let mut c = Config {
        cases: 256,
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

proptest! {
    #![proptest_config(config())]

    #[test]
    fn supervisor_matches_the_otp_model((cfg, actions) in scenario()) {
        let want = expected(&cfg, &actions);
        let got = observe(&cfg, &actions);
        prop_assert_eq!(got, want);
    }
}

/// The model itself, on a case worked out by hand: rest_for_one with a
/// fixed delay, then the intensity.
#[test]
fn the_model_on_a_hand_worked_case() {
    let c = |restart, delay| ChildCfg { restart, delay };
    let cfg = Cfg {
        strategy: SupStrategy::RestForOne,
        order: ShutdownOrder::Reverse,
        max: 1,
        period_ms: 1_000,
        children: vec![
            c(Restart::Permanent, Delay::None),
            c(Restart::Permanent, Delay::Fixed(102)),
            c(Restart::Temporary, Delay::None),
        ],
    };
    let actions = [
        Action::Exit(1, Kind::Err), // stop c2 (removed), c1 waits 102 ms
        Action::Advance(200),       // c1 restarts at 102
        Action::Exit(0, Kind::Ok),  // second restart within 1 s: escalation
    ];
    let want = expected(&cfg, &actions);
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
    assert_eq!(observe(&cfg, &actions), want);
}
