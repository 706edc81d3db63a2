//! Dedicated runtimes for subtrees:
//! [`Builder::dedicated_runtime`](crate::supervisor::Builder::dedicated_runtime).
//!
//! # Why
//!
//! CPU-heavy children (a parser, a risk engine) starve the I/O tasks that
//! share their worker threads. Giving their subtree a runtime of its own,
//! on its own OS threads, isolates them, while the tree stays one tree: the
//! parent still starts, stops and restarts the subtree, its failure still
//! escalates, and the handles, events, snapshots and metrics see it as any
//! other nested supervisor.
//!
//! # How
//!
//! When the nested supervisor starts, it builds its runtime and runs its
//! loop on a thread of its own (`{thread_name}`); its children run on the
//! runtime's workers (`{thread_name}-w`), or on that one thread for a
//! current-thread runtime. What crosses the boundary is runtime-agnostic
//! (a `CancellationToken`, channels, the shared tree). When the loop ends,
//! that thread drops the runtime, which joins its workers, and the parent
//! joins the thread (on the blocking pool), so no thread of the subtree
//! outlives it.

use std::fmt;
use std::io;

/// How to build the runtime of a subtree; see the [module docs](self).
///
/// ```
/// use tokio_supervisor::runtime::RuntimeConfig;
///
/// let cpu = RuntimeConfig::multi_thread(4).thread_name("risk");
/// let solo = RuntimeConfig::current_thread().thread_name("parser");
/// # let _ = (cpu, solo);
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RuntimeConfig {
    workers: Option<usize>,
    thread_name: String,
}

impl RuntimeConfig {
    /// A multi-threaded runtime with `workers` worker threads, spawned as
    /// the nested supervisor starts: zero is taken as 1.
    #[must_use]
    pub fn multi_thread(workers: usize) -> Self {
        RuntimeConfig {
            workers: Some(workers.max(1)),
            thread_name: "supervisor".to_owned(),
        }
    }

    /// A current-thread runtime: the whole subtree runs on one OS thread of
    /// its own.
    #[must_use]
    pub fn current_thread() -> Self {
        RuntimeConfig {
            workers: None,
            thread_name: "supervisor".to_owned(),
        }
    }

    /// Names the threads: the subtree's thread is `name`, its workers
    /// `name-w` (Linux shows the first 15 bytes). A name with a NUL byte
    /// is refused when the supervisor is built
    /// ([`ConfigError::InvalidRuntime`](crate::ConfigError::InvalidRuntime)).
    #[must_use]
    pub fn thread_name(mut self, name: impl Into<String>) -> Self {
        self.thread_name = name.into();
        self
    }

    /// The name of the subtree's own thread.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.thread_name
    }

    pub(crate) fn build(&self) -> io::Result<tokio::runtime::Runtime> {
        let mut b = match self.workers {
            Some(n) => {
                let mut b = tokio::runtime::Builder::new_multi_thread();
                b.worker_threads(n);
                b
            }
            None => tokio::runtime::Builder::new_current_thread(),
        };
        b.thread_name(format!("{}-w", self.thread_name))
            .enable_all()
            .build()
    }
}

impl fmt::Debug for RuntimeConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.workers {
            Some(n) => write!(f, "RuntimeConfig::multi_thread({n})")?,
            None => f.write_str("RuntimeConfig::current_thread()")?,
        }
        write!(f, ".thread_name({:?})", self.thread_name)
    }
}
