//! Surprise's `CoClustering` (`co_clustering.pyx`, George and Merugu 2005), reproduced
//! exactly: users and movies are assigned to clusters, and
//! `r̂ᵤᵢ = C̄ᵤᵢ + (μᵤ − C̄ᵤ) + (μᵢ − C̄ᵢ)`, the means of the co-cluster, of the user and of
//! the movie, minus those of their clusters. Clusters start from numpy's `randint` draws
//! seeded by `seed` (users first); each epoch computes the averages, then moves every user
//! to the cluster of least squared error, then every movie.
//!
//! Surprise declares the scores C `int`s in this algorithm, so every score is truncated
//! toward zero (47.9 counts as 47) in the means, averages and errors; done the same here.
//! Unknown users or movies get the global mean.

use serde::{Deserialize, Serialize};

use crate::data::scale::RatingScale;
use crate::data::trainset::Trainset;
use crate::models::base::predictor::{Folded, Predictor, predictor_fields};
use crate::models::base::{FitError, check_count};
use crate::numpy::{self, RandomState};

/// CoClustering's parameters, with Surprise's names and defaults (`random_state` is `seed`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CoClusteringParams {
    /// User clusters (3).
    pub n_cltr_u: usize,
    /// Movie clusters (3).
    pub n_cltr_i: usize,
    /// Passes (20).
    pub n_epochs: usize,
    /// Seeds the initial clusters.
    pub seed: u32,
}

impl Default for CoClusteringParams {
    fn default() -> CoClusteringParams {
        CoClusteringParams { n_cltr_u: 3, n_cltr_i: 3, n_epochs: 20, seed: 0 }
    }
}

/// A fitted CoClustering.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CoClustering {
    /// The training set's mean.
    pub global_mean: f64,
    /// The clipping scale.
    pub scale: RatingScale,
    /// Each user's cluster.
    pub cltr_u: Vec<u32>,
    /// Each movie's cluster.
    pub cltr_i: Vec<u32>,
    /// Each user's mean (truncated) score.
    pub user_mean: Vec<f64>,
    /// Each movie's mean (truncated) score.
    pub item_mean: Vec<f64>,
    /// Each user cluster's mean score.
    pub avg_cltr_u: Vec<f64>,
    /// Each movie cluster's mean score.
    pub avg_cltr_i: Vec<f64>,
    /// Each co-cluster's mean score, user cluster-major.
    pub avg_cocltr: Vec<f64>,
}

struct Averages {
    u: Vec<f64>,
    i: Vec<f64>,
    co: Vec<f64>,
}

impl CoClusteringParams {
    /// Fits as Surprise's `CoClustering.fit`.
    ///
    /// # Errors
    /// [`FitError::Invalid`] for a count of 0 clusters.
    #[allow(clippy::needless_range_loop)] // a user's (movie's) index reads its ratings and means too
    pub fn fit(&self, t: &Trainset<'_>) -> Result<CoClustering, FitError> {
        check_count("n_cltr_u", self.n_cltr_u)?;
        check_count("n_cltr_i", self.n_cltr_i)?;
        for (name, v) in [("n_cltr_u", self.n_cltr_u), ("n_cltr_i", self.n_cltr_i)] {
            if v > u32::MAX as usize {
                return Err(FitError::Invalid { name, value: v.to_string(), expected: "at most 2^32 - 1" });
            }
        }
        let (n_users, n_items) = (t.n_users(), t.n_items());
        let (nu, ni) = (self.n_cltr_u, self.n_cltr_i);
        let mut rng = RandomState::new(self.seed);
        let mut cltr_u: Vec<u32> = (0..n_users).map(|_| rng.interval(nu as u32 - 1)).collect();
        let mut cltr_i: Vec<u32> = (0..n_items).map(|_| rng.interval(ni as u32 - 1)).collect();
        let (ur, ir) = (t.ur(), t.ir());
        let int = |r: f64| f64::from(r as i32);
        let mean_of = |s: &[f64]| numpy::mean(&s.iter().map(|&r| int(r)).collect::<Vec<_>>());
        let user_mean: Vec<f64> = (0..n_users).map(|u| mean_of(ur.scores(u))).collect();
        let item_mean: Vec<f64> = (0..n_items).map(|i| mean_of(ir.scores(i))).collect();
        let ratings: Vec<(usize, usize, i64)> = t.all_ratings().map(|(u, i, r)| (u, i, i64::from(r as i32))).collect();
        let gm = t.global_mean();
        let averages = |cu: &[u32], ci: &[u32]| {
            let (mut count_u, mut count_i, mut count_co) = (vec![0i64; nu], vec![0i64; ni], vec![0i64; nu * ni]);
            let (mut sum_u, mut sum_i, mut sum_co) = (vec![0i64; nu], vec![0i64; ni], vec![0i64; nu * ni]);
            for &(u, i, r) in &ratings {
                let (uc, ic) = (cu[u] as usize, ci[i] as usize);
                count_u[uc] += 1;
                count_i[ic] += 1;
                count_co[uc * ni + ic] += 1;
                sum_u[uc] += r;
                sum_i[ic] += r;
                sum_co[uc * ni + ic] += r;
            }
            let avg = |s: &[i64], c: &[i64]| -> Vec<f64> {
                s.iter().zip(c).map(|(&s, &c)| if c != 0 { s as f64 / c as f64 } else { gm }).collect()
            };
            Averages { u: avg(&sum_u, &count_u), i: avg(&sum_i, &count_i), co: avg(&sum_co, &count_co) }
        };
        let est = |a: &Averages, uc: usize, ic: usize, u: usize, i: usize| {
            a.co[uc * ni + ic] + user_mean[u] - a.u[uc] + item_mean[i] - a.i[ic]
        };
        let mut errors_u = vec![0.0f64; nu];
        let mut errors_i = vec![0.0f64; ni];
        for _ in 0..self.n_epochs {
            let a = averages(&cltr_u, &cltr_i);
            for u in 0..n_users {
                let (items, scores) = ur.row(u);
                for (uc, e) in errors_u.iter_mut().enumerate() {
                    *e = 0.0;
                    for (&i, &r) in items.iter().zip(scores) {
                        let i = i as usize;
                        let d = int(r) - est(&a, uc, cltr_i[i] as usize, u, i);
                        *e += d * d;
                    }
                }
                cltr_u[u] = argmin(&errors_u);
            }
            for i in 0..n_items {
                let (users, scores) = ir.row(i);
                for (ic, e) in errors_i.iter_mut().enumerate() {
                    *e = 0.0;
                    for (&u, &r) in users.iter().zip(scores) {
                        let u = u as usize;
                        let d = int(r) - est(&a, cltr_u[u] as usize, ic, u, i);
                        *e += d * d;
                    }
                }
                cltr_i[i] = argmin(&errors_i);
            }
        }
        let a = averages(&cltr_u, &cltr_i);
        Ok(CoClustering {
            global_mean: gm,
            scale: t.list().scale(),
            cltr_u,
            cltr_i,
            user_mean,
            item_mean,
            avg_cltr_u: a.u,
            avg_cltr_i: a.i,
            avg_cocltr: a.co,
        })
    }
}

/// numpy's `argmin`: the first of the smallest.
fn argmin(v: &[f64]) -> u32 {
    let mut best = 0;
    for (k, &x) in v.iter().enumerate() {
        if x < v[best] {
            best = k;
        }
    }
    best as u32
}

impl CoClustering {
    /// The estimate of movie `i` for a user of cluster `uc` whose mean score is `mean`.
    fn estimate_in(&self, uc: usize, mean: f64, i: usize) -> f64 {
        let ic = self.cltr_i[i] as usize;
        let ni = self.avg_cltr_i.len();
        self.avg_cocltr[uc * ni + ic] + mean - self.avg_cltr_u[uc] + self.item_mean[i] - self.avg_cltr_i[ic]
    }
}

impl Predictor for CoClustering {
    predictor_fields!();

    fn estimate(&self, u: Option<usize>, i: Option<usize>) -> Option<f64> {
        let (Some(u), Some(i)) = (u, i) else { return Some(self.global_mean) };
        Some(self.estimate_in(self.cltr_u[u] as usize, self.user_mean[u], i))
    }

    /// The user's mean (truncated) score, and the user cluster whose estimates of the
    /// user's ratings have the least squared error (the fit's assignment step, with the
    /// fitted averages); no ratings: the global mean for every movie.
    fn fold_in(&self, history: &[(u32, f64)], n_items: usize) -> Folded {
        if history.is_empty() {
            return Folded { estimates: vec![Some(self.global_mean); n_items], bias: None };
        }
        let int = |r: f64| f64::from(r as i32);
        let mean = numpy::mean(&history.iter().map(|&(_, r)| int(r)).collect::<Vec<_>>());
        let errors: Vec<f64> = (0..self.avg_cltr_u.len())
            .map(|uc| {
                history.iter().map(|&(i, r)| (int(r) - self.estimate_in(uc, mean, i as usize)).powi(2)).sum::<f64>()
            })
            .collect();
        let uc = argmin(&errors) as usize;
        Folded { estimates: (0..n_items).map(|i| Some(self.estimate_in(uc, mean, i))).collect(), bias: None }
    }
}
