//! The same scenarios as `supervision.rs`, timed in pairs: each round runs
//! the bare version and the supervised one back to back (in alternating
//! order), and the figure is the median of the rounds' ratios.
//!
//! Why: criterion times a group's functions one after another, seconds
//! apart, so a machine whose speed drifts (a shared or throttled host: this
//! one moved by up to 40 % between runs) moves the ratio as much as the
//! code does. Rounds a few milliseconds long, paired, see the same machine;
//! the spread of their ratios says how far to trust the median.
//!
//! ```sh
//! cargo bench --bench ratios              # about 40-50 s
//! cargo bench --bench ratios -- --quick   # a quick pass, about 10 s
//! cargo bench --bench ratios -- restart   # the scenarios whose name has `restart`
//! ```

use std::time::Duration;

use tokio::runtime::Runtime;
use tokio_supervisor::ShutdownOrder;

mod common;
use common::*;
#[path = "common/floor.rs"]
mod floor;

/// One round of a scenario: its time, for `units` children or restarts.
type Round = Box<dyn Fn(&Runtime) -> Duration>;

struct Scenario {
    name: &'static str,
    /// What one unit is, and how many a round does.
    unit: &'static str,
    units: usize,
    rounds: usize,
    bare: Round,
    supervised: Round,
}

/// A round that runs `body` inside a task, timed whole.
fn whole<F, Fut>(body: F) -> Round
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    Box::new(move |rt| repeated(rt, 1, body.clone()))
}

/// A round of `times` runs of `body`, each timing its own part.
fn timed<F, Fut>(times: u64, body: F) -> Round
where
    F: Fn() -> Fut + Send + Sync + Clone + 'static,
    Fut: std::future::Future<Output = Duration> + Send + 'static,
{
    Box::new(move |rt| summed(rt, times, body.clone()))
}

/// The same round on a paused current-thread runtime of its own (the
/// runtime passed in is left alone), made as the round first runs: once a
/// runtime has paused the clock, every `tokio::time::Instant::now()` in the
/// process takes tokio's test clock's lock (`test-util`, which the tests
/// need and which dev-dependencies turn on for the benches too), a cost
/// the supervised side pays at each event and a program built without
/// `test-util` never does. So the paused scenarios come last.
fn paused(round: Round) -> Round {
    let rt = std::sync::OnceLock::new();
    Box::new(move |_| round(rt.get_or_init(paused_rt)))
}

/// What a scenario's second side runs: this crate, or the design's floor
/// (`common/floor.rs`), each against the same bare rounds.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Crate,
    Floor,
}

fn start_stop(n: usize, times: u64, rounds: usize, order: ShutdownOrder, side: Side) -> Scenario {
    let concurrent = order == ShutdownOrder::Concurrent;
    let name = match (side, n, concurrent) {
        (Side::Crate, 1, _) => "start_stop/1",
        (Side::Crate, 1_000, false) => "start_stop/1000",
        (Side::Crate, 1_000, true) => "start_stop/1000 concurrent",
        (Side::Crate, _, false) => "start_stop/100000",
        (Side::Crate, _, true) => "start_stop/100000 concurrent",
        (Side::Floor, 1, _) => "floor: start_stop/1",
        (Side::Floor, 1_000, false) => "floor: start_stop/1000",
        (Side::Floor, 1_000, true) => "floor: start_stop/1000 concurrent",
        (Side::Floor, _, false) => "floor: start_stop/100000",
        (Side::Floor, _, true) => "floor: start_stop/100000 concurrent",
    };
    Scenario {
        name,
        unit: "child",
        units: n * times as usize,
        rounds,
        bare: whole(move || async move {
            for _ in 0..times {
                bare_start_stop(n).await;
            }
        }),
        supervised: match side {
            Side::Crate => timed(times, move || async move {
                let gate = Gate::new(n);
                let sup = supervisor_of("bench", n, &gate, order);
                start_wait_stop(sup, &gate).await
            }),
            Side::Floor => timed(times, move || floor::floor_start_stop(n, order)),
        },
    }
}

fn tree(order: ShutdownOrder, rounds: usize, side: Side) -> Scenario {
    let concurrent = order == ShutdownOrder::Concurrent;
    let name = match (side, concurrent) {
        (Side::Crate, false) => "tree_3_levels",
        (Side::Crate, true) => "tree_3_levels concurrent",
        (Side::Floor, false) => "floor: tree_3_levels",
        (Side::Floor, true) => "floor: tree_3_levels concurrent",
    };
    Scenario {
        name,
        unit: "tree",
        units: 5,
        rounds,
        bare: whole(|| async {
            for _ in 0..5 {
                bare_tree().await;
            }
        }),
        supervised: match side {
            Side::Crate => timed(5, move || supervised_tree(order)),
            Side::Floor => timed(5, move || floor::floor_tree(order)),
        },
    }
}

fn scenarios(quick: bool) -> Vec<Scenario> {
    // Rounds of a few milliseconds to a few tens; fewer of them when quick.
    let r = |full: usize| if quick { full.div_ceil(4).max(5) } else { full };
    let restarts = 20_000;
    let mut all = vec![];
    // This crate, then the design's floor (`common/floor.rs`): what any
    // supervisor built on the crate's runtime model pays, before the
    // crate's own bookkeeping.
    for side in [Side::Crate, Side::Floor] {
        all.extend([
            start_stop(1, 500, r(61), ShutdownOrder::Reverse, side),
            start_stop(1_000, 5, r(61), ShutdownOrder::Reverse, side),
            start_stop(1_000, 5, r(61), ShutdownOrder::Concurrent, side),
            start_stop(100_000, 1, r(21), ShutdownOrder::Reverse, side),
            start_stop(100_000, 1, r(21), ShutdownOrder::Concurrent, side),
            tree(ShutdownOrder::Reverse, r(61), side),
            tree(ShutdownOrder::Concurrent, r(61), side),
        ]);
    }
    for (name, panics) in [("restart/err", false), ("restart/panic", true)] {
        all.push(Scenario {
            name,
            unit: "restart",
            units: restarts,
            rounds: r(61),
            bare: whole(move || bare_restarts(restarts, panics)),
            supervised: timed(1, move || supervised_restarts(restarts, panics)),
        });
    }
    // The same restarts against a bare loop that fails with the boxed error
    // a supervised child returns (the row above fails with a `&str`).
    all.push(Scenario {
        name: "restart/err, bare boxed",
        unit: "restart",
        units: restarts,
        rounds: r(61),
        bare: whole(move || bare_restarts_boxed(restarts)),
        supervised: timed(1, move || supervised_restarts(restarts, false)),
    });
    for (name, order) in [
        ("restart_one_for_all_1000", ShutdownOrder::Reverse),
        (
            "restart_one_for_all_1000 concurrent",
            ShutdownOrder::Concurrent,
        ),
    ] {
        all.push(Scenario {
            name,
            unit: "cycle",
            units: GROUP_CYCLES + 1,
            rounds: r(31),
            bare: whole(bare_one_for_all),
            supervised: timed(1, move || one_for_all_cycles(order)),
        });
    }
    all.push(Scenario {
        name: "steady_state",
        unit: "run",
        units: 1,
        rounds: r(21),
        bare: whole(bare_steady),
        supervised: timed(1, supervised_steady),
    });
    // Restarts after a 10 ms backoff, on a paused clock (`paused_rt`): the
    // cost of the timer path, against a bare loop that sleeps as long. Last:
    // see `paused`.
    all.push(Scenario {
        name: "restart/err, backoff, paused",
        unit: "restart",
        units: restarts,
        rounds: r(61),
        bare: paused(whole(move || bare_restarts_backoff(restarts))),
        supervised: paused(timed(1, move || supervised_restarts_backoff(restarts))),
    });
    all
}

/// The value at fraction `q` of sorted `v` (nearest rank).
fn quantile(v: &[f64], q: f64) -> f64 {
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn main() {
    // `cargo bench` passes `--bench`; a bare word filters by name.
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let filter: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    // The panicking children would print a backtrace each.
    std::panic::set_hook(Box::new(|_| {}));
    let rt = rt();
    println!(
        "{:<36} {:>10} {:>12} {:>7}  {:<15} rounds",
        "scenario", "bare", "supervised", "ratio", "ratio q1–q3"
    );
    for s in scenarios(quick) {
        if !filter.is_empty() && !filter.iter().any(|f| s.name.contains(f.as_str())) {
            continue;
        }
        // One pair to warm up (allocator, caches), not counted.
        (s.bare)(&rt);
        (s.supervised)(&rt);
        let (mut bare, mut sup, mut ratio) = (vec![], vec![], vec![]);
        for i in 0..s.rounds {
            // Alternate which goes first, so neither always follows the
            // other's garbage.
            let (b, v) = if i % 2 == 0 {
                let b = (s.bare)(&rt);
                (b, (s.supervised)(&rt))
            } else {
                let v = (s.supervised)(&rt);
                ((s.bare)(&rt), v)
            };
            let per = |d: Duration| d.as_secs_f64() * 1e6 / s.units as f64;
            bare.push(per(b));
            sup.push(per(v));
            ratio.push(v.as_secs_f64() / b.as_secs_f64());
        }
        let (bare, sup, ratio) = (sorted(bare), sorted(sup), sorted(ratio));
        println!(
            "{:<36} {:>7.3} µs {:>9.3} µs {:>6.2}×  {:.2}–{:.2}×{:>8} (µs a {})",
            s.name,
            quantile(&bare, 0.5),
            quantile(&sup, 0.5),
            quantile(&ratio, 0.5),
            quantile(&ratio, 0.25),
            quantile(&ratio, 0.75),
            s.rounds,
            s.unit,
        );
    }
}
