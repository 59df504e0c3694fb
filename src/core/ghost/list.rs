//! The ghost list: evicted keys in eviction order, each with its eviction time, and the count of
//! live entries evicted after any one of them (its stack distance) in O(log n).
//!
//! Entries sit in slots numbered in eviction order; a key that leaves (missed, written, deleted)
//! leaves its slot dead. A Fenwick tree over the slots counts the live ones, so a distance is
//! "live entries in later slots". When the slots run out, the live ones are packed to the front
//! and the tree rebuilt: slots are twice the entries, so packing costs O(1) per eviction on
//! average.

use std::collections::HashMap;

/// Evicted keys in eviction order, at most `capacity` of them.
#[derive(Debug, Clone)]
pub(crate) struct GhostList {
    /// Key hash → its slot.
    index: HashMap<u64, u32>,
    /// Slot → key hash; a slot is live when `index` maps its hash back to it.
    hashes: Vec<u64>,
    /// Slot → eviction time, whole seconds since the model's origin.
    times: Vec<u32>,
    /// Fenwick tree (1-based, stored from index 0) of live slots.
    tree: Vec<u32>,
    /// The first slot that may be live (slots before it are all dead).
    oldest: usize,
    live: usize,
    capacity: usize,
}

/// Bytes of one bucket of the hash map's table: the entry and its control byte.
const BUCKET_BYTES: usize = std::mem::size_of::<(u64, u32)>() + 1;
/// Bytes of one slot: hash, time, tree node.
const SLOT_BYTES: usize = 8 + 4 + 4;

impl GhostList {
    /// The largest list whose heap stays within `budget` bytes at its worst moment.
    ///
    /// The hash map (hashbrown) leaves a removed entry's bucket marked; when the marks use up
    /// its room it rehashes in place if the entries fill at most half of its usable 7/8, and
    /// otherwise doubles. So with at most 7/16 of `buckets` entries the table never outgrows
    /// `buckets`; at worst it holds `buckets` and, while doubling to them, half as many more.
    /// Slots are twice the entries.
    pub(crate) fn for_budget(budget: usize) -> GhostList {
        let per_bucket = BUCKET_BYTES * 3 / 2 + 2 * SLOT_BYTES * 7 / 16;
        let most = (budget / per_bucket).max(16);
        // The largest power of two not above `most`.
        let buckets = 1usize << (usize::BITS - 1 - most.leading_zeros());
        GhostList::new(buckets * 7 / 16 - 1)
    }

    /// The smallest budget for which [`GhostList::for_budget`] holds at least `entries`.
    #[cfg(test)]
    pub(crate) fn budget_for(entries: usize) -> usize {
        let buckets = ((entries + 1) * 16).div_ceil(7).next_power_of_two();
        buckets * (BUCKET_BYTES * 3 / 2 + 2 * SLOT_BYTES * 7 / 16)
    }

    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    pub(crate) fn new(capacity: usize) -> GhostList {
        GhostList {
            index: HashMap::new(),
            hashes: Vec::new(),
            times: Vec::new(),
            tree: Vec::new(),
            oldest: 0,
            live: 0,
            capacity: capacity.max(1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.live
    }

    pub(crate) fn is_full(&self) -> bool {
        self.live >= self.capacity
    }

    /// Slots are twice the entries, so a packing frees at least `capacity` of them.
    fn slot_limit(&self) -> usize {
        self.capacity.saturating_mul(2)
    }

    /// Appends `hash` as the most recently evicted key. A key already held leaves its old slot
    /// first (it was evicted again without a miss being seen in between). The caller makes room
    /// when the list is full.
    pub(crate) fn push(&mut self, hash: u64, at_secs: u32) {
        self.remove(hash);
        if self.hashes.len() >= self.slot_limit() {
            self.pack(|_| true);
        }
        self.grow_slots();
        let slot = self.hashes.len();
        self.hashes.push(hash);
        self.times.push(at_secs);
        self.tree.push(self.node_value(slot));
        self.index.insert(hash, slot as u32);
        self.live += 1;
    }

    /// Grows the slot vectors by doubling, but never past the slot limit: `Vec::push` alone
    /// could double past it and hold up to twice the memory the budget allows.
    fn grow_slots(&mut self) {
        if self.hashes.len() < self.hashes.capacity() {
            return;
        }
        let more = self
            .hashes
            .len()
            .max(1024)
            .min(self.slot_limit() - self.hashes.len())
            .max(1);
        self.hashes.reserve_exact(more);
        self.times.reserve_exact(more);
        self.tree.reserve_exact(more);
    }

    /// The Fenwick node of a new last slot (live): itself plus the live slots in the range the
    /// node covers, `(slot + 1 - lowbit, slot]` in 1-based terms.
    fn node_value(&self, slot: usize) -> u32 {
        let one_based = slot + 1;
        let low = one_based & one_based.wrapping_neg();
        let before = self.prefix(slot) - self.prefix(one_based - low);
        1 + before
    }

    /// Live slots among the first `n` slots.
    fn prefix(&self, n: usize) -> u32 {
        let (mut i, mut sum) = (n, 0);
        while i > 0 {
            sum += self.tree[i - 1];
            i &= i - 1;
        }
        sum
    }

    fn mark_dead(&mut self, slot: usize) {
        let mut i = slot + 1;
        while i <= self.tree.len() {
            self.tree[i - 1] -= 1;
            i += i & i.wrapping_neg();
        }
    }

    /// Takes `hash` out of the list; returns how many live entries were evicted after it.
    pub(crate) fn remove(&mut self, hash: u64) -> Option<u64> {
        let slot = self.index.remove(&hash)? as usize;
        let distance = self.live as u64 - u64::from(self.prefix(slot + 1));
        self.mark_dead(slot);
        self.live -= 1;
        Some(distance)
    }

    /// The first live slot, moving `oldest` past dead ones.
    fn first_live(&mut self) -> Option<usize> {
        while self.oldest < self.hashes.len() {
            let slot = self.oldest;
            if self.index.get(&self.hashes[slot]) == Some(&(slot as u32)) {
                return Some(slot);
            }
            self.oldest += 1;
        }
        None
    }

    /// Drops the entry evicted longest ago.
    pub(crate) fn drop_oldest(&mut self) {
        if let Some(slot) = self.first_live() {
            let hash = self.hashes[slot];
            self.remove(hash);
        }
    }

    /// When the entry evicted longest ago was evicted.
    pub(crate) fn oldest_time(&mut self) -> Option<u32> {
        self.first_live().map(|slot| self.times[slot])
    }

    /// Keeps only the live entries `keep` accepts, packed to the front in eviction order, and
    /// rebuilds the tree in O(slots).
    pub(crate) fn pack(&mut self, keep: impl Fn(u64) -> bool) {
        let mut next = 0;
        for slot in 0..self.hashes.len() {
            let hash = self.hashes[slot];
            if self.index.get(&hash) != Some(&(slot as u32)) {
                continue;
            }
            if !keep(hash) {
                self.index.remove(&hash);
                continue;
            }
            self.hashes[next] = hash;
            self.times[next] = self.times[slot];
            self.index.insert(hash, next as u32);
            next += 1;
        }
        self.hashes.truncate(next);
        self.times.truncate(next);
        self.live = next;
        self.oldest = 0;
        // Linear Fenwick build: every node starts at 1, then adds itself into its parent.
        self.tree.clear();
        self.tree.resize(next, 1);
        for i in 1..=next {
            let parent = i + (i & i.wrapping_neg());
            if parent <= next {
                self.tree[parent - 1] += self.tree[i - 1];
            }
        }
    }

    /// Heap bytes held: the hash map's table (entries and control bytes, at its capacity) and
    /// the slot vectors at theirs.
    pub(crate) fn heap_bytes(&self) -> usize {
        // hashbrown keeps 1/8 of its buckets free: buckets = capacity * 8 / 7, a power of two.
        let buckets = (self.index.capacity() * 8 / 7).next_power_of_two();
        buckets * BUCKET_BYTES + self.hashes.capacity() * SLOT_BYTES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance_counts_the_live_entries_evicted_after() {
        let mut l = GhostList::new(100);
        for h in [1, 2, 3, 4] {
            l.push(h, 0);
        }
        // 2 left (missed): 3 and 4 were evicted after 1, 2 no longer counts.
        assert_eq!(l.remove(2), Some(2));
        assert_eq!(l.remove(1), Some(2));
        assert_eq!(l.remove(4), Some(0));
        assert_eq!(l.remove(9), None);
        assert_eq!(l.len(), 1);
    }

    #[test]
    fn a_key_evicted_again_counts_once_at_its_latest_place() {
        let mut l = GhostList::new(100);
        for h in [1, 2, 3, 2] {
            l.push(h, 0);
        }
        assert_eq!(l.len(), 3);
        assert_eq!(l.remove(1), Some(2));
        assert_eq!(l.remove(3), Some(1));
        assert_eq!(l.remove(2), Some(0));
    }

    #[test]
    fn packing_keeps_order_and_distances() {
        let mut l = GhostList::new(4);
        // Eight slots: pushing and removing past them forces packs.
        for h in 0..40u64 {
            l.push(h, h as u32);
            if h >= 3 {
                l.remove(h - 3);
            }
        }
        assert_eq!(l.len(), 3);
        assert!(l.hashes.len() <= 8, "slots stay within twice the capacity");
        assert_eq!(l.oldest_time(), Some(37));
        assert_eq!(l.remove(37), Some(2));
        assert_eq!(l.remove(39), Some(0));
        l.pack(|_| true);
        assert_eq!(l.remove(38), Some(0));
    }

    #[test]
    fn drop_oldest_and_filtered_pack() {
        let mut l = GhostList::new(10);
        for h in 1..=6u64 {
            l.push(h, h as u32 * 10);
        }
        l.drop_oldest();
        assert_eq!(l.oldest_time(), Some(20));
        l.pack(|h| h % 2 == 0);
        assert_eq!(l.len(), 3);
        assert_eq!(l.remove(2), Some(2));
        assert_eq!(l.remove(3), None);
    }
}
