//! Raw ids (opaque strings from the source) and the dense indices that stand for them.

use std::collections::HashMap;

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
/// appearance, as Surprise assigns its inner ids.
#[derive(Clone, Debug, Default)]
pub struct IdMap {
    raw: Vec<Box<str>>,
    index: HashMap<Box<str>, u32>,
}

impl PartialEq for IdMap {
    /// Two maps are equal when they hold the same ids at the same indices.
    fn eq(&self, other: &IdMap) -> bool {
        self.raw == other.raw
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
        if let Some(&i) = self.index.get(raw) {
            return i;
        }
        let i = u32::try_from(self.raw.len()).expect("more than 2^32 distinct ids");
        let key: Box<str> = raw.into();
        self.raw.push(key.clone());
        self.index.insert(key, i);
        i
    }

    /// The index of `raw`, if it has one.
    pub fn get(&self, raw: &str) -> Option<u32> {
        self.index.get(raw).copied()
    }

    /// The raw id of index `i`.
    ///
    /// # Panics
    /// If `i` is out of range.
    pub fn raw(&self, i: u32) -> &str {
        &self.raw[i as usize]
    }

    /// Number of distinct ids.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    /// Whether the map holds no id.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Raw ids in index order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> {
        self.raw.iter().map(|s| &**s)
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
}
