//! Surprise's k-NN algorithms (`knns.py`): `KNNBasic`, `KNNWithMeans`, `KNNWithZScore` and
//! `KNNBaseline`, user-based or item-based, on any of Surprise's similarity measures
//! ([`crate::models::rating::similarity`]).
//!
//! To estimate user `u`'s score of movie `i` (user-based; item-based swaps the roles), the
//! neighbours are the users who rated `i`, in list order; the `k` most similar are kept
//! (Surprise's `heapq.nlargest`: on equal similarity the earlier one), and those of positive
//! similarity are averaged, weighted by similarity: their scores (`KNNBasic`), their
//! deviations from their means (`KNNWithMeans`), their z-scores (`KNNWithZScore`) or their
//! deviations from their baselines (`KNNBaseline`). Fewer than `min_k` of them: no estimate
//! (`KNNBasic`) or none of the neighbours' part (the others). The sums run in Surprise's
//! order, so estimates are Surprise's.
//!
//! Memory: the similarities take `n (n − 1) / 2` doubles for `n` users (user-based) or movies
//! (item-based): 682 MiB for the seed's 13,373 users, 0.6 MiB for its 385 movies. Above
//! `max_size` users or movies the fit is refused with a message saying so (Surprise would
//! store five `n × n` arrays while fitting: 7 GiB for the seed's users).

use serde::{Deserialize, Serialize};

use crate::data::scale::RatingScale;
use crate::data::trainset::{Rows, Trainset};
use crate::models::base::predictor::{Folded, Predictor, biased, np_std, predictor_fields};
use crate::models::base::{FitError, check_count, install};
use crate::models::rating::baseline::BaselineParams;
use crate::models::rating::similarity::{self, Biases, Measure, SimOptions, Similarities};
use crate::numpy;

/// Which of the four k-NN algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KnnVariant {
    /// `KNNBasic`: the weighted mean of the neighbours' scores.
    Basic,
    /// `KNNWithMeans`: the mean plus the weighted mean of the neighbours' deviations.
    WithMeans,
    /// `KNNWithZScore`: the same on z-scores.
    WithZscore,
    /// `KNNBaseline`: the baseline plus the neighbours' deviations from theirs.
    Baseline,
}

/// The k-NN algorithms' parameters, with Surprise's names and defaults.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KnnParams {
    /// Neighbours at most (40).
    pub k: usize,
    /// Neighbours at least (1).
    pub min_k: usize,
    /// The similarity.
    pub sim_options: SimOptions,
    /// The baselines of `KNNBaseline` and of `pearson_baseline`.
    pub bsl_options: BaselineParams,
    /// The most users (user-based) or movies (item-based) whose similarities are stored;
    /// above, the fit is refused (10,000: 381 MiB).
    pub max_size: usize,
}

impl Default for KnnParams {
    fn default() -> KnnParams {
        KnnParams {
            k: 40,
            min_k: 1,
            sim_options: SimOptions::default(),
            bsl_options: BaselineParams::default(),
            max_size: 10_000,
        }
    }
}

/// A fitted k-NN algorithm.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Knn {
    /// Which algorithm.
    pub variant: KnnVariant,
    /// Neighbours at most.
    pub k: usize,
    /// Neighbours at least.
    pub min_k: usize,
    /// User-based or item-based.
    pub user_based: bool,
    /// The similarity's options (what folding in a new user computes, user-based).
    pub sim_options: SimOptions,
    /// The training set's mean.
    pub global_mean: f64,
    /// The clipping scale.
    pub scale: RatingScale,
    /// The ratings of each `y` (movies when user-based): the neighbours' candidates.
    pub yr: Rows,
    /// The similarities between `x`s (users when user-based).
    pub sim: Similarities,
    /// Each `x`'s mean score (`KNNWithMeans`, `KNNWithZScore`).
    pub means: Vec<f64>,
    /// Each `x`'s standard deviation, the overall one where it is 0 (`KNNWithZScore`).
    pub sigmas: Vec<f64>,
    /// User biases (`KNNBaseline`).
    pub bu: Vec<f64>,
    /// Movie biases (`KNNBaseline`).
    pub bi: Vec<f64>,
}

/// One k-NN estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct KnnEstimate {
    /// The unclipped estimate; `None` where Surprise raises `PredictionImpossible`.
    pub est: Option<f64>,
    /// The neighbours of positive similarity among the `k` kept (Surprise's `actual_k`).
    pub actual_k: usize,
}

impl KnnParams {
    /// Fits `variant` on `t`, the similarities on `threads` threads (0: the current pool).
    ///
    /// # Errors
    /// [`FitError::Invalid`] for a parameter out of range; [`FitError::TooLarge`] above
    /// `max_size`.
    pub fn fit(&self, variant: KnnVariant, t: &Trainset<'_>, threads: usize) -> Result<Knn, FitError> {
        check_count("k", self.k)?;
        crate::models::base::check(
            "sim_options.shrinkage",
            self.sim_options.shrinkage,
            self.sim_options.shrinkage >= 0.0,
            "0 or more",
        )?;
        self.bsl_options.check()?;
        let ub = self.sim_options.user_based;
        let n = if ub { t.n_users() } else { t.n_items() };
        if n > self.max_size {
            return Err(FitError::TooLarge {
                what: if ub { "user-based k-NN" } else { "item-based k-NN" },
                n,
                entities: if ub { "users" } else { "movies" },
                gib: Similarities::bytes(n) / f64::from(1u32 << 30),
                max: self.max_size,
                param: "max_size",
                advice: if ub {
                    "use item-based similarities (sim_options.user_based: false)"
                } else {
                    "use a factor model (svd, svdpp, nmf)"
                },
            });
        }
        // x: users when user-based, movies otherwise; y the other side. x's own ratings only
        // for the means.
        let yr = if ub { t.ir() } else { t.ur() };
        let x_rows = || if ub { t.ur() } else { t.ir() };
        let needs_biases = variant == KnnVariant::Baseline || self.sim_options.name == Measure::PearsonBaseline;
        let (bu, bi) = if needs_biases { self.bsl_options.biases(t) } else { (Vec::new(), Vec::new()) };
        let (means, sigmas) = match variant {
            KnnVariant::WithMeans => {
                let xr = x_rows();
                ((0..n).map(|x| numpy::mean(xr.scores(x))).collect(), Vec::new())
            }
            KnnVariant::WithZscore => {
                let xr = x_rows();
                let all: Vec<f64> = t.all_ratings().map(|e| e.2).collect();
                let overall = np_std(&all);
                let means = (0..n).map(|x| numpy::mean(xr.scores(x))).collect();
                let sigmas = (0..n)
                    .map(|x| {
                        let s = np_std(xr.scores(x));
                        if s == 0.0 { overall } else { s }
                    })
                    .collect();
                (means, sigmas)
            }
            _ => (Vec::new(), Vec::new()),
        };
        let biases = needs_biases.then(|| {
            let (x, y) = if ub { (&bu[..], &bi[..]) } else { (&bi[..], &bu[..]) };
            Biases { global_mean: t.global_mean(), x, y }
        });
        let sim = install(threads, || similarity::compute(&self.sim_options, n, yr, biases));
        // Kept for KNNBaseline's estimates and for pearson_baseline's similarities of a new user.
        let keep_biases = needs_biases;
        Ok(Knn {
            variant,
            k: self.k,
            min_k: self.min_k,
            user_based: ub,
            sim_options: self.sim_options,
            global_mean: t.global_mean(),
            scale: t.list().scale(),
            yr: yr.clone(),
            sim,
            means,
            sigmas,
            bu: if keep_biases { bu } else { Vec::new() },
            bi: if keep_biases { bi } else { Vec::new() },
        })
    }
}

impl Knn {
    /// Surprise's `estimate` with its `actual_k`.
    pub fn estimate_k(&self, u: Option<usize>, i: Option<usize>) -> KnnEstimate {
        let (Some(u), Some(i)) = (u, i) else {
            let est =
                (self.variant == KnnVariant::Baseline).then(|| biased(self.global_mean, &self.bu, &self.bi, u, i));
            return KnnEstimate { est, actual_k: 0 };
        };
        let (x, y) = if self.user_based { (u, i) } else { (i, u) };
        let (xs, rs) = self.yr.row(y);
        let own = match self.variant {
            KnnVariant::Basic => (0.0, 1.0),
            KnnVariant::WithMeans => (self.means[x], 1.0),
            KnnVariant::WithZscore => (self.means[x], self.sigmas[x]),
            KnnVariant::Baseline => (self.global_mean + self.bu[u] + self.bi[i], 1.0),
        };
        let y_bias = match self.variant {
            KnnVariant::Baseline if self.user_based => self.bi[i],
            KnnVariant::Baseline => self.bu[u],
            _ => 0.0,
        };
        self.combine(xs, rs, |x2| self.sim.get(x, x2), own, y_bias)
    }

    /// The estimate from the neighbours' ratings `xs`, `rs` (those of the same y), their
    /// similarity to x, x's own mean and deviation (or baseline, for KNNBaseline), and y's
    /// bias (KNNBaseline's neighbour baselines).
    fn combine(
        &self,
        xs: &[u32],
        rs: &[f64],
        sim: impl Fn(usize) -> f64,
        (own, own_scale): (f64, f64),
        y_bias: f64,
    ) -> KnnEstimate {
        // The k most similar, most similar first, the earlier of equals first.
        let mut nb: Vec<(f64, u32)> = xs.iter().enumerate().map(|(p, &x2)| (sim(x2 as usize), p as u32)).collect();
        let order = |a: &(f64, u32), b: &(f64, u32)| {
            b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal).then(a.1.cmp(&b.1))
        };
        if nb.len() > self.k {
            nb.select_nth_unstable_by(self.k - 1, order);
            nb.truncate(self.k);
        }
        nb.sort_unstable_by(order);
        let (mut sum_sim, mut sum_ratings, mut actual_k) = (0.0f64, 0.0f64, 0usize);
        let x_bias = if self.user_based { &self.bu } else { &self.bi };
        for &(sim, p) in &nb {
            if sim > 0.0 {
                let (x2, r) = (xs[p as usize] as usize, rs[p as usize]);
                sum_sim += sim;
                sum_ratings += match self.variant {
                    KnnVariant::Basic => sim * r,
                    KnnVariant::WithMeans => sim * (r - self.means[x2]),
                    KnnVariant::WithZscore => sim * (r - self.means[x2]) / self.sigmas[x2],
                    KnnVariant::Baseline => sim * (r - (self.global_mean + x_bias[x2] + y_bias)),
                };
                actual_k += 1;
            }
        }
        let est = match self.variant {
            KnnVariant::Basic => (actual_k >= self.min_k && sum_sim != 0.0).then(|| sum_ratings / sum_sim),
            _ => {
                let mut est = own;
                if actual_k < self.min_k {
                    sum_ratings = 0.0;
                }
                if sum_sim != 0.0 {
                    est += if self.variant == KnnVariant::WithZscore {
                        sum_ratings / sum_sim * own_scale
                    } else {
                        sum_ratings / sum_sim
                    };
                }
                Some(est)
            }
        };
        KnnEstimate { est, actual_k }
    }
}

impl Predictor for Knn {
    predictor_fields!();

    fn estimate(&self, u: Option<usize>, i: Option<usize>) -> Option<f64> {
        self.estimate_k(u, i).est
    }

    /// Item-based: the user's ratings are the neighbours, as a fitted user's are (the
    /// user's bias 0 for KNNBaseline). User-based: the user's similarity to every fitted
    /// user by the same measure over their common movies, and the mean and deviation of the
    /// user's scores.
    fn fold_in(&self, history: &[(u32, f64)], n_items: usize) -> Folded {
        let own_baseline =
            |i: usize| if self.variant == KnnVariant::Baseline { self.global_mean + self.bi[i] } else { 0.0 };
        let (items, scores): (Vec<u32>, Vec<f64>) = history.iter().copied().unzip();
        let estimates = if !self.user_based {
            (0..n_items)
                .map(|i| {
                    let own = match self.variant {
                        KnnVariant::WithMeans => (self.means[i], 1.0),
                        KnnVariant::WithZscore => (self.means[i], self.sigmas[i]),
                        _ => (own_baseline(i), 1.0),
                    };
                    self.combine(&items, &scores, |j| self.sim.get(i, j), own, 0.0).est
                })
                .collect()
        } else {
            let by_movie = self.yr.transpose(self.sim.n);
            let extended: Vec<f64> = self.bu.iter().copied().chain([0.0]).collect();
            let biases =
                (!self.bu.is_empty()).then(|| Biases { global_mean: self.global_mean, x: &extended, y: &self.bi });
            let sims = similarity::with_new(&self.sim_options, history, &by_movie, biases);
            let mean = if scores.is_empty() { self.global_mean } else { numpy::mean(&scores) };
            let sigma = match np_std(&scores) {
                s if s > 0.0 => s,
                _ => np_std(&self.yr.score),
            };
            (0..n_items)
                .map(|i| {
                    let own = match self.variant {
                        KnnVariant::WithMeans => (mean, 1.0),
                        KnnVariant::WithZscore => (mean, sigma),
                        _ => (own_baseline(i), 1.0),
                    };
                    let y_bias = if self.variant == KnnVariant::Baseline { self.bi[i] } else { 0.0 };
                    let (xs, rs) = self.yr.row(i);
                    self.combine(xs, rs, |v| sims[v], own, y_bias).est
                })
                .collect()
        };
        Folded { estimates, bias: None }
    }

    /// Item-based only: the similarities it computed.
    fn item_similarities(&self, i: usize, n_items: usize) -> Option<Vec<f64>> {
        (!self.user_based).then(|| (0..n_items).map(|j| if i == j { 1.0 } else { self.sim.get(i, j) }).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::RatingList;

    fn trainset_list() -> RatingList {
        let mut l = RatingList::new(RatingScale::new(1.0, 5.0).unwrap());
        for (u, m, s) in [
            ("a", "x", 1.0),
            ("a", "y", 2.0),
            ("b", "x", 2.0),
            ("b", "y", 4.0),
            ("c", "x", 5.0),
            ("c", "z", 3.0),
            ("d", "y", 5.0),
        ] {
            l.push(u, m, s);
        }
        l
    }

    #[test]
    fn basic_averages_the_positive_neighbours_and_counts_them() {
        let l = trainset_list();
        let t = Trainset::new(&l);
        let p = KnnParams {
            sim_options: SimOptions { name: Measure::Msd, ..SimOptions::default() },
            ..KnnParams::default()
        };
        let m = p.fit(KnnVariant::Basic, &t, 1).unwrap();
        // User a, movie z: only c rated z; a and c share x: msd 1 / (16 + 1).
        let e = m.estimate_k(Some(0), Some(2));
        assert_eq!(e.actual_k, 1);
        assert!((e.est.unwrap() - 3.0).abs() < 1e-12);
        // An unknown user: impossible for KNNBasic, the baseline for KNNBaseline.
        assert_eq!(m.estimate_k(None, Some(0)).est, None);
        let b = p.fit(KnnVariant::Baseline, &t, 1).unwrap();
        assert!(b.estimate_k(None, Some(0)).est.is_some());
        // k = 1 keeps only the most similar rater of x for user d.
        let one = KnnParams { k: 1, ..p }.fit(KnnVariant::Basic, &t, 1).unwrap();
        assert_eq!(one.estimate_k(Some(3), Some(0)).actual_k, 1);
    }

    #[test]
    fn refuses_similarities_above_max_size() {
        let l = trainset_list();
        let t = Trainset::new(&l);
        let err = KnnParams { max_size: 3, ..KnnParams::default() }.fit(KnnVariant::Basic, &t, 1).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("4 users") && message.contains("max_size is 3"), "{message}");
        assert!(
            KnnParams {
                max_size: 3,
                sim_options: SimOptions { user_based: false, ..SimOptions::default() },
                ..KnnParams::default()
            }
            .fit(KnnVariant::Basic, &t, 1)
            .is_ok()
        );
    }
}
