//! The core's deadlines: restart delays, kill deadlines, readiness and
//! heartbeat deadlines, a plan's delay step, the stop's budget.
//!
//! Plain data, no timer: the core keeps its deadlines sorted here and the
//! driver sleeps until [`Deadlines::next`], then hands the core the time,
//! which takes every deadline that has passed with [`Deadlines::pop_due`].
//! So the core can be driven on any clock, a test's included.
//!
//! A supervisor holds a handful of deadlines at a time (one a child backing
//! off, stopping or waiting to become ready), so they are kept in a
//! `BTreeMap` (no allocation until the first one), as tokio-util's
//! `DelayQueue` does with a timer wheel. As with `DelayQueue`, a [`Key`]
//! names a deadline until it passes or is removed, and may be reused after
//! that. Deadlines of one instant pass in the order they were set.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use slab::Slab;

/// The room for deadlines an empty queue keeps (see `release`).
const KEPT: usize = 64;

/// Past this, a deadline is never reached in a process's life: none is set
/// (tokio's timer adds to a deadline too, so one near the largest `Instant`
/// would overflow there).
pub(crate) const NEVER: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// The instant `after` from `now`, or `None` when it is too far away to
/// matter: a deadline that far off means never (a user's `Duration::MAX`
/// is "no deadline", not an overflow).
#[inline]
pub(crate) fn deadline(now: Instant, after: Duration) -> Option<Instant> {
    if after > NEVER {
        return None;
    }
    now.checked_add(after)
}

/// A deadline of a [`Deadlines`] queue, until it passes or is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key(usize);

/// Deadlines with a value each, taken in deadline order as they pass.
#[derive(Debug)]
pub(crate) struct Deadlines<T> {
    /// Each deadline's instant, its place in `order`, and its value.
    entries: Slab<(Instant, u64, T)>,
    /// Every deadline's key, by instant, and by insertion among deadlines of
    /// one instant (`seq`).
    order: BTreeMap<(Instant, u64), usize>,
    /// The number of deadlines ever inserted: each one's place among equals.
    seq: u64,
}

impl<T> Default for Deadlines<T> {
    fn default() -> Self {
        Deadlines {
            entries: Slab::new(),
            order: BTreeMap::new(),
            seq: 0,
        }
    }
}

impl<T: Copy> Deadlines<T> {
    /// A deadline for `value` at `at`.
    pub(crate) fn insert_at(&mut self, value: T, at: Instant) -> Key {
        self.seq += 1;
        let key = self.entries.insert((at, self.seq, value));
        self.order.insert((at, self.seq), key);
        Key(key)
    }

    /// Removes a deadline before it passes; `None` if it has passed or been
    /// removed already.
    pub(crate) fn try_remove(&mut self, key: &Key) -> Option<T> {
        let (at, seq, value) = self.entries.try_remove(key.0)?;
        self.order.remove(&(at, seq));
        self.release();
        Some(value)
    }

    /// The instant of a deadline that has not passed or been removed.
    pub(crate) fn get(&self, key: &Key) -> Option<Instant> {
        self.entries.get(key.0).map(|&(at, _, _)| at)
    }

    /// The earliest deadline, if any.
    pub(crate) fn next(&self) -> Option<Instant> {
        self.order.first_key_value().map(|(&(at, _), _)| at)
    }

    /// The earliest deadline at or before `now`, with its key, removed.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(T, Key)> {
        let (&(at, _), &key) = self.order.first_key_value()?;
        if at > now {
            return None;
        }
        self.order.pop_first();
        let (_, _, value) = self.entries.remove(key);
        self.release();
        Some((value, Key(key)))
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// Once the queue is empty, gives back the room that a burst of
    /// deadlines (a thousand children backing off at once) made it grow to.
    fn release(&mut self) {
        if self.order.is_empty() && self.entries.capacity() > KEPT {
            self.entries = Slab::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn drain(q: &mut Deadlines<u32>, now: Instant) -> Vec<u32> {
        std::iter::from_fn(|| q.pop_due(now).map(|(v, _)| v)).collect()
    }

    #[test]
    fn pass_in_deadline_order_then_insertion_order() {
        let t0 = Instant::now();
        let mut q = Deadlines::default();
        q.insert_at(3, t0 + ms(30));
        q.insert_at(1, t0 + ms(10));
        q.insert_at(2, t0 + ms(10));
        assert_eq!(q.next(), Some(t0 + ms(10)));
        assert_eq!(drain(&mut q, t0 + ms(9)), Vec::<u32>::new());
        assert_eq!(drain(&mut q, t0 + ms(10)), vec![1, 2]);
        assert_eq!(q.next(), Some(t0 + ms(30)));
        assert_eq!(drain(&mut q, t0 + ms(100)), vec![3]);
        assert_eq!(q.next(), None);
    }

    #[test]
    fn a_removed_deadline_never_passes() {
        let t0 = Instant::now();
        let mut q = Deadlines::default();
        let a = q.insert_at(1, t0 + ms(5));
        q.insert_at(2, t0 + ms(6));
        assert_eq!(q.get(&a), Some(t0 + ms(5)));
        assert_eq!(q.try_remove(&a), Some(1));
        assert_eq!(q.try_remove(&a), None, "removed once");
        assert_eq!(q.get(&a), None);
        assert_eq!(drain(&mut q, t0 + ms(10)), vec![2]);
    }

    #[test]
    fn an_emptied_queue_gives_back_the_room_of_a_burst() {
        let t0 = Instant::now();
        let mut q = Deadlines::default();
        for i in 0..1000 {
            q.insert_at(i, t0 + ms(u64::from(i)));
        }
        assert_eq!(q.len(), 1000);
        assert_eq!(drain(&mut q, t0 + ms(2000)).len(), 1000);
        assert!(q.entries.capacity() <= KEPT);
    }

    #[test]
    fn far_deadlines_are_none() {
        let t0 = Instant::now();
        assert_eq!(deadline(t0, Duration::MAX), None);
        assert_eq!(deadline(t0, NEVER + ms(1)), None);
        assert_eq!(deadline(t0, ms(1)), Some(t0 + ms(1)));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u64),
        Remove(usize),
        Pop(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u64..50).prop_map(Op::Insert),
            (0usize..20).prop_map(Op::Remove),
            (0u64..60).prop_map(Op::Pop),
        ]
    }

    proptest! {
        /// The queue takes out what a sorted list of (instant, insertion)
        /// says, at the times it says.
        #[test]
        fn deadlines_pass_as_a_sorted_list_says(ops in proptest::collection::vec(op(), 1..80)) {
            let t0 = Instant::now();
            let mut q = Deadlines::default();
            let mut model: Vec<(u64, u32, Key)> = Vec::new();
            let mut next_value = 0u32;
            let mut now = 0u64;
            for op in ops {
                match op {
                    Op::Insert(after) => {
                        let at = now + after;
                        let key = q.insert_at(next_value, t0 + ms(at));
                        model.push((at, next_value, key));
                        next_value += 1;
                    }
                    Op::Remove(i) => {
                        if !model.is_empty() {
                            let (_, v, key) = model.remove(i % model.len());
                            prop_assert_eq!(q.try_remove(&key), Some(v));
                        }
                    }
                    Op::Pop(by) => {
                        now += by;
                        model.sort_by_key(|&(at, v, _)| (at, v));
                        let due: Vec<u32> = model.iter().filter(|m| m.0 <= now).map(|m| m.1).collect();
                        model.retain(|m| m.0 > now);
                        prop_assert_eq!(drain(&mut q, t0 + ms(now)), due);
                    }
                }
                let earliest = model.iter().map(|m| m.0).min();
                prop_assert_eq!(q.next(), earliest.map(|at| t0 + ms(at)));
            }
        }
    }
}
