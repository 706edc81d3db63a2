//! Erlang/OTP-grade supervision for tokio.
//!
//! `tokio-supervisor` starts your long-running async services, watches them,
//! restarts them with backoff when they fail, gives up on the ones that keep
//! failing, and stops everything in order when the program ends, for the
//! cost of a few plain `tokio::spawn`s.
//!
//! It replaces the usual glue of `tokio::spawn` + a `CancellationToken` + a
//! retry loop, which leaks in the same ways in every project: a panic kills a
//! task silently, a crashed feed is never restarted, a stuck task blocks
//! shutdown forever, nobody can see what is running.
//!
//! # A first supervisor
//!
//! A *service* is an async `run` that works until its [`Context`] is
//! cancelled. Give it a name in a [`ChildSpec`], put the spec in a
//! [`Supervisor`], and start it:
//!
//! ```
//! use std::time::Duration;
//! use tokio_supervisor::{service_fn, ChildSpec, Supervisor};
//!
//! #[tokio::main]
//! # async fn _hidden() {}
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let app = Supervisor::builder("app")
//!         .child(ChildSpec::new("ticker", service_fn(|ctx| async move {
//!             let mut tick = tokio::time::interval(Duration::from_secs(1));
//!             loop {
//!                 tokio::select! {
//!                     _ = ctx.cancelled() => return Ok(()),
//!                     _ = tick.tick() => println!("tick from {}", ctx.path()),
//!                 }
//!             }
//!         })))
//!         .build()?;
//!
//!     let handle = app.start().await?;
//!     tokio::time::sleep(Duration::from_secs(3)).await;
//!     handle.shutdown().await?; // cancels `ticker`, waits for it
//!     Ok(())
//! }
//! ```
//!
//! In a real program, end `main` with
//! [`app.spawn()?.run_until_signal().await`](SupervisorHandle::run_until_signal):
//! it runs until SIGINT or SIGTERM, stops the tree in order, and returns
//! the supervisor's failure as an error so the process exits non-zero.
//!
//! # Services
//!
//! For anything with configuration, implement [`Service`] on a struct with a
//! plain `async fn` (no `#[async_trait]`). Return `Err` for a failure; `?`
//! works with any error type, `anyhow` included. A panic is a failure too,
//! with its message kept.
//!
//! ```
//! use tokio_supervisor::{BoxError, Context, Service};
//!
//! struct Feed {
//!     url: String,
//! }
//!
//! impl Service for Feed {
//!     async fn run(&self, ctx: Context) -> Result<(), BoxError> {
//!         let conn = connect(&self.url).await?; // an error here is a failure
//!         ctx.ready();
//!         loop {
//!             tokio::select! {
//!                 _ = ctx.cancelled() => return Ok(()),
//!                 msg = conn.next() => handle(msg?)?,
//!             }
//!         }
//!     }
//! }
//! # struct Conn; impl Conn { async fn next(&self) -> Result<u8, std::io::Error> { Ok(0) } }
//! # async fn connect(_: &str) -> Result<Conn, std::io::Error> { Ok(Conn) }
//! # fn handle(_: u8) -> Result<(), std::io::Error> { Ok(()) }
//! ```
//!
//! A service the program keeps a handle on is supervised as an `Arc<S>`
//! (`ChildSpec::new("feed", Arc::clone(&feed))`). `dyn Service` does not
//! exist (`run` returns `impl Future`); where the program holds trait
//! objects, a `Box<dyn` [`DynService`]`>` or an `Arc<dyn DynService>` is a
//! service, and every service is a `DynService`.
//!
//! A panicking child is restarted like a failing one, its message kept; the
//! default panic hook still prints it to stderr. Call
//! [`quiet_child_panics`] early in `main` to silence the children's panics
//! only: every other panic still reaches the previous hook.
//!
//! # What happens when a child exits
//!
//! Each [`ChildSpec`] says:
//!
//! * whether to restart: [`Restart::Permanent`] (always),
//!   [`Restart::Transient`] (after a failure; the default) or
//!   [`Restart::Temporary`] (never);
//! * how long to wait first: a [`Backoff`], exponential by default, reset
//!   after a stable run;
//! * when to give up: a [`restart_limit`](ChildSpec::restart_limit) (a
//!   circuit breaker): more than N restarts within a window, and the child is
//!   left [`Terminated`](Phase::Terminated) with
//!   [`ExitReason::CircuitOpen`], visible, while its siblings keep running;
//! * how to stop it: [`Shutdown::Graceful`] (cancel, wait, then abort; 5 s by
//!   default), [`Shutdown::Brutal`] or [`Shutdown::Infinity`].
//!
//! An error that no restart can fix (a missing credential, a corrupt
//! input) is returned wrapped in [`Fatal`]: the child is given up at once,
//! with [`ExitReason::Fatal`] in its snapshot, whatever its policy.
//!
//! A child that works in rounds (a poller) is
//! [`periodic`](ChildSpec::periodic): each `Ok` is followed by its next run
//! at its cadence, which neither grows its backoff nor counts toward its
//! restart limit or the intensity. Settings that every child of a
//! supervisor shares are set once on its builder
//! ([`default_backoff`](supervisor::Builder::default_backoff) and the
//! like).
//!
//! The supervisor adds its *restart intensity*
//! ([`Builder::intensity`](supervisor::Builder::intensity)): more than N
//! restarts of any of its children within a window, and it stops all of them
//! in reverse order and fails, like an OTP supervisor (OTP calls the window
//! its *period*). Its default, 10 restarts in 10 s, is sized for backoff
//! (see [`Builder::intensity`](supervisor::Builder::intensity)).
//!
//! # Strategies and trees
//!
//! What a restart does to the siblings is the supervisor's [`Strategy`]:
//! [`OneForOne`](Strategy::OneForOne) (the default) restarts the child
//! alone; [`OneForAll`](Strategy::OneForAll) stops all the others (in
//! reverse order) and starts them all again (in order), for children that
//! only make sense together; [`RestForOne`](Strategy::RestForOne) does so
//! for the child and those started after it, which depend on it.
//!
//! A [`Supervisor`] is itself a child: `.child(db_supervisor)` nests it,
//! `Permanent` by default. One that gives up (its intensity exceeded) stops
//! its children and ends as OTP's does, with
//! [`ExitReason::Shutdown`]: its parent restarts it if it is `Permanent`,
//! counted in the parent's intensity, and so on up to the root, whose
//! failure [`wait`](SupervisorHandle::wait) and
//! [`run_until_signal`](SupervisorHandle::run_until_signal) return, naming the
//! path down to the child that failed. Stopping the
//! root stops the whole tree deepest-first, in reverse order at each level.
//!
//! A child started with [`wait_ready`](ChildSpec::wait_ready) holds back the
//! next sibling until it calls [`ctx.ready()`](Context::ready); failing
//! before that fails the whole start, with the child's full path. Children
//! marked [`significant`](ChildSpec::significant) can stop their supervisor
//! when they end ([`AutoShutdown`]). Children that do not depend on one
//! another can start all at once
//! ([`StartOrder::Concurrent`](supervisor::Builder::start_order)); and one
//! [`shutdown_budget`](supervisor::Builder::shutdown_budget) bounds the
//! whole stop, for Kubernetes' and systemd's grace periods.
//!
//! # Controlling a running tree
//!
//! The [`SupervisorHandle`] takes OTP's commands, by path (`"db/pool"`):
//! [`start_child`](SupervisorHandle::start_child),
//! [`terminate_child`](SupervisorHandle::terminate_child),
//! [`restart_child`](SupervisorHandle::restart_child),
//! [`delete_child`](SupervisorHandle::delete_child),
//! [`count_children`](SupervisorHandle::count_children); refusals are typed
//! ([`ControlError`]). A [`Supervisor::dynamic`] supervisor starts empty and
//! takes its children at run time, up to a maximum.
//!
//! # Mailboxes
//!
//! A child can have a [mailbox]: a typed, bounded queue whose senders are
//! made before the tree starts and stay valid across every restart. Each
//! run receives from an [`Inbox`], given back to the mailbox when the run
//! ends; messages sent while the child restarts wait for the next run.
//!
//! ```
//! use std::time::Duration;
//! use tokio_supervisor::{mailbox, ChildSpec, Reply, Supervisor};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (tx, mailbox) = mailbox::channel::<(u32, Reply<u32>)>(64);
//! let app = Supervisor::builder("app")
//!     .child(ChildSpec::with_mailbox_fn("double", mailbox, |_ctx, mut inbox| async move {
//!         while let Some((n, reply)) = inbox.recv().await { // None once asked to stop
//!             let _ = reply.send(2 * n);
//!         }
//!         Ok(())
//!     }))
//!     .build()?
//!     .start()
//!     .await?;
//! assert_eq!(tx.request(|r| (21, r), Duration::from_secs(1)).await?, 42);
//! # app.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! A send to a child that was given up, stopped or removed is a typed
//! [`MailboxError`] naming its path; a request whose reply was lost to a
//! crash fails with [`MailboxError::ReplyLost`] rather than hang. The
//! [`mailbox`] module says what happens to each message on a crash, a
//! restart, a give-up and a removal.
//!
//! # Tasks
//!
//! One-off jobs belong to the same tree:
//! [`spawn_task`](SupervisorHandle::spawn_task) runs a future and gives its
//! typed result through a [`TaskHandle`], returned at once, as
//! `tokio::spawn` does (a refusal, such as a name in use, is a
//! [`TaskError::Refused`] from `join`);
//! [`spawn_blocking`](SupervisorHandle::spawn_blocking) runs CPU-bound work on
//! the blocking pool, a few at a time. Tasks are listed while they run,
//! stopped with the tree, aborted by name. A task that should restart is a
//! [`task_fn`] in a [`ChildSpec`]; the [`task`] module maps the vocabulary of
//! hand-written task registries.
//!
//! ```
//! # use tokio_supervisor::Supervisor;
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let jobs = Supervisor::dynamic("jobs").build()?.start().await?;
//! let report = jobs.spawn_task("report", async { 40 + 2 });
//! let digest = jobs.spawn_blocking("digest", || "data".len());
//! assert_eq!((report.join().await?, digest.join().await?), (42, 4));
//! # Ok(())
//! # }
//! ```
//!
//! # Seeing what runs
//!
//! [`SupervisorHandle::which_children`] returns a [`ChildSnapshot`] per
//! child (serializable with serde): its path, [`Phase`], starts, restarts,
//! failures, last error, uptime. [`Supervisor::subscribe`], before the
//! start, streams [`Event`]s as they happen, from the first;
//! [`SupervisorHandle::metrics`] returns the counters of the whole
//! tree ([`MetricsSnapshot`]). Each run happens inside a `tracing` span
//! `child{path, attempt}`, and lifecycle changes are logged (start and stop
//! at info, failures at warn, give-ups and intensity at error). Every child
//! is named by its full path (`app/db/pool`), in snapshots, events, errors,
//! metrics and `tracing` fields.
//!
//! # Under systemd
//!
//! With the `systemd` feature, when the process runs under systemd
//! (`NOTIFY_SOCKET` is set), the root supervisor tells it `READY=1` once
//! every child has started (for `Type=notify` units), `STATUS=` on restarts
//! and give-ups, `STOPPING=1` when the stop begins, and pings `WATCHDOG=1`
//! every half `WATCHDOG_USEC` from its own loop while the tree runs, so that
//! a wedged supervisor is restarted (`WatchdogSec=`). `docs/deploy.md` has a
//! unit file.
//!
//! # Runtime model
//!
//! A supervisor is two parts. Its rules (the child table, the ordered
//! start and stop, restarts, backoff, intensity, the answers to commands)
//! are a synchronous state machine: it takes one input at a time (a run
//! ended, a run is ready, a command, a deadline passed, a stop) with the
//! instant it happened, and says what to do (start a run, cancel it, abort
//! it, answer). One tokio task per supervisor, its driver, feeds it and
//! carries its actions out; it wakes on events only, never on an interval.
//! With the `machine` feature the state machine is exported, to drive on a
//! clock of your own (module `machine`).
//!
//! Each run of a child is one tokio task, spawned bare: the crate adds
//! nothing to its polls but the panic capture tokio would do anyway. Only a
//! supervisor stops its children, and no run outlives its supervisor's
//! [`wait`](SupervisorHandle::wait). No lock is held across an `.await`,
//! and nothing grows with the number of restarts.

#![forbid(unsafe_code)]
#![warn(
    missing_debug_implementations,
    missing_docs,
    rust_2018_idioms,
    unreachable_pub
)]

mod backoff;
mod contain;
mod context;
mod dyn_service;
mod error;
pub mod event;
mod exit;
mod fatal;
#[cfg(feature = "health")]
pub mod health;
mod lifecycle;
mod link;
#[cfg(feature = "machine")]
pub mod machine;
pub mod mailbox;
pub mod metrics;
mod panic_hook;
#[cfg(feature = "prometheus")]
pub mod prometheus;
mod restart;
mod restart_limit;
mod run;
pub mod runtime;
mod service;
mod signal;
mod spec;
pub mod supervisor;
#[cfg(feature = "systemd")]
mod systemd;
pub mod task;
mod tree;

pub use backoff::Backoff;
pub use context::Context;
pub use dyn_service::DynService;
pub use error::{ConfigError, ControlError, SupervisorError};
pub use event::{Event, EventKind};
pub use fatal::Fatal;
pub use lifecycle::{ChildSnapshot, ExitReason, Phase};
pub use mailbox::{
    Inbox, Mailbox, MailboxError, MailboxSender, MailboxService, MailboxStats, Reply,
};
pub use metrics::MetricsSnapshot;
pub use panic_hook::quiet_child_panics;
pub use service::{service_fn, BoxError, Service, ServiceFn};
pub use spec::{ChildSpec, Restart, Shutdown};
pub use supervisor::{
    AutoShutdown, ChildCounts, ShutdownOrder, StartOrder, Strategy, Supervisor, SupervisorHandle,
};
pub use task::{task_fn, TaskError, TaskFn, TaskHandle, TaskOutput};
pub use tree::{SupervisionTree, TreeNode};

/// The README's example, compiled as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The migration guide's examples, compiled as doctests too.
#[cfg(doctest)]
#[doc = include_str!("../docs/migrating.md")]
pub struct MigratingDoctests;
