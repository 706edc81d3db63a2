//! A trading engine's services, supervised: what an in-house "service
//! supervisor" does (restart policies, exponential backoff with a cap, a
//! circuit breaker, lifecycle snapshots, metrics, a graceful stop on signal
//! within a deadline), with this crate.
//!
//! ```text
//! engine                       one-for-one
//! ├── feed                     market data; the connection drops every few seconds:
//! │                            reconnects with exponential backoff (200 ms → 5 s)
//! ├── risk                     computes exposure from the ticks
//! └── execution                nested supervisor
//!     ├── router               routes orders to the venues
//!     ├── venue-a              a healthy venue adapter
//!     └── venue-b              a venue that keeps rejecting the login: its circuit
//!                              breaker opens (3 restarts in 30 s) and it is given
//!                              up, while the rest keeps trading
//! ```
//!
//! ```sh
//! cargo run --example trading_engine                      # Ctrl+C to stop
//! cargo run --example trading_engine -- --for 8           # stop by itself
//! cargo run --example trading_engine --features prometheus -- --for 8
//! cargo run --example trading_engine --features prometheus,health   # + /metrics on :9899
//! ```
//!
//! On exit it prints the children's lifecycle snapshots as JSON.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio::time::sleep;
use tokio_supervisor::{
    Backoff, BoxError, ChildSpec, Context, EventKind, Restart, Service, Shutdown, Supervisor,
};

#[derive(Clone, Copy, Debug)]
struct Tick {
    price: f64,
}

/// Market data: connects, streams ticks, and loses its connection after a
/// few seconds.
struct Feed {
    ticks: broadcast::Sender<Tick>,
    seq: Arc<AtomicU64>,
}

impl Service for Feed {
    async fn run(&self, ctx: Context) -> Result<(), BoxError> {
        sleep(Duration::from_millis(100)).await; // the handshake
        ctx.ready();
        let lifetime = Duration::from_millis(fastrand::u64(1_500..3_000));
        let drop_at = tokio::time::Instant::now() + lifetime;
        loop {
            tokio::select! {
                _ = ctx.cancelled() => return Ok(()),
                _ = tokio::time::sleep_until(drop_at) => {
                    return Err("market data connection reset".into());
                }
                _ = sleep(Duration::from_millis(20)) => {
                    let seq = self.seq.fetch_add(1, Ordering::Relaxed);
                    let price = 100.0 + (seq % 50) as f64 / 10.0;
                    let _ = self.ticks.send(Tick { price });
                }
            }
        }
    }
}

/// Risk: follows the ticks and keeps an exposure figure.
struct Risk {
    ticks: broadcast::Sender<Tick>,
    exposure: Arc<AtomicU64>,
}

impl Service for Risk {
    async fn run(&self, ctx: Context) -> Result<(), BoxError> {
        let mut rx = self.ticks.subscribe();
        loop {
            tokio::select! {
                _ = ctx.cancelled() => return Ok(()),
                tick = rx.recv() => match tick {
                    Ok(t) => self.exposure.store((t.price * 1_000.0) as u64, Ordering::Relaxed),
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(e) => return Err(e.into()),
                },
            }
        }
    }
}

/// A venue adapter; `healthy: false` rejects the login every time.
struct Venue {
    healthy: bool,
    orders: Arc<AtomicU64>,
}

impl Service for Venue {
    async fn run(&self, ctx: Context) -> Result<(), BoxError> {
        sleep(Duration::from_millis(150)).await; // the login
        if !self.healthy {
            return Err("login rejected: venue in maintenance".into());
        }
        loop {
            tokio::select! {
                _ = ctx.cancelled() => {
                    // Cancel resting orders before leaving.
                    sleep(Duration::from_millis(50)).await;
                    return Ok(());
                }
                _ = sleep(Duration::from_millis(100)) => {
                    self.orders.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Routes orders; stands for the rest of the engine that keeps trading.
struct Router;

impl Service for Router {
    async fn run(&self, ctx: Context) -> Result<(), BoxError> {
        ctx.cancelled().await;
        Ok(())
    }
}

fn engine(exposure: &Arc<AtomicU64>, orders: &Arc<AtomicU64>) -> Supervisor {
    let (ticks, _) = broadcast::channel(1024);
    let graceful = Shutdown::Graceful(Duration::from_secs(2));
    let execution = Supervisor::builder("execution")
        .child(ChildSpec::new("router", Router).shutdown(graceful))
        .child(
            ChildSpec::new(
                "venue-a",
                Venue {
                    healthy: true,
                    orders: orders.clone(),
                },
            )
            .restart(Restart::Permanent)
            .shutdown(graceful),
        )
        .child(
            ChildSpec::new(
                "venue-b",
                Venue {
                    healthy: false,
                    orders: orders.clone(),
                },
            )
            .restart(Restart::Permanent)
            .backoff(Backoff::exponential(
                Duration::from_millis(100),
                Duration::from_secs(1),
            ))
            .restart_limit(3, Duration::from_secs(30)),
        )
        .build()
        .expect("valid configuration");
    Supervisor::builder("engine")
        .intensity(20, Duration::from_secs(10))
        .child(
            ChildSpec::new(
                "feed",
                Feed {
                    ticks: ticks.clone(),
                    seq: Arc::default(),
                },
            )
            .restart(Restart::Permanent)
            .wait_ready(Duration::from_secs(5))
            .shutdown(graceful)
            .backoff(
                Backoff::exponential(Duration::from_millis(200), Duration::from_secs(5))
                    .reset_after(Duration::from_secs(30)),
            ),
        )
        .child(
            ChildSpec::new(
                "risk",
                Risk {
                    ticks,
                    exposure: exposure.clone(),
                },
            )
            .restart(Restart::Permanent)
            .shutdown(graceful),
        )
        .child(execution)
        .build()
        .expect("valid configuration")
}

fn print_event(t0: tokio::time::Instant, path: &str, kind: &EventKind) {
    let text = match kind {
        EventKind::Exited { reason } => format!("exited: {reason}"),
        EventKind::BackingOff { delay } => format!("reconnecting in {delay:.1?}"),
        EventKind::Restarted { attempt } => format!("restarted (attempt {attempt})"),
        EventKind::GaveUp { reason } => format!("GIVEN UP: {reason}"),
        EventKind::ShutdownStarted => "stopping (reverse order)".to_owned(),
        EventKind::ShutdownDone => "stopped".to_owned(),
        _ => return,
    };
    println!("{:>7.3}s  {path:<26} {text}", t0.elapsed().as_secs_f64());
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Children's panics are reported by their supervisor; any other prints.
    tokio_supervisor::quiet_child_panics();
    let run_for = std::env::args()
        .skip_while(|a| a != "--for")
        .nth(1)
        .map(|s| s.parse::<f64>())
        .transpose()?;
    let exposure = Arc::new(AtomicU64::new(0));
    let orders = Arc::new(AtomicU64::new(0));

    let app = engine(&exposure, &orders);
    let mut events = app.subscribe();
    let t0 = tokio::time::Instant::now();
    // Prints every event until the tree has stopped and the channel closes;
    // awaited before the summary, so that no line is lost at the end.
    let printer = tokio::spawn(async move {
        loop {
            match events.recv().await {
                Ok(e) => print_event(t0, &e.path, &e.kind),
                Err(RecvError::Lagged(n)) => println!("({n} events missed)"),
                Err(RecvError::Closed) => break,
            }
        }
    });
    let handle = app.start().await?;
    println!("engine started: feed, risk and execution are up");
    // With both features: Prometheus scrapes http://127.0.0.1:9899/metrics.
    #[cfg(all(feature = "prometheus", feature = "health"))]
    let _metrics_server = {
        let server = tokio_supervisor::health::Health::new(&handle)
            .serve("127.0.0.1:9899")
            .await?;
        println!("metrics on http://{}/metrics", server.local_addr());
        server
    };

    match run_for {
        Some(secs) => sleep(Duration::from_secs_f64(secs)).await,
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }

    // A graceful stop, within a deadline: past it, abort what is left.
    println!("--- stop requested ---");
    let outcome = match tokio::time::timeout(Duration::from_secs(10), handle.shutdown()).await {
        Ok(outcome) => outcome,
        Err(_) => {
            println!("stop deadline passed: aborting what is left");
            handle.kill().await
        }
    };
    let _ = printer.await;

    println!(
        "\norders sent: {}, last exposure: {}",
        orders.load(Ordering::Relaxed),
        exposure.load(Ordering::Relaxed)
    );
    let m = handle.metrics();
    println!(
        "metrics: {} starts, {} restarts, {} circuit breaker trip(s)",
        m.total.starts, m.total.restarts, m.total.circuit_open
    );
    #[cfg(feature = "prometheus")]
    {
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(handle.prometheus_collector()));
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry)?;
        println!("\nprometheus exposition (excerpt):");
        for line in text
            .lines()
            .filter(|l| l.starts_with("supervisor_child_restarts"))
        {
            println!("  {line}");
        }
    }
    println!("\nlifecycle snapshots (JSON):");
    println!(
        "{}",
        serde_json::to_string_pretty(&handle.which_children().await)?
    );
    outcome?;
    Ok(())
}
