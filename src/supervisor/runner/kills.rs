//! Kill deadlines shared by the children of one concurrent stop.
//!
//! A graceful stop arms a kill deadline per child: if the child has not
//! ended by then, its task is aborted. When a supervisor stops a thousand
//! children at once (`ShutdownOrder::Concurrent`, for its own stop or a
//! group restart), a thousand timer entries would be inserted into the
//! `DelayQueue` and, as each child ends in time, removed again: most of the
//! cost of that stop after the spawn itself. Children stopped together with
//! the same timeout share one deadline instead, and so one timer entry
//! (`Timer::KillGroup`): each child keeps the entry's key as its timer, the
//! group counts its members, and the entry is removed when the last one has
//! ended, or fires and kills the ones left.

use std::collections::HashMap;

use tokio::time::Instant;
use tokio_util::time::{delay_queue::Key, DelayQueue};

use super::Timer;

#[derive(Debug, Default)]
pub(super) struct KillGroups {
    /// Members still waited for, by the group's timer key.
    members: HashMap<Key, usize>,
    /// The newest group, which a child with the same deadline joins.
    newest: Option<(Instant, Key)>,
}

impl KillGroups {
    /// The timer key of a kill deadline at `deadline` shared with the
    /// children stopped just before with the same deadline.
    pub(super) fn join(&mut self, timers: &mut DelayQueue<Timer>, deadline: Instant) -> Key {
        if let Some((at, key)) = self.newest {
            if at == deadline {
                if let Some(n) = self.members.get_mut(&key) {
                    *n += 1;
                    return key;
                }
            }
        }
        let key = timers.insert_at(Timer::KillGroup, deadline);
        self.members.insert(key, 1);
        self.newest = Some((deadline, key));
        key
    }

    /// Calls off a child's timer: its own, or its share of a group's.
    pub(super) fn cancel(&mut self, timers: &mut DelayQueue<Timer>, key: Key) {
        if !self.members.is_empty() {
            if let Some(n) = self.members.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    self.forget(key);
                    timers.try_remove(&key);
                }
                return;
            }
        }
        timers.try_remove(&key);
    }

    /// A group's deadline passed: whether it was live (its members, the
    /// children whose timer is still `key`, are to be killed).
    pub(super) fn fired(&mut self, key: Key) -> bool {
        self.forget(key)
    }

    fn forget(&mut self, key: Key) -> bool {
        if self.newest.is_some_and(|(_, k)| k == key) {
            self.newest = None;
        }
        self.members.remove(&key).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn same_deadline_shares_one_entry_until_the_last_member_leaves() {
        let mut timers = DelayQueue::new();
        let mut g = KillGroups::default();
        let at = Instant::now() + Duration::from_secs(5);
        let a = g.join(&mut timers, at);
        let b = g.join(&mut timers, at);
        assert_eq!(a, b);
        assert_eq!(timers.len(), 1);
        let c = g.join(&mut timers, at + Duration::from_secs(1));
        assert_ne!(c, a, "another deadline, another entry");
        assert_eq!(timers.len(), 2);
        g.cancel(&mut timers, a);
        assert_eq!(timers.len(), 2, "b still waits on it");
        g.cancel(&mut timers, b);
        assert_eq!(timers.len(), 1);
        assert!(g.fired(c));
        assert!(!g.fired(c), "once");
        // A child's own timer is simply removed.
        let own = timers.insert(Timer::Plan, Duration::from_secs(1));
        g.cancel(&mut timers, own);
        assert_eq!(timers.len(), 1);
        assert!(g.members.is_empty() && g.newest.is_none());
    }
}
