//! [`Fatal`]: an error not worth retrying.
//!
//! A child that finds its configuration wrong, its credentials refused or
//! its input corrupt gains nothing from a restart: each one fails the same
//! way until the restart limit or the supervisor's intensity gives up,
//! after needless backoffs and log noise. Returning the error wrapped in
//! [`Fatal`] gives the child up at once, whatever its [`Restart`]
//! policy, with [`ExitReason::Fatal`] visible in its snapshot, its
//! `Exited` event and its log line. Nothing is counted toward the
//! intensity, since nothing is restarted.
//!
//! [`Restart`]: crate::Restart
//! [`ExitReason::Fatal`]: crate::ExitReason::Fatal

use std::fmt;

use crate::BoxError;

/// An error that gives its child up at once instead of restarting it,
/// whatever its [`Restart`](crate::Restart) policy, with
/// [`ExitReason::Fatal`](crate::ExitReason::Fatal) in its snapshot, event
/// and log line. Nothing is counted toward the intensity, since nothing is
/// restarted.
///
/// ```
/// use tokio_supervisor::{BoxError, Context, Fatal, Service};
///
/// struct Feed { token: String }
///
/// impl Service for Feed {
///     async fn run(&self, ctx: Context) -> Result<(), BoxError> {
///         if self.token.is_empty() {
///             // Restarting cannot fix this one.
///             return Err(Fatal::new("no API token configured").into());
///         }
///         ctx.cancelled().await;
///         Ok(())
///     }
/// }
/// # let _ = Feed { token: String::new() };
/// ```
pub struct Fatal(BoxError);

impl Fatal {
    /// Wraps `error` (any error, or a message) as fatal.
    pub fn new(error: impl Into<BoxError>) -> Self {
        Fatal(error.into())
    }

    /// The error inside.
    #[must_use]
    pub fn into_inner(self) -> BoxError {
        self.0
    }
}

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Fatal").field(&self.0).finish()
    }
}

impl std::error::Error for Fatal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}
