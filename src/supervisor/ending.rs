//! A run's exit as its supervisor keeps it: [`Ending`].
//!
//! Most exits are followed by a restart, and nothing reads their reason
//! before the next exit replaces it: no event subscriber, no log line at
//! that level, no snapshot. So a run that returned `Err` keeps the error as
//! it returned it, and the text of [`ExitReason::Failed`] (the error and its
//! sources, joined with `": "`) is rendered only when something shows it: a
//! snapshot, an event, a log line, a task's outcome, an error. Rendering it
//! at every exit was about 6 % of a restart's instructions and 4 of its
//! atomic operations (BENCHMARKS.md, *Profile*): the formatting machinery,
//! a comparison with the previous message to share its allocation, and the
//! reference counts of that shared text.
//!
//! The error is dropped at the child's next exit (or as the child is
//! removed): a failure replaces it, and a clean exit renders it into the
//! child's `earlier_failure` first. A snapshot renders a copy and leaves it
//! in place.

use std::fmt;
use std::sync::Arc;

use crate::contain::{render_error, Contained};
use crate::lifecycle::ExitReason;
use crate::service::BoxError;
use crate::spec::Restart;

/// The largest rendering buffer a supervisor keeps between failures.
const SCRATCH_KEPT: usize = 1024;

/// How a run ended, its failure's text not rendered yet (see the module).
pub(crate) enum Ending {
    /// Any exit but a returned error: its reason as it is.
    Reason(ExitReason),
    /// `run` returned this error: [`ExitReason::Failed`].
    Failed(Contained<BoxError>),
}

impl Ending {
    /// The exit reason, its failure's text rendered now.
    pub(crate) fn reason(&self) -> ExitReason {
        match self {
            Ending::Reason(reason) => reason.clone(),
            Ending::Failed(err) => ExitReason::Failed(Arc::from(text_of(err))),
        }
    }

    /// This exit with its failure's text rendered now (into `scratch`),
    /// shared with `last`'s text if that says the same: for an exit shown
    /// at once (an event, a task's outcome), so that a crash loop watched
    /// by a subscriber allocates no message for it.
    pub(crate) fn rendered(self, last: Option<&Ending>, scratch: &mut String) -> Ending {
        let Ending::Failed(err) = self else {
            return self;
        };
        render_error(&**err, scratch);
        let text = shared(scratch, last);
        if scratch.capacity() > SCRATCH_KEPT {
            *scratch = String::new(); // one huge message is not kept
        }
        Ending::Reason(ExitReason::Failed(text))
    }

    /// Whether this is an abnormal exit ([`ExitReason::is_failure`]).
    pub(crate) fn is_failure(&self) -> bool {
        match self {
            Ending::Reason(reason) => reason.is_failure(),
            Ending::Failed(_) => true,
        }
    }

    /// Whether a child with this `restart` policy is restarted after it
    /// ([`Restart::should_restart`]).
    pub(crate) fn restarts(&self, restart: Restart) -> bool {
        match self {
            Ending::Reason(reason) => restart.should_restart(reason),
            Ending::Failed(_) => restart != Restart::Temporary,
        }
    }

    /// The reason's label ([`ExitReason::as_str`]).
    pub(crate) fn as_str(&self) -> &'static str {
        match self {
            Ending::Reason(reason) => reason.as_str(),
            Ending::Failed(_) => "failed",
        }
    }
}

/// An error's text: it and its sources, joined with `": "`.
fn text_of(err: &BoxError) -> String {
    let mut text = String::new();
    render_error(&**err, &mut text);
    text
}

/// `text` as an exit's message: the previous exit's own, if it was
/// rendered and says the same, else a new one (a crash loop whose text is
/// shown allocates no message).
pub(crate) fn shared(text: &str, last: Option<&Ending>) -> Arc<str> {
    match last {
        Some(Ending::Reason(ExitReason::Failed(m) | ExitReason::Panicked(m))) if **m == *text => {
            m.clone()
        }
        _ => Arc::from(text),
    }
}

impl From<ExitReason> for Ending {
    fn from(reason: ExitReason) -> Self {
        Ending::Reason(reason)
    }
}

/// As [`ExitReason`]'s: for the log lines, rendered only if they are written
/// (into a buffer of its own, not the shared text a reason would allocate).
impl fmt::Display for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Reason(reason) => reason.fmt(f),
            Ending::Failed(err) => write!(f, "failed: {}", text_of(err)),
        }
    }
}

impl fmt::Debug for Ending {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Ending::Reason(reason) => reason.fmt(f),
            // Its text, not the user's `Debug` (which may panic).
            Ending::Failed(err) => f.debug_tuple("Failed").field(&text_of(err)).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("connecting")]
    struct Connecting(#[source] std::io::Error);

    /// A returned error reads as the reason rendered at the exit did: the
    /// error and its sources.
    #[test]
    fn a_failure_renders_its_error_and_sources() {
        let ending = Ending::Failed(Contained::new(Box::new(Connecting(std::io::Error::other(
            "refused",
        )))));
        assert_eq!(
            ending.reason(),
            ExitReason::Failed("connecting: refused".into())
        );
        assert_eq!(ending.to_string(), "failed: connecting: refused");
        assert_eq!(ending.as_str(), "failed");
        assert!(ending.is_failure());
        // Rendered again, the same text: the error stays in place.
        assert_eq!(ending.reason(), ending.reason());
    }

    /// Every policy decides on a kept error as on the rendered reason.
    #[test]
    fn restart_policies_read_a_kept_error_as_a_failure() {
        let kept = Ending::Failed(Contained::new("down".into()));
        let rendered = kept.reason();
        for restart in [Restart::Permanent, Restart::Transient, Restart::Temporary] {
            assert_eq!(kept.restarts(restart), restart.should_restart(&rendered));
        }
        let done = Ending::from(ExitReason::Completed);
        assert!(!done.is_failure());
        assert!(done.restarts(Restart::Permanent));
        assert!(!done.restarts(Restart::Transient));
    }

    /// A crash loop's repeated message is the previous exit's allocation.
    #[test]
    fn a_repeated_message_is_shared() {
        let last = Ending::Reason(ExitReason::Panicked("db down".into()));
        let Ending::Reason(ExitReason::Panicked(m)) = &last else {
            unreachable!()
        };
        assert!(Arc::ptr_eq(&shared("db down", Some(&last)), m));
        let other = shared("db up", Some(&last));
        assert!(!Arc::ptr_eq(&other, m));
        assert_eq!(&*other, "db up");
        let failed = Ending::Failed(Contained::new("db down".into()));
        assert_eq!(&*shared("db down", Some(&failed)), "db down");
        assert_eq!(&*shared("x", None), "x");
    }

    /// Rendered at once (an event is watched), a failure shares the
    /// previous exit's text when it says the same, and renders as a reason
    /// would otherwise.
    #[test]
    fn a_rendered_failure_shares_the_previous_text() {
        let mut scratch = String::new();
        let first = Ending::Failed(Contained::new("db down".into())).rendered(None, &mut scratch);
        assert_eq!(first.reason(), ExitReason::Failed("db down".into()));
        let Ending::Reason(ExitReason::Failed(m)) = &first else {
            panic!("rendered: {first:?}")
        };
        let again =
            Ending::Failed(Contained::new("db down".into())).rendered(Some(&first), &mut scratch);
        let Ending::Reason(ExitReason::Failed(n)) = &again else {
            panic!("rendered: {again:?}")
        };
        assert!(Arc::ptr_eq(m, n), "the same allocation");
        let other =
            Ending::Failed(Contained::new("db up".into())).rendered(Some(&again), &mut scratch);
        assert_eq!(other.reason(), ExitReason::Failed("db up".into()));
        let done = Ending::from(ExitReason::Completed).rendered(Some(&other), &mut scratch);
        assert_eq!(done.reason(), ExitReason::Completed);
    }
}
