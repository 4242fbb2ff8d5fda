//! The baselines SVD is measured against: the global mean, and Surprise's `BaselineOnly`
//! (`baseline_only.py`, `optimize_baselines.pyx`), fitted by alternating least squares or by
//! stochastic gradient descent as `bsl_options` says, reproduced exactly. The biases also
//! feed the k-NN Baseline and the `pearson_baseline` similarity ([`crate::models::rating::knn`]).

use serde::{Deserialize, Serialize};

use crate::data::scale::RatingScale;
use crate::data::trainset::Trainset;
use crate::models::base::predictor::{Predictor, biased, predictor_fields};
use crate::models::base::{FitError, check};

/// How the biases are fitted (Surprise's `bsl_options['method']`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BaselineMethod {
    /// Alternating least squares: each epoch sets every movie bias, then every user bias, to
    /// its regularised mean residual.
    #[default]
    Als,
    /// Stochastic gradient descent over the ratings in `all_ratings` order.
    Sgd,
}

/// Surprise's `bsl_options`, with its names and defaults.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaselineParams {
    /// `als` (Surprise's default) or `sgd`.
    pub method: BaselineMethod,
    /// Passes; `null` for the method's default (10 for ALS, 20 for SGD).
    pub n_epochs: Option<usize>,
    /// ALS: regularisation of the user biases (15).
    pub reg_u: f64,
    /// ALS: regularisation of the movie biases (10).
    pub reg_i: f64,
    /// SGD: regularisation of both (0.02).
    pub reg: f64,
    /// SGD: the learning rate (0.005).
    pub learning_rate: f64,
}

impl Default for BaselineParams {
    fn default() -> BaselineParams {
        BaselineParams {
            method: BaselineMethod::Als,
            n_epochs: None,
            reg_u: 15.0,
            reg_i: 10.0,
            reg: 0.02,
            learning_rate: 0.005,
        }
    }
}

/// A fitted `BaselineOnly`: `μ + bᵤ + bᵢ`, unknown terms left out, clipped to the scale.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// The training set's mean.
    pub global_mean: f64,
    /// User biases by inner id.
    pub bu: Vec<f64>,
    /// Movie biases by inner id.
    pub bi: Vec<f64>,
    /// The clipping scale.
    pub scale: RatingScale,
}

impl BaselineParams {
    /// The passes this method makes.
    pub fn epochs(&self) -> usize {
        self.n_epochs.unwrap_or(match self.method {
            BaselineMethod::Als => 10,
            BaselineMethod::Sgd => 20,
        })
    }

    /// Checks the options.
    ///
    /// # Errors
    /// [`FitError::Invalid`] naming the option.
    pub fn check(&self) -> Result<(), FitError> {
        check("reg_u", self.reg_u, self.reg_u >= 0.0, "0 or more")?;
        check("reg_i", self.reg_i, self.reg_i >= 0.0, "0 or more")?;
        check("reg", self.reg, self.reg >= 0.0, "0 or more")?;
        check("learning_rate", self.learning_rate, self.learning_rate > 0.0, "more than 0")
    }

    /// Fits the biases as Surprise's `compute_baselines` does.
    pub fn fit(&self, t: &Trainset<'_>) -> Baseline {
        let (bu, bi) = self.biases(t);
        Baseline { global_mean: t.global_mean(), bu, bi, scale: t.list().scale() }
    }

    /// The user and movie biases (`baseline_als` or `baseline_sgd`).
    pub fn biases(&self, t: &Trainset<'_>) -> (Vec<f64>, Vec<f64>) {
        match self.method {
            BaselineMethod::Als => self.als(t),
            BaselineMethod::Sgd => self.sgd(t),
        }
    }

    /// ALS, summing in list order.
    fn als(&self, t: &Trainset<'_>) -> (Vec<f64>, Vec<f64>) {
        let mu = t.global_mean();
        let (ur, ir) = (t.ur(), t.ir());
        let mut bu = vec![0.0f64; t.n_users()];
        let mut bi = vec![0.0f64; t.n_items()];
        for _ in 0..self.epochs() {
            for (i, b) in bi.iter_mut().enumerate() {
                let (users, scores) = ir.row(i);
                let mut dev = 0.0;
                for (&u, &r) in users.iter().zip(scores) {
                    dev += r - mu - bu[u as usize];
                }
                *b = dev / (self.reg_i + users.len() as f64);
            }
            for (u, b) in bu.iter_mut().enumerate() {
                let (items, scores) = ur.row(u);
                let mut dev = 0.0;
                for (&i, &r) in items.iter().zip(scores) {
                    dev += r - mu - bi[i as usize];
                }
                *b = dev / (self.reg_u + items.len() as f64);
            }
        }
        (bu, bi)
    }

    /// SGD over `all_ratings`.
    fn sgd(&self, t: &Trainset<'_>) -> (Vec<f64>, Vec<f64>) {
        let mu = t.global_mean();
        let ratings: Vec<(usize, usize, f64)> = t.all_ratings().collect();
        let mut bu = vec![0.0f64; t.n_users()];
        let mut bi = vec![0.0f64; t.n_items()];
        let (lr, reg) = (self.learning_rate, self.reg);
        for _ in 0..self.epochs() {
            for &(u, i, r) in &ratings {
                let err = r - (mu + bu[u] + bi[i]);
                bu[u] += lr * (err - reg * bu[u]);
                bi[i] += lr * (err - reg * bi[i]);
            }
        }
        (bu, bi)
    }
}

impl Baseline {
    /// The clipped estimate for inner ids (`None` when unknown).
    pub fn estimate(&self, u: Option<usize>, i: Option<usize>) -> f64 {
        self.scale.clip(biased(self.global_mean, &self.bu, &self.bi, u, i))
    }
}

/// `BaselineOnly`'s one parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaselineOnlyParams {
    /// How the biases are fitted.
    pub bsl_options: BaselineParams,
}

impl Predictor for Baseline {
    predictor_fields!();

    fn estimate(&self, u: Option<usize>, i: Option<usize>) -> Option<f64> {
        Some(biased(self.global_mean, &self.bu, &self.bi, u, i))
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::RatingList;

    #[test]
    fn biases_shrink_towards_zero_with_few_ratings() {
        let mut l = RatingList::new(RatingScale::SEED);
        for (u, m, s) in [("a", "x", 90.0), ("b", "x", 80.0), ("a", "y", 10.0), ("c", "y", 20.0)] {
            l.push(u, m, s);
        }
        let t = Trainset::new(&l);
        let b = BaselineParams::default().fit(&t);
        assert_eq!(b.global_mean, 50.0);
        assert!(b.bi[0] > 0.0 && b.bi[0] < 35.0 && b.bi[1] < 0.0);
        assert_eq!(b.estimate(None, None), 50.0);
        assert!(b.estimate(Some(1), Some(0)) > 50.0);
    }
}
