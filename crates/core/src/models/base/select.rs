//! Choosing the best of a catalogue: the top N movies by a score, skipping the ones a user
//! has seen. Every ranking indexes movies by the model's inner ids and breaks ties toward the
//! lower inner id (the movie seen first in the training data), so a list is a pure function
//! of the model and the input.

/// The `n` best movies of `n_items` by `score`, skipping `seen` (sorted inner ids), best
/// first; ties go to the lower inner id.
pub fn top_unseen(n_items: usize, seen: &[u32], n: usize, score: impl Fn(u32) -> f64) -> Vec<(u32, f64)> {
    let mut scored: Vec<(u32, f64)> = Vec::with_capacity(n_items.saturating_sub(seen.len()));
    let mut next_seen = seen.iter().peekable();
    for i in 0..n_items as u32 {
        while next_seen.peek().is_some_and(|&&s| s < i) {
            next_seen.next();
        }
        if next_seen.peek() == Some(&&i) {
            continue;
        }
        scored.push((i, score(i)));
    }
    let order = |a: &(u32, f64), b: &(u32, f64)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if n < scored.len() {
        scored.select_nth_unstable_by(n, order);
        scored.truncate(n);
        // Kept lists must not hold the whole catalogue's room: one list per user of a large
        // catalogue would fill the memory.
        scored.shrink_to_fit();
    }
    scored.sort_by(order);
    scored
}
/// The movies of a history, sorted.
pub fn movies_of(history: &[(u32, f64)]) -> Vec<u32> {
    history.iter().map(|h| h.0).collect()
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_unseen_skips_the_seen_and_breaks_ties_by_id() {
        let scores = [5.0, 9.0, 9.0, 1.0, 7.0, 9.0];
        let top = top_unseen(6, &[2], 3, |i| scores[i as usize]);
        assert_eq!(top, vec![(1, 9.0), (5, 9.0), (4, 7.0)]);
        assert_eq!(top_unseen(6, &[0, 1, 2, 3, 4], 3, |i| scores[i as usize]), vec![(5, 9.0)]);
        // A short list of a large catalogue keeps no room for the rest (one per user is kept).
        let list = top_unseen(100_000, &[], 10, |i| f64::from(i % 7));
        assert!(list.len() == 10 && list.capacity() < 100, "{}", list.capacity());
        assert_eq!(top_unseen(3, &[], 10, f64::from).len(), 3);
    }
}
