//! The loop's timers: restart delays, kill deadlines, readiness and
//! heartbeat deadlines, a plan's delay step, the watchdog.
//!
//! A deadline queue, as tokio-util's `DelayQueue`, without its timer wheel.
//! The wheel is built for many thousands of timers: a `DelayQueue` builds
//! six levels of 64 slots as it is made (about 9 KB and 3 600 instructions)
//! and frees them as it is dropped, whether it is used or not. A supervisor
//! is made and dropped with each nested supervisor's start and stop, and
//! holds a handful of timers at a time: a kill deadline shared by the
//! children it stops (`kills`), and one timer a child backing off or
//! waiting to become ready. So the deadlines are kept sorted in a
//! `BTreeSet` (no allocation until the first one), with one `Sleep` for
//! the earliest, made as the first deadline is waited for and reset as the
//! earliest changes.
//!
//! As with `DelayQueue`, a [`Key`] names a timer until it fires or is
//! removed, and may be reused after that.

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use slab::Slab;
use tokio::time::{Instant, Sleep};

/// The room for timers an empty queue keeps (see `release`).
const KEPT: usize = 64;

/// A timer of a [`Timers`] queue, until it fires or is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key(usize);

/// Deadlines with a value each, yielded in deadline order as they pass
/// (see the module).
#[derive(Debug)]
pub(crate) struct Timers<T> {
    entries: Slab<(Instant, T)>,
    /// `(deadline, key)` of every entry: the earliest first, and entries of
    /// one deadline in key order.
    order: BTreeSet<(Instant, usize)>,
    /// Set to the earliest deadline when the queue is polled.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl<T> Default for Timers<T> {
    fn default() -> Self {
        Timers {
            entries: Slab::new(),
            order: BTreeSet::new(),
            sleep: None,
        }
    }
}

impl<T: Copy> Timers<T> {
    /// A timer for `value` at `deadline`.
    pub(crate) fn insert_at(&mut self, value: T, deadline: Instant) -> Key {
        let key = self.entries.insert((deadline, value));
        self.order.insert((deadline, key));
        Key(key)
    }

    /// A timer for `value`, `after` from now.
    #[cfg(any(test, feature = "systemd"))]
    pub(crate) fn insert(&mut self, value: T, after: std::time::Duration) -> Key {
        self.insert_at(value, Instant::now() + after)
    }

    /// Removes a timer before it fires; `None` if it has fired or been
    /// removed already.
    pub(crate) fn try_remove(&mut self, key: &Key) -> Option<T> {
        let (deadline, value) = self.entries.try_remove(key.0)?;
        self.order.remove(&(deadline, key.0));
        self.release();
        Some(value)
    }

    /// Once the queue is empty, gives back the room that a burst of timers
    /// (a thousand children backing off at once) made it grow to. The
    /// ordered set frees its nodes as it empties; the slab would keep its
    /// capacity for as long as the supervisor lives.
    fn release(&mut self) {
        if self.order.is_empty() && self.entries.capacity() > KEPT {
            self.entries = Slab::new();
        }
    }

    /// The deadline of a timer that has not fired or been removed.
    pub(crate) fn deadline(&self, key: &Key) -> Option<Instant> {
        self.entries.get(key.0).map(|&(at, _)| at)
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
        let Some(&(at, key)) = self.order.first() else {
            return Poll::Ready(None);
        };
        let sleep = match &mut self.sleep {
            Some(sleep) => {
                if sleep.deadline() != at {
                    sleep.as_mut().reset(at);
                }
                sleep
            }
            None => self.sleep.insert(Box::pin(tokio::time::sleep_until(at))),
        };
        ready!(sleep.as_mut().poll(cx));
        self.order.pop_first();
        let (_, value) = self.entries.remove(key);
        self.release();
        Poll::Ready(Some((value, Key(key))))
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
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
        for v in 0..3 {
            timers.insert_at(v, at);
        }
        assert_eq!(next(&mut timers).await, Some((0, ms(5))));
        assert_eq!(next(&mut timers).await, Some((1, ms(0))));
        assert_eq!(next(&mut timers).await, Some((2, ms(0))));
    }

    #[tokio::test(start_paused = true)]
    async fn a_removed_timer_never_fires_and_the_next_one_does_on_time() {
        let mut timers = Timers::default();
        let first = timers.insert(1, ms(10));
        timers.insert(2, ms(40));
        // Arm the sleep on the first deadline, then remove it.
        let waker = noop_waker();
        assert!(timers
            .poll_expired(&mut Context::from_waker(&waker))
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
        let waker = noop_waker();
        assert!(timers
            .poll_expired(&mut Context::from_waker(&waker))
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

    #[tokio::test(start_paused = true)]
    async fn the_task_is_woken_at_the_deadline() {
        let mut timers = Timers::default();
        timers.insert(1, ms(100));
        let task = tokio::spawn(async move { next(&mut timers).await });
        tokio::time::sleep(ms(99)).await;
        assert!(!task.is_finished());
        assert_eq!(task.await.unwrap(), Some((1, ms(100))));
    }

    /// A waker that does nothing (`Waker::noop` needs Rust 1.85).
    fn noop_waker() -> std::task::Waker {
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: std::sync::Arc<Self>) {}
        }
        std::task::Waker::from(std::sync::Arc::new(Noop))
    }
}
