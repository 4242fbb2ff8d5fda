//! Recommending with a fitted SVD: a profile folded in for a user the model has never seen,
//! the top N movies of a fitted user, and the movies nearest a movie by their factors.

use crate::models::base::linalg::{cosines, ridge_profile, row_of};
use crate::models::base::predictor::{Folded, Predictor, biased, predictor_fields};
use crate::models::base::select::top_unseen;
use crate::models::rating::svd::{Factors, SvdModel, TrainMode};

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
/// The `n` movies nearest movie `i` (inner id) by the cosine similarity of their factors,
/// most similar first, without `i` itself; ties go to the lower inner id. A movie whose
/// factors are all zero has similarity 0 with every movie.
pub fn similar(model: &SvdModel, i: usize, n: usize) -> Vec<(u32, f64)> {
    let cos = cosines(model.items.len(), i, |j| item_vector(model, j));
    top_unseen(model.items.len(), &[i as u32], n, |j| cos[j as usize])
}
impl Predictor for SvdModel {
    predictor_fields!();

    fn mode(&self) -> Option<TrainMode> {
        Some(self.mode)
    }

    /// Surprise's names, every override resolved.
    fn params(&self) -> Option<serde_json::Value> {
        let svd = &self.svd;
        let [lr_bu, lr_bi, lr_pu, lr_qi] = svd.lr;
        let [reg_bu, reg_bi, reg_pu, reg_qi] = svd.reg;
        Some(serde_json::json!({
            "n_factors": svd.n_factors, "n_epochs": svd.n_epochs, "biased": svd.biased,
            "init_mean": svd.init_mean, "init_std_dev": svd.init_std_dev,
            "lr_bu": lr_bu, "lr_bi": lr_bi, "lr_pu": lr_pu, "lr_qi": lr_qi,
            "reg_bu": reg_bu, "reg_bi": reg_bi, "reg_pu": reg_pu, "reg_qi": reg_qi,
            "seed": svd.seed, "adagrad": svd.adagrad, "simd": svd.simd,
        }))
    }

    /// The fast mode's single-precision factors, scored in blocks
    /// ([`SvdModel::top_unseen_all`]).
    fn top_unseen_all<'s>(
        &self,
        users: &[usize],
        seen: &(dyn Fn(usize) -> &'s [u32] + Sync),
        n: usize,
    ) -> Option<Vec<Vec<(u32, f64)>>> {
        SvdModel::top_unseen_all(self, users, seen, n)
    }

    /// The bias and factors that minimise SVD's objective for the user, the movies' held
    /// fixed ([`fold_in`]).
    fn fold_in(&self, history: &[(u32, f64)], n_items: usize) -> Folded {
        let p = fold_in(self, history);
        Folded {
            estimates: (0..n_items).map(|i| Some(p.estimate(self, i))).collect(),
            bias: self.svd.biased.then_some(p.bias),
        }
    }

    /// The cosine of the movies' factors.
    fn item_similarities(&self, i: usize, n_items: usize) -> Option<Vec<f64>> {
        let k = self.n_factors();
        Some(match &self.factors {
            Factors::F64 { qi, .. } => cosines(n_items, i, |j| row_of(qi, k, j)),
            Factors::F32 { qi, .. } => {
                cosines(n_items, i, |j| qi[j * k..(j + 1) * k].iter().map(|&q| f64::from(q)).collect())
            }
        })
    }

    fn estimate(&self, u: Option<usize>, i: Option<usize>) -> Option<f64> {
        if self.svd.biased {
            let mut est = biased(self.global_mean, &self.bu, &self.bi, u, i);
            if let (Some(u), Some(i)) = (u, i) {
                est += self.dot(u, i);
            }
            Some(est)
        } else {
            Some(self.dot(u?, i?))
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::scale::RatingScale;
    use crate::data::synthetic::{SyntheticConfig, generate};
    use crate::data::trainset::Trainset;
    use crate::models::rating::svd::SvdParams;

    fn model(biased: bool) -> SvdModel {
        let data = generate(&SyntheticConfig { seed: 3, scale: 0.05, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        let svd = SvdParams { n_factors: 8, n_epochs: 10, biased, lr_all: 0.003, ..SvdParams::default() };
        let svd = if biased { svd } else { SvdParams { init_mean: 0.5, lr_all: 0.0005, ..svd } };
        svd.check().unwrap().fit_surprise(&Trainset::new(&data.ratings), |_| {}).unwrap()
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
