//! The cost of supervision, as ratios against bare tokio doing the same work
//! in the same run. Each scenario is one group with a `bare` and a
//! `supervised` function. See BENCHMARKS.md for the figures.
//!
//! ```sh
//! cargo bench --bench supervision              # full run
//! cargo bench --bench supervision -- --quick   # a quick pass
//! ```

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tokio_supervisor::ShutdownOrder;

mod common;
use common::*;

// ----- start N children, wait until each runs, stop them ---------------------

fn start_stop(c: &mut Criterion) {
    let rt = rt();
    let mut g = c.benchmark_group("start_stop");
    g.sample_size(10).warm_up_time(Duration::from_millis(500));
    for n in [1usize, 1_000, 100_000] {
        g.bench_with_input(BenchmarkId::new("bare", n), &n, |b, &n| {
            b.iter_custom(|iters| repeated(&rt, iters, move || bare_start_stop(n)))
        });
        // OTP's order (one by one, in reverse), and all children at once
        // (`ShutdownOrder::Concurrent`, Elixir's DynamicSupervisor).
        for (name, order) in [
            ("supervised", ShutdownOrder::Reverse),
            ("supervised_concurrent", ShutdownOrder::Concurrent),
        ] {
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, &n| {
                b.iter_custom(|iters| {
                    summed(&rt, iters, move || async move {
                        let gate = Gate::new(n);
                        // configuration: not timed
                        let sup = supervisor_of("bench", n, &gate, order);
                        start_wait_stop(sup, &gate).await
                    })
                })
            });
        }
    }
    g.finish();
}

// ----- a tree three levels deep: 10 × 10 supervisors × 10 workers -------------

fn tree(c: &mut Criterion) {
    let rt = rt();
    let mut g = c.benchmark_group("tree_3_levels");
    g.sample_size(20);
    g.bench_function("bare", |b| {
        b.iter_custom(|iters| repeated(&rt, iters, bare_tree))
    });
    // OTP's order (each supervisor stops its children one at a time, in
    // reverse) and the concurrent one, at every level.
    for (name, order) in [
        ("supervised", ShutdownOrder::Reverse),
        ("supervised_concurrent", ShutdownOrder::Concurrent),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| summed(&rt, iters, move || supervised_tree(order)))
        });
    }
    g.finish();
}

// ----- restart cycles -------------------------------------------------------------

const RESTARTS: usize = 100_000;

fn restart(c: &mut Criterion) {
    let rt = rt();
    let mut g = c.benchmark_group("restart");
    g.sample_size(10);
    for panics in [false, true] {
        let kind = if panics { "panic" } else { "err" };
        g.bench_function(BenchmarkId::new("bare", kind), |b| {
            b.iter_custom(|iters| repeated(&rt, iters, move || bare_restarts(RESTARTS, panics)))
        });
        if !panics {
            // The same loop failing with the boxed error a supervised child
            // returns (`BoxError`), where `bare` fails with a `&str`.
            g.bench_function(BenchmarkId::new("bare_boxed", kind), |b| {
                b.iter_custom(|iters| repeated(&rt, iters, move || bare_restarts_boxed(RESTARTS)))
            });
        }
        g.bench_function(BenchmarkId::new("supervised", kind), |b| {
            b.iter_custom(|iters| summed(&rt, iters, move || supervised_restarts(RESTARTS, panics)))
        });
    }
    g.finish();
}

/// Restarts after a 10 ms backoff, on a paused current-thread runtime: the
/// timer path's cost, against a bare loop that sleeps as long.
fn restart_backoff(c: &mut Criterion) {
    let rt = paused_rt();
    let mut g = c.benchmark_group("restart_backoff_paused");
    g.sample_size(10);
    g.bench_function("bare", |b| {
        b.iter_custom(|iters| repeated(&rt, iters, move || bare_restarts_backoff(BACKOFF_RESTARTS)))
    });
    g.bench_function("supervised", |b| {
        b.iter_custom(|iters| summed(&rt, iters, || supervised_restarts_backoff(BACKOFF_RESTARTS)))
    });
    g.finish();
}

const BACKOFF_RESTARTS: usize = 20_000;

fn restart_one_for_all(c: &mut Criterion) {
    let rt = rt();
    let mut g = c.benchmark_group("restart_one_for_all_1000");
    g.sample_size(10);
    g.bench_function("bare", |b| {
        b.iter_custom(|iters| repeated(&rt, iters, bare_one_for_all))
    });
    for (name, order) in [
        ("supervised", ShutdownOrder::Reverse),
        ("supervised_concurrent", ShutdownOrder::Concurrent),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| summed(&rt, iters, move || one_for_all_cycles(order)))
        });
    }
    g.finish();
}

// ----- steady state: a child's busy loop ---------------------------------------------

fn steady(c: &mut Criterion) {
    let rt = rt();
    let mut g = c.benchmark_group("steady_state");
    g.sample_size(20);
    g.bench_function("bare", |b| {
        b.iter_custom(|iters| repeated(&rt, iters, bare_steady))
    });
    g.bench_function("supervised", |b| {
        b.iter_custom(|iters| summed(&rt, iters, supervised_steady))
    });
    g.finish();
}

fn all(c: &mut Criterion) {
    // The panicking children would print a backtrace each.
    std::panic::set_hook(Box::new(|_| {}));
    start_stop(c);
    tree(c);
    restart(c);
    restart_one_for_all(c);
    steady(c);
    // Last: once a runtime has paused the clock, every
    // `tokio::time::Instant::now()` in the process takes the test clock's
    // lock (`test-util`, on for the benches through the dev-dependencies),
    // which a program built without it never does (see `ratios.rs`).
    restart_backoff(c);
}

criterion_group!(benches, all);
criterion_main!(benches);
