//! [`SupervisorHandle`]: the cloneable handle to a running supervisor.

use std::fmt;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::protocol::Reply;
use super::protocol::{Command, Msg, State, TaskId};
use crate::lifecycle::ChildSnapshot;
use crate::supervisor::ChildCounts;
use crate::{ChildSpec, ControlError, SupervisorError, TaskHandle};

/// A handle to a running supervisor: ask what runs, change its children,
/// run it until a signal, stop it, wait for it. (Events are subscribed to
/// on the [`Supervisor`](crate::Supervisor), before it starts:
/// [`Supervisor::subscribe`](crate::Supervisor::subscribe).)
///
/// Cheap to clone (`Arc`), `Send + Sync`. Every method keeps working after
/// the supervisor has stopped, and after its runtime is gone: it answers
/// from the final state at once and never hangs.
///
/// # Paths
///
/// A child is named by a path of names separated by `/`. A path given to
/// the handle is read one way only: a path that starts with the
/// supervisor's name and `/` is a full path, as in snapshots
/// (`"app/db/pool"`); any other is relative to it (`"db/pool"`). So a child
/// that has its supervisor's name is reached by its full path
/// (`"app/app"`). `""` and the supervisor's own name name the supervisor
/// itself, which is no child: every method that takes a path answers
/// [`ControlError::NotFound`] for them. A path with an empty segment
/// (`"db/"`) names no child either.
///
/// The methods without a path act on this supervisor
/// ([`start_child`](Self::start_child), [`which_children`](Self::which_children));
/// their `_in` / `_of` forms take the path of a nested supervisor
/// ([`start_child_in`](Self::start_child_in),
/// [`which_children_of`](Self::which_children_of)).
///
/// # Calls from inside a child
///
/// A child must not await [`shutdown`](Self::shutdown),
/// [`kill`](Self::kill) or [`wait`](Self::wait) of a supervisor it runs
/// under, nor [`terminate_child`](Self::terminate_child) of itself or of an
/// ancestor: the supervisor waits for that child to end, and the child
/// waits for the supervisor. The child is not cancelled out of such an
/// await, so the stop goes on only once its [`Shutdown`](crate::Shutdown)
/// timeout aborts it, and never under `Shutdown::Infinity`. Call
/// [`request_shutdown`](Self::request_shutdown) instead, and return once
/// [`Context::cancelled`](crate::Context::cancelled) completes.
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
    metrics: Arc<crate::metrics::Registry>,
    blocking: Arc<tokio::sync::Semaphore>,
    stop: CancellationToken,
}

impl SupervisorHandle {
    pub(crate) fn new(
        name: Arc<str>,
        tx: mpsc::UnboundedSender<Msg>,
        state: watch::Receiver<State>,
        tree: &Arc<super::Tree>,
        blocking: Arc<tokio::sync::Semaphore>,
        stop: CancellationToken,
    ) -> Self {
        SupervisorHandle {
            inner: Arc::new(Inner {
                name,
                tx,
                state,
                metrics: tree.metrics.clone(),
                blocking,
                stop,
            }),
        }
    }

    /// The supervisor's name (the root of every child's path).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Snapshots of this supervisor's children, in start order; for the
    /// children of a nested supervisor,
    /// [`which_children_of`](Self::which_children_of).
    ///
    /// After the supervisor has stopped, the snapshots taken as it stopped.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: dropping the future loses only the answer.
    pub async fn which_children(&self) -> Vec<ChildSnapshot> {
        let (reply, mut rx) = oneshot::channel();
        if self
            .inner
            .tx
            .send(Msg::Command(Command::WhichChildren(reply)))
            .is_ok()
        {
            if let Some(children) = self.answer(&mut rx).await {
                return children;
            }
        }
        match &*self.inner.state.borrow() {
            State::Stopped { children, .. } => children.as_ref().clone(),
            _ => Vec::new(),
        }
    }

    /// The counters of the whole tree (every supervisor under this one
    /// included); see [`MetricsSnapshot`](crate::MetricsSnapshot). Takes no
    /// lock a child could meet; works after the supervisor has stopped.
    #[must_use]
    pub fn metrics(&self) -> crate::MetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    /// A sender to the mailbox of the child at `path` (see [Paths](Self#paths)),
    /// anywhere in the tree: how to reach a dynamic child that was started
    /// with [`ChildSpec::with_mailbox`] without keeping its sender.
    ///
    /// The sender is valid across the child's restarts; once the child is
    /// removed, its sends are refused with [`MailboxError::Removed`].
    ///
    /// ```
    /// # use tokio_supervisor::{mailbox, ChildSpec, Supervisor};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let jobs = Supervisor::dynamic("jobs").build()?.start().await?;
    /// let (_, mailbox) = mailbox::channel::<String>(8);
    /// let path = jobs.start_child(ChildSpec::with_mailbox_fn("mail", mailbox,
    ///     |_ctx, mut inbox| async move {
    ///         while let Some(_msg) = inbox.recv().await {}
    ///         Ok(())
    ///     },
    /// ))
    /// .await?; // "jobs/mail-1": a dynamic child's name gets a number
    /// let tx = jobs.mailbox::<String>(&path)?;
    /// assert_eq!(tx.path(), path);
    /// tx.send("hello".into()).await?;
    /// # jobs.shutdown().await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`MailboxError::NotFound`] if no child at `path` has a mailbox;
    /// [`MailboxError::WrongType`] if its messages are not `T`.
    ///
    /// [`MailboxError::Removed`]: crate::MailboxError::Removed
    /// [`MailboxError::NotFound`]: crate::MailboxError::NotFound
    /// [`MailboxError::WrongType`]: crate::MailboxError::WrongType
    pub fn mailbox<T: Send + 'static>(
        &self,
        path: &str,
    ) -> Result<crate::MailboxSender<T>, crate::MailboxError> {
        let full = match self.child_at(path) {
            Ok(rel) => format!("{}/{rel}", self.inner.name),
            Err(e) => {
                return Err(crate::MailboxError::NotFound {
                    path: match e {
                        ControlError::NotFound { path } => path,
                        other => other.to_string(),
                    },
                })
            }
        };
        match self.inner.metrics.mailbox(&full) {
            Some(port) => crate::mailbox::sender_of(port, &full),
            None => Err(crate::MailboxError::NotFound { path: full }),
        }
    }

    /// Snapshots of the children of the nested supervisor at `path`
    /// (`"db"`, or full: `"app/db"`; see [Paths](Self#paths)), in start
    /// order. `path` names a child: this supervisor's own children are
    /// [`which_children`](Self::which_children)'s.
    ///
    /// # Errors
    ///
    /// [`ControlError::NotFound`] (also for `""` or this supervisor's own
    /// name, which name no child), [`ControlError::NotASupervisor`] (a
    /// worker, or a nested supervisor that is not running),
    /// [`ControlError::Stopped`].
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn which_children_of(&self, path: &str) -> Result<Vec<ChildSnapshot>, ControlError> {
        let path = self.child_at(path)?;
        self.request(|reply| Command::WhichChildrenAt { path, reply })
            .await
    }

    /// The snapshot of one child, by path (`"db/pool"`, or full:
    /// `"app/db/pool"`; see [Paths](Self#paths)), without listing its
    /// siblings yourself.
    ///
    /// ```
    /// # use tokio_supervisor::{service_fn, ChildSpec, Phase, Supervisor};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let w = || ChildSpec::new("pool", service_fn(|ctx| async move {
    ///     ctx.cancelled().await;
    ///     Ok(())
    /// }));
    /// let db = Supervisor::builder("db").child(w()).build()?;
    /// let app = Supervisor::builder("app").child(db).build()?.start().await?;
    /// let pool = app.child("db/pool").await?;
    /// assert_eq!((&*pool.path, &pool.phase), ("app/db/pool", &Phase::Running));
    /// # app.shutdown().await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// [`ControlError::NotFound`] (with the full path),
    /// [`ControlError::NotASupervisor`] for a path through a worker,
    /// [`ControlError::Stopped`] once a nested supervisor on the way has
    /// stopped.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn child(&self, path: &str) -> Result<ChildSnapshot, ControlError> {
        let rel = self.child_at(path)?;
        let (parent, name) = rel.rsplit_once('/').unwrap_or(("", &rel));
        let siblings = if parent.is_empty() {
            self.which_children().await
        } else {
            // Already relative: not read again as a path (`"app/app/x"`).
            let path = parent.to_owned();
            self.request(|reply| Command::WhichChildrenAt { path, reply })
                .await?
        };
        siblings
            .into_iter()
            .find(|c| &*c.name == name)
            .ok_or_else(|| ControlError::NotFound {
                path: format!("{}/{rel}", self.inner.name),
            })
    }

    /// The whole tree, nested supervisors' children included: print it
    /// (`{}`) for a `pstree`-like view.
    ///
    /// ```
    /// # use tokio_supervisor::{service_fn, ChildSpec, Supervisor};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let w = || ChildSpec::new("w", service_fn(|ctx| async move {
    ///     ctx.cancelled().await;
    ///     Ok(())
    /// }));
    /// let db = Supervisor::builder("db").child(w()).build()?;
    /// let app = Supervisor::builder("app").child(db).child(w()).build()?.start().await?;
    /// let tree = app.tree().await;
    /// assert_eq!(tree.to_string().lines().count(), 4);
    /// println!("{tree}");
    /// // app
    /// // ├── db  running  restarts 0  up 0ns
    /// // │   └── w  running  restarts 0  up 0ns
    /// // └── w   running  restarts 0  up 0ns
    /// # Ok(())
    /// # }
    /// ```
    pub async fn tree(&self) -> crate::tree::SupervisionTree {
        let mut root = crate::tree::SupervisionTree {
            name: self.inner.name.to_string(),
            children: Vec::new(),
        };
        // Breadth-first, without recursion: (snapshots, where to put them).
        let mut pending = vec![(self.which_children().await, Vec::<usize>::new())];
        while let Some((snaps, at)) = pending.pop() {
            let mut nodes = Vec::with_capacity(snaps.len());
            for (i, s) in snaps.into_iter().enumerate() {
                if s.is_supervisor {
                    if let Ok(below) = self.which_children_of(&s.path).await {
                        let mut here = at.clone();
                        here.push(i);
                        pending.push((below, here));
                    }
                }
                nodes.push(crate::tree::TreeNode {
                    child: s,
                    children: Vec::new(),
                });
            }
            root.place(&at, nodes);
        }
        root
    }

    /// A collector of this tree's metrics for a `prometheus-client` registry
    /// (feature `prometheus`); see [`prometheus`](crate::prometheus).
    #[cfg(feature = "prometheus")]
    #[must_use]
    pub fn prometheus_collector(&self) -> crate::prometheus::PrometheusCollector {
        crate::prometheus::PrometheusCollector::new(self.inner.metrics.clone())
    }

    /// Counts the children, as OTP's `count_children`. After the supervisor
    /// has stopped, counts its final snapshots (none active).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe.
    pub async fn count_children(&self) -> ChildCounts {
        let (reply, mut rx) = oneshot::channel();
        if self
            .inner
            .tx
            .send(Msg::Command(Command::CountChildren(reply)))
            .is_ok()
        {
            if let Some(counts) = self.answer(&mut rx).await {
                return counts;
            }
        }
        let mut counts = ChildCounts::default();
        if let State::Stopped { children, .. } = &*self.inner.state.borrow() {
            for c in children.iter() {
                counts.specs += 1;
                if c.is_supervisor {
                    counts.supervisors += 1;
                } else {
                    counts.workers += 1;
                }
            }
        }
        counts
    }

    /// Adds `spec` to this supervisor and starts it (for a ready-gated child:
    /// waits until it is ready). Returns the child's full path, to use with
    /// the other commands (in a [dynamic](crate::Supervisor::dynamic)
    /// supervisor, the name gets a unique number: `pool/conn-7`).
    ///
    /// A child added this way is part of the running supervisor only: if the
    /// supervisor is itself restarted by its parent, it comes back with its
    /// initial children (as OTP).
    ///
    /// # Errors
    ///
    /// [`ControlError::AlreadyRunning`] / [`ControlError::AlreadyPresent`] if
    /// the name is taken (running, or not) — unlike registries that replace
    /// silently; [`ControlError::InvalidName`] / [`ControlError::InvalidSpec`];
    /// [`ControlError::MaxChildren`]; [`ControlError::StartFailed`] if it
    /// exits or times out before ready (nothing is kept);
    /// [`ControlError::ShuttingDown`] / [`ControlError::Stopped`].
    ///
    /// # Cancel safety
    ///
    /// The command is carried out even if this future is dropped; only the
    /// answer is lost.
    pub async fn start_child(&self, spec: ChildSpec) -> Result<String, ControlError> {
        self.start_at(String::new(), spec).await
    }

    /// [`start_child`](Self::start_child) into the nested supervisor at
    /// `supervisor` (a path such as `"db"`, or full: `"app/db"`; see
    /// [Paths](Self#paths)). `supervisor` names a child: a child of this
    /// supervisor itself is started with [`start_child`](Self::start_child).
    ///
    /// ```
    /// # use tokio_supervisor::{service_fn, ChildSpec, Supervisor};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let conn = ChildSpec::new("conn", service_fn(|ctx| async move {
    ///     ctx.cancelled().await;
    ///     Ok(())
    /// }));
    /// let db = Supervisor::dynamic("db").build()?;
    /// let app = Supervisor::builder("app").child(db).build()?.start().await?;
    /// assert_eq!(app.start_child_in("db", conn).await?, "app/db/conn-1");
    /// assert_eq!(app.which_children_of("db").await?.len(), 1);
    /// # app.shutdown().await?;
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`start_child`](Self::start_child), and
    /// [`ControlError::NotFound`] / [`ControlError::NotASupervisor`] for the
    /// path (`NotFound` also for `""` or this supervisor's own name, which
    /// name no child).
    ///
    /// # Cancel safety
    ///
    /// As [`start_child`](Self::start_child).
    pub async fn start_child_in(
        &self,
        supervisor: &str,
        spec: ChildSpec,
    ) -> Result<String, ControlError> {
        let at = self.child_at(supervisor)?;
        self.start_at(at, spec).await
    }

    /// Starts `spec` in the supervisor at `at`, relative (empty: this one).
    async fn start_at(&self, at: String, spec: ChildSpec) -> Result<String, ControlError> {
        self.request(|reply| Command::Start {
            at,
            spec: Box::new(spec),
            task: false,
            reply,
        })
        .await
    }

    /// Runs `future` as a one-off task named `name`: a `Temporary` child of
    /// this supervisor (listed by `which_children` while it runs, gone when
    /// it ends, stopped with the tree, aborted by
    /// [`terminate_child`](Self::terminate_child)). As `tokio::spawn`, it
    /// is a plain function: it returns the task's [`TaskHandle`] at once,
    /// from async or synchronous code alike, and [`join`](TaskHandle::join)
    /// gives the typed result.
    ///
    /// The future gets no [`Context`](crate::Context), so stopping the task
    /// aborts it ([`Shutdown::Brutal`](crate::Shutdown::Brutal)). For a task
    /// that restarts, or stops gracefully, start a [`ChildSpec`] (see
    /// [`task_fn`](crate::task_fn)).
    ///
    /// It needs no runtime context: any thread may call it (the supervisor's
    /// own runtime runs the task).
    ///
    /// # Naming
    ///
    /// The task's path is this supervisor's path and `name` (`jobs/fetch`),
    /// known at once from [`TaskHandle::path`]. The name is kept as given,
    /// in a [dynamic](crate::Supervisor::dynamic) supervisor too (where
    /// `start_child` numbers its children), so that a task can be found and
    /// aborted by it. It follows the rules of every child's name: non-empty,
    /// no `/` (a task is started in this supervisor, never in a nested one),
    /// unique among the children present. A name in use is refused, never
    /// silently replaced; it is free again once the task has ended (a
    /// `Temporary` child is removed then).
    ///
    /// # Errors
    ///
    /// None here: the supervisor checks the task as it reads the command,
    /// in the order of the commands sent to it (a `which_children` sent after
    /// this call lists the task, unless it has ended by then). A refusal reaches
    /// [`join`](TaskHandle::join) / [`try_join`](TaskHandle::try_join) as
    /// [`TaskError::Refused`](crate::TaskError::Refused), with the task's
    /// path and the reason `start_child` would give: a name in use
    /// (`AlreadyRunning` / `AlreadyPresent`), an invalid name,
    /// `MaxChildren`, `ShuttingDown` / `Stopped`.
    ///
    /// ```
    /// use tokio_supervisor::{ControlError, Supervisor, SupervisorHandle, TaskError, TaskHandle};
    ///
    /// // Synchronous code, as a registry's `spawn` that must not await.
    /// fn fetch(jobs: &SupervisorHandle, url: &str) -> TaskHandle<usize> {
    ///     let url = url.to_owned();
    ///     jobs.spawn_task(format!("fetch-{}", url.len()), async move { url.len() })
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let jobs = Supervisor::dynamic("jobs").build()?.start().await?;
    /// let task = fetch(&jobs, "page");
    /// assert_eq!(task.path(), "jobs/fetch-4");
    /// let twin = fetch(&jobs, "four"); // the same name, while the first runs
    /// assert_eq!(task.join().await?, 4);
    /// assert_eq!(
    ///     twin.join().await,
    ///     Err(TaskError::Refused {
    ///         path: "jobs/fetch-4".into(),
    ///         reason: ControlError::AlreadyRunning { path: "jobs/fetch-4".into() },
    ///     })
    /// );
    /// # Ok(())
    /// # }
    /// ```
    pub fn spawn_task<F>(&self, name: impl Into<String>, future: F) -> TaskHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (service, hook, rx) = crate::task::one_shot(future);
        let mut spec = ChildSpec::new(name, service)
            .restart(crate::Restart::Temporary)
            .shutdown(crate::Shutdown::Brutal)
            .backoff(crate::Backoff::none());
        spec.on_exit = Some(crate::contain::Contained::new(hook));
        self.start_task(spec, rx)
    }

    /// Runs `f` on tokio's blocking pool as a task named `name`, at most
    /// [`blocking_limit`](crate::supervisor::Builder::blocking_limit) of this
    /// supervisor's at once: one over the cap waits its turn, listed as
    /// [`Phase::Starting`](crate::Phase::Starting) until it holds a permit.
    /// A panic in `f` is captured (`TaskError::Panicked`); its snapshot shows
    /// its CPU time (Linux). Like [`spawn_task`](Self::spawn_task), it
    /// returns the [`TaskHandle`] at once, from synchronous code too.
    ///
    /// Blocking work cannot be aborted. A task still waiting for its permit
    /// is simply dropped when aborted or stopped; one that runs is waited for
    /// up to its shutdown timeout (5 s), then left running on its thread,
    /// detached, and reported: an error log with its path, and
    /// [`MetricsSnapshot::blocking_detached`](crate::MetricsSnapshot::blocking_detached).
    /// The supervisor never hangs on it.
    ///
    /// ```
    /// # use tokio_supervisor::Supervisor;
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let jobs = Supervisor::dynamic("jobs").blocking_limit(2).build()?.start().await?;
    /// let hash = jobs.spawn_blocking("hash", || (0..1_000u64).sum::<u64>());
    /// assert_eq!(hash.join().await?, 499_500);
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Naming and errors
    ///
    /// As [`spawn_task`](Self::spawn_task) (its Naming and Errors): a refusal reaches
    /// [`join`](TaskHandle::join) as
    /// [`TaskError::Refused`](crate::TaskError::Refused).
    pub fn spawn_blocking<F, R>(&self, name: impl Into<String>, f: F) -> TaskHandle<R>
    where
        F: FnOnce() -> R + Send + 'static,
        R: Send + 'static,
    {
        let (service, hook, rx) = crate::task::blocking(f, self.inner.blocking.clone());
        let probe = service.probe.clone();
        let mut spec = ChildSpec::new(name, service)
            .restart(crate::Restart::Temporary)
            .backoff(crate::Backoff::none());
        spec.on_exit = Some(crate::contain::Contained::new(hook));
        spec.cpu = Some(probe);
        // "Ready" means "holds a permit": pending until then.
        spec.ready = Some(crate::spec::ReadyGate { timeout: None });
        self.start_task(spec, rx)
    }

    /// Sends the start of a task, and makes its handle without waiting for
    /// the answer, which the handle reads when joined.
    fn start_task<T>(
        &self,
        spec: ChildSpec,
        rx: oneshot::Receiver<Result<T, crate::TaskError>>,
    ) -> TaskHandle<T> {
        // Invariant: both callers set the task's completion hook.
        let id = spec.on_exit.as_ref().map(|hook| TaskId::of(hook));
        // A task keeps its name, also in a dynamic supervisor: its path is
        // known before the supervisor answers.
        let path: Arc<str> = format!("{}/{}", self.inner.name, spec.name).into();
        let (reply, answer) = Reply::new(self.inner.name.clone());
        let sent = self.inner.tx.send(Msg::Command(Command::Start {
            at: String::new(),
            spec: Box::new(spec),
            task: true,
            reply,
        }));
        let answer = match sent {
            Ok(()) => Ok(answer),
            Err(unsent) => {
                // The user's future, never run, is dropped here: its panics
                // contained.
                crate::contain::drop_contained(unsent);
                Err(self.gone())
            }
        };
        let control = crate::task::Control::new(self.inner.tx.clone(), self.inner.name.clone(), id);
        TaskHandle::new(path, answer, self.inner.state.clone(), rx, control)
    }

    /// Stops the child at `path` per its [`Shutdown`](crate::Shutdown) and
    /// waits until its task has ended. It is not restarted and nothing is
    /// counted toward intensity. A `Temporary` child is removed; any other
    /// keeps its spec, terminated, until [`restart_child`](Self::restart_child)
    /// or [`delete_child`](Self::delete_child). Terminating a child that is
    /// not running is `Ok` (OTP answers `ok` again).
    ///
    /// Paths are relative to this supervisor (`"db/pool"`) or full, as in
    /// snapshots (`"app/db/pool"`); see [Paths](Self#paths).
    ///
    /// # Errors
    ///
    /// [`ControlError::NotFound`], [`ControlError::NotASupervisor`] for a
    /// path through a worker, [`ControlError::ShuttingDown`] /
    /// [`ControlError::Stopped`].
    ///
    /// # Cancel safety
    ///
    /// As [`start_child`](Self::start_child).
    pub async fn terminate_child(&self, path: &str) -> Result<(), ControlError> {
        let path = self.child_at(path)?;
        self.request(|reply| Command::Terminate {
            path,
            only: None,
            reply,
        })
        .await
    }

    /// Starts again a terminated child (stopped by hand, completed, or given
    /// up by its circuit breaker, which this closes), keeping its spec; waits
    /// until it is ready.
    ///
    /// # Errors
    ///
    /// [`ControlError::NotFound`], [`ControlError::Running`],
    /// [`ControlError::Restarting`] (waiting for its restart),
    /// [`ControlError::StartFailed`] (the spec is kept),
    /// [`ControlError::ShuttingDown`] / [`ControlError::Stopped`].
    ///
    /// # Cancel safety
    ///
    /// As [`start_child`](Self::start_child).
    pub async fn restart_child(&self, path: &str) -> Result<(), ControlError> {
        let path = self.child_at(path)?;
        self.request(|reply| Command::Restart { path, reply }).await
    }

    /// Removes a terminated child's spec.
    ///
    /// # Errors
    ///
    /// [`ControlError::NotFound`], [`ControlError::Running`],
    /// [`ControlError::Restarting`], [`ControlError::ShuttingDown`] /
    /// [`ControlError::Stopped`].
    ///
    /// # Cancel safety
    ///
    /// As [`start_child`](Self::start_child).
    pub async fn delete_child(&self, path: &str) -> Result<(), ControlError> {
        let path = self.child_at(path)?;
        self.request(|reply| Command::Delete { path, reply }).await
    }

    /// Sends a command and waits for its answer; a supervisor that is gone
    /// answers `Stopped` at once.
    async fn request<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, ControlError> {
        let (reply, mut rx) = Reply::new(self.inner.name.clone());
        if self.inner.tx.send(Msg::Command(make(reply))).is_err() {
            return Err(self.gone());
        }
        self.answer(&mut rx)
            .await
            .unwrap_or_else(|| Err(self.gone()))
    }

    /// The answer on `rx`, or `None` once the supervisor has stopped without
    /// one: a command sent just as its loop ended may stay unread in the
    /// channel (which the handles keep open), so its reply would never come
    /// nor be dropped.
    async fn answer<T>(&self, rx: &mut oneshot::Receiver<T>) -> Option<T> {
        let mut state = self.inner.state.clone();
        tokio::select! {
            biased;
            answer = &mut *rx => answer.ok(),
            _ = state.wait_for(|s| matches!(s, State::Stopped { .. })) => rx.try_recv().ok(),
        }
    }

    fn gone(&self) -> ControlError {
        ControlError::Stopped {
            supervisor: self.inner.name.to_string(),
        }
    }

    /// A path relative to this supervisor (see [`relative`]).
    fn relative<'a>(&self, path: &'a str) -> &'a str {
        super::protocol::relative(&self.inner.name, path)
    }

    /// The relative path of a child below this supervisor: `NotFound` for
    /// the supervisor itself, or a path with an empty segment (`"db/"`,
    /// `"a//b"`).
    fn child_at(&self, path: &str) -> Result<String, ControlError> {
        let rel = self.relative(path);
        if rel.is_empty() || rel.split('/').any(str::is_empty) {
            let name = &self.inner.name;
            return Err(ControlError::NotFound {
                path: if rel.is_empty() {
                    name.to_string()
                } else {
                    format!("{name}/{rel}")
                },
            });
        }
        Ok(rel.to_owned())
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
        // Seen at once by `is_stopping`; the loop takes the kill first.
        self.inner.stop.cancel();
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
        // before this call is seen; the driver always publishes one before it
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

    /// Runs until SIGINT or SIGTERM (Ctrl+C off unix), then stops the
    /// supervisor gracefully (its children in reverse order) and returns
    /// its outcome; a second signal during the stop aborts every child at
    /// once. Returns early if the supervisor ends on its own.
    ///
    /// Meant for `main`: a failure (a failed start, an exceeded intensity)
    /// is returned as an error, so that the process exits non-zero and
    /// systemd or Kubernetes restart it.
    ///
    /// ```no_run
    /// # use tokio_supervisor::{service_fn, ChildSpec, Supervisor};
    /// #[tokio::main]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     let app = Supervisor::builder("app")
    ///         .child(ChildSpec::new("w", service_fn(|ctx| async move {
    ///             ctx.cancelled().await;
    ///             Ok(())
    ///         })))
    ///         .build()?;
    ///     let handle = app.spawn()?;
    ///     // ... serve health endpoints with `handle`, say ...
    ///     handle.run_until_signal().await?;
    ///     Ok(())
    /// }
    /// ```
    ///
    /// Call it on the handle [`Supervisor::spawn`](crate::Supervisor::spawn)
    /// returns, at once: the signal handlers are installed as it is first
    /// polled, so that a signal during the children's start stops what has
    /// started (rather than kill the process). After
    /// [`Supervisor::start`](crate::Supervisor::start), a signal during the
    /// start is not seen. For a stop request of your own,
    /// [`run_until`](Self::run_until).
    ///
    /// # Errors
    ///
    /// The supervisor's failure; [`SupervisorError::Signal`] if the signal
    /// handlers could not be installed.
    pub async fn run_until_signal(&self) -> Result<(), SupervisorError> {
        let signals = crate::signal::Signals::new().map_err(|e| SupervisorError::Signal {
            supervisor: self.inner.name.to_string(),
            message: e.to_string(),
        })?;
        // The listener installed first serves the first signal; a fresh one
        // (installed at once after it) the second.
        let mut first = Some(signals);
        self.stop_on_signals(move || {
            let listener = first
                .take()
                .map(Ok)
                .unwrap_or_else(crate::signal::Signals::new);
            async move {
                match listener {
                    Ok(mut signals) => signals.recv().await,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot listen for a second signal");
                        std::future::pending().await
                    }
                }
            }
        })
        .await
    }

    /// Runs until `shutdown` completes, then stops the supervisor
    /// gracefully and returns its outcome; returns early if the supervisor
    /// ends on its own (its failure, for `main` to exit non-zero).
    ///
    /// [`run_until_signal`](Self::run_until_signal) with a stop request of
    /// your own: a channel, a test's timer, an admin endpoint. To abort the
    /// children of a stop that takes too long, call [`kill`](Self::kill)
    /// from elsewhere, or set
    /// [`Builder::shutdown_budget`](crate::supervisor::Builder::shutdown_budget).
    ///
    /// ```
    /// # use tokio_supervisor::{service_fn, ChildSpec, Supervisor};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    /// let app = Supervisor::builder("app")
    ///     .child(ChildSpec::new("w", service_fn(|ctx| async move {
    ///         ctx.cancelled().await;
    ///         Ok(())
    ///     })))
    ///     .build()?
    ///     .spawn()?;
    /// stop_tx.send(()).unwrap();
    /// app.run_until(async { let _ = stop_rx.await; }).await?;
    /// assert!(app.is_finished());
    /// # Ok(())
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// The supervisor's failure.
    ///
    /// # Cancel safety
    ///
    /// A stop, once asked, goes on if this future is dropped.
    pub async fn run_until<F>(&self, shutdown: F) -> Result<(), SupervisorError>
    where
        F: std::future::Future<Output = ()>,
    {
        tokio::select! {
            res = self.wait() => return res,
            () = shutdown => {}
        }
        self.shutdown().await
    }

    /// The stop on signals: `next()` is awaited for the first signal (a
    /// graceful stop) and again for the second (abort every child); it
    /// names the signal for the logs.
    async fn stop_on_signals<F, Fut>(&self, mut next: F) -> Result<(), SupervisorError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = &'static str>,
    {
        let name = &self.inner.name;
        tokio::select! {
            res = self.wait() => return res,
            sig = next() => {
                tracing::info!(supervisor = %name, signal = sig, "stopping on signal");
            }
        }
        self.request_shutdown();
        tokio::select! {
            res = self.wait() => res,
            sig = next() => {
                tracing::warn!(supervisor = %name, signal = sig, "second signal: aborting every child");
                self.kill().await
            }
        }
    }

    /// Whether every child has started and the supervisor is not stopping
    /// (nor asked to stop).
    #[must_use]
    pub fn is_running(&self) -> bool {
        matches!(*self.inner.state.borrow(), State::Running) && !self.inner.stop.is_cancelled()
    }

    /// Whether the supervisor is stopping: true as soon as
    /// [`request_shutdown`](Self::request_shutdown), [`shutdown`](Self::shutdown)
    /// or [`kill`](Self::kill) is called (from any clone of the handle),
    /// or once it stops by itself (a failure, an auto-shutdown), until it
    /// has stopped.
    ///
    /// ```
    /// # use tokio_supervisor::{service_fn, ChildSpec, Supervisor};
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let h = Supervisor::builder("app")
    ///     .child(ChildSpec::new("w", service_fn(|ctx| async move {
    ///         ctx.cancelled().await;
    ///         Ok(())
    ///     })))
    ///     .build()?
    ///     .start()
    ///     .await?;
    /// h.request_shutdown();
    /// assert!(h.is_stopping() && !h.is_running()); // at once
    /// h.wait().await?;
    /// assert!(!h.is_stopping() && h.is_finished());
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn is_stopping(&self) -> bool {
        match *self.inner.state.borrow() {
            State::Stopped { .. } => false,
            State::Stopping { .. } => true,
            State::Starting | State::Running => self.inner.stop.is_cancelled(),
        }
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::{service_fn, ChildSpec, ExitReason, Phase, Shutdown, Supervisor};

    /// The signal source injected: the first signal stops gracefully; a
    /// child that ignores it keeps the stop waiting (`Shutdown::Infinity`)
    /// until the second signal aborts every child.
    #[tokio::test(start_paused = true)]
    async fn a_second_signal_aborts_a_stop_in_progress() {
        let ok = ChildSpec::new(
            "ok",
            service_fn(|ctx| async move {
                ctx.cancelled().await;
                Ok(())
            }),
        );
        let stubborn = ChildSpec::new(
            "stubborn",
            service_fn(|ctx| async move {
                ctx.cancelled().await;
                std::future::pending::<()>().await;
                Ok(())
            }),
        )
        .shutdown(Shutdown::Infinity);
        let h = Supervisor::builder("app")
            .child(ok)
            .child(stubborn)
            .build()
            .unwrap()
            .start()
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<&'static str>();
        let rx = Arc::new(tokio::sync::Mutex::new(rx));
        let h2 = h.clone();
        let run = tokio::spawn(async move {
            h2.stop_on_signals(|| {
                let rx = rx.clone();
                async move { rx.lock().await.recv().await.unwrap_or("closed") }
            })
            .await
        });
        tx.send("first").unwrap();
        tokio::time::sleep(Duration::from_secs(3600)).await;
        assert!(h.is_stopping(), "stubborn keeps the graceful stop waiting");
        tx.send("second").unwrap();
        run.await.unwrap().unwrap();
        let snap = h.which_children().await;
        assert!(h.is_finished());
        // Stopped in reverse order: `ok` was still waiting its turn.
        assert_eq!(snap[1].phase, Phase::Terminated(ExitReason::Aborted));
        assert_eq!(snap[0].phase, Phase::Terminated(ExitReason::Aborted));
    }
}
