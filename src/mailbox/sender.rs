//! The sending end of a child's mailbox: [`MailboxSender`].

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::shared::{state_name, Shared, CLOSED, RUNNING};
use super::{MailboxError, Reply, SendError};

/// The address of a supervised child: sends to its mailbox, whichever run
/// of the child is receiving, and whether or not one is.
///
/// Made with the mailbox ([`mailbox::channel`](super::channel)), before
/// the tree starts if you like, or later from the [`Mailbox`](super::Mailbox)
/// or by path ([`SupervisorHandle::mailbox`](crate::SupervisorHandle::mailbox)).
/// It is `Clone` (two reference counts), `Send` and `Sync`, and stays valid
/// across every restart of the child: a message sent while the child is
/// restarting or backing off waits, queued, for the next run.
///
/// A send costs what a send on a bounded tokio [`mpsc`] channel costs, plus
/// one atomic load (is the child terminated?). It is refused with a typed
/// [`MailboxError`] once the child has terminated (given up, done or
/// stopped) or has been removed; the refused message comes back in the
/// [`SendError`].
///
/// Dropping a sender does nothing to the mailbox: the mailbox lives as long
/// as its child's spec or any sender, and its run never sees it close.
///
/// ```
/// use tokio_supervisor::{mailbox, ChildSpec, Supervisor};
///
/// #[tokio::main]
/// # async fn _hidden() {}
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let (tx, mailbox) = mailbox::channel::<String>(64);
///     tx.send("queued before the start".into()).await?;
///
///     let app = Supervisor::builder("app")
///         .child(ChildSpec::with_mailbox_fn("printer", mailbox,
///             |_ctx, mut inbox| async move {
///                 while let Some(line) = inbox.recv().await {
///                     println!("{line}");
///                 }
///                 Ok(()) // asked to stop
///             },
///         ))
///         .build()?
///         .start()
///         .await?;
///     tx.send("and one after".into()).await?;
///     app.shutdown().await?;
///     Ok(())
/// }
/// ```
///
/// [`mpsc`]: tokio::sync::mpsc
pub struct MailboxSender<T> {
    tx: mpsc::Sender<T>,
    shared: Arc<Shared<T>>,
}

impl<T> Clone for MailboxSender<T> {
    fn clone(&self) -> Self {
        MailboxSender {
            tx: self.tx.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<T: Send + 'static> MailboxSender<T> {
    pub(super) fn new(shared: Arc<Shared<T>>) -> Self {
        MailboxSender {
            tx: shared.tx.clone(),
            shared,
        }
    }

    fn closed(&self, msg: T) -> SendError<T> {
        self.shared.refused();
        SendError::new(self.shared.closed_error(), msg)
    }

    /// Sends `msg`, waiting for room if the mailbox is full.
    ///
    /// The message is queued whatever the child is doing, unless it has
    /// terminated: running, starting, restarting or backing off, the next
    /// run receives it.
    ///
    /// # Errors
    ///
    /// [`MailboxError::Terminated`] or [`MailboxError::Removed`] with the
    /// message, at once, or as soon as the child terminates while this
    /// waits for room.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe in tokio's sense: if the future is dropped before it
    /// completes, the message was not queued (and is dropped with it).
    pub async fn send(&self, msg: T) -> Result<(), SendError<T>> {
        // No deadline: `Duration::MAX` waits as long as it takes.
        self.send_timeout(msg, Duration::MAX).await
    }

    /// Sends `msg` if there is room now, without waiting.
    ///
    /// ```
    /// # use tokio_supervisor::{mailbox, MailboxError};
    /// let (tx, _mailbox) = mailbox::channel::<u8>(1);
    /// assert!(tx.try_send(1).is_ok());
    /// let err = tx.try_send(2).unwrap_err();
    /// assert!(matches!(err.error(), MailboxError::Full { capacity: 1, .. }));
    /// ```
    ///
    /// # Errors
    ///
    /// [`MailboxError::Full`], [`MailboxError::Terminated`] or
    /// [`MailboxError::Removed`], with the message.
    pub fn try_send(&self, msg: T) -> Result<(), SendError<T>> {
        if self.shared.state() == CLOSED {
            return Err(self.closed(msg));
        }
        match self.tx.try_send(msg) {
            Ok(()) => Ok(()),
            Err(mpsc::error::TrySendError::Full(msg)) => {
                self.shared.refused();
                Err(SendError::new(self.shared.full_error(), msg))
            }
            // The mailbox keeps the channel open; kept total all the same.
            Err(mpsc::error::TrySendError::Closed(msg)) => Err(self.closed(msg)),
        }
    }

    /// [`send`](Self::send), giving up after `timeout` if the mailbox stays
    /// full. A `timeout` too long to be a deadline (`Duration::MAX`) waits
    /// as long as it takes.
    ///
    /// # Errors
    ///
    /// [`MailboxError::Timeout`], [`MailboxError::Terminated`] or
    /// [`MailboxError::Removed`], with the message.
    ///
    /// # Cancel safety
    ///
    /// As [`send`](Self::send).
    pub async fn send_timeout(&self, msg: T, timeout: Duration) -> Result<(), SendError<T>> {
        if self.shared.state() == CLOSED {
            return Err(self.closed(msg));
        }
        // What tokio's own `send` does: a task that sends in a loop and
        // never finds the mailbox full still yields when its budget is spent.
        tokio::task::consume_budget().await;
        match self.tx.try_reserve() {
            Ok(permit) => {
                permit.send(msg);
                Ok(())
            }
            Err(_) => {
                let deadline = Instant::now().checked_add(timeout);
                self.send_slow(msg, deadline, timeout).await
            }
        }
    }

    /// Waits for room, until `deadline` if any, and gives up as soon as the
    /// mailbox closes.
    async fn send_slow(
        &self,
        msg: T,
        deadline: Option<Instant>,
        timeout: Duration,
    ) -> Result<(), SendError<T>> {
        let expired = sleep_until(deadline);
        tokio::pin!(expired);
        loop {
            // Created before the state is read: no change is missed.
            let changed = self.shared.changed.notified();
            if self.shared.state() == CLOSED {
                return Err(self.closed(msg));
            }
            tokio::select! {
                biased;
                permit = self.tx.reserve() => {
                    return match permit {
                        Ok(_) if self.shared.state() == CLOSED => Err(self.closed(msg)),
                        Ok(permit) => {
                            permit.send(msg);
                            Ok(())
                        }
                        Err(_) => Err(self.closed(msg)),
                    };
                }
                () = changed => {}
                () = &mut expired => {
                    self.shared.refused();
                    let error = MailboxError::Timeout {
                        path: self.shared.path().to_string(),
                        timeout,
                    };
                    return Err(SendError::new(error, msg));
                }
            }
        }
    }

    /// Sends a request built around a [`Reply`] and waits for the answer,
    /// all within `timeout` (the wait for room included). A `timeout` too
    /// long to be a deadline (`Duration::MAX`) waits as long as it takes.
    ///
    /// If the run handling the request crashes (or drops the `Reply`), or
    /// the request is dropped, queued, because the child terminated, the
    /// answer is [`MailboxError::ReplyLost`] at once: no wait for the
    /// timeout. A request queued when the child crashes waits for the next
    /// run, like any message.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tokio_supervisor::{mailbox, ChildSpec, Reply, Supervisor};
    ///
    /// enum Counter {
    ///     Add(u64),
    ///     Get(Reply<u64>),
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (tx, mailbox) = mailbox::channel(16);
    /// let app = Supervisor::builder("app")
    ///     .child(ChildSpec::with_mailbox_fn("counter", mailbox,
    ///         |_ctx, mut inbox| async move {
    ///             let mut total = 0;
    ///             while let Some(msg) = inbox.recv().await {
    ///                 match msg {
    ///                     Counter::Add(n) => total += n,
    ///                     Counter::Get(reply) => { let _ = reply.send(total); }
    ///                 }
    ///             }
    ///             Ok(())
    ///         },
    ///     ))
    ///     .build()?
    ///     .start()
    ///     .await?;
    /// tx.send(Counter::Add(2)).await?;
    /// let total = tx.request(Counter::Get, Duration::from_secs(1)).await?;
    /// assert_eq!(total, 2);
    /// # app.shutdown().await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`MailboxError::Timeout`], [`MailboxError::ReplyLost`],
    /// [`MailboxError::Terminated`], [`MailboxError::Removed`].
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before the request is queued does not queue it;
    /// after, the request stays queued and its answer is dropped.
    pub async fn request<R>(
        &self,
        make: impl FnOnce(Reply<R>) -> T,
        timeout: Duration,
    ) -> Result<R, MailboxError> {
        let (reply, answer) = Reply::pair();
        let deadline = Instant::now().checked_add(timeout);
        let msg = make(reply);
        if self.shared.state() == CLOSED {
            return Err(self.closed(msg).into());
        }
        tokio::task::consume_budget().await;
        match self.tx.try_reserve() {
            Ok(permit) => permit.send(msg),
            Err(_) => self.send_slow(msg, deadline, timeout).await?,
        }
        let lost = || MailboxError::ReplyLost {
            path: self.shared.path().to_string(),
        };
        match deadline {
            Some(deadline) => match tokio::time::timeout_at(deadline, answer).await {
                Ok(answer) => answer.map_err(|_| lost()),
                Err(_) => Err(MailboxError::Timeout {
                    path: self.shared.path().to_string(),
                    timeout,
                }),
            },
            None => answer.await.map_err(|_| lost()),
        }
    }

    /// Waits until a run of the child is running (ready, if ready-gated),
    /// for up to `timeout`: to ride out a restart before talking to the
    /// child. Returns at once if it is running.
    ///
    /// # Errors
    ///
    /// [`MailboxError::Timeout`]; [`MailboxError::Terminated`] or
    /// [`MailboxError::Removed`] at once, or as soon as the child
    /// terminates (it will not come back unless restarted by hand).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn wait_running(&self, timeout: Duration) -> Result<(), MailboxError> {
        let expired = sleep_until(Instant::now().checked_add(timeout));
        tokio::pin!(expired);
        loop {
            let changed = self.shared.changed.notified();
            match self.shared.state() {
                RUNNING => return Ok(()),
                CLOSED => return Err(self.shared.closed_error()),
                _ => {}
            }
            tokio::select! {
                () = changed => {}
                () = &mut expired => {
                    return Err(MailboxError::Timeout {
                        path: self.shared.path().to_string(),
                        timeout,
                    });
                }
            }
        }
    }
}

impl<T> MailboxSender<T> {
    /// The child's full path: its name alone until a supervisor has it,
    /// empty until the mailbox is given to a spec.
    #[must_use]
    pub fn path(&self) -> String {
        self.shared.path().to_string()
    }

    /// Messages queued now, not yet received.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shared.queued()
    }

    /// Whether no message is queued.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The mailbox's capacity.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.tx.max_capacity()
    }

    /// Whether a run of the child is running now.
    #[must_use]
    pub fn is_running(&self) -> bool {
        self.shared.state() == RUNNING
    }

    /// Whether the mailbox refuses messages: the child has terminated or
    /// was removed.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.shared.state() == CLOSED
    }
}

/// Completes at `deadline`, or never.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

impl<T> std::fmt::Debug for MailboxSender<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailboxSender")
            .field("path", &self.shared.path())
            .field("state", &state_name(self.shared.state()))
            .field("queued", &self.len())
            .field("capacity", &self.capacity())
            .finish()
    }
}
