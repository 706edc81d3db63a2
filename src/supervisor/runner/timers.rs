//! The loop's timers: restart delays, kill deadlines, readiness and
//! heartbeat deadlines, a plan's delay step, the watchdog.
//!
//! A deadline queue, as tokio-util's `DelayQueue`, without its timer wheel:
//! a supervisor holds a handful of timers at a time (one a child backing
//! off, stopping or waiting to become ready), and is made and dropped with
//! each nested supervisor's start and stop, where the wheel's six levels of
//! 64 slots would be built and freed each time. So the deadlines are kept
//! sorted in a `BTreeMap` (no allocation until the first one), with one
//! `Sleep` for the earliest, made as the first deadline is waited for and
//! reset as the earliest changes. Timers of one deadline fire in the order
//! they were set.
//!
//! As with `DelayQueue`, a [`Key`] names a timer until it fires or is
//! removed, and may be reused after that.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use slab::Slab;
use tokio::time::{Instant, Sleep};

/// The room for timers an empty queue keeps (see `release`).
const KEPT: usize = 64;

/// Past this, a deadline is never reached in a process's life: none is
/// set (tokio's timer adds to a deadline too, so one near the largest
/// `Instant` would overflow there).
pub(crate) const NEVER: std::time::Duration = std::time::Duration::from_secs(100 * 365 * 24 * 3600);

/// The instant `after` from `now`, or `None` when it is too far away to
/// matter: a deadline that far off means never (a user's `Duration::MAX`
/// is "no deadline", not an overflow).
#[inline]
pub(crate) fn deadline(now: Instant, after: std::time::Duration) -> Option<Instant> {
    if after > NEVER {
        return None;
    }
    now.checked_add(after)
}

/// A timer of a [`Timers`] queue, until it fires or is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key(usize);

/// Deadlines with a value each, yielded in deadline order as they pass
/// (see the module).
#[derive(Debug)]
pub(crate) struct Timers<T> {
    /// Each timer's deadline, its place in `order`, and its value.
    entries: Slab<(Instant, u64, T)>,
    /// Every timer's key, by deadline, and by insertion among timers of one
    /// deadline (`seq`): they fire in the order they were set.
    order: BTreeMap<(Instant, u64), usize>,
    /// The number of timers ever inserted: each one's place among equals.
    seq: u64,
    /// Set to the earliest deadline when the queue is polled.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Timers {
            entries: Slab::new(),
            order: BTreeMap::new(),
            seq: 0,
            sleep: None,
        }
    }
}

impl<T: Copy> Timers<T> {
    /// A timer for `value` at `deadline`.
    pub(crate) fn insert_at(&mut self, value: T, deadline: Instant) -> Key {
        self.seq += 1;
        let key = self.entries.insert((deadline, self.seq, value));
        self.order.insert((deadline, self.seq), key);
        Key(key)
    }

    /// A timer for `value`, `after` from now.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, value: T, after: std::time::Duration) -> Key {
        self.insert_at(value, Instant::now() + after)
    }

    /// Removes a timer before it fires; `None` if it has fired or been
    /// removed already.
    pub(crate) fn try_remove(&mut self, key: &Key) -> Option<T> {
        let (deadline, seq, value) = self.entries.try_remove(key.0)?;
        self.order.remove(&(deadline, seq));
        self.release();
        Some(value)
    }

    /// Once the queue is empty, gives back the room that a burst of timers
    /// (a thousand children backing off at once) made it grow to. The
    /// ordered map frees its nodes as it empties; the slab would keep its
    /// capacity for as long as the supervisor lives.
    fn release(&mut self) {
        if self.order.is_empty() && self.entries.capacity() > KEPT {
            self.entries = Slab::new();
        }
    }

    /// The deadline of a timer that has not fired or been removed.
    pub(crate) fn deadline(&self, key: &Key) -> Option<Instant> {
        self.entries.get(key.0).map(|&(at, _, _)| at)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.order.len()
    }

    /// The earliest timer whose deadline has passed, with its key, removed
    /// from the queue; `Ready(None)` if the queue is empty. When the
    /// earliest is still to come, the task is woken at its deadline.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<Option<(T, Key)>> {
        let Some((&(at, _), &key)) = self.order.first_key_value() else {
            return Poll::Ready(None);
        };
        let sleep = match &mut self.sleep {
            Some(sleep) if sleep.deadline() == at => sleep,
            Some(sleep) => {
                sleep.as_mut().reset(at);
                sleep
            }
            None => self.sleep.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        ready!(sleep.as_mut().poll(cx));
        self.order.pop_first();
        let (_, _, value) = self.entries.remove(key);
        self.release();
        Poll::Ready(Some((value, Key(key))))
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::task::Waker;
    use std::time::Duration;

    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// The next timer to fire, and when it fired (virtual time).
    async fn next(timers: &mut Timers<u32>) -> Option<(u32, Duration)> {
        let t0 = Instant::now();
        let (value, _) = poll_fn(|cx| timers.poll_expired(cx)).await?;
        Some((value, t0.elapsed()))
    }

    #[tokio::test(start_paused = true)]
    async fn fire_in_deadline_order_at_their_deadlines() {
        let mut timers = Timers::default();
        timers.insert(3, ms(30));
        timers.insert(1, ms(10));
        timers.insert(2, ms(20));
        assert_eq!(next(&mut timers).await, Some((1, ms(10))));
        assert_eq!(next(&mut timers).await, Some((2, ms(10))));
        assert_eq!(next(&mut timers).await, Some((3, ms(10))));
        assert!(timers.is_empty());
        assert_eq!(next(&mut timers).await, None, "empty: ready with none");
    }

    #[tokio::test(start_paused = true)]
    async fn same_deadline_fire_together_in_insertion_order() {
        let mut timers = Timers::default();
        let at = Instant::now() + ms(5);
        let first = timers.insert_at(9, at);
        for v in 0..3 {
            timers.insert_at(v, at);
        }
        // The first key is free again: the next timer reuses it, and still
        // fires after those set before it.
        timers.try_remove(&first);
        assert_eq!(timers.insert_at(3, at), first);
        for v in 0..4 {
            let waited = if v == 0 { ms(5) } else { ms(0) };
            assert_eq!(next(&mut timers).await, Some((v, waited)));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_removed_timer_never_fires_and_the_next_one_does_on_time() {
        let mut timers = Timers::default();
        let first = timers.insert(1, ms(10));
        timers.insert(2, ms(40));
        // Arm the sleep on the first deadline, then remove it.
        assert!(timers
            .poll_expired(&mut Context::from_waker(Waker::noop()))
            .is_pending());
        assert_eq!(timers.deadline(&first), Some(Instant::now() + ms(10)));
        assert_eq!(timers.try_remove(&first), Some(1));
        assert_eq!(timers.try_remove(&first), None, "removed once");
        assert_eq!(timers.deadline(&first), None);
        assert_eq!(next(&mut timers).await, Some((2, ms(40))));
    }

    #[tokio::test(start_paused = true)]
    async fn an_earlier_deadline_inserted_while_waiting_fires_first() {
        let mut timers = Timers::default();
        timers.insert(2, ms(50));
        assert!(timers
            .poll_expired(&mut Context::from_waker(Waker::noop()))
            .is_pending());
        timers.insert(1, ms(5));
        assert_eq!(next(&mut timers).await, Some((1, ms(5))));
        assert_eq!(next(&mut timers).await, Some((2, ms(45))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_passed_deadline_fires_at_once_and_keys_are_reused() {
        let mut timers = Timers::default();
        let a = timers.insert_at(7, Instant::now());
        tokio::time::advance(ms(3)).await;
        let fired = poll_fn(|cx| timers.poll_expired(cx)).await;
        assert_eq!(fired, Some((7, a)));
        let b = timers.insert(8, ms(1));
        assert_eq!(a, b, "a fired timer's key is free again");
        assert_eq!(timers.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_emptied_queue_gives_back_the_room_of_a_burst() {
        let mut timers = Timers::default();
        let keys: Vec<_> = (0..1_000).map(|v| timers.insert(v, ms(10))).collect();
        for key in &keys[..999] {
            timers.try_remove(key);
        }
        assert!(timers.entries.capacity() >= 1_000, "one left: kept");
        assert_eq!(next(&mut timers).await, Some((999, ms(10))));
        assert!(timers.entries.capacity() <= KEPT, "empty: given back");
        // A small queue keeps its room.
        let key = timers.insert(1, ms(1));
        timers.try_remove(&key);
        assert!(timers.entries.capacity() > 0);
    }

    /// A waker that counts its wakes.
    #[derive(Default)]
    struct Count(std::sync::atomic::AtomicUsize);

    impl Count {
        /// A fresh count and a waker that adds to it.
        fn waker() -> (std::sync::Arc<Count>, Waker) {
            let count = std::sync::Arc::new(Count::default());
            (count.clone(), Waker::from(count))
        }

        fn get(&self) -> usize {
            self.0.load(std::sync::atomic::Ordering::Relaxed)
        }
    }

    impl std::task::Wake for Count {
        fn wake(self: std::sync::Arc<Self>) {
            self.wake_by_ref();
        }
        fn wake_by_ref(self: &std::sync::Arc<Self>) {
            self.0.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_task_is_woken_at_the_deadline() {
        let mut timers = Timers::default();
        timers.insert(1, ms(100));
        let task = tokio::spawn(async move { next(&mut timers).await });
        tokio::time::sleep(ms(99)).await;
        assert!(!task.is_finished());
        assert_eq!(task.await.unwrap(), Some((1, ms(100))));
    }

    /// Random inserts, removals (of live keys, or of keys that fired or
    /// were removed, perhaps reused since) and time advances, on virtual
    /// time: after each advance, the timers that fire are those a sorted
    /// list of deadlines says, in its order (by deadline, then by when they
    /// were set), and the queue holds what the list holds.
    mod model {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, RngSeed};

        use super::*;

        #[derive(Debug, Clone)]
        enum Op {
            Insert(u64),
            Remove(usize),
            Advance(u64),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                3 => (0u64..40).prop_map(Op::Insert),
                2 => any::<usize>().prop_map(Op::Remove),
                3 => (0u64..25).prop_map(Op::Advance),
            ]
        }

        /// The same 256 cases on every run.
        fn config() -> Config {
            Config {
                cases: 256,
                failure_persistence: None,
                rng_seed: RngSeed::Fixed(0x7153_0001),
                ..Config::default()
            }
        }

        /// Runs `ops`; the first disagreement with the list, if any.
        fn check(ops: Vec<Op>) -> Result<(), String> {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .map_err(|e| e.to_string())?;
            rt.block_on(async move {
                let t0 = Instant::now();
                let mut timers = Timers::default();
                // The list: (deadline in ms, order set, value, key).
                let mut list: Vec<(u64, u64, u32, Key)> = Vec::new();
                let mut keys: Vec<Key> = Vec::new();
                let (mut now, mut set) = (0u64, 0u64);
                for op in ops {
                    match op {
                        Op::Insert(after) => {
                            set += 1;
                            let value = set as u32;
                            let at = t0 + ms(now + after);
                            let key = timers.insert_at(value, at);
                            list.push((now + after, set, value, key));
                            keys.push(key);
                        }
                        Op::Remove(i) if !keys.is_empty() => {
                            let key = keys[i % keys.len()];
                            let want = list
                                .iter()
                                .position(|e| e.3 == key)
                                .map(|at| list.remove(at).2);
                            let got = timers.try_remove(&key);
                            if got != want {
                                return Err(format!("remove {key:?}: {got:?}, want {want:?}"));
                            }
                        }
                        Op::Remove(_) => {}
                        Op::Advance(by) => {
                            tokio::time::advance(ms(by)).await;
                            now += by;
                            // Polled again while it wakes itself, as a task is.
                            let (count, waker) = Count::waker();
                            let mut cx = Context::from_waker(&waker);
                            let mut fired = Vec::new();
                            loop {
                                let woken = count.get();
                                match timers.poll_expired(&mut cx) {
                                    Poll::Ready(Some((value, _))) => fired.push(value),
                                    Poll::Pending if count.get() > woken => {}
                                    _ => break,
                                }
                            }
                            list.sort_by_key(|e| (e.0, e.1));
                            let due = list.iter().take_while(|e| e.0 <= now).count();
                            let want: Vec<u32> = list.drain(..due).map(|e| e.2).collect();
                            if fired != want {
                                return Err(format!("at {now} ms: fired {fired:?}, want {want:?}"));
                            }
                        }
                    }
                    if timers.len() != list.len() {
                        return Err(format!("{} timers, want {}", timers.len(), list.len()));
                    }
                }
                Ok(())
            })
        }

        proptest! {
            #![proptest_config(config())]

            #[test]
            fn timers_fire_as_a_sorted_list_says(ops in proptest::collection::vec(op(), 1..80)) {
                prop_assert_eq!(check(ops), Ok(()));
            }
        }
    }
}
