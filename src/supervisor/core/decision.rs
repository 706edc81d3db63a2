//! The restart decision: a pure function of a child's policy, its restart
//! state, the supervisor's intensity window and the time.
//!
//! Kept apart from the rest of the core so that every rule can be unit-tested
//! without a runtime, and property-tested against a model.
//!
//! The order of the checks is OTP's, with the per-child breaker in front:
//!
//! 1. the restart policy: does this exit call for a restart at all?
//!    (No: the child stays terminated, or is removed if `Temporary`; nothing
//!    is counted.)
//! 2. the child's restart limit: one more restart within its window than
//!    allowed opens the circuit; the child is given up and nothing is
//!    counted toward intensity, since it is not restarted.
//! 3. the supervisor's intensity: one more restart within the period than
//!    allowed, and the supervisor escalates.
//! 4. the backoff: how long to wait before the restart.

use std::time::Duration;

use std::time::Instant;

use crate::backoff::BackoffState;
use crate::restart_limit::RestartWindow;
use crate::spec::{ChildSpec, Restart};

/// What the supervisor does after a child's run ended on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Not restarted; the child stays, terminated.
    Stay,
    /// Not restarted, and removed (a `Temporary` child).
    Remove,
    /// The child's circuit breaker opened: given up.
    GiveUp { restarts: u32, window: Duration },
    /// The supervisor's intensity was exceeded: it must stop and fail.
    Escalate,
    /// Restart after `delay`.
    Restart { delay: Duration },
    /// A periodic child's clean run is over: run it again after `delay`,
    /// alone, whatever the strategy; nothing is counted.
    Rerun { delay: Duration },
}

/// A child's mutable restart state, owned by the supervisor's loop.
#[derive(Debug)]
pub(crate) struct RestartState {
    pub(crate) backoff: BackoffState,
    /// Boxed: most children have no restart limit.
    pub(crate) breaker: Option<Box<RestartWindow>>,
}

impl RestartState {
    pub(crate) fn new(spec: &ChildSpec) -> Self {
        RestartState {
            backoff: BackoffState::new(&spec.backoff),
            breaker: spec
                .restart_limit
                .map(|l| Box::new(RestartWindow::new(l.max, l.window))),
        }
    }
}

/// Decides what follows a run of `spec` that ended after `ran_for`, at
/// `now`; `restarts`: whether its restart policy restarts it after the way
/// it ended ([`Restart::should_restart`]); `completed`: whether it returned
/// `Ok` on its own.
#[inline]
pub(crate) fn decide(
    spec: &ChildSpec,
    state: &mut RestartState,
    intensity: &mut RestartWindow,
    (restarts, completed): (bool, bool),
    ran_for: Duration,
    now: Instant,
) -> Decision {
    if let (Some(every), true) = (spec.periodic, completed) {
        // Its cadence, not a failure: the backoff starts over, and neither
        // its restart limit nor the intensity counts it.
        state.backoff.reset();
        return Decision::Rerun { delay: every };
    }
    if !restarts {
        return if spec.restart == Restart::Temporary {
            Decision::Remove
        } else {
            Decision::Stay
        };
    }
    if let Some(breaker) = &mut state.breaker {
        if breaker.record(now) {
            return Decision::GiveUp {
                restarts: breaker.max(),
                window: breaker.window(),
            };
        }
    }
    if intensity.record(now) {
        return Decision::Escalate;
    }
    Decision::Restart {
        delay: state.backoff.next_delay(&spec.backoff, ran_for),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::ExitReason;
    use crate::{service_fn, Backoff};

    fn spec(restart: Restart) -> ChildSpec {
        ChildSpec::new("c", service_fn(|_| async { Ok(()) }))
            .restart(restart)
            .backoff(Backoff::exponential(ms(100), ms(1000)).reset_after(ms(5000)))
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn failed() -> ExitReason {
        ExitReason::Failed("boom".into())
    }

    struct Fixture {
        spec: ChildSpec,
        state: RestartState,
        intensity: RestartWindow,
        t0: Instant,
    }

    impl Fixture {
        fn new(spec: ChildSpec, max: u32, period: Duration) -> Self {
            let state = RestartState::new(&spec);
            Fixture {
                spec,
                state,
                intensity: RestartWindow::new(max, period),
                t0: Instant::now(),
            }
        }
        fn exit(&mut self, reason: ExitReason, ran_for: Duration, at_ms: u64) -> Decision {
            decide(
                &self.spec,
                &mut self.state,
                &mut self.intensity,
                (self.spec.restart.should_restart(&reason), false),
                ran_for,
                self.t0 + ms(at_ms),
            )
        }
    }

    #[test]
    fn policy_decides_first() {
        let mut f = Fixture::new(spec(Restart::Transient), 0, ms(1000));
        assert_eq!(f.exit(ExitReason::Completed, ms(1), 0), Decision::Stay);
        let mut f = Fixture::new(spec(Restart::Temporary), 0, ms(1000));
        assert_eq!(f.exit(failed(), ms(1), 0), Decision::Remove);
        // Neither counted toward intensity 0, which any restart would exceed.
        assert_eq!(f.intensity.count(f.t0), 0);
    }

    #[test]
    fn permanent_restarts_after_ok_with_growing_delay() {
        let mut f = Fixture::new(spec(Restart::Permanent), 100, ms(1000));
        assert_eq!(
            f.exit(ExitReason::Completed, ms(1), 0),
            Decision::Restart { delay: ms(100) }
        );
        assert_eq!(
            f.exit(ExitReason::Panicked("p".into()), ms(1), 1),
            Decision::Restart { delay: ms(200) }
        );
    }

    #[test]
    fn intensity_exceeded_escalates() {
        let mut f = Fixture::new(spec(Restart::Transient), 2, ms(1000));
        assert!(matches!(
            f.exit(failed(), ms(1), 0),
            Decision::Restart { .. }
        ));
        assert!(matches!(
            f.exit(failed(), ms(1), 10),
            Decision::Restart { .. }
        ));
        assert_eq!(f.exit(failed(), ms(1), 20), Decision::Escalate);
    }

    #[test]
    fn breaker_opens_before_intensity_counts() {
        let s = spec(Restart::Permanent).restart_limit(2, ms(10_000));
        let mut f = Fixture::new(s, 2, ms(10_000));
        assert!(matches!(
            f.exit(failed(), ms(1), 0),
            Decision::Restart { .. }
        ));
        assert!(matches!(
            f.exit(failed(), ms(1), 1),
            Decision::Restart { .. }
        ));
        assert_eq!(
            f.exit(failed(), ms(1), 2),
            Decision::GiveUp {
                restarts: 2,
                window: ms(10_000)
            }
        );
        // The given-up exit was not a restart: intensity holds 2, not 3.
        assert_eq!(f.intensity.count(f.t0 + ms(2)), 2);
    }

    /// The bug other supervisors shipped: resetting the breaker together with
    /// the backoff after a stable run lets a child fail forever.
    #[test]
    fn stable_run_resets_the_delay_but_never_the_breaker() {
        let s = spec(Restart::Transient).restart_limit(3, ms(60_000));
        let mut f = Fixture::new(s, 1000, ms(60_000));
        let mut t = 0;
        let mut decisions = vec![];
        for _ in 0..4 {
            t += 5001; // each run lasts just past the stable time
            decisions.push(f.exit(failed(), ms(5001), t));
        }
        assert_eq!(decisions[0], Decision::Restart { delay: ms(100) });
        assert_eq!(
            decisions[1],
            Decision::Restart { delay: ms(100) },
            "delay reset"
        );
        assert_eq!(decisions[2], Decision::Restart { delay: ms(100) });
        assert!(
            matches!(decisions[3], Decision::GiveUp { restarts: 3, .. }),
            "{decisions:?}"
        );
    }
}
