//! What every bench shares: the runtime, running a body inside a task, the
//! gate that tells when N children run, and each scenario's round, bare and
//! supervised (`supervision.rs` times them with criterion, `ratios.rs` in
//! pairs).
//! Also used by `bench-peers/`.

use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_supervisor::{
    service_fn, Backoff, ChildSpec, Restart, ShutdownOrder, Strategy, Supervisor,
};
use tokio_util::sync::CancellationToken;

/// Runs `f` inside a task of the runtime (as the supervisor's own loop
/// runs), not on the thread that blocks on the runtime.
pub fn in_task<F, Fut>(rt: &tokio::runtime::Runtime, f: F) -> Duration
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Duration> + Send + 'static,
{
    rt.block_on(async move { tokio::spawn(f()).await.unwrap() })
}

/// Runs `round` `iters` times inside a task and adds up the durations the
/// rounds report (each round times only its own part, not its set-up).
pub fn summed<F, Fut>(rt: &tokio::runtime::Runtime, iters: u64, round: F) -> Duration
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Duration> + Send + 'static,
{
    in_task(rt, move || async move {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            total += round().await;
        }
        total
    })
}

/// Runs `body` `iters` times inside a task and times the runs whole (a
/// bare round: nothing in it to leave out).
pub fn repeated<F, Fut>(rt: &tokio::runtime::Runtime, iters: u64, body: F) -> Duration
where
    F: Fn() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    in_task(rt, move || async move {
        let t0 = Instant::now();
        for _ in 0..iters {
            body().await;
        }
        t0.elapsed()
    })
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Counts arrivals and wakes the waiter when `target` is reached. One
/// allocation, so that a clone is one reference count, not two.
#[derive(Clone)]
pub struct Gate(Arc<GateInner>);

pub struct GateInner {
    n: AtomicUsize,
    target: usize,
    done: Notify,
}

impl Gate {
    pub fn new(target: usize) -> Self {
        Gate(Arc::new(GateInner {
            n: AtomicUsize::new(0),
            target,
            done: Notify::new(),
        }))
    }
    pub fn arrive(&self) {
        if self.0.n.fetch_add(1, Ordering::AcqRel) + 1 == self.0.target {
            self.0.done.notify_one();
        }
    }
    pub async fn wait(&self) {
        let notified = self.0.done.notified();
        if self.0.n.load(Ordering::Acquire) >= self.0.target {
            return;
        }
        notified.await;
    }
}

pub async fn bare_start_stop(n: usize) {
    let gate = Gate::new(n);
    let parent = CancellationToken::new();
    let mut handles = Vec::with_capacity(n);
    for _ in 0..n {
        let token = parent.child_token();
        let gate = gate.clone();
        handles.push(tokio::spawn(async move {
            gate.arrive();
            token.cancelled().await;
        }));
    }
    gate.wait().await;
    parent.cancel();
    for h in handles {
        h.await.unwrap();
    }
}

/// A supervisor of `n` children that arrive at `gate` once running, then
/// serve until asked to stop.
pub fn supervisor_of(name: &str, n: usize, gate: &Gate, order: ShutdownOrder) -> Supervisor {
    let children = (0..n).map(|i| {
        let gate = gate.clone();
        ChildSpec::new(
            format!("c{i}"),
            service_fn(move |ctx| {
                let gate = gate.clone();
                async move {
                    gate.arrive();
                    ctx.cancelled().await;
                    Ok(())
                }
            }),
        )
    });
    Supervisor::builder(name)
        .shutdown_order(order)
        .children(children)
        .build()
        .unwrap()
}

/// A supervisor of one child that arrives at `gate` and fails at once (with
/// an `Err`, or a panic), restarted with zero backoff and no intensity
/// limit: the restart cycle.
pub fn failing_child(gate: &Gate, panics: bool) -> Supervisor {
    failing_child_with(gate, panics, Backoff::none())
}

/// The same child, restarted after `backoff`.
pub fn failing_child_with(gate: &Gate, panics: bool, backoff: Backoff) -> Supervisor {
    let gate = gate.clone();
    Supervisor::builder("bench")
        .intensity(u32::MAX, Duration::from_secs(1))
        .child(
            ChildSpec::new(
                "c",
                // It arrives as its run is made, not from inside the run's
                // future: the bare loop's task counts nothing, so the
                // supervised one clones nothing to count (a clone and a drop
                // of the gate each run cost about 300 instructions, an
                // eighth of a bare cycle).
                service_fn(move |_ctx| {
                    gate.arrive();
                    async move {
                        if panics {
                            panic!("boom");
                        }
                        Err("fail".into())
                    }
                }),
            )
            .restart(Restart::Permanent)
            .backoff(backoff),
        )
        .build()
        .unwrap()
}

/// Starts `sup`, waits until every child has arrived at `gate`, stops it
/// gracefully: the time that took.
pub async fn start_wait_stop(sup: Supervisor, gate: &Gate) -> Duration {
    let t0 = Instant::now();
    let h = sup.start().await.unwrap();
    gate.wait().await;
    h.shutdown().await.unwrap();
    t0.elapsed()
}

// ----- a tree three levels deep: 10 × 10 supervisors × 10 workers -------------

/// Bare tokio's tree: the same 1000 workers and 110 intermediate tasks, with
/// a token per level.
pub async fn bare_tree() {
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

/// The supervised tree, stopped in `order` at every level: started, waited
/// for, stopped; the time that took (its configuration is not timed).
pub async fn supervised_tree(order: ShutdownOrder) -> Duration {
    let gate = Gate::new(1000);
    let mids = (0..10).map(|i| {
        let subs = (0..10).map(|j| supervisor_of(&format!("s{j}"), 10, &gate, order));
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
}

// ----- restart cycles -------------------------------------------------------------

/// The hand-written restart loop: spawn, fail (`Err`, or a panic), await,
/// respawn, `n` times.
pub async fn bare_restarts(n: usize, panics: bool) {
    for _ in 0..n {
        let h = tokio::spawn(async move {
            if panics {
                panic!("boom");
            }
            Err::<(), &str>("fail")
        });
        let _ = black_box(h.await);
    }
}

/// The hand-written restart loop whose task fails with the error a
/// supervised child returns: a boxed one (`BoxError`, two allocations).
pub async fn bare_restarts_boxed(n: usize) {
    for _ in 0..n {
        let h = tokio::spawn(async move { Err::<(), tokio_supervisor::BoxError>("fail".into()) });
        let _ = black_box(h.await);
    }
}

/// `n` restarts of a supervised child that fails at once: the time up to
/// the last one (not the shutdown).
pub async fn supervised_restarts(n: usize, panics: bool) -> Duration {
    let gate = Gate::new(n);
    let sup = failing_child(&gate, panics);
    let t0 = Instant::now();
    let h = sup.start().await.unwrap();
    gate.wait().await;
    let elapsed = t0.elapsed();
    h.shutdown().await.unwrap();
    elapsed
}

// ----- restarts after a backoff, on paused time -------------------------------------

/// The delay before each restart of the backoff rows.
pub const BACKOFF: Duration = Duration::from_millis(10);

/// A current-thread runtime on paused time: once every task waits, tokio
/// moves the clock to the next timer, so a backoff costs its timer's work
/// (arming, firing, the clock's jump), not its length. The benches time
/// with `std::time::Instant`, which the paused clock does not touch.
pub fn paused_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap()
}

/// The hand-written restart loop with a backoff: spawn, fail, await, sleep
/// `BACKOFF`, `n` times.
pub async fn bare_restarts_backoff(n: usize) {
    for _ in 0..n {
        let h = tokio::spawn(async move { Err::<(), &str>("fail") });
        let _ = black_box(h.await);
        tokio::time::sleep(BACKOFF).await;
    }
}

/// `n` restarts of a supervised child that fails at once, each after a
/// fixed `BACKOFF`: the time up to the last one (not the shutdown).
pub async fn supervised_restarts_backoff(n: usize) -> Duration {
    let gate = Gate::new(n);
    let sup = failing_child_with(&gate, false, Backoff::fixed(BACKOFF));
    let t0 = Instant::now();
    let h = sup.start().await.unwrap();
    gate.wait().await;
    let elapsed = t0.elapsed();
    h.shutdown().await.unwrap();
    elapsed
}

/// The children of a `OneForAll` group.
pub const GROUP: usize = 1_000;
/// The group restarts of one round.
pub const GROUP_CYCLES: usize = 20;

/// Bare tokio's group restart: spawn all, wait until all run, cancel all,
/// await all; once, then once per cycle.
pub async fn bare_one_for_all() {
    for _ in 0..=GROUP_CYCLES {
        bare_start_stop(GROUP).await;
    }
}

/// `OneForAll` over GROUP children: child 0 fails on each of its first
/// GROUP_CYCLES runs, and each failure stops the others (in `order`) and
/// starts all again.
pub async fn one_for_all_cycles(order: ShutdownOrder) -> Duration {
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

// ----- steady state: a child's busy loop ---------------------------------------------

const SPINS: u64 = 10_000_000;

/// 10 M iterations of a busy loop that yields every 100 000.
pub async fn busy() -> u64 {
    let mut x = 0u64;
    for i in 0..SPINS {
        x = black_box(x.wrapping_add(i));
        if i % 100_000 == 0 {
            tokio::task::yield_now().await;
        }
    }
    x
}

/// The busy loop in a bare task with its token.
pub async fn bare_steady() {
    let token = CancellationToken::new();
    let h = tokio::spawn(async move {
        let _t = token;
        busy().await
    });
    black_box(h.await.unwrap());
}

/// The busy loop as a supervised child: the time from the start to its
/// end (not the shutdown).
pub async fn supervised_steady() -> Duration {
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
    let elapsed = t0.elapsed();
    h.shutdown().await.unwrap();
    elapsed
}
