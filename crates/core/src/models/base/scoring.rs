//! Every user's best movies at once, for the models whose scores are products of factor rows
//! (SVD's predicted relevance, implicit ALS): blocks of users against blocks of movies, as
//! cache-blocked matrix products, each user's best `n` unseen movies kept as the blocks go by.
//!
//! A score is `fin(u, i) = clip(((c_u + b_i) + d(u, i)))`, in double precision, where `c_u` and
//! `b_i` are optional per-user and per-movie terms, `clip` the optional rating scale, and
//! `d(u, i)` the dot product of the user's and the movie's single-precision factor rows, summed
//! in the factors' order, one multiply and one add at a time ([`dot_in_order`]). The products
//! are vectorised across movies, never across factors, so every width (sixteen movies in an
//! AVX-512 register, eight in AVX2's, four, one) adds the same terms in the same order: the
//! scores, and so the lists, are the same bits on every CPU, and the same as one score computed
//! alone. Ties go to the lower inner id.
//!
//! The movies' rows are packed once into groups of sixty-four movies, factor-major
//! ([`Panels`]), so that a group's values of one factor are a few vectors. A thread takes a
//! block of [`USER_BLOCK`] users and runs it against the movies [`ITEM_BLOCK`] at a time (their
//! groups stay in the core's level-2 cache while every user of the block meets them), four
//! users and four registers of movies at a time in registers. Each score is first compared, in single
//! precision with a margin that covers its rounding, with the user's current `n`-th best; the
//! few that may enter are then computed exactly.

use rayon::prelude::*;

use crate::models::base::simd::{Isa, Simd};

/// Movies a group holds: the products' unit, whatever the registers (four AVX-512 registers
/// of a factor's values, eight of AVX2, sixteen of four lanes, sixty-four scalars).
pub const GROUP: usize = 64;
/// Users a thread runs against the movies at a time: their rows and lists stay in the core's
/// cache while the movie blocks pass.
pub const USER_BLOCK: usize = 256;
/// Movies a user block meets at a time: 1,024 movies of 100 factors are 400 KB of groups,
/// which stay in the core's level-2 cache while every user of the block meets them.
pub const ITEM_BLOCK: usize = 1024;
/// Users in registers at once.
const TILE: usize = 4;
/// Registers of each user's sums at once (so `TILE × SPAN` sums in registers).
const SPAN: usize = 4;

/// `Σ_f a_f·b_f` in the factors' order, unfused: what [`top_unseen`] computes for each pair.
#[inline]
pub fn dot_in_order(a: &[f32], b: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for (x, y) in a.iter().zip(b) {
        sum += x * y;
    }
    sum
}

/// A model's movie rows packed for the products: group `g` holds movies `64g` to `64g + 63`,
/// factor by factor (`data[(g·k + f)·64 + l]` is factor `f` of movie `64g + l`), zeros past the
/// last movie; and the per-movie term `b_i`, if any (also in single precision, for the first
/// comparison).
#[derive(Clone, Debug, PartialEq)]
pub struct Panels {
    k: usize,
    n_items: usize,
    data: Vec<f32>,
    bias: Option<Vec<f64>>,
    bias32: Vec<f32>,
}

impl Panels {
    /// The groups of the row-major `n_items × k` matrix `items`, with the per-movie terms
    /// `bias` (none: 0).
    pub fn new(items: &[f32], k: usize, bias: Option<&[f64]>) -> Panels {
        let n_items = items.len().checked_div(k).unwrap_or(0);
        let n_groups = n_items.div_ceil(GROUP);
        let mut data = vec![0.0f32; n_groups * k * GROUP];
        for (i, row) in items.chunks_exact(k.max(1)).enumerate() {
            let (g, l) = (i / GROUP, i % GROUP);
            for (f, &v) in row.iter().enumerate() {
                data[(g * k + f) * GROUP + l] = v;
            }
        }
        let mut bias32 = vec![0.0f32; n_groups * GROUP];
        if let Some(b) = bias {
            for (o, &v) in bias32.iter_mut().zip(b) {
                *o = v as f32;
            }
        }
        Panels { k, n_items, data, bias: bias.map(<[f64]>::to_vec), bias32 }
    }

    /// Movies.
    pub fn n_items(&self) -> usize {
        self.n_items
    }

    fn group(&self, g: usize) -> &[f32] {
        &self.data[g * self.k * GROUP..(g + 1) * self.k * GROUP]
    }
}

/// A value computed once, on first use, and carried along with the model it belongs to: it
/// takes no part in the model's equality (it is derived from the model) and is computed anew
/// in a clone.
pub struct Cached<T>(std::sync::OnceLock<T>);

impl<T> Default for Cached<T> {
    fn default() -> Cached<T> {
        Cached(std::sync::OnceLock::new())
    }
}

impl<T> Cached<T> {
    /// The value, computed by `make` on first use.
    pub fn get_or_init(&self, make: impl FnOnce() -> T) -> &T {
        self.0.get_or_init(make)
    }
}

impl<T> Clone for Cached<T> {
    fn clone(&self) -> Cached<T> {
        Cached(std::sync::OnceLock::new())
    }
}

impl<T> PartialEq for Cached<T> {
    fn eq(&self, _: &Cached<T>) -> bool {
        true
    }
}

impl<T> std::fmt::Debug for Cached<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() { "Cached(computed)" } else { "Cached(not yet)" })
    }
}

/// How a score is finished from its dot product: `clip(((c_u + b_i) + d))`, each term
/// optional (`b_i` is the panels').
#[derive(Clone, Copy, Debug)]
pub struct Finish<'a> {
    /// `c_u` by user (its inner id), if any.
    pub user: Option<&'a [f64]>,
    /// The rating scale's bounds, if scores are clipped to it.
    pub clip: Option<(f64, f64)>,
}

impl Finish<'_> {
    /// The score of a user (whose term is `c`) and movie `i` (the terms `b`, if any) from their
    /// dot product.
    #[inline]
    fn score(&self, c: Option<f64>, b: Option<&[f64]>, i: usize, d: f32) -> f64 {
        let mut est = match (c, b) {
            (Some(c), Some(b)) => (c + b[i]) + f64::from(d),
            (Some(c), None) => c + f64::from(d),
            (None, Some(b)) => b[i] + f64::from(d),
            (None, None) => f64::from(d),
        };
        if let Some((lo, hi)) = self.clip {
            est = est.clamp(lo, hi);
        }
        est
    }
}

/// A user's best `n` so far, worst last: (score, movie).
struct Best {
    n: usize,
    list: Vec<(f64, u32)>,
}

impl Best {
    fn new(n: usize) -> Best {
        Best { n, list: Vec::with_capacity(n + 1) }
    }

    /// The score a movie must beat to enter (movies come in increasing id, so an equal score
    /// loses to the lower id already in).
    fn threshold(&self) -> f64 {
        if self.list.len() < self.n { f64::NEG_INFINITY } else { self.list[self.n - 1].0 }
    }

    fn offer(&mut self, score: f64, movie: u32) {
        if self.n == 0 || (self.list.len() == self.n && score <= self.threshold()) || score.is_nan() {
            return;
        }
        let at = self.list.partition_point(|&(s, _)| s >= score);
        self.list.insert(at, (score, movie));
        self.list.truncate(self.n);
    }
}

/// The `n` best movies not in `seen(u)` (sorted inner ids) of each user of `users` (inner ids
/// into `user_rows`, row-major, `panels.k` factors each), best first: `(movie, score)`, the
/// score as [`Finish`] says and [`score`] computes alone. On the current rayon pool.
pub fn top_unseen<'s>(
    user_rows: &[f32],
    panels: &Panels,
    finish: &Finish<'_>,
    users: &[usize],
    seen: &(dyn Fn(usize) -> &'s [u32] + Sync),
    n: usize,
) -> Vec<Vec<(u32, f64)>> {
    top_unseen_on(Isa::current(), user_rows, panels, finish, users, seen, n)
}

/// [`top_unseen`] on the instructions `isa`.
fn top_unseen_on<'s>(
    isa: Isa,
    user_rows: &[f32],
    panels: &Panels,
    finish: &Finish<'_>,
    users: &[usize],
    seen: &(dyn Fn(usize) -> &'s [u32] + Sync),
    n: usize,
) -> Vec<Vec<(u32, f64)>> {
    let k = panels.k;
    users
        .par_chunks(USER_BLOCK)
        .flat_map_iter(|block| {
            let mut best: Vec<Best> = block.iter().map(|_| Best::new(n)).collect();
            let mut cursor = vec![0usize; block.len()];
            // Each tile's rows interleaved, factor by factor (`xs[f·4 + t]`), a short tile's
            // last user repeated (their sums are left unused).
            let tiles: Vec<(&[usize], Vec<f32>)> = block
                .chunks(TILE)
                .map(|tile| {
                    let mut xs = vec![0.0f32; k * TILE];
                    for t in 0..TILE {
                        let u = tile[t.min(tile.len() - 1)];
                        for (f, &x) in user_rows[u * k..(u + 1) * k].iter().enumerate() {
                            xs[f * TILE + t] = x;
                        }
                    }
                    (tile, xs)
                })
                .collect();
            let n_groups = panels.n_items.div_ceil(GROUP);
            let per_block = ITEM_BLOCK / GROUP;
            for first in (0..n_groups).step_by(per_block) {
                let groups = first..(first + per_block).min(n_groups);
                for (t, (tile, xs)) in tiles.iter().enumerate() {
                    let at = t * TILE;
                    let job = Tile {
                        xs,
                        users: tile,
                        panels,
                        finish,
                        groups: groups.clone(),
                        best: &mut best[at..at + tile.len()],
                        cursor: &mut cursor[at..at + tile.len()],
                        seen,
                    };
                    isa.run(Simd::Portable, job);
                }
            }
            best.into_iter().map(|b| b.list.into_iter().map(|(s, i)| (i, s)).collect::<Vec<_>>()).collect::<Vec<_>>()
        })
        .collect()
}

/// The score of user row `row` (the user's term `c`) and movie row `item` (its term `b`),
/// exactly as [`top_unseen`] computes it.
pub fn score(row: &[f32], c: Option<f64>, item: &[f32], b: Option<f64>, clip: Option<(f64, f64)>) -> f64 {
    let b = b.map(|b| [b]);
    Finish { user: None, clip }.score(c, b.as_ref().map(|b| &b[..]), 0, dot_in_order(row, item))
}

/// One tile of up to [`TILE`] users against a range of groups.
struct Tile<'a, 'b, 's> {
    xs: &'b [f32],
    users: &'b [usize],
    panels: &'a Panels,
    finish: &'b Finish<'a>,
    groups: std::ops::Range<usize>,
    best: &'b mut [Best],
    cursor: &'b mut [usize],
    seen: &'b (dyn Fn(usize) -> &'s [u32] + Sync),
}

/// The dot products of a tile's users (their rows interleaved in `xs`) with the movies of
/// registers `SPAN·part` to `SPAN·part + SPAN - 1` of each factor's row of `group`:
/// `sums[t][c]`. Each is summed factor by factor, one multiply and one add at a time, in
/// registers.
#[inline(always)]
fn products<S: pulp::Simd>(s: S, group: &[f32], xs: &[f32], part: usize) -> [[S::f32s; SPAN]; TILE] {
    let w = S::F32_LANES;
    let zero = s.splat_f32s(0.0);
    let mut acc = [[zero; SPAN]; TILE];
    for (row, x) in group.chunks_exact(GROUP).zip(xs.chunks_exact(TILE)) {
        let (q, _) = S::as_simd_f32s(&row[part * SPAN * w..(part + 1) * SPAN * w]);
        for t in 0..TILE {
            let b = s.splat_f32s(x[t]);
            for c in 0..SPAN {
                acc[t][c] = s.add_f32s(s.mul_f32s(b, q[c]), acc[t][c]);
            }
        }
    }
    acc
}

impl crate::models::base::simd::Vectorized for Tile<'_, '_, '_> {
    type Output = ();

    #[inline(always)]
    fn run<S: pulp::Simd, A: crate::models::base::simd::Arith>(self, s: S) {
        let Tile { xs, users, panels, finish, groups, best, cursor, seen } = self;
        let w = S::F32_LANES;
        let parts = GROUP / (SPAN * w);
        // The first comparison's margin: 2⁻²⁰ of the magnitudes involved covers the rounding of
        // the single-precision sums and of the threshold.
        let margin = s.splat_f32s(1.0 / 1_048_576.0);
        for g in groups {
            let group = panels.group(g);
            for part in 0..parts {
                let acc = products::<S>(s, group, xs, part);
                let first = g * GROUP + part * SPAN * w;
                let (bias, _) = S::as_simd_f32s(&panels.bias32[first..first + SPAN * w]);
                for (t, &u) in users.iter().enumerate() {
                    let c = finish.user.map(|c| c[u]);
                    let threshold = best[t].threshold();
                    // The dot product each movie needs, at least, to pass (single precision).
                    let needed = if threshold == f64::NEG_INFINITY {
                        f32::NEG_INFINITY
                    } else if finish.clip.is_some_and(|(_, hi)| threshold >= hi) {
                        f32::INFINITY
                    } else {
                        (threshold - c.unwrap_or(0.0)) as f32
                    };
                    let need = s.splat_f32s(needed);
                    let slack = s.splat_f32s(needed.abs() / 1_048_576.0 + f32::MIN_POSITIVE);
                    let mut any = false;
                    for c in 0..SPAN {
                        let (d, b) = (acc[t][c], bias[c]);
                        let m = s.mul_f32s(s.add_f32s(s.abs_f32s(d), s.abs_f32s(b)), margin);
                        let reach = s.add_f32s(s.add_f32s(s.add_f32s(d, b), m), slack);
                        any |= s.first_true_m32s(s.greater_than_or_equal_f32s(reach, need)) < w;
                    }
                    if !any {
                        continue;
                    }
                    // The few that may enter, exactly, in movie order.
                    let lanes: &[f32] = pulp::bytemuck::cast_slice(&acc[t]);
                    let seen = seen(u);
                    for (l, &d) in lanes.iter().enumerate() {
                        let i = first + l;
                        if i >= panels.n_items {
                            break;
                        }
                        let score = finish.score(c, panels.bias.as_deref(), i, d);
                        if score <= best[t].threshold() {
                            continue;
                        }
                        let at = &mut cursor[t];
                        while *at < seen.len() && (seen[*at] as usize) < i {
                            *at += 1;
                        }
                        if *at < seen.len() && seen[*at] as usize == i {
                            continue;
                        }
                        best[t].offer(score, i as u32);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::base::select::top_unseen as reference_top;

    /// Rows whose dot products round differently in different orders.
    fn rows(n: usize, k: usize, seed: f32) -> Vec<f32> {
        (0..n * k).map(|x| ((x as f32 + seed) * 0.6180339).sin() * 10f32.powi((x % 5) as i32 - 2)).collect()
    }

    #[test]
    fn the_lists_are_the_best_unseen_by_the_scores_computed_alone_on_every_instruction_set() {
        let (n_users, n_items, k) = (37, 1100, 20);
        let users = rows(n_users, k, 1.0);
        let items = rows(n_items, k, 7.0);
        let bias: Vec<f64> = (0..n_items).map(|i| ((i as f64) * 0.37).cos() * 3.0).collect();
        let offsets: Vec<f64> = (0..n_users).map(|u| u as f64 * 0.1 - 1.0).collect();
        let seen: Vec<Vec<u32>> =
            (0..n_users).map(|u| (0..n_items as u32).filter(|i| (i + u as u32).is_multiple_of(7)).collect()).collect();
        let which: Vec<usize> = (0..n_users).rev().collect();
        for (finish, bias) in [
            (Finish { user: Some(&offsets), clip: Some((-2.0, 2.5)) }, Some(&bias[..])),
            (Finish { user: None, clip: None }, None),
        ] {
            let panels = Panels::new(&items, k, bias);
            for isa in crate::models::base::simd::every_isa() {
                let got = top_unseen_on(isa, &users, &panels, &finish, &which, &|u| &seen[u], 15);
                for (&u, list) in which.iter().zip(&got) {
                    let c = finish.user.map(|c| c[u]);
                    let expected = reference_top(n_items, &seen[u], 15, |i| {
                        let i = i as usize;
                        let row = &users[u * k..(u + 1) * k];
                        score(row, c, &items[i * k..(i + 1) * k], bias.map(|b| b[i]), finish.clip)
                    });
                    assert_eq!(list, &expected, "{isa:?}, user {u}");
                }
            }
        }
    }
}
