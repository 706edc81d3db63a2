//! What the supervisors of one tree share ([`Tree`]: events, metrics) and
//! what each passes down to its children ([`Scope`]). A leaf: the runs'
//! links carry a scope, and import nothing else of the supervisor.

use std::any::Any;
use std::sync::Arc;

use tokio::sync::broadcast;

use crate::event::EVENT_CAPACITY;

/// What one started tree shares: the event channel and the metrics
/// registry. Each start of a root makes its own.
///
/// The channel is made on the first `subscribe`: a `broadcast` channel
/// allocates and initialises its whole ring (`EVENT_CAPACITY` slots) at
/// once; until someone subscribes, there is nobody to send to anyway. It is
/// closed as the root stops, so that every receiver ends, whoever still
/// holds a clone of a `Supervisor` or a `Context`.
#[derive(Debug, Default)]
pub(crate) struct Tree {
    events: parking_lot::Mutex<Events>,
    /// Whether anyone ever subscribed: until then, no lock to send.
    subscribed: std::sync::atomic::AtomicBool,
    pub(crate) metrics: Arc<crate::metrics::Registry>,
}

#[derive(Debug, Default)]
enum Events {
    #[default]
    Unused,
    Open(broadcast::Sender<crate::Event>),
    Closed,
}

impl Tree {
    pub(crate) fn new() -> Arc<Self> {
        Arc::default()
    }

    /// A receiver of every event sent from now on; closed at once if the
    /// tree has stopped.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<crate::Event> {
        let mut events = self.events.lock();
        match &*events {
            Events::Open(tx) => tx.subscribe(),
            Events::Unused => {
                let (tx, rx) = broadcast::channel(EVENT_CAPACITY);
                *events = Events::Open(tx);
                self.subscribed
                    .store(true, std::sync::atomic::Ordering::Release);
                rx
            }
            // Its sender dropped at once: the receiver ends at its first recv.
            Events::Closed => broadcast::channel(1).1,
        }
    }

    /// Whether anyone ever subscribed (one atomic load): until then, no
    /// event is made.
    #[inline]
    pub(crate) fn subscribed(&self) -> bool {
        self.subscribed.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The channel, if anyone still listens to it.
    #[inline]
    pub(crate) fn listened(&self) -> Option<broadcast::Sender<crate::Event>> {
        if !self.subscribed.load(std::sync::atomic::Ordering::Acquire) {
            return None;
        }
        match &*self.events.lock() {
            Events::Open(tx) if tx.receiver_count() > 0 => Some(tx.clone()),
            _ => None,
        }
    }

    /// Ends every receiver, once the tree has stopped.
    pub(crate) fn close(&self) {
        *self.events.lock() = Events::Closed;
    }
}

/// What a supervisor's children inherit from it: its tree, and the
/// configurations of the supervisors it runs inside (itself included), so
/// that a supervisor is never started inside itself.
#[derive(Debug)]
pub(crate) struct Scope {
    pub(crate) tree: Arc<Tree>,
    /// Each one's configuration, compared by address only (so this module
    /// needs no supervisor types).
    pub(crate) lineage: Vec<Arc<dyn Any + Send + Sync>>,
}

impl Scope {
    /// The scope of children outside any supervisor (unit tests).
    #[cfg(test)]
    pub(crate) fn detached() -> Arc<Self> {
        Arc::new(Scope {
            tree: Tree::new(),
            lineage: Vec::new(),
        })
    }
}
