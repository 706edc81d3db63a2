//! A property: the whole supervisor, on a paused runtime, behaves as a small
//! executable model of OTP's rules (plain Rust, no async, in
//! `support/otp_model.rs`).
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

#[path = "support/otp_model.rs"]
mod otp_model;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use otp_model::{expected, Act, Cfg, ChildCfg, Delay, Kind, Model, Observed, RESET_AFTER_MS};
use proptest::prelude::*;
use proptest::test_runner::Config;
use tokio::time::Instant;
use tokio_supervisor::supervisor::AutoShutdown;
use tokio_supervisor::{
    service_fn, Backoff, ChildSpec, Context, Phase, Restart, Shutdown, ShutdownOrder,
    Strategy as SupStrategy, Supervisor,
};

// ----- the scenario: the model's, without what the runtime-level test does
// not play (readiness, significance, a nested supervisor, delete) --------

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
    (restart, delay).prop_map(|(restart, delay)| ChildCfg {
        restart,
        delay,
        gated: false,
        significant: false,
    })
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
                auto: AutoShutdown::Never,
                children,
                never_ready: None,
            })
        },
    )
}

fn actions(n: usize) -> impl Strategy<Value = Vec<Act>> {
    let kind = prop_oneof![Just(Kind::Ok), Just(Kind::Err), Just(Kind::Panic)];
    let action = prop_oneof![
        6 => (0..n, kind).prop_map(|(i, k)| Act::Exit(i, k)),
        4 => prop_oneof![(1u64..=30).prop_map(|k| k * 10), Just(2_000)].prop_map(Act::Advance),
        1 => (0..n).prop_map(Act::Terminate),
        1 => (0..n).prop_map(Act::Restart),
    ];
    proptest::collection::vec(action, 1..40)
}

fn scenario() -> impl Strategy<Value = (Cfg, Vec<Act>)> {
    cfg().prop_flat_map(|c| {
        let n = c.children.len();
        (Just(c), actions(n))
    })
}

// ----- the real thing ------------------------------------------------------

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
                        Some(Kind::Err | Kind::GaveUp) => Err("err".into()),
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

fn observe(cfg: &Cfg, actions: &[Act]) -> Observed {
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
                Act::Exit(i, kind) if model.is_running(i) => {
                    let tx = senders.lock().unwrap().get(&i).cloned();
                    tx.expect("the model says it runs").send(kind).unwrap();
                }
                Act::Exit(..) => {}
                Act::Advance(d) => tokio::time::sleep(Duration::from_millis(d)).await,
                Act::Terminate(i) => {
                    let _ = h.terminate_child(&format!("c{i}")).await;
                }
                Act::Restart(i) => {
                    let _ = h.restart_child(&format!("c{i}")).await;
                }
                Act::Delete(i) => {
                    let _ = h.delete_child(&format!("c{i}")).await;
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
    otp_model::proptest_config(256)
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

/// The model's hand-worked case (`support/otp_model.rs`), played by the
/// whole supervisor.
#[test]
fn the_supervisor_on_the_hand_worked_case() {
    let (cfg, acts) = otp_model::hand_worked_case();
    assert_eq!(observe(&cfg, &acts), expected(&cfg, &acts));
}
