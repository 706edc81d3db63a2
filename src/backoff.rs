//! How long to wait before restarting a child.
//!
//! # Why backoff, when OTP has none
//!
//! An Erlang process restarts in microseconds and a crash loop is caught by
//! the supervisor's restart intensity. A tokio service usually fails because
//! something outside the process is down (a feed, a database); restarting it
//! at once, a thousand times a second, only hammers that dependency. So each
//! child waits a [`Backoff`] delay before its next attempt: none, fixed, or
//! exponential with a cap and optional jitter.
//!
//! The delay grows with each consecutive failure and goes back to the
//! initial value after the child has run stably for
//! [`reset_after`](Backoff::reset_after). That reset concerns the delay only:
//! it never clears the child's restart limit (circuit breaker) or the
//! supervisor's intensity window, which keep counting restarts in their own
//! sliding windows. (Resetting them too is a classic bug: a child that fails
//! just after each reset then never trips its breaker.)
//!
//! Jitter is drawn from a small seeded generator: pass
//! [`seed`](Backoff::seed) for reproducible delays in tests.

use std::time::Duration;

/// Delay policy applied before each restart of a child.
///
/// The default is exponential from 100 ms, doubling, capped at 30 s, with no
/// jitter, reset after 30 s of stable running.
///
/// ```
/// use std::time::Duration;
/// use tokio_supervisor::Backoff;
///
/// let b = Backoff::exponential(Duration::from_millis(100), Duration::from_secs(5))
///     .multiplier(3.0)
///     .jitter(0.2)
///     .reset_after(Duration::from_secs(60));
/// assert_eq!(b.base_delay(0), Duration::from_millis(100));
/// assert_eq!(b.base_delay(1), Duration::from_millis(300));
/// assert_eq!(b.base_delay(10), Duration::from_secs(5)); // capped
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    kind: Kind,
    jitter: f64,
    reset_after: Duration,
    seed: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    None,
    Fixed(Duration),
    Exponential {
        initial: Duration,
        max: Duration,
        multiplier: f64,
    },
}

const DEFAULT_RESET_AFTER: Duration = Duration::from_secs(30);

impl Default for Backoff {
    fn default() -> Self {
        Backoff::exponential(Duration::from_millis(100), Duration::from_secs(30))
    }
}

impl Backoff {
    /// Restart at once. A zero delay never touches the timer.
    #[must_use]
    pub fn none() -> Self {
        Backoff {
            kind: Kind::None,
            jitter: 0.0,
            reset_after: DEFAULT_RESET_AFTER,
            seed: None,
        }
    }

    /// Wait the same `delay` before every restart.
    ///
    /// Zero restarts at once; a delay too long to represent as a deadline
    /// (`Duration::MAX`) never restarts by itself: the child backs off until
    /// the stop, or until [`terminate_child`](crate::SupervisorHandle::terminate_child)
    /// and [`restart_child`](crate::SupervisorHandle::restart_child).
    #[must_use]
    pub fn fixed(delay: Duration) -> Self {
        Backoff {
            kind: Kind::Fixed(delay),
            ..Backoff::none()
        }
    }

    /// Wait `initial`, then `initial × multiplier`, … up to `max`. The
    /// multiplier is 2 unless set with [`multiplier`](Self::multiplier).
    ///
    /// `initial` must not exceed `max` (`build` refuses it with
    /// [`ConfigError::InvalidBackoff`](crate::ConfigError::InvalidBackoff)).
    /// Both may be zero; a delay too long to represent as a deadline
    /// (`max` of `Duration::MAX` reached) never restarts by itself, as
    /// with [`fixed`](Self::fixed).
    #[must_use]
    pub fn exponential(initial: Duration, max: Duration) -> Self {
        Backoff {
            kind: Kind::Exponential {
                initial,
                max,
                multiplier: 2.0,
            },
            ..Backoff::none()
        }
    }

    /// Sets the growth factor of an exponential backoff: finite and at
    /// least 1 (1 keeps the initial delay; `build` refuses a NaN, an
    /// infinite or a smaller one with
    /// [`ConfigError::InvalidBackoff`](crate::ConfigError::InvalidBackoff)).
    /// A delay that grows past `max` is `max`. It has no effect on the
    /// other kinds.
    #[must_use]
    pub fn multiplier(mut self, multiplier: f64) -> Self {
        if let Kind::Exponential { multiplier: m, .. } = &mut self.kind {
            *m = multiplier;
        }
        self
    }

    /// Sets the jitter fraction, from 0 (none, the default) to 1: each delay
    /// is drawn uniformly from `[delay × (1 − jitter), delay]`, so the cap is
    /// never exceeded. `build` refuses a fraction outside `0..=1` (or NaN)
    /// with [`ConfigError::InvalidBackoff`](crate::ConfigError::InvalidBackoff).
    #[must_use]
    pub fn jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction;
        self
    }

    /// Sets how long a run must last for the next failure to start again from
    /// the initial delay (30 s by default). Zero resets after every run
    /// (every restart waits the initial delay); `Duration::MAX` never resets.
    ///
    /// This resets the delay only, never the child's restart limit or the
    /// supervisor's intensity, which keep counting restarts in their own
    /// sliding windows. (Resetting them too is a classic bug: a child that
    /// fails just after each reset then never trips its breaker.)
    #[must_use]
    pub fn reset_after(mut self, stable: Duration) -> Self {
        self.reset_after = stable;
        self
    }

    /// Seeds the jitter generator, for reproducible delays. Without a seed
    /// each child draws its own random seed.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// The delay before restart number `attempt + 1` since the last reset,
    /// before jitter (`attempt` 0 is the first restart).
    #[must_use]
    pub fn base_delay(&self, attempt: u32) -> Duration {
        match self.kind {
            Kind::None => Duration::ZERO,
            Kind::Fixed(d) => d,
            Kind::Exponential {
                initial,
                max,
                multiplier,
            } => {
                // Integer nanoseconds times a float factor, rounded: exact for
                // the usual whole multipliers, and saturating at `max`.
                let exp = i32::try_from(attempt).unwrap_or(i32::MAX);
                let nanos = initial.as_nanos() as f64 * multiplier.powi(exp);
                if !nanos.is_finite() || nanos >= max.as_nanos() as f64 {
                    max
                } else {
                    Duration::from_nanos(nanos.round() as u64)
                }
            }
        }
    }

    /// Checks the parameters; the message says what is wrong.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.jitter) {
            return Err(format!("jitter must be within 0..=1, got {}", self.jitter));
        }
        if let Kind::Exponential {
            initial,
            max,
            multiplier,
        } = self.kind
        {
            if !multiplier.is_finite() || multiplier < 1.0 {
                return Err(format!(
                    "multiplier must be finite and at least 1, got {multiplier}"
                ));
            }
            if initial > max {
                return Err(format!(
                    "initial delay {initial:?} is greater than the cap {max:?}"
                ));
            }
        }
        Ok(())
    }
}

/// The running state of a child's backoff: the attempt count since the last
/// reset and the jitter generator. Owned by the supervisor's loop.
#[derive(Debug)]
pub(crate) struct BackoffState {
    attempt: u32,
    rng: fastrand::Rng,
}

impl BackoffState {
    pub(crate) fn new(policy: &Backoff) -> Self {
        let rng = match policy.seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        };
        BackoffState { attempt: 0, rng }
    }

    /// Starts the sequence over: the next delay is the initial one.
    pub(crate) fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The delay before the next restart of a child whose last run lasted
    /// `ran_for`. A run of at least `reset_after` starts the sequence over.
    #[inline]
    pub(crate) fn next_delay(&mut self, policy: &Backoff, ran_for: Duration) -> Duration {
        if ran_for >= policy.reset_after {
            self.attempt = 0;
        }
        let base = policy.base_delay(self.attempt);
        self.attempt = self.attempt.saturating_add(1);
        if policy.jitter > 0.0 && !base.is_zero() {
            // Checked: a delay near `Duration::MAX` times a factor that
            // rounds to 1 would overflow; it stays as it is.
            Duration::try_from_secs_f64(base.as_secs_f64() * (1.0 - policy.jitter * self.rng.f64()))
                .unwrap_or(base)
        } else {
            base
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn exponential_doubles_up_to_the_cap() {
        let b = Backoff::exponential(ms(100), ms(1000));
        let mut s = BackoffState::new(&b);
        let got: Vec<_> = (0..6).map(|_| s.next_delay(&b, ms(1))).collect();
        assert_eq!(
            got,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
    }

    #[test]
    fn a_stable_run_resets_the_sequence() {
        let b = Backoff::exponential(ms(100), ms(10_000)).reset_after(ms(5000));
        let mut s = BackoffState::new(&b);
        assert_eq!(s.next_delay(&b, ms(10)), ms(100));
        assert_eq!(s.next_delay(&b, ms(10)), ms(200));
        assert_eq!(s.next_delay(&b, ms(4999)), ms(400), "just short of stable");
        assert_eq!(s.next_delay(&b, ms(5000)), ms(100), "stable: starts over");
        assert_eq!(s.next_delay(&b, ms(10)), ms(200));
    }

    #[test]
    fn huge_attempts_saturate_at_the_cap() {
        let b = Backoff::exponential(ms(1), Duration::from_secs(3600));
        assert_eq!(b.base_delay(u32::MAX), Duration::from_secs(3600));
        let b = b.multiplier(1.0);
        assert_eq!(b.base_delay(u32::MAX), ms(1));
    }

    #[test]
    fn fractional_multiplier_is_rounded_to_nanos() {
        let b = Backoff::exponential(ms(100), ms(10_000)).multiplier(1.5);
        assert_eq!(b.base_delay(1), ms(150));
        assert_eq!(b.base_delay(2), ms(225));
    }

    #[test]
    fn jitter_stays_within_its_band_and_is_reproducible() {
        let b = Backoff::fixed(ms(1000)).jitter(0.5).seed(7);
        let mut s1 = BackoffState::new(&b);
        let mut s2 = BackoffState::new(&b);
        let mut distinct = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = s1.next_delay(&b, ms(0));
            assert!(d >= ms(500) && d <= ms(1000), "{d:?}");
            assert_eq!(d, s2.next_delay(&b, ms(0)), "same seed, same delays");
            distinct.insert(d);
        }
        assert!(distinct.len() > 100, "jitter actually varies the delay");
    }

    #[test]
    fn none_and_fixed() {
        let b = Backoff::none();
        let mut s = BackoffState::new(&b);
        assert_eq!(s.next_delay(&b, ms(0)), Duration::ZERO);
        let b = Backoff::fixed(ms(250));
        assert_eq!(b.base_delay(0), ms(250));
        assert_eq!(b.base_delay(9), ms(250));
    }

    #[test]
    fn validation_names_the_problem() {
        assert!(Backoff::default().validate().is_ok());
        let e = Backoff::fixed(ms(1)).jitter(1.5).validate().unwrap_err();
        assert!(e.contains("jitter"), "{e}");
        let e = Backoff::exponential(ms(1), ms(2))
            .multiplier(0.5)
            .validate()
            .unwrap_err();
        assert!(e.contains("multiplier"), "{e}");
        let e = Backoff::exponential(ms(10), ms(2)).validate().unwrap_err();
        assert!(e.contains("cap"), "{e}");
        assert!(Backoff::exponential(ms(1), ms(2))
            .multiplier(f64::NAN)
            .validate()
            .is_err());
    }
}
