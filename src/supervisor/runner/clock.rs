//! The time of the event the loop is handling.
//!
//! One event (a run's end, a timer, a command) leads to several stamps: the
//! exit's uptime, the phase changes, the restart's start, its context's
//! birth, the intensity window. They are one instant, so the clock is read
//! once per event, on first use, instead of at each stamp: a restart reads
//! it once instead of five times. The loop calls [`EventClock::tick`] as
//! each event arrives (and the plan steps that follow an event share its
//! instant); nothing awaits in between, so the instant read is within the
//! handling of that event.

use std::cell::Cell;

use tokio::time::Instant;

/// The instant of the current event, read on first use (see the module).
#[derive(Debug, Default)]
pub(crate) struct EventClock(Cell<Option<Instant>>);

impl EventClock {
    /// A new event: the next [`now`](Self::now) reads the clock.
    pub(crate) fn tick(&self) {
        self.0.set(None);
    }

    /// The instant of the current event.
    #[inline]
    pub(crate) fn now(&self) -> Instant {
        match self.0.get() {
            Some(at) => at,
            None => {
                let at = Instant::now();
                self.0.set(Some(at));
                at
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_reading_per_event() {
        let clock = EventClock::default();
        let first = clock.now();
        tokio::time::advance(std::time::Duration::from_millis(5)).await;
        assert_eq!(clock.now(), first, "the same event, the same instant");
        clock.tick();
        assert_eq!(clock.now(), first + std::time::Duration::from_millis(5));
    }
}
