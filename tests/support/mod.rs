//! Helpers shared by the behaviour suites.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;
use tokio_supervisor::{service_fn, BoxError, ChildSpec, Context, Event, EventKind};

/// A shared, ordered log of what children did: `"a:start:1"`, `"a:stop"`.
#[derive(Clone, Default)]
pub struct Log(Arc<Mutex<Vec<(Instant, String)>>>);

impl Log {
    pub fn push(&self, s: impl Into<String>) {
        self.0.lock().unwrap().push((Instant::now(), s.into()));
    }
    pub fn entries(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, s)| s.clone())
            .collect()
    }
    pub fn timed(&self) -> Vec<(Instant, String)> {
        self.0.lock().unwrap().clone()
    }
    /// Entries that contain `pat`, in order.
    pub fn matching(&self, pat: &str) -> Vec<String> {
        self.entries()
            .into_iter()
            .filter(|e| e.contains(pat))
            .collect()
    }
}

/// Counts live child tasks: a guard is held by each run, dropped when the
/// task ends (returns, panics, or is aborted).
#[derive(Clone, Default)]
pub struct Alive(Arc<AtomicUsize>);

pub struct AliveGuard(Arc<AtomicUsize>);

impl Alive {
    pub fn enter(&self) -> AliveGuard {
        self.0.fetch_add(1, Ordering::SeqCst);
        AliveGuard(self.0.clone())
    }
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

impl Drop for AliveGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What one run of a scripted child does.
#[derive(Clone, Debug)]
pub enum Act {
    /// Run until cancelled, then return Ok.
    Serve,
    /// Run until cancelled, then ignore it forever.
    IgnoreCancel,
    /// After `d`, return Ok.
    OkAfter(Duration),
    /// After `d`, return Err("fail").
    ErrAfter(Duration),
    /// After `d`, panic with "boom".
    PanicAfter(Duration),
    /// Never call ready; serve until cancelled.
    NeverReady,
    /// Serve until cancelled, then take `d` to clean up and return Ok.
    SlowStop(Duration),
    /// Return Err before calling ready, after `d`.
    ErrBeforeReady(Duration),
}

/// A child whose run number `n` (1-based) does `script[n-1]`, and the last
/// entry for every later run. Logs `name:start:n`, `name:ready`,
/// `name:stop` (on cancellation) and holds an `Alive` guard.
pub fn scripted(name: &str, log: &Log, alive: &Alive, script: Vec<Act>) -> ChildSpec {
    let name_s = name.to_string();
    let log = log.clone();
    let alive = alive.clone();
    let script = Arc::new(script);
    ChildSpec::new(
        name,
        service_fn(move |ctx: Context| {
            let log = log.clone();
            let alive = alive.clone();
            let script = script.clone();
            let name = name_s.clone();
            async move {
                let _guard = alive.enter();
                let n = ctx.attempt() as usize;
                log.push(format!("{name}:start:{n}"));
                let act = script
                    .get(n - 1)
                    .or(script.last())
                    .cloned()
                    .unwrap_or(Act::Serve);
                if !matches!(act, Act::NeverReady | Act::ErrBeforeReady(_)) {
                    ctx.ready();
                }
                run_act(&name, &log, &ctx, act).await
            }
        }),
    )
}

async fn run_act(name: &str, log: &Log, ctx: &Context, act: Act) -> Result<(), BoxError> {
    match act {
        Act::Serve | Act::NeverReady => {
            ctx.cancelled().await;
            log.push(format!("{name}:stop"));
            Ok(())
        }
        Act::IgnoreCancel => {
            ctx.cancelled().await;
            log.push(format!("{name}:ignoring"));
            std::future::pending::<()>().await;
            Ok(())
        }
        Act::SlowStop(d) => {
            ctx.cancelled().await;
            log.push(format!("{name}:stopping"));
            tokio::time::sleep(d).await;
            log.push(format!("{name}:stop"));
            Ok(())
        }
        Act::ErrBeforeReady(d) => {
            tokio::time::sleep(d).await;
            Err("init failed".into())
        }
        Act::OkAfter(d) => {
            tokio::time::sleep(d).await;
            Ok(())
        }
        Act::ErrAfter(d) => {
            tokio::time::sleep(d).await;
            Err("fail".into())
        }
        Act::PanicAfter(d) => {
            tokio::time::sleep(d).await;
            panic!("boom");
        }
    }
}

/// Lets every ready task run (on the paused current-thread runtime, a few
/// yields drain the run queue without moving the clock).
pub async fn settle() {
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
}

/// Tasks alive on the current runtime (the test's own body is not one).
pub fn alive_tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// `builder.build().unwrap().start().await.unwrap()`.
pub trait StartOk {
    async fn start_ok(self) -> tokio_supervisor::SupervisorHandle;
}

impl StartOk for tokio_supervisor::supervisor::Builder {
    async fn start_ok(self) -> tokio_supervisor::SupervisorHandle {
        self.build().unwrap().start().await.unwrap()
    }
}

pub fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Drains the events received so far, as `(path, kind)` pairs.
pub fn drain(rx: &mut tokio::sync::broadcast::Receiver<Event>) -> Vec<(String, EventKind)> {
    let mut out = vec![];
    while let Ok(e) = rx.try_recv() {
        out.push((e.path.to_string(), e.kind));
    }
    out
}
