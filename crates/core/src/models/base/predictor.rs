//! What every rating algorithm offers, Surprise's way: an estimate for a user and a movie
//! given by inner ids (`None` for one the training set does not know), or no estimate where
//! Surprise raises `PredictionImpossible`; [`Predictor::predict`] then falls back to the
//! global mean and clips to the rating scale, as Surprise's `AlgoBase.predict` does.

use crate::data::scale::RatingScale;
use crate::models::base::TrainMode;

/// A user the model was not fitted on, folded in from their ratings.
#[derive(Clone, Debug, PartialEq)]
pub struct Folded {
    /// Every movie's unclipped estimate (inner movie id order); `None` where impossible.
    pub estimates: Vec<Option<f64>>,
    /// The user's bias, for the algorithms that fold one in (SVD++; SVD and NMF when biased).
    pub bias: Option<f64>,
}

/// A fitted rating algorithm.
pub trait Predictor: Send + Sync + std::fmt::Debug {
    /// Surprise's `estimate` for inner ids: the unclipped estimate, or `None` where Surprise
    /// raises `PredictionImpossible`.
    fn estimate(&self, u: Option<usize>, i: Option<usize>) -> Option<f64>;

    /// The training set's mean: the estimate when none is possible.
    fn global_mean(&self) -> f64;

    /// The scale estimates are clipped to.
    fn scale(&self) -> RatingScale;

    /// The fitted model itself, for callers that need its parameters.
    fn as_any(&self) -> &dyn std::any::Any;

    /// Folds in a user the model was not fitted on from `history` (inner movie id, score;
    /// sorted by movie, each once), without refitting: every movie's estimate as `estimate`
    /// would give it had the user been fitted with these ratings and nothing else changed
    /// (each algorithm's docs say how). The default, for algorithms that learn nothing per
    /// user: Surprise's estimate for an unknown user.
    fn fold_in(&self, history: &[(u32, f64)], n_items: usize) -> Folded {
        let _ = history;
        Folded { estimates: (0..n_items).map(|i| self.estimate(None, Some(i))).collect(), bias: None }
    }

    /// The similarity of movie `i` with each of the `n_items` movies by what the model
    /// learnt (its own entry included), or `None` when it learns nothing about movies'
    /// likeness.
    fn item_similarities(&self, i: usize, n_items: usize) -> Option<Vec<f64>> {
        let _ = (i, n_items);
        None
    }

    /// The training mode it was fitted in, for the algorithms that have two.
    fn mode(&self) -> Option<TrainMode> {
        None
    }

    /// Its parameters as reports show them, when the fitted model says more than the
    /// parameters it was given (SVD's overrides resolved); `None`: the registry's.
    fn params(&self) -> Option<serde_json::Value> {
        None
    }

    /// The `n` movies with the highest predicted relevance of each of `users` (inner ids),
    /// not in `seen(u)`, best first, ties to the lower inner id, all at once as blocked
    /// matrix products; `None` where the model cannot (its movies are then scored one by
    /// one, as `predict` gives them).
    fn top_unseen_all<'s>(
        &self,
        users: &[usize],
        seen: &(dyn Fn(usize) -> &'s [u32] + Sync),
        n: usize,
    ) -> Option<Vec<Vec<(u32, f64)>>> {
        let _ = (users, seen, n);
        None
    }

    /// Surprise's `predict` for inner ids: the estimate, or the global mean when impossible,
    /// clipped to the scale.
    fn predict(&self, u: Option<usize>, i: Option<usize>) -> Prediction {
        let (est, was_impossible) = match self.estimate(u, i) {
            Some(est) => (est, false),
            None => (self.global_mean(), true),
        };
        Prediction { est: self.scale().clip(est), was_impossible, user_known: u.is_some(), item_known: i.is_some() }
    }
}
/// One prediction, as Surprise's `Prediction`, plus whether user and movie were known.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    /// The estimate, clipped to the rating scale.
    pub est: f64,
    /// Surprise's `was_impossible`: true only for PMF with an unknown user or movie.
    pub was_impossible: bool,
    /// Whether the user has ratings in the training set.
    pub user_known: bool,
    /// Whether the movie has ratings in the training set.
    pub item_known: bool,
}

/// Surprise's `μ + bᵤ + bᵢ`, each bias added when its user or movie is known, in that order.
pub(crate) fn biased(mu: f64, bu: &[f64], bi: &[f64], u: Option<usize>, i: Option<usize>) -> f64 {
    let mut est = mu;
    if let Some(u) = u {
        est += bu[u];
    }
    if let Some(i) = i {
        est += bi[i];
    }
    est
}

/// numpy's `np.std` of a float64 array (population): the square root of the pairwise mean
/// of the squared deviations from the pairwise mean.
pub(crate) fn np_std(values: &[f64]) -> f64 {
    let mean = crate::numpy::mean(values);
    let squared: Vec<f64> = values.iter().map(|&v| (v - mean) * (v - mean)).collect();
    (crate::numpy::pairwise_sum(&squared) / values.len() as f64).sqrt()
}

/// Replaces `values` by their z-scores: each one's distance from their mean in (population)
/// standard deviations, numpy's mean and [`np_std`]; all 0 when they are all equal. What a
/// blend of two orders puts on one scale (a re-ordered list's scores and relevances, an
/// ensemble's members).
pub(crate) fn standardise(values: &mut [f64]) {
    if values.is_empty() {
        return;
    }
    let (mean, sd) = (crate::numpy::mean(values), np_std(values));
    for v in values.iter_mut() {
        *v = if sd > 0.0 { (*v - mean) / sd } else { 0.0 };
    }
}

/// The three methods of [`Predictor`] every fitted model with the fields `global_mean` and
/// `scale` implements the same way (`as_any`: the model itself), written once: each model's
/// `impl Predictor` starts with `predictor_fields!();`.
macro_rules! predictor_fields {
    () => {
        fn global_mean(&self) -> f64 {
            self.global_mean
        }

        fn scale(&self) -> $crate::data::scale::RatingScale {
            self.scale
        }

        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    };
}
pub(crate) use predictor_fields;
