//! The supervisor's side of one run: [`RunLink`].
//!
//! A run and its supervisor share one small record (`Shared`): the stop
//! flag and its `Notify`, the readiness and heartbeat cells, the way back
//! to the supervisor. The child sees it through its public
//! [`Context`](crate::Context), which can only wait for the stop, say it is
//! ready and beat; the supervisor holds a [`RunLink`], which asks the run
//! to stop, reads its heartbeat, and carries its end back. Two views of one
//! record, so that nothing of the supervisor's side is in the child's
//! hands.
//!
//! # Invariants
//!
//! * Only the supervisor stops a run (`RunLink::request_stop`): it sets the
//!   `stop` flag, then wakes the `Notify`. `Context::cancelled` creates its
//!   `Notified` future before it reads the flag, and a `Notified` future
//!   gets `notify_waiters` from the moment it is created, so no wakeup is
//!   lost.
//! * A `CancellationToken` is made only if the child asks for one
//!   (`Context::token`); `request_stop` cancels it if it exists, and
//!   `token` cancels it itself if the stop came first, so either order ends
//!   cancelled.
//! * A run's end is reported once: `report_end` takes the link.

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::contain::Contained;
use crate::service::BoxError;
use crate::supervisor::scope::Scope;
use crate::Context;

/// How a run ended. The user's values in it are dropped with their panics
/// contained, wherever the message ends up.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// `run` returned.
    Returned(Result<(), Contained<BoxError>>),
    /// `run` panicked (or its future's destructor did): the payload.
    Panicked(Contained<Box<dyn Any + Send>>),
    /// The task was aborted (or dropped unfinished, as a runtime shuts
    /// down).
    Aborted,
}

/// Where a run's readiness and end go: its supervisor's inbox. A trait, so
/// that the runs' side names none of the supervisor's messages.
pub(crate) trait Reports: Send + Sync + 'static {
    /// The run `run` of the child in `slot` is ready.
    fn ready(&self, slot: usize, run: u64);
    /// The run ended (its low 32 bits tell it from the child's other runs).
    fn ended(&self, slot: usize, run: u32, outcome: Outcome);
}

pub(crate) struct Shared {
    pub(crate) path: Arc<str>,
    pub(crate) attempt: u32,
    /// Made on demand by `token()`.
    pub(crate) token: OnceLock<CancellationToken>,
    pub(crate) stop: AtomicBool,
    pub(crate) stopped: Notify,
    pub(crate) ready: AtomicBool,
    /// Nanoseconds since `born` at the last heartbeat.
    pub(crate) heartbeat: AtomicU64,
    pub(crate) born: Instant,
    pub(crate) notify: Option<Notifier>,
    /// A nested supervisor's inbox, made by its parent (see `take_inbox`);
    /// boxed, so that every other run's context pays one pointer for it.
    pub(crate) inbox: Option<Box<parking_lot::Mutex<Option<Inbox>>>>,
}

/// A nested supervisor's inbox, both ends of its channel, opaque here (its
/// parent makes it, the nested supervisor takes it).
pub(crate) type Inbox = Box<dyn std::any::Any + Send>;

pub(crate) struct Notifier {
    pub(crate) to: Arc<dyn Reports>,
    pub(crate) scope: Arc<Scope>,
    pub(crate) slot: usize,
    pub(crate) run: u64,
}

impl Shared {
    /// A run's fresh state: not stopped, not ready, no heartbeat yet.
    pub(crate) fn new(
        path: Arc<str>,
        attempt: u32,
        notify: Option<Notifier>,
        born: Instant,
    ) -> Self {
        Shared {
            path,
            attempt,
            token: OnceLock::new(),
            stop: AtomicBool::new(false),
            stopped: Notify::new(),
            ready: AtomicBool::new(false),
            heartbeat: AtomicU64::new(0),
            born,
            notify,
            inbox: None,
        }
    }

    /// When the run last beat, if ever.
    pub(crate) fn last_heartbeat(&self) -> Option<Instant> {
        match self.heartbeat.load(Ordering::Acquire) {
            0 => None,
            n => Some(self.born + std::time::Duration::from_nanos(n)),
        }
    }
}

/// The supervisor's side of one run (see the module).
#[derive(Clone, Debug)]
pub(crate) struct RunLink {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("path", &self.path)
            .field("attempt", &self.attempt)
            .finish_non_exhaustive()
    }
}

impl RunLink {
    /// The link of run `run` of the child in `slot`, whose end and
    /// readiness go to `tx`.
    pub(crate) fn new(
        path: Arc<str>,
        attempt: u32,
        to: Arc<dyn Reports>,
        scope: Arc<Scope>,
        slot: usize,
        run: u64,
        born: Instant,
    ) -> Self {
        let notifier = Notifier {
            to,
            scope,
            slot,
            run,
        };
        RunLink {
            shared: Arc::new(Shared::new(path, attempt, Some(notifier), born)),
        }
    }

    /// This new link, for a nested supervisor's run, with the inbox its
    /// parent made for it (the parent keeps the sender, to forward
    /// commands and to kill it).
    pub(crate) fn with_inbox(mut self, inbox: Inbox) -> Self {
        // Invariant: called on a link just made, which nothing shares.
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            shared.inbox = Some(Box::new(parking_lot::Mutex::new(Some(inbox))));
        }
        self
    }

    /// The child's view of the run.
    pub(crate) fn context(&self) -> Context {
        Context::of(self.shared.clone())
    }

    /// The child's full path.
    pub(crate) fn path(&self) -> &Arc<str> {
        &self.shared.path
    }

    /// Asks the run to stop: sets the flag, then cancels the token.
    pub(crate) fn request_stop(&self) {
        self.shared.stop.store(true, Ordering::Release);
        self.shared.stopped.notify_waiters();
        // Pairs with the fence in `Context`'s token: see there.
        std::sync::atomic::fence(Ordering::SeqCst);
        if let Some(token) = self.shared.token.get() {
            token.cancel();
        }
    }

    /// When the run last beat, if ever.
    pub(crate) fn last_heartbeat(&self) -> Option<Instant> {
        self.shared.last_heartbeat()
    }

    /// Tells the supervisor that this run ended, and how: the last thing a
    /// run's task does (see `run::Report`).
    #[inline]
    pub(crate) fn report_end(self, outcome: Outcome) {
        if let Some(n) = &self.shared.notify {
            // A child has one run at a time: the low bits tell runs apart.
            n.to.ended(n.slot, n.run as u32, outcome);
        }
    }

    /// The inbox the parent made for this run, a nested supervisor's
    /// (`with_inbox`), once.
    pub(crate) fn take_inbox(&self) -> Option<Inbox> {
        self.shared.inbox.as_ref()?.lock().take()
    }

    /// The tree and supervisors this run's child runs inside.
    pub(crate) fn scope(&self) -> Option<&Arc<Scope>> {
        self.shared.notify.as_ref().map(|n| &n.scope)
    }
}
