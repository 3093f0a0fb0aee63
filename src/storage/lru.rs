//! A small LRU map whose eviction skips entries the caller says are in use.
//!
//! Recency is a monotonically increasing stamp; `order` maps stamp → key, so the oldest entry
//! is the first of `order`. All operations are O(log n).

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

pub struct Lru<K, V> {
    entries: HashMap<K, (V, u64)>,
    order: BTreeMap<u64, K>,
    next: u64,
}

impl<K: Hash + Eq + Clone, V> Default for Lru<K, V> {
    fn default() -> Self {
        Lru { entries: HashMap::new(), order: BTreeMap::new(), next: 0 }
    }
}

impl<K: Hash + Eq + Clone, V> Lru<K, V> {
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `key` is present; does not change recency.
    pub fn contains(&self, key: &K) -> bool {
        self.entries.contains_key(key)
    }

    /// Returns the value and marks it most recently used.
    pub fn get(&mut self, key: &K) -> Option<&V> {
        let stamp = self.bump();
        let (_, old) = self.entries.get_mut(key)?;
        let prev = std::mem::replace(old, stamp);
        let k = self.order.remove(&prev).expect("order tracks every entry");
        self.order.insert(stamp, k);
        self.entries.get(key).map(|(v, _)| v)
    }

    /// Inserts or replaces; the entry becomes most recently used.
    pub fn insert(&mut self, key: K, value: V) {
        let stamp = self.bump();
        if let Some((_, old)) = self.entries.insert(key.clone(), (value, stamp)) {
            self.order.remove(&old);
        }
        self.order.insert(stamp, key);
    }

    pub fn remove(&mut self, key: &K) -> Option<V> {
        let (v, stamp) = self.entries.remove(key)?;
        self.order.remove(&stamp);
        Some(v)
    }

    /// Removes and returns the least recently used entry for which `evictable` holds.
    pub fn pop_lru_where(&mut self, mut evictable: impl FnMut(&V) -> bool) -> Option<(K, V)> {
        let key = self.order.values().find(|k| evictable(&self.entries[*k].0))?.clone();
        self.remove(&key).map(|v| (key, v))
    }

    /// Removes every entry, oldest first.
    pub fn drain(&mut self) -> Vec<(K, V)> {
        let keys: Vec<K> = std::mem::take(&mut self.order).into_values().collect();
        keys.into_iter().filter_map(|k| self.entries.remove(&k).map(|(v, _)| (k, v))).collect()
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.values().map(|(v, _)| v)
    }

    fn bump(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_first() {
        let mut l = Lru::default();
        for i in 0..4 {
            l.insert(i, i * 10);
        }
        assert_eq!(l.get(&0), Some(&0));
        assert_eq!(l.pop_lru_where(|_| true), Some((1, 10)));
        assert_eq!(l.pop_lru_where(|_| true), Some((2, 20)));
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn skips_entries_in_use() {
        let mut l = Lru::default();
        for i in 0..3 {
            l.insert(i, i);
        }
        assert_eq!(l.pop_lru_where(|v| *v != 0), Some((1, 1)));
        assert_eq!(l.pop_lru_where(|v| *v == 99), None);
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn replace_keeps_one_entry_and_refreshes_it() {
        let mut l = Lru::default();
        l.insert("a", 1);
        l.insert("b", 2);
        l.insert("a", 3);
        assert_eq!(l.len(), 2);
        assert_eq!(l.pop_lru_where(|_| true), Some(("b", 2)));
        assert_eq!(l.drain(), vec![("a", 3)]);
        assert!(l.is_empty());
    }
}
