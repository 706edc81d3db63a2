//! The answer channel of a request: [`Reply`].

use tokio::sync::oneshot;

/// Where a child sends the answer to a request
/// ([`MailboxSender::request`](super::MailboxSender::request)): put it in
/// the message, and call [`send`](Self::send) once.
///
/// Dropping it unanswered (a crash of the run that held it included) ends
/// the request with [`MailboxError::ReplyLost`](super::MailboxError::ReplyLost)
/// at once.
///
/// ```
/// use tokio_supervisor::Reply;
///
/// enum Query {
///     Len(String, Reply<usize>),
/// }
///
/// fn handle(q: Query) {
///     match q {
///         // The requester may have given up: nothing to do then.
///         Query::Len(s, reply) => { let _ = reply.send(s.len()); }
///     }
/// }
/// # let _ = handle;
/// ```
pub struct Reply<R> {
    tx: oneshot::Sender<R>,
}

impl<R> Reply<R> {
    pub(super) fn pair() -> (Self, oneshot::Receiver<R>) {
        let (tx, rx) = oneshot::channel();
        (Reply { tx }, rx)
    }

    /// Answers the request.
    ///
    /// # Errors
    ///
    /// The value, if the requester has stopped waiting (it timed out, or
    /// dropped its future).
    pub fn send(self, value: R) -> Result<(), R> {
        self.tx.send(value)
    }

    /// Whether the requester has stopped waiting: the answer would go
    /// nowhere.
    #[must_use]
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl<R> std::fmt::Debug for Reply<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reply")
            .field("is_closed", &self.is_closed())
            .finish()
    }
}
