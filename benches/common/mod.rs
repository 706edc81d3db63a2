//! What every bench shares: the runtime, running a body inside a task, the
//! gate that tells when N children run, bare tokio's start/stop of N, and
//! the supervised one.
//! Also used by `bench-peers/`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tokio_supervisor::{service_fn, Backoff, ChildSpec, Restart, ShutdownOrder, Supervisor};
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

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Counts arrivals and wakes the waiter when `target` is reached.
#[derive(Clone)]
pub struct Gate {
    n: Arc<AtomicUsize>,
    target: usize,
    done: Arc<Notify>,
}

impl Gate {
    pub fn new(target: usize) -> Self {
        Gate {
            n: Arc::new(AtomicUsize::new(0)),
            target,
            done: Arc::new(Notify::new()),
        }
    }
    pub fn arrive(&self) {
        if self.n.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
            self.done.notify_one();
        }
    }
    pub async fn wait(&self) {
        let notified = self.done.notified();
        if self.n.load(Ordering::Acquire) >= self.target {
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
    let gate = gate.clone();
    Supervisor::builder("bench")
        .intensity(u32::MAX, Duration::from_secs(1))
        .child(
            ChildSpec::new(
                "c",
                service_fn(move |_ctx| {
                    let gate = gate.clone();
                    async move {
                        gate.arrive();
                        if panics {
                            panic!("boom");
                        }
                        Err("fail".into())
                    }
                }),
            )
            .restart(Restart::Permanent)
            .backoff(Backoff::none()),
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
