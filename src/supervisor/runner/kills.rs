//! Kill deadlines shared by children stopped together or one after another.
//!
//! A graceful stop arms a kill deadline per child: if the child has not
//! ended by then, its task is aborted. A deadline of its own per child is a
//! timer insert and, as the child ends in time, a removal (with tokio-util's
//! `DelayQueue`, which the loop used then, about 2 000 instructions), and a
//! reset of the queue's `Sleep` each time its first deadline changes. When
//! a supervisor stops a thousand children (its own stop, or a group
//! restart), that was most of the cost of the stop after the spawns
//! themselves.
//!
//! So children share deadlines. A deadline is rounded up to a whole
//! millisecond (counted from the first one), tokio's own timer resolution,
//! so no child is killed later than tokio would have woken for it anyway.
//! Children stopped with the same rounded deadline share one timer entry
//! (`Timer::KillGroup`): each keeps the entry's key as its timer, and the
//! group counts its members. That covers a concurrent stop (all at one
//! instant) and an ordered one (one child after another, each stopped as
//! the one before has ended, a few microseconds apart).
//!
//! A group whose last member ends is not removed at once: in an ordered
//! stop the next child joins it in the same turn of the loop. The loop
//! sweeps emptied groups at the end of each turn ([`KillGroups::sweep`]).
//! While the supervisor stops, nothing is restarted and the queue is
//! dropped with the loop, so even that removal is skipped: an emptied
//! group left in the queue fires for nobody.
//!
//! A group's timer is inserted lazily (`Timers::insert_lazy_at`): its
//! `Sleep` is armed only if the group still waits after the children have
//! had a turn to end, so a stop whose children end at once never reaches
//! tokio's timer driver (whose registration of a new earliest deadline
//! wakes the runtime's driver: an `eventfd` write per stop).

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::time::Duration;

use super::timers::{Key, Timers};
use tokio::time::Instant;

use super::{IdHasher, Timer};

/// The grid kill deadlines are rounded up to, in nanoseconds: a
/// millisecond, tokio's timer resolution.
const TICK_NANOS: u64 = 1_000_000;

#[derive(Debug, Default)]
pub(super) struct KillGroups {
    /// Members still waited for, by the group's timer key (zero: emptied,
    /// and not yet swept or fired).
    members: HashMap<Key, usize, BuildHasherDefault<IdHasher>>,
    /// The newest group, which a child with the same deadline joins: its
    /// rounded deadline, its key, and the deadline last asked for before
    /// rounding (children stopped at one instant ask for the same one, and
    /// join without the rounding's arithmetic).
    newest: Option<(Instant, Key, Instant)>,
    /// Groups emptied during this turn of the loop, for `sweep`.
    emptied: Vec<Key>,
    /// Where the millisecond grid starts: the first deadline asked for.
    origin: Option<Instant>,
}

impl KillGroups {
    /// The timer key of a kill deadline at `deadline` (rounded up to the
    /// grid), shared with the children stopped before with the same one.
    pub(super) fn join(&mut self, timers: &mut Timers<Timer>, deadline: Instant) -> Key {
        let asked = deadline;
        let deadline = match self.newest {
            Some((at, _, last)) if last == asked => at,
            _ => self.round_up(asked),
        };
        if let Some((at, key, _)) = self.newest {
            if at == deadline {
                if let Some(n) = self.members.get_mut(&key) {
                    *n += 1;
                    self.newest = Some((at, key, asked));
                    return key;
                }
            }
        }
        let key = timers.insert_lazy_at(Timer::KillGroup, deadline);
        self.members.insert(key, 1);
        self.newest = Some((deadline, key, asked));
        key
    }

    /// Calls off a child's timer: its share of a group's (the group is
    /// swept at the end of the turn if that was its last member), or its
    /// own, removed at once unless `stopping` (see the module).
    pub(super) fn cancel(&mut self, timers: &mut Timers<Timer>, key: Key, stopping: bool) {
        if let Some(n) = self.members.get_mut(&key) {
            *n = n.saturating_sub(1);
            // While stopping, an emptied group stays (see `sweep`).
            if *n == 0 && !stopping {
                self.emptied.push(key);
            }
        } else if !stopping {
            timers.try_remove(&key);
        }
    }

    /// The end of a turn of the loop: removes the groups emptied during it
    /// that nobody joined again; while the supervisor stops, leaves them to
    /// fire for nobody.
    #[inline]
    pub(super) fn sweep(&mut self, timers: &mut Timers<Timer>, stopping: bool) {
        // Checked at every turn; there is something to sweep after stops.
        if !self.emptied.is_empty() {
            self.sweep_emptied(timers, stopping);
        }
    }

    fn sweep_emptied(&mut self, timers: &mut Timers<Timer>, stopping: bool) {
        for key in std::mem::take(&mut self.emptied) {
            // Joined again in this turn; or the supervisor began to stop in
            // it, and the group may stay.
            if stopping || self.members.get(&key) != Some(&0) {
                continue;
            }
            self.forget(key);
            timers.try_remove(&key);
        }
    }

    /// A group's deadline passed: whether it still had members (the
    /// children whose timer is still `key`, to be killed).
    pub(super) fn fired(&mut self, key: Key) -> bool {
        self.forget(key).is_some_and(|n| n > 0)
    }

    fn forget(&mut self, key: Key) -> Option<usize> {
        if self.newest.is_some_and(|(_, k, _)| k == key) {
            self.newest = None;
        }
        self.members.remove(&key)
    }

    /// `at`, rounded up to the grid of whole ticks from `origin`.
    fn round_up(&mut self, at: Instant) -> Instant {
        let origin = *self.origin.get_or_insert(at);
        let rounded = if at >= origin {
            let ticks = nanos(at - origin).div_ceil(TICK_NANOS);
            origin.checked_add(Duration::from_nanos(ticks.saturating_mul(TICK_NANOS)))
        } else {
            // Before the origin: up is towards it.
            let ticks = nanos(origin - at) / TICK_NANOS;
            origin.checked_sub(Duration::from_nanos(ticks.saturating_mul(TICK_NANOS)))
        };
        rounded.unwrap_or(at)
    }
}

/// In 64 bits (585 years), for cheap arithmetic.
fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_nanos(TICK_NANOS);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[tokio::test(start_paused = true)]
    async fn same_deadline_shares_one_entry_until_the_last_member_leaves() {
        let mut timers = Timers::default();
        let mut g = KillGroups::default();
        let at = Instant::now() + ms(5_000);
        let a = g.join(&mut timers, at);
        let b = g.join(&mut timers, at);
        assert_eq!(a, b);
        assert_eq!(timers.len(), 1);
        let c = g.join(&mut timers, at + ms(1_000));
        assert_ne!(c, a, "another deadline, another entry");
        assert_eq!(timers.len(), 2);
        g.cancel(&mut timers, a, false);
        g.sweep(&mut timers, false);
        assert_eq!(timers.len(), 2, "b still waits on it");
        g.cancel(&mut timers, b, false);
        assert_eq!(
            timers.len(),
            2,
            "removed at the end of the turn, not before"
        );
        g.sweep(&mut timers, false);
        assert_eq!(timers.len(), 1);
        assert!(g.fired(c));
        assert!(!g.fired(c), "once");
        // A child's own timer is simply removed.
        let own = timers.insert(Timer::Plan, ms(1_000));
        g.cancel(&mut timers, own, false);
        assert_eq!(timers.len(), 1);
        assert!(g.members.is_empty() && g.newest.is_none());
        // The same deadline asked for again after its group is gone: a new
        // entry, at the same rounded deadline.
        let d = g.join(&mut timers, at + ms(1_000));
        assert_ne!(d, c);
        assert_eq!(timers.deadline(&d), Some(g.round_up(at + ms(1_000))));
        assert!(g.fired(d));
    }

    /// An ordered stop: each child joins as the one before has ended, in
    /// the same turn; they share the entry while within one tick of the
    /// grid.
    #[tokio::test(start_paused = true)]
    async fn children_stopped_one_after_another_share_within_a_tick() {
        let mut timers = Timers::default();
        let mut g = KillGroups::default();
        let t0 = Instant::now();
        let us = Duration::from_micros;
        // An earlier stop set the grid's origin at t0 + 4 s.
        let earlier = g.join(&mut timers, t0 + ms(4_000));
        let first = g.join(&mut timers, t0 + ms(5_000) + us(100));
        g.cancel(&mut timers, first, false);
        let second = g.join(&mut timers, t0 + ms(5_000) + us(400));
        g.sweep(&mut timers, false);
        assert_eq!(first, second, "rejoined in the same turn, within the tick");
        assert_eq!(timers.len(), 2);
        assert_eq!(timers.deadline(&second), Some(t0 + ms(5_001)), "rounded up");
        // Past the tick: a new entry; the emptied one goes at the sweep.
        g.cancel(&mut timers, second, false);
        let third = g.join(&mut timers, t0 + ms(5_001) + us(1));
        assert_ne!(third, second);
        g.sweep(&mut timers, false);
        assert_eq!(timers.len(), 2, "{earlier:?} and {third:?}");
        assert_eq!(timers.deadline(&third), Some(t0 + ms(5_002)));
    }

    /// Deadlines are never moved earlier, nor later than the next tick,
    /// before or after the grid's origin.
    #[tokio::test(start_paused = true)]
    async fn rounding_goes_up_to_the_next_tick_only() {
        let mut g = KillGroups::default();
        let t0 = Instant::now() + ms(10_000);
        assert_eq!(g.round_up(t0), t0, "the origin");
        for us in [1, 999, 1_000, 1_001, 2_500_000] {
            let at = t0 + Duration::from_micros(us);
            let r = g.round_up(at);
            assert!(r >= at && r - at < TICK, "{us} µs after: {r:?}");
            let before = t0 - Duration::from_micros(us);
            let r = g.round_up(before);
            assert!(r >= before && r - before < TICK, "{us} µs before");
        }
    }

    /// While the supervisor stops, an emptied group is left in the queue and
    /// fires for nobody; a child's own timer is left too.
    #[tokio::test(start_paused = true)]
    async fn while_stopping_nothing_is_removed_and_an_empty_group_kills_nobody() {
        let mut timers = Timers::default();
        let mut g = KillGroups::default();
        let key = g.join(&mut timers, Instant::now() + ms(1_000));
        g.cancel(&mut timers, key, true);
        g.sweep(&mut timers, true);
        assert_eq!(timers.len(), 1);
        assert!(!g.fired(key), "no member left to kill");
        let own = timers.insert(Timer::Plan, ms(1_000));
        g.cancel(&mut timers, own, true);
        assert_eq!(timers.len(), 2);
    }
}
