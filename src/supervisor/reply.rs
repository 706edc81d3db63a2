//! [`Reply`]: the answer channel of a handle's command, which always
//! answers.
//!
//! A command may be dropped unanswered: queued to a nested supervisor
//! whose loop is then aborted, or left with a child when its supervisor's
//! loop is dropped. The handle would then see a closed channel and could
//! only guess which supervisor went away. A `Reply` knows the supervisor
//! that holds it, and, dropped unanswered, answers
//! [`ControlError::Stopped`] with that supervisor's path.

use std::fmt;
use std::sync::Arc;

use tokio::sync::oneshot;

use crate::ControlError;

/// The answer to a command: sent once, or `Stopped` as it is dropped.
pub(crate) struct Reply<T> {
    tx: Option<oneshot::Sender<Result<T, ControlError>>>,
    /// The path of the supervisor that holds the command.
    holder: Arc<str>,
}

impl<T> Reply<T> {
    /// A reply channel for a command sent to the supervisor at `holder`.
    pub(crate) fn new(holder: Arc<str>) -> (Self, oneshot::Receiver<Result<T, ControlError>>) {
        let (tx, rx) = oneshot::channel();
        (
            Reply {
                tx: Some(tx),
                holder,
            },
            rx,
        )
    }

    /// Sends the answer; `Err` with it if nobody waits for it any more.
    pub(crate) fn send(
        mut self,
        answer: Result<T, ControlError>,
    ) -> Result<(), Result<T, ControlError>> {
        match self.tx.take() {
            Some(tx) => tx.send(answer),
            None => Err(answer),
        }
    }

    /// The command goes on to the nested supervisor at `holder`.
    pub(crate) fn forwarded_to(mut self, holder: Arc<str>) -> Self {
        self.holder = holder;
        self
    }
}

impl<T> Drop for Reply<T> {
    fn drop(&mut self) {
        if let Some(tx) = self.tx.take() {
            let _ = tx.send(Err(ControlError::Stopped {
                supervisor: self.holder.to_string(),
            }));
        }
    }
}

impl<T> fmt::Debug for Reply<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_reply_names_its_holder() {
        let (reply, mut rx) = Reply::<()>::new("app".into());
        drop(reply.forwarded_to("app/db".into()));
        assert_eq!(
            rx.try_recv().unwrap(),
            Err(ControlError::Stopped {
                supervisor: "app/db".into()
            })
        );
    }

    #[test]
    fn a_sent_reply_is_answered_once() {
        let (reply, mut rx) = Reply::new("app".into());
        assert!(reply.send(Ok(7)).is_ok());
        assert_eq!(rx.try_recv().unwrap(), Ok(7));
    }
}
