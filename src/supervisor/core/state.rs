//! A child's state: one enum whose variants carry their own data, so that
//! no combination of loose flags can say something impossible (a child
//! "running" with a restart timer armed, "ready" and "not started").
//!
//! ```text
//!   Pending ──► Starting ──► Running ──► Stopping ──► Terminated
//!      ▲           │            │           │             │
//!      │           └────────────┴───────────┴─► BackingOff│
//!      └──────────────── a group restart ◄────────────────┘
//! ```
//!
//! The public [`Phase`] is derived from it ([`State::phase`]); `Pending`
//! shows the phase the child had when a plan took it.

use std::time::Instant;

use super::deadlines::Key;
use crate::lifecycle::{ExitReason, Phase};

/// Where a child is, with what that place needs.
#[derive(Debug)]
pub(crate) enum State {
    /// Waiting for a start step of the current plan: the initial start, or
    /// a group restart. `shown` is its phase to the outside meanwhile.
    Pending { shown: Phase },
    /// A run that is not ready yet (a ready-gated child).
    Starting {
        run: Run,
        /// Who waits for its readiness.
        by: By,
        /// An automatic restart (shown as `Restarting`), not a first start
        /// or one by hand.
        restart: bool,
        /// Its readiness deadline.
        deadline: Option<Key>,
    },
    /// A ready run.
    Running {
        run: Run,
        /// Its heartbeat deadline; once declared hung, its kill deadline.
        deadline: Option<Key>,
    },
    /// A run the supervisor asked to stop (or aborted), until it ends.
    Stopping {
        run: Run,
        /// What follows its end.
        then: Then,
        /// Which wait of the plan counts it until its end, if any.
        counted: Counted,
        /// When it is aborted if it has not ended.
        kill: Option<Key>,
    },
    /// Waiting for its own restart (none: until asked).
    BackingOff { restart: Option<Key> },
    /// Not running, and not started again unless asked.
    Terminated(ExitReason),
}

/// A run, as the core knows it (its task and context are the driver's).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Run {
    pub(crate) id: u64,
    pub(crate) started_at: Instant,
    /// How it ends, whatever its task returns, once the supervisor has
    /// decided it (the first decision holds).
    pub(crate) verdict: Option<Verdict>,
}

impl Run {
    /// Sets how the run ends, unless that is decided already.
    pub(crate) fn decide(&mut self, verdict: Verdict) {
        self.verdict.get_or_insert(verdict);
    }
}

/// Who waits for a starting run's readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum By {
    /// The plan's current start step (or nobody, for a restart).
    Plan,
    /// A request (`start_child`, `restart_child`): an end before ready
    /// answers it, and is neither restarted nor counted.
    Request,
    /// A concurrent start, which waits for every such run.
    Concurrent,
}

/// What follows a stopping run's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Then {
    /// It stays terminated (a request, or the supervisor's stop).
    Stay,
    /// The group restart under way starts it again.
    Regroup,
}

/// Which wait of the current plan counts a stopping run until it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counted {
    /// None.
    No,
    /// Stopped at once with its siblings by a group restart
    /// (`ShutdownOrder::Concurrent`): in `Core::draining`.
    Drain,
    /// Stopped before it was ready in a concurrent start: in
    /// `Core::awaiting_ready`, which waits for its end.
    Start,
}

/// How a run ends, decided by the supervisor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Not ready by its deadline: aborted.
    ReadyTimeout,
    /// No heartbeat by its deadline: cancelled.
    Hung,
    /// A nested supervisor whose subtree was killed.
    Killed,
}

impl State {
    /// The run, if the child has one that has not ended.
    pub(crate) fn run(&self) -> Option<&Run> {
        match self {
            State::Starting { run, .. }
            | State::Running { run, .. }
            | State::Stopping { run, .. } => Some(run),
            _ => None,
        }
    }

    pub(crate) fn run_mut(&mut self) -> Option<&mut Run> {
        match self {
            State::Starting { run, .. }
            | State::Running { run, .. }
            | State::Stopping { run, .. } => Some(run),
            _ => None,
        }
    }

    /// The child's one deadline, if any.
    pub(crate) fn deadline(&self) -> Option<Key> {
        match self {
            State::Starting { deadline, .. } | State::Running { deadline, .. } => *deadline,
            State::Stopping { kill, .. } => *kill,
            State::BackingOff { restart } => *restart,
            State::Pending { .. } | State::Terminated(_) => None,
        }
    }

    /// Takes the child's deadline (to remove it from the queue).
    pub(crate) fn take_deadline(&mut self) -> Option<Key> {
        match self {
            State::Starting { deadline, .. } | State::Running { deadline, .. } => deadline.take(),
            State::Stopping { kill, .. } => kill.take(),
            State::BackingOff { restart } => restart.take(),
            State::Pending { .. } | State::Terminated(_) => None,
        }
    }

    /// Sets the child's deadline (where its state has one).
    pub(crate) fn set_deadline(&mut self, key: Option<Key>) {
        match self {
            State::Starting { deadline, .. } | State::Running { deadline, .. } => *deadline = key,
            State::Stopping { kill, .. } => *kill = key,
            State::BackingOff { restart } => *restart = key,
            State::Pending { .. } | State::Terminated(_) => {}
        }
    }

    /// The phase shown to the outside.
    pub(crate) fn phase(&self) -> Phase {
        match self {
            State::Pending { shown } => shown.clone(),
            State::Starting { restart: true, .. } => Phase::Restarting,
            State::Starting { .. } => Phase::Starting,
            State::Running { .. } => Phase::Running,
            State::Stopping { .. } => Phase::Stopping,
            State::BackingOff { .. } => Phase::BackingOff,
            State::Terminated(reason) => Phase::Terminated(reason.clone()),
        }
    }

    /// The phase shown, with any exit reason replaced by a placeholder:
    /// made with no reference count to move, for comparing phases.
    pub(crate) fn shown(&self) -> Phase {
        match self {
            State::Pending {
                shown: Phase::Terminated(_),
            }
            | State::Terminated(_) => Phase::Terminated(ExitReason::Completed),
            State::Pending { shown } => shown.clone(),
            State::Starting { restart: true, .. } => Phase::Restarting,
            State::Starting { .. } => Phase::Starting,
            State::Running { .. } => Phase::Running,
            State::Stopping { .. } => Phase::Stopping,
            State::BackingOff { .. } => Phase::BackingOff,
        }
    }

    /// Whether the child is terminated (and not pending).
    pub(crate) fn is_terminated(&self) -> bool {
        matches!(self, State::Terminated(_))
    }

    /// Whether the child was given up by its circuit breaker.
    pub(crate) fn is_given_up(&self) -> bool {
        matches!(self, State::Terminated(ExitReason::CircuitOpen { .. }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run() -> Run {
        Run {
            id: 1,
            started_at: Instant::now(),
            verdict: None,
        }
    }

    #[test]
    fn the_phase_shown_follows_the_state() {
        let starting = |restart| State::Starting {
            run: run(),
            by: By::Plan,
            restart,
            deadline: None,
        };
        assert_eq!(starting(false).phase(), Phase::Starting);
        assert_eq!(starting(true).phase(), Phase::Restarting);
        let pending = State::Pending {
            shown: Phase::BackingOff,
        };
        assert_eq!(pending.phase(), Phase::BackingOff);
        let stopping = State::Stopping {
            run: run(),
            then: Then::Stay,
            counted: Counted::No,
            kill: None,
        };
        assert_eq!(stopping.phase(), Phase::Stopping);
        assert_eq!(starting(true).shown(), Phase::Restarting);
        assert_eq!(
            State::Terminated(ExitReason::Failed("x".into())).shown(),
            Phase::Terminated(ExitReason::Completed),
            "the reason is a placeholder"
        );
    }

    #[test]
    fn only_runs_have_runs() {
        assert!(State::BackingOff { restart: None }.run().is_none());
        assert!(State::Terminated(ExitReason::Completed).run().is_none());
        assert!(State::Running {
            run: run(),
            deadline: None
        }
        .run()
        .is_some());
    }

    #[test]
    fn the_first_verdict_holds() {
        let mut r = run();
        r.decide(Verdict::Hung);
        r.decide(Verdict::Killed);
        assert_eq!(r.verdict, Some(Verdict::Hung));
    }
}
