//! Serves the supervision tree's metrics over HTTP for Prometheus, with the
//! health endpoints beside them.
//!
//! ```sh
//! cargo run --example prometheus --features prometheus,health
//! curl -s http://127.0.0.1:9898/metrics
//! curl -s http://127.0.0.1:9898/readyz
//! ```
//!
//! Options: `--addr 127.0.0.1:9898`, `--for <seconds>` (stop by itself).

use std::time::Duration;

use tokio_supervisor::health::Health;
use tokio_supervisor::{service_fn, Backoff, BoxError, ChildSpec, Context, Restart, Supervisor};

/// A worker that fails every couple of seconds, so that the counters move.
async fn flaky(ctx: Context) -> Result<(), BoxError> {
    tokio::select! {
        _ = ctx.cancelled() => Ok(()),
        _ = tokio::time::sleep(Duration::from_millis(1_500)) => Err("upstream hiccup".into()),
    }
}

async fn steady(ctx: Context) -> Result<(), BoxError> {
    ctx.cancelled().await;
    Ok(())
}

fn arg(name: &str) -> Option<String> {
    std::env::args().skip_while(|a| a != name).nth(1)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let addr = arg("--addr").unwrap_or_else(|| "127.0.0.1:9898".to_owned());
    let run_for = arg("--for").map(|s| s.parse::<f64>()).transpose()?;

    let app = Supervisor::builder("app")
        .intensity(100, Duration::from_secs(60))
        .child(ChildSpec::new("api", service_fn(steady)))
        .child(
            ChildSpec::new("ingest", service_fn(flaky))
                .restart(Restart::Permanent)
                .backoff(Backoff::exponential(
                    Duration::from_millis(200),
                    Duration::from_secs(2),
                )),
        )
        .build()?
        .start()
        .await?;
    let server = Health::new(&app).serve(addr.as_str()).await?;
    println!("metrics on http://{}/metrics", server.local_addr());
    println!(
        "health  on http://{}/livez and /readyz",
        server.local_addr()
    );

    match run_for {
        Some(secs) => tokio::time::sleep(Duration::from_secs_f64(secs)).await,
        None => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    app.shutdown().await?;
    let m = app.metrics();
    println!(
        "stopped: {} starts, {} restarts",
        m.total.starts, m.total.restarts
    );
    Ok(())
}
