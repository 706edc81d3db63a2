//! Throughput through a child's mailbox against a bare tokio `mpsc`
//! channel of the same capacity, on a multi-thread runtime with 2 workers.
//!
//! Two scenarios, each a producer task sending `MESSAGES` `u64`s to a
//! consumer that counts them:
//!
//! * `throughput`: bare, a consumer task on `mpsc::channel(CAPACITY)`
//!   fed with tokio's `send().await`; supervised, a child made with
//!   `ChildSpec::with_mailbox_fn` receiving from its `Inbox` (every `recv`
//!   also watches the run's cancellation).
//! * `throughput, try_reserve`: the same, the bare producer taking a free
//!   slot with `try_reserve` first, as the mailbox's `send` does: what the
//!   mailbox itself adds.
//! * `restart every 1000`: the consumer ends after every 1 000 messages
//!   and is started again, its queue kept. Bare, the hand-rolled way: a
//!   loop that respawns a task that locks an `Arc<Mutex<Receiver>>`;
//!   supervised, the child returns `Err` and its supervisor restarts it
//!   (`Permanent`, no backoff), the senders unaware.
//!
//! First a paired pass, as `ratios.rs` does: each round runs bare and
//! supervised back to back (alternating which goes first), and the figure
//! is the median of the rounds' ratios, with its quartiles; then criterion
//! times each side on its own.
//!
//! ```sh
//! cargo bench --bench mailbox                  # paired pass, then criterion
//! cargo bench --bench mailbox -- --paired      # the paired pass only
//! cargo bench --bench mailbox -- --quick       # fewer rounds
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::Criterion;
use tokio::runtime::Runtime;
use tokio::sync::{mpsc, Mutex, Notify};
use tokio_supervisor::{mailbox, ChildSpec, Restart, Supervisor};

const MESSAGES: u64 = 100_000;
const CAPACITY: usize = 1024;
const RESTART_EVERY: u64 = 1_000;

fn rt() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Counts received messages and wakes the producer at `MESSAGES`.
#[derive(Default)]
struct Count {
    n: AtomicU64,
    done: Notify,
}

impl Count {
    /// Counts one; whether the consumer should end its run here.
    fn one(&self, restart_every: Option<u64>) -> bool {
        let n = self.n.fetch_add(1, Ordering::Relaxed) + 1;
        if n == MESSAGES {
            self.done.notify_one();
        }
        restart_every.is_some_and(|every| n % every == 0)
    }
}

/// Sends every message and waits until all are counted; the time taken.
async fn produce<F, Fut>(count: &Count, send: F) -> Duration
where
    F: Fn(u64) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let t0 = Instant::now();
    let done = count.done.notified();
    tokio::pin!(done);
    done.as_mut().enable();
    for i in 0..MESSAGES {
        send(i).await;
    }
    done.await;
    t0.elapsed()
}

/// How the bare producer sends: tokio's `send().await`, or a free slot
/// taken with `try_reserve` first (what the mailbox's `send` does).
#[derive(Clone, Copy)]
enum Send {
    Plain,
    TryFirst,
}

// The consumer's `JoinHandle` comes back from the task that spawned it.
#[allow(clippy::async_yields_async)]
async fn bare(restart_every: Option<u64>, how: Send) -> Duration {
    let (tx, rx) = mpsc::channel::<u64>(CAPACITY);
    let count = Arc::new(Count::default());
    // Spawned from a task of its own, as the supervisor's loop spawns a
    // child's run: where a task is spawned from decides which worker runs
    // it first, and that alone moved the ratio by a third.
    let consumer = {
        let count = count.clone();
        let spawn = move || match restart_every {
            None => tokio::spawn(async move {
                let mut rx = rx;
                while rx.recv().await.is_some() {
                    count.one(None);
                }
            }),
            Some(_) => tokio::spawn(async move {
                // The hand-rolled restart loop.
                let rx = Arc::new(Mutex::new(rx));
                loop {
                    let (rx, count) = (rx.clone(), count.clone());
                    let run = tokio::spawn(async move {
                        let mut rx = rx.lock().await;
                        while rx.recv().await.is_some() {
                            if count.one(restart_every) {
                                return true;
                            }
                        }
                        false
                    });
                    if !matches!(run.await, Ok(true)) {
                        return;
                    }
                }
            }),
        };
        tokio::spawn(async move { spawn() }).await.unwrap()
    };
    let took = produce(&count, |i| {
        let tx = &tx;
        async move {
            match how {
                Send::Plain => tx.send(i).await.unwrap(),
                Send::TryFirst => {
                    tokio::task::consume_budget().await;
                    match tx.try_reserve() {
                        Ok(permit) => permit.send(i),
                        Err(_) => tx.send(i).await.unwrap(),
                    }
                }
            }
        }
    })
    .await;
    drop(tx);
    consumer.await.unwrap();
    took
}

async fn supervised(restart_every: Option<u64>) -> Duration {
    let (tx, mb) = mailbox::channel::<u64>(CAPACITY);
    let count = Arc::new(Count::default());
    let spec = ChildSpec::with_mailbox_fn("consumer", mb, {
        let count = count.clone();
        move |_ctx, mut inbox| {
            let count = count.clone();
            async move {
                while inbox.recv().await.is_some() {
                    if count.one(restart_every) {
                        return Err("restart".into());
                    }
                }
                Ok(())
            }
        }
    })
    .restart(Restart::Permanent)
    .backoff(tokio_supervisor::Backoff::none());
    let sup = Supervisor::builder("bench")
        .intensity(u32::MAX, Duration::from_secs(1))
        .child(spec)
        .build()
        .unwrap()
        .start()
        .await
        .unwrap();
    let took = produce(&count, |i| {
        let tx = &tx;
        async move {
            tx.send(i).await.unwrap();
        }
    })
    .await;
    sup.shutdown().await.unwrap();
    took
}

/// Runs one side's round inside a task of the runtime.
fn round(rt: &Runtime, side: Side, restart_every: Option<u64>) -> Duration {
    rt.block_on(async move {
        tokio::spawn(async move {
            match side {
                Side::Bare(how) => bare(restart_every, how).await,
                Side::Mailbox => supervised(restart_every).await,
            }
        })
        .await
        .unwrap()
    })
}

#[derive(Clone, Copy)]
enum Side {
    Bare(Send),
    Mailbox,
}

fn quantile(v: &[f64], q: f64) -> f64 {
    v[((v.len() - 1) as f64 * q).round() as usize]
}

fn paired(rt: &Runtime, quick: bool) {
    let rounds = if quick { 11 } else { 41 };
    println!(
        "{:<26} {:>13} {:>13} {:>7}  {:<13} rounds",
        "scenario", "bare", "mailbox", "ratio", "ratio q1–q3"
    );
    for (name, restart_every, how) in [
        ("throughput", None, Send::Plain),
        ("throughput, try_reserve", None, Send::TryFirst),
        ("restart every 1000", Some(RESTART_EVERY), Send::Plain),
    ] {
        let (bare_side, mailbox) = (Side::Bare(how), Side::Mailbox);
        round(rt, bare_side, restart_every);
        round(rt, mailbox, restart_every);
        let (mut b, mut s, mut r) = (vec![], vec![], vec![]);
        for i in 0..rounds {
            let (bare, sup) = if i % 2 == 0 {
                let bare = round(rt, bare_side, restart_every);
                (bare, round(rt, mailbox, restart_every))
            } else {
                let sup = round(rt, mailbox, restart_every);
                (round(rt, bare_side, restart_every), sup)
            };
            let per = |d: Duration| d.as_secs_f64() * 1e9 / MESSAGES as f64;
            b.push(per(bare));
            s.push(per(sup));
            r.push(sup.as_secs_f64() / bare.as_secs_f64());
        }
        for v in [&mut b, &mut s, &mut r] {
            v.sort_by(f64::total_cmp);
        }
        println!(
            "{name:<26} {:>7.1} ns/msg {:>7.1} ns/msg {:>6.2}×  {:.2}–{:.2}×{:>8}",
            quantile(&b, 0.5),
            quantile(&s, 0.5),
            quantile(&r, 0.5),
            quantile(&r, 0.25),
            quantile(&r, 0.75),
            rounds,
        );
    }
}

fn criterion_pass(rt: &Runtime, c: &mut Criterion) {
    for (name, restart_every) in [
        ("mailbox/throughput", None),
        ("mailbox/restart every 1000", Some(RESTART_EVERY)),
    ] {
        let mut g = c.benchmark_group(name);
        g.sample_size(10)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(3))
            .throughput(criterion::Throughput::Elements(MESSAGES));
        for (label, side) in [
            ("bare mpsc", Side::Bare(Send::Plain)),
            ("mailbox", Side::Mailbox),
        ] {
            g.bench_function(label, |b| {
                b.iter_custom(|iters| (0..iters).map(|_| round(rt, side, restart_every)).sum())
            });
        }
        g.finish();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let quick = args.iter().any(|a| a == "--quick");
    let rt = rt();
    paired(&rt, quick);
    if !args.iter().any(|a| a == "--paired") {
        let mut c = Criterion::default().configure_from_args();
        criterion_pass(&rt, &mut c);
        c.final_summary();
    }
}
