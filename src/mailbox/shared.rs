//! The state one mailbox shares between its senders, its child's runs and
//! the supervisor: private machinery behind [`MailboxSender`], [`Inbox`] and
//! [`Mailbox`].
//!
//! # Invariants
//!
//! * The receiving end is either in `slot` or held by one [`Inbox`] (one
//!   run), never both; it moves under `slot`'s lock, twice a run (taken at
//!   the start, given back by the `Inbox`'s drop). Sends and receives never
//!   take that lock: they are tokio's `mpsc` operations plus one atomic load
//!   of `state`.
//! * `tx` keeps the channel open for as long as anything refers to the
//!   mailbox, so a run never sees the channel closed and a sender can be
//!   made at any time (`Mailbox::sender`, `SupervisorHandle::mailbox`).
//! * Only the supervisor's loop writes `state` (through [`Port`]); it
//!   writes `down` before it stores [`CLOSED`], and wakes `changed` after
//!   the store. A waiter creates its `Notified` before it loads `state`, and
//!   a `Notified` gets `notify_waiters` from the moment it is created: no
//!   wakeup is lost.
//! * A close drains the queue, if the receiving end is in `slot`; else the
//!   `Inbox` that holds it drains it as it gives it back. The queue of a
//!   closed mailbox is therefore empty, except for a send that loaded
//!   `state` just before the close and queued just after the drain: that
//!   message waits for the next run, if the child is started again, or is
//!   dropped with the mailbox.
//!
//! [`MailboxSender`]: super::MailboxSender
//! [`Inbox`]: super::Inbox
//! [`Mailbox`]: super::Mailbox

use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::{mpsc, Notify};

use super::{MailboxError, MailboxStats};
use crate::lifecycle::{ExitReason, Phase};

/// Not running now, but will be (before the first start, starting,
/// backing off, restarting, stopping for a restart): messages queue.
pub(super) const PENDING: u8 = 0;
/// A run of the child is running (ready, if ready-gated).
pub(super) const RUNNING: u8 = 1;
/// Terminated or removed: sends are refused; `down` says why.
pub(super) const CLOSED: u8 = 2;

/// Why a closed mailbox is closed.
#[derive(Debug, Clone)]
pub(super) enum Down {
    Terminated(ExitReason),
    Removed,
}

pub(crate) struct Shared<T> {
    /// Keeps the channel open (see the invariants); cloned into senders.
    pub(super) tx: mpsc::Sender<T>,
    /// The receiving end, while no run holds it.
    slot: Mutex<Option<mpsc::Receiver<T>>>,
    pub(super) state: AtomicU8,
    /// Woken at every change of `state`.
    pub(super) changed: Notify,
    /// Why it is closed; read only on the error paths.
    down: Mutex<Option<Down>>,
    /// The child's path once a supervisor has it (its name before);
    /// read only on the error paths and by `path()`.
    path: Mutex<Arc<str>>,
    /// Queued messages dropped by a close.
    dropped: AtomicU64,
    /// Sends refused: full, closed, or timed out.
    refused: AtomicU64,
}

impl<T> Shared<T> {
    pub(super) fn new(capacity: usize) -> Arc<Self> {
        let capacity = capacity.clamp(1, super::MAX_CAPACITY);
        let (tx, rx) = mpsc::channel(capacity);
        Arc::new(Shared {
            tx,
            slot: Mutex::new(Some(rx)),
            state: AtomicU8::new(PENDING),
            changed: Notify::new(),
            down: Mutex::new(None),
            path: Mutex::new("".into()),
            dropped: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        })
    }

    pub(super) fn path(&self) -> Arc<str> {
        self.path.lock().clone()
    }

    pub(super) fn set_path(&self, path: &Arc<str>) {
        *self.path.lock() = path.clone();
    }

    #[inline]
    pub(super) fn state(&self) -> u8 {
        self.state.load(Ordering::Acquire)
    }

    pub(super) fn refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// The error of a send refused because the mailbox is closed.
    pub(super) fn closed_error(&self) -> MailboxError {
        let path = self.path().to_string();
        match self.down.lock().clone() {
            Some(Down::Terminated(reason)) => MailboxError::Terminated { path, reason },
            Some(Down::Removed) | None => MailboxError::Removed { path },
        }
    }

    pub(super) fn full_error(&self) -> MailboxError {
        MailboxError::Full {
            path: self.path().to_string(),
            capacity: self.tx.max_capacity(),
        }
    }

    /// Messages queued now (sent or with room reserved, not yet received).
    pub(super) fn queued(&self) -> usize {
        self.tx.max_capacity() - self.tx.capacity()
    }

    /// Takes the receiving end for a run.
    pub(super) fn take(&self) -> Result<mpsc::Receiver<T>, MailboxError> {
        self.slot.lock().take().ok_or_else(|| MailboxError::Taken {
            path: self.path().to_string(),
        })
    }

    /// Gives the receiving end back at the end of a run; drains it if the
    /// mailbox is closed. Put back before `state` is read, as `close`
    /// stores `state` before it takes the end out: whichever comes second
    /// sees the other's write, so a close never misses the queue.
    pub(super) fn give_back(&self, rx: mpsc::Receiver<T>) {
        *self.slot.lock() = Some(rx);
        if self.state() == CLOSED {
            self.drain_slot();
        }
    }

    fn set_state(&self, state: u8) {
        if self.state.swap(state, Ordering::AcqRel) != state {
            self.changed.notify_waiters();
        }
    }

    fn close(&self, why: Down) {
        *self.down.lock() = Some(why);
        self.set_state(CLOSED);
        self.drain_slot();
    }

    /// Drains the queue if the receiving end is in the slot. Taken out of
    /// the lock to be drained: a message's destructor must not run under it.
    fn drain_slot(&self) {
        let rx = self.slot.lock().take();
        if let Some(mut rx) = rx {
            self.drain(&mut rx);
            *self.slot.lock() = Some(rx);
        }
    }

    /// Drops every queued message, counting them; a destructor's panic is
    /// contained (this runs in the supervisor's loop), and the messages
    /// after it are dropped all the same.
    fn drain(&self, rx: &mut mpsc::Receiver<T>) {
        loop {
            let Ok(msg) = rx.try_recv() else { break };
            self.dropped.fetch_add(1, Ordering::Relaxed);
            if catch_unwind(AssertUnwindSafe(|| drop(msg))).is_err() {
                tracing::warn!(path = %self.path(), "a mailbox message panicked as it was dropped");
            }
        }
    }
}

/// What the supervisor sees of a mailbox, whatever its message type: the
/// hooks of the child's lifecycle, and its counters.
pub(crate) trait Port: Send + Sync + std::fmt::Debug + 'static {
    /// The child is in a supervisor's table now, at `path`: it accepts
    /// messages again if it was closed.
    fn attach(&self, path: &Arc<str>);
    /// The child moved to `phase`.
    fn phase(&self, phase: &Phase);
    /// The child left its supervisor's table.
    fn removed(&self);
    fn stats(&self) -> MailboxStats;
    /// `self`, for a typed sender (`SupervisorHandle::mailbox`).
    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync>;
    /// The message type's name, for a lookup of the wrong type.
    fn message_type(&self) -> &'static str;
}

impl<T: Send + 'static> Port for Shared<T> {
    fn attach(&self, path: &Arc<str>) {
        self.set_path(path);
        *self.down.lock() = None;
        self.set_state(PENDING);
    }

    fn phase(&self, phase: &Phase) {
        match phase {
            Phase::Running => self.set_state(RUNNING),
            Phase::Terminated(reason) => self.close(Down::Terminated(reason.clone())),
            // Starting again by hand reopens a closed mailbox.
            _ => {
                *self.down.lock() = None;
                self.set_state(PENDING);
            }
        }
    }

    fn removed(&self) {
        self.close(Down::Removed);
    }

    fn stats(&self) -> MailboxStats {
        MailboxStats {
            capacity: self.tx.max_capacity(),
            queued: self.queued(),
            dropped: self.dropped.load(Ordering::Relaxed),
            refused: self.refused.load(Ordering::Relaxed),
        }
    }

    fn as_any(self: Arc<Self>) -> Arc<dyn Any + Send + Sync> {
        self
    }

    fn message_type(&self) -> &'static str {
        std::any::type_name::<T>()
    }
}

impl<T> std::fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailbox")
            .field("path", &self.path())
            .field("state", &state_name(self.state()))
            .field("queued", &self.queued())
            .field("capacity", &self.tx.max_capacity())
            .finish()
    }
}

pub(super) fn state_name(state: u8) -> &'static str {
    match state {
        RUNNING => "running",
        CLOSED => "closed",
        _ => "pending",
    }
}
