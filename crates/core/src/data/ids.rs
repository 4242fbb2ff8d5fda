//! Raw ids (opaque strings from the source) and the dense indices that stand for them.

use std::collections::HashMap;
use std::sync::Arc;

/// The dense index of a user: its position in the first-appearance order of a rating list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserIdx(pub u32);

/// The dense index of a movie: its position in the first-appearance order of a rating list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MovieIdx(pub u32);

impl UserIdx {
    /// The index as a `usize`, for indexing per-user vectors.
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

impl MovieIdx {
    /// The index as a `usize`, for indexing per-movie vectors.
    pub fn get(self) -> usize {
        self.0 as usize
    }
}

/// A two-way map between raw ids and dense indices `0..len`, assigned in order of first
/// appearance, as Surprise assigns its inner ids. Clones share the ids: a rating list, its
/// training set and every model fitted on it hold them once (interning a new id into a
/// shared map copies it first).
#[derive(Clone, Debug, Default)]
pub struct IdMap {
    ids: Arc<Ids>,
}

#[derive(Clone, Debug, Default)]
struct Ids {
    raw: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
}

impl PartialEq for IdMap {
    /// Two maps are equal when they hold the same ids at the same indices.
    fn eq(&self, other: &IdMap) -> bool {
        Arc::ptr_eq(&self.ids, &other.ids) || self.ids.raw == other.ids.raw
    }
}

impl IdMap {
    /// An empty map.
    pub fn new() -> IdMap {
        IdMap::default()
    }

    /// The index of `raw`, assigning the next free index if it is new.
    ///
    /// # Panics
    /// Past `u32::MAX` distinct ids, far beyond any rating list this project reads.
    pub fn intern(&mut self, raw: &str) -> u32 {
        if let Some(&i) = self.ids.index.get(raw) {
            return i;
        }
        let ids = Arc::make_mut(&mut self.ids);
        let i = u32::try_from(ids.raw.len()).expect("more than 2^32 distinct ids");
        let key: Box<str> = raw.into();
        ids.raw.push(key.clone());
        ids.index.insert(key, i);
        i
    }

    /// The index of `raw`, if it has one.
    pub fn get(&self, raw: &str) -> Option<u32> {
        self.ids.index.get(raw).copied()
    }

    /// The raw id of index `i`.
    ///
    /// # Panics
    /// If `i` is out of range.
    pub fn raw(&self, i: u32) -> &str {
        &self.ids.raw[i as usize]
    }

    /// Number of distinct ids.
    pub fn len(&self) -> usize {
        self.ids.raw.len()
    }

    /// Whether the map holds no id.
    pub fn is_empty(&self) -> bool {
        self.ids.raw.is_empty()
    }

    /// Raw ids in index order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> {
        self.ids.raw.iter().map(|s| &**s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_follow_first_appearance() {
        let mut m = IdMap::new();
        assert_eq!(m.intern("b"), 0);
        assert_eq!(m.intern("a"), 1);
        assert_eq!(m.intern("b"), 0);
        assert_eq!(m.get("a"), Some(1));
        assert_eq!(m.get("c"), None);
        assert_eq!(m.raw(1), "a");
        assert_eq!(m.iter().collect::<Vec<_>>(), ["b", "a"]);
    }

    /// A clone shares the ids until one of the two interns a new one, which the other does
    /// not see.
    #[test]
    fn clones_share_until_one_grows() {
        let mut a = IdMap::new();
        a.intern("x");
        let mut b = a.clone();
        assert!(Arc::ptr_eq(&a.ids, &b.ids));
        assert_eq!(b.intern("x"), 0);
        assert!(Arc::ptr_eq(&a.ids, &b.ids), "a known id copies nothing");
        assert_eq!(b.intern("y"), 1);
        assert_eq!((a.len(), b.len()), (1, 2));
        assert_eq!(a.get("y"), None);
        assert_ne!(a, b);
        a.intern("y");
        assert_eq!(a, b);
    }
}
