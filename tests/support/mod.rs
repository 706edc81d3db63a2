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
    /// Return Err("fail") at once, without touching the timer (for tests on
    /// the multi-thread runtime, whose time cannot be paused).
    Err,
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
        Act::Err => Err("fail".into()),
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
    /// `start_ok()`, with a receiver of the tree's events subscribed
    /// before the start.
    async fn start_subscribed(
        self,
    ) -> (
        tokio_supervisor::SupervisorHandle,
        tokio::sync::broadcast::Receiver<Event>,
    );
}

impl StartOk for tokio_supervisor::supervisor::Builder {
    async fn start_ok(self) -> tokio_supervisor::SupervisorHandle {
        self.build().unwrap().start().await.unwrap()
    }

    async fn start_subscribed(
        self,
    ) -> (
        tokio_supervisor::SupervisorHandle,
        tokio::sync::broadcast::Receiver<Event>,
    ) {
        let sup = self.build().unwrap();
        let events = sup.subscribe();
        (sup.start().await.unwrap(), events)
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

/// How a remote-controlled child's run ends.
#[derive(Debug, Clone, Copy)]
pub enum How {
    /// Return `Ok(())` (OTP's `normal`).
    Normal,
    /// Return `Err` (an abnormal exit).
    Abnormal,
    /// Panic (the closest to OTP's `kill` a child can do to itself).
    Panic,
}

#[derive(Default)]
struct RemoteInner {
    senders: std::collections::HashMap<String, tokio::sync::mpsc::UnboundedSender<How>>,
    /// Starts left to fail, per path (`u32::MAX`: always).
    fail_start: std::collections::HashMap<String, u32>,
    runs: std::collections::HashMap<String, u32>,
    /// Starts left that never become ready, per path.
    hang: std::collections::HashMap<String, u32>,
    /// How long a stop takes, per path.
    slow_stop: std::collections::HashMap<String, Duration>,
}

/// Children driven from the test, like OTP's `supervisor_1` and
/// `supervisor_deadlock` helpers: `exit(path, How)` ends the current run of
/// the child at that (full) path; `fail_start(path)` makes the next starts of
/// a ready-gated child fail before ready.
#[derive(Clone, Default)]
pub struct Remote(Arc<Mutex<RemoteInner>>);

struct Registered {
    remote: Remote,
    path: String,
    tx: tokio::sync::mpsc::UnboundedSender<How>,
}

impl Drop for Registered {
    fn drop(&mut self) {
        let mut inner = self.remote.0.lock().unwrap();
        if inner
            .senders
            .get(&self.path)
            .is_some_and(|t| t.same_channel(&self.tx))
        {
            inner.senders.remove(&self.path);
        }
    }
}

impl Remote {
    /// A child that runs until told how to end, or cancelled.
    pub fn spec(&self, name: &str) -> ChildSpec {
        self.make(name, false)
    }

    /// A ready-gated child (1 s); its start fails while `fail_start` is set.
    pub fn gated(&self, name: &str) -> ChildSpec {
        self.make(name, true).wait_ready(secs(1))
    }

    fn make(&self, name: &str, gated: bool) -> ChildSpec {
        let remote = self.clone();
        ChildSpec::new(
            name,
            service_fn(move |ctx: Context| {
                let remote = remote.clone();
                async move {
                    let path = ctx.path().to_owned();
                    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                    let (hang, slow_stop) = {
                        let mut inner = remote.0.lock().unwrap();
                        let hang = match inner.hang.get_mut(&path) {
                            Some(n) if *n > 0 => {
                                *n -= 1;
                                true
                            }
                            _ => false,
                        };
                        (hang, inner.slow_stop.get(&path).copied())
                    };
                    let fail = {
                        let mut inner = remote.0.lock().unwrap();
                        inner.senders.insert(path.clone(), tx.clone());
                        *inner.runs.entry(path.clone()).or_default() += 1;
                        let left = inner.fail_start.get_mut(&path);
                        match left {
                            Some(n) if gated && *n > 0 => {
                                if *n != u32::MAX {
                                    *n -= 1;
                                }
                                true
                            }
                            _ => false,
                        }
                    };
                    let _reg = Registered {
                        remote: remote.clone(),
                        path,
                        tx,
                    };
                    if fail {
                        tokio::time::sleep(ms(10)).await;
                        return Err("start failed".into());
                    }
                    if !hang {
                        ctx.ready();
                    }
                    tokio::select! {
                        _ = ctx.cancelled() => {
                            if let Some(d) = slow_stop {
                                tokio::time::sleep(d).await;
                            }
                            Ok(())
                        }
                        how = rx.recv() => match how {
                            Some(How::Normal) => Ok(()),
                            Some(How::Abnormal) => Err("abnormal".into()),
                            Some(How::Panic) => panic!("killed"),
                            None => Ok(()),
                        },
                    }
                }
            }),
        )
    }

    /// Ends the current run of the child at `path`, and lets the supervisor
    /// react.
    pub async fn exit(&self, path: &str, how: How) {
        let tx = self.0.lock().unwrap().senders.get(path).cloned();
        tx.unwrap_or_else(|| panic!("{path} is not running"))
            .send(how)
            .unwrap();
        settle().await;
    }

    pub fn set_fail_start(&self, path: &str, fail: bool) {
        self.fail_next(path, if fail { u32::MAX } else { 0 });
    }

    /// The next `n` starts of the ready-gated child at `path` fail.
    pub fn fail_next(&self, path: &str, n: u32) {
        self.0.lock().unwrap().fail_start.insert(path.to_owned(), n);
    }

    /// The next start of the child at `path` never calls `ready`.
    pub fn hang_next(&self, path: &str) {
        self.0.lock().unwrap().hang.insert(path.to_owned(), 1);
    }

    /// Stopping the child at `path` takes `d`.
    pub fn slow_stop(&self, path: &str, d: Duration) {
        self.0.lock().unwrap().slow_stop.insert(path.to_owned(), d);
    }

    /// How many runs the child at `path` has had.
    pub fn runs(&self, path: &str) -> u32 {
        self.0.lock().unwrap().runs.get(path).copied().unwrap_or(0)
    }

    /// Whether a run of the child at `path` is alive.
    pub fn alive(&self, path: &str) -> bool {
        self.0.lock().unwrap().senders.contains_key(path)
    }
}

/// `[specs, active, supervisors, workers]`, as the OTP suite's
/// `get_child_counts`.
pub async fn counts(h: &tokio_supervisor::SupervisorHandle) -> [usize; 4] {
    let c = h.count_children().await;
    [c.specs, c.active, c.supervisors, c.workers]
}

/// The names of the children, in start order.
pub async fn names(h: &tokio_supervisor::SupervisorHandle) -> Vec<String> {
    h.which_children()
        .await
        .into_iter()
        .map(|c| c.name.to_string())
        .collect()
}

/// A tree in which every metric moves within its first second (virtual
/// time): a steady child; a flaky one that panics until its breaker opens
/// (`restart_limit(2, 60 s)`); a nested supervisor whose child fails past its
/// intensity, so that it fails and backs off. Returned after that second.
pub async fn every_metric_moves(log: &Log, alive: &Alive) -> tokio_supervisor::SupervisorHandle {
    use tokio_supervisor::{Backoff, Restart, Supervisor};
    let inner = Supervisor::builder("inner")
        .intensity(0, secs(60))
        .child(scripted("w", log, alive, vec![Act::ErrAfter(ms(100))]).backoff(Backoff::none()))
        .build()
        .unwrap();
    let h = Supervisor::builder("app")
        .intensity(100, secs(60))
        .child(scripted("steady", log, alive, vec![Act::Serve]))
        .child(
            scripted("flaky", log, alive, vec![Act::PanicAfter(ms(50))])
                .restart(Restart::Permanent)
                .backoff(Backoff::none())
                .restart_limit(2, secs(60)),
        )
        .child(ChildSpec::from(inner).backoff(Backoff::fixed(secs(100))))
        .start_ok()
        .await;
    tokio::time::sleep(secs(1)).await;
    h
}

/// A ready-gated child that becomes ready after `d`, then serves.
pub fn ready_after(name: &str, log: &Log, alive: &Alive, d: Duration) -> ChildSpec {
    let (log, alive, name_s) = (log.clone(), alive.clone(), name.to_owned());
    ChildSpec::new(
        name,
        service_fn(move |ctx| {
            let (log, alive, name) = (log.clone(), alive.clone(), name_s.clone());
            async move {
                let _guard = alive.enter();
                log.push(format!("{name}:start:{}", ctx.attempt()));
                tokio::time::sleep(d).await;
                ctx.ready();
                ctx.cancelled().await;
                log.push(format!("{name}:stop"));
                Ok(())
            }
        }),
    )
    .wait_ready(secs(5))
}
