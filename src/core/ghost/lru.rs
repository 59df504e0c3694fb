//! An exact LRU cache of key hashes, O(1) per operation: the reference the model is checked
//! against (the property tests, and `benches/ghost.rs` at millions of keys).

use std::collections::HashMap;

const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Copy)]
struct Node {
    key: u64,
    prev: u32,
    next: u32,
}

/// An LRU cache of at most `capacity` keys.
#[derive(Debug, Clone)]
pub struct Lru {
    index: HashMap<u64, u32>,
    nodes: Vec<Node>,
    /// Most recently used.
    head: u32,
    /// Least recently used: the next to go.
    tail: u32,
    capacity: usize,
}

impl Lru {
    pub fn new(capacity: usize) -> Lru {
        Lru {
            index: HashMap::with_capacity(capacity),
            nodes: Vec::with_capacity(capacity),
            head: NONE,
            tail: NONE,
            capacity: capacity.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.index.len()
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    fn unlink(&mut self, i: u32) {
        let Node { prev, next, .. } = self.nodes[i as usize];
        match prev {
            NONE => self.head = next,
            p => self.nodes[p as usize].next = next,
        }
        match next {
            NONE => self.tail = prev,
            n => self.nodes[n as usize].prev = prev,
        }
    }

    fn link_front(&mut self, i: u32) {
        self.nodes[i as usize].prev = NONE;
        self.nodes[i as usize].next = self.head;
        if self.head != NONE {
            self.nodes[self.head as usize].prev = i;
        }
        self.head = i;
        if self.tail == NONE {
            self.tail = i;
        }
    }

    /// A lookup: `true` (and the key becomes the most recently used) when held.
    pub fn get(&mut self, key: u64) -> bool {
        match self.index.get(&key) {
            Some(&i) => {
                self.unlink(i);
                self.link_front(i);
                true
            }
            None => false,
        }
    }

    /// Stores a key not held; returns the key evicted to make room, if one was.
    pub fn insert(&mut self, key: u64) -> Option<u64> {
        if self.get(key) {
            return None;
        }
        if self.index.len() < self.capacity {
            let i = self.nodes.len() as u32;
            self.nodes.push(Node {
                key,
                prev: NONE,
                next: NONE,
            });
            self.index.insert(key, i);
            self.link_front(i);
            return None;
        }
        // Full: the least recently used node is reused for the new key.
        let i = self.tail;
        let evicted = self.nodes[i as usize].key;
        self.unlink(i);
        self.index.remove(&evicted);
        self.nodes[i as usize].key = key;
        self.index.insert(key, i);
        self.link_front(i);
        Some(evicted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_the_least_recently_used() {
        let mut c = Lru::new(2);
        assert_eq!(c.insert(1), None);
        assert_eq!(c.insert(2), None);
        assert!(c.get(1));
        assert_eq!(c.insert(3), Some(2));
        assert!(!c.get(2));
        assert_eq!(c.insert(4), Some(1));
        assert!(c.get(3) && c.get(4));
        assert_eq!(c.len(), 2);
    }
}
