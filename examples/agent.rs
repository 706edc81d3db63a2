//! An AI agent's background work, supervised: what an in-house task registry
//! does (named tasks from a factory restarted on panic a bounded number of
//! times, one-off tasks with typed results, blocking work under a cap, abort
//! by name, snapshots, `shutdown_all`), on one supervision tree.
//!
//! ```text
//! agent
//! ├── config-watcher           reloads the configuration
//! ├── scheduler                ticks the planner
//! ├── conn-llm / conn-db / conn-search
//! │                            connections that panic now and then: restarted
//! │                            with backoff, at most 3 times each
//! └── (tasks)                  summarize-N (async, typed result), embed-N
//!                              (blocking, at most 2 at once), added as they come
//! ```
//!
//! ```sh
//! cargo run --example agent -- --for 6
//! ```

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast::error::RecvError;
use tokio::time::sleep;
use tokio_supervisor::{
    service_fn, task_fn, Backoff, ChildSnapshot, ChildSpec, Phase, Restart, Supervisor,
    SupervisorHandle,
};

/// A connection: the factory makes a fresh one for each run; it panics now
/// and then (about every second or two). `conn-search`'s backend is down:
/// it panics on every run, and is given up after its 3 restarts.
fn connection(name: &'static str) -> ChildSpec {
    let runs = Arc::new(AtomicU32::new(0));
    ChildSpec::new(
        name,
        task_fn(move || {
            let runs = runs.clone();
            async move {
                let run = runs.fetch_add(1, Ordering::Relaxed);
                let down = name == "conn-search";
                let life =
                    Duration::from_millis(if down { 200 } else { fastrand::u64(700..2_000) });
                sleep(life).await;
                if down || fastrand::bool() || run == 0 {
                    panic!("{name}: connection state corrupted");
                }
                // Otherwise keep serving.
                std::future::pending::<()>().await;
            }
        }),
    )
    .restart(Restart::Transient) // a panic restarts it; returning would end it
    .backoff(Backoff::exponential(
        Duration::from_millis(100),
        Duration::from_secs(2),
    ))
    .restart_limit(3, Duration::MAX)
    .shutdown(tokio_supervisor::Shutdown::Brutal)
}

fn status(children: &[ChildSnapshot]) -> String {
    let count = |f: fn(&Phase) -> bool| children.iter().filter(|c| f(&c.phase)).count();
    let restarts: u64 = children.iter().map(|c| c.restarts).sum();
    let tasks = children
        .iter()
        .filter(|c| c.name.starts_with("summarize") || c.name.starts_with("embed"))
        .count();
    format!(
        "status: {} running, {} pending, {} backing off, {} given up, {} tasks, {} restarts",
        count(|p| *p == Phase::Running),
        count(|p| *p == Phase::Starting),
        count(|p| *p == Phase::BackingOff),
        count(|p| matches!(
            p,
            Phase::Terminated(tokio_supervisor::ExitReason::CircuitOpen { .. })
        )),
        tasks,
        restarts
    )
}

/// The caller's side: one-off tasks whose results it awaits.
async fn work(agent: SupervisorHandle) {
    for n in 1..=4u32 {
        let doc = format!("document {n}");
        let summary = agent.spawn_task(format!("summarize-{n}"), async move {
            sleep(Duration::from_millis(300)).await; // the model call
            format!("{doc}: {} words", 100 * n)
        });
        // CPU-bound work on the blocking pool, at most 2 at once.
        let embeds: Vec<_> = {
            let mut v = vec![];
            for k in 0..3u64 {
                let name = format!("embed-{n}-{k}");
                v.push(agent.spawn_blocking(name, move || {
                    let mut x = 0u64;
                    for i in 0..2_000_000u64 {
                        x = std::hint::black_box(x.wrapping_add(i * k));
                    }
                    x
                }));
            }
            v
        };
        match summary.join().await {
            Ok(text) => println!("          task summarize-{n} -> {text}"),
            Err(e) => println!("          task summarize-{n} failed: {e}"),
        }
        for e in embeds {
            let _ = e.join().await;
        }
        println!("          embeddings for document {n} done");
        sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Children's panics are reported by their supervisor; any other prints.
    tokio_supervisor::quiet_child_panics();
    let run_for = std::env::args()
        .skip_while(|a| a != "--for")
        .nth(1)
        .map(|s| s.parse::<f64>())
        .transpose()?
        .unwrap_or(8.0);

    let agent = Supervisor::builder("agent")
        .intensity(30, Duration::from_secs(10))
        .blocking_limit(2)
        .child(ChildSpec::new(
            "config-watcher",
            service_fn(|ctx| async move {
                ctx.cancelled().await;
                Ok(())
            }),
        ))
        .child(
            ChildSpec::new(
                "scheduler",
                service_fn(|ctx| async move {
                    let mut tick = tokio::time::interval(Duration::from_millis(250));
                    loop {
                        tokio::select! {
                            _ = ctx.cancelled() => return Ok(()),
                            _ = tick.tick() => ctx.heartbeat(),
                        }
                    }
                }),
            )
            .heartbeat(Duration::from_secs(2)),
        )
        .children(["conn-llm", "conn-db", "conn-search"].map(connection))
        .build()?;
    let mut events = agent.subscribe();
    let handle = agent.start().await?;
    // Prints failures, restarts and give-ups until the tree has stopped and
    // the channel closes; awaited at the end, so that no line is lost.
    let printer = tokio::spawn(async move {
        loop {
            let e = match events.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(n)) => {
                    println!("          ({n} events missed)");
                    continue;
                }
                Err(RecvError::Closed) => break,
            };
            match e.kind {
                tokio_supervisor::EventKind::Exited { reason }
                    if reason.is_failure() && reason != tokio_supervisor::ExitReason::Aborted =>
                {
                    println!("          {} {reason}", e.path);
                }
                tokio_supervisor::EventKind::Restarted { attempt } => {
                    println!("          {} restarted (attempt {attempt})", e.path);
                }
                tokio_supervisor::EventKind::GaveUp { reason } => {
                    println!("          {} GIVEN UP: {reason}", e.path);
                }
                _ => {}
            }
        }
    });

    // The status line, from snapshots, every second.
    let h2 = handle.clone();
    let status_line = tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            every.tick().await;
            println!("{}", status(&h2.which_children().await));
        }
    });
    let worker = tokio::spawn(work(handle.clone()));

    sleep(Duration::from_secs_f64(run_for)).await;
    status_line.abort();
    worker.abort();
    println!("--- shutdown_all ---");
    let outcome = handle.shutdown().await;
    let _ = printer.await;
    outcome?;
    let m = handle.metrics();
    println!(
        "stopped: {} runs started, {} restarts, {} given up, {} blocking tasks detached",
        m.total.starts, m.total.restarts, m.total.circuit_open, m.blocking_detached
    );
    Ok(())
}
