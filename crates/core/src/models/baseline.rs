//! The baselines SVD is measured against: the global mean, and Surprise's `BaselineOnly`
//! fitted by alternating least squares (`optimize_baselines.pyx`), reproduced exactly.

use serde::{Deserialize, Serialize};

use crate::data::scale::RatingScale;
use crate::data::trainset::Trainset;

/// `BaselineOnly`'s options for its ALS method, with Surprise's defaults.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaselineParams {
    /// Passes (Surprise's default 10).
    pub n_epochs: usize,
    /// Regularisation of the user biases (15).
    pub reg_u: f64,
    /// Regularisation of the movie biases (10).
    pub reg_i: f64,
}

impl Default for BaselineParams {
    fn default() -> BaselineParams {
        BaselineParams { n_epochs: 10, reg_u: 15.0, reg_i: 10.0 }
    }
}

/// A fitted `BaselineOnly`: `μ + bᵤ + bᵢ`, unknown terms left out, clipped to the scale.
#[derive(Clone, Debug, PartialEq)]
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
    /// Fits by ALS, as Surprise: each epoch sets every movie bias, then every user bias, to
    /// its regularised mean residual, summing in list order.
    pub fn fit(&self, t: &Trainset<'_>) -> Baseline {
        let mu = t.global_mean();
        let list = t.list();
        let ir = t.item_ratings();
        let mut bu = vec![0.0f64; t.n_users()];
        let mut bi = vec![0.0f64; t.n_items()];
        for _ in 0..self.n_epochs {
            for (i, ratings) in ir.iter().enumerate() {
                let mut dev = 0.0;
                for &(u, r) in ratings {
                    dev += r - mu - bu[u as usize];
                }
                bi[i] = dev / (self.reg_i + ratings.len() as f64);
            }
            for (u, b) in bu.iter_mut().enumerate() {
                let rows = t.user_rows(u);
                let mut dev = 0.0;
                for &row in rows {
                    let row = row as usize;
                    dev += list.score()[row] - mu - bi[list.movie()[row].get()];
                }
                *b = dev / (self.reg_u + rows.len() as f64);
            }
        }
        Baseline { global_mean: mu, bu, bi, scale: list.scale() }
    }
}

impl Baseline {
    /// The clipped estimate for inner ids (`None` when unknown).
    pub fn estimate(&self, u: Option<usize>, i: Option<usize>) -> f64 {
        let mut est = self.global_mean;
        if let Some(u) = u {
            est += self.bu[u];
        }
        if let Some(i) = i {
            est += self.bi[i];
        }
        self.scale.clip(est)
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
