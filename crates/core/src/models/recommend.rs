//! Recommending with a fitted SVD: the top N movies a user has not seen, a profile folded in
//! for a user the model has never seen, and the movies nearest a movie by their factors.
//!
//! All of it indexes movies by the model's inner ids and breaks ties toward the lower inner
//! id (the movie seen first in the training data), so a ranking is a pure function of the
//! model and the input.

use rayon::prelude::*;

use crate::data::dataset::RatingList;
use crate::models::rating::RatingModel;
use crate::models::svd::{Factors, SvdModel};

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

/// What each of a model's users has rated in `list`: (model movie index, score) pairs,
/// sorted by movie, each movie once (the last rating of a pair rated twice), by model user
/// index; users and movies the model does not know are left out.
pub fn histories(model: &RatingModel, list: &RatingList) -> Vec<Vec<(u32, f64)>> {
    let users: Vec<Option<u32>> = list.users().iter().map(|u| model.users().get(u)).collect();
    let items: Vec<Option<u32>> = list.movies().iter().map(|m| model.items().get(m)).collect();
    let mut seen: Vec<Vec<(u32, f64)>> = vec![Vec::new(); model.users().len()];
    for ((u, m), &s) in list.user().iter().zip(list.movie()).zip(list.score()) {
        if let (Some(u), Some(i)) = (users[u.get()], items[m.get()]) {
            seen[u as usize].push((i, s));
        }
    }
    seen.par_iter_mut().for_each(crate::models::keep_last_per_movie);
    seen
}

/// The movies of a history, sorted.
pub fn movies_of(history: &[(u32, f64)]) -> Vec<u32> {
    history.iter().map(|h| h.0).collect()
}

/// The `n` movies user `u` (inner id) has not seen with the highest predicted scores.
pub fn for_user(model: &SvdModel, u: usize, seen: &[u32], n: usize) -> Vec<(u32, f64)> {
    top_unseen(model.items.len(), seen, n, |i| model.estimate(Some(u), Some(i as usize)).est)
}

/// A user the model was not fitted on, described as a fitted user would be.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// The user's bias (0 for PMF).
    pub bias: f64,
    /// The user's factors.
    pub factors: Vec<f64>,
}

impl Profile {
    /// The predicted score of movie `i` (inner id), clipped to the scale: `μ + b + bᵢ + qᵢ·p`,
    /// or `qᵢ·p` for PMF.
    pub fn estimate(&self, model: &SvdModel, i: usize) -> f64 {
        let dot: f64 = match &model.factors {
            Factors::F64 { qi, .. } => {
                item_row(qi, i, model.n_factors()).iter().zip(&self.factors).map(|(q, p)| q * p).sum()
            }
            Factors::F32 { qi, .. } => {
                item_row(qi, i, model.n_factors()).iter().zip(&self.factors).map(|(&q, p)| f64::from(q) * p).sum()
            }
        };
        let est = if model.svd.biased { model.global_mean + self.bias + model.bi[i] + dot } else { dot };
        model.scale.clip(est)
    }
}

fn item_row<T>(qi: &[T], i: usize, k: usize) -> &[T] {
    &qi[i * k..(i + 1) * k]
}

fn item_vector(model: &SvdModel, i: usize) -> Vec<f64> {
    let k = model.n_factors();
    match &model.factors {
        Factors::F64 { qi, .. } => item_row(qi, i, k).to_vec(),
        Factors::F32 { qi, .. } => item_row(qi, i, k).iter().map(|&q| f64::from(q)).collect(),
    }
}

/// Folds in a new user from `ratings` ((inner movie id, score) pairs, each movie once): the
/// bias and factors that minimise SVD's objective for that user with every movie's bias and
/// factors held fixed,
///
/// `Σⱼ (rⱼ − μ − b − bⱼ − qⱼ·p)² + n·(reg_bu·b² + reg_pu·|p|²)`,
///
/// where `n` is the number of ratings: SGD regularises once per rating, so this is the
/// objective whose minimum the model's own users' fit approaches. For PMF, `b` is 0 and the
/// residual is `rⱼ − qⱼ·p`. A ridge regression of `k + 1` unknowns solved by Cholesky: a few
/// milliseconds, no retraining. No ratings give the zero profile (the movies' biases alone).
pub fn fold_in(model: &SvdModel, ratings: &[(u32, f64)]) -> Profile {
    let k = model.n_factors();
    let biased = model.svd.biased;
    let [reg_bu, _, reg_pu, _] = model.svd.reg;
    let rows = ratings.iter().map(|&(i, r)| {
        let i = i as usize;
        (item_vector(model, i), if biased { r - model.global_mean - model.bi[i] } else { r })
    });
    let (bias, factors) = ridge_profile(k, rows, ratings.len(), biased.then_some(reg_bu), reg_pu);
    Profile { bias, factors }
}

/// The bias (when `reg_b` is given; else 0) and the `k` factors minimising
/// `Σ (target − b − q·p)² + n·(reg_b·b² + reg_p·|p|²)` over `n` rows of (q, target): a new
/// user's profile against fixed movie factors. Cholesky on `k + 1` unknowns; no rows give
/// zeros.
pub(crate) fn ridge_profile(
    k: usize,
    rows: impl Iterator<Item = (Vec<f64>, f64)>,
    n: usize,
    reg_b: Option<f64>,
    reg_p: f64,
) -> (f64, Vec<f64>) {
    if n == 0 {
        return (0.0, vec![0.0; k]);
    }
    // Unknowns: [b, p₀ … pₖ₋₁] with a bias, else [p₀ … pₖ₋₁].
    let off = usize::from(reg_b.is_some());
    let d = k + off;
    let mut a = vec![0.0f64; d * d];
    let mut rhs = vec![0.0f64; d];
    let mut z = vec![0.0f64; d];
    for (q, target) in rows {
        if off == 1 {
            z[0] = 1.0;
        }
        z[off..].copy_from_slice(&q);
        for (row, &zr) in z.iter().enumerate() {
            rhs[row] += zr * target;
            for (col, &zc) in z.iter().enumerate().take(row + 1) {
                a[row * d + col] += zr * zc;
            }
        }
    }
    for row in 0..d {
        let reg = match reg_b {
            Some(reg_b) if row == 0 => reg_b,
            _ => reg_p,
        };
        // A tiny ridge keeps the system positive definite when the regularisation is 0.
        a[row * d + row] += n as f64 * reg + 1e-9;
    }
    let x = solve_cholesky(&mut a, rhs, d);
    if off == 1 { (x[0], x[1..].to_vec()) } else { (0.0, x) }
}

/// Solves `A x = b` for a symmetric positive definite `A` given by its lower triangle
/// (row-major `d × d`, overwritten by its Cholesky factor).
pub(crate) fn solve_cholesky(a: &mut [f64], mut b: Vec<f64>, d: usize) -> Vec<f64> {
    for j in 0..d {
        let mut diag = a[j * d + j];
        for m in 0..j {
            diag -= a[j * d + m] * a[j * d + m];
        }
        // Positive in exact arithmetic; the floor guards against rounding on a near-singular
        // system.
        let diag = diag.max(1e-12).sqrt();
        a[j * d + j] = diag;
        for row in j + 1..d {
            let mut v = a[row * d + j];
            for m in 0..j {
                v -= a[row * d + m] * a[j * d + m];
            }
            a[row * d + j] = v / diag;
        }
    }
    // L y = b, then Lᵀ x = y.
    for row in 0..d {
        let mut v = b[row];
        for m in 0..row {
            v -= a[row * d + m] * b[m];
        }
        b[row] = v / a[row * d + row];
    }
    for row in (0..d).rev() {
        let mut v = b[row];
        for m in row + 1..d {
            v -= a[m * d + row] * b[m];
        }
        b[row] = v / a[row * d + row];
    }
    b
}

/// The `n` movies nearest movie `i` (inner id) by the cosine similarity of their factors,
/// most similar first, without `i` itself; ties go to the lower inner id. A movie whose
/// factors are all zero has similarity 0 with every movie.
pub fn similar(model: &SvdModel, i: usize, n: usize) -> Vec<(u32, f64)> {
    let cos = cosines(model.items.len(), i, |j| item_vector(model, j));
    top_unseen(model.items.len(), &[i as u32], n, |j| cos[j as usize])
}

/// The cosine similarity of row `i` with each of `n` rows (0 where either is all zeros).
pub(crate) fn cosines(n: usize, i: usize, row: impl Fn(usize) -> Vec<f64>) -> Vec<f64> {
    let target = row(i);
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let target_norm = norm(&target);
    (0..n)
        .map(|j| {
            let v = row(j);
            let denom = target_norm * norm(&v);
            if denom == 0.0 { 0.0 } else { target.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>() / denom }
        })
        .collect()
}

/// Rows `i` of a row-major matrix of `k` columns.
pub(crate) fn row_of(m: &[f64], k: usize, i: usize) -> Vec<f64> {
    m[i * k..(i + 1) * k].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::scale::RatingScale;
    use crate::data::synthetic::{SyntheticConfig, generate};
    use crate::data::trainset::Trainset;
    use crate::models::svd::SvdParams;

    fn model(biased: bool) -> SvdModel {
        let data = generate(&SyntheticConfig { seed: 3, scale: 0.05, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        let svd = SvdParams { n_factors: 8, n_epochs: 10, biased, lr_all: 0.003, ..SvdParams::default() };
        let svd = if biased { svd } else { SvdParams { init_mean: 0.5, lr_all: 0.0005, ..svd } };
        svd.check().unwrap().fit_surprise(&Trainset::new(&data.ratings), |_| {}).unwrap()
    }

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

    /// The gradient of the fold-in objective at the solution is zero: the solver found the
    /// minimum of the objective the docs state.
    #[test]
    fn fold_in_minimises_its_objective() {
        for biased in [true, false] {
            let m = model(biased);
            let ratings = [(0u32, 80.0), (3, 20.0), (7, 65.0), (11, 40.0), (19, 90.0)];
            let p = fold_in(&m, &ratings);
            let n = ratings.len() as f64;
            let [reg_bu, _, reg_pu, _] = m.svd.reg;
            let k = m.n_factors();
            let mut grad_b = n * reg_bu * p.bias;
            let mut grad_p: Vec<f64> = p.factors.iter().map(|x| n * reg_pu * x).collect();
            for &(i, r) in &ratings {
                let q = item_vector(&m, i as usize);
                let dot: f64 = q.iter().zip(&p.factors).map(|(a, b)| a * b).sum();
                let est = if biased { m.global_mean + p.bias + m.bi[i as usize] + dot } else { dot };
                let err = r - est;
                grad_b -= err;
                for f in 0..k {
                    grad_p[f] -= err * q[f];
                }
            }
            let largest = grad_p.iter().fold(if biased { grad_b.abs() } else { 0.0 }, |a, g| a.max(g.abs()));
            assert!(largest < 1e-6, "biased {biased}: gradient {largest}");
            if !biased {
                assert_eq!(p.bias, 0.0);
            }
        }
    }

    /// Folding in a fitted user's own ratings predicts them better than the movies' biases
    /// alone, and ranks the user's unseen movies much as the fitted user's factors do.
    #[test]
    fn fold_in_recovers_a_fitted_users_taste() {
        let m = model(true);
        let data = generate(&SyntheticConfig { seed: 3, scale: 0.05, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        let t = Trainset::new(&data.ratings);
        let u = (0..t.n_users()).max_by_key(|&u| t.user_rows(u).len()).unwrap();
        let ratings: Vec<(u32, f64)> = t
            .user_rows(u)
            .iter()
            .map(|&r| (data.ratings.movie()[r as usize].0, data.ratings.score()[r as usize]))
            .collect();
        let p = fold_in(&m, &ratings);
        let zero = Profile { bias: 0.0, factors: vec![0.0; m.n_factors()] };
        let sse = |p: &Profile| ratings.iter().map(|&(i, r)| (r - p.estimate(&m, i as usize)).powi(2)).sum::<f64>();
        assert!(sse(&p) < 0.9 * sse(&zero), "{} vs {}", sse(&p), sse(&zero));
        let mut seen: Vec<u32> = ratings.iter().map(|r| r.0).collect();
        seen.sort_unstable();
        let fitted = for_user(&m, u, &seen, 10);
        let folded = top_unseen(m.items.len(), &seen, 10, |i| p.estimate(&m, i as usize));
        let common = fitted.iter().filter(|(i, _)| folded.iter().any(|(j, _)| i == j)).count();
        assert!(common >= 5, "{fitted:?} vs {folded:?}");
    }

    #[test]
    fn a_profile_with_the_fitted_factors_predicts_as_the_model() {
        let m = model(true);
        let Factors::F64 { pu, .. } = &m.factors else { panic!("surprise mode is f64") };
        let k = m.n_factors();
        let p = Profile { bias: m.bu[2], factors: pu[2 * k..3 * k].to_vec() };
        for i in 0..m.items.len() {
            assert!((p.estimate(&m, i) - m.estimate(Some(2), Some(i)).est).abs() < 1e-9);
        }
    }

    #[test]
    fn similar_movies_exclude_the_movie_and_are_ordered() {
        let m = model(true);
        let s = similar(&m, 4, 5);
        assert_eq!(s.len(), 5);
        assert!(s.iter().all(|&(j, c)| j != 4 && (-1.0 - 1e-12..=1.0 + 1e-12).contains(&c)));
        assert!(s.windows(2).all(|w| w[0].1 >= w[1].1));
        // The nearest by cosine, checked by brute force.
        let v = |j: usize| item_vector(&m, j);
        let cos = |a: &[f64], b: &[f64]| {
            let d: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
            d / (a.iter().map(|x| x * x).sum::<f64>().sqrt() * b.iter().map(|x| x * x).sum::<f64>().sqrt())
        };
        let best =
            (0..m.items.len()).filter(|&j| j != 4).max_by(|&a, &b| cos(&v(4), &v(a)).total_cmp(&cos(&v(4), &v(b))));
        assert_eq!(s[0].0 as usize, best.unwrap());
    }
}
