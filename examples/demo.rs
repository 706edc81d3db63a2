//! A small market-data pipeline that fails and recovers on its own.
//!
//! ```text
//! app                      (one-for-one)
//! ├── writer               steady sink: batches and "writes" what it gets
//! ├── pipeline             nested supervisor
//! │   ├── enricher         panics now and then on a bad tick
//! │   └── feed             loses its connection every few seconds
//! └── venue                a venue adapter that keeps failing: its circuit opens
//! ```
//!
//! The stages talk through mailboxes: the feed sends to the enricher's, the
//! enricher to the writer's, and neither notices when the other restarts
//! (ticks queue meanwhile; the one a panic had in hand is lost).
//!
//! Children start in order (sink first, source last) and stop in reverse
//! (source first, so the sink can flush). Every lifecycle event is printed as
//! it happens; Ctrl+\ (SIGQUIT) prints the whole tree. Stop it with Ctrl+C (a
//! second Ctrl+C aborts at once), or pass `--for <seconds>` to stop by
//! itself; it prints the tree, stops in order, prints a summary and exits 0.
//!
//! ```sh
//! cargo run --example demo
//! cargo run --example demo -- --for 8
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::time::{sleep, Instant};
use tokio_supervisor::{
    mailbox, Backoff, BoxError, ChildSpec, Context, EventKind, Inbox, MailboxSender,
    MailboxService, Restart, Service, Shutdown, Supervisor,
};

/// Connects to a (simulated) exchange and forwards ticks; the connection
/// drops after a few seconds.
struct Feed {
    out: MailboxSender<u64>,
    seq: Arc<AtomicU64>,
}

impl Service for Feed {
    async fn run(&self, ctx: Context) -> Result<(), BoxError> {
        sleep(Duration::from_millis(150)).await; // the handshake
        ctx.ready();
        let lifetime = Duration::from_millis(fastrand::u64(2_000..4_000));
        let dies_at = Instant::now() + lifetime;
        loop {
            tokio::select! {
                _ = ctx.cancelled() => return Ok(()),
                _ = tokio::time::sleep_until(dies_at) => {
                    return Err("connection reset by peer".into());
                }
                _ = sleep(Duration::from_millis(50)) => {
                    let tick = self.seq.fetch_add(1, Ordering::Relaxed);
                    // Queued while the enricher restarts; refused (an
                    // error naming it) only if it was given up.
                    self.out.send(tick).await?;
                }
            }
        }
    }
}

/// Enriches ticks; a malformed one (about 1 in 40) makes it panic.
struct Enricher {
    out: MailboxSender<String>,
}

impl MailboxService<u64> for Enricher {
    async fn run(&self, _ctx: Context, mut input: Inbox<u64>) -> Result<(), BoxError> {
        // `None` once asked to stop; what is queued waits for the next run.
        while let Some(tick) = input.recv().await {
            if fastrand::u32(0..40) == 0 {
                panic!("malformed tick #{tick}");
            }
            self.out
                .send(format!("EURUSD #{tick} 1.08{:02}", tick % 100))
                .await?;
        }
        Ok(())
    }
}

/// Writes enriched ticks in batches; on stop it flushes what it holds.
struct Writer {
    written: Arc<AtomicU64>,
}

impl MailboxService<String> for Writer {
    async fn run(&self, _ctx: Context, mut input: Inbox<String>) -> Result<(), BoxError> {
        let mut batch = Vec::new();
        let mut flush = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                line = input.recv() => match line {
                    Some(line) => batch.push(line),
                    None => break, // asked to stop
                },
                _ = flush.tick() => {
                    self.written.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    batch.clear();
                }
            }
        }
        // Stopped last: what is still queued is written too.
        while let Some(line) = input.try_recv() {
            batch.push(line);
        }
        sleep(Duration::from_millis(100)).await; // the final flush
        self.written
            .fetch_add(batch.len() as u64, Ordering::Relaxed);
        println!(
            "          writer flushed; {} lines written in all",
            self.written.load(Ordering::Relaxed)
        );
        Ok(())
    }
}

/// A venue adapter whose venue is down: it fails fast, every time.
struct Venue;

impl Service for Venue {
    async fn run(&self, _ctx: Context) -> Result<(), BoxError> {
        sleep(Duration::from_millis(300)).await;
        Err("venue rejected login: 503 Service Unavailable".into())
    }
}

fn tree() -> Result<Supervisor, tokio_supervisor::ConfigError> {
    // Addresses made before the tree: valid across every restart.
    let (tick_tx, ticks) = mailbox::channel(1024);
    let (line_tx, lines) = mailbox::channel(1024);

    let pipeline = Supervisor::builder("pipeline")
        .child(
            ChildSpec::with_mailbox("enricher", ticks, Enricher { out: line_tx })
                .restart(Restart::Permanent)
                .backoff(Backoff::exponential(
                    Duration::from_millis(100),
                    Duration::from_secs(2),
                )),
        )
        .child(
            ChildSpec::new(
                "feed",
                Feed {
                    out: tick_tx,
                    seq: Arc::default(),
                },
            )
            .restart(Restart::Permanent)
            .wait_ready(Duration::from_secs(5))
            .backoff(
                Backoff::exponential(Duration::from_millis(200), Duration::from_secs(5))
                    .jitter(0.2),
            ),
        )
        .build()?;

    Supervisor::builder("app")
        .intensity(20, Duration::from_secs(10))
        .child(
            ChildSpec::with_mailbox(
                "writer",
                lines,
                Writer {
                    written: Arc::default(),
                },
            )
            .restart(Restart::Permanent)
            .shutdown(Shutdown::Graceful(Duration::from_secs(2))),
        )
        .child(pipeline)
        .child(
            ChildSpec::new("venue", Venue)
                .backoff(Backoff::fixed(Duration::from_millis(200)))
                .restart_limit(3, Duration::from_secs(30)),
        )
        .build()
}

fn describe(kind: &EventKind) -> Option<String> {
    Some(match kind {
        EventKind::Started { attempt: 1 } => "started".to_owned(),
        EventKind::Started { attempt } => format!("started (attempt {attempt})"),
        EventKind::Ready => "ready".to_owned(),
        EventKind::Exited { reason } => format!("exited: {reason}"),
        EventKind::BackingOff { delay } => format!("restarting in {delay:.1?}"),
        EventKind::GaveUp { reason } => format!("GAVE UP: {reason}"),
        EventKind::SupervisorStarted => "all children started".to_owned(),
        EventKind::SupervisorFailed { error } => format!("FAILED: {error}"),
        EventKind::ShutdownStarted => "stopping children in reverse order".to_owned(),
        EventKind::ShutdownDone => "stopped".to_owned(),
        _ => return None,
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let run_for = std::env::args()
        .skip_while(|a| a != "--for")
        .nth(1)
        .map(|s| s.parse::<f64>().map(Duration::from_secs_f64))
        .transpose()?;

    // A child's panic is caught by its supervisor and reported as an exit
    // event (printed below): keep the default hook's message and backtrace
    // out of the way for children's panics only; any other still prints.
    tokio_supervisor::quiet_child_panics();

    println!("demo: a supervised market-data pipeline. Ctrl+C stops it in order.\n");
    let app = tree()?;
    let mut events = app.subscribe(); // before start: see every event
    let t0 = Instant::now();
    // Runs until the tree has stopped and the channel closes; awaited before
    // the summary, so that no line is lost.
    let printer = tokio::spawn(async move {
        loop {
            let e = match events.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(n)) => {
                    println!("({n} events missed)");
                    continue;
                }
                Err(RecvError::Closed) => break,
            };
            if let Some(text) = describe(&e.kind) {
                println!(
                    "{:>8.3}s  {:<22} {text}",
                    t0.elapsed().as_secs_f64(),
                    e.path
                );
            }
        }
    });

    let handle = app.start().await?;
    let quit_printer = tokio::spawn(print_tree_on_sigquit(handle.clone()));

    let stop = async {
        match run_for {
            Some(d) => sleep(d).await,
            None => wait_for_signal().await,
        }
    };
    let outcome = tokio::select! {
        res = handle.wait() => res,
        () = stop => {
            println!("\n--- the tree when the stop was requested ---\n{}", handle.tree().await);
            println!("--- stop requested: graceful shutdown (Ctrl+C again to abort) ---");
            tokio::select! {
                res = handle.shutdown() => res,
                () = wait_for_signal() => handle.kill().await,
            }
        }
    };
    let _ = printer.await;
    quit_printer.abort();

    println!("\nsummary:");
    println!(
        "  {:<22} {:>6} {:>8} {:>8}  last exit",
        "child", "starts", "restarts", "failures"
    );
    for c in handle.which_children().await {
        let last = c
            .last_exit
            .as_ref()
            .map_or_else(|| "-".to_owned(), ToString::to_string);
        println!(
            "  {:<22} {:>6} {:>8} {:>8}  {last}",
            c.path, c.starts, c.restarts, c.failures
        );
    }
    for c in handle.metrics().children {
        if let Some(m) = c.mailbox {
            println!(
                "  {:<22} mailbox: {} queued, {} dropped, {} refused",
                c.path, m.queued, m.dropped, m.refused
            );
        }
    }
    match outcome {
        Ok(()) => {
            println!("\nall children stopped cleanly");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// Prints the tree on every Ctrl+\ (SIGQUIT), where there is one.
async fn print_tree_on_sigquit(handle: tokio_supervisor::SupervisorHandle) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut quit) = signal(SignalKind::quit()) else {
            return;
        };
        while quit.recv().await.is_some() {
            println!("\n{}", handle.tree().await);
        }
    }
    #[cfg(not(unix))]
    {
        let _ = handle;
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let (Ok(mut int), Ok(mut term)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
