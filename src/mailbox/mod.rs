//! A supervised child's mailbox: an address that survives restarts.
//!
//! # Why
//!
//! A pipeline stage that is restarted must find its queue again, and the
//! stages that feed it must not notice. Without help, each program keeps
//! the receiver of a channel in an `Arc<Mutex<Receiver>>` that every run
//! locks, and the senders learn nothing when the stage is given up: their
//! messages pile up in a queue that nobody reads. Erlang gives a process
//! a registered name; this module gives a child a typed, bounded mailbox.
//!
//! # How
//!
//! [`channel`] makes a mailbox of a capacity you choose: a
//! [`MailboxSender`] (cloneable, `Send`, usable before the tree starts)
//! and the [`Mailbox`], given to the child's spec with
//! [`ChildSpec::with_mailbox`](crate::ChildSpec::with_mailbox). Each run of
//! the child gets the receiving end as an [`Inbox`], beside its
//! [`Context`](crate::Context), and gives it back when it ends, however it
//! ends. Underneath is one tokio [`mpsc`](tokio::sync::mpsc) channel for
//! the mailbox's whole life: a send or a receive is tokio's, plus one
//! atomic load; the only lock is taken twice a run, to lend the receiving
//! end and to get it back.
//!
//! ```
//! use std::time::Duration;
//! use tokio_supervisor::{mailbox, ChildSpec, Restart, Supervisor};
//!
//! #[tokio::main]
//! # async fn _hidden() {}
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let (jobs, mailbox) = mailbox::channel::<u32>(100);
//!     let app = Supervisor::builder("app")
//!         .child(ChildSpec::with_mailbox_fn("worker", mailbox,
//!             |_ctx, mut inbox| async move {
//!                 while let Some(job) = inbox.recv().await {
//!                     if job == 13 {
//!                         panic!("unlucky"); // job 13 is lost; the next run gets 14
//!                     }
//!                 }
//!                 Ok(())
//!             },
//!         ).restart(Restart::Permanent))
//!         .build()?
//!         .start()
//!         .await?;
//!     for job in 0..20 {
//!         jobs.send(job).await?; // never fails while the worker restarts
//!     }
//!     jobs.wait_running(Duration::from_secs(5)).await?;
//!     app.shutdown().await?;
//!     Ok(())
//! }
//! ```
//!
//! # What happens to messages
//!
//! * **Before the start, and while the child restarts or backs off**
//!   (a group restart included): messages queue, up to the capacity, and
//!   the next run receives them, in order.
//! * **The message a run was handling when it crashed** is lost: the run
//!   had taken it off the queue. Delivery is at most once, as in Erlang. A
//!   request among them ends with [`MailboxError::ReplyLost`] at once; make
//!   a message idempotent and send it again if it must get through.
//! * **A run asked to stop** sees [`Inbox::recv`] return `None`; what is
//!   still queued stays for the next run.
//! * **When the child terminates** (given up by its circuit breaker or its
//!   restart limit, ended by a [`Fatal`](crate::Fatal) error, done, or
//!   stopped by its supervisor or `terminate_child`) or **is removed**
//!   (`delete_child`, a `Temporary` or dynamic child that ended), the
//!   messages still queued are dropped and counted in
//!   [`MailboxStats::dropped`]; requests among them end with
//!   [`MailboxError::ReplyLost`]. From then on a send is refused with
//!   [`MailboxError::Terminated`] or [`MailboxError::Removed`], naming the
//!   child's path, and a sender waiting for room is woken with that error.
//!   A child restarted by hand (`restart_child`, `start_child` with the same
//!   spec) takes messages again. A send racing with the termination may
//!   still be queued; it goes to the next run, if there is one.
//! * **When a nested supervisor is restarted**, its children are stopped
//!   and started anew, so for that moment they are terminated: sends are
//!   refused and queued messages dropped, as in OTP, where the processes
//!   die. [`MailboxSender::wait_running`] rides such a gap out.
//!
//! # Visibility
//!
//! Each child with a mailbox shows its [`MailboxStats`] (capacity, queued,
//! dropped, refused) in its [`ChildSnapshot`](crate::ChildSnapshot) and
//! in the [`MetricsSnapshot`](crate::MetricsSnapshot) (and so in the
//! Prometheus export, with the `prometheus` feature).
//!
//! # Dynamic children
//!
//! Give each dynamic child its own mailbox in the spec you pass to
//! `start_child`; keep the sender it came with, or get one later by the
//! child's path with [`SupervisorHandle::mailbox`](crate::SupervisorHandle::mailbox).
//! One mailbox belongs to one child: given to two, the second run to start
//! fails with [`MailboxError::Taken`].

mod error;
mod inbox;
mod reply;
mod sender;
mod service;
mod shared;

use std::sync::Arc;

pub use crate::lifecycle::MailboxStats;
pub use error::{MailboxError, SendError};
pub use inbox::Inbox;
pub use reply::Reply;
pub use sender::MailboxSender;
pub(crate) use service::MailboxFn;
pub use service::MailboxService;

pub(crate) use shared::Port;
use shared::Shared;

/// The largest capacity a mailbox can have (tokio's channel's).
pub const MAX_CAPACITY: usize = usize::MAX >> 3;

/// Makes a mailbox that holds up to `capacity` messages: its first
/// [`MailboxSender`], and the [`Mailbox`] to give to the child's spec.
///
/// A `capacity` of 0 is taken as 1, and one above [`MAX_CAPACITY`] as
/// that (a bounded tokio channel needs room for one message, and has a
/// maximum).
///
/// ```
/// use tokio_supervisor::mailbox;
///
/// let (tx, mailbox) = mailbox::channel::<String>(64);
/// assert_eq!(tx.capacity(), 64);
/// let another = mailbox.sender();
/// # let _ = another;
/// ```
#[must_use]
pub fn channel<T: Send + 'static>(capacity: usize) -> (MailboxSender<T>, Mailbox<T>) {
    let shared = Shared::new(capacity);
    (MailboxSender::new(shared.clone()), Mailbox { shared })
}

/// A child's mailbox, before it is given to the child's spec with
/// [`ChildSpec::with_mailbox`](crate::ChildSpec::with_mailbox). Made by
/// [`channel`]. Dropping it drops nothing the senders need: the mailbox
/// lives as long as any sender or the spec.
pub struct Mailbox<T> {
    shared: Arc<Shared<T>>,
}

impl<T: Send + 'static> Mailbox<T> {
    /// Another sender to this mailbox.
    #[must_use]
    pub fn sender(&self) -> MailboxSender<T> {
        MailboxSender::new(self.shared.clone())
    }

    /// The mailbox's capacity.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.shared.tx.max_capacity()
    }

    /// What the spec keeps: the service that lends the inbox to each run,
    /// and the mailbox's port for the supervisor.
    pub(crate) fn into_service<S: MailboxService<T>>(
        self,
        name: &str,
        service: S,
    ) -> (service::WithMailbox<T, S>, Arc<dyn Port>) {
        // Its name until a supervisor gives it its path.
        self.shared.set_path(&name.into());
        let port: Arc<dyn Port> = self.shared.clone();
        let service = service::WithMailbox {
            shared: self.shared,
            service,
        };
        (service, port)
    }
}

impl<T> std::fmt::Debug for Mailbox<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.shared, f)
    }
}

/// A typed sender for the mailbox behind `port` (a lookup by path).
pub(crate) fn sender_of<T: Send + 'static>(
    port: Arc<dyn Port>,
    path: &str,
) -> Result<MailboxSender<T>, MailboxError> {
    let actual = port.message_type();
    match port.as_any().downcast::<Shared<T>>() {
        Ok(shared) => Ok(MailboxSender::new(shared)),
        Err(_) => Err(MailboxError::WrongType {
            path: path.to_owned(),
            expected: std::any::type_name::<T>(),
            actual,
        }),
    }
}

#[cfg(test)]
mod tests;
