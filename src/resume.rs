//! A run's task, kept for the child's next run.
//!
//! A run that ends on its own (not stopped by its supervisor) is usually
//! restarted at once: a crash loop with zero backoff, a `Permanent` child
//! that returned. Spawning a task for each run costs what bare tokio's
//! `spawn` costs: an aligned allocation for the task, its registration in
//! the runtime, and the same undone as it completes. On the restart path
//! that was about a sixth of the time (BENCHMARKS.md). So a run's task
//! does not end with its run: it drops the run's future, reports the end
//! (the supervisor's loop decides on it), and waits for the loop's word
//! ([`Resume`]). The loop either hands it the next run of the same child
//! (its context and span), or lets it go, and the task ends. A restart is
//! still a new run in every way the crate shows: a fresh context, attempt
//! number and span, the old future dropped before the end is reported;
//! only the tokio task (and its id) is the same.
//!
//! The loop holds the waiting task only while it handles that run's end
//! ([`Parked`], carried by the end's message): if that does not start the
//! child again (a backoff, a group restart, no restart at all), dropping
//! it lets the task go. So no task waits past one turn of the loop. A run
//! that panicked, or that its supervisor stopped, does not wait: its task
//! ends.
//!
//! # Invariants
//!
//! * Every run reports exactly one end. A run handed to a task that is
//!   dropped before it takes it (its runtime shutting down) is reported as
//!   aborted as the task is dropped ([`Resume::abandon`]).
//! * The state is `Waiting` before the end that carries the `Parked` is
//!   sent, so the loop never finds an earlier round's word in it.
//! * A `Resume` belongs to one task: it is made by that task (or for it,
//!   as it is spawned) and kept in the contexts of its runs only.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};

use crate::service::Outcome;
use crate::Context;

/// The next run, as the loop hands it: its context and its span.
pub(crate) type NextRun = (Context, Option<tracing::Span>);

/// Where a task that has reported its run's end waits for the next one.
/// One per task, made at its first wait (or as it is spawned, for a task
/// whose runs have spans) and kept across its runs. The waiting is polled
/// by the run's own future (`service::Report`), so a task holds no other
/// future for it.
pub(crate) struct Resume {
    state: parking_lot::Mutex<State>,
    /// The task's runs have spans: it takes only runs with one, and a
    /// task without takes only runs without (see `service::Runs`).
    traced: bool,
}

enum State {
    /// No word yet, and the waiting task's waker (set as the task arms it;
    /// `None` only in a `Resume` no task has armed yet).
    Waiting(Option<Waker>),
    /// The loop handed it the next run.
    Next(NextRun),
    /// The loop let it go: the task ends.
    Released,
    /// The task was dropped: nothing can be handed to it.
    Gone,
}

impl Resume {
    pub(crate) fn new(traced: bool) -> Arc<Self> {
        Arc::new(Resume {
            state: parking_lot::Mutex::new(State::Waiting(None)),
            traced,
        })
    }

    /// Called by the task, from its poll, before it reports an end that
    /// carries a [`Parked`] of this: the loop's word then wakes `waker`, so
    /// the task returns `Pending` without looking for a word first.
    #[inline]
    pub(crate) fn arm(&self, waker: &Waker) {
        *self.state.lock() = State::Waiting(Some(waker.clone()));
    }

    /// The loop's word: the next run, or `None` (the task ends).
    #[inline]
    pub(crate) fn poll_next(&self, cx: &mut TaskContext<'_>) -> Poll<Option<NextRun>> {
        let mut state = self.state.lock();
        match std::mem::replace(&mut *state, State::Waiting(None)) {
            State::Next(next) => Poll::Ready(Some(next)),
            State::Waiting(waker) => {
                let waker = match waker {
                    Some(w) if w.will_wake(cx.waker()) => w,
                    _ => cx.waker().clone(),
                };
                *state = State::Waiting(Some(waker));
                Poll::Pending
            }
            ended @ (State::Released | State::Gone) => {
                *state = ended;
                Poll::Ready(None)
            }
        }
    }

    /// The loop's word, `word` made into a state, if the task still waits
    /// for one: stored, and the task woken. Gives `word` back if not.
    fn answer<T>(&self, word: T, state_of: impl FnOnce(T) -> State) -> Result<(), T> {
        let mut state = self.state.lock();
        let State::Waiting(waker) = &mut *state else {
            return Err(word);
        };
        let waker = waker.take();
        *state = state_of(word);
        drop(state);
        if let Some(w) = waker {
            w.wake();
        }
        Ok(())
    }

    /// The task is dropped: nothing can be handed to it any more, and a
    /// run handed to it that it did not take is reported as aborted.
    pub(crate) fn abandon(&self) {
        let before = std::mem::replace(&mut *self.state.lock(), State::Gone);
        if let State::Next((ctx, _span)) = before {
            ctx.report_end(Outcome::Aborted, Parked::none());
        }
    }
}

/// The loop's hold on a task waiting for its word, carried by its run's
/// end. Dropped without [`hand`](Self::hand), it lets the task go.
pub(crate) struct Parked(Option<Arc<Resume>>);

impl Parked {
    #[inline]
    pub(crate) fn new(resume: Arc<Resume>) -> Self {
        Parked(Some(resume))
    }

    /// No task waits: the run's task ends with it. (An empty `Parked`
    /// rather than an `Option`: the end's message stays as small as before.)
    pub(crate) fn none() -> Self {
        Parked(None)
    }

    /// Whether a task waits on this.
    #[inline]
    pub(crate) fn is_waiting(&self) -> bool {
        self.0.is_some()
    }

    /// The waiting task's `Resume`, if it would take a run with a span
    /// (`traced`) or without one, as `hand` checks.
    #[inline]
    pub(crate) fn resume_for(&self, traced: bool) -> Option<&Arc<Resume>> {
        self.0.as_ref().filter(|r| r.traced == traced)
    }

    /// Hands the task the next run; gives it back if the task is gone, or
    /// if the run has a span and the task's runs have none (a subscriber
    /// came since), or the other way round: then the run gets a task of
    /// its own.
    #[inline]
    pub(crate) fn hand(mut self, next: NextRun) -> Result<(), NextRun> {
        let Some(resume) = self.0.take_if(|r| r.traced == next.1.is_some()) else {
            return Err(next);
        };
        resume.answer(next, State::Next)
    }
}

impl Drop for Parked {
    fn drop(&mut self) {
        if let Some(resume) = self.0.take() {
            // Not waiting any more (gone): nothing to let go.
            let _ = resume.answer((), |()| State::Released);
        }
    }
}

impl std::fmt::Debug for Parked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Parked")
    }
}
