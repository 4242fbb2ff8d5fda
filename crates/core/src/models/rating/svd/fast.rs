//! The `fast` training mode: single precision, parallel, deterministic.
//!
//! The movies are dealt into up to [`ITEM_GROUPS`] groups of about equal numbers of ratings,
//! and the users cut into groups of consecutive users of about [`GROUP_RATINGS`] ratings. The
//! fit visits the ratings in about Surprise's order, user group by user group, each user's
//! ratings grouped by movie group (in list order within a movie group), each user group
//! starting at the next movie group (`Grid::turn`). Within a block (a user group's ratings of
//! one movie group) the users' ratings are interleaved ([`interleave`]), so that consecutive
//! ratings rarely share a user or a movie: the pass then computes each rating's prediction
//! during the update before it, and the CPU does two ratings' work at once (one thread 20%
//! faster). On the seed-like data this leaves the test RMSE within 0.2% of Surprise's order
//! (14.80 against 14.77); spreading each user's ratings over the epoch, as LibMF's FPSGD does
//! with its rotation of blocks, cost 1.4% to 3% (two to eight groups).
//!
//! Two ratings interact only when they share a user or a movie, so the model is fixed by
//! two orders: each user's over its movie groups, each movie's over its users. Any order of
//! the blocks (user group, movie group) that keeps both gives the same model, bit for bit.
//! One thread runs the blocks user group by user group (the group's rows stay in cache while
//! it meets every movie group). More threads each take every `n`-th pair of consecutive user
//! groups ([`GROUPS_PER_TURN`]) and run each group a couple of blocks behind the group before,
//! which has just left the movie group it needs (`Grid::needed`): blocks running at once share
//! neither users nor movies, each updates its rows in place, there is nothing to merge and
//! nothing depends on the number of threads. About `ITEM_GROUPS / 2` threads can work at once.
//!
//! Unless the caller asks for the model after each epoch (`optimize`'s shared fits), the
//! epochs overlap: with no barrier between them, a thread goes on to the next epoch's groups
//! as soon as their rows and movie groups are free, so the threads' drift from each other is
//! paid once a fit rather than once an epoch. Each epoch's training error and finiteness
//! checks are left by the blocks that complete them and reported in order.
//!
//! The initial factors are drawn as the `surprise` mode draws them, straight into the groups'
//! single-precision rows, beside the grid's construction on a second thread.
//!
//! Each step is Surprise's, with its constant learning rate, or with `adagrad` AdaGrad's
//! adaptive one (as LibMF's: `BlockPass::sweep`), which keeps a sum of squared gradients
//! per bias and per row of factors beside the rows, and each row's squared norm: a row's
//! sum then follows from the norms and the rating's dot product (`Step::squares`), and
//! AdaGrad's pass does the constant rate's work per factor (before, twice as many
//! operations: 1.18 times the fit's time on one thread at MovieLens-32M's shape).
//!
//! Each update runs on the CPU's best vector instructions, chosen at run time (AVX-512, 20%
//! faster than AVX2 here), in the arithmetic of the model's `simd` ([`crate::models::base::simd`]):
//! the portable one, the same bits on every CPU, or the native one. Factor rows are padded
//! with zeros to whole vectors (sixteen floats in the portable arithmetic), and each group's
//! rows and biases start on cache-line boundaries in buffers of their own: no vector straddles
//! two lines, no row ends in a scalar tail, and two threads never write to one line.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;

use crate::data::trainset::Trainset;
use crate::models::base::simd::{Arith, Isa, Simd, Vectorized};
use crate::models::rating::svd::{Diverged, Epoch, Factors, Progress, Svd, SvdModel, SvdParams, TrainMode, all_finite};
use crate::numpy::RandomState;

/// Movie groups, at least (fewer only for a catalogue of fewer movies): about twice the
/// threads one fit can use. The model depends on it (64 groups: test RMSE 14.84 on the
/// seed-like data, 32: 14.79, 16: 14.79).
pub const ITEM_GROUPS: usize = 32;
/// Ratings per user group, at least: a group's rows stay in a core's cache while it meets
/// every movie group (at the seed's 24 ratings a user, 340 users: 140 KB of factors), and a
/// block (256 ratings) is worth the movie group's trip from another core. The model depends
/// on it.
pub const GROUP_RATINGS: usize = 8192;
/// Bytes of factor rows in one movie group, at most, once the catalogue needs more than
/// [`ITEM_GROUPS`] such groups: a block's movie rows then stay in a core's level-2 cache
/// beside its user group's while the block updates them. Catalogues up to about 18,000
/// movies of 100 factors keep [`ITEM_GROUPS`] groups (the seed's 385, MovieLens-100k's 1,682);
/// MovieLens-32M's 87,000 take 149. The model depends on it.
pub const ITEM_GROUP_BYTES: usize = 256 << 10;
/// Ratings per user group for each movie of the catalogue, at least: each block then meets
/// about this many ratings of each of its movies, so a movie's row, once brought into the
/// cache, serves about this many updates before the block moves on. Below 4,096 movies the
/// groups keep [`GROUP_RATINGS`]; at MovieLens-32M's 87,000, 174,000 ratings (about 1,100
/// users, 490 KB of rows). The model depends on it.
pub const GROUP_RATINGS_PER_MOVIE: usize = 2;
/// Training ratings per thread, at least, when the number of threads is left to the fit: on
/// MovieLens-100k (80,000) two threads were slower than one, on the seed's 326,088 1.75 times
/// faster. The model does not depend on it.
pub const RATINGS_PER_THREAD: usize = 131_072;
/// The threads a fast fit of `n_ratings` training ratings takes when left to choose: the
/// machine's cores, but no more than one per [`RATINGS_PER_THREAD`] (at least one).
pub fn threads_for(n_ratings: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    cores.min(n_ratings / RATINGS_PER_THREAD).max(1)
}

impl SvdParams {
    /// The threads a fit with a budget of `budget` threads (0: as many as help) runs on, for
    /// `n_ratings` training ratings: one in the `surprise` mode; in the `fast` mode the budget,
    /// or when left to choose no more than the data keeps busy ([`threads_for`]). The
    /// model does not depend on it.
    pub fn threads(&self, budget: usize, n_ratings: usize) -> usize {
        match self.mode {
            TrainMode::Surprise => 1,
            TrainMode::Fast if budget == 0 => threads_for(n_ratings),
            TrainMode::Fast => budget,
        }
    }
}

/// Consecutive user groups one thread takes at a time on several threads, their blocks
/// interleaved, so a movie group's rows go from one group to the next within the core's cache
/// (half the trips from core to core of one group at a time; 10% faster on two threads here,
/// 3 or 4 were slower).
const GROUPS_PER_TURN: usize = 2;
/// Runs of users a block's order interleaves ([`interleave`]). The model depends on it (on the
/// seed-like data, test RMSE 14.78 with 2 or 3, 14.80 with 4, which ran fastest).
const RUNS: usize = 4;

/// How a fit runs, besides the model's parameters.
#[derive(Clone, Copy)]
struct Run {
    /// The instructions (in the native arithmetic, the model differs between them by
    /// rounding).
    isa: Isa,
    /// Ratings per user group, about, and movie groups: [`Run::sized`] to the data but in
    /// the tests, which need many groups of small data (the model depends on both).
    group_ratings: usize,
    item_groups: usize,
    /// Threads (0: [`threads_for`] the data); the model does not depend on it.
    threads: usize,
    /// Whether, on several threads, an epoch may start before the one before has ended (no
    /// barrier between epochs; the caller then never asks for the model after an epoch).
    overlap: bool,
}

impl Run {
    /// The groups sized to `t` and `n_factors` (never to the instructions or the threads):
    /// at least [`GROUP_RATINGS`] ratings a user group and [`ITEM_GROUPS`] movie groups, more
    /// of both as the catalogue grows ([`ITEM_GROUP_BYTES`], [`GROUP_RATINGS_PER_MOVIE`]).
    fn sized(t: &Trainset<'_>, n_factors: usize, isa: Isa, threads: usize, overlap: bool) -> Run {
        let (group_ratings, item_groups) = group_sizes(t.n_items(), n_factors);
        Run { isa, group_ratings, item_groups, threads, overlap }
    }
}

/// Ratings per user group and movie groups for a catalogue of `n_items` movies and
/// `n_factors` factors ([`Run::sized`]).
fn group_sizes(n_items: usize, n_factors: usize) -> (usize, usize) {
    let row_bytes = n_factors.next_multiple_of(16) * std::mem::size_of::<f32>();
    (
        GROUP_RATINGS.max(GROUP_RATINGS_PER_MOVIE * n_items),
        ITEM_GROUPS.max((n_items * row_bytes).div_ceil(ITEM_GROUP_BYTES)),
    )
}

/// Learning rates and regularisation in single precision: `bu`, `bi`, `pu`, `qi`.
#[derive(Clone, Copy)]
struct Rates {
    lr: [f32; 4],
    reg: [f32; 4],
    mu: f32,
    biased: bool,
    adagrad: bool,
    /// `1 / n_factors` (without the padding): AdaGrad's sums of a row's squared gradients
    /// are their means over its factors.
    per_factor: f32,
}

/// The grid of blocks: users cut into ranges, movies dealt into groups ([`Layout`]), and the
/// ratings of each (user group, movie group) pair, user-major, with ids local to their groups.
#[derive(Debug)]
struct Grid {
    layout: Layout,
    /// Block `(g, h)`'s ratings are `block_start[g * n_item_groups + h]..` the next start.
    block_start: Vec<usize>,
    user: Vec<u32>,
    item: Vec<u32>,
    score: Vec<f32>,
}

/// Which users and movies make up each group: what the grid's blocks and the rows' buffers
/// both follow.
#[derive(Clone, Debug)]
struct Layout {
    /// `user_start[g]..user_start[g + 1]` are user group `g`.
    user_start: Vec<usize>,
    /// `row_start[g]..row_start[g + 1]` are group `g`'s ratings among the user-major rows.
    row_start: Vec<usize>,
    /// The group of each movie, and its index within the group.
    item_group: Vec<u32>,
    item_local: Vec<u32>,
    /// Movies per group.
    group_items: Vec<usize>,
}

impl Layout {
    /// User groups of about `group_ratings` ratings and up to `item_groups` movie groups.
    /// The model depends on both, never on the number of threads.
    fn new(t: &Trainset<'_>, group_ratings: usize, item_groups: usize) -> Layout {
        let list = t.list();
        let (n_users, n_items, n) = (t.n_users(), t.n_items(), t.n_ratings());
        let n_user_groups = n.div_ceil(group_ratings.max(1)).clamp(1, n_users.max(1));
        let n_item_groups = item_groups.min(n_items).max(1);
        // Users: consecutive ranges, a new one once the ratings seen reach its share.
        let (mut user_start, mut row_start) = (vec![0], vec![0]);
        let mut seen = 0;
        for u in 0..n_users {
            seen += t.user_rows(u).len();
            while user_start.len() < n_user_groups && seen * n_user_groups >= user_start.len() * n {
                user_start.push(u + 1);
                row_start.push(seen);
            }
        }
        user_start.push(n_users);
        row_start.push(n);
        // Movies: the most rated first, each to the group with the fewest ratings so far.
        let mut count = vec![0usize; n_items];
        for m in list.movie() {
            count[m.get()] += 1;
        }
        let mut by_count: Vec<usize> = (0..n_items).collect();
        by_count.sort_by_key(|&i| (std::cmp::Reverse(count[i]), i));
        let mut load = vec![0usize; n_item_groups];
        let mut item_group = vec![0u32; n_items];
        for &i in &by_count {
            let h = (0..n_item_groups).min_by_key(|&h| (load[h], h)).expect("a movie group");
            item_group[i] = h as u32;
            load[h] += count[i];
        }
        let mut group_items = vec![0usize; n_item_groups];
        let item_local: Vec<u32> = item_group
            .iter()
            .map(|&h| {
                group_items[h as usize] += 1;
                (group_items[h as usize] - 1) as u32
            })
            .collect();
        Layout { user_start, row_start, item_group, item_local, group_items }
    }
}

impl Grid {
    /// The grid of `t`'s ratings in `layout`'s groups.
    fn new(t: &Trainset<'_>, layout: Layout) -> Grid {
        let list = t.list();
        let n = t.n_ratings();
        let Layout { user_start, row_start, item_group, item_local, group_items } = &layout;
        let (n_user_groups, n_item_groups) = (user_start.len() - 1, group_items.len());
        // The blocks, user group by user group: a counting sort of the group's user-major
        // ratings by movie group, which keeps each block user-major and each user's ratings
        // within a block in list order.
        let mut block_start = Vec::with_capacity(n_user_groups * n_item_groups + 1);
        let (mut user, mut item, mut score) = (vec![0u32; n], vec![0u32; n], vec![0.0f32; n]);
        let (mut group_of, mut next) = (Vec::new(), vec![0usize; n_item_groups]);
        for (g, w) in user_start.windows(2).enumerate() {
            let rows = &t.rows()[row_start[g]..row_start[g + 1]];
            group_of.clear();
            group_of.extend(rows.iter().map(|&row| item_group[list.movie()[row as usize].get()]));
            next.fill(0);
            for &h in &group_of {
                next[h as usize] += 1;
            }
            let mut at = row_start[g];
            for slot in &mut next {
                block_start.push(at);
                at += std::mem::replace(slot, at);
            }
            let mut j = 0;
            for u in w[0]..w[1] {
                for &row in t.user_rows(u) {
                    let (h, row) = (group_of[j] as usize, row as usize);
                    j += 1;
                    let slot = next[h];
                    next[h] += 1;
                    user[slot] = (u - w[0]) as u32;
                    item[slot] = item_local[list.movie()[row].get()];
                    score[slot] = list.score()[row] as f32;
                }
            }
        }
        block_start.push(n);
        // Then each block in the fit's order.
        let mut scratch = Vec::new();
        for w in block_start.windows(2) {
            let r = w[0]..w[1];
            interleave(&mut user[r.clone()], &mut item[r.clone()], &mut score[r], &mut scratch);
        }
        Grid { layout, block_start, user, item, score }
    }

    fn n_item_groups(&self) -> usize {
        self.layout.group_items.len()
    }

    /// The movie group user group `g` meets first: the next group's next, so the movie groups
    /// a user's ratings end with (the ones its row ends closest to) vary between users. The
    /// same first movie group for everyone cost 1% of test RMSE on the seed-like data
    /// (14.93 against 14.77 for Surprise's order); starting the groups at evenly spread movie
    /// groups, 0.3% (14.82); this, 0.1% (14.79).
    fn first(&self, g: usize) -> usize {
        g % self.n_item_groups()
    }

    /// The movie group user group `g` meets `j`-th.
    fn turn(&self, g: usize, j: usize) -> usize {
        (self.first(g) + j) % self.n_item_groups()
    }

    /// Blocks user group `g - 1` must have done before `g`'s `j`-th: the one on the same
    /// movie group is `first(g) - first(g - 1)` (one, or none with one movie group) further
    /// in its order, or, past its end, one it did before this one.
    fn needed(&self, g: usize, j: usize) -> usize {
        let n_h = self.n_item_groups();
        (j + 1 + (self.first(g) + n_h - self.first(g - 1)) % n_h).min(n_h)
    }

    /// Blocks the last user group must have done in an epoch before the first group's `j`-th
    /// in the next: [`Grid::needed`] across the epochs' boundary.
    fn needed_across(&self, j: usize) -> usize {
        let (n_h, last) = (self.n_item_groups(), self.layout.user_start.len() - 2);
        (j + 1 + (self.first(0) + n_h - self.first(last)) % n_h).min(n_h)
    }

    /// Block `(g, h)`'s ratings.
    fn block(&self, g: usize, h: usize) -> std::ops::Range<usize> {
        let b = g * self.n_item_groups() + h;
        self.block_start[b]..self.block_start[b + 1]
    }
}

/// Puts one block's ratings, given user-major, in the order the fit visits them: the block's
/// users cut into [`RUNS`] runs of consecutive users of about equal numbers of ratings, taken
/// in turn, each time the next run whose next rating shares neither its user nor its movie
/// with the rating before (when every run's does, the next run's anyway). Each user's ratings
/// keep their order.
fn interleave(user: &mut [u32], item: &mut [u32], score: &mut [f32], scratch: &mut Vec<(u32, u32, f32)>) {
    let n = user.len();
    // Run `c` is `start[c]..start[c + 1]`: from the first user with a rating at `c / RUNS` of
    // the block or after.
    let mut start = [n; RUNS + 1];
    start[0] = 0;
    for c in 1..RUNS {
        let mut x = (n * c / RUNS).max(start[c - 1]);
        while x > 0 && x < n && user[x] == user[x - 1] {
            x += 1;
        }
        start[c] = x;
    }
    let mut at: [usize; RUNS] = std::array::from_fn(|c| start[c]);
    let mut c = 0;
    scratch.clear();
    while scratch.len() < n {
        let live = || (0..RUNS).map(|d| (c + d) % RUNS).filter(|&r| at[r] < start[r + 1]);
        let free = |&r: &usize| scratch.last().is_none_or(|&(u, i, _)| user[at[r]] != u && item[at[r]] != i);
        let r = live().find(free).or_else(|| live().next()).expect("a rating left");
        scratch.push((user[at[r]], item[at[r]], score[at[r]]));
        at[r] += 1;
        c = (r + 1) % RUNS;
    }
    for (j, &(u, i, r)) in scratch.iter().enumerate() {
        (user[j], item[j], score[j]) = (u, i, r);
    }
}

/// A user group's rows of `pu` and `bu`, in buffers of their own. Aligned to a cache line,
/// as [`ItemRows`], so that two groups' locks and fields never share one.
#[repr(align(64))]
struct UserRows {
    pu: Aligned<f32>,
    bu: Aligned<f32>,
    /// AdaGrad's values, [`SUMS`] per user (none without it).
    g: Aligned<f32>,
    /// Whether `bu` and `pu` were all finite after the group's last block this epoch (checked
    /// then, while the rows are in the core's cache).
    finite: [bool; 2],
}

impl UserRows {
    fn check_finite(&mut self) {
        self.finite = [all_finite(self.bu.get()), all_finite(self.pu.get())];
    }
}

/// After an epoch, the first parameter that is not finite, in the order of the `surprise`
/// mode's check ([`crate::models::rating::svd::check_finite`]).
fn first_not_finite(users: &[&UserRows], items: &[&ItemRows], squared: f64) -> Result<(), &'static str> {
    let users_finite = |j: usize| users.iter().all(|x| x.finite[j]);
    let items_finite = |rows: fn(&ItemRows) -> &[f32]| items.iter().all(|&x| all_finite(rows(x)));
    if !squared.is_finite() {
        Err("the training error")
    } else if !users_finite(0) {
        Err("bu")
    } else if !items_finite(|x| x.bi.get()) {
        Err("bi")
    } else if !users_finite(1) {
        Err("pu")
    } else if !items_finite(|x| x.qi.get()) {
        Err("qi")
    } else {
        Ok(())
    }
}

/// A movie group's rows of `qi` and `bi`, in buffers of their own, and its sum of squared
/// errors this epoch (added in the fixed order of its ratings, so it is the same sum on any
/// number of threads).
#[repr(align(64))]
struct ItemRows {
    qi: Aligned<f32>,
    bi: Aligned<f32>,
    /// AdaGrad's values, [`SUMS`] per movie (none without it).
    g: Aligned<f32>,
    squared: f64,
}

/// AdaGrad's values per row: the bias's sum of squared gradients, the factors' (the mean
/// over the factors of each update's), and the factors' squared norm ([`Step::squares`]).
const SUMS: usize = 3;

/// AdaGrad's steps `lr / √G` for `bu`, `bi`, `pu` and `qi`, from the rates `lr` and the
/// sums `g` in that order. Given SSE (every x86-64 CPU), as one four-lane square root and one
/// division instead of four of each: the divider takes as long for either, so a rating's
/// steps cost it a quarter. Each lane is correctly rounded: the same bits either way.
#[inline(always)]
fn adagrad_steps(sse: Option<Sse>, lr: [f32; 4], g: [f32; 4]) -> [f32; 4] {
    #[cfg(target_arch = "x86_64")]
    if let Some(sse) = sse {
        let f32x4 = |x: [f32; 4]| pulp::f32x4(x[0], x[1], x[2], x[3]);
        let steps = sse.div_f32x4(f32x4(lr), sse.sqrt_f32x4(f32x4(g)));
        return [steps.0, steps.1, steps.2, steps.3];
    }
    let _ = sse;
    let root = g.map(f32::sqrt);
    std::array::from_fn(|x| lr[x] / root[x])
}

/// The four-lane instructions [`adagrad_steps`] takes where the CPU has them.
#[cfg(target_arch = "x86_64")]
type Sse = pulp::x86::V1;
#[cfg(not(target_arch = "x86_64"))]
type Sse = ();

/// [`Sse`], if this CPU has it.
fn sse() -> Option<Sse> {
    #[cfg(target_arch = "x86_64")]
    return pulp::x86::V1::try_new();
    #[cfg(not(target_arch = "x86_64"))]
    return None;
}

/// One rating's step on its two rows of factors, `pᵤ` and `qᵢ`: each becomes
/// `keep · itself + by · the other` (the old values).
#[derive(Clone, Copy)]
struct Step {
    keep: [f32; 2],
    by: [f32; 2],
}

impl Step {
    /// The means over the factors of the two rows' squared gradients, `Σ (e qᵢ - reg_pu pᵤ)²`
    /// and `Σ (e pᵤ - reg_qi qᵢ)²` times `per_factor`, and the rows' squared norms after the
    /// step, from their squared norms `norms` and their dot product `d` before it, the error
    /// `e` and the regularisations `reg`: each a sum of three products, instead of a pass over
    /// the factors; never below zero.
    #[inline(always)]
    fn squares(self, e: f32, d: f32, reg: [f32; 2], norms: [f32; 2], per_factor: f32) -> ([f32; 2], [f32; 2]) {
        let [np, nq] = norms;
        let [reg_p, reg_q] = reg;
        let [keep_p, keep_q] = self.keep;
        let [by_p, by_q] = self.by;
        let (ee, ed) = (e * e, 2.0 * e * d);
        (
            [
                ((ee * nq - ed * reg_p + reg_p * reg_p * np) * per_factor).max(0.0),
                ((ee * np - ed * reg_q + reg_q * reg_q * nq) * per_factor).max(0.0),
            ],
            [
                (keep_p * keep_p * np + 2.0 * keep_p * by_p * d + by_p * by_p * nq).max(0.0),
                (keep_q * keep_q * nq + 2.0 * keep_q * by_q * d + by_q * by_q * np).max(0.0),
            ],
        )
    }
}

/// One block's pass: its ratings in order, each an SGD step on its user's and its movie's
/// rows; the squared errors are added to `squared` one by one.
struct BlockPass<'a> {
    user: &'a [u32],
    item: &'a [u32],
    score: &'a [f32],
    rates: Rates,
    k: usize,
    pu: &'a mut [f32],
    bu: &'a mut [f32],
    qi: &'a mut [f32],
    bi: &'a mut [f32],
    /// With AdaGrad, each user's and each movie's sums of squared gradients: `[bias, factors]`.
    gu: &'a mut [f32],
    gi: &'a mut [f32],
    squared: f64,
}

impl Vectorized for BlockPass<'_> {
    /// The sum of the squared errors so far, each measured before its update.
    type Output = f64;

    #[inline(always)]
    fn run<S: pulp::Simd, A: Arith>(self, s: S) -> f64 {
        if self.rates.adagrad { self.sweep::<S, A, true>(s) } else { self.sweep::<S, A, false>(s) }
    }
}

impl BlockPass<'_> {
    /// The pass with the constant rate, or with AdaGrad's step as LibMF takes it: each bias and
    /// each row of factors steps by `lr / √G`, then adds to `G` its squared gradient (a row:
    /// the mean of its factors', from the rows' norms: [`Step::squares`]).
    ///
    /// Each rating's dot product is computed before the update of the rating before when the
    /// two share no row (the update cannot change it; [`interleave`] makes it the rule), so
    /// the CPU runs one rating's update beside the next one's dot product: the same values
    /// as one after the other.
    #[inline(always)]
    fn sweep<S: pulp::Simd, A: Arith, const ADAGRAD: bool>(self, s: S) -> f64 {
        let BlockPass { user, item, score, rates, k, pu, bu, qi, bi, gu, gi, mut squared } = self;
        let [lr_bu, lr_bi, lr_pu, lr_qi] = rates.lr;
        let [reg_bu, reg_bi, reg_pu, reg_qi] = rates.reg;
        let n = user.len();
        let sse = if ADAGRAD { sse() } else { None };
        // Rating `j`'s rows. (The dot products are called here, not in a closure: a closure
        // would run without the instruction set's features.)
        let row = |x: u32| x as usize * k..(x as usize + 1) * k;
        // With AdaGrad, rating `j`'s steps `lr / √G` (for `bu`, `bi`, `pu`, `qi`), computed
        // early as its dot product is: their square roots and divisions are the longest wait of
        // a step, and the CPU then runs them beside the rating before.
        let steps_of = |j: usize, gu: &[f32], gi: &[f32]| {
            let (u, i) = (user[j] as usize, item[j] as usize);
            adagrad_steps(sse, rates.lr, [gu[SUMS * u], gi[SUMS * i], gu[SUMS * u + 1], gi[SUMS * i + 1]])
        };
        let mut next = if n > 0 { A::dot(s, &pu[row(user[0])], &qi[row(item[0])]) } else { 0.0 };
        let mut next_steps = if ADAGRAD && n > 0 { steps_of(0, gu, gi) } else { [0.0; 4] };
        for j in 0..n {
            let (u, i) = (user[j] as usize, item[j] as usize);
            let (d, steps) = (next, next_steps);
            let early = j + 1 < n && user[j + 1] != user[j] && item[j + 1] != item[j];
            if early {
                next = A::dot(s, &pu[row(user[j + 1])], &qi[row(item[j + 1])]);
                if ADAGRAD {
                    next_steps = steps_of(j + 1, gu, gi);
                }
            }
            let err = score[j] - (rates.mu + bu[u] + bi[i] + d);
            squared += f64::from(err * err);
            // The factors' steps: the constant rates, or AdaGrad's, a step per row; with
            // AdaGrad, the biases' gradients too.
            let (step_p, step_q, du, di) = if ADAGRAD {
                let (du, di) = (err - reg_bu * bu[u], err - reg_bi * bi[i]);
                if rates.biased {
                    bu[u] += steps[0] * du;
                    bi[i] += steps[1] * di;
                }
                (steps[2], steps[3], du, di)
            } else {
                if rates.biased {
                    bu[u] += lr_bu * (err - reg_bu * bu[u]);
                    bi[i] += lr_bi * (err - reg_bi * bi[i]);
                }
                (lr_pu, lr_qi, 0.0, 0.0)
            };
            // pᵤ += step (e qᵢ - reg_pu pᵤ), rewritten as pᵤ = (1 - step reg_pu) pᵤ + (step e) qᵢ:
            // the same update with fewer operations per factor (and other rounding).
            let step = Step { keep: [1.0 - step_p * reg_pu, 1.0 - step_q * reg_qi], by: [step_p * err, step_q * err] };
            let p = &mut pu[row(user[j])];
            let q = &mut qi[row(item[j])];
            let (ph, pt) = S::as_mut_simd_f32s(p);
            let (qh, qt) = S::as_mut_simd_f32s(q);
            let ([keep_pu, keep_qi], [ep, eq]) = (step.keep, step.by);
            let (keep_p, keep_q) = (s.splat_f32s(keep_pu), s.splat_f32s(keep_qi));
            let (epv, eqv) = (s.splat_f32s(ep), s.splat_f32s(eq));
            for (pv, qv) in ph.iter_mut().zip(qh.iter_mut()) {
                let (pf, qf) = (*pv, *qv);
                *pv = A::madd(s, keep_p, pf, s.mul_f32s(epv, qf));
                *qv = A::madd(s, keep_q, qf, s.mul_f32s(eqv, pf));
            }
            for (pf, qf) in pt.iter_mut().zip(qt.iter_mut()) {
                let (puf, qif) = (*pf, *qf);
                *pf = A::madd1(keep_pu, puf, ep * qif);
                *qf = A::madd1(keep_qi, qif, eq * puf);
            }
            if ADAGRAD {
                // The sums of squared gradients, and the rows' new squared norms, from the old
                // norms and the dot product: no second pass over the factors.
                let gp: &mut [f32; SUMS] = (&mut gu[SUMS * u..SUMS * (u + 1)]).try_into().expect("a user's sums");
                let gq: &mut [f32; SUMS] = (&mut gi[SUMS * i..SUMS * (i + 1)]).try_into().expect("a movie's sums");
                if rates.biased {
                    gp[0] += du * du;
                    gq[0] += di * di;
                }
                let (sq, norms) = step.squares(err, d, [reg_pu, reg_qi], [gp[2], gq[2]], rates.per_factor);
                gp[1] += sq[0];
                gq[1] += sq[1];
                (gp[2], gq[2]) = (norms[0], norms[1]);
            }
            if !early && j + 1 < n {
                next = A::dot(s, &pu[row(user[j + 1])], &qi[row(item[j + 1])]);
                if ADAGRAD {
                    next_steps = steps_of(j + 1, gu, gi);
                }
            }
        }
        squared
    }
}

/// Epochs over a grid: what every block's pass needs besides the rows.
struct Sweep<'a> {
    grid: &'a Grid,
    isa: Isa,
    simd: Simd,
    rates: Rates,
    k: usize,
}

impl Sweep<'_> {
    /// Runs block `(g, h)` on its user group's and movie group's rows. The movie group's rows
    /// are first read a cache line at a time, in order: the caches then bring them in as one
    /// stream, instead of one row at a time as the ratings reach them, each a wait on memory
    /// (on MovieLens-32M's shape, a movie group's rows come from memory at each block: the fit
    /// 1.6 times faster on one thread; on the seed's, where they stay in the cache, no change).
    /// With `from_another_core` (several threads) the rows were last written on another core,
    /// as a rule, and a write to each line brings them over at once instead (10% faster on two
    /// threads).
    fn pass(&self, g: usize, h: usize, users: &mut UserRows, items: &mut ItemRows, from_another_core: bool) {
        let (grid, r) = (self.grid, self.grid.block(g, h));
        if !r.is_empty() {
            if from_another_core {
                for line in items.qi.get_mut().chunks_exact_mut(16) {
                    line[0] = std::hint::black_box(line[0]);
                }
            } else {
                let mut first = 0.0f32;
                for line in items.qi.get().chunks_exact(16) {
                    first += line[0];
                }
                std::hint::black_box(first);
            }
            items.squared = self.isa.run(
                self.simd,
                BlockPass {
                    user: &grid.user[r.clone()],
                    item: &grid.item[r.clone()],
                    score: &grid.score[r],
                    rates: self.rates,
                    k: self.k,
                    pu: users.pu.get_mut(),
                    bu: users.bu.get_mut(),
                    qi: items.qi.get_mut(),
                    bi: items.bi.get_mut(),
                    gu: users.g.get_mut(),
                    gi: items.g.get_mut(),
                    squared: items.squared,
                },
            );
        }
    }

    /// One epoch: `blocks` runs them all, on one thread or several. Returns the sum of the
    /// squared errors, added per movie group in the fixed order of its ratings, then over the
    /// movie groups in order: the same sum on any number of threads.
    fn epoch(&self, items: &mut [Mutex<ItemRows>], blocks: impl FnOnce(&mut [Mutex<ItemRows>])) -> f64 {
        for item in items.iter_mut() {
            lock_mut(item).squared = 0.0;
        }
        blocks(items);
        items.iter_mut().map(|item| lock_mut(item).squared).sum()
    }

    /// One epoch's blocks on one thread, user group by user group.
    fn blocks(&self, users: &mut [Mutex<UserRows>], items: &mut [Mutex<ItemRows>]) {
        for (g, user) in users.iter_mut().enumerate() {
            let user = lock_mut(user);
            for j in 0..self.grid.n_item_groups() {
                let h = self.grid.turn(g, j);
                self.pass(g, h, user, lock_mut(&mut items[h]), false);
            }
            user.check_finite();
        }
    }
}

/// What each epoch leaves behind on several threads: flags and sums written by the blocks
/// that complete them, read on the caller's thread once the epoch is done.
struct Marks {
    n_g: usize,
    n_h: usize,
    /// Set when the caller stops the fit (an epoch diverged): the threads return.
    abort: AtomicBool,
    /// Per (epoch, user group): bit 0 set when `bu` is all finite, bit 1 `pu`.
    users: Vec<AtomicU8>,
    /// Per (epoch, movie group): bit 0 `bi`, bit 1 `qi`.
    items: Vec<AtomicU8>,
    /// Per (epoch, movie group): its sum of squared errors, as bits.
    squared: Vec<AtomicU64>,
    /// Per epoch: user groups done.
    groups_done: Vec<AtomicUsize>,
}

impl Marks {
    fn new(n_epochs: usize, n_g: usize, n_h: usize) -> Marks {
        let atomic8 = |n| (0..n).map(|_| AtomicU8::new(0)).collect();
        Marks {
            n_g,
            n_h,
            abort: AtomicBool::new(false),
            users: atomic8(n_epochs * n_g),
            items: atomic8(n_epochs * n_h),
            squared: (0..n_epochs * n_h).map(|_| AtomicU64::new(0)).collect(),
            groups_done: (0..n_epochs).map(|_| AtomicUsize::new(0)).collect(),
        }
    }

    /// Epoch `e`'s sum of squared errors, added as [`Sweep::epoch`] adds them, and its first
    /// parameter that is not finite, in [`first_not_finite`]'s order.
    fn epoch(&self, e: usize) -> (f64, Result<(), &'static str>) {
        let squared: f64 =
            (0..self.n_h).map(|h| f64::from_bits(self.squared[e * self.n_h + h].load(Ordering::Acquire))).sum();
        let all = |flags: &[AtomicU8], bit: u8| flags.iter().all(|f| f.load(Ordering::Acquire) & bit != 0);
        let (users, items) =
            (&self.users[e * self.n_g..(e + 1) * self.n_g], &self.items[e * self.n_h..(e + 1) * self.n_h]);
        let finite = if !squared.is_finite() {
            Err("the training error")
        } else if !all(users, 1) {
            Err("bu")
        } else if !all(items, 1) {
            Err("bi")
        } else if !all(users, 2) {
            Err("pu")
        } else if !all(items, 2) {
            Err("qi")
        } else {
            Ok(())
        };
        (squared, finite)
    }
}

/// Two finiteness flags as [`Marks`] keeps them.
fn flags(a: &[f32], b: &[f32]) -> u8 {
    u8::from(all_finite(a)) | (u8::from(all_finite(b)) << 1)
}

impl Sweep<'_> {
    /// The blocks of epochs `epochs` (from 0) on thread `index` of `threads`: the same model
    /// as [`Sweep::blocks`], on any number of threads, one epoch at a time or several
    /// overlapping.
    ///
    /// User group `g` meets its movie groups in its order ([`Grid::turn`]); block `(g, h)` must
    /// come after `(g - 1, h)`, which is the group before's next block in its own order. So
    /// the threads take turns of [`GROUPS_PER_TURN`] consecutive user groups, a block of each
    /// in turn, and before each block the group before must have done the blocks it needs
    /// ([`Grid::needed`]): the turn's first group waits for it (it ran on another thread), a
    /// later one lets the groups before it go first. Blocks running at once never share a user
    /// group nor a movie group: the locks only hand the rows from thread to thread.
    ///
    /// The turns of all the epochs are dealt to the threads in turn, with no barrier between
    /// epochs; a user group's progress counts on from epoch to epoch (`done[g]`: `e · n_h`
    /// plus its blocks of epoch `e`), the first group of an epoch follows the last of the
    /// epoch before ([`Grid::needed_across`]), and a turn takes its groups' rows only once the
    /// epoch before has done all their blocks: every wait is on an earlier turn, so the
    /// earliest unfinished turn can always go on. The last group's block on a movie group
    /// completes the movie group's epoch: it leaves its flags and sum in `marks`; the thread
    /// that completes an epoch's last group sends the epoch on `ended`, if any. Returns early
    /// once `marks.abort` is set.
    fn blocks_parallel(
        &self,
        (index, threads): (usize, usize),
        users: &[Mutex<UserRows>],
        items: &[Mutex<ItemRows>],
        done: &[Done],
        (marks, epochs, ended): (&Marks, Range<usize>, Option<&Sender<usize>>),
    ) {
        let (n_h, n_g, per, abort) = (self.grid.n_item_groups(), users.len(), GROUPS_PER_TURN, &marks.abort);
        let turns = n_g.div_ceil(per);
        for turn in (epochs.start * turns + index..epochs.end * turns).step_by(threads) {
            let (e, first) = (turn / turns, turn % turns * per);
            let groups = first..(first + per).min(n_g);
            // The groups' rows once the epoch before has left them: waiting on the lock alone
            // could let a later epoch's turn take them first, and wait on this one forever.
            if !groups.clone().all(|g| wait_until(&done[g].0, e * n_h, abort)) {
                return;
            }
            // Lets no other thread wait forever on these groups if a block panics.
            let _guards: Vec<OnPanic<'_>> = groups.clone().map(|g| OnPanic(&done[g].0)).collect();
            let mut rows: Vec<_> = groups.clone().map(|g| lock(&users[g])).collect();
            let mut progress = vec![0usize; groups.len()];
            let mut left = groups.len() * n_h;
            while left > 0 {
                for (r, g) in groups.clone().enumerate() {
                    let j = progress[r];
                    if j == n_h {
                        continue;
                    }
                    let ready = if r > 0 {
                        progress[r - 1] >= self.grid.needed(g, j)
                    } else if g > 0 {
                        wait_until(&done[g - 1].0, e * n_h + self.grid.needed(g, j), abort)
                    } else if e > 0 {
                        wait_until(&done[n_g - 1].0, (e - 1) * n_h + self.grid.needed_across(j), abort)
                    } else {
                        true
                    };
                    if abort.load(Ordering::Relaxed) {
                        return;
                    }
                    if !ready {
                        continue;
                    }
                    let h = self.grid.turn(g, j);
                    let mut item = lock(&items[h]);
                    self.pass(g, h, &mut rows[r], &mut item, r == 0);
                    if g == n_g - 1 {
                        let at = e * n_h + h;
                        marks.items[at].store(flags(item.bi.get(), item.qi.get()), Ordering::Release);
                        marks.squared[at].store(std::mem::take(&mut item.squared).to_bits(), Ordering::Release);
                    }
                    drop(item);
                    progress[r] = j + 1;
                    done[g].0.store(e * n_h + j + 1, Ordering::Release);
                    left -= 1;
                    if j + 1 == n_h {
                        let x = &rows[r];
                        marks.users[e * n_g + g].store(flags(x.bu.get(), x.pu.get()), Ordering::Release);
                        if marks.groups_done[e].fetch_add(1, Ordering::AcqRel) + 1 == n_g {
                            // The caller may have stopped listening after a divergence.
                            if let Some(ended) = ended {
                                let _ = ended.send(e);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Sets `done` past every count if its thread panics, so that no other thread waits on it
/// forever (the pool then hands the panic to the caller).
struct OnPanic<'a>(&'a AtomicUsize);

impl Drop for OnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(usize::MAX / 2, Ordering::Release);
        }
    }
}

/// Waits until `done` reaches `n`, or until `abort` is set: whether it did. Spins a little
/// (a block takes microseconds), then lets other threads run (there may be more threads than
/// cores).
fn wait_until(done: &AtomicUsize, n: usize, abort: &AtomicBool) -> bool {
    let mut spins = 0u32;
    while done.load(Ordering::Acquire) < n {
        if abort.load(Ordering::Relaxed) {
            return false;
        }
        if spins < 64 {
            std::hint::spin_loop();
            spins += 1;
        } else {
            std::thread::yield_now();
        }
    }
    true
}

/// How many blocks a user group has done since the fit began: `e · n_h + j` once it has done
/// `j` of epoch `e`'s `n_h` blocks. On a cache line of its own (its neighbours are written by
/// other threads).
#[repr(align(64))]
struct Done(AtomicUsize);

/// The value behind a lock no thread holds (a panic in a block is propagated by the pool
/// first, so a poisoned lock only means its rows are discarded with the fit).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn lock_mut<T>(m: &mut Mutex<T>) -> &mut T {
    m.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Every value behind the locks, between epochs (no thread holds them).
fn unlocked<T>(ms: &mut [Mutex<T>]) -> Vec<&T> {
    ms.iter_mut().map(|m| &*lock_mut(m)).collect()
}

/// Values whose first is on a 64-byte boundary and whose last line is theirs alone: rows of
/// whole vectors never straddle two cache lines (an allocation is only 16-byte aligned), and
/// no other allocation shares a line with them. The buffer never grows, so it never moves.
#[derive(Debug)]
struct Aligned<T> {
    buf: Vec<T>,
    start: usize,
    len: usize,
}

impl<T: Copy + Default> Aligned<T> {
    fn zeros(len: usize) -> Aligned<T> {
        let line = 64 / std::mem::size_of::<T>();
        // Up to a line to reach the boundary, and a line after the last value.
        let buf = vec![T::default(); len + 2 * line];
        let start = (buf.as_ptr() as usize).wrapping_neg() % 64 / std::mem::size_of::<T>();
        Aligned { buf, start, len }
    }

    fn get(&self) -> &[T] {
        &self.buf[self.start..self.start + self.len]
    }

    fn get_mut(&mut self) -> &mut [T] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

/// `from` in single precision into the start of the zeroed `row`.
fn pad_row(row: &mut [f32], from: &[f64]) {
    for (o, &v) in row.iter_mut().zip(from) {
        *o = v as f32;
    }
}

impl Svd {
    /// Fits in the `fast` mode on `threads` threads (0: [`threads_for`] the data), on the CPU's
    /// best vector instructions (unless `MOVIEREC_SIMD` forces others: [`Isa`]). The model is
    /// the same, bit for bit, for any number of threads (and, in the portable arithmetic, on
    /// any instructions).
    ///
    /// # Errors
    /// [`Diverged`] as soon as an epoch ends with a parameter that is not finite.
    ///
    /// # Panics
    /// If the thread pool cannot be created.
    pub fn fit_fast(
        &self,
        t: &Trainset<'_>,
        threads: usize,
        on_epoch: impl FnMut(Epoch),
    ) -> Result<SvdModel, Diverged> {
        self.fit_fast_on(Isa::current(), t, threads, on_epoch)
    }

    /// [`Svd::fit_fast_on`] with the model after each epoch on hand ([`Svd::fit_with`]).
    pub(crate) fn fit_fast_with(
        &self,
        isa: Isa,
        t: &Trainset<'_>,
        threads: usize,
        on_epoch: impl FnMut(Progress<'_>),
    ) -> Result<SvdModel, Diverged> {
        self.fit_grid(t, Run::sized(t, self.n_factors, isa, threads, false), on_epoch)
    }

    /// [`Svd::fit_fast`] on the instructions `isa`.
    ///
    /// # Errors
    /// [`Diverged`] as soon as an epoch ends with a parameter that is not finite.
    ///
    /// # Panics
    /// If the thread pool cannot be created.
    pub fn fit_fast_on(
        &self,
        isa: Isa,
        t: &Trainset<'_>,
        threads: usize,
        mut on_epoch: impl FnMut(Epoch),
    ) -> Result<SvdModel, Diverged> {
        // No model is asked for between epochs: they may overlap.
        self.fit_grid(t, Run::sized(t, self.n_factors, isa, threads, true), |p| on_epoch(p.epoch))
    }

    /// AdaGrad's values for `rows` (of `k` values each): the sums of squared gradients start
    /// at 1 (as LibMF's), the squared norms are the rows'; none without AdaGrad.
    fn sums(&self, rows: &[f32], k: usize) -> Aligned<f32> {
        if !self.adagrad {
            return Aligned::zeros(0);
        }
        let mut g = Aligned::zeros(SUMS * (rows.len() / k));
        for (sums, row) in g.get_mut().chunks_exact_mut(SUMS).zip(rows.chunks_exact(k)) {
            let norm: f64 = row.iter().map(|&x| f64::from(x) * f64::from(x)).sum();
            sums.copy_from_slice(&[1.0, 1.0, norm as f32]);
        }
        g
    }

    /// Each user group's and each movie group's rows at the start: the factors
    /// [`Svd::init_factors`] draws (one generator, every user's row, then every movie's, in
    /// order), each rounded to single precision straight into its group's buffer, padded with
    /// zeros to `k` values; biases 0.
    fn initial_rows(&self, layout: &Layout, k: usize) -> (Vec<Mutex<UserRows>>, Vec<Mutex<ItemRows>>) {
        // Rows drawn a batch at a time in double precision (the generator's fastest), then
        // rounded into place.
        const BATCH: usize = 64;
        let n_factors = self.n_factors;
        let mut rng = RandomState::new(self.seed);
        let mut drawn = vec![0.0f64; BATCH * n_factors];
        let users = layout
            .user_start
            .windows(2)
            .map(|w| {
                let n = w[1] - w[0];
                let mut pu = Aligned::zeros(n * k);
                for batch in pu.get_mut().chunks_mut(BATCH * k) {
                    let d = &mut drawn[..batch.len() / k * n_factors];
                    rng.fill_normal(self.init_mean, self.init_std_dev, d);
                    for (row, from) in batch.chunks_exact_mut(k).zip(d.chunks_exact(n_factors)) {
                        pad_row(row, from);
                    }
                }
                let g = self.sums(pu.get(), k);
                Mutex::new(UserRows { pu, bu: Aligned::zeros(n), g, finite: [true; 2] })
            })
            .collect();
        let mut qi: Vec<Aligned<f32>> = layout.group_items.iter().map(|&n| Aligned::zeros(n * k)).collect();
        let n_items = layout.item_group.len();
        for first in (0..n_items).step_by(BATCH) {
            let d = &mut drawn[..BATCH.min(n_items - first) * n_factors];
            rng.fill_normal(self.init_mean, self.init_std_dev, d);
            for (i, from) in (first..).zip(d.chunks_exact(n_factors)) {
                let start = layout.item_local[i] as usize * k;
                pad_row(&mut qi[layout.item_group[i] as usize].get_mut()[start..start + k], from);
            }
        }
        let items = qi
            .into_iter()
            .zip(&layout.group_items)
            .map(|(qi, &n)| {
                let g = self.sums(qi.get(), k);
                Mutex::new(ItemRows { qi, bi: Aligned::zeros(n), g, squared: 0.0 })
            })
            .collect();
        (users, items)
    }

    /// [`Svd::fit_fast_on`] as `run` says.
    fn fit_grid(
        &self,
        t: &Trainset<'_>,
        run: Run,
        mut on_epoch: impl FnMut(Progress<'_>),
    ) -> Result<SvdModel, Diverged> {
        let n_factors = self.n_factors;
        let list = t.list();
        // One thread runs the blocks on the caller's thread: no pool, so a fit can itself be
        // one task of a parallel search. More enter their pool once an epoch. Left to choose
        // (0), no more threads than the data keeps busy ([`RATINGS_PER_THREAD`]).
        let threads = match run.threads {
            0 => threads_for(t.n_ratings()),
            n => n,
        };
        let pool = (threads != 1)
            .then(|| rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool"));
        // The groups, then the grid and the rows (the initial factors the same as the
        // `surprise` mode's, drawn in order from one generator) side by side on two threads or
        // more. Rows are in single precision, padded with zeros to whole vectors (the zeros
        // stay zeros: they add nothing to a dot product, and an update scales them and adds
        // zero times the other's).
        let layout = Layout::new(t, run.group_ratings, run.item_groups);
        let k = n_factors.next_multiple_of(run.isa.lanes(self.simd));
        let grid = || Grid::new(t, layout.clone());
        let rows = || self.initial_rows(&layout, k);
        let (grid, (mut users, mut items)) = match &pool {
            Some(pool) => pool.join(grid, rows),
            None => (grid(), rows()),
        };
        let rates = Rates {
            lr: self.lr.map(|x| x as f32),
            reg: self.reg.map(|x| x as f32),
            mu: if self.biased { t.global_mean() as f32 } else { 0.0 },
            biased: self.biased,
            adagrad: self.adagrad,
            per_factor: 1.0 / n_factors as f32,
        };
        let done: Vec<Done> = users.iter().map(|_| Done(AtomicUsize::new(0))).collect();
        let sweep = Sweep { grid: &grid, isa: run.isa, simd: self.simd, rates, k };
        if let Some(pool) = pool.as_ref().filter(|_| run.overlap) {
            // The epochs without a barrier between them; each reported here, in order, as it
            // ends.
            let n_epochs = self.n_epochs;
            let marks = Marks::new(n_epochs, users.len(), grid.n_item_groups());
            let (tx, rx) = std::sync::mpsc::channel();
            let diverged = pool.in_place_scope(|s| {
                let (sweep, users, items, done, marks) = (&sweep, &users, &items, &done, &marks);
                s.spawn_broadcast(move |_, ctx| {
                    let at = (ctx.index(), ctx.num_threads());
                    sweep.blocks_parallel(at, users, items, done, (marks, 0..n_epochs, Some(&tx)));
                });
                let (mut ended, mut next) = (vec![false; n_epochs], 0);
                for e in rx.iter() {
                    ended[e] = true;
                    while next < n_epochs && ended[next] {
                        let (squared, finite) = marks.epoch(next);
                        if let Err(what) = finite {
                            marks.abort.store(true, Ordering::Relaxed);
                            return Some(self.diverged(next + 1, what, list.scale()));
                        }
                        let epoch = Epoch { epoch: next + 1, train_rmse: (squared / t.n_ratings() as f64).sqrt() };
                        on_epoch(Progress {
                            epoch,
                            model: &|| unreachable!("no model is kept between overlapping epochs"),
                        });
                        next += 1;
                    }
                    if next == n_epochs {
                        break;
                    }
                }
                None
            });
            if let Some(diverged) = diverged {
                return Err(diverged);
            }
            return Ok(self.model_of(n_epochs, t, &sweep, &unlocked(&mut users), &unlocked(&mut items), Some(pool)));
        }
        // Otherwise epoch by epoch (on several threads, the overlapping epochs' schedule one
        // epoch at a time, with the marks the threads leave), with the model on hand after each.
        let pooled = pool.as_ref().map(|pool| (pool, Marks::new(self.n_epochs, users.len(), grid.n_item_groups())));
        for epoch_number in 1..=self.n_epochs {
            let e = epoch_number - 1;
            let (squared, finite) = match &pooled {
                Some((pool, marks)) => {
                    let (users, items, done) = (&users, &items, &done);
                    pool.install(|| {
                        rayon::broadcast(|ctx| {
                            let at = (ctx.index(), ctx.num_threads());
                            sweep.blocks_parallel(at, users, items, done, (marks, e..e + 1, None));
                        })
                    });
                    marks.epoch(e)
                }
                None => {
                    let squared = sweep.epoch(&mut items, |items| sweep.blocks(&mut users, items));
                    (squared, first_not_finite(&unlocked(&mut users), &unlocked(&mut items), squared))
                }
            };
            finite.map_err(|what| self.diverged(epoch_number, what, list.scale()))?;
            let (users, items) = (unlocked(&mut users), unlocked(&mut items));
            let epoch = Epoch { epoch: epoch_number, train_rmse: (squared / t.n_ratings() as f64).sqrt() };
            on_epoch(Progress {
                epoch,
                model: &|| self.model_of(epoch_number, t, &sweep, &users, &items, pool.as_ref()),
            });
        }
        Ok(self.model_of(self.n_epochs, t, &sweep, &unlocked(&mut users), &unlocked(&mut items), pool.as_ref()))
    }

    /// The model after `epoch` epochs: the rows without their padding, the movies back in
    /// their own order, in the model's layout; the users' rows copied on `pool`'s threads if
    /// any.
    fn model_of(
        &self,
        epoch: usize,
        t: &Trainset<'_>,
        sweep: &Sweep<'_>,
        users: &[&UserRows],
        items: &[&ItemRows],
        pool: Option<&rayon::ThreadPool>,
    ) -> SvdModel {
        let (grid, k) = (sweep.grid, sweep.k);
        let (n_items, n_factors) = (t.n_items(), self.n_factors);
        let mut qi = Vec::with_capacity(n_items * n_factors);
        let mut bi = Vec::with_capacity(n_items);
        for i in 0..n_items {
            let (h, j) = (grid.layout.item_group[i] as usize, grid.layout.item_local[i] as usize);
            qi.extend_from_slice(&items[h].qi.get()[j * k..j * k + n_factors]);
            bi.push(f64::from(items[h].bi.get()[j]));
        }
        let bu = users.iter().flat_map(|x| x.bu.get().iter().map(|&b| f64::from(b))).collect();
        // Each user group's rows into its part of `pu`.
        let mut pu = vec![0.0f32; t.n_users() * n_factors];
        let mut parts = Vec::with_capacity(users.len());
        let mut rest = &mut pu[..];
        for x in users {
            let (part, after) = std::mem::take(&mut rest).split_at_mut(x.pu.get().len() / k * n_factors);
            parts.push((part, x));
            rest = after;
        }
        let unpad = |(part, x): (&mut [f32], &&UserRows)| {
            for (to, row) in part.chunks_exact_mut(n_factors).zip(x.pu.get().chunks_exact(k)) {
                to.copy_from_slice(&row[..n_factors]);
            }
        };
        match pool {
            Some(pool) => pool.install(|| {
                use rayon::prelude::*;
                parts.into_par_iter().for_each(unpad);
            }),
            None => parts.into_iter().for_each(unpad),
        }
        self.model_after(epoch, TrainMode::Fast, t, [bu, bi], Factors::F32 { pu, qi })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::scale::RatingScale;
    use crate::data::synthetic::{SyntheticConfig, generate};
    use crate::models::base::simd::{every_isa, portable_dot};
    use crate::models::rating::svd::SvdParams;

    /// The rows of `k` values of `x`, in single precision, each padded with zeros to `padded`,
    /// written straight into their aligned buffer.
    fn padded(x: &[f64], k: usize, padded: usize) -> Aligned<f32> {
        let mut out = Aligned::zeros(x.len() / k * padded);
        for (row, from) in out.get_mut().chunks_exact_mut(padded).zip(x.chunks_exact(k)) {
            pad_row(row, from);
        }
        out
    }

    /// The first `k` values of each row of `padded` values.
    fn unpadded(x: &[f32], padded: usize, k: usize) -> Vec<f32> {
        x.chunks_exact(padded).flat_map(|row| &row[..k]).copied().collect()
    }

    #[test]
    fn rows_are_padded_to_whole_vectors_on_cache_lines() {
        let x: Vec<f64> = (0..30).map(f64::from).collect();
        let p = padded(&x, 10, 16);
        assert_eq!(p.get().as_ptr() as usize % 64, 0);
        let p = p.get();
        assert_eq!((p.len(), &p[10..16], p[16]), (48, &[0.0f32; 6][..], 10.0));
        assert_eq!(unpadded(p, 16, 10), x.iter().map(|&v| v as f32).collect::<Vec<_>>());
        for len in [1, 7, 100] {
            let mut a = Aligned::zeros(len);
            a.get_mut().fill(1.5);
            assert_eq!(a.get().as_ptr() as usize % 64, 0);
            assert_eq!(a.get_mut().len(), len);
            assert!(a.get().iter().all(|&v| v == 1.5));
        }
    }

    fn small() -> crate::data::dataset::Dataset {
        generate(&SyntheticConfig { seed: 6, scale: 0.05, ..SyntheticConfig::default() }, RatingScale::SEED).unwrap()
    }

    #[test]
    fn the_grid_holds_every_rating_once_in_its_groups_blocks() {
        let data = small();
        let t = Trainset::new(&data.ratings);
        let list = t.list();
        let grid = Grid::new(&t, Layout::new(&t, 500, ITEM_GROUPS));
        let (n_g, n_h) = (grid.layout.user_start.len() - 1, grid.n_item_groups());
        assert!(n_g >= 10 && n_h == ITEM_GROUPS.min(t.n_items()), "{n_g} user groups, {n_h} movie groups");
        assert_eq!((grid.layout.user_start[0], grid.layout.user_start[n_g]), (0, t.n_users()));
        // Each user's ratings, as the blocks give them back, group by group in list order.
        let mut seen: Vec<Vec<(usize, f32)>> = vec![Vec::new(); t.n_users()];
        for g in 0..n_g {
            for h in 0..n_h {
                let r = grid.block(g, h);
                for j in r {
                    let u = grid.layout.user_start[g] + grid.user[j] as usize;
                    assert!(u < grid.layout.user_start[g + 1]);
                    let i = (0..t.n_items())
                        .find(|&i| grid.layout.item_group[i] as usize == h && grid.layout.item_local[i] == grid.item[j])
                        .unwrap();
                    seen[u].push((i, grid.score[j]));
                }
            }
        }
        for (u, seen) in seen.iter().enumerate() {
            let mut expected: Vec<(usize, f32)> = t
                .user_rows(u)
                .iter()
                .map(|&r| (list.movie()[r as usize].get(), list.score()[r as usize] as f32))
                .collect();
            expected.sort_by_key(|&(i, _)| grid.layout.item_group[i]);
            assert_eq!(seen, &expected, "user {u}");
        }
        // The movie groups are about equal in ratings: apart by at most the most rated movie.
        let mut count = vec![0usize; t.n_items()];
        list.movie().iter().for_each(|m| count[m.get()] += 1);
        let mut load = vec![0usize; n_h];
        (0..t.n_items()).for_each(|i| load[grid.layout.item_group[i] as usize] += count[i]);
        assert!(load.iter().max().unwrap() - load.iter().min().unwrap() <= *count.iter().max().unwrap(), "{load:?}");
    }

    #[test]
    fn a_blocks_order_takes_its_runs_of_users_in_turn_avoiding_the_rows_just_updated() {
        // User-major: user 0 rates movies 0 and 1, user 1 movie 0, user 2 movies 2 and 0, user 3
        // movie 1. Four runs: users 0, 1, 2 and 3 (a run starts at a user's first rating).
        let (mut user, mut item) = (vec![0, 0, 1, 2, 2, 3], vec![0, 1, 0, 2, 0, 1]);
        let mut score: Vec<f32> = (0..6).map(|x| x as f32).collect();
        interleave(&mut user, &mut item, &mut score, &mut Vec::new());
        // Run 0's (0, 0); run 1's (1, 0) shares movie 0, so run 2's (2, 2); run 3's (3, 1);
        // run 0's (0, 1) shares movie 1, so run 1's (1, 0); run 2's (2, 0) shares movie 0, run 3
        // is done, so run 0's (0, 1); then run 2's (2, 0).
        assert_eq!(user, [0, 2, 3, 1, 0, 2]);
        assert_eq!(item, [0, 2, 1, 0, 1, 0]);
        assert_eq!(score, [0.0, 3.0, 5.0, 2.0, 1.0, 4.0]);
        // One user: nothing to interleave, the order stays.
        let (mut user, mut item, mut score) = (vec![7; 5], vec![3, 1, 4, 1, 5], vec![1.0, 2.0, 3.0, 4.0, 5.0]);
        interleave(&mut user, &mut item, &mut score, &mut Vec::new());
        assert_eq!((item, score), (vec![3, 1, 4, 1, 5], vec![1.0, 2.0, 3.0, 4.0, 5.0]));
    }

    /// A block's ratings `(user, movie, score)`, given user-major, in the fit's order: four
    /// runs of whole users from a quarter, a half and three quarters of the block on, taken in
    /// turn, each time the first from the next run on whose next rating shares no row with the
    /// last one taken (else the first from the next run on).
    fn in_turns(block: &[(usize, usize, f32)]) -> Vec<(usize, usize, f32)> {
        let n = block.len();
        let mut cuts = vec![0];
        for c in 1..4 {
            let mut x = (n * c / 4).max(cuts[c - 1]);
            while x > 0 && x < n && block[x].0 == block[x - 1].0 {
                x += 1;
            }
            cuts.push(x);
        }
        cuts.push(n);
        let mut runs: Vec<std::collections::VecDeque<_>> =
            cuts.windows(2).map(|w| block[w[0]..w[1]].iter().copied().collect()).collect();
        let (mut out, mut next_run) = (Vec::<(usize, usize, f32)>::new(), 0);
        while out.len() < n {
            let order: Vec<usize> = (0..4).map(|d| (next_run + d) % 4).filter(|&r| !runs[r].is_empty()).collect();
            let shares = |r: usize| out.last().is_some_and(|l| l.0 == runs[r][0].0 || l.1 == runs[r][0].1);
            let r = order.iter().copied().find(|&r| !shares(r)).unwrap_or(order[0]);
            out.push(runs[r].pop_front().unwrap());
            next_run = (r + 1) % 4;
        }
        out
    }

    /// The fast mode by its definition: block by block, user group by user group, each user
    /// group's movie groups in its turn, each block's ratings in the order of [`in_turns`], one
    /// rating at a time, in the portable arithmetic (rows of sixteen, nothing fused, sums as
    /// [`portable_dot`] adds them), with the constant rate or AdaGrad's; no grid, no threads.
    fn reference(
        svd: &Svd,
        t: &Trainset<'_>,
        group_ratings: usize,
        item_groups: usize,
    ) -> (Vec<f32>, Vec<f32>, Vec<f32>, Vec<f32>) {
        let grid = Grid::new(t, Layout::new(t, group_ratings, item_groups));
        let list = t.list();
        let (n, k) = (svd.n_factors, svd.n_factors.next_multiple_of(Isa::Baseline.lanes(svd.simd)));
        let (pu64, qi64) = svd.init_factors(t.n_users(), t.n_items());
        let (mut pu, mut qi) = (padded(&pu64, n, k).get().to_vec(), padded(&qi64, n, k).get().to_vec());
        let (mut bu, mut bi) = (vec![0.0f32; t.n_users()], vec![0.0f32; t.n_items()]);
        // AdaGrad's sums, [bias, factors], and squared norms per user and per movie.
        let norm = |row: &[f32]| row.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>() as f32;
        let mut gu: Vec<[f32; 3]> = pu.chunks_exact(k).map(|p| [1.0, 1.0, norm(p)]).collect();
        let mut gi: Vec<[f32; 3]> = qi.chunks_exact(k).map(|q| [1.0, 1.0, norm(q)]).collect();
        let [lr_bu, lr_bi, lr_pu, lr_qi] = svd.lr.map(|x| x as f32);
        let [reg_bu, reg_bi, reg_pu, reg_qi] = svd.reg.map(|x| x as f32);
        let mu = t.global_mean() as f32;
        let mut blocks = Vec::new();
        for g in 0..grid.layout.user_start.len() - 1 {
            for j in 0..grid.n_item_groups() {
                let block: Vec<(usize, usize, f32)> = (grid.layout.user_start[g]..grid.layout.user_start[g + 1])
                    .flat_map(|u| t.user_rows(u).iter().map(move |&row| (u, row as usize)))
                    .map(|(u, row)| (u, list.movie()[row].get(), list.score()[row] as f32))
                    .filter(|&(_, i, _)| grid.layout.item_group[i] as usize == grid.turn(g, j))
                    .collect();
                blocks.push(in_turns(&block));
            }
        }
        for _ in 0..svd.n_epochs {
            for &(u, i, r) in blocks.iter().flatten() {
                let (p, q) = (&mut pu[u * k..(u + 1) * k], &mut qi[i * k..(i + 1) * k]);
                let d = portable_dot(p, q);
                let err = r - (mu + bu[u] + bi[i] + d);
                if !svd.adagrad {
                    bu[u] += lr_bu * (err - reg_bu * bu[u]);
                    bi[i] += lr_bi * (err - reg_bi * bi[i]);
                    for (pf, qf) in p.iter_mut().zip(q.iter_mut()) {
                        let (a, b) = (*pf, *qf);
                        *pf = (1.0 - lr_pu * reg_pu) * a + lr_pu * err * b;
                        *qf = (1.0 - lr_qi * reg_qi) * b + lr_qi * err * a;
                    }
                    continue;
                }
                let (du, di) = (err - reg_bu * bu[u], err - reg_bi * bi[i]);
                bu[u] += lr_bu / gu[u][0].sqrt() * du;
                bi[i] += lr_bi / gi[i][0].sqrt() * di;
                gu[u][0] += du * du;
                gi[i][0] += di * di;
                let (step_p, step_q) = (lr_pu / gu[u][1].sqrt(), lr_qi / gi[i][1].sqrt());
                let step =
                    Step { keep: [1.0 - step_p * reg_pu, 1.0 - step_q * reg_qi], by: [step_p * err, step_q * err] };
                for (pf, qf) in p.iter_mut().zip(q.iter_mut()) {
                    let (a, b) = (*pf, *qf);
                    *pf = step.keep[0] * a + step.by[0] * b;
                    *qf = step.keep[1] * b + step.by[1] * a;
                }
                let (sq, norms) = step.squares(err, d, [reg_pu, reg_qi], [gu[u][2], gi[i][2]], 1.0 / n as f32);
                gu[u][1] += sq[0];
                gi[i][1] += sq[1];
                (gu[u][2], gi[i][2]) = (norms[0], norms[1]);
            }
        }
        if svd.adagrad {
            // The squared norms carried from step to step (in single precision) are still the
            // rows' own, to rounding.
            for (rows, sums) in [(&pu, &gu), (&qi, &gi)] {
                for (row, g) in rows.chunks_exact(k).zip(sums) {
                    let norm = f64::from(norm(row));
                    assert!((f64::from(g[2]) - norm).abs() <= 1e-4 * norm.max(1e-2), "{} against {norm}", g[2]);
                }
            }
        }
        (bu, bi, unpadded(&pu, k, n), unpadded(&qi, k, n))
    }

    #[test]
    fn the_fit_is_its_definition_block_by_block() {
        let data = small();
        let t = Trainset::new(&data.ratings);
        for adagrad in [false, true] {
            let lr_all = if adagrad { 0.05 } else { 0.005 };
            let svd =
                SvdParams { n_factors: 20, n_epochs: 3, lr_all, adagrad, ..SvdParams::default() }.check().unwrap();
            // The default number of movie groups, and more than the catalogue's 385 movies
            // fill (each group then has a movie or two), as a large catalogue has.
            for item_groups in [ITEM_GROUPS, 300] {
                let (bu, bi, pu, qi) = reference(&svd, &t, 500, item_groups);
                for threads in [1, 3] {
                    for overlap in [false, true] {
                        for isa in every_isa() {
                            let run = Run { isa, group_ratings: 500, item_groups, threads, overlap };
                            let m = svd.fit_grid(&t, run, |_| {}).unwrap();
                            let Factors::F32 { pu: mpu, qi: mqi } = &m.factors else { panic!("single precision") };
                            let f32s = |x: &[f64]| x.iter().map(|&v| v as f32).collect::<Vec<_>>();
                            let case = format!("adagrad {adagrad}, {isa:?}, {threads} threads, overlap {overlap}");
                            assert!(f32s(&m.bu) == bu && f32s(&m.bi) == bi, "{case}: biases");
                            assert!(*mpu == pu && *mqi == qi, "{case}: factors");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn adagrads_sums_from_the_norms_are_the_sums_over_the_factors() {
        // Rows as a fit has them (values of about 0.1 to 1, errors of the scale's size), and
        // the step's sums and new norms against the same sums taken factor by factor.
        let mut rng = RandomState::new(7);
        for case in 0..200 {
            let k = 1 + case % 120;
            let (mut p, mut q) = (vec![0.0; k], vec![0.0; k]);
            rng.fill_normal(0.0, 0.3, &mut p);
            rng.fill_normal(0.0, 0.3, &mut q);
            let (p, q): (Vec<f32>, Vec<f32>) =
                (p.iter().map(|&x| x as f32).collect(), q.iter().map(|&x| x as f32).collect());
            let e = (case as f32 - 100.0) / 3.0;
            let (reg, step_p, step_q) = ([0.02f32, 0.1], 0.05f32 / (1.0 + case as f32), 0.03f32);
            let step = Step { keep: [1.0 - step_p * reg[0], 1.0 - step_q * reg[1]], by: [step_p * e, step_q * e] };
            let dot = |a: &[f32], b: &[f32]| a.iter().zip(b).map(|(&x, &y)| f64::from(x) * f64::from(y)).sum::<f64>();
            let (sq, norms) = step.squares(e, dot(&p, &q) as f32, reg, [dot(&p, &p) as f32, dot(&q, &q) as f32], 1.0);
            let gp: Vec<f64> = p.iter().zip(&q).map(|(&a, &b)| f64::from(e * b - reg[0] * a)).collect();
            let gq: Vec<f64> = p.iter().zip(&q).map(|(&a, &b)| f64::from(e * a - reg[1] * b)).collect();
            let p2: Vec<f32> = p.iter().zip(&q).map(|(&a, &b)| step.keep[0] * a + step.by[0] * b).collect();
            let q2: Vec<f32> = p.iter().zip(&q).map(|(&a, &b)| step.keep[1] * b + step.by[1] * a).collect();
            let close = |x: f32, y: f64| (f64::from(x) - y).abs() <= 1e-5 * y.max(1e-3);
            assert!(close(sq[0], gp.iter().map(|x| x * x).sum()), "case {case}: pᵤ's squared gradient");
            assert!(close(sq[1], gq.iter().map(|x| x * x).sum()), "case {case}: qᵢ's squared gradient");
            assert!(close(norms[0], dot(&p2, &p2)), "case {case}: pᵤ's new norm");
            assert!(close(norms[1], dot(&q2, &q2)), "case {case}: qᵢ's new norm");
        }
    }

    #[test]
    fn adagrads_four_steps_at_once_are_the_steps_one_by_one() {
        let mut rng = RandomState::new(3);
        let mut g = vec![0.0; 4000];
        rng.fill_normal(0.0, 100.0, &mut g);
        for sums in g.chunks_exact(4) {
            let sums: [f32; 4] = std::array::from_fn(|x| 1.0 + sums[x].abs() as f32);
            let lr = [0.2, 0.2, 0.05, 0.03];
            let one_by_one = adagrad_steps(None, lr, sums);
            assert_eq!(adagrad_steps(sse(), lr, sums), one_by_one, "{sums:?}");
            assert_eq!(one_by_one, std::array::from_fn(|x| lr[x] / sums[x].sqrt()));
        }
    }

    #[test]
    fn groups_grow_with_the_catalogue_past_the_caches() {
        // The seed's catalogue and MovieLens-100k's keep the sizes their models were made with.
        assert_eq!(group_sizes(385, 100), (GROUP_RATINGS, ITEM_GROUPS));
        assert_eq!(group_sizes(1682, 100), (GROUP_RATINGS, ITEM_GROUPS));
        // MovieLens-32M's: 149 movie groups of 256 KiB of rows, user groups of 174,000 ratings.
        assert_eq!(group_sizes(87_000, 100), (174_000, 149));
        // Fewer factors, fewer bytes: 5.6 MB of rows fill 22 groups, so the 32 of any catalogue.
        assert_eq!(group_sizes(87_000, 16).1, ITEM_GROUPS);
        assert_eq!(group_sizes(87_000, 48).1, 64);
    }

    #[test]
    fn overlapping_epochs_with_fewer_turns_than_threads_give_the_same_model() {
        // Four user groups: two turns an epoch, so threads hold turns of several epochs at
        // once, and a later epoch's turn must not take rows an earlier one still needs.
        let data = small();
        let t = Trainset::new(&data.ratings);
        let svd = SvdParams { n_factors: 20, n_epochs: 12, ..SvdParams::default() }.check().unwrap();
        let group_ratings = t.n_ratings().div_ceil(4);
        let run = Run { isa: Isa::Baseline, group_ratings, item_groups: ITEM_GROUPS, threads: 1, overlap: false };
        let one = svd.fit_grid(&t, run, |_| {}).unwrap();
        for threads in [2, 3, 5, 8, 16] {
            for _ in 0..3 {
                let other = svd.fit_grid(&t, Run { threads, overlap: true, ..run }, |_| {}).unwrap();
                assert!(one == other, "{threads} threads give another model than one");
            }
        }
    }

    #[test]
    fn a_diverging_fit_stops_at_the_same_epoch_on_any_number_of_threads() {
        let data = small();
        let t = Trainset::new(&data.ratings);
        // Rates that diverge in the fifth epoch, the third and the first: the overlapping
        // epochs run ahead of the one that fails.
        for (lr_all, epoch) in [(0.012, 5), (0.013, 3), (0.5, 1)] {
            let svd = SvdParams { n_factors: 20, n_epochs: 30, lr_all, ..SvdParams::default() }.check().unwrap();
            let run =
                Run { isa: Isa::Baseline, group_ratings: 300, item_groups: ITEM_GROUPS, threads: 1, overlap: false };
            let mut seen = Vec::new();
            let one = svd.fit_grid(&t, run, |p| seen.push(p.epoch.epoch)).unwrap_err();
            assert_eq!(one.epoch, epoch, "lr_all {lr_all}");
            assert_eq!(seen, (1..one.epoch).collect::<Vec<_>>(), "lr_all {lr_all}: epochs reported before");
            for threads in [2, 3, 8] {
                let mut reported = Vec::new();
                let run = Run { threads, overlap: true, ..run };
                let other = svd.fit_grid(&t, run, |p| reported.push(p.epoch.epoch)).unwrap_err();
                assert_eq!((other.epoch, other.what), (one.epoch, one.what), "lr_all {lr_all}, {threads} threads");
                assert_eq!(reported, seen, "lr_all {lr_all}, {threads} threads: epochs reported");
            }
        }
    }

    #[test]
    fn same_model_for_any_number_of_threads_on_every_instruction_set() {
        let data = small();
        let t = Trainset::new(&data.ratings);
        // 20 factors: rows of three vectors of eight lanes or two of sixteen, fewer than the
        // native dot product's four sums, so its remainder is exercised too.
        let svd = SvdParams { n_factors: 20, n_epochs: 4, ..SvdParams::default() }.check().unwrap();
        let adagrad = SvdParams { n_factors: 20, n_epochs: 4, lr_all: 0.05, adagrad: true, ..SvdParams::default() }
            .check()
            .unwrap();
        let native = Svd { simd: Simd::Native, ..svd };
        let (mut rmse, mut models) = (Vec::new(), Vec::new());
        let mut cases: Vec<(Isa, Svd)> = every_isa().into_iter().flat_map(|isa| [(isa, svd), (isa, native)]).collect();
        cases.push((Isa::Best, adagrad));
        for &(isa, svd) in &cases {
            // Groups of 300 ratings: about 70 user groups, so threads wait on each other.
            let mut last = Vec::new();
            let run = Run { isa, group_ratings: 300, item_groups: ITEM_GROUPS, threads: 1, overlap: false };
            let one = svd.fit_grid(&t, run, |p| last.push(p.epoch.train_rmse)).unwrap();
            for threads in [2, 3, 8, 16] {
                for overlap in [false, true] {
                    let mut other_rmse = Vec::new();
                    let run = Run { isa, group_ratings: 300, item_groups: ITEM_GROUPS, threads, overlap };
                    let other = svd.fit_grid(&t, run, |p| other_rmse.push(p.epoch.train_rmse)).unwrap();
                    let case = format!("{isa:?} {:?}, {threads} threads, overlap {overlap}", svd.simd);
                    assert!(one == other, "{case}: another model than one thread's");
                    assert_eq!(last, other_rmse, "{case}: other training errors");
                }
            }
            rmse.push(last[last.len() - 1]);
            models.push(one);
        }
        // The portable arithmetic: the same bits on every instruction set. The native one:
        // within rounding of it, and other bits where the CPU has fused multiply-adds (the
        // vector path ran). AdaGrad's step is another fit.
        let portable = &models[0];
        for (c, &(isa, svd)) in cases.iter().enumerate() {
            let case = format!("{isa:?} ({}) {:?}", isa.name(), svd.simd);
            assert!(rmse[c].is_finite(), "{case}: {rmse:?}");
            if svd.adagrad {
                assert!((rmse[c] - rmse[0]).abs() > 1e-3 * rmse[0], "{case}: {rmse:?}");
            } else if svd.simd == Simd::Portable {
                assert!(models[c] == *portable, "{case}: not the portable bits");
            } else {
                assert!((rmse[c] - rmse[0]).abs() < 1e-4 * rmse[0], "{case}: {rmse:?}");
                if ["avx512", "avx2+fma"].contains(&isa.name()) {
                    assert!(models[c] != *portable, "{case}: the fused path gave the portable bits");
                }
            }
        }
    }
}
