//! Surprise's `Trainset`: a rating list seen user by user, with the global mean.

use std::ops::Range;
use std::sync::OnceLock;

use rayon::prelude::*;

use crate::data::dataset::RatingList;
use crate::numpy;

/// A training set as Surprise builds it from a list of ratings: inner ids are the list's
/// first-appearance indices, `all_ratings()` visits users in index order and each user's
/// ratings in list order, and the global mean is numpy's pairwise mean in that order.
#[derive(Clone, Debug)]
pub struct Trainset<'a> {
    list: &'a RatingList,
    /// Row indices of the list, user-major.
    order: Vec<u32>,
    /// `order[user_start[u]..user_start[u + 1]]` are user `u`'s rows.
    user_start: Vec<usize>,
    global_mean: f64,
    /// Surprise's `ur` and `ir`, grouped on first use and kept (as Surprise keeps them), so
    /// that the fits on one training set share them.
    ur: OnceLock<Rows>,
    ir: OnceLock<Rows>,
}

impl<'a> Trainset<'a> {
    /// The training set of `list`.
    ///
    /// # Panics
    /// If `list` is empty.
    pub fn new(list: &'a RatingList) -> Trainset<'a> {
        assert!(!list.is_empty(), "an empty training set");
        let (order, user_start) = list.rows_by_user();
        let scores: Vec<f64> = order.iter().map(|&r| list.score()[r as usize]).collect();
        let global_mean = numpy::mean(&scores);
        Trainset { list, order, user_start, global_mean, ur: OnceLock::new(), ir: OnceLock::new() }
    }

    /// The underlying list.
    pub fn list(&self) -> &'a RatingList {
        self.list
    }

    /// Number of users.
    pub fn n_users(&self) -> usize {
        self.list.users().len()
    }

    /// Number of movies (Surprise's items).
    pub fn n_items(&self) -> usize {
        self.list.movies().len()
    }

    /// Number of ratings.
    pub fn n_ratings(&self) -> usize {
        self.list.len()
    }

    /// numpy's mean of all scores in `all_ratings` order.
    pub fn global_mean(&self) -> f64 {
        self.global_mean
    }

    /// `(user, item, score)` of every rating, user-major, as Surprise's `all_ratings()`.
    pub fn all_ratings(&self) -> impl Iterator<Item = (usize, usize, f64)> + '_ {
        self.order.iter().map(|&r| {
            let r = r as usize;
            (self.list.user()[r].get(), self.list.movie()[r].get(), self.list.score()[r])
        })
    }

    /// The list rows of every rating, user-major: `all_ratings`' order.
    pub fn rows(&self) -> &[u32] {
        &self.order
    }

    /// The list rows of user `u`, in list order.
    pub fn user_rows(&self, u: usize) -> &[u32] {
        &self.order[self.user_start[u]..self.user_start[u + 1]]
    }

    /// Each user's `(movie, score)` pairs in list order: Surprise's `ur`.
    pub fn ur(&self) -> &Rows {
        self.ur.get_or_init(|| {
            let list = self.list;
            Rows {
                start: self.user_start.clone(),
                id: self.order.iter().map(|&r| list.movie()[r as usize].0).collect(),
                score: self.order.iter().map(|&r| list.score()[r as usize]).collect(),
            }
        })
    }

    /// Each movie's `(user, score)` pairs in list order: Surprise's `ir`.
    pub fn ir(&self) -> &Rows {
        self.ir.get_or_init(|| {
            let list = self.list;
            let start = group_starts(self.n_items(), list.movie().iter().map(|m| m.get()));
            let mut next = start.clone();
            let (mut id, mut score) = (vec![0u32; list.len()], vec![0.0; list.len()]);
            for r in 0..list.len() {
                let slot = &mut next[list.movie()[r].get()];
                id[*slot] = list.user()[r].0;
                score[*slot] = list.score()[r];
                *slot += 1;
            }
            Rows { start, id, score }
        })
    }
}

/// Ratings grouped by user or by movie, each group in list order: Surprise's `ur` or `ir`
/// in one allocation.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Rows {
    /// `id[start[x]..start[x + 1]]` are row `x`'s entries.
    pub start: Vec<usize>,
    /// The other side's inner ids (movies of a user, users of a movie).
    pub id: Vec<u32>,
    /// The scores, aligned with `id`.
    pub score: Vec<f64>,
}

impl Rows {
    /// Rows.
    pub fn len(&self) -> usize {
        self.start.len() - 1
    }

    /// Whether there is no row.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Row `x`'s ids and scores.
    pub fn row(&self, x: usize) -> (&[u32], &[f64]) {
        let r = self.start[x]..self.start[x + 1];
        (&self.id[r.clone()], &self.score[r])
    }

    /// Row `x`'s scores.
    pub fn scores(&self, x: usize) -> &[f64] {
        &self.score[self.start[x]..self.start[x + 1]]
    }

    /// Entries in row `x`.
    pub fn count(&self, x: usize) -> usize {
        self.start[x + 1] - self.start[x]
    }

    /// The same rows, each sorted by id (ids below `n`), entries of the same id in their
    /// order here: what [`Rows::transpose`] twice gives. Rows are sorted in chunks of about
    /// 4,096 entries (more when `n` is larger), in buffers small enough to stay in the core's
    /// cache: up to [`BITMAP_MAX`] ids, each row through a bitmap of its ids (a row that
    /// repeats one by two stable counting sorts); above, each chunk by two stable counting
    /// sorts. Chunks run in parallel on the current rayon pool.
    pub fn sorted(&self, n: usize) -> Rows {
        self.sorted_in_chunks(n, SORT_CHUNK.max(2 * n), n <= BITMAP_MAX)
    }

    /// [`Rows::sorted`] in chunks of whole rows of at most `chunk` entries (or one row),
    /// through bitmaps if `bitmaps`.
    fn sorted_in_chunks(&self, n: usize, chunk: usize, bitmaps: bool) -> Rows {
        let len = self.id.len();
        let (mut id, mut score) = (vec![0u32; len], vec![0.0; len]);
        // Each chunk's rows, and its part of the output.
        let mut parts = Vec::new();
        let (mut ids, mut scores) = (&mut id[..], &mut score[..]);
        let mut x = 0;
        while x < self.len() {
            let first = self.start[x];
            let end = x + 1 + (x + 1..self.len()).take_while(|&e| self.start[e + 1] - first <= chunk).count();
            let size = self.start[end] - first;
            let (i, rest_i) = std::mem::take(&mut ids).split_at_mut(size);
            let (s, rest_s) = std::mem::take(&mut scores).split_at_mut(size);
            parts.push((x..end, i, s));
            (ids, scores) = (rest_i, rest_s);
            x = end;
        }
        parts.into_par_iter().for_each_init(ChunkSort::default, |buf, (rows, ids, scores)| {
            if bitmaps {
                buf.bitmaps(self, n, rows, ids, scores);
            } else {
                buf.counting(self, n, rows, ids, scores);
            }
        });
        Rows { start: self.start.clone(), id, score }
    }

    /// The same entries grouped the other way, into `n` rows (ids below `n`): each row sorted
    /// by id, and entries of the same id in their order here.
    pub fn transpose(&self, n: usize) -> Rows {
        let start = group_starts(n, self.id.iter().map(|&id| id as usize));
        let mut next = start.clone();
        let (mut id, mut score) = (vec![0u32; self.id.len()], vec![0.0; self.id.len()]);
        for x in 0..self.len() {
            let (ids, scores) = self.row(x);
            for (&y, &r) in ids.iter().zip(scores) {
                let slot = &mut next[y as usize];
                id[*slot] = x as u32;
                score[*slot] = r;
                *slot += 1;
            }
        }
        Rows { start, id, score }
    }
}

/// The entries [`Rows::sorted`] sorts together, unless `n` is larger.
const SORT_CHUNK: usize = 4096;

/// A chunk's buffers, reused from chunk to chunk.
#[derive(Default)]
struct ChunkSort {
    /// Per id: where its entries go next.
    next: Vec<u32>,
    /// The chunk's positions grouped by id, each id's in their order.
    by_id: Vec<u32>,
    /// Each position's row in the chunk.
    row_of: Vec<u32>,
    /// Per row: where its next entry goes.
    row_next: Vec<u32>,
    /// The ids of a row, a bit each (rows of distinct ids, `n` up to [`BITMAP_MAX`]).
    bits: Vec<u64>,
    /// The score of each id of the row.
    at: Vec<f64>,
}

/// Up to this many ids, rows of distinct ids are sorted through a bitmap of their ids.
const BITMAP_MAX: usize = 8192;

impl ChunkSort {
    /// Rows `rows` of `from` sorted by id into `ids` and `scores` (their entries' room): each
    /// row's ids as bits, then read in order with their scores; a row that repeats an id by
    /// the counting sorts, alone.
    fn bitmaps(&mut self, from: &Rows, n: usize, rows: Range<usize>, ids: &mut [u32], scores: &mut [f64]) {
        let first = from.start[rows.start];
        self.bits.resize(n.div_ceil(64), 0);
        self.at.resize(n, 0.0);
        for x in rows {
            let r = from.start[x]..from.start[x + 1];
            let (row_ids, row_scores) = (&from.id[r.clone()], &from.score[r.clone()]);
            let (mut lo, mut hi, mut repeated) = (usize::MAX, 0, false);
            for (&i, &s) in row_ids.iter().zip(row_scores) {
                let (w, bit) = (i as usize / 64, 1u64 << (i % 64));
                repeated |= self.bits[w] & bit != 0;
                self.bits[w] |= bit;
                self.at[i as usize] = s;
                (lo, hi) = (lo.min(w), hi.max(w + 1));
            }
            let out = r.start - first..r.end - first;
            if repeated {
                self.bits[lo.min(hi)..hi].fill(0);
                self.counting(from, n, x..x + 1, &mut ids[out.clone()], &mut scores[out]);
                continue;
            }
            let mut o = out.start;
            for w in lo.min(hi)..hi {
                let mut word = std::mem::take(&mut self.bits[w]);
                while word != 0 {
                    let i = w * 64 + word.trailing_zeros() as usize;
                    (ids[o], scores[o]) = (i as u32, self.at[i]);
                    o += 1;
                    word &= word - 1;
                }
            }
        }
    }

    /// Rows `rows` of `from` sorted by id into `ids` and `scores` (their entries' room), by
    /// two stable counting sorts: by id, then by row.
    fn counting(&mut self, from: &Rows, n: usize, rows: Range<usize>, ids: &mut [u32], scores: &mut [f64]) {
        let first = from.start[rows.start];
        let (src_id, src_score) = (&from.id[first..first + ids.len()], &from.score[first..first + ids.len()]);
        // By id, stably: the positions of each id in order.
        self.next.clear();
        self.next.resize(n + 1, 0);
        for &i in src_id {
            self.next[i as usize + 1] += 1;
        }
        for k in 0..n {
            self.next[k + 1] += self.next[k];
        }
        self.by_id.clear();
        self.by_id.resize(src_id.len(), 0);
        for (p, &i) in src_id.iter().enumerate() {
            let slot = &mut self.next[i as usize];
            self.by_id[*slot as usize] = p as u32;
            *slot += 1;
        }
        // By row, stably: each row's positions in id order, gathered.
        self.row_of.clear();
        self.row_next.clear();
        for (r, x) in rows.clone().enumerate() {
            self.row_of.extend(std::iter::repeat_n(r as u32, from.count(x)));
            self.row_next.push((from.start[x] - first) as u32);
        }
        for &p in &self.by_id {
            let slot = &mut self.row_next[self.row_of[p as usize] as usize];
            ids[*slot as usize] = src_id[p as usize];
            scores[*slot as usize] = src_score[p as usize];
            *slot += 1;
        }
    }
}

/// Where each of `n` groups starts (and, last, where the entries end) when the entries of
/// `keys` (each below `n`) are grouped by key: a counting sort's offsets.
fn group_starts(n: usize, keys: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut start = vec![0usize; n + 1];
    for key in keys {
        start[key + 1] += 1;
    }
    for k in 0..n {
        start[k + 1] += start[k];
    }
    start
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::scale::RatingScale;

    #[test]
    fn all_ratings_is_user_major_in_list_order() {
        let mut l = RatingList::new(RatingScale::SEED);
        for (u, m, s) in [("b", "x", 1.0), ("a", "y", 2.0), ("b", "y", 3.0), ("a", "x", 4.0)] {
            l.push(u, m, s);
        }
        let t = Trainset::new(&l);
        assert_eq!(t.all_ratings().collect::<Vec<_>>(), [(0, 0, 1.0), (0, 1, 3.0), (1, 1, 2.0), (1, 0, 4.0)]);
        assert_eq!(t.global_mean(), 2.5);
        assert_eq!(t.user_rows(1), [1, 3]);
        let (ur, ir) = (t.ur(), t.ir());
        assert_eq!(ir.row(0), (&[0u32, 1][..], &[1.0, 4.0][..]));
        // Grouped once, then kept.
        assert!(std::ptr::eq(ur, t.ur()) && std::ptr::eq(ir, t.ir()));
        assert_eq!(ur.row(0), (&[0u32, 1][..], &[1.0, 3.0][..]));
        assert_eq!(ir.row(1), (&[1u32, 0][..], &[2.0, 3.0][..]));
        assert_eq!((ur.len(), ir.count(0)), (2, 2));
        // ir's rows sorted by user: movie y was rated by user 1, then user 0.
        let by_user = ur.transpose(2);
        assert_eq!(by_user.row(1), (&[0u32, 1][..], &[3.0, 2.0][..]));
        assert_eq!(by_user.transpose(2).row(1), (&[0u32, 1][..], &[4.0, 2.0][..]));
    }

    #[test]
    fn sorted_rows_are_the_transpose_of_the_transpose() {
        // Rows with unsorted ids, repeated ids (kept in their order) and an empty row.
        let rows = Rows {
            start: vec![0, 5, 5, 8],
            id: vec![3, 1, 3, 0, 1, 2, 0, 1],
            score: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        };
        for bitmaps in [false, true] {
            let sorted = rows.sorted_in_chunks(4, 4096, bitmaps);
            assert_eq!(sorted.row(0), (&[0u32, 1, 1, 3, 3][..], &[4.0, 2.0, 5.0, 1.0, 3.0][..]));
            assert_eq!(sorted.count(1), 0);
            assert_eq!(sorted.row(2), (&[0u32, 1, 2][..], &[7.0, 8.0, 6.0][..]));
            assert_eq!(sorted, rows.transpose(4).transpose(3));
        }
        assert_eq!(rows.sorted(4), rows.transpose(4).transpose(3));
        use crate::data::synthetic::{SyntheticConfig, generate};
        let data = generate(&SyntheticConfig { seed: 3, scale: 0.01, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        let t = Trainset::new(&data.ratings);
        for (rows, other) in [(t.ur(), t.n_items()), (t.ir(), t.n_users())] {
            let expected = rows.transpose(other).transpose(rows.len());
            assert_eq!(rows.sorted(other), expected);
            // Chunks of one row, a few rows, rows longer than a chunk; on 1 and 3 threads,
            // through bitmaps or not.
            for chunk in [1, 7, 100] {
                for (threads, bitmaps) in [(1, false), (3, false), (1, true), (3, true)] {
                    let sorted = crate::models::base::install(threads, || rows.sorted_in_chunks(other, chunk, bitmaps));
                    assert_eq!(sorted, expected, "chunks of {chunk} on {threads} threads, bitmaps {bitmaps}");
                }
            }
        }
    }
}
