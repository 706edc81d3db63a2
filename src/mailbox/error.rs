//! Why a mailbox refused a message or a request failed: [`MailboxError`],
//! and [`SendError`], which gives the refused message back.

use std::fmt;
use std::time::Duration;

use crate::exit::ExitReason;

/// Why a send, a request or a wait on a child's mailbox failed. Every
/// message names the child by its full path (its name alone before its
/// supervisor has it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MailboxError {
    /// The mailbox is full ([`try_send`](super::MailboxSender::try_send)).
    #[error("mailbox of `{path}` is full ({capacity} messages)")]
    Full {
        /// The child's path.
        path: String,
        /// The mailbox's capacity.
        capacity: usize,
    },
    /// The child has terminated and will not run again unless restarted by
    /// hand: given up by its circuit breaker (`CircuitOpen`), ended by a
    /// [`Fatal`](crate::Fatal) error, done (`Completed`), or stopped by its
    /// supervisor (`Shutdown`: `terminate_child`, or its supervisor
    /// stopping). The messages that were queued were dropped.
    #[error("child `{path}` has terminated ({reason}): its mailbox refuses messages")]
    Terminated {
        /// The child's path.
        path: String,
        /// How it ended.
        reason: ExitReason,
    },
    /// The child is no longer in its supervisor (`delete_child`, a
    /// `Temporary` child that ended, a dynamic child that ended). The
    /// messages that were queued were dropped.
    #[error("child `{path}` was removed: its mailbox refuses messages")]
    Removed {
        /// The child's path.
        path: String,
    },
    /// The timeout passed first.
    #[error("timed out after {timeout:?} waiting on the mailbox of `{path}`")]
    Timeout {
        /// The child's path.
        path: String,
        /// The timeout.
        timeout: Duration,
    },
    /// The request's reply will never come: the run that held it ended
    /// without replying (it crashed, or dropped the [`Reply`](super::Reply)),
    /// or the request was dropped, queued, with the mailbox.
    #[error("the reply of `{path}` was lost: the request was dropped unanswered")]
    ReplyLost {
        /// The child's path.
        path: String,
    },
    /// A run could not take its mailbox's receiving end: an earlier run
    /// gave it to a task that outlived it, or one mailbox was given to two
    /// children. The run fails with this error.
    #[error("the mailbox of `{path}` is held by another task")]
    Taken {
        /// The child's path.
        path: String,
    },
    /// [`SupervisorHandle::mailbox`](crate::SupervisorHandle::mailbox): no
    /// child at this path, or one without a mailbox.
    #[error("no mailbox at `{path}`")]
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// [`SupervisorHandle::mailbox`](crate::SupervisorHandle::mailbox): the
    /// child's mailbox takes messages of another type.
    #[error("the mailbox of `{path}` takes `{actual}`, not `{expected}`")]
    WrongType {
        /// The child's path.
        path: String,
        /// The message type asked for.
        expected: &'static str,
        /// The mailbox's message type.
        actual: &'static str,
    },
}

impl MailboxError {
    /// The path of the child this error is about.
    #[must_use]
    pub fn path(&self) -> &str {
        match self {
            MailboxError::Full { path, .. }
            | MailboxError::Terminated { path, .. }
            | MailboxError::Removed { path }
            | MailboxError::Timeout { path, .. }
            | MailboxError::ReplyLost { path }
            | MailboxError::Taken { path }
            | MailboxError::NotFound { path }
            | MailboxError::WrongType { path, .. } => path,
        }
    }

    /// Whether the child will not take messages again unless restarted by
    /// hand ([`Terminated`](Self::Terminated) or [`Removed`](Self::Removed)).
    #[must_use]
    pub fn is_closed(&self) -> bool {
        matches!(
            self,
            MailboxError::Terminated { .. } | MailboxError::Removed { .. }
        )
    }
}

/// A message the mailbox refused, given back with the reason.
///
/// ```
/// # use tokio_supervisor::mailbox;
/// let (tx, _mailbox) = mailbox::channel::<u32>(1);
/// tx.try_send(1).unwrap();
/// let refused = tx.try_send(2).unwrap_err();
/// assert!(matches!(refused.error(), tokio_supervisor::MailboxError::Full { .. }));
/// assert_eq!(refused.into_message(), 2);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct SendError<T> {
    error: MailboxError,
    message: T,
}

impl<T> SendError<T> {
    pub(super) fn new(error: MailboxError, message: T) -> Self {
        SendError { error, message }
    }

    /// Why the message was refused.
    #[must_use]
    pub fn error(&self) -> &MailboxError {
        &self.error
    }

    /// The refused message.
    #[must_use]
    pub fn into_message(self) -> T {
        self.message
    }

    /// The reason and the message.
    #[must_use]
    pub fn into_parts(self) -> (MailboxError, T) {
        (self.error, self.message)
    }
}

impl<T> From<SendError<T>> for MailboxError {
    fn from(e: SendError<T>) -> Self {
        e.error
    }
}

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<T> std::error::Error for SendError<T> {}
