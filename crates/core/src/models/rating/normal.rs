//! Surprise's `NormalPredictor` (`random_pred.py`): a draw from the normal distribution
//! whose mean and standard deviation are the training set's, computed as Surprise does (the
//! standard deviation from Python's sequential sum of the squared deviations). Surprise draws
//! from numpy's global generator; here the draws come from [`RandomState`] seeded by `seed`,
//! one per prediction, in the order predictions are asked for.

use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use crate::data::scale::RatingScale;
use crate::data::trainset::Trainset;
use crate::models::base::predictor::{Predictor, predictor_fields};
use crate::numpy::RandomState;

/// `NormalPredictor`'s parameters: only the seed of its draws.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NormalParams {
    /// Seeds the draws (numpy's `np.random.seed` before Surprise's `test`).
    pub seed: u32,
}

/// A fitted `NormalPredictor`. Stored without its generator: a model read back draws from
/// `seed` again.
#[derive(Debug, Serialize, Deserialize)]
#[serde(from = "Stored", into = "Stored")]
pub struct Normal {
    /// The training set's mean.
    pub global_mean: f64,
    /// `√(Σ (r − μ)² / n)`, summed in `all_ratings` order.
    pub sigma: f64,
    /// The clipping scale.
    pub scale: RatingScale,
    /// The seed the draws started from.
    pub seed: u32,
    rng: Mutex<RandomState>,
}

impl Clone for Normal {
    fn clone(&self) -> Normal {
        Normal {
            global_mean: self.global_mean,
            sigma: self.sigma,
            scale: self.scale,
            seed: self.seed,
            rng: Mutex::new(self.rng.lock().unwrap_or_else(|e| e.into_inner()).clone()),
        }
    }
}

/// What the model file keeps of a [`Normal`].
#[derive(Clone, Serialize, Deserialize)]
struct Stored {
    global_mean: f64,
    sigma: f64,
    scale: RatingScale,
    seed: u32,
}

impl From<Stored> for Normal {
    fn from(s: Stored) -> Normal {
        Normal {
            global_mean: s.global_mean,
            sigma: s.sigma,
            scale: s.scale,
            seed: s.seed,
            rng: Mutex::new(RandomState::new(s.seed)),
        }
    }
}

impl From<Normal> for Stored {
    fn from(n: Normal) -> Stored {
        Stored { global_mean: n.global_mean, sigma: n.sigma, scale: n.scale, seed: n.seed }
    }
}

impl NormalParams {
    /// Fits the mean and standard deviation.
    pub fn fit(&self, t: &Trainset<'_>) -> Normal {
        let mu = t.global_mean();
        let mut num = 0.0;
        for (_, _, r) in t.all_ratings() {
            num += (r - mu) * (r - mu);
        }
        let sigma = (num / t.n_ratings() as f64).sqrt();
        Normal {
            global_mean: mu,
            sigma,
            scale: t.list().scale(),
            seed: self.seed,
            rng: Mutex::new(RandomState::new(self.seed)),
        }
    }
}

impl Predictor for Normal {
    predictor_fields!();

    fn estimate(&self, _: Option<usize>, _: Option<usize>) -> Option<f64> {
        Some(self.rng.lock().unwrap_or_else(|e| e.into_inner()).normal(self.global_mean, self.sigma))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::RatingList;

    #[test]
    fn draws_around_the_mean_with_the_population_deviation() {
        let mut l = RatingList::new(RatingScale::SEED);
        for (u, m, s) in [("a", "x", 40.0), ("b", "x", 60.0), ("a", "y", 40.0), ("c", "y", 60.0)] {
            l.push(u, m, s);
        }
        let model = NormalParams { seed: 3 }.fit(&Trainset::new(&l));
        assert_eq!((model.global_mean, model.sigma), (50.0, 10.0));
        let mut rng = RandomState::new(3);
        for _ in 0..5 {
            assert_eq!(model.estimate(None, Some(0)), Some(rng.normal(50.0, 10.0)));
        }
    }
}
