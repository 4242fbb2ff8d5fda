//! Surprise's similarity measures (`similarities.pyx`): `cosine`, `msd`, `pearson` and
//! `pearson_baseline`, between users (over the movies both rated) or between movies (over
//! the users who rated both), with `min_support` and `shrinkage`.
//!
//! Surprise fills five `n × n` arrays, pair by pair, by visiting every rating pair of every
//! movie (or user). Here only the upper triangle is kept (the measures are symmetric, and the
//! diagonal is 1), and every pair's sums are added in the order Surprise adds them (the other
//! side's id ascending, list order within it), so every similarity is the same double. Up to
//! 1,024 users or movies the triangle's sums are filled movie by movie (user by user), in
//! blocks of rows run in parallel, each block's sums small enough to stay in the core's
//! cache; above, row by row, each row from its own ratings sorted by the other side's id,
//! with sums for that row's partners only.
//!
//! Where Surprise divides by zero (`cosine` of two users whose common ratings are all 0;
//! `pearson_baseline` when every common rating equals its baseline) it raises
//! `ZeroDivisionError` and fits nothing; here the similarity is 0.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::trainset::Rows;

/// The measure (Surprise's `sim_options['name']`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Cosine of the rating vectors.
    Cosine,
    /// `1 / (mean squared difference + 1)` (Surprise's default).
    #[default]
    Msd,
    /// Pearson's correlation.
    Pearson,
    /// Pearson's correlation of the deviations from the baselines, shrunk by support.
    PearsonBaseline,
}

/// Surprise's `sim_options`, with its names and defaults.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimOptions {
    /// The measure.
    pub name: Measure,
    /// Similarities between users (true, Surprise's default) or between movies.
    pub user_based: bool,
    /// Pairs with fewer common ratings have similarity 0 (1; at least 2 for
    /// `pearson_baseline`).
    pub min_support: usize,
    /// `pearson_baseline`'s shrinkage (100).
    pub shrinkage: f64,
}

impl Default for SimOptions {
    fn default() -> SimOptions {
        SimOptions { name: Measure::Msd, user_based: true, min_support: 1, shrinkage: 100.0 }
    }
}

/// A symmetric similarity matrix: its upper triangle, row by row.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Similarities {
    /// Users or movies.
    pub n: usize,
    /// `sim(a, b)` for `a < b`, at `offset(a) + b − a − 1`.
    pub upper: Vec<f64>,
}

impl Similarities {
    /// Bytes the triangle of `n` takes.
    pub fn bytes(n: usize) -> f64 {
        (n as f64) * (n as f64 - 1.0) / 2.0 * 8.0
    }

    /// `sim(a, b)`; 1 on the diagonal.
    pub fn get(&self, a: usize, b: usize) -> f64 {
        if a == b {
            return 1.0;
        }
        let (a, b) = if a < b { (a, b) } else { (b, a) };
        self.upper[offset(self.n, a) + b - a - 1]
    }
}

/// The baselines `pearson_baseline` measures deviations from.
#[derive(Clone, Copy, Debug)]
pub struct Biases<'a> {
    /// The training set's mean.
    pub global_mean: f64,
    /// Biases of the side compared (users when user-based).
    pub x: &'a [f64],
    /// Biases of the other side.
    pub y: &'a [f64],
}

/// The sums of a row's pairs (row by row) or of a block's (the dense path), reused from one to
/// the next.
#[derive(Clone)]
struct Sums {
    /// Per partner: the common ratings and the sum of products (of squared differences for
    /// `msd`), side by side so that one cache line serves both.
    pair: Vec<Pair>,
    /// Per partner: the sums of squares of each side's scores, and of the scores
    /// (`cosine`, `pearson`, `pearson_baseline`).
    more: Vec<[f64; 4]>,
}

#[derive(Clone, Copy, Default)]
struct Pair {
    prods: f64,
    /// A count, kept as a double (exact below 2⁵³) so that both sums update in one vector
    /// addition.
    freq: f64,
}

impl Sums {
    fn new(n: usize) -> Sums {
        Sums { pair: vec![Pair::default(); n], more: vec![[0.0; 4]; n] }
    }
}

/// The similarities between `n` users or movies (the x side) from `yr`, each y's `(x,
/// score)` ratings in list order (x below `n`); `biases` only for `pearson_baseline`. Rows
/// run in parallel on the current rayon pool; the result does not depend on it.
///
/// # Panics
/// For `pearson_baseline` without biases.
pub fn compute(opts: &SimOptions, n: usize, yr: &Rows, biases: Option<Biases<'_>>) -> Similarities {
    assert!(opts.name != Measure::PearsonBaseline || biases.is_some(), "pearson_baseline needs the biases");
    // Each y's ratings sorted by x, equal ids in list order (so a pair's sums keep Surprise's
    // order): the partners after x are then a contiguous tail.
    let by_x = yr.sorted(n);
    // A pair's sums: 16 bytes, 48 with the sums of squares.
    let pair_bytes = if opts.name == Measure::Msd { 16 } else { 48 };
    let upper = fill(opts, n, yr, &by_x, biases, (n <= DENSE_MAX).then_some(BLOCK_BYTES / pair_bytes));
    Similarities { n, upper }
}

/// The similarities of one more row with each of the `by_y.len()` rows: `new` is its
/// ratings, (y, score) sorted by y, each y once; `by_y` each row's ratings sorted by y. The
/// sums are the triangle's, the new row on the first side with index `by_y.len()` (where
/// `biases.x` must have its bias). What a user or movie the similarities were not computed
/// for would have had.
pub fn with_new(opts: &SimOptions, new: &[(u32, f64)], by_y: &Rows, biases: Option<Biases<'_>>) -> Vec<f64> {
    fn go<U: Update>(opts: &SimOptions, new: &[(u32, f64)], by_y: &Rows, u: U) -> Vec<f64> {
        let (n, min) = (by_y.len(), min_support(opts));
        (0..n)
            .into_par_iter()
            .map(|x| {
                let (mut p, mut m) = (Pair::default(), [0.0f64; 4]);
                let (ys, rs) = by_y.row(x);
                let mut at = 0;
                for &(y, ri) in new {
                    at += ys[at..].partition_point(|&v| v < y);
                    let mut k = at;
                    while k < ys.len() && ys[k] == y {
                        u.add(&mut p, &mut m, (n, ri), (x, rs[k]), y as usize);
                        k += 1;
                    }
                }
                sim_of(opts, min, p, m)
            })
            .collect()
    }
    match opts.name {
        Measure::Cosine => go(opts, new, by_y, CosineSums),
        Measure::Msd => go(opts, new, by_y, MsdSums),
        Measure::Pearson => go(opts, new, by_y, PearsonSums),
        Measure::PearsonBaseline => {
            go(opts, new, by_y, PearsonBaselineSums(biases.expect("pearson_baseline needs the biases")))
        }
    }
}

/// One pair of ratings added to the pair's sums: the one definition of each measure's sums,
/// which both ways of filling the triangle use.
trait Update: Copy + Send + Sync {
    /// Whether the measure needs the sums of squares (and of scores) besides the products.
    const MORE: bool;

    /// Adds the rating `ri` of `xa` and the rating `rj` of `xb`, both of `y`.
    fn add(self, p: &mut Pair, m: &mut [f64; 4], a: (usize, f64), b: (usize, f64), y: usize);
}

#[derive(Clone, Copy)]
struct CosineSums;

impl Update for CosineSums {
    const MORE: bool = true;
    #[inline]
    fn add(self, p: &mut Pair, m: &mut [f64; 4], (_, ri): (usize, f64), (_, rj): (usize, f64), _: usize) {
        p.freq += 1.0;
        p.prods += ri * rj;
        m[0] += ri * ri;
        m[1] += rj * rj;
    }
}

#[derive(Clone, Copy)]
struct MsdSums;

impl Update for MsdSums {
    const MORE: bool = false;
    #[inline]
    fn add(self, p: &mut Pair, _: &mut [f64; 4], (_, ri): (usize, f64), (_, rj): (usize, f64), _: usize) {
        p.prods += (ri - rj) * (ri - rj);
        p.freq += 1.0;
    }
}

#[derive(Clone, Copy)]
struct PearsonSums;

impl Update for PearsonSums {
    const MORE: bool = true;
    #[inline]
    fn add(self, p: &mut Pair, m: &mut [f64; 4], (_, ri): (usize, f64), (_, rj): (usize, f64), _: usize) {
        p.prods += ri * rj;
        p.freq += 1.0;
        m[0] += ri * ri;
        m[1] += rj * rj;
        m[2] += ri;
        m[3] += rj;
    }
}

#[derive(Clone, Copy)]
struct PearsonBaselineSums<'a>(Biases<'a>);

impl Update for PearsonBaselineSums<'_> {
    const MORE: bool = true;
    #[inline]
    fn add(self, p: &mut Pair, m: &mut [f64; 4], (xa, ri): (usize, f64), (xb, rj): (usize, f64), y: usize) {
        let b = self.0;
        let partial = b.global_mean + b.y[y];
        let diff_i = ri - (partial + b.x[xa]);
        let diff_j = rj - (partial + b.x[xb]);
        p.freq += 1.0;
        p.prods += diff_i * diff_j;
        m[0] += diff_i * diff_i;
        m[1] += diff_j * diff_j;
    }
}

/// The triangle of `opts`' measure, filled y by y in blocks of at most `block_pairs` pairs
/// (`Some`), or row by row (`None`).
fn fill(
    opts: &SimOptions,
    n: usize,
    yr: &Rows,
    by_x: &Rows,
    biases: Option<Biases<'_>>,
    block_pairs: Option<usize>,
) -> Vec<f64> {
    fn with<U: Update>(opts: &SimOptions, n: usize, yr: &Rows, by_x: &Rows, u: U, dense: Option<usize>) -> Vec<f64> {
        match dense {
            Some(block_pairs) => dense_fill(opts, n, by_x, u, block_pairs),
            None => rowwise(opts, n, yr, by_x, u),
        }
    }
    match opts.name {
        Measure::Cosine => with(opts, n, yr, by_x, CosineSums, block_pairs),
        Measure::Msd => with(opts, n, yr, by_x, MsdSums, block_pairs),
        Measure::Pearson => with(opts, n, yr, by_x, PearsonSums, block_pairs),
        Measure::PearsonBaseline => {
            with(opts, n, yr, by_x, PearsonBaselineSums(biases.expect("checked by compute")), block_pairs)
        }
    }
}

/// The triangle row by row: each row's sums for its partners only (`yr`: each y's ratings
/// in list order; `by_x`: sorted by x).
fn rowwise<U: Update>(opts: &SimOptions, n: usize, yr: &Rows, by_x: &Rows, u: U) -> Vec<f64> {
    // Each x's ratings sorted by y, equal ids in list order.
    let by_y = yr.transpose(n);
    let mut upper = vec![0.0; offset(n, n)];
    let rows = split_rows(&mut upper, n, (0..n).map(|x| (x, x + 1)));
    rows.into_par_iter().for_each_init(
        || Sums::new(n),
        |s, ((x, _), out)| {
            let mut unused = [0.0f64; 4];
            let (ys, rs) = by_y.row(x);
            for (&y, &ri) in ys.iter().zip(rs) {
                let (xs, rs) = by_x.row(y as usize);
                let after = xs.partition_point(|&xj| xj as usize <= x);
                for (&xj, &rj) in xs[after..].iter().zip(&rs[after..]) {
                    let m = if U::MORE { &mut s.more[xj as usize] } else { &mut unused };
                    u.add(&mut s.pair[xj as usize], m, (x, ri), (xj as usize, rj), y as usize);
                }
            }
            let more = if U::MORE { &mut s.more[x + 1..] } else { &mut [][..] };
            finish(opts, &mut s.pair[x + 1..], more, out);
        },
    );
    upper
}

/// The triangle `upper` of `n` rows cut at the given row ranges (in order, covering every
/// row): each range with its part.
fn split_rows(
    mut upper: &mut [f64],
    n: usize,
    ranges: impl Iterator<Item = (usize, usize)>,
) -> Vec<((usize, usize), &mut [f64])> {
    let mut parts = Vec::new();
    for (lo, hi) in ranges {
        let (part, rest) = std::mem::take(&mut upper).split_at_mut(offset(n, hi) - offset(n, lo));
        parts.push(((lo, hi), part));
        upper = rest;
    }
    parts
}

/// The similarities of `pair`'s (and `more`'s) sums into `out`, and the sums zeroed for the
/// next use. For `msd`, a loop the compiler turns into vector instructions (the same
/// doubles: each division is rounded once either way).
fn finish(opts: &SimOptions, pair: &mut [Pair], more: &mut [[f64; 4]], out: &mut [f64]) {
    let min = min_support(opts);
    if opts.name == Measure::Msd {
        // freq < min or freq == 0: the counts are exact doubles.
        let least = min.max(1) as f64;
        for (o, p) in out.iter_mut().zip(pair.iter()) {
            let sim = 1.0 / (p.prods / p.freq + 1.0);
            *o = if p.freq < least { 0.0 } else { sim };
        }
        pair[..out.len()].fill(Pair::default());
    } else {
        for (k, o) in out.iter_mut().enumerate() {
            *o = sim_of(opts, min, std::mem::take(&mut pair[k]), std::mem::take(&mut more[k]));
        }
    }
}

/// Up to this many users or movies, the sums of every pair are kept at once and filled
/// movie by movie (user by user when item-based), in blocks of rows run in parallel; above,
/// row by row (each row's sums for its partners only).
const DENSE_MAX: usize = 1024;

/// The most bytes of sums a block of the dense path takes: they stay in a core's level-2
/// cache (1 MiB: 65,536 pairs for `msd`, the 385 movies' triangle in 2 blocks).
const BLOCK_BYTES: usize = 1 << 20;

/// Where row `a`'s pairs start in an upper triangle of `n` rows.
fn offset(n: usize, a: usize) -> usize {
    a * n - a * (a + 1) / 2
}

/// The whole triangle, filled y by y (`by_x`: each y's ratings sorted by x), in blocks of
/// rows of at most `block_pairs` pairs (or one row). The blocks change with the number of
/// threads; the sums, each pair's in its own order, do not.
fn dense_fill<U: Update>(opts: &SimOptions, n: usize, by_x: &Rows, u: U, block_pairs: usize) -> Vec<f64> {
    // Blocks of about equal numbers of pairs, at most block_pairs, and at least two per
    // thread to share among them; each block rows lo..hi (at least one row).
    let total = offset(n, n);
    let threads = rayon::current_num_threads();
    let n_blocks = total.div_ceil(block_pairs).max(if threads > 1 { 2 * threads } else { 1 });
    let target = total.div_ceil(n_blocks).max(1);
    let mut blocks = Vec::new();
    let mut lo = 0;
    while lo < n {
        let hi = lo + 1 + (lo + 1..n).take_while(|&hi| offset(n, hi + 1) - offset(n, lo) <= target).count();
        blocks.push((lo, hi));
        lo = hi;
    }
    let most = blocks.iter().map(|&(lo, hi)| offset(n, hi) - offset(n, lo)).max().unwrap_or(0);
    let mut upper = vec![0.0; total];
    let parts = split_rows(&mut upper, n, blocks.into_iter());
    // Each thread's sums, reused from block to block (fresh memory costs more than zeroing).
    parts.into_par_iter().for_each_init(
        || Sums { pair: vec![Pair::default(); most], more: vec![[0.0; 4]; if U::MORE { most } else { 0 }] },
        |s, ((lo, hi), out)| dense_block(opts, n, (lo, hi), by_x, u, s, out),
    );
    upper
}

/// The similarities of rows `lo..hi` with every later row, into `out`; `s` has room for
/// their sums, all 0, and is left so.
fn dense_block<U: Update>(
    opts: &SimOptions,
    n: usize,
    (lo, hi): (usize, usize),
    by_x: &Rows,
    u: U,
    s: &mut Sums,
    out: &mut [f64],
) {
    let start = offset(n, lo);
    let (pair, more) = (&mut s.pair[..out.len()], if U::MORE { &mut s.more[..out.len()] } else { &mut [][..] });
    let (mut unused, mut unused2) = ([0.0f64; 4], [0.0f64; 4]);
    // The first entry after `from` whose id is not `x`.
    let skip = |xs: &[u32], mut from: usize, x: usize| {
        while from < xs.len() && xs[from] as usize == x {
            from += 1;
        }
        from
    };
    for y in 0..by_x.len() {
        let (xs, rs) = by_x.row(y);
        let mut a = xs.partition_point(|&x| (x as usize) < lo);
        while a < xs.len() && (xs[a] as usize) < hi {
            let (xa, ri) = (xs[a] as usize, rs[a]);
            let tail = skip(xs, a + 1, xa);
            // Row xa's pair with xb is at pair[ra + xb - xa - 1].
            let ra = offset(n, xa) - start;
            if tail == a + 1 && tail < xs.len() && (xs[tail] as usize) < hi {
                // Two rows at once, xa and the next, xc: both pair with every entry after xc's,
                // which are read once for both.
                let (xc, rc) = (xs[tail] as usize, rs[tail]);
                let tail2 = skip(xs, tail + 1, xc);
                let rcs = offset(n, xc) - start;
                // xa with each of xc's entries.
                let k = ra + xc - xa - 1;
                for &rj in &rs[tail..tail2] {
                    let m = if U::MORE { &mut more[k] } else { &mut unused };
                    u.add(&mut pair[k], m, (xa, ri), (xc, rj), y);
                }
                let (pa, pc) = pair.split_at_mut(rcs);
                let (row_a, row_c) = (&mut pa[ra..ra + n - xa - 1], &mut pc[..n - xc - 1]);
                let (ma, mc) = if U::MORE { more.split_at_mut(rcs) } else { (&mut [][..], &mut [][..]) };
                for (&xb, &rj) in xs[tail2..].iter().zip(&rs[tail2..]) {
                    let xb = xb as usize;
                    let (ka, kc) = (xb - xa - 1, xb - xc - 1);
                    let (m1, m2) = if U::MORE { (&mut ma[ra + ka], &mut mc[kc]) } else { (&mut unused, &mut unused2) };
                    u.add(&mut row_a[ka], m1, (xa, ri), (xb, rj), y);
                    u.add(&mut row_c[kc], m2, (xc, rc), (xb, rj), y);
                }
                a = tail + 1;
                continue;
            }
            let row = &mut pair[ra..ra + n - xa - 1];
            for (&xb, &rj) in xs[tail..].iter().zip(&rs[tail..]) {
                let k = xb as usize - xa - 1;
                let m = if U::MORE { &mut more[ra + k] } else { &mut unused };
                u.add(&mut row[k], m, (xa, ri), (xb as usize, rj), y);
            }
            a += 1;
        }
    }
    finish(opts, pair, more, out);
}

/// The fewest common ratings a pair needs.
fn min_support(opts: &SimOptions) -> usize {
    match opts.name {
        Measure::PearsonBaseline => opts.min_support.max(2),
        _ => opts.min_support,
    }
}

/// A pair's similarity from its sums.
fn sim_of(opts: &SimOptions, min: usize, p: Pair, [sqi, sqj, si, sj]: [f64; 4]) -> f64 {
    let freq = p.freq as usize;
    if freq < min || freq == 0 {
        return 0.0;
    }
    let prods = p.prods;
    match opts.name {
        Measure::Cosine => nonzero(prods, (sqi * sqj).sqrt()),
        Measure::Msd => 1.0 / (prods / freq as f64 + 1.0),
        Measure::Pearson => {
            let f = freq as f64;
            let num = f * prods - si * sj;
            let den = ((f * sqi - si * si) * (f * sqj - sj * sj)).sqrt();
            nonzero(num, den)
        }
        Measure::PearsonBaseline => {
            let sim = nonzero(prods, (sqi * sqj).sqrt());
            let support = (freq - 1) as f64;
            sim * (support / (support + opts.shrinkage))
        }
    }
}

/// `num / den`, or 0 where Surprise would divide by zero.
fn nonzero(num: f64, den: f64) -> f64 {
    if den == 0.0 { 0.0 } else { num / den }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::RatingList;
    use crate::data::scale::RatingScale;
    use crate::data::trainset::Trainset;

    fn rows() -> (Rows, Rows) {
        let mut l = RatingList::new(RatingScale::new(1.0, 5.0).unwrap());
        for (u, m, s) in [("a", "x", 1.0), ("a", "y", 2.0), ("b", "x", 2.0), ("b", "y", 4.0), ("c", "x", 5.0)] {
            l.push(u, m, s);
        }
        let t = Trainset::new(&l);
        (t.ur().clone(), t.ir().clone())
    }

    #[test]
    fn both_ways_of_filling_the_triangle_give_the_same_doubles() {
        use crate::data::synthetic::{SyntheticConfig, generate};
        let data =
            generate(&SyntheticConfig { seed: 5, scale: 0.005, ..SyntheticConfig::default() }, RatingScale::SEED)
                .unwrap();
        // Some users rate a movie twice (Surprise keeps both ratings).
        let mut list = data.ratings.clone();
        for r in (0..data.ratings.len()).step_by(97) {
            let l = &data.ratings;
            let (u, m) = (l.users().raw(l.user()[r].0).to_string(), l.movies().raw(l.movie()[r].0).to_string());
            list.push(&u, &m, 100.0 - l.score()[r]);
        }
        let t = Trainset::new(&list);
        let (ur, ir) = (&t.ur(), &t.ir());
        let bu: Vec<f64> = (0..ur.len()).map(|u| (u % 7) as f64 - 3.0).collect();
        let bi: Vec<f64> = (0..ir.len()).map(|i| (i % 5) as f64 - 2.0).collect();
        for name in [Measure::Cosine, Measure::Msd, Measure::Pearson, Measure::PearsonBaseline] {
            for (xr, yr, bx, by) in [(&ur, &ir, &bu, &bi), (&ir, &ur, &bi, &bu)] {
                let o = SimOptions { name, min_support: 2, ..SimOptions::default() };
                let b = Some(Biases { global_mean: t.global_mean(), x: bx, y: by });
                let n = xr.len();
                let by_x = yr.sorted(n);
                let r = fill(&o, n, yr, &by_x, b, None);
                assert_eq!(r.len(), n * (n - 1) / 2);
                assert!(r.iter().any(|&s| s != 0.0), "{name:?}: every similarity is 0");
                // One row a block, blocks of a few rows, one block.
                for block_pairs in [1, 100, BLOCK_BYTES / 16] {
                    let d = fill(&o, n, yr, &by_x, b, Some(block_pairs));
                    assert!(d.iter().zip(&r).all(|(a, b)| a.to_bits() == b.to_bits()), "{name:?} differs");
                }
                // The blocks follow the number of threads; the similarities do not.
                for threads in [1, 3] {
                    let d = crate::models::base::install(threads, || compute(&o, n, yr, b)).upper;
                    assert!(d.iter().zip(&r).all(|(a, b)| a.to_bits() == b.to_bits()), "{name:?}, {threads} threads");
                }
            }
        }
    }

    #[test]
    fn measures_follow_their_definitions() {
        let (ur, ir) = rows();
        let opts = |name| SimOptions { name, ..SimOptions::default() };
        // Users a and b rated x and y: (1, 2) and (2, 4).
        let cos = compute(&opts(Measure::Cosine), ur.len(), &ir, None);
        assert_eq!(cos.get(0, 1), 10.0 / (5.0f64 * 20.0).sqrt());
        assert_eq!(cos.get(1, 0), cos.get(0, 1));
        assert_eq!(cos.get(2, 2), 1.0);
        let msd = compute(&opts(Measure::Msd), ur.len(), &ir, None);
        assert_eq!(msd.get(0, 1), 1.0 / (5.0 / 2.0 + 1.0));
        let pearson = compute(&opts(Measure::Pearson), ur.len(), &ir, None);
        assert_eq!(pearson.get(0, 1), 1.0);
        // Movies x and y were both rated by a and b only.
        let items = compute(&SimOptions { user_based: false, ..opts(Measure::Msd) }, ir.len(), &ur, None);
        assert_eq!(items.get(0, 1), 1.0 / (5.0 / 2.0 + 1.0));
        // min_support drops pairs with too few common ratings.
        let strict = compute(&SimOptions { min_support: 3, ..opts(Measure::Cosine) }, ur.len(), &ir, None);
        assert_eq!(strict.get(0, 1), 0.0);
    }
}
