//! The cost of supervision, as ratios against bare tokio doing the same work
//! in the same run. Each scenario is one group with a `bare` and a
//! `supervised` function. See BENCHMARKS.md for the figures.
//!
//! ```sh
//! cargo bench --bench supervision              # full run
//! cargo bench --bench supervision -- --quick   # a quick pass
//! ```

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use tokio_supervisor::{
    service_fn, Backoff, ChildSpec, Restart, ShutdownOrder, Strategy, Supervisor,
};
use tokio_util::sync::CancellationToken;

mod common;
use common::{
    bare_start_stop, failing_child, in_task, rt, start_wait_stop, summed, supervisor_of, Gate,
};

// ----- start N children, wait until each runs, stop them ---------------------

fn start_stop(c: &mut Criterion) {
    let rt = rt();
    let mut g = c.benchmark_group("start_stop");
    g.sample_size(10).warm_up_time(Duration::from_millis(500));
    for n in [1usize, 1_000, 100_000] {
        g.bench_with_input(BenchmarkId::new("bare", n), &n, |b, &n| {
            b.iter_custom(|iters| {
                in_task(&rt, move || async move {
                    let t0 = Instant::now();
                    for _ in 0..iters {
                        bare_start_stop(n).await;
                    }
                    t0.elapsed()
                })
            })
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
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let t0 = Instant::now();
                for _ in 0..iters {
                    // The same 1000 workers and 110 intermediate tasks, with
                    // a token per level.
                    let gate = Gate::new(1000);
                    let root = CancellationToken::new();
                    let mut mids = vec![];
                    for _ in 0..10 {
                        let t1 = root.child_token();
                        let gate = gate.clone();
                        mids.push(tokio::spawn(async move {
                            let mut subs = vec![];
                            for _ in 0..10 {
                                let t2 = t1.child_token();
                                let gate = gate.clone();
                                subs.push(tokio::spawn(async move {
                                    let mut ws = vec![];
                                    for _ in 0..10 {
                                        let t3 = t2.child_token();
                                        let gate = gate.clone();
                                        ws.push(tokio::spawn(async move {
                                            gate.arrive();
                                            t3.cancelled().await;
                                        }));
                                    }
                                    for w in ws {
                                        w.await.unwrap();
                                    }
                                }));
                            }
                            for s in subs {
                                s.await.unwrap();
                            }
                        }));
                    }
                    gate.wait().await;
                    root.cancel();
                    for m in mids {
                        m.await.unwrap();
                    }
                }
                t0.elapsed()
            })
        })
    });
    // OTP's order (each supervisor stops its children one at a time, in
    // reverse) and the concurrent one, at every level.
    for (name, order) in [
        ("supervised", ShutdownOrder::Reverse),
        ("supervised_concurrent", ShutdownOrder::Concurrent),
    ] {
        g.bench_function(name, |b| {
            b.iter_custom(|iters| {
                summed(&rt, iters, move || async move {
                    let gate = Gate::new(1000);
                    let mids = (0..10).map(|i| {
                        let subs =
                            (0..10).map(|j| supervisor_of(&format!("s{j}"), 10, &gate, order));
                        Supervisor::builder(format!("m{i}"))
                            .shutdown_order(order)
                            .children(subs)
                            .build()
                            .unwrap()
                    });
                    let root = Supervisor::builder("root")
                        .shutdown_order(order)
                        .children(mids)
                        .build()
                        .unwrap();
                    start_wait_stop(root, &gate).await
                })
            })
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
            b.iter_custom(|iters| {
                in_task(&rt, move || async move {
                    let t0 = Instant::now();
                    for _ in 0..iters {
                        // The hand-written loop: spawn, fail, await, respawn.
                        for _ in 0..RESTARTS {
                            let h = tokio::spawn(async move {
                                if panics {
                                    panic!("boom");
                                }
                                Err::<(), &str>("fail")
                            });
                            let _ = black_box(h.await);
                        }
                    }
                    t0.elapsed()
                })
            })
        });
        g.bench_function(BenchmarkId::new("supervised", kind), |b| {
            b.iter_custom(|iters| {
                summed(&rt, iters, move || async move {
                    let gate = Gate::new(RESTARTS);
                    let sup = failing_child(&gate, panics);
                    // Timed up to the last restart, not the shutdown.
                    let t0 = Instant::now();
                    let h = sup.start().await.unwrap();
                    gate.wait().await;
                    let elapsed = t0.elapsed();
                    h.shutdown().await.unwrap();
                    elapsed
                })
            })
        });
    }
    g.finish();
}

const GROUP: usize = 1_000;
const GROUP_CYCLES: usize = 20;

/// `OneForAll` over GROUP children: child 0 fails on each of its first
/// GROUP_CYCLES runs, and each failure stops the others (in `order`) and
/// starts all again.
async fn one_for_all_cycles(order: ShutdownOrder) -> Duration {
    let gate = Gate::new(GROUP * (GROUP_CYCLES + 1));
    let children = (0..GROUP).map(|i| {
        let gate = gate.clone();
        ChildSpec::new(
            format!("c{i}"),
            service_fn(move |ctx| {
                let gate = gate.clone();
                async move {
                    gate.arrive();
                    if i == 0 && ctx.attempt() as usize <= GROUP_CYCLES {
                        tokio::task::yield_now().await;
                        return Err("fail".into());
                    }
                    ctx.cancelled().await;
                    Ok(())
                }
            }),
        )
        .restart(Restart::Permanent)
        .backoff(Backoff::none())
    });
    let sup = Supervisor::builder("bench")
        .strategy(Strategy::OneForAll)
        .shutdown_order(order)
        .intensity(u32::MAX, Duration::from_secs(1))
        .children(children)
        .build()
        .unwrap();
    start_wait_stop(sup, &gate).await
}

fn restart_one_for_all(c: &mut Criterion) {
    let rt = rt();
    let mut g = c.benchmark_group("restart_one_for_all_1000");
    g.sample_size(10);
    g.bench_function("bare", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let t0 = Instant::now();
                for _ in 0..iters {
                    for _ in 0..=GROUP_CYCLES {
                        // Spawn all, wait until all run, cancel all, await all.
                        bare_start_stop(GROUP).await;
                    }
                }
                t0.elapsed()
            })
        })
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

const SPINS: u64 = 10_000_000;

async fn busy() -> u64 {
    let mut x = 0u64;
    for i in 0..SPINS {
        x = black_box(x.wrapping_add(i));
        if i % 100_000 == 0 {
            tokio::task::yield_now().await;
        }
    }
    x
}

fn steady(c: &mut Criterion) {
    let rt = rt();
    let mut g = c.benchmark_group("steady_state");
    g.sample_size(20);
    g.bench_function("bare", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let t0 = Instant::now();
                for _ in 0..iters {
                    let token = CancellationToken::new();
                    let h = tokio::spawn(async move {
                        let _t = token;
                        busy().await
                    });
                    black_box(h.await.unwrap());
                }
                t0.elapsed()
            })
        })
    });
    g.bench_function("supervised", |b| {
        b.iter_custom(|iters| {
            in_task(&rt, move || async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let gate = Gate::new(1);
                    let g2 = gate.clone();
                    let sup = Supervisor::builder("bench")
                        .child(ChildSpec::new(
                            "busy",
                            service_fn(move |_ctx| {
                                let gate = g2.clone();
                                async move {
                                    black_box(busy().await);
                                    gate.arrive();
                                    Ok(())
                                }
                            }),
                        ))
                        .build()
                        .unwrap();
                    let t0 = Instant::now();
                    let h = sup.start().await.unwrap();
                    gate.wait().await;
                    total += t0.elapsed();
                    h.shutdown().await.unwrap();
                }
                total
            })
        })
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
}

criterion_group!(benches, all);
criterion_main!(benches);
