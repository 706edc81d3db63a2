//! A property: the supervisor's state machine, driven directly with no
//! runtime (feature `machine`), behaves as a small executable model of
//! OTP's rules (plain Rust, in `support/otp_model.rs`, shared with
//! `otp_model.rs`).
//!
//! Random static supervisors (strategy, stop order, intensity, auto-shutdown,
//! 1–8 children with random restart types, backoffs, readiness gates and
//! significance) and random dynamic supervisors (`max_children`, children
//! added by request) receive random sequences of child exits (`Ok`, `Err`,
//! panic, and a nested supervisor that gave up, which ends with `shutdown`
//! as in OTP), requests (`start_child`, `terminate_child`, `restart_child`,
//! `delete_child`) and time advances. The log of starts and stops (with
//! their times, in order), the restarts, which children remain, and the
//! supervisor's fate must equal the model's; and at every step, the
//! machine's actions must be consistent: no run spawned for a child that
//! has one, no stop of a child that has none, every request answered once,
//! the counts equal to the runs alive, and the stop complete.
//!
//! The harness plays the children: a ready-gated child becomes ready as
//! soon as it is spawned (unless it is the one that never does), and a
//! child asked to stop stops at once. Time is a number of milliseconds.
//!
//! Determinism: the test acts only at multiples of 10 ms, and every delay of
//! child `i` is congruent to `i + 1` modulo 10 (exponential backoffs use the
//! multiplier 11, which keeps the residue), so no two deadlines ever pass at
//! the same instant, nor at an instant where the test acts. The seed is
//! fixed (override it with `PROPTEST_RNG_SEED`); `PROPTEST_CASES` sets the
//! number of cases (10 000 by default).

#![cfg(feature = "machine")]

#[path = "support/otp_model.rs"]
mod otp_model;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use otp_model::{expected, Act, Cfg, ChildCfg, Delay, Kind, Observed, St, RESET_AFTER_MS};
use proptest::prelude::*;
use proptest::test_runner::Config;
use tokio_supervisor::machine::{Action, Answer, End, Input, Machine, Request};
use tokio_supervisor::supervisor::AutoShutdown;
use tokio_supervisor::{
    service_fn, Backoff, ChildSpec, ControlError, Phase, Restart, Shutdown, ShutdownOrder,
    Strategy as SupStrategy, Supervisor, SupervisorError,
};

// ----- the scenario ---------------------------------------------------------

fn child_cfg(i: usize, auto: AutoShutdown) -> impl Strategy<Value = ChildCfg> {
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
    (restart, delay, any::<bool>(), any::<bool>()).prop_map(
        move |(restart, delay, gated, significant)| ChildCfg {
            restart,
            delay,
            gated,
            // Only a child that may end for good can be significant.
            significant: significant
                && auto != AutoShutdown::Never
                && restart != Restart::Permanent,
        },
    )
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
    let auto = prop_oneof![
        4 => Just(AutoShutdown::Never),
        1 => Just(AutoShutdown::AnySignificant),
        1 => Just(AutoShutdown::AllSignificant),
    ];
    let never = prop_oneof![9 => Just(None), 1 => (0usize..8, 1u64..5).prop_map(Some)];
    (strategy, order, 0u32..=6, period, 1usize..=8, auto, never).prop_flat_map(
        |(strategy, order, max, period_ms, n, auto, never)| {
            let children: Vec<_> = (0..n).map(|i| child_cfg(i, auto)).collect();
            children.prop_map(move |children| {
                let never_ready = never
                    .filter(|&(i, _)| i < children.len())
                    .map(|(i, k)| (i, 10 * k + i as u64 + 1));
                Cfg {
                    strategy,
                    order,
                    max,
                    period_ms,
                    auto,
                    children,
                    never_ready,
                }
            })
        },
    )
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        Just(Kind::Ok),
        Just(Kind::Err),
        Just(Kind::Panic),
        Just(Kind::GaveUp)
    ]
}

fn acts(n: usize) -> impl Strategy<Value = Vec<Act>> {
    let act = prop_oneof![
        6 => (0..n, kind()).prop_map(|(i, k)| Act::Exit(i, k)),
        4 => prop_oneof![(1u64..=30).prop_map(|k| k * 10), Just(2_000)].prop_map(Act::Advance),
        1 => (0..n).prop_map(Act::Terminate),
        1 => (0..n).prop_map(Act::Restart),
        1 => (0..n).prop_map(Act::Delete),
    ];
    proptest::collection::vec(act, 1..40)
}

fn scenario() -> impl Strategy<Value = (Cfg, Vec<Act>)> {
    cfg().prop_flat_map(|c| {
        let n = c.children.len();
        (Just(c), acts(n))
    })
}

// ----- the machine, played ------------------------------------------------------

struct Harness {
    m: Machine<u64>,
    t0: Instant,
    /// Milliseconds since `t0`.
    now: u64,
    actions: VecDeque<Action<u64>>,
    inputs: VecDeque<Input<u64>>,
    /// Each live run: its child's slot, its id and its child's number.
    live: HashMap<usize, (u64, usize)>,
    log: Vec<(u64, String)>,
    /// Children that become ready when spawned.
    gated: Vec<bool>,
    next_request: u64,
    /// Requests not answered yet.
    asked: HashMap<u64, &'static str>,
    answers: Vec<(&'static str, Answer)>,
    /// The supervisor's name and its children's base name.
    name: &'static str,
}

impl Harness {
    fn new(sup: &Supervisor, name: &'static str, gated: Vec<bool>) -> Self {
        let t0 = Instant::now();
        let mut h = Harness {
            m: Machine::of(sup, t0),
            t0,
            now: 0,
            actions: VecDeque::new(),
            inputs: VecDeque::new(),
            live: HashMap::new(),
            log: Vec::new(),
            gated,
            next_request: 0,
            asked: HashMap::new(),
            answers: Vec::new(),
            name,
        };
        h.m.begin(t0, &mut h.actions);
        h.settle();
        h
    }

    fn at(&self) -> Instant {
        self.t0 + Duration::from_millis(self.now)
    }

    /// The child's number, from its path (`sup/c3`, `pool/w-3`).
    fn number(&self, slot: usize) -> usize {
        let path = self
            .m
            .child_path_of(slot)
            .expect("a spawned child is in the table");
        let digits: String = path
            .chars()
            .rev()
            .take_while(char::is_ascii_digit)
            .collect();
        let n: usize = digits.chars().rev().collect::<String>().parse().unwrap();
        // Dynamic children are numbered from 1.
        if path.contains("/w-") {
            n - 1
        } else {
            n
        }
    }

    /// Carries out the machine's actions, and feeds it what the children
    /// do in answer, until nothing is left.
    fn settle(&mut self) {
        loop {
            while let Some(action) = self.actions.pop_front() {
                self.act(action);
            }
            let Some(input) = self.inputs.pop_front() else {
                break;
            };
            if let Input::Exit { slot, .. } = &input {
                // The run ends as its exit is handed over.
                self.live.remove(slot);
            }
            self.m.handle(input, self.at(), &mut self.actions);
        }
        assert_eq!(
            self.m.counts().active,
            self.live.len(),
            "the machine's active children are the runs alive"
        );
    }

    fn act(&mut self, action: Action<u64>) {
        match action {
            Action::Spawn { slot, run, .. } => {
                assert!(
                    !self.live.contains_key(&slot),
                    "spawned a child that has a run: {slot}"
                );
                let i = self.number(slot);
                self.live.insert(slot, (run, i));
                self.log.push((self.now, format!("start:{i}")));
                if self.gated.get(i).copied().unwrap_or(false) {
                    self.inputs.push_back(Input::Ready { slot, run });
                }
            }
            Action::Cancel { slot } => {
                let &(run, i) = self.live.get(&slot).expect("cancelled a child with no run");
                self.log.push((self.now, format!("stop:{i}")));
                self.inputs.push_back(Input::Exit {
                    slot,
                    run: run as u32,
                    end: End::Returned,
                });
            }
            Action::Abort { slot } => {
                let &(run, _) = self.live.get(&slot).expect("aborted a child with no run");
                self.inputs.push_back(Input::Exit {
                    slot,
                    run: run as u32,
                    end: End::Aborted,
                });
            }
            Action::Beat { .. } => panic!("no child has a heartbeat"),
            Action::Answer { reply, answer } => {
                let what = self
                    .asked
                    .remove(&reply)
                    .expect("answered once, when asked");
                self.answers.push((what, answer));
            }
            _ => {}
        }
    }

    /// Feeds `input` at the current time.
    fn feed(&mut self, input: Input<u64>) {
        self.m.handle(input, self.at(), &mut self.actions);
        self.settle();
    }

    /// A child's run ends, as `kind` says.
    fn exit(&mut self, i: usize, kind: Kind) -> bool {
        let Some((&slot, &(run, _))) = self.live.iter().find(|(_, &(_, n))| n == i) else {
            return false;
        };
        self.live.remove(&slot);
        let end = match kind {
            Kind::Ok => End::Returned,
            Kind::Err => End::Failed {
                text: "err".into(),
                fatal: false,
                supervisor: None,
            },
            Kind::Panic => End::Panicked("panic".into()),
            Kind::GaveUp => End::Failed {
                text: String::new().into(),
                fatal: false,
                supervisor: Some(SupervisorError::IntensityExceeded {
                    supervisor: format!("{}/c{i}", self.name),
                    child: format!("{}/c{i}/leaf", self.name),
                    reason: tokio_supervisor::ExitReason::Failed("boom".into()),
                    max: 0,
                    window: Duration::from_secs(1),
                }),
            },
        };
        self.feed(Input::Exit {
            slot,
            run: run as u32,
            end,
        });
        true
    }

    fn request(&mut self, what: &'static str, make: impl FnOnce(u64) -> Request<u64>) {
        self.next_request += 1;
        self.asked.insert(self.next_request, what);
        let request = make(self.next_request);
        self.feed(Input::Request(request));
    }

    /// Moves the clock `d` ms on, passing each deadline on its instant.
    fn advance(&mut self, d: u64) {
        let end = self.now + d;
        while let Some(at) = self.m.next_deadline() {
            let ms = u64::try_from(at.duration_since(self.t0).as_millis()).unwrap();
            if ms > end {
                break;
            }
            assert!(ms >= self.now, "a deadline in the past was left");
            self.now = ms;
            self.feed(Input::Tick);
        }
        self.now = end;
    }

    fn running(&self, n: usize, name: impl Fn(usize) -> String) -> Vec<bool> {
        let snap = self.m.snapshots(self.at());
        (0..n)
            .map(|i| {
                snap.iter()
                    .any(|c| *c.name == *name(i) && c.phase == Phase::Running)
            })
            .collect()
    }

    /// Stops the supervisor; returns whether it had failed.
    fn stop(&mut self) -> bool {
        self.feed(Input::Stop);
        assert!(self.m.finished(), "the stop completes when the runs end");
        assert!(self.live.is_empty(), "no run outlives the stop");
        assert!(self.asked.is_empty(), "every request is answered");
        self.m.outcome().is_err()
    }
}

fn spec(i: usize, c: ChildCfg) -> ChildSpec {
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
    let spec = ChildSpec::new(format!("c{i}"), service_fn(|_| async { Ok(()) }))
        .restart(c.restart)
        .shutdown(Shutdown::Graceful(Duration::from_secs(1)))
        .backoff(backoff)
        .significant(c.significant);
    if c.gated {
        spec.wait_ready(Duration::MAX)
    } else {
        spec
    }
}

fn observe(cfg: &Cfg, acts: &[Act]) -> Observed {
    let n = cfg.children.len();
    let mut b = Supervisor::builder("sup")
        .strategy(cfg.strategy)
        .shutdown_order(cfg.order)
        .intensity(cfg.max, Duration::from_millis(cfg.period_ms))
        .auto_shutdown(cfg.auto);
    for (i, &c) in cfg.children.iter().enumerate() {
        let mut spec = spec(i, c);
        if let Some((_, timeout)) = cfg.never_ready.filter(|&(k, _)| k == i) {
            spec = spec.wait_ready(Duration::from_millis(timeout));
        }
        b = b.child(spec);
    }
    let sup = b.build().unwrap();
    let mut gated: Vec<bool> = cfg.children.iter().map(|c| c.gated).collect();
    if let Some((i, timeout)) = cfg.never_ready {
        gated[i] = false;
        let h = &mut Harness::new(&sup, "sup", gated.clone());
        h.advance(timeout);
        assert!(h.m.finished(), "a failed start stops the supervisor");
        let log = std::mem::take(&mut h.log);
        assert!(matches!(
            h.m.outcome(),
            Err(SupervisorError::StartFailed { .. })
        ));
        let snap = h.m.snapshots(h.at());
        return Observed {
            log,
            running: vec![false; n],
            present: (0..n)
                .map(|i| snap.iter().any(|c| *c.name == *format!("c{i}")))
                .collect(),
            restarts: vec![0; n],
            failed: true,
        };
    }
    let mut h = Harness::new(&sup, "sup", gated);
    let name = |i: usize| format!("c{i}");
    for &a in acts {
        if h.m.stopping() {
            break;
        }
        match a {
            Act::Exit(i, kind) => {
                h.exit(i, kind);
            }
            Act::Advance(d) => h.advance(d),
            Act::Terminate(i) => h.request("terminate", |reply| Request::Terminate {
                name: name(i),
                only: None,
                reply,
            }),
            Act::Restart(i) => h.request("restart", |reply| Request::Restart {
                name: name(i),
                reply,
            }),
            Act::Delete(i) => h.request("delete", |reply| Request::Delete {
                name: name(i),
                reply,
            }),
        }
    }
    let stopped_by_itself = h.m.stopping();
    let running = if stopped_by_itself {
        vec![false; n]
    } else {
        h.running(n, name)
    };
    let failed = if stopped_by_itself {
        assert!(h.m.finished());
        h.m.outcome().is_err()
    } else {
        h.stop()
    };
    let snap = h.m.snapshots(h.at());
    let find = |i: usize| snap.iter().find(|c| *c.name == *name(i));
    let model = expected(cfg, acts);
    Observed {
        log: h.log,
        running,
        present: (0..n).map(|i| find(i).is_some()).collect(),
        restarts: (0..n)
            .map(|i| find(i).map_or(model.restarts[i], |c| c.restarts))
            .collect(),
        failed,
    }
}

// ----- dynamic supervisors -------------------------------------------------------

#[derive(Debug, Clone, Copy)]
enum DynAct {
    /// `start_child` of a child with this policy and backoff.
    Add(Restart, u64),
    Exit(usize, Kind),
    Terminate(usize),
    Advance(u64),
}

fn dyn_scenario() -> impl Strategy<Value = (usize, u32, Vec<DynAct>)> {
    let restart = prop_oneof![
        Just(Restart::Permanent),
        Just(Restart::Transient),
        Just(Restart::Temporary)
    ];
    let act = prop_oneof![
        3 => (restart, prop_oneof![Just(0u64), Just(1), Just(5)]).prop_map(|(r, k)| DynAct::Add(r, k)),
        4 => (0usize..12, kind()).prop_map(|(i, k)| DynAct::Exit(i, k)),
        1 => (0usize..12).prop_map(DynAct::Terminate),
        2 => prop_oneof![(1u64..=30).prop_map(|k| k * 10), Just(2_000)].prop_map(DynAct::Advance),
    ];
    (1usize..=6, 0u32..=5, proptest::collection::vec(act, 1..40))
}

/// A dynamic supervisor (Elixir's `DynamicSupervisor`): a child that ended
/// and is not restarted is removed, so that `max_children` counts only the
/// children that run or will run again.
fn check_dynamic(max_children: usize, max: u32, acts: &[DynAct]) {
    // The model: each child added, by number (from 0), and its state.
    let mut kids: Vec<(Restart, u64, St, u64)> = Vec::new(); // restart, delay, state, started_at
    let mut window: VecDeque<u64> = VecDeque::new();
    let mut log: Vec<(u64, String)> = Vec::new();
    let mut failed = false;
    let mut now = 0u64;
    let period = 1_000;

    let sup = Supervisor::dynamic("pool")
        .max_children(max_children)
        .intensity(max, Duration::from_millis(period))
        .build()
        .unwrap();
    let mut h = Harness::new(&sup, "pool", Vec::new());
    for &a in acts {
        if failed {
            break;
        }
        match a {
            DynAct::Add(restart, k) => {
                // Its backoff's residue is its number's, as in the static
                // model: no two deadlines at one instant.
                let i = kids.len();
                let delay = if k == 0 {
                    0
                } else {
                    10 * k + (i as u64 % 10) + 1
                };
                let present = kids.iter().filter(|k| k.2 != St::Removed).count();
                let backoff = if delay == 0 {
                    Backoff::none()
                } else {
                    Backoff::fixed(Duration::from_millis(delay))
                };
                let spec = ChildSpec::new("w", service_fn(|_| async { Ok(()) }))
                    .restart(restart)
                    .backoff(backoff);
                h.request("start", |reply| Request::Start {
                    spec: Box::new(spec),
                    task: false,
                    reply,
                });
                let (_, answer) = h.answers.pop().unwrap();
                if present < max_children {
                    let Answer::Added(Ok(path)) = answer else {
                        panic!("refused below max_children: {answer:?}");
                    };
                    assert_eq!(path, format!("pool/w-{}", i + 1));
                    log.push((now, format!("start:{i}")));
                    kids.push((restart, delay, St::Running, now));
                } else {
                    assert!(
                        matches!(answer, Answer::Added(Err(ControlError::MaxChildren { .. }))),
                        "{answer:?}"
                    );
                    // The machine numbered nothing: the next one takes
                    // this number.
                }
            }
            DynAct::Exit(i, kind) => {
                let Some(k) = kids.get_mut(i).filter(|k| k.2 == St::Running) else {
                    continue;
                };
                assert!(h.exit(i, kind), "the model's running child has a run");
                let restart = match k.0 {
                    Restart::Permanent => true,
                    Restart::Transient => matches!(kind, Kind::Err | Kind::Panic),
                    Restart::Temporary => false,
                };
                if !restart {
                    k.2 = St::Removed;
                    continue;
                }
                while window.front().is_some_and(|&x| now - x > period) {
                    window.pop_front();
                }
                window.push_back(now);
                if window.len() > max as usize {
                    k.2 = St::Terminated;
                    failed = true;
                    for j in (0..kids.len()).rev() {
                        if kids[j].2 == St::Running {
                            log.push((now, format!("stop:{j}")));
                        }
                    }
                    continue;
                }
                if k.1 == 0 {
                    k.3 = now;
                    log.push((now, format!("start:{i}")));
                } else {
                    k.2 = St::Waiting(now + k.1);
                }
            }
            DynAct::Terminate(i) => {
                if i >= kids.len() {
                    continue;
                }
                h.request("terminate", |reply| Request::Terminate {
                    name: format!("w-{}", i + 1),
                    only: None,
                    reply,
                });
                let (_, answer) = h.answers.pop().unwrap();
                match kids[i].2 {
                    St::Removed => assert!(
                        matches!(answer, Answer::Done(Err(ControlError::NotFound { .. }))),
                        "a child terminated before is gone: {answer:?}"
                    ),
                    St::Running => {
                        log.push((now, format!("stop:{i}")));
                        kids[i].2 = St::Removed;
                    }
                    _ => kids[i].2 = St::Removed,
                }
            }
            DynAct::Advance(d) => {
                let end = now + d;
                loop {
                    let next = kids
                        .iter()
                        .enumerate()
                        .filter_map(|(i, k)| match k.2 {
                            St::Waiting(at) if at <= end => Some((at, i)),
                            _ => None,
                        })
                        .min();
                    let Some((at, i)) = next else { break };
                    now = at;
                    kids[i].2 = St::Running;
                    kids[i].3 = now;
                    log.push((now, format!("start:{i}")));
                }
                now = end;
                h.advance(d);
            }
        }
        let present = kids.iter().filter(|k| k.2 != St::Removed).count();
        if !failed {
            assert_eq!(
                h.m.counts().specs,
                present,
                "the table holds the children that run or will"
            );
        }
    }
    let got_failed = if h.m.stopping() {
        h.m.outcome().is_err()
    } else {
        for j in (0..kids.len()).rev() {
            if kids[j].2 == St::Running {
                log.push((now, format!("stop:{j}")));
            }
        }
        h.stop()
    };
    assert_eq!(got_failed, failed);
    assert_eq!(h.log, log);
}

// ----- the properties -----------------------------------------------------------------

fn config() -> Config {
    otp_model::proptest_config(10_000)
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_machine_matches_the_otp_model((cfg, acts) in scenario()) {
        let want = expected(&cfg, &acts);
        let got = observe(&cfg, &acts);
        prop_assert_eq!(got, want);
    }

    #[test]
    fn a_dynamic_supervisor_keeps_only_live_children((max_children, max, acts) in dyn_scenario()) {
        check_dynamic(max_children, max, &acts);
    }
}

/// The model's hand-worked case (`support/otp_model.rs`), played by the
/// machine.
#[test]
fn the_machine_on_the_hand_worked_case() {
    let (cfg, acts) = otp_model::hand_worked_case();
    assert_eq!(observe(&cfg, &acts), expected(&cfg, &acts));
}

/// A significant `Transient` child that completes stops its supervisor
/// (`AnySignificant`), normally: the others stop in reverse order.
#[test]
fn the_model_on_an_auto_shutdown() {
    let c = |restart, significant| ChildCfg {
        restart,
        delay: Delay::None,
        gated: true,
        significant,
    };
    let cfg = Cfg {
        strategy: SupStrategy::OneForOne,
        order: ShutdownOrder::Reverse,
        max: 3,
        period_ms: 1_000,
        auto: AutoShutdown::AnySignificant,
        children: vec![
            c(Restart::Permanent, false),
            c(Restart::Transient, true),
            c(Restart::Permanent, false),
        ],
        never_ready: None,
    };
    let acts = [
        Act::Exit(1, Kind::Err), // a failure: restarted
        Act::Advance(10),
        Act::Exit(1, Kind::GaveUp), // `shutdown`: not restarted, significant
        Act::Exit(0, Kind::Err),    // too late: the supervisor has stopped
    ];
    let want = expected(&cfg, &acts);
    let log: Vec<_> = want.log.iter().map(|(t, s)| format!("{t}:{s}")).collect();
    assert_eq!(
        log,
        [
            "0:start:0",
            "0:start:1",
            "0:start:2",
            "0:start:1",
            "10:stop:2",
            "10:stop:0"
        ]
    );
    assert!(!want.failed, "an auto-shutdown is a normal stop");
    assert_eq!(observe(&cfg, &acts), want);
}
