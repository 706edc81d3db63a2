//! One-off and blocking tasks, as children of the same tree:
//! [`SupervisorHandle::spawn_task`], [`SupervisorHandle::spawn_blocking`],
//! [`TaskHandle`], and [`task_fn`] for restartable tasks made by a factory.
//!
//! # Why tasks are children
//!
//! Long-running services are half of what a daemon supervises; the other
//! half is named background jobs. Keeping them in a separate hand-written
//! registry means two snapshots, two shutdowns, two sets of bugs. Here a task
//! is a `Temporary` child: visible in `which_children` while it runs, gone
//! when it ends, stopped with the tree, aborted by name with
//! `terminate_child`.
//!
//! # From a task-registry vocabulary
//!
//! | registry | this crate |
//! |---|---|
//! | `spawn_oneshot(name, fut)` / `RunOnce` | [`SupervisorHandle::spawn_task`] → [`TaskHandle<T>`], synchronous, as `tokio::spawn` |
//! | `spawn_blocking(name, f)` with a concurrency cap | [`SupervisorHandle::spawn_blocking`], cap [`Builder::blocking_limit`](crate::supervisor::Builder::blocking_limit) |
//! | `TaskDescriptor { name, restart: Restart { max: 3, base_delay: 100ms }, factory }` | `ChildSpec::new(name, task_fn(factory)).restart(Restart::Transient).backoff(Backoff::exponential(100ms, cap)).restart_limit(3, Duration::MAX)`, then [`SupervisorHandle::start_child`] |
//! | restart on panic only | a factory whose future returns `()`: `Transient` restarts it on panic, not when it returns |
//! | restart on panic and on error | a factory whose future returns `Result<(), E>` |
//! | `abort(name)` | [`SupervisorHandle::terminate_child`] or [`TaskHandle::abort`] |
//! | `snapshot()` | [`SupervisorHandle::which_children`] |
//! | `shutdown_all(timeout)` | [`SupervisorHandle::shutdown`] (each task per its `Shutdown`) |
//!
//! Starting a name already in use is refused (the new task's
//! [`TaskHandle::join`] answers [`TaskError::Refused`] with `AlreadyRunning`
//! or `AlreadyPresent`), not a silent replacement as in some registries: a
//! replacement would leave the old task running unowned, or abort it behind
//! its awaiter's back.
//!
//! [`SupervisorHandle`]: crate::SupervisorHandle
//! [`SupervisorHandle::spawn_task`]: crate::SupervisorHandle::spawn_task
//! [`SupervisorHandle::spawn_blocking`]: crate::SupervisorHandle::spawn_blocking
//! [`SupervisorHandle::start_child`]: crate::SupervisorHandle::start_child
//! [`SupervisorHandle::terminate_child`]: crate::SupervisorHandle::terminate_child
//! [`SupervisorHandle::which_children`]: crate::SupervisorHandle::which_children
//! [`SupervisorHandle::shutdown`]: crate::SupervisorHandle::shutdown

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot, watch, Semaphore};

use crate::exit::ExitReason;
use crate::service::BoxError;
use crate::spec::CpuTime;
use crate::supervisor::protocol::{Command, Msg, Reply, State, TaskId};
use crate::{Context, ControlError, Service};

/// Why a task gave no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// The supervisor did not start the task: its name is taken or invalid,
    /// a dynamic supervisor is at its `max_children`, or the supervisor is
    /// stopping or has stopped. Nothing ran.
    #[error("task `{path}` was not started: {reason}")]
    Refused {
        /// The path the task would have had (`jobs/fetch`).
        path: String,
        /// The supervisor's answer, as [`start_child`](crate::SupervisorHandle::start_child)
        /// would give it: [`ControlError::AlreadyRunning`],
        /// [`ControlError::AlreadyPresent`], [`ControlError::InvalidName`],
        /// [`ControlError::MaxChildren`], [`ControlError::ShuttingDown`],
        /// [`ControlError::Stopped`].
        #[source]
        reason: ControlError,
    },
    /// The task panicked; the panic message.
    #[error("task panicked: {0}")]
    Panicked(String),
    /// The task was aborted ([`TaskHandle::abort`], `terminate_child`) or
    /// its supervisor stopped before it finished.
    #[error("task was cancelled")]
    Cancelled,
}

type Slot<T> = Arc<Mutex<Option<T>>>;

/// The supervisor's side of a task: called with the exit reason of its run,
/// it settles the task's handle.
pub(crate) use crate::spec::OnExit;

/// Makes the completion hook that hands the value (or the error) to the
/// `TaskHandle`.
fn completion<T: Send + 'static>(
    slot: Slot<T>,
    tx: oneshot::Sender<Result<T, TaskError>>,
) -> OnExit {
    let tx = Mutex::new(Some(tx));
    Arc::new(move |reason: &ExitReason| {
        let Some(tx) = tx.lock().take() else { return };
        let result = match slot.lock().take() {
            // The value was produced: it is the answer, whatever stopped the
            // run after that.
            Some(value) => Ok(value),
            None => Err(match reason {
                ExitReason::Panicked(msg) => TaskError::Panicked(msg.to_string()),
                _ => TaskError::Cancelled,
            }),
        };
        // Nobody waits for it: the value is dropped here, in the
        // supervisor's loop, its panics contained.
        if let Err(unread) = tx.send(result) {
            crate::contain::drop_contained(unread);
        }
    })
}

/// A one-off async task as a service: runs its future once.
pub(crate) struct OneShot<F: Future> {
    fut: Mutex<Option<F>>,
    slot: Slot<F::Output>,
}

impl<F> Service for OneShot<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    async fn run(&self, _ctx: Context) -> Result<(), BoxError> {
        let Some(fut) = self.fut.lock().take() else {
            return Ok(()); // a temporary child never runs twice
        };
        let started = tokio::time::Instant::now();
        let value = fut.await;
        *self.slot.lock() = Some(value);
        let wall = started.elapsed();
        tracing::Span::current().record("wall_time", tracing::field::debug(wall));
        tracing::debug!(wall_time = ?wall, "task finished");
        Ok(())
    }
}

/// A task's service, its completion hook, and its handle's receiver.
pub(crate) type TaskParts<S, T> = (S, OnExit, oneshot::Receiver<Result<T, TaskError>>);

pub(crate) fn one_shot<F>(fut: F) -> TaskParts<OneShot<F>, F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let slot: Slot<F::Output> = Arc::default();
    let (tx, rx) = oneshot::channel();
    let hook = completion(slot.clone(), tx);
    (
        OneShot {
            fut: Mutex::new(Some(fut)),
            slot,
        },
        hook,
        rx,
    )
}

/// The thread that runs a blocking task, for reading its CPU time.
#[derive(Debug, Default)]
pub(crate) struct CpuProbe {
    /// Linux thread id while running, 0 otherwise.
    tid: AtomicU64,
    /// CPU time when the task started, in nanoseconds.
    start_ns: AtomicU64,
    /// CPU time used, once finished, in nanoseconds (+1, 0 = unknown).
    done_ns: AtomicU64,
}

impl crate::spec::CpuTime for CpuProbe {
    /// CPU time used so far (or in all, once finished), where the platform
    /// tells it cheaply (Linux: one small `/proc` read).
    fn cpu_time(&self) -> Option<Duration> {
        match self.done_ns.load(Ordering::Acquire) {
            0 => {}
            n => return Some(Duration::from_nanos(n - 1)),
        }
        let tid = self.tid.load(Ordering::Acquire);
        if tid == 0 {
            return None;
        }
        let now = thread_cpu_ns(&format!("/proc/self/task/{tid}/schedstat"))?;
        Some(Duration::from_nanos(
            now.saturating_sub(self.start_ns.load(Ordering::Acquire)),
        ))
    }
}

impl CpuProbe {
    fn enter(&self) {
        let tid = std::fs::read_link("/proc/thread-self")
            .ok()
            .and_then(|p| p.file_name()?.to_str()?.parse::<u64>().ok());
        if let (Some(tid), Some(start)) = (tid, thread_cpu_ns("/proc/thread-self/schedstat")) {
            self.start_ns.store(start, Ordering::Release);
            self.tid.store(tid, Ordering::Release);
        }
    }

    fn leave(&self) {
        if let Some(now) = thread_cpu_ns("/proc/thread-self/schedstat") {
            let used = now.saturating_sub(self.start_ns.load(Ordering::Acquire));
            self.done_ns
                .store(used.saturating_add(1), Ordering::Release);
        }
        self.tid.store(0, Ordering::Release);
    }
}

/// The first field of a `schedstat` file: time spent on the CPU, in ns.
fn thread_cpu_ns(path: &str) -> Option<u64> {
    let text = std::fs::read_to_string(path).ok()?;
    text.split_whitespace().next()?.parse().ok()
}

/// A blocking closure as a service: waits for a permit of its supervisor's
/// cap (pending, not ready, meanwhile), then runs on tokio's blocking pool.
pub(crate) struct Blocking<F, R> {
    f: Mutex<Option<F>>,
    slot: Slot<R>,
    permits: Arc<Semaphore>,
    pub(crate) probe: Arc<CpuProbe>,
}

impl<F, R> Service for Blocking<F, R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    async fn run(&self, ctx: Context) -> Result<(), BoxError> {
        let Some(f) = self.f.lock().take() else {
            return Ok(());
        };
        let permit = tokio::select! {
            p = self.permits.clone().acquire_owned() => p.map_err(|_| "blocking pool closed")?,
            _ = ctx.cancelled() => return Ok(()), // cancelled while pending: never ran
        };
        ctx.ready();
        let probe = self.probe.clone();
        let started = tokio::time::Instant::now();
        let join = tokio::task::spawn_blocking(move || {
            probe.enter();
            let out = crate::panic_hook::in_child(f);
            probe.leave();
            drop(permit);
            out
        });
        // Blocking work cannot be cancelled: even when asked to stop, wait for
        // it (the supervisor aborts this wrapper after the shutdown timeout
        // and reports the thread it could not stop).
        match join.await {
            Ok(value) => {
                *self.slot.lock() = Some(value);
                let (wall, cpu) = (started.elapsed(), self.probe.cpu_time());
                let span = tracing::Span::current();
                span.record("wall_time", tracing::field::debug(wall));
                if let Some(cpu) = cpu {
                    span.record("cpu_time", tracing::field::debug(cpu));
                }
                tracing::debug!(wall_time = ?wall, cpu_time = ?cpu, "blocking task finished");
                Ok(())
            }
            // Re-raise the closure's panic here, so that the supervisor reads
            // it from this task's `JoinError` like any other.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err("blocking task cancelled by its runtime".into()),
        }
    }
}

pub(crate) fn blocking<F, R>(f: F, permits: Arc<Semaphore>) -> TaskParts<Blocking<F, R>, R>
where
    F: FnOnce() -> R + Send + 'static,
    R: Send + 'static,
{
    let slot: Slot<R> = Arc::default();
    let (tx, rx) = oneshot::channel();
    let hook = completion(slot.clone(), tx);
    (
        Blocking {
            f: Mutex::new(Some(f)),
            slot,
            permits,
            probe: Arc::default(),
        },
        hook,
        rx,
    )
}

/// The handle of a task started with
/// [`SupervisorHandle::spawn_task`](crate::SupervisorHandle::spawn_task) or
/// [`SupervisorHandle::spawn_blocking`](crate::SupervisorHandle::spawn_blocking):
/// its typed result, and a way to abort it.
///
/// It is made at once, before the supervisor has looked at the task, as
/// `tokio::spawn` makes its `JoinHandle`: whether the task was started is
/// known from [`join`](Self::join) or [`try_join`](Self::try_join), which
/// answer [`TaskError::Refused`] (naming the path) if it was not.
///
/// # Dropping
///
/// Dropping a `TaskHandle` does **not** cancel the task (as tokio's
/// `JoinHandle`): it runs on, under its supervisor, and its result is
/// dropped. Call [`abort_on_drop`](Self::abort_on_drop) for the other choice.
///
/// ```
/// # use tokio_supervisor::{Supervisor, TaskError};
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let handle = Supervisor::dynamic("jobs").build()?.start().await?;
/// let sum = handle.spawn_task("sum", async { (1..=10).sum::<u32>() });
/// assert_eq!(sum.join().await?, 55);
///
/// let boom = handle.spawn_task("boom", async { panic!("bad input") });
/// assert_eq!(boom.join().await, Err::<(), _>(TaskError::Panicked("bad input".into())));
/// # Ok(())
/// # }
/// ```
#[must_use = "dropping a TaskHandle does not cancel the task; its result is lost"]
pub struct TaskHandle<T> {
    path: Arc<str>,
    start: Start,
    rx: oneshot::Receiver<Result<T, TaskError>>,
    control: Control,
    abort_on_drop: bool,
}

/// What the supervisor answered to the task's start, as far as known.
enum Start {
    /// Not read yet: the answer's channel, and the supervisor's state, to
    /// tell a supervisor that stopped without reading the command.
    Pending {
        answer: oneshot::Receiver<Result<String, ControlError>>,
        state: watch::Receiver<State>,
    },
    Started,
    /// Boxed: a refusal is rare, a handle often kept.
    Refused(Box<ControlError>),
}

impl<T> TaskHandle<T> {
    pub(crate) fn new(
        path: Arc<str>,
        answer: Result<oneshot::Receiver<Result<String, ControlError>>, ControlError>,
        state: watch::Receiver<State>,
        rx: oneshot::Receiver<Result<T, TaskError>>,
        control: Control,
    ) -> Self {
        let start = match answer {
            Ok(answer) => Start::Pending { answer, state },
            Err(refused) => Start::Refused(Box::new(refused)),
        };
        TaskHandle {
            path,
            start,
            rx,
            control,
            abort_on_drop: false,
        }
    }

    /// The task's full path (`jobs/sum`: its supervisor's path and its
    /// name), usable with the supervisor's commands. Known at once; a task
    /// that was refused would have had it.
    #[must_use]
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The task's name (the last segment of its path).
    #[must_use]
    pub fn name(&self) -> &str {
        self.path.rsplit_once('/').map_or(&*self.path, |(_, n)| n)
    }

    fn refused(&self, reason: ControlError) -> TaskError {
        TaskError::Refused {
            path: self.path.to_string(),
            reason,
        }
    }

    /// Reads the start's answer if it has come, without waiting.
    fn check_start(&mut self) {
        let Start::Pending { answer, state } = &mut self.start else {
            return;
        };
        self.start = match answer.try_recv() {
            Ok(Ok(_)) => Start::Started,
            Ok(Err(e)) => Start::Refused(Box::new(e)),
            Err(oneshot::error::TryRecvError::Empty) => {
                // A command sent just as the supervisor's loop ended may stay
                // unread (see `SupervisorHandle::answer`): the stop is then
                // the answer.
                if !matches!(*state.borrow(), State::Stopped { .. }) {
                    return;
                }
                Start::Refused(Box::new(self.control.stopped()))
            }
            Err(oneshot::error::TryRecvError::Closed) => {
                Start::Refused(Box::new(self.control.stopped()))
            }
        };
    }

    /// Waits for the start's answer.
    async fn started(&mut self) -> Result<(), ControlError> {
        if let Start::Pending { answer, state } = &mut self.start {
            let answered = tokio::select! {
                biased;
                answer = &mut *answer => answer.ok(),
                _ = state.wait_for(|s| matches!(s, State::Stopped { .. })) => answer.try_recv().ok(),
            };
            self.start = match answered {
                Some(Ok(_)) => Start::Started,
                Some(Err(e)) => Start::Refused(Box::new(e)),
                None => Start::Refused(Box::new(self.control.stopped())),
            };
        }
        match &self.start {
            Start::Refused(e) => Err((**e).clone()),
            _ => Ok(()),
        }
    }

    /// Waits for the task's result.
    ///
    /// # Errors
    ///
    /// [`TaskError::Refused`] if the supervisor did not start it (nothing
    /// ran), [`TaskError::Panicked`] if it panicked,
    /// [`TaskError::Cancelled`] if it was aborted or its supervisor stopped
    /// first.
    ///
    /// # Cancel safety
    ///
    /// Not cancel safe: it consumes the handle, so a `join` dropped before
    /// it completes loses the result (the task runs on, unless
    /// [`abort_on_drop`](Self::abort_on_drop) was set). Where the wait may
    /// be cancelled (a `select!` loop), check with
    /// [`try_join`](Self::try_join) instead.
    pub async fn join(mut self) -> Result<T, TaskError> {
        if let Err(e) = self.started().await {
            self.abort_on_drop = false;
            return Err(self.refused(e));
        }
        let result = (&mut self.rx).await.unwrap_or(Err(TaskError::Cancelled));
        // Ended: nothing left to abort as the handle drops.
        self.abort_on_drop = false;
        result
    }

    /// The result if the task has ended (or was refused), or the handle
    /// back.
    ///
    /// # Errors
    ///
    /// `Err(self)` while the task runs, or while its start is not answered
    /// yet.
    pub fn try_join(mut self) -> Result<Result<T, TaskError>, Self> {
        self.check_start();
        let result = match (&self.start, self.rx.try_recv()) {
            (Start::Refused(e), _) => Err(self.refused((**e).clone())),
            (_, Ok(result)) => result,
            (Start::Started, Err(oneshot::error::TryRecvError::Closed)) => {
                Err(TaskError::Cancelled)
            }
            // Running, or the start's answer is on its way.
            _ => return Err(self),
        };
        self.abort_on_drop = false;
        Ok(result)
    }

    /// Aborts the task (as `terminate_child` of its path), without waiting.
    /// Its [`join`](Self::join) then answers [`TaskError::Cancelled`], unless
    /// it had already produced its value. A blocking task that has started
    /// cannot be stopped: it runs to its end, and its value is dropped.
    ///
    /// It acts on this handle's task only: once that task has ended (or if
    /// it was refused), it does nothing, even if another child now has the
    /// same name.
    pub fn abort(&self) {
        self.control.terminate_detached(&self.path);
    }

    /// Makes dropping this handle abort the task.
    pub fn abort_on_drop(mut self) -> Self {
        self.abort_on_drop = true;
        self
    }
}

impl<T> Drop for TaskHandle<T> {
    fn drop(&mut self) {
        if self.abort_on_drop && self.rx.try_recv().is_err() {
            self.abort();
        }
    }
}

impl<T> fmt::Debug for TaskHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskHandle")
            .field("path", &self.path)
            .field("abort_on_drop", &self.abort_on_drop)
            .finish_non_exhaustive()
    }
}

/// Enough of a handle to abort a task by path (kept by `TaskHandle`).
#[derive(Debug, Clone)]
pub(crate) struct Control {
    tx: mpsc::UnboundedSender<Msg>,
    name: Arc<str>,
    /// The task the handle started: only it is ever aborted.
    task: Option<TaskId>,
}

impl Control {
    pub(crate) fn new(
        tx: mpsc::UnboundedSender<Msg>,
        name: Arc<str>,
        task: Option<TaskId>,
    ) -> Self {
        Control { tx, name, task }
    }

    /// The answer of a supervisor that has stopped.
    pub(crate) fn stopped(&self) -> ControlError {
        ControlError::Stopped {
            supervisor: self.name.to_string(),
        }
    }

    /// `terminate_child(path)` of this task, if it is still the child at
    /// `path`, without waiting for the answer.
    pub(crate) fn terminate_detached(&self, path: &str) {
        let path = crate::supervisor::protocol::relative(&self.name, path).to_owned();
        let (reply, _) = Reply::new(self.name.clone());
        let _ = self.tx.send(Msg::Command(Command::Terminate {
            path,
            only: self.task.clone(),
            reply,
        }));
    }
}

/// What a [`task_fn`] future may return: `()` (only a panic is a failure)
/// or `Result<(), E>` (an `Err` is a failure too).
pub trait TaskOutput: Send + 'static {
    /// The result as a service's.
    ///
    /// # Errors
    ///
    /// The task's own error, boxed.
    fn into_result(self) -> Result<(), BoxError>;
}

impl TaskOutput for () {
    fn into_result(self) -> Result<(), BoxError> {
        Ok(())
    }
}

impl<E: Into<BoxError> + Send + 'static> TaskOutput for Result<(), E> {
    fn into_result(self) -> Result<(), BoxError> {
        self.map_err(Into::into)
    }
}

/// A [`TaskFn`] service.
pub struct TaskFn<F> {
    factory: F,
}

impl<F> fmt::Debug for TaskFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskFn").finish_non_exhaustive()
    }
}

/// A restartable task made by a factory: each run calls `factory()` and
/// awaits the future. Give it a spec as for any child; the usual recipe for
/// "restart on panic, at most 3 times, with backoff":
///
/// ```
/// use std::time::Duration;
/// use tokio_supervisor::{task_fn, Backoff, ChildSpec, Restart};
///
/// let spec = ChildSpec::new("indexer", task_fn(|| async {
///     // ... one pass of work; a panic restarts it, returning ends it ...
/// }))
/// .restart(Restart::Transient)
/// .backoff(Backoff::exponential(Duration::from_millis(100), Duration::from_secs(10)))
/// .restart_limit(3, Duration::MAX); // 3 restarts in its whole life
/// ```
///
/// A future returning `Result<(), E>` restarts on `Err` too.
///
/// # Stopping
///
/// The factory gets no [`Context`], so its future cannot see that it is
/// asked to stop; the task sees it for it. When the supervisor cancels the
/// task (its shutdown, `terminate_child`, a group restart), the future is
/// dropped at once, without another poll, and the run ends as a clean stop
/// ([`ExitReason::Shutdown`]): no
/// [`Shutdown::Graceful`](crate::Shutdown::Graceful) timeout is waited out,
/// whatever the spec's [`Shutdown`](crate::Shutdown). That is an abort at
/// an `.await` point, as with `JoinHandle::abort`: use
/// [`service_fn`](crate::service_fn) for work that must finish a step or
/// clean up before it stops.
///
/// ```
/// use std::time::Duration;
/// use tokio_supervisor::{task_fn, ChildSpec, Supervisor};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let handle = Supervisor::builder("app")
///     .child(ChildSpec::new("report", task_fn(|| async {
///         tokio::time::sleep(Duration::from_secs(3600)).await; // an hour's work
///     })))
///     .build()?
///     .start()
///     .await?;
/// let asked = tokio::time::Instant::now();
/// handle.shutdown().await?;
/// assert!(asked.elapsed() < Duration::from_secs(1), "not the 5 s Graceful timeout");
/// # Ok(())
/// # }
/// ```
#[must_use]
pub fn task_fn<F, Fut>(factory: F) -> TaskFn<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: TaskOutput,
{
    TaskFn { factory }
}

impl<F, Fut> Service for TaskFn<F>
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: TaskOutput,
{
    async fn run(&self, ctx: Context) -> Result<(), BoxError> {
        let work = (self.factory)();
        tokio::select! {
            // A result that came with the stop request counts.
            biased;
            out = work => out.into_result(),
            // Dropped unfinished: the future cannot see the stop itself.
            () = ctx.cancelled() => Ok(()),
        }
    }
}
