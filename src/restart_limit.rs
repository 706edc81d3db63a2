//! Counting restarts in a sliding window: the per-child circuit breaker
//! ([`RestartLimit`]) and the supervisor's restart intensity share it.
//!
//! # Semantics
//!
//! As OTP's `add_restart/3`: each restart records the current time; records
//! older than `now − window` are dropped (a record exactly `window` old still
//! counts); the limit is exceeded when more than `max` records remain. So
//! `max = 0` means the first restart already exceeds it, and with 1 restart
//! per second, restarts 1.1 s apart never do: the window slides.
//!
//! # Bounded
//!
//! The window never holds more than `max + 1` records, however many
//! restarts a child goes through over weeks. `max = u32::MAX` means no
//! limit: nothing is recorded at all.

use std::collections::VecDeque;
use std::time::Duration;

use std::time::Instant;

/// A per-child circuit breaker: more than `max` restarts within `window`,
/// and the child is given up (`Terminated(CircuitOpen)`), stays visible in
/// snapshots, and can be restarted by hand.
///
/// Set with [`ChildSpec::restart_limit`](crate::ChildSpec::restart_limit),
/// [`Builder::default_restart_limit`](crate::supervisor::Builder::default_restart_limit),
/// and for the supervisor's intensity
/// [`Builder::intensity`](crate::supervisor::Builder::intensity), each as
/// `(max, window)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RestartLimit {
    /// Restarts allowed within the window.
    pub(crate) max: u32,
    /// Length of the sliding window.
    pub(crate) window: Duration,
}

/// Timestamps of recent restarts, within one sliding window.
#[derive(Debug, Clone)]
pub(crate) struct RestartWindow {
    max: u32,
    window: Duration,
    stamps: VecDeque<Instant>,
}

impl RestartWindow {
    pub(crate) fn new(max: u32, window: Duration) -> Self {
        RestartWindow {
            max,
            window,
            stamps: VecDeque::new(),
        }
    }

    /// Records a restart at `now`; returns `true` when the window now holds
    /// more than `max` restarts (the limit is exceeded).
    #[inline]
    pub(crate) fn record(&mut self, now: Instant) -> bool {
        if self.max == u32::MAX {
            return false; // unlimited: nothing to remember
        }
        self.prune(now);
        self.stamps.push_back(now);
        // Keep at most max + 1 records: enough to know the limit is exceeded.
        // No overflow: `max < u32::MAX` here.
        while self.stamps.len() > self.max as usize + 1 {
            self.stamps.pop_front();
        }
        self.stamps.len() > self.max as usize
    }

    /// Restarts counted in the window ending at `now`.
    #[cfg(test)]
    pub(crate) fn count(&mut self, now: Instant) -> usize {
        self.prune(now);
        self.stamps.len()
    }

    pub(crate) fn max(&self) -> u32 {
        self.max
    }

    pub(crate) fn window(&self) -> Duration {
        self.window
    }

    fn prune(&mut self, now: Instant) {
        if let Some(threshold) = now.checked_sub(self.window) {
            while self.stamps.front().is_some_and(|&t| t < threshold) {
                self.stamps.pop_front();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(base: Instant, ms: u64) -> Instant {
        base + Duration::from_millis(ms)
    }

    #[test]
    fn exceeds_on_the_restart_past_max() {
        let t0 = Instant::now();
        let mut w = RestartWindow::new(3, Duration::from_secs(10));
        assert!(!w.record(at(t0, 0)));
        assert!(!w.record(at(t0, 1)));
        assert!(!w.record(at(t0, 2)));
        assert!(w.record(at(t0, 3)), "the fourth restart within 10 s");
    }

    #[test]
    fn zero_max_trips_on_the_first_restart() {
        let mut w = RestartWindow::new(0, Duration::from_secs(1));
        assert!(w.record(Instant::now()));
    }

    #[test]
    fn the_window_slides() {
        // OTP's multiple_restarts: 1 restart per second, restarts 1.1 s apart.
        let t0 = Instant::now();
        let mut w = RestartWindow::new(1, Duration::from_secs(1));
        for i in 0..100 {
            assert!(!w.record(at(t0, i * 1100)), "restart {i}");
        }
        // Two within the second trip it.
        assert!(w.record(at(t0, 99 * 1100 + 500)));
    }

    #[test]
    fn a_record_exactly_window_old_still_counts() {
        let t0 = Instant::now();
        let mut w = RestartWindow::new(1, Duration::from_secs(1));
        assert!(!w.record(at(t0, 0)));
        assert!(w.record(at(t0, 1000)), "inclusive, as OTP");
        let mut w = RestartWindow::new(1, Duration::from_secs(1));
        assert!(!w.record(at(t0, 0)));
        assert!(!w.record(at(t0, 1001)));
    }

    #[test]
    fn unlimited_records_nothing() {
        let t0 = Instant::now();
        let mut w = RestartWindow::new(u32::MAX, Duration::from_secs(3600));
        for i in 0..100_000 {
            assert!(!w.record(at(t0, i)));
        }
        assert!(w.stamps.is_empty());
    }

    #[test]
    fn stays_bounded() {
        let t0 = Instant::now();
        let mut w = RestartWindow::new(2, Duration::from_secs(3600));
        for i in 0..10_000 {
            w.record(at(t0, i));
        }
        assert_eq!(w.stamps.len(), 3);
        assert_eq!(w.count(at(t0, 10_000)), 3);
    }
}
