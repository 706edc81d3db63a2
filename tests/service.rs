//! The `Service` trait: native `async fn`, `?` on any error, anyhow, and the
//! context a run gets.

mod support;

use std::sync::{Arc, Mutex};

use support::*;
use tokio_supervisor::{
    service_fn, Backoff, BoxError, ChildSpec, Context, DynService, ExitReason, Phase, Service,
    Supervisor,
};

#[derive(Debug, thiserror::Error)]
#[error("could not parse the port")]
struct PortError(#[source] std::num::ParseIntError);

struct StdErrors;

impl Service for StdErrors {
    async fn run(&self, _ctx: Context) -> Result<(), BoxError> {
        let _n: u16 = "80".parse()?;
        let _m: u16 = "eighty".parse().map_err(PortError)?;
        Ok(())
    }
}

struct Anyhow;

impl Service for Anyhow {
    async fn run(&self, _ctx: Context) -> Result<(), BoxError> {
        use anyhow::Context as _;
        let r: anyhow::Result<()> = Err(anyhow::anyhow!("connection refused"));
        r.context("connecting to the feed")?;
        Ok(())
    }
}

async fn first_error(spec: ChildSpec) -> ExitReason {
    let h = Supervisor::builder("s")
        .child(spec.backoff(Backoff::fixed(secs(3600))))
        .start_ok()
        .await;
    tokio::time::sleep(ms(1)).await;
    let reason = h.which_children().await[0].last_exit.clone().unwrap();
    h.shutdown().await.unwrap();
    reason
}

#[tokio::test(start_paused = true)]
async fn question_mark_on_std_errors_keeps_the_source_chain() {
    let r = first_error(ChildSpec::new("std", StdErrors)).await;
    assert_eq!(
        r,
        ExitReason::Failed("could not parse the port: invalid digit found in string".into())
    );
}

#[tokio::test(start_paused = true)]
async fn question_mark_on_anyhow_keeps_the_context_chain() {
    let r = first_error(ChildSpec::new("any", Anyhow)).await;
    assert_eq!(
        r,
        ExitReason::Failed("connecting to the feed: connection refused".into())
    );
}

#[tokio::test(start_paused = true)]
async fn context_knows_path_attempt_and_fresh_token_per_run() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s2 = seen.clone();
    let spec = ChildSpec::new(
        "w",
        service_fn(move |ctx: Context| {
            let seen = s2.clone();
            async move {
                seen.lock().unwrap().push((
                    ctx.path().to_owned(),
                    ctx.name().to_owned(),
                    ctx.attempt(),
                    ctx.is_cancelled(),
                ));
                if ctx.attempt() < 3 {
                    return Err("again".into());
                }
                ctx.cancelled().await;
                assert!(ctx.is_cancelled());
                assert!(ctx.token().is_cancelled());
                Ok(())
            }
        }),
    )
    .backoff(Backoff::none());
    let h = Supervisor::builder("app").child(spec).start_ok().await;
    settle().await;
    h.shutdown().await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        [1, 2, 3].map(|n| ("app/w".to_owned(), "w".to_owned(), n, false))
    );
    let snap = h.which_children().await;
    assert_eq!(snap[0].last_exit, Some(ExitReason::Shutdown));
}

#[tokio::test(start_paused = true)]
async fn one_service_value_serves_every_restart() {
    struct Counter(std::sync::atomic::AtomicU32);
    impl Service for Counter {
        async fn run(&self, ctx: Context) -> Result<(), BoxError> {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if n < 4 {
                Err(format!("run {n}").into())
            } else {
                ctx.cancelled().await;
                Ok(())
            }
        }
    }
    let h = Supervisor::builder("app")
        .child(ChildSpec::new("c", Counter(Default::default())).backoff(Backoff::none()))
        .start_ok()
        .await;
    settle().await;
    let snap = h.which_children().await;
    assert_eq!((snap[0].starts, snap[0].failures), (5, 4));
    assert_eq!(snap[0].last_error.as_deref(), Some("run 3"));
    h.shutdown().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn snapshots_serialize_with_serde() {
    let log = Log::default();
    let alive = Alive::default();
    let h = Supervisor::builder("app")
        .child(scripted("a", &log, &alive, vec![Act::Serve]))
        .start_ok()
        .await;
    tokio::time::sleep(secs(2)).await;
    let snap = h.which_children().await;
    let json = serde_json::to_value(&snap).unwrap();
    assert_eq!(json[0]["path"], "app/a");
    assert_eq!(json[0]["phase"], "running");
    assert_eq!(json[0]["starts"], 1);
    assert_eq!(json[0]["uptime"]["secs"], 2);
    let back: Vec<tokio_supervisor::ChildSnapshot> = serde_json::from_value(json).unwrap();
    assert_eq!(back, snap);
    h.shutdown().await.unwrap();
}

/// Fails its first two runs, then serves until cancelled; counts its runs
/// and its clean stops.
#[derive(Default)]
struct FailsTwice {
    runs: std::sync::atomic::AtomicU32,
    stopped: std::sync::atomic::AtomicU32,
}

impl Service for FailsTwice {
    async fn run(&self, ctx: Context) -> Result<(), BoxError> {
        use std::sync::atomic::Ordering::SeqCst;
        if self.runs.fetch_add(1, SeqCst) < 2 {
            return Err("not yet".into());
        }
        ctx.cancelled().await;
        self.stopped.fetch_add(1, SeqCst);
        Ok(())
    }
}

/// Starts `spec`, lets it fail twice and settle, then stops the tree
/// gracefully: the child's snapshot before the stop, and its exit after.
async fn restarted_then_stopped(spec: ChildSpec) -> (tokio_supervisor::ChildSnapshot, ExitReason) {
    let h = Supervisor::builder("app")
        .child(spec.backoff(Backoff::fixed(ms(100))))
        .start_ok()
        .await;
    tokio::time::sleep(secs(1)).await;
    let running = h.which_children().await.remove(0);
    h.shutdown().await.unwrap();
    let after = h.which_children().await.remove(0);
    (running, after.last_exit.unwrap())
}

#[tokio::test(start_paused = true)]
async fn a_shared_service_restarts_after_an_error_and_stops_gracefully() {
    use std::sync::atomic::Ordering::SeqCst;
    let feed = Arc::new(FailsTwice::default());
    let (running, exit) = restarted_then_stopped(ChildSpec::new("feed", Arc::clone(&feed))).await;
    assert_eq!(running.phase, Phase::Running);
    assert_eq!((running.starts, running.failures), (3, 2));
    assert_eq!(exit, ExitReason::Shutdown, "returned Ok once cancelled");
    // The program's own reference saw every run.
    assert_eq!((feed.runs.load(SeqCst), feed.stopped.load(SeqCst)), (3, 1));
    assert_eq!(Arc::strong_count(&feed), 1, "the tree let go of it");
}

#[tokio::test(start_paused = true)]
async fn a_boxed_trait_object_restarts_after_an_error_and_stops_gracefully() {
    let boxed: Box<dyn DynService> = Box::new(FailsTwice::default());
    let (running, exit) = restarted_then_stopped(ChildSpec::new("feed", boxed)).await;
    assert_eq!(running.phase, Phase::Running);
    assert_eq!((running.starts, running.failures), (3, 2));
    assert_eq!(running.last_error.as_deref(), Some("not yet"));
    assert_eq!(exit, ExitReason::Shutdown);

    // The same through an `Arc<dyn DynService>`, with a closure service.
    let runs = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let r = runs.clone();
    let shared: Arc<dyn DynService> = Arc::new(service_fn(move |ctx: Context| {
        let n = r.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        async move {
            if n < 2 {
                return Err::<(), BoxError>("not yet".into());
            }
            ctx.cancelled().await;
            Ok(())
        }
    }));
    let (running, exit) = restarted_then_stopped(ChildSpec::new("feed", shared)).await;
    assert_eq!((running.starts, running.failures), (3, 2));
    assert_eq!(exit, ExitReason::Shutdown);
}
