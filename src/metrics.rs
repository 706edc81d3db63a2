//! Counters of a supervision tree: [`MetricsSnapshot`].
//!
//! # Design
//!
//! Every counter is an atomic written only by a supervisor's own loop;
//! children never touch them. Each counter has that one writer: a child's
//! own counters, and the loop's share of the tree's totals
//! (`LoopTotals`), which the registry sums when a snapshot is read. So an
//! event is counted with loads and stores (`bump`), never a
//! read-modify-write (a restart used to make twelve), and loops on
//! different workers never write the same cache lines.
//!
//! The registry is shared by the whole tree (a nested supervisor registers
//! into its root's). It is locked only when a child or a loop is added or
//! removed, and when a snapshot is read: never on a child's path, never by
//! a child.
//!
//! The registry stays bounded: a child's counters leave it when the child
//! leaves its supervisor (a `Temporary` child that ended, `delete_child`),
//! and a nested supervisor's children and its loop's share leave it when
//! that supervisor ends (its parent may start it again, with its children
//! registered anew); the share is folded into the `retired` totals, which
//! keep counting.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// Exit reason labels, in a fixed order (index = `reason_index`).
const REASONS: [&str; 9] = [
    "completed",
    "shutdown",
    "failed",
    "fatal",
    "panicked",
    "aborted",
    "ready_timeout",
    "hung",
    "circuit_open",
];

/// `label`: an exit reason's ([`ExitReason::as_str`](crate::ExitReason::as_str)).
fn reason_index(label: &str) -> usize {
    REASONS.iter().position(|r| *r == label).unwrap_or(2)
}

/// The counters of one child (or of the whole tree).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    starts: AtomicU64,
    restarts: AtomicU64,
    exits: [AtomicU64; REASONS.len()],
    circuit_open: AtomicU64,
}

impl Counters {
    fn read(&self) -> Counts {
        let exits = REASONS
            .iter()
            .zip(&self.exits)
            .map(|(r, n)| ((*r).to_owned(), n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        Counts {
            starts: self.starts.load(Ordering::Relaxed),
            restarts: self.restarts.load(Ordering::Relaxed),
            exits,
            circuit_open: self.circuit_open.load(Ordering::Relaxed),
        }
    }
}

/// One child's counters, as the loop holds them.
#[derive(Debug)]
pub(crate) struct ChildCounters {
    path: Arc<str>,
    /// Its slot in the registry, once registered.
    slot: std::sync::atomic::AtomicUsize,
    counters: Counters,
    active: AtomicBool,
    /// The child's mailbox, if it has one: read by snapshots and lookups
    /// by path, told when the child leaves the registry.
    mailbox: std::sync::OnceLock<Arc<dyn crate::mailbox::Port>>,
}

impl ChildCounters {
    /// Keeps the child's mailbox, if any, and tells it its path (it takes
    /// messages again, if it was closed).
    pub(crate) fn attach_mailbox(&self, mailbox: Option<&Arc<dyn crate::mailbox::Port>>) {
        if let Some(m) = mailbox {
            m.attach(&self.path);
            let _ = self.mailbox.set(m.clone());
        }
    }

    pub(crate) fn path(&self) -> &Arc<str> {
        &self.path
    }

    pub(crate) fn new(path: &Arc<str>) -> Arc<Self> {
        Arc::new(ChildCounters {
            path: path.clone(),
            slot: std::sync::atomic::AtomicUsize::new(usize::MAX),
            counters: Counters::default(),
            active: AtomicBool::new(false),
            mailbox: std::sync::OnceLock::new(),
        })
    }
}

/// Upper bounds (seconds) of the run-uptime histogram's buckets.
pub(crate) const UPTIME_BUCKETS: [f64; 8] = [0.1, 1.0, 10.0, 60.0, 300.0, 3600.0, 21600.0, 86400.0];

/// The same bounds in nanoseconds, to place an uptime without floats.
const UPTIME_BUCKETS_NANOS: [u64; 8] = {
    let mut out = [0; 8];
    let mut i = 0;
    while i < 8 {
        out[i] = (UPTIME_BUCKETS[i] * 1e9) as u64;
        i += 1;
    }
    out
};

/// Adds one to a counter that has a single writer (the loop that owns the
/// child): a load and a store, which cost less than a read-modify-write and
/// lose nothing, since nobody else writes it; readers see either value.
fn bump(counter: &AtomicU64) {
    counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
}

impl LoopTotals {
    #[inline]
    pub(crate) fn restarted(&self, c: &ChildCounters) {
        bump(&c.counters.restarts);
        bump(&self.counts.restarts);
        #[cfg(feature = "metrics")]
        facade::counter("supervisor_child_restarts_total", &c.path, None);
    }

    #[inline]
    pub(crate) fn started(&self, c: &ChildCounters) {
        bump(&c.counters.starts);
        bump(&self.counts.starts);
        if !c.active.load(Ordering::Relaxed) {
            c.active.store(true, Ordering::Relaxed);
            bump(&self.active);
            #[cfg(feature = "metrics")]
            facade::active(1.0);
        }
        #[cfg(feature = "metrics")]
        facade::counter("supervisor_child_starts_total", &c.path, None);
    }

    #[inline]
    pub(crate) fn exited(
        &self,
        c: &ChildCounters,
        reason: &'static str,
        uptime: std::time::Duration,
    ) {
        let i = reason_index(reason);
        let us = u64::try_from(uptime.as_micros()).unwrap_or(u64::MAX);
        bump(&c.counters.exits[i]);
        bump(&self.counts.exits[i]);
        let total_us = self.uptime_us.load(Ordering::Relaxed).saturating_add(us);
        self.uptime_us.store(total_us, Ordering::Relaxed);
        let nanos = u64::try_from(uptime.as_nanos()).unwrap_or(u64::MAX);
        let bucket = UPTIME_BUCKETS_NANOS
            .iter()
            .position(|b| nanos <= *b)
            .unwrap_or(UPTIME_BUCKETS.len());
        bump(&self.uptime.buckets[bucket]);
        if c.active.load(Ordering::Relaxed) {
            c.active.store(false, Ordering::Relaxed);
            let active = self.active.load(Ordering::Relaxed);
            self.active
                .store(active.saturating_sub(1), Ordering::Relaxed);
            #[cfg(feature = "metrics")]
            facade::active(-1.0);
        }
        #[cfg(feature = "metrics")]
        {
            facade::counter("supervisor_child_exits_total", &c.path, Some(REASONS[i]));
            ::metrics::histogram!("supervisor_child_uptime_seconds").record(uptime.as_secs_f64());
        }
    }

    pub(crate) fn circuit_opened(&self, c: &ChildCounters) {
        bump(&c.counters.circuit_open);
        bump(&self.counts.circuit_open);
        #[cfg(feature = "metrics")]
        facade::counter("supervisor_circuit_open_total", &c.path, None);
    }
}

/// Ended runs by uptime (non-cumulative; the last slot is `+Inf`).
#[derive(Debug, Default)]
struct UptimeHistogram {
    buckets: [AtomicU64; UPTIME_BUCKETS.len() + 1],
}

/// One supervisor loop's share of the tree's totals: written by that loop
/// alone, summed by [`Registry::snapshot`]. Padded on both sides, so that
/// no other thread's writes share its cache lines (nor the pairs of lines
/// that x86 prefetches together). Padded rather than aligned to 128 bytes:
/// an over-aligned allocation leaves glibc's per-thread cache for
/// `posix_memalign` (measured: 1 180 instructions more a supervisor's
/// start and stop).
#[derive(Debug, Default)]
#[repr(C)]
pub(crate) struct LoopTotals {
    _front: Pad,
    counts: Counters,
    /// Children of this loop with a live task.
    active: AtomicU64,
    /// Uptime of ended runs, in microseconds.
    uptime_us: AtomicU64,
    uptime: UptimeHistogram,
    /// Its slot in the registry.
    slot: std::sync::atomic::AtomicUsize,
    _back: Pad,
}

/// 128 bytes that nobody writes (see `LoopTotals`).
#[derive(Default)]
struct Pad {
    _bytes: [u64; 16],
}

impl std::fmt::Debug for Pad {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("..")
    }
}

/// Totals as plain numbers: a loop's share as read, a sum of them, or the
/// retired loops' shares.
#[derive(Debug, Default)]
struct Totals {
    starts: u64,
    restarts: u64,
    exits: [u64; REASONS.len()],
    circuit_open: u64,
    uptime_us: u64,
    buckets: [u64; UPTIME_BUCKETS.len() + 1],
}

impl Totals {
    fn add(&mut self, r: &Totals) {
        self.starts += r.starts;
        self.restarts += r.restarts;
        for (sum, n) in self.exits.iter_mut().zip(r.exits) {
            *sum += n;
        }
        self.circuit_open += r.circuit_open;
        self.uptime_us += r.uptime_us;
        for (sum, n) in self.buckets.iter_mut().zip(r.buckets) {
            *sum += n;
        }
    }
}

impl LoopTotals {
    /// This loop's share as it is now.
    fn read(&self) -> Totals {
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        Totals {
            starts: load(&self.counts.starts),
            restarts: load(&self.counts.restarts),
            exits: std::array::from_fn(|i| load(&self.counts.exits[i])),
            circuit_open: load(&self.counts.circuit_open),
            uptime_us: load(&self.uptime_us),
            buckets: std::array::from_fn(|i| load(&self.uptime.buckets[i])),
        }
    }
}

/// The registry of a tree.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    /// The live loops' shares of the totals.
    loops: Mutex<slab::Slab<Arc<LoopTotals>>>,
    /// The ended loops' shares. Locked after `loops` when both are.
    retired: Mutex<Totals>,
    intensity_exceeded: AtomicU64,
    blocking_detached: AtomicU64,
    /// The children's counters; each knows its own slot (for removal).
    children: Mutex<slab::Slab<Arc<ChildCounters>>>,
    supervisors: Mutex<BTreeMap<Arc<str>, u64>>,
}

impl Registry {
    /// A new loop's share of the totals (a supervisor starting).
    pub(crate) fn add_loop(&self) -> Arc<LoopTotals> {
        let l = Arc::new(LoopTotals::default());
        let mut loops = self.loops.lock();
        let entry = loops.vacant_entry();
        l.slot.store(entry.key(), Ordering::Relaxed);
        entry.insert(l.clone());
        l
    }

    /// Folds an ended loop's share into the retired totals.
    pub(crate) fn retire_loop(&self, l: &LoopTotals) {
        let mut loops = self.loops.lock();
        let slot = l.slot.swap(usize::MAX, Ordering::Relaxed);
        if loops.get(slot).is_some_and(|x| std::ptr::eq(&**x, l)) {
            loops.remove(slot);
            self.retired.lock().add(&l.read());
            // Children aborted with their loop never reported their end.
            #[cfg(feature = "metrics")]
            facade::active(-(l.active.load(Ordering::Relaxed) as f64));
        }
    }

    pub(crate) fn register(&self, path: &Arc<str>) -> Arc<ChildCounters> {
        let c = ChildCounters::new(path);
        self.register_all([c.clone()]);
        c
    }

    /// Registers many children under one lock (a supervisor's start).
    pub(crate) fn register_all(&self, children: impl IntoIterator<Item = Arc<ChildCounters>>) {
        let mut slab = self.children.lock();
        for c in children {
            let entry = slab.vacant_entry();
            c.slot.store(entry.key(), Ordering::Relaxed);
            entry.insert(c);
        }
    }

    pub(crate) fn unregister(&self, c: &ChildCounters) {
        self.unregister_all([c]);
    }

    /// Unregisters many children under one lock (a nested supervisor's end).
    ///
    /// A child leaves the registry when it leaves its supervisor: its
    /// mailbox, if any, is closed as removed (outside the lock, as it drops
    /// the queued messages).
    pub(crate) fn unregister_all<'a>(&self, children: impl IntoIterator<Item = &'a ChildCounters>) {
        let mut removed = Vec::new();
        {
            let mut slab = self.children.lock();
            for c in children {
                let slot = c.slot.swap(usize::MAX, Ordering::Relaxed);
                if slab.get(slot).is_some_and(|x| std::ptr::eq(&**x, c)) {
                    slab.remove(slot);
                    removed.extend(c.mailbox.get().cloned());
                }
            }
        }
        for m in removed {
            m.removed();
        }
    }

    /// The mailbox of the child at `path` (full), if it is in the tree and
    /// has one.
    pub(crate) fn mailbox(&self, path: &str) -> Option<Arc<dyn crate::mailbox::Port>> {
        self.children
            .lock()
            .iter()
            .find(|(_, c)| &*c.path == path)
            .and_then(|(_, c)| c.mailbox.get().cloned())
    }

    pub(crate) fn blocking_detached(&self) {
        self.blocking_detached.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn intensity_exceeded(&self, supervisor: &Arc<str>) {
        self.intensity_exceeded.fetch_add(1, Ordering::Relaxed);
        *self
            .supervisors
            .lock()
            .entry(supervisor.clone())
            .or_default() += 1;
        #[cfg(feature = "metrics")]
        ::metrics::counter!("supervisor_intensity_exceeded_total", "supervisor" => supervisor.to_string())
            .increment(1);
    }

    pub(crate) fn snapshot(&self) -> MetricsSnapshot {
        let mut children: Vec<ChildMetrics> = self
            .children
            .lock()
            .iter()
            .map(|(_, c)| ChildMetrics {
                path: c.path.clone(),
                counts: c.counters.read(),
                active: c.active.load(Ordering::Relaxed),
                mailbox: c.mailbox.get().map(|m| m.stats()),
            })
            .collect();
        children.sort_by(|a, b| a.path.cmp(&b.path));
        let supervisors = self
            .supervisors
            .lock()
            .iter()
            .map(|(path, n)| SupervisorMetrics {
                path: path.clone(),
                intensity_exceeded: *n,
            })
            .collect();
        // The live loops' shares and the retired ones, under both locks (in
        // `retire_loop`'s order), so that a loop ending meanwhile is counted
        // once.
        let mut sum = Totals::default();
        let mut active = 0;
        {
            let loops = self.loops.lock();
            let retired = self.retired.lock();
            for (_, l) in loops.iter() {
                sum.add(&l.read());
                active += l.active.load(Ordering::Relaxed);
            }
            sum.add(&retired);
        }
        MetricsSnapshot {
            total: Counts {
                starts: sum.starts,
                restarts: sum.restarts,
                exits: REASONS
                    .iter()
                    .zip(sum.exits)
                    .filter(|(_, n)| *n > 0)
                    .map(|(r, n)| ((*r).to_owned(), n))
                    .collect(),
                circuit_open: sum.circuit_open,
            },
            active,
            intensity_exceeded: self.intensity_exceeded.load(Ordering::Relaxed),
            blocking_detached: self.blocking_detached.load(Ordering::Relaxed),
            uptime_buckets: UPTIME_BUCKETS
                .iter()
                .copied()
                .chain([f64::INFINITY])
                .zip(sum.buckets)
                .collect(),
            uptime_total: std::time::Duration::from_micros(sum.uptime_us),
            children,
            supervisors,
        }
    }
}

/// Counts of lifecycle events, for one child or for a whole tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Counts {
    /// Tasks spawned (first starts and restarts).
    pub starts: u64,
    /// Automatic restarts (group restarts included).
    pub restarts: u64,
    /// Ended runs by [`ExitReason`](crate::ExitReason) label (`"failed"`, `"panicked"`, …);
    /// labels with no exit are left out.
    pub exits: BTreeMap<String, u64>,
    /// Times the circuit breaker opened.
    pub circuit_open: u64,
}

impl Counts {
    /// Ended runs that were failures (failed, panicked, aborted, ready
    /// timeout).
    #[must_use]
    pub fn failures(&self) -> u64 {
        ["failed", "panicked", "aborted", "ready_timeout", "hung"]
            .iter()
            .filter_map(|r| self.exits.get(*r))
            .sum()
    }
}

/// One child's counters in a [`MetricsSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ChildMetrics {
    /// Full path of the child.
    pub path: Arc<str>,
    /// Its counters.
    pub counts: Counts,
    /// Whether it has a live task now.
    pub active: bool,
    /// Its mailbox, if it has one: queue depth, messages dropped and
    /// refused.
    #[serde(default)]
    pub mailbox: Option<crate::lifecycle::MailboxStats>,
}

/// A supervisor's own counters in a [`MetricsSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SupervisorMetrics {
    /// Full path of the supervisor.
    pub path: Arc<str>,
    /// Times it exceeded its restart intensity.
    pub intensity_exceeded: u64,
}

/// The counters of a whole supervision tree, as returned by
/// [`SupervisorHandle::metrics`](crate::SupervisorHandle::metrics).
///
/// Reading it takes no lock a child could meet (see the module docs of
/// `metrics.rs`), so it is cheap to poll from a dashboard.
///
/// ```
/// # use tokio_supervisor::{service_fn, ChildSpec, Supervisor};
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let handle = Supervisor::builder("app")
///     .child(ChildSpec::new("w", service_fn(|ctx| async move {
///         ctx.cancelled().await;
///         Ok(())
///     })))
///     .build()?
///     .start()
///     .await?;
/// let m = handle.metrics();
/// assert_eq!((m.total.starts, m.active), (1, 1));
/// assert_eq!(m.children[0].path.as_ref(), "app/w");
/// # handle.shutdown().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct MetricsSnapshot {
    /// Totals over every child of the tree, past and present.
    pub total: Counts,
    /// Children with a live task now.
    pub active: u64,
    /// Times any supervisor of the tree exceeded its intensity.
    pub intensity_exceeded: u64,
    /// Blocking tasks that did not finish within their shutdown timeout and
    /// were left running on their thread (blocking work cannot be aborted).
    pub blocking_detached: u64,
    /// Summed uptime of every ended run.
    pub uptime_total: std::time::Duration,
    /// Ended runs by uptime: `(upper bound in seconds, runs in that bucket)`,
    /// not cumulative, the last bound infinite.
    pub uptime_buckets: Vec<(f64, u64)>,
    /// Each child currently in the tree, by path.
    pub children: Vec<ChildMetrics>,
    /// Supervisors that exceeded their intensity at least once.
    pub supervisors: Vec<SupervisorMetrics>,
}

/// Emission through the `metrics` facade, as events happen.
#[cfg(feature = "metrics")]
mod facade {
    pub(super) fn counter(name: &'static str, path: &str, reason: Option<&'static str>) {
        match reason {
            Some(reason) => {
                ::metrics::counter!(name, "path" => path.to_owned(), "reason" => reason)
                    .increment(1);
            }
            None => ::metrics::counter!(name, "path" => path.to_owned()).increment(1),
        }
    }

    /// Moves the gauge of live children by `delta` (each loop counts its
    /// own; the gauge is their sum).
    pub(super) fn active(delta: f64) {
        ::metrics::gauge!("supervisor_children_active").increment(delta);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::ExitReason;
    use std::time::Duration;

    #[test]
    fn a_loops_share_has_its_cache_lines_to_itself() {
        use std::mem::{align_of, offset_of, size_of};
        // Whatever 16-byte-aligned address the allocator returns, the
        // written fields lie 128 bytes or more from either end.
        let first = offset_of!(LoopTotals, counts);
        let after_last = offset_of!(LoopTotals, _back);
        assert!(first >= 128, "front padding: {first} bytes");
        assert!(size_of::<LoopTotals>() - after_last >= 128);
        // Not over-aligned, so that it comes from the allocator's fast path.
        assert!(align_of::<LoopTotals>() <= 16);
    }

    #[test]
    fn counts_per_child_and_in_total() {
        let r = Registry::default();
        let a: Arc<str> = "app/a".into();
        let ca = r.register(&a);
        let l = r.add_loop();
        l.started(&ca);
        l.exited(
            &ca,
            ExitReason::Panicked("x".into()).as_str(),
            Duration::from_secs(2),
        );
        l.restarted(&ca);
        l.started(&ca);
        l.circuit_opened(&ca);
        r.intensity_exceeded(&"app".into());
        let s = r.snapshot();
        assert_eq!(s.total.starts, 2);
        assert_eq!(s.total.restarts, 1);
        assert_eq!(s.total.exits.get("panicked"), Some(&1));
        assert_eq!(s.total.failures(), 1);
        assert_eq!(s.active, 1);
        assert_eq!(s.intensity_exceeded, 1);
        assert_eq!(s.uptime_total, Duration::from_secs(2));
        assert_eq!(s.children[0].counts, s.total);
        assert!(s.children[0].active);
        r.unregister(&ca);
        let s = r.snapshot();
        assert!(s.children.is_empty());
        assert_eq!(s.total.starts, 2, "totals outlive the child");

        // A second loop's share adds up; an ended loop's stays in the
        // totals, once, and its live children no longer count as active.
        let l2 = r.add_loop();
        let cb = r.register(&"app/b".into());
        l2.started(&cb);
        assert_eq!((r.snapshot().total.starts, r.snapshot().active), (3, 2));
        r.retire_loop(&l);
        r.retire_loop(&l);
        let s = r.snapshot();
        assert_eq!((s.total.starts, s.total.restarts, s.active), (3, 1, 1));
        assert_eq!(s.uptime_total, Duration::from_secs(2));
        assert_eq!(s.total.exits.get("panicked"), Some(&1));
    }

    #[test]
    fn an_uptime_on_a_bucket_bound_is_counted_in_that_bucket() {
        let r = Registry::default();
        let c = r.register(&"app/a".into());
        let r_loop = r.add_loop();
        for uptime in [
            Duration::from_millis(100),
            Duration::from_millis(100) + Duration::from_nanos(1),
            Duration::from_secs(86_400),
            Duration::from_secs(86_401),
        ] {
            r_loop.started(&c);
            r_loop.exited(&c, ExitReason::Completed.as_str(), uptime);
        }
        let counts: Vec<u64> = r.snapshot().uptime_buckets.iter().map(|b| b.1).collect();
        assert_eq!(counts, [1, 1, 0, 0, 0, 0, 0, 1, 1]);
        assert_eq!(r.snapshot().active, 0, "started and ended four times");
    }

    #[test]
    fn every_reason_has_its_label() {
        for (i, label) in REASONS.iter().enumerate() {
            let reason = match *label {
                "completed" => ExitReason::Completed,
                "shutdown" => ExitReason::Shutdown,
                "failed" => ExitReason::Failed("".into()),
                "fatal" => ExitReason::Fatal("".into()),
                "panicked" => ExitReason::Panicked("".into()),
                "aborted" => ExitReason::Aborted,
                "ready_timeout" => ExitReason::ReadyTimeout {
                    timeout: Duration::ZERO,
                },
                "hung" => ExitReason::Hung {
                    timeout: Duration::ZERO,
                },
                _ => ExitReason::CircuitOpen {
                    restarts: 0,
                    window: Some(Duration::ZERO),
                },
            };
            assert_eq!(reason_index(reason.as_str()), i);
        }
    }
}
