//! The child table: children in start order, with O(1) insertion at the end,
//! removal anywhere and lookup by slot or name.
//!
//! # Invariants
//!
//! * A slot stays valid for as long as its child is in the table; slots are
//!   reused only after removal. Anything that may outlive a child (a ready
//!   message, a timer) also carries the run id, or is cancelled on removal.
//! * `by_name` holds exactly the names of the children in the table.
//! * The list threads every occupied slot once, in start order.

use std::hash::{BuildHasher, BuildHasherDefault};

use hashbrown::HashTable;
use slab::Slab;

use super::child::Child;

/// No neighbour.
const NONE: u32 = u32::MAX;

#[derive(Debug)]
struct Node {
    child: Child,
    /// Slots of the neighbours in start order, `NONE` at the ends (`u32`:
    /// small nodes; a supervisor of four billion children is not a goal).
    prev: u32,
    next: u32,
}

fn link(slot: Option<usize>) -> u32 {
    slot.and_then(|s| u32::try_from(s).ok()).unwrap_or(NONE)
}

fn unlink(l: u32) -> Option<usize> {
    (l != NONE).then_some(l as usize)
}

#[derive(Debug, Default)]
pub(crate) struct Table {
    slab: Slab<Node>,
    head: Option<usize>,
    tail: Option<usize>,
    /// Slots by name: a table of bare slots (4 bytes a bucket), hashed by
    /// the name they hold, rather than a map that would store each name's
    /// `Arc<str>` again (24 bytes a bucket).
    by_name: HashTable<u32>,
}

fn name_hash(name: &str) -> u64 {
    BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(name)
}

/// A slot as the name table stores it. Slots are dense indices of the slab:
/// they fit in `u32` for any supervisor that fits in memory (see `Node`).
fn compact(slot: usize) -> u32 {
    slot as u32
}

impl Table {
    /// Reserves room for `n` more children (no growth by doubling for a
    /// supervisor's initial children).
    pub(crate) fn reserve(&mut self, n: usize) {
        self.slab.reserve_exact(n);
        let slab = &self.slab;
        self.by_name
            .reserve(n, |&s| name_hash(&slab[s as usize].child.spec.name));
    }

    /// Appends a child (last in start order) and returns its slot.
    pub(crate) fn push(&mut self, child: Child) -> usize {
        let hash = name_hash(&child.spec.name);
        let slot = self.slab.insert(Node {
            child,
            prev: link(self.tail),
            next: NONE,
        });
        match self.tail {
            Some(t) => self.slab[t].next = link(Some(slot)),
            None => self.head = Some(slot),
        }
        self.tail = Some(slot);
        let slab = &self.slab;
        self.by_name.insert_unique(hash, compact(slot), |&s| {
            name_hash(&slab[s as usize].child.spec.name)
        });
        slot
    }

    /// Removes a child; `None` if the slot is empty.
    pub(crate) fn remove(&mut self, slot: usize) -> Option<Child> {
        let node = self.slab.try_remove(slot)?;
        match unlink(node.prev) {
            Some(p) => self.slab[p].next = node.next,
            None => self.head = unlink(node.next),
        }
        match unlink(node.next) {
            Some(n) => self.slab[n].prev = node.prev,
            None => self.tail = unlink(node.prev),
        }
        let hash = name_hash(&node.child.spec.name);
        if let Ok(entry) = self.by_name.find_entry(hash, |&s| s as usize == slot) {
            entry.remove();
        }
        Some(node.child)
    }

    pub(crate) fn get(&self, slot: usize) -> Option<&Child> {
        self.slab.get(slot).map(|n| &n.child)
    }

    pub(crate) fn get_mut(&mut self, slot: usize) -> Option<&mut Child> {
        self.slab.get_mut(slot).map(|n| &mut n.child)
    }

    pub(crate) fn slot_of(&self, name: &str) -> Option<usize> {
        self.by_name
            .find(name_hash(name), |&s| {
                &*self.slab[s as usize].child.spec.name == name
            })
            .map(|&s| s as usize)
    }

    pub(crate) fn len(&self) -> usize {
        self.slab.len()
    }

    /// Slots in start order.
    pub(crate) fn slots(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.len());
        let mut cur = self.head;
        while let Some(s) = cur {
            out.push(s);
            cur = unlink(self.slab[s].next);
        }
        out
    }

    /// The last slot in start order (the first to stop), if any.
    pub(crate) fn last(&self) -> Option<usize> {
        self.tail
    }

    /// The slot before `slot` in start order (the next to stop), if any;
    /// `None` too if `slot` is empty. With [`last`](Self::last), a walk in
    /// the order of shutdown that allocates nothing and lets the walker
    /// change the children it passes (not remove them).
    pub(crate) fn prev(&self, slot: usize) -> Option<usize> {
        self.slab.get(slot).and_then(|n| unlink(n.prev))
    }

    /// Slots in reverse start order (the order of shutdown).
    pub(crate) fn slots_rev(&self) -> Vec<usize> {
        let mut out = Vec::with_capacity(self.len());
        out.extend(std::iter::successors(self.last(), |&s| self.prev(s)));
        out
    }

    /// Children in start order. It knows its length, so that what is
    /// collected from it (a supervisor's snapshots) is allocated once, not
    /// grown by doubling.
    pub(crate) fn iter(&self) -> Iter<'_> {
        Iter {
            table: self,
            cur: self.head,
            left: self.len(),
        }
    }
}

/// The children of a [`Table`] in start order (`Table::iter`).
pub(crate) struct Iter<'a> {
    table: &'a Table,
    cur: Option<usize>,
    /// Children not yet yielded.
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Child;

    fn next(&mut self) -> Option<&'a Child> {
        let s = self.cur?;
        let node = &self.table.slab[s];
        self.cur = unlink(node.next);
        // The list threads `len` slots (see the invariants); were it ever
        // longer, the hint would be low, which costs a collect a regrowth,
        // rather than wrapping around to a hint no allocation could meet.
        debug_assert!(self.left > 0, "the list is longer than the table");
        self.left = self.left.saturating_sub(1);
        Some(&node.child)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{service_fn, ChildSpec};

    fn child(name: &str) -> Child {
        let spec = ChildSpec::new(name, service_fn(|_| async { Ok(()) }));
        let path: std::sync::Arc<str> = format!("sup/{name}").into();
        let counters = crate::metrics::Registry::default().register(&path);
        Child::new(
            std::sync::Arc::new(spec),
            counters,
            std::time::Instant::now(),
        )
    }

    fn names(t: &Table) -> Vec<String> {
        t.iter().map(|c| c.spec.name.to_string()).collect()
    }

    #[test]
    fn finds_children_by_name_through_growth_and_removals() {
        let mut t = Table::default();
        let slots: Vec<usize> = (0..1000).map(|i| t.push(child(&format!("c{i}")))).collect();
        for (i, &slot) in slots.iter().enumerate().filter(|(i, _)| i % 2 == 0) {
            assert_eq!(t.remove(slot).unwrap().spec.name.as_ref(), format!("c{i}"));
        }
        for (i, &slot) in slots.iter().enumerate() {
            let expected = (i % 2 == 1).then_some(slot);
            assert_eq!(t.slot_of(&format!("c{i}")), expected, "c{i}");
        }
        assert_eq!(t.slot_of("c1000"), None);
        // Freed slots are reused under new names, and found under them.
        let again = t.push(child("again"));
        assert_eq!(t.slot_of("again"), Some(again));
        assert_eq!(t.len(), 501);
    }

    #[test]
    fn keeps_start_order_through_removals() {
        let mut t = Table::default();
        let a = t.push(child("a"));
        let b = t.push(child("b"));
        let c = t.push(child("c"));
        assert_eq!(names(&t), ["a", "b", "c"]);
        assert_eq!(t.slots_rev(), [c, b, a]);
        assert_eq!(
            (t.last(), t.prev(c), t.prev(b), t.prev(a)),
            (Some(c), Some(b), Some(a), None)
        );
        t.remove(b).unwrap();
        assert_eq!(names(&t), ["a", "c"]);
        assert_eq!((t.prev(c), t.prev(b)), (Some(a), None));
        assert_eq!(t.slot_of("b"), None);
        let d = t.push(child("d"));
        assert_eq!(d, b, "slot reused");
        assert_eq!(names(&t), ["a", "c", "d"]);
        t.remove(a).unwrap();
        t.remove(d).unwrap();
        assert_eq!(t.slots(), [c]);
        assert_eq!(t.slots_rev(), [c]);
        t.remove(c).unwrap();
        assert!(t.slots().is_empty() && t.slots_rev().is_empty());
        assert_eq!(t.last(), None);
        assert!(t.remove(c).is_none());
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn iter_knows_how_many_children_are_left() {
        let mut t = Table::default();
        assert_eq!(t.iter().len(), 0);
        let slots: Vec<usize> = (0..5).map(|i| t.push(child(&format!("c{i}")))).collect();
        t.remove(slots[1]).unwrap();
        t.remove(slots[4]).unwrap();
        let mut it = t.iter();
        let mut names = vec![];
        for left in (0..3).rev() {
            names.push(it.next().unwrap().spec.name.to_string());
            assert_eq!(it.size_hint(), (left, Some(left)));
        }
        assert!(it.next().is_none());
        assert_eq!(names, ["c0", "c2", "c3"]);
        // A collect allocates the exact length at once (above `Vec`'s
        // minimum of four), where growth by doubling would leave 16.
        for i in 5..12 {
            t.push(child(&format!("c{i}")));
        }
        let all: Vec<&Child> = t.iter().collect();
        assert_eq!((all.len(), all.capacity()), (10, 10));
    }
}
