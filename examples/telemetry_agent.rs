//! A telemetry agent's supervision tree: sources, transforms, sinks. What an
//! in-house agent supervisor does (an initialization phase distinct from
//! running, a failed init that stops start-up with the full path, one-for-all
//! subtrees with restart intensity, a subtree on a runtime of its own,
//! reverse-order shutdown), with this crate. The stages are linked by
//! mailboxes, whose senders do not notice the transforms' group restart:
//! records queue meanwhile.
//!
//! ```text
//! agent
//! ├── sinks                    started first, stopped last
//! │   └── http-out             binds 127.0.0.1 (ready-gated)
//! ├── transforms               one-for-all, on a dedicated runtime
//! │   ├── parse
//! │   ├── enrich               panics once: the whole group restarts
//! │   └── batch
//! └── sources                  started last, stopped first
//!     ├── udp-in               binds 127.0.0.1 (ready-gated)
//!     └── file-tail
//! ```
//!
//! ```sh
//! cargo run --example telemetry_agent -- --for 5
//! cargo run --example telemetry_agent -- --fail-init   # a sink cannot bind: start-up fails
//! ```

use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::broadcast::error::RecvError;
use tokio::time::sleep;
use tokio_supervisor::runtime::RuntimeConfig;
use tokio_supervisor::{
    mailbox, service_fn, BoxError, ChildSpec, Context, EventKind, Inbox, Mailbox, MailboxSender,
    MailboxService, Restart, Service, Strategy, Supervisor,
};

/// A component that binds a local address before it is ready: its
/// initialization. With `taken`, the address is already in use.
struct Bound {
    tcp: bool,
    taken: Option<std::net::SocketAddr>,
}

impl Service for Bound {
    async fn run(&self, ctx: Context) -> Result<(), BoxError> {
        let addr = self.taken.unwrap_or_else(|| "127.0.0.1:0".parse().unwrap());
        let local = if self.tcp {
            TcpListener::bind(addr).await?.local_addr()?
        } else {
            UdpSocket::bind(addr).await?.local_addr()?
        };
        println!("          {} listening on {local}", ctx.path());
        ctx.ready();
        ctx.cancelled().await;
        Ok(())
    }
}

/// A transform stage: reads its mailbox, writes the next stage's;
/// `panic_at` makes it panic once, at that message.
struct Stage {
    output: Option<MailboxSender<String>>,
    seen: Arc<AtomicUsize>,
    panic_at: Option<usize>,
}

impl MailboxService<String> for Stage {
    async fn run(&self, ctx: Context, mut input: Inbox<String>) -> Result<(), BoxError> {
        ctx.ready();
        // `None` once asked to stop; what is queued waits for the next run.
        while let Some(msg) = input.recv().await {
            let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
            if Some(n) == self.panic_at {
                panic!("enrich: unexpected field in record #{n}");
            }
            if let Some(out) = &self.output {
                out.send(format!("{msg}+")).await?;
            }
        }
        Ok(())
    }
}

fn tree(fail_init: Option<std::net::SocketAddr>) -> Supervisor {
    let (to_parse, parse_rx) = mailbox::channel(256);
    let (to_enrich, enrich_rx) = mailbox::channel(256);
    let (to_batch, batch_rx) = mailbox::channel(256);
    let gated = |name: &str, s: Bound| {
        ChildSpec::new(name, s)
            .restart(Restart::Permanent)
            .wait_ready(Duration::from_secs(2))
    };

    let sinks = Supervisor::builder("sinks")
        .child(gated(
            "http-out",
            Bound {
                tcp: true,
                taken: fail_init,
            },
        ))
        .build()
        .expect("valid configuration");

    let stage = |name: &str, input: Mailbox<String>, output, panic_at| {
        ChildSpec::with_mailbox(
            name,
            input,
            Stage {
                output,
                seen: Arc::default(),
                panic_at,
            },
        )
        .restart(Restart::Permanent)
        .wait_ready(Duration::from_secs(2))
    };
    let transforms = Supervisor::builder("transforms")
        .strategy(Strategy::OneForAll)
        .intensity(3, Duration::from_secs(30))
        .dedicated_runtime(RuntimeConfig::multi_thread(2).thread_name("transforms"))
        .child(stage("parse", parse_rx, Some(to_enrich), None))
        .child(stage("enrich", enrich_rx, Some(to_batch), Some(40)))
        .child(stage("batch", batch_rx, None, None))
        .build()
        .expect("valid configuration");

    let tail = service_fn(move |ctx| {
        let out = to_parse.clone();
        async move {
            ctx.ready();
            let mut n = 0u64;
            loop {
                tokio::select! {
                    _ = ctx.cancelled() => return Ok(()),
                    _ = sleep(Duration::from_millis(25)) => {
                        n += 1;
                        let _ = out.send(format!("line {n}")).await;
                    }
                }
            }
        }
    });
    let sources = Supervisor::builder("sources")
        .child(gated(
            "udp-in",
            Bound {
                tcp: false,
                taken: None,
            },
        ))
        .child(ChildSpec::new("file-tail", tail).restart(Restart::Permanent))
        .build()
        .expect("valid configuration");

    Supervisor::builder("agent")
        .child(sinks)
        .child(transforms)
        .child(sources)
        .build()
        .expect("valid configuration")
}

#[tokio::main]
async fn main() -> ExitCode {
    // Children's panics are reported by their supervisor; any other prints.
    tokio_supervisor::quiet_child_panics();
    let args: Vec<String> = std::env::args().collect();
    let run_for = args
        .iter()
        .skip_while(|a| *a != "--for")
        .nth(1)
        .and_then(|s| s.parse::<f64>().ok());
    // To fail the init, hold the address a sink wants.
    let squatter = if args.iter().any(|a| a == "--fail-init") {
        Some(std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
    } else {
        None
    };
    let taken = squatter.as_ref().map(|l| l.local_addr().expect("addr"));

    let app = tree(taken);
    let mut events = app.subscribe();
    let t0 = tokio::time::Instant::now();
    // Prints every event until the tree has stopped and the channel closes;
    // awaited at the end, so that no line is lost.
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
            let text = match &e.kind {
                EventKind::Started { attempt: 1 } => "started".to_owned(),
                EventKind::Ready => "ready".to_owned(),
                EventKind::Exited { reason } => format!("exited: {reason}"),
                EventKind::Restarted { attempt } => format!("restarted (attempt {attempt})"),
                EventKind::ShutdownStarted => "stopping its children in reverse order".to_owned(),
                EventKind::ShutdownDone => "stopped".to_owned(),
                _ => continue,
            };
            println!(
                "{:>7.3}s  {:<27} {text}",
                t0.elapsed().as_secs_f64(),
                e.path
            );
        }
    });

    let handle = match app.start().await {
        Ok(h) => h,
        Err(e) => {
            // An init failure stops start-up, with the full path.
            let _ = printer.await; // the failed tree is gone: its last events are out
            eprintln!("start-up failed: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("agent started");
    match run_for {
        Some(secs) => sleep(Duration::from_secs_f64(secs)).await,
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    println!("--- stop requested ---");
    let outcome = handle.shutdown().await;
    let _ = printer.await;
    match outcome {
        Ok(()) => {
            println!("agent stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("agent failed: {e}");
            ExitCode::FAILURE
        }
    }
}
