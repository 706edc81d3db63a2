//! A production-style `main`: structured logs, a stop on SIGINT/SIGTERM, and
//! the root's failure as the process's exit status, so that systemd
//! (`Restart=on-failure`) or Kubernetes restart the process.
//!
//! ```sh
//! cargo run --example daemon              # Ctrl+C or SIGTERM: ordered stop, exit 0
//! cargo run --example daemon -- --fail    # a child that keeps failing: exit 1
//! cargo run --example daemon --features systemd,health   # + sd_notify, /livez, /readyz on :8080
//! ```
//!
//! See the README for the systemd unit and the Kubernetes probes.

use std::process::ExitCode;
use std::time::Duration;

use tokio_supervisor::{service_fn, Backoff, BoxError, ChildSpec, Context, Restart, Supervisor};

async fn serve(ctx: Context) -> Result<(), BoxError> {
    ctx.ready();
    ctx.cancelled().await;
    // A little cleanup on the way out.
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(())
}

async fn broken(_ctx: Context) -> Result<(), BoxError> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    Err("cannot reach the database".into())
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let fail = std::env::args().any(|a| a == "--fail");

    let store = Supervisor::builder("store")
        .child(ChildSpec::new("db", service_fn(serve)).wait_ready(Duration::from_secs(5)))
        .child(ChildSpec::new("cache", service_fn(serve)))
        .build()
        .expect("valid configuration");
    let mut app = Supervisor::builder("daemon")
        .intensity(5, Duration::from_secs(10))
        // The whole stop within 25 s: under systemd's TimeoutStopSec=30s
        // and a pod's terminationGracePeriodSeconds: 30.
        .shutdown_budget(Duration::from_secs(25))
        .child(store)
        .child(ChildSpec::new("api", service_fn(serve)).restart(Restart::Permanent));
    if fail {
        app = app.child(
            ChildSpec::new("migrator", service_fn(broken))
                .restart(Restart::Permanent)
                .backoff(Backoff::none()),
        );
    }
    let handle = match app.build().map(|app| app.spawn()) {
        Ok(Ok(handle)) => handle,
        Ok(Err(e)) => return fatal(&e),
        Err(e) => return fatal(&e),
    };

    #[cfg(feature = "health")]
    let _health = match tokio_supervisor::health::Health::new(&handle)
        .serve("127.0.0.1:8080")
        .await
    {
        Ok(server) => Some(server),
        Err(e) => {
            tracing::warn!(error = %e, "no health endpoints");
            None
        }
    };

    match handle.run_until_signal().await {
        Ok(()) => {
            tracing::info!("stopped cleanly");
            ExitCode::SUCCESS
        }
        Err(e) => fatal(&e),
    }
}

fn fatal(e: &dyn std::error::Error) -> ExitCode {
    tracing::error!(error = %e, "the supervision tree failed");
    eprintln!("fatal: {e}");
    ExitCode::FAILURE
}
