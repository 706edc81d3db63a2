//! Stop signals: SIGINT and SIGTERM on unix, Ctrl+C elsewhere.
//!
//! The handlers are installed as `run_until_signal` is first polled: called
//! on the handle `spawn` returns, that is while the children start, so a
//! signal that arrives during start-up is not lost (nor does it kill the
//! process with the default disposition).

use std::io;

pub(crate) struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    pub(crate) fn new() -> io::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            // tokio panics on a runtime without its IO driver: an error.
            let listen = |kind| {
                std::panic::catch_unwind(|| signal(kind)).unwrap_or_else(|_| {
                    Err(io::Error::other(
                        "the tokio runtime has no IO driver (enable_io or enable_all)",
                    ))
                })
            };
            Ok(Signals {
                int: listen(SignalKind::interrupt())?,
                term: listen(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        {
            Ok(Signals {})
        }
    }

    /// Waits for the next stop signal and names it.
    pub(crate) async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => "SIGINT",
                _ = self.term.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            match tokio::signal::ctrl_c().await {
                Ok(()) => "ctrl-c",
                Err(_) => std::future::pending().await,
            }
        }
    }
}
