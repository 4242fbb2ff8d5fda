//! Implicit ALS: Hu, Koren and Volinsky, "Collaborative Filtering for Implicit Feedback
//! Datasets" (ICDM 2008), solved by conjugate gradient as in Takács, Pilászy and Tikk,
//! "Applications of the conjugate gradient method for implicit feedback collaborative
//! filtering" (RecSys 2011).
//!
//! Every (user, movie) pair has a preference, 1 where the user rated the movie and 0
//! elsewhere, and a confidence, `1 + α·w` where rated (`w` from [`Weighting`]: 1, or growing
//! with the score) and 1 elsewhere. With [`IalsParams::preference`] `β` above 0 the score
//! sets the preference too: `1 + β·(s − mid)/(max − mid)` for a score `s` on a scale whose
//! middle is `mid`, so a top score asks for more than 1, a low one for less, and past `β = 1`
//! a disliked movie for a negative preference: the model learns to score it below the movies
//! nobody rated. The objective is
//! `Σᵤᵢ cᵤᵢ (pᵤᵢ − xᵤ·yᵢ)² + λ (Σᵤ |xᵤ|² + Σᵢ |yᵢ|²)`. Alternating, each user's factors solve
//! `(YᵀY + λI + Σᵢ (cᵤᵢ − 1) yᵢyᵢᵀ) xᵤ = Σᵢ cᵤᵢ pᵤᵢ yᵢ` over the movies they rated, `YᵀY`
//! shared by all users; `cg_steps` conjugate-gradient steps from the previous factors replace
//! the exact solve. Then the same for movies.
//!
//! Determinism: each user's (and movie's) solve is one sequential task; `YᵀY` is summed in
//! blocks of fixed size added in block order. So the model is the same, bit for bit, for any
//! number of threads. Factors are `f32`; each solve runs on the CPU's widest vector
//! instructions, chosen at run time (`pulp`), in the arithmetic of `simd`
//! ([`crate::models::base::simd`]): by default the portable one, the same bits on every CPU; the
//! native one (fused multiply-adds in eight or sixteen lanes where the CPU has them) differs
//! between CPUs by rounding.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::trainset::Trainset;
use crate::models::base::linalg::solve_cholesky;
use crate::models::base::scoring::{self, Finish, Panels, dot_in_order};
use crate::models::base::select::top_unseen;
use crate::models::base::simd::{self, Arith, Isa, Simd, Vectorized};
use crate::models::base::{Fit, FitError, Interactions, TopN, Weighting, check, install};
use crate::numpy::RandomState;

/// Implicit ALS's parameters.
///
/// | Name | Default | Purpose |
/// |---|---|---|
/// | `factors` | 16 | length of the factor vectors (1 or more) |
/// | `regularization` | 0.05 | λ (0 or more) |
/// | `alpha` | 5 | confidence `1 + α·w` of a rating (0 or more) |
/// | `weighting` | `score` | `w`: `binary` (1) or `score` (0.5 to 1, growing with the score) |
/// | `preference` | 0 | `β`, how much the score moves a rating's preference from 1 (0 or more): `1 + β·(s − mid)/(max − mid)` |
/// | `iterations` | 15 | alternations (1 or more) |
/// | `cg_steps` | 3 | conjugate-gradient steps per solve (1 or more) |
/// | `init_std_dev` | 0.01 | standard deviation of the initial factors (above 0) |
/// | `seed` | 42 | the initial factors |
/// | `simd` | `portable` | the solves' arithmetic ([`Simd`]): the same model on every CPU, or `native`, the CPU's fastest |
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IalsParams {
    /// Length of the factor vectors.
    pub factors: usize,
    /// λ.
    pub regularization: f64,
    /// α.
    pub alpha: f64,
    /// How a rating's score sets its confidence.
    pub weighting: Weighting,
    /// How much a rating's score, centred on the scale's middle, moves its preference.
    #[serde(skip_serializing_if = "is_zero")]
    pub preference: f64,
    /// Alternations.
    pub iterations: usize,
    /// Conjugate-gradient steps per solve.
    pub cg_steps: usize,
    /// Standard deviation of the initial factors.
    pub init_std_dev: f64,
    /// Seed of the initial factors.
    pub seed: u32,
    /// The arithmetic of the solves.
    pub simd: Simd,
}

impl Default for IalsParams {
    fn default() -> IalsParams {
        IalsParams {
            factors: 16,
            regularization: 0.05,
            alpha: 5.0,
            weighting: Weighting::Score,
            preference: 0.0,
            iterations: 15,
            cg_steps: 3,
            init_std_dev: 0.01,
            seed: 42,
            simd: Simd::Portable,
        }
    }
}

/// Whether a number is 0: a parameter at 0 is left out of the model file's header, as it
/// was before the parameter existed.
fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

impl IalsParams {
    /// A rating's confidence `1 + α·w` and its preference times it, `c·p`, for a score `s`
    /// on the scale `(lo, hi)`.
    fn confidence(&self, s: f64, (lo, hi): (f64, f64)) -> (f64, f64) {
        let c = 1.0 + self.alpha * self.weighting.weight(s, lo, hi);
        if self.preference == 0.0 {
            return (c, c);
        }
        let mid = (lo + hi) / 2.0;
        (c, c * (1.0 + self.preference * ((s - mid) / (hi - mid)).clamp(-1.0, 1.0)))
    }
}

/// A fitted implicit ALS.
#[derive(Clone, Debug, PartialEq)]
pub struct Ials {
    /// The parameters it was fitted with (a new user is folded in with them).
    pub params: IalsParams,
    /// The rating scale's bounds, for the confidence of a new user's ratings.
    pub scale: (f64, f64),
    /// User factors, row-major `n_users × factors`.
    pub user_factors: Vec<f32>,
    /// Movie factors, row-major `n_items × factors`.
    pub item_factors: Vec<f32>,
    /// `YᵀY` of the movie factors, which every fold-in needs: computed once, by
    /// [`Ials::new`].
    item_gram: Vec<f32>,
    /// The movie factors packed for scoring every movie at once ([`crate::models::base::scoring`]).
    panels: Panels,
}

/// The dot product of two equal-length vectors, in sixteen lanes (two or four vector
/// registers, so the additions do not wait on each other) added in a fixed order.
#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    const LANES: usize = 16;
    let mut lanes = [0.0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            lanes[l] += x[l] * y[l];
        }
    }
    let mut width = LANES / 2;
    while width > 0 {
        for l in 0..width {
            lanes[l] += lanes[l + width];
        }
        width /= 2;
    }
    lanes[0] + tail
}

/// `y += a·x`.
#[inline(always)]
fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yv, xv) in y.iter_mut().zip(x) {
        *yv += a * xv;
    }
}

/// Rows of `YᵀY` summed per block of this many rows, blocks added in order.
const GRAM_BLOCK: usize = 512;

/// `YᵀY` (row-major `k × k`) of the row-major `n × k` matrix `y`.
fn gram(y: &[f32], k: usize) -> Vec<f32> {
    let partials: Vec<Vec<f32>> = y
        .par_chunks(GRAM_BLOCK * k)
        .map(|block| {
            let mut g = vec![0.0f32; k * k];
            for row in block.chunks_exact(k) {
                for (a, &ra) in row.iter().enumerate() {
                    axpy(ra, row, &mut g[a * k..(a + 1) * k]);
                }
            }
            g
        })
        .collect();
    let mut g = vec![0.0f32; k * k];
    for p in &partials {
        for (a, b) in g.iter_mut().zip(p) {
            *a += b;
        }
    }
    g
}

/// One side's solves: for every row `u` of `x`, `cg_steps` conjugate-gradient steps on
/// `(YᵀY + λI + Σ (c − 1) yᵢyᵢᵀ) x = Σ c·p yᵢ` over the row's rated
/// `index[start[u]..start[u + 1]]` with their confidences and targets `c·p`. Each row's solve
/// runs on the widest vector instructions the CPU has, chosen at run time (see [`Isa`]), in
/// the arithmetic `simd`.
fn solve_side(
    x: &mut [f32],
    y: &[f32],
    (k, lambda, steps): (usize, f32, usize),
    rated: Rated<'_>,
    (isa, simd): (Isa, Simd),
) {
    let yty = gram(y, k);
    x.par_chunks_mut(k).enumerate().for_each_init(
        || (vec![0.0f32; 3 * k], Vec::new()),
        |(scratch, rows), (u, xu)| {
            let range = rated.start[u]..rated.start[u + 1];
            let solve = SolveRow {
                xu,
                y,
                yty: &yty,
                lambda,
                steps,
                index: &rated.index[range.clone()],
                confidence: &rated.confidence[range.clone()],
                target: &rated.target[range],
                scratch,
                rows,
            };
            isa.run(simd, solve);
        },
    );
}

/// What each row of one side rated: `index[start[u]..start[u + 1]]`, with confidences `c`
/// and targets `c·p`.
#[derive(Clone, Copy)]
struct Rated<'a> {
    start: &'a [usize],
    index: &'a [u32],
    confidence: &'a [f32],
    target: &'a [f32],
}

/// One row's conjugate-gradient solve.
struct SolveRow<'a> {
    xu: &'a mut [f32],
    y: &'a [f32],
    yty: &'a [f32],
    lambda: f32,
    steps: usize,
    index: &'a [u32],
    confidence: &'a [f32],
    target: &'a [f32],
    scratch: &'a mut [f32],
    /// The rated rows of `y`, gathered contiguously once per solve.
    rows: &'a mut Vec<f32>,
}

/// `out = (YᵀY + λI) v`, as a sum of `YᵀY`'s rows (it is symmetric), so with no reductions.
#[inline(always)]
fn gram_times<S: pulp::Simd, A: Arith>(s: S, yty: &[f32], lambda: f32, v: &[f32], out: &mut [f32]) {
    for (o, &vv) in out.iter_mut().zip(v) {
        *o = lambda * vv;
    }
    for (g, &va) in yty.chunks_exact(v.len()).zip(v) {
        simd::axpy::<S, A>(s, va, g, out);
    }
}

impl Vectorized for SolveRow<'_> {
    type Output = ();

    #[inline(always)]
    fn run<S: pulp::Simd, A: Arith>(self, s: S) {
        let SolveRow { xu, y, yty, lambda, steps, index, confidence, target, scratch, rows } = self;
        let k = xu.len();
        // Plain functions, not closures: closures would not inherit the instruction set
        // `pulp` compiles this function for, and every vector operation would become a call.
        let dot = A::dot::<S>;
        let axpy = simd::axpy::<S, A>;
        let (r, rest) = scratch.split_at_mut(k);
        let (p, ap) = rest.split_at_mut(k);
        rows.clear();
        for &i in index {
            rows.extend_from_slice(&y[i as usize * k..(i as usize + 1) * k]);
        }
        let rows: &[f32] = rows;
        let gram_times = gram_times::<S, A>; // (the function below, its types fixed)
        // r = b − A x = −(YᵀY + λI) x + Σ (c·p − (c − 1)(yᵢ·x)) yᵢ: one pass over the rows.
        gram_times(s, yty, lambda, xu, r);
        for rv in r.iter_mut() {
            *rv = -*rv;
        }
        for ((yi, &c), &cp) in rows.chunks_exact(k).zip(confidence).zip(target) {
            axpy(s, cp - (c - 1.0) * dot(s, yi, xu), yi, r);
        }
        p.copy_from_slice(r);
        let mut rs_old = dot(s, r, r);
        for _ in 0..steps {
            if rs_old < 1e-20 {
                break;
            }
            // ap = A p = (YᵀY + λI) p + Σ (c − 1)(yᵢ·p) yᵢ.
            gram_times(s, yty, lambda, p, ap);
            for (yi, &c) in rows.chunks_exact(k).zip(confidence) {
                axpy(s, (c - 1.0) * dot(s, yi, p), yi, ap);
            }
            let alpha = rs_old / dot(s, p, ap);
            axpy(s, alpha, p, xu);
            axpy(s, -alpha, ap, r);
            let rs_new = dot(s, r, r);
            let beta = rs_new / rs_old;
            for (pv, rv) in p.iter_mut().zip(r.iter()) {
                *pv = rv + beta * *pv;
            }
            rs_old = rs_new;
        }
    }
}

impl Fit for IalsParams {
    type Model = Ials;

    fn check(&self, _n_items: usize) -> Result<(), FitError> {
        let p = self;
        check("ials.factors", p.factors as f64, p.factors >= 1, "a whole number of 1 or more")?;
        check("ials.iterations", p.iterations as f64, p.iterations >= 1, "a whole number of 1 or more")?;
        check("ials.cg_steps", p.cg_steps as f64, p.cg_steps >= 1, "a whole number of 1 or more")?;
        check("ials.regularization", p.regularization, p.regularization >= 0.0, "a number of 0 or more")?;
        check("ials.alpha", p.alpha, p.alpha >= 0.0, "a number of 0 or more")?;
        check("ials.preference", p.preference, p.preference >= 0.0, "a number of 0 or more")?;
        check("ials.init_std_dev", p.init_std_dev, p.init_std_dev > 0.0, "a number above 0")
    }

    fn fit(&self, t: &Trainset<'_>, threads: usize) -> Result<Ials, FitError> {
        self.fit_with(t, threads, Isa::current())
    }
}

impl IalsParams {
    fn fit_with(&self, t: &Trainset<'_>, threads: usize, isa: Isa) -> Result<Ials, FitError> {
        let p = self;
        p.check(t.n_items())?;
        let scale = (t.list().scale().min(), t.list().scale().max());
        let x = Interactions::new(t);
        let conf = |scores: &[f64]| -> (Vec<f32>, Vec<f32>) {
            scores.iter().map(|&s| p.confidence(s, scale)).map(|(c, cp)| (c as f32, cp as f32)).unzip()
        };
        let (user_conf, user_target) = conf(&x.user_scores);
        let (item_conf, item_target) = conf(&x.item_scores);
        let k = p.factors;
        let mut rng = RandomState::new(p.seed);
        let mut init = |n: usize| -> Vec<f32> { (0..n * k).map(|_| (rng.gauss() * p.init_std_dev) as f32).collect() };
        let mut users = init(x.n_users());
        let mut items = init(x.n_items());
        let lambda = p.regularization as f32;
        install(threads, || {
            for _ in 0..p.iterations {
                let by_user =
                    Rated { start: &x.user_start, index: &x.items, confidence: &user_conf, target: &user_target };
                solve_side(&mut users, &items, (k, lambda, p.cg_steps), by_user, (isa, p.simd));
                let by_item =
                    Rated { start: &x.item_start, index: &x.users, confidence: &item_conf, target: &item_target };
                solve_side(&mut items, &users, (k, lambda, p.cg_steps), by_item, (isa, p.simd));
            }
        });
        Ok(Ials::new(*p, scale, users, items))
    }
}

impl Ials {
    /// A fitted model from its parts (factors row-major, `params.factors` long each).
    pub fn new(params: IalsParams, scale: (f64, f64), user_factors: Vec<f32>, item_factors: Vec<f32>) -> Ials {
        let item_gram = gram(&item_factors, params.factors);
        let panels = Panels::new(&item_factors, params.factors, None);
        Ials { params, scale, user_factors, item_factors, item_gram, panels }
    }

    /// Movies.
    fn items(&self) -> usize {
        self.item_factors.len() / self.params.factors
    }

    /// A new user's factors from their ratings: the exact solve of the user's step, with the
    /// movies' factors held fixed.
    pub fn fold_in(&self, history: &[(u32, f64)]) -> Vec<f32> {
        let k = self.params.factors;
        let y = &self.item_factors;
        let mut a: Vec<f64> = self.item_gram.iter().map(|&v| f64::from(v)).collect();
        let mut b = vec![0.0f64; k];
        for row in 0..k {
            a[row * k + row] += self.params.regularization + 1e-9;
        }
        for &(i, s) in history {
            let (c, cp) = self.params.confidence(s, self.scale);
            let yi = &y[i as usize * k..(i as usize + 1) * k];
            for (row, &yr) in yi.iter().enumerate() {
                b[row] += cp * f64::from(yr);
                for (col, &yc) in yi.iter().enumerate().take(row + 1) {
                    a[row * k + col] += (c - 1.0) * f64::from(yr) * f64::from(yc);
                }
            }
        }
        solve_cholesky(&mut a, b, k).into_iter().map(|v| v as f32).collect()
    }
}

impl TopN for Ials {
    fn n_items(&self) -> usize {
        self.items()
    }

    fn scores(&self, user: Option<usize>, history: &[(u32, f64)], out: &mut [f64]) {
        let k = self.params.factors;
        let folded;
        let xu = match user {
            Some(u) => &self.user_factors[u * k..(u + 1) * k],
            None => {
                folded = self.fold_in(history);
                &folded
            }
        };
        for (o, yi) in out.iter_mut().zip(self.item_factors.chunks_exact(k)) {
            *o = f64::from(dot_in_order(xu, yi));
        }
    }

    /// As [`TopN::scores`] then the best unseen, in blocks ([`crate::models::base::scoring`]).
    fn rank(&self, user: Option<usize>, history: &[(u32, f64)], seen: &[u32], n: usize) -> Vec<(u32, f64)> {
        let none = Finish { user: None, clip: None };
        match user {
            Some(u) => scoring::top_unseen(&self.user_factors, &self.panels, &none, &[u], &|_| seen, n),
            None => scoring::top_unseen(&self.fold_in(history), &self.panels, &none, &[0], &|_| seen, n),
        }
        .pop()
        .unwrap_or_default()
    }

    fn rank_all<'s>(
        &self,
        users: &[usize],
        _history: &(dyn Fn(usize) -> &'s [(u32, f64)] + Sync),
        seen: &(dyn Fn(usize) -> &'s [u32] + Sync),
        n: usize,
    ) -> Vec<Vec<(u32, f64)>> {
        scoring::top_unseen(&self.user_factors, &self.panels, &Finish { user: None, clip: None }, users, seen, n)
    }

    fn similar(&self, i: usize, n: usize) -> Option<Vec<(u32, f64)>> {
        let k = self.params.factors;
        let norm = |v: &[f32]| f64::from(dot(v, v)).sqrt();
        let yi = &self.item_factors[i * k..(i + 1) * k];
        let ni = norm(yi);
        Some(top_unseen(self.items(), &[i as u32], n, |j| {
            let yj = &self.item_factors[j as usize * k..(j as usize + 1) * k];
            let d = ni * norm(yj);
            if d == 0.0 { 0.0 } else { f64::from(dot(yi, yj)) / d }
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::scale::RatingScale;
    use crate::data::synthetic::{SyntheticConfig, generate};
    use crate::models::base::simd::every_isa;

    fn small() -> crate::data::dataset::RatingList {
        generate(&SyntheticConfig { seed: 5, scale: 0.02, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap()
            .ratings
    }

    #[test]
    fn the_same_model_on_any_number_of_threads() {
        let l = small();
        let t = Trainset::new(&l);
        let p = IalsParams { factors: 12, iterations: 3, ..IalsParams::default() };
        let one = p.fit(&t, 1).unwrap();
        for threads in [2, 3, 8] {
            assert!(p.fit(&t, threads).unwrap() == one, "{threads} threads");
        }
    }

    /// The portable arithmetic gives the same model, bit for bit, on every instruction set
    /// and any number of threads; 20 factors, so that each row has a tail past its sixteen
    /// lanes.
    #[test]
    fn the_portable_solves_give_the_same_model_on_every_instruction_set() {
        let l = small();
        let t = Trainset::new(&l);
        let p = IalsParams { factors: 20, iterations: 3, ..IalsParams::default() };
        let baseline = p.fit_with(&t, 1, Isa::Baseline).unwrap();
        for isa in every_isa() {
            for threads in [1, 3] {
                assert!(p.fit_with(&t, threads, isa).unwrap() == baseline, "{isa:?}, {threads} threads");
            }
        }
    }

    /// The native arithmetic (fused multiply-adds where the CPU has them) differs from the
    /// portable one by rounding only: the same factors to a few parts in a thousand, and each
    /// the same bits on any number of threads.
    #[test]
    fn the_native_solves_give_nearly_the_portable_model() {
        let l = small();
        let t = Trainset::new(&l);
        let p = IalsParams { factors: 24, iterations: 3, ..IalsParams::default() };
        let portable = p.fit_with(&t, 2, Isa::Best).unwrap();
        let native = IalsParams { simd: Simd::Native, ..p };
        for isa in every_isa() {
            let fitted = native.fit_with(&t, 2, isa).unwrap();
            assert!(fitted == native.fit_with(&t, 1, isa).unwrap(), "{isa:?}");
            assert!(fitted == native.fit_with(&t, 3, isa).unwrap(), "{isa:?}");
            if ["avx512", "avx2+fma"].contains(&isa.name()) {
                assert!(fitted != portable, "{isa:?}: the fused path gave the portable bits");
            }
            let gap = |a: &[f32], b: &[f32]| {
                let norm = a.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
                a.iter().zip(b).map(|(x, y)| f64::from(x - y).powi(2)).sum::<f64>().sqrt() / norm
            };
            for (a, b) in
                [(&fitted.user_factors, &portable.user_factors), (&fitted.item_factors, &portable.item_factors)]
            {
                let g = gap(a, b);
                assert!(g < 1e-3, "{isa:?}: relative difference {g}");
            }
        }
    }

    /// The objective falls as the alternations go on: more iterations fit the ratings better;
    /// with a score-dependent preference too (its objective has those preferences).
    #[test]
    fn alternating_lowers_the_objective() {
        for preference in [0.0, 1.5] {
            lowers_the_objective(preference);
        }
    }

    fn lowers_the_objective(preference: f64) {
        let l = small();
        let t = Trainset::new(&l);
        let x = Interactions::new(&t);
        let objective = |m: &Ials| {
            let k = m.params.factors;
            let mut total = 0.0f64;
            let mut scores = vec![0.0; x.n_items()];
            for u in 0..x.n_users() {
                m.scores(Some(u), &[], &mut scores);
                let mut c = vec![1.0f64; x.n_items()];
                let mut pref = vec![0.0f64; x.n_items()];
                for (i, s) in x.user(u) {
                    c[i as usize] = 1.0 + m.params.alpha * m.params.weighting.weight(s, 0.0, 100.0);
                    pref[i as usize] = 1.0 + m.params.preference * (s - 50.0) / 50.0;
                }
                total += (0..x.n_items()).map(|i| c[i] * (pref[i] - scores[i]).powi(2)).sum::<f64>();
            }
            let reg = |v: &[f32]| v.iter().map(|&a| f64::from(a).powi(2)).sum::<f64>();
            let _ = k;
            total + m.params.regularization * (reg(&m.user_factors) + reg(&m.item_factors))
        };
        let p = IalsParams { factors: 8, preference, ..IalsParams::default() };
        let one = objective(&IalsParams { iterations: 1, ..p }.fit(&t, 2).unwrap());
        let five = objective(&IalsParams { iterations: 5, ..p }.fit(&t, 2).unwrap());
        assert!(five < one, "{five} vs {one}");
    }

    /// Folding in a fitted user's own ratings gives factors close to theirs.
    #[test]
    fn fold_in_recovers_a_fitted_user() {
        let l = small();
        let t = Trainset::new(&l);
        let m = IalsParams { factors: 8, iterations: 10, cg_steps: 8, ..IalsParams::default() }.fit(&t, 2).unwrap();
        let x = Interactions::new(&t);
        let u = (0..x.n_users()).max_by_key(|&u| x.user(u).len()).unwrap();
        let history: Vec<(u32, f64)> = x.user(u).collect();
        let seen: Vec<u32> = history.iter().map(|h| h.0).collect();
        let fitted = m.rank(Some(u), &history, &seen, 10);
        let folded = m.rank(None, &history, &seen, 10);
        let common = fitted.iter().filter(|(i, _)| folded.iter().any(|(j, _)| i == j)).count();
        assert!(common >= 7, "{fitted:?} vs {folded:?}");
    }

    #[test]
    fn bad_parameters_are_named() {
        let l = small();
        let t = Trainset::new(&l);
        let e = IalsParams { factors: 0, ..IalsParams::default() }.fit(&t, 1).unwrap_err();
        assert_eq!(e.to_string(), "invalid ials.factors 0: expected a whole number of 1 or more");
        let e = IalsParams { alpha: f64::NAN, ..IalsParams::default() }.fit(&t, 1).unwrap_err();
        assert!(e.to_string().starts_with("invalid ials.alpha NaN"));
        let e = IalsParams { preference: -1.0, ..IalsParams::default() }.fit(&t, 1).unwrap_err();
        assert_eq!(e.to_string(), "invalid ials.preference -1: expected a number of 0 or more");
    }

    /// A preference growing with the score: a top score asks for more than 1, the middle for
    /// 1, a low score for less (negative past 1); the model changes, and a new user who
    /// loved one movie and hated another is folded in towards the first.
    #[test]
    fn the_preference_follows_the_score() {
        let p = IalsParams { preference: 2.0, alpha: 1.0, weighting: Weighting::Binary, ..IalsParams::default() };
        let scale = (0.0, 100.0);
        assert_eq!(
            [p.confidence(100.0, scale), p.confidence(50.0, scale), p.confidence(0.0, scale)],
            [(2.0, 6.0), (2.0, 2.0), (2.0, -2.0)]
        );
        let plain = IalsParams { preference: 0.0, ..p };
        assert_eq!(plain.confidence(0.0, scale), (2.0, 2.0));
        let l = small();
        let t = Trainset::new(&l);
        let (a, b) = (plain.fit(&t, 1).unwrap(), p.fit(&t, 1).unwrap());
        assert!(a.item_factors != b.item_factors);
        // Only the sign of the disliked movie's pull differs between the two histories.
        let (loved, hated) = (0u32, 1u32);
        let both = b.fold_in(&[(loved, 100.0), (hated, 0.0)]);
        let liked_both = b.fold_in(&[(loved, 100.0), (hated, 100.0)]);
        let k = b.params.factors;
        let yh = &b.item_factors[k..2 * k];
        assert!(dot(&both, yh) < dot(&liked_both, yh), "hating a movie scores it lower");
        // The model file leaves a preference of 0 out, as files written before it.
        assert!(serde_json::to_value(plain).unwrap().get("preference").is_none());
        assert_eq!(serde_json::to_value(p).unwrap()["preference"], 2.0);
    }
}
