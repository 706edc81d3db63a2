//! The messages between a supervisor's loop, its handles and its runs: a
//! leaf that every side imports and that imports none of them.
//!
//! A handle sends a [`Command`] (with a [`Reply`] to answer on); a run
//! sends its [`Exit`] and its `ready()`; the driver publishes its [`State`].
//!
//! A [`Reply`] always answers: a command may be dropped unanswered (queued
//! to a nested supervisor whose loop is then aborted, or left with a child
//! when its supervisor's loop is dropped), and the handle would then see a
//! closed channel and could only guess which supervisor went away. A
//! `Reply` knows the supervisor that holds it, and, dropped unanswered,
//! answers [`ControlError::Stopped`] with that supervisor's path.

use std::fmt;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use crate::lifecycle::{ChildSnapshot, ExitReason};
pub(crate) use crate::link::Outcome;
use crate::link::Reports;
use crate::{ChildSpec, ControlError, SupervisorError};

/// How many children a supervisor has, as OTP's `count_children`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub struct ChildCounts {
    /// Every child in the table, running or not.
    pub specs: usize,
    /// Children with a live task (a child waiting to restart is not active).
    pub active: usize,
    /// Children that are nested supervisors.
    pub supervisors: usize,
    /// Children that are workers.
    pub workers: usize,
}

/// What a child's task reports as it ends: which run of which child ended,
/// and how.
#[derive(Debug)]
pub(crate) struct Exit {
    pub(crate) slot: usize,
    /// The run's id, truncated: a child has one run at a time, so its low
    /// 32 bits tell it from an earlier one.
    pub(crate) run: u32,
    pub(crate) outcome: Outcome,
}

/// A supervisor's inbox is where its runs report.
impl Reports for mpsc::UnboundedSender<Msg> {
    fn ready(&self, slot: usize, run: u64) {
        // The supervisor gone (a runtime shutting down): nobody to tell.
        let _ = self.send(Msg::Ready { slot, run });
    }

    fn ended(&self, slot: usize, run: u32, outcome: Outcome) {
        let _ = self.send(Msg::Exit(Exit { slot, run, outcome }));
    }
}

/// A message to a supervisor's loop.
#[derive(Debug)]
pub(crate) enum Msg {
    /// A child's run ended (sent by its task, see `service::Report`).
    Exit(Exit),
    /// A child's `ctx.ready()`.
    Ready { slot: usize, run: u64 },
    /// A request from a handle.
    Command(Command),
}

/// A request from a handle. Paths are relative to the supervisor that
/// receives it; a nested supervisor's part is forwarded to it.
#[derive(Debug)]
pub(crate) enum Command {
    WhichChildren(oneshot::Sender<Vec<ChildSnapshot>>),
    /// The children of the nested supervisor at `path` (empty: this one).
    WhichChildrenAt {
        path: String,
        reply: Reply<Vec<ChildSnapshot>>,
    },
    CountChildren(oneshot::Sender<ChildCounts>),
    /// Start `spec` in the supervisor at `at` (empty: this one).
    Start {
        at: String,
        spec: Box<ChildSpec>,
        /// A task: answered at once (not when ready), and named exactly as
        /// given, also in a dynamic supervisor.
        task: bool,
        reply: Reply<String>,
    },
    Terminate {
        path: String,
        /// From a `TaskHandle`: only if the child is that task.
        only: Option<TaskId>,
        reply: Reply<()>,
    },
    Restart {
        path: String,
        reply: Reply<()>,
    },
    Delete {
        path: String,
        reply: Reply<()>,
    },
    /// Abort every child now (a second Ctrl+C).
    Kill,
}

/// Which task a `TaskHandle` started (opaque): its completion hook, unique to it.
/// Held weakly, so that the handle keeps no task alive, yet keeps the
/// hook's allocation, so that no later task can have the same address.
#[derive(Debug, Clone)]
#[cfg_attr(not(feature = "machine"), allow(unreachable_pub))]
pub struct TaskId(std::sync::Weak<dyn Fn(&ExitReason) + Send + Sync>);

impl TaskId {
    pub(crate) fn of(hook: &Arc<dyn Fn(&ExitReason) + Send + Sync>) -> Self {
        TaskId(Arc::downgrade(hook))
    }

    /// Whether `hook` is this task's.
    pub(crate) fn is(&self, hook: &Arc<dyn Fn(&ExitReason) + Send + Sync>) -> bool {
        std::ptr::addr_eq(self.0.as_ptr(), Arc::as_ptr(hook))
    }
}

/// The supervisor's state, published to handles.
#[derive(Debug, Clone)]
pub(crate) enum State {
    Starting,
    Running,
    /// `started`: whether every child had started before the stop began.
    Stopping {
        started: bool,
    },
    Stopped {
        started: bool,
        outcome: Result<(), SupervisorError>,
        children: Arc<Vec<ChildSnapshot>>,
    },
}

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

/// Where `path` leads from the supervisor `name`, relative to it: `""`
/// (itself) for `""` or its own name, the rest of a full path that starts
/// with `"{name}/"`, or else `path` itself, already relative. One reading
/// only: a child that has its supervisor's name is reached by its full
/// path (`"app/app"`).
pub(crate) fn relative<'a>(name: &str, path: &'a str) -> &'a str {
    if path == name {
        return "";
    }
    path.strip_prefix(name)
        .and_then(|p| p.strip_prefix('/'))
        .unwrap_or(path)
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
