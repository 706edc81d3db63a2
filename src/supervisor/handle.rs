//! [`SupervisorHandle`]: the cloneable handle to a running supervisor.

use std::fmt;
use std::sync::Arc;

use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::runner::{Command, Msg, State};
use crate::event::Event;
use crate::lifecycle::ChildSnapshot;
use crate::SupervisorError;

/// A handle to a running supervisor: ask what runs, subscribe to events,
/// stop it, wait for it.
///
/// Cheap to clone (`Arc`), `Send + Sync`. Every method keeps working after
/// the supervisor has stopped, and after its runtime is gone: it answers
/// from the final state at once and never hangs.
///
/// # Dropping
///
/// Dropping every handle does **not** stop the supervisor, just as dropping a
/// `JoinHandle` does not stop a task: a supervision tree usually lives as
/// long as the program. Call [`shutdown`](Self::shutdown) to stop it. If the
/// runtime itself shuts down, the supervisor's task is dropped, and with it
/// every child task.
///
/// ```
/// # use std::time::Duration;
/// # use tokio_supervisor::{service_fn, ChildSpec, Phase, Supervisor};
/// #[tokio::main]
/// # async fn _hidden() {}
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let handle = Supervisor::builder("app")
///         .child(ChildSpec::new("worker", service_fn(|ctx| async move {
///             ctx.cancelled().await;
///             Ok(())
///         })))
///         .build()?
///         .start()
///         .await?;
///
///     let children = handle.which_children().await;
///     assert_eq!(children[0].path.as_ref(), "app/worker");
///     assert_eq!(children[0].phase, Phase::Running);
///
///     handle.shutdown().await?;
///     Ok(())
/// }
/// ```
#[derive(Clone)]
pub struct SupervisorHandle {
    inner: Arc<Inner>,
}

struct Inner {
    name: Arc<str>,
    tx: mpsc::UnboundedSender<Msg>,
    state: watch::Receiver<State>,
    events: broadcast::WeakSender<Event>,
    stop: CancellationToken,
}

impl SupervisorHandle {
    pub(crate) fn new(
        name: Arc<str>,
        tx: mpsc::UnboundedSender<Msg>,
        state: watch::Receiver<State>,
        events: &broadcast::Sender<Event>,
        stop: CancellationToken,
    ) -> Self {
        SupervisorHandle {
            inner: Arc::new(Inner {
                name,
                tx,
                state,
                events: events.downgrade(),
                stop,
            }),
        }
    }

    /// The supervisor's name (the root of every child's path).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Snapshots of the children, in start order.
    ///
    /// After the supervisor has stopped, the snapshots taken as it stopped.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses only the answer.
    pub async fn which_children(&self) -> Vec<ChildSnapshot> {
        let (reply, rx) = oneshot::channel();
        if self
            .inner
            .tx
            .send(Msg::Command(Command::WhichChildren(reply)))
            .is_ok()
        {
            if let Ok(children) = rx.await {
                return children;
            }
        }
        match &*self.inner.state.borrow() {
            State::Stopped { children, .. } => children.as_ref().clone(),
            _ => Vec::new(),
        }
    }

    /// Subscribes to the events of the whole tree from now on.
    ///
    /// See the [`event`](crate::event) module for the lag behaviour. Once
    /// the supervisor has stopped, the receiver is closed.
    #[must_use]
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        match self.inner.events.upgrade() {
            Some(tx) => tx.subscribe(),
            None => broadcast::channel(1).1,
        }
    }

    /// Asks the supervisor to stop: its children are stopped in reverse
    /// start order, each per its [`Shutdown`](crate::Shutdown). Returns at
    /// once; [`wait`](Self::wait) for the end.
    pub fn request_shutdown(&self) {
        self.inner.stop.cancel();
    }

    /// Stops the supervisor gracefully and waits until it and every child
    /// have stopped; returns its outcome, as [`wait`](Self::wait) does.
    ///
    /// # Errors
    ///
    /// The supervisor's failure, if it had failed before the stop.
    ///
    /// # Cancel safety
    ///
    /// The stop, once asked, goes on if this future is dropped.
    pub async fn shutdown(&self) -> Result<(), SupervisorError> {
        self.request_shutdown();
        self.wait().await
    }

    /// Aborts every child at once, without waiting for graceful stops (what
    /// a second Ctrl+C does), and waits for the end.
    ///
    /// # Errors
    ///
    /// As [`wait`](Self::wait).
    pub async fn kill(&self) -> Result<(), SupervisorError> {
        let _ = self.inner.tx.send(Msg::Command(Command::Kill));
        self.wait().await
    }

    /// Waits until the supervisor has stopped, and no task of its children
    /// is alive, and returns how it ended.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::IntensityExceeded`] if it failed,
    /// [`SupervisorError::Lost`] if its runtime shut down under it.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn wait(&self) -> Result<(), SupervisorError> {
        let mut rx = self.inner.state.clone();
        // `wait_for` checks the current value first, so an outcome published
        // before this call is seen; the runner always publishes one before it
        // drops the sender (see its `Drop`).
        let res = rx
            .wait_for(|s| matches!(s, State::Stopped { .. }))
            .await
            .map(|s| match &*s {
                State::Stopped { outcome, .. } => outcome.clone(),
                _ => unreachable!("wait_for returned a state it did not wait for"),
            });
        res.unwrap_or_else(|_| {
            Err(SupervisorError::Lost {
                supervisor: self.inner.name.to_string(),
            })
        })
    }

    /// Waits until every child has started (each ready-gated one ready), as
    /// [`Supervisor::start`](crate::Supervisor::start) does; for a handle
    /// from [`Supervisor::spawn`](crate::Supervisor::spawn).
    ///
    /// Returns `Ok` at once if the supervisor had started, even if it has
    /// stopped since.
    ///
    /// # Errors
    ///
    /// [`SupervisorError::StartFailed`] if a child failed to start (once the
    /// children already started have stopped), or
    /// [`SupervisorError::StartCancelled`] if the supervisor was shut down
    /// before all its children had started.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn started(&self) -> Result<(), SupervisorError> {
        let mut rx = self.inner.state.clone();
        let res = rx
            .wait_for(|s| match s {
                State::Starting => false,
                State::Stopping { started } => *started,
                State::Running | State::Stopped { .. } => true,
            })
            .await
            .map(|s| match &*s {
                State::Stopped {
                    started: false,
                    outcome,
                    ..
                } => match outcome {
                    Err(e) => Err(e.clone()),
                    Ok(()) => Err(SupervisorError::StartCancelled {
                        supervisor: self.inner.name.to_string(),
                    }),
                },
                _ => Ok(()),
            });
        res.unwrap_or_else(|_| {
            Err(SupervisorError::Lost {
                supervisor: self.inner.name.to_string(),
            })
        })
    }

    /// Whether the supervisor has stopped.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        matches!(*self.inner.state.borrow(), State::Stopped { .. })
    }
}

impl fmt::Debug for SupervisorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &*self.inner.state.borrow() {
            State::Starting => "starting",
            State::Running => "running",
            State::Stopping { .. } => "stopping",
            State::Stopped { .. } => "stopped",
        };
        f.debug_struct("SupervisorHandle")
            .field("name", &self.inner.name)
            .field("state", &state)
            .finish()
    }
}
