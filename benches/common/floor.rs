//! The design's floor: the least work any supervisor built on the runtime
//! model of `shared/DESIGN.md` does to start and stop its children, written
//! by hand in bare tokio, with none of the crate's bookkeeping. `ratios`
//! times it against bare tokio next to the crate itself, so that what the
//! model costs and what this crate adds to it are told apart.
//!
//! What the floor does, because the model requires it:
//!
//! * a task per supervisor, with an inbox its children's ends arrive on
//!   ("one tokio task per supervisor runs its event loop; it wakes on a
//!   child exited, ..., the shutdown signal"), watching that inbox and its
//!   stop signal while it runs;
//! * a task per child, spawned bare, that reports its end to its
//!   supervisor; a stop signal of its own (a supervisor stops one child
//!   alone, `terminate_child`) and its `JoinHandle` kept (to abort it when
//!   its shutdown times out);
//! * a start in spec order, a nested supervisor counted as started only
//!   once its own children are, before its next sibling starts; the
//!   caller's start returns once every child has started (a failed start
//!   must be reported to it);
//! * a stop in reverse order, each child after the later one has ended
//!   (the ending child stops the one before it, one task switch a step: a
//!   hand-off the crate no longer makes, since only a supervisor stops its
//!   children, so the floor's ordered rows are a step cheaper than the
//!   design), or all at once; a nested supervisor ends only once its
//!   subtree has.
//!
//! What it leaves out, all of which the crate does: names, paths and
//! validation, a child table, phases and snapshots, metrics, events,
//! restart decisions, kill deadlines, contexts (ready, heartbeat), a
//! panic's message, a control channel.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_supervisor::ShutdownOrder;
use tokio_util::sync::CancellationToken;

use crate::common::Gate;

/// Where a child's end goes: its supervisor's inbox, with its slot.
type Ends = mpsc::UnboundedSender<usize>;

/// How a child is tied to its supervisor.
pub struct Link {
    /// Its slot, which its end is reported with.
    slot: usize,
    /// Its supervisor's inbox.
    ends: Ends,
    /// Its own stop signal.
    stop: CancellationToken,
    /// In an ordered stop, the child to stop once this one has ended.
    hand_off: Option<CancellationToken>,
}

impl Link {
    /// Reports the end, then stops the next child of an ordered stop.
    fn ended(self) {
        let _ = self.ends.send(self.slot);
        if let Some(next) = self.hand_off {
            next.cancel();
        }
    }
}

/// A child of a floor supervisor.
pub trait Kid: Send + 'static {
    /// Spawns the child; returns once it has started.
    fn start(self, link: Link) -> impl Future<Output = JoinHandle<()>> + Send;
}

/// A worker: arrives at the gate, serves until stopped.
pub struct Worker(pub Gate);

impl Kid for Worker {
    async fn start(self, link: Link) -> JoinHandle<()> {
        let gate = self.0;
        tokio::spawn(async move {
            gate.arrive();
            link.stop.cancelled().await;
            link.ended();
        })
    }
}

/// A supervisor of `kids`, stopped in `order`.
pub struct Sup<K> {
    pub kids: Vec<K>,
    pub order: ShutdownOrder,
}

impl<K: Kid> Kid for Sup<K> {
    async fn start(self, link: Link) -> JoinHandle<()> {
        let stop = link.stop.clone();
        self.spawn(stop, Some(link)).await
    }
}

impl<K: Kid> Sup<K> {
    /// Spawns the supervisor's task and returns once its children have
    /// started; cancelling `stop` stops it, its end is reported on
    /// `report` (none for a root), and its handle ends once it has stopped.
    async fn spawn(self, stop: CancellationToken, report: Option<Link>) -> JoinHandle<()> {
        let (started, is_started) = oneshot::channel();
        let handle = tokio::spawn(self.run(stop, started, report));
        let _ = is_started.await;
        handle
    }

    async fn run(
        self,
        stop: CancellationToken,
        started: oneshot::Sender<()>,
        report: Option<Link>,
    ) {
        let (ends_tx, mut ends) = mpsc::unbounded_channel();
        let n = self.kids.len();
        let ordered = matches!(self.order, ShutdownOrder::Reverse);
        let mut running: Vec<(CancellationToken, Option<JoinHandle<()>>)> = Vec::with_capacity(n);
        for (slot, kid) in self.kids.into_iter().enumerate() {
            let token = CancellationToken::new();
            // In order, a child's end stops the one started before it.
            let hand_off = match running.last() {
                Some((prev, _)) if ordered => Some(prev.clone()),
                _ => None,
            };
            let link = Link {
                slot,
                ends: ends_tx.clone(),
                stop: token.clone(),
                hand_off,
            };
            let handle = kid.start(link).await;
            running.push((token, Some(handle)));
        }
        let _ = started.send(());
        // Serve: a child that ends here would be restarted; none does.
        let mut left = n;
        loop {
            tokio::select! {
                biased;
                _ = stop.cancelled() => break,
                Some(slot) = ends.recv() => {
                    running[slot].1 = None;
                    left -= 1;
                }
            }
        }
        // Stop: the last child (whose end stops the one before it, and so
        // on), or every child at once.
        if ordered {
            if let Some((last, _)) = running.last() {
                last.cancel();
            }
        } else {
            for (token, _) in &running {
                token.cancel();
            }
        }
        while left > 0 {
            let Some(slot) = ends.recv().await else { break };
            running[slot].1 = None;
            left -= 1;
        }
        if let Some(link) = report {
            link.ended();
        }
    }
}

/// The floor's start/stop of `n` workers (the bench's `start_stop`): the
/// time from the start to the end of the stop (the children's list, the
/// counterpart of a configuration, is not timed).
pub async fn floor_start_stop(n: usize, order: ShutdownOrder) -> std::time::Duration {
    let gate = Gate::new(n);
    let sup = Sup {
        kids: (0..n).map(|_| Worker(gate.clone())).collect(),
        order,
    };
    timed_root(sup, &gate).await
}

/// The floor's tree of three levels: 10 × 10 supervisors × 10 workers.
pub async fn floor_tree(order: ShutdownOrder) -> std::time::Duration {
    let gate = Gate::new(1000);
    let leaf = || Sup {
        kids: (0..10).map(|_| Worker(gate.clone())).collect(),
        order,
    };
    let mid = || Sup {
        kids: (0..10).map(|_| leaf()).collect(),
        order,
    };
    let root = Sup {
        kids: (0..10).map(|_| mid()).collect(),
        order,
    };
    timed_root(root, &gate).await
}

async fn timed_root<K: Kid>(sup: Sup<K>, gate: &Gate) -> std::time::Duration {
    let t0 = std::time::Instant::now();
    let stop = CancellationToken::new();
    let handle = sup.spawn(stop.clone(), None).await;
    gate.wait().await;
    stop.cancel();
    handle.await.unwrap();
    t0.elapsed()
}
