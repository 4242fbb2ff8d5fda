//! What every rating algorithm offers, Surprise's way: an estimate for a user and a movie
//! given by inner ids (`None` for one the training set does not know), or no estimate where
//! Surprise raises `PredictionImpossible`; [`Predictor::predict`] then falls back to the
//! global mean and clips to the rating scale, as Surprise's `AlgoBase.predict` does.
//!
//! [`Algorithm`] is the registration of Surprise's eleven algorithms: one variant per
//! algorithm, with its parameters under Surprise's names and defaults.

use serde::{Deserialize, Serialize};

use crate::data::scale::RatingScale;
use crate::data::trainset::Trainset;
use crate::models::FitError;
use crate::models::baseline::{Baseline, BaselineParams};
use crate::models::co_clustering::CoClusteringParams;
use crate::models::knn::{KnnParams, KnnVariant};
use crate::models::nmf::NmfParams;
use crate::models::normal::NormalParams;
use crate::models::slope_one::SlopeOneParams;
use crate::models::svd::{ParamError, Prediction, SvdModel, SvdParams};
use crate::models::svdpp::SvdppParams;

/// A fitted rating algorithm.
pub trait Predictor: Send + Sync {
    /// Surprise's `estimate` for inner ids: the unclipped estimate, or `None` where Surprise
    /// raises `PredictionImpossible`.
    fn estimate(&self, u: Option<usize>, i: Option<usize>) -> Option<f64>;

    /// The training set's mean: the estimate when none is possible.
    fn global_mean(&self) -> f64;

    /// The scale estimates are clipped to.
    fn scale(&self) -> RatingScale;

    /// The fitted model itself, for callers that need its parameters.
    fn as_any(&self) -> &dyn std::any::Any;

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

/// One of Surprise's prediction algorithms with its parameters, as `params.yaml` names it
/// (`algorithm: knn_baseline` beside the parameters).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "snake_case", deny_unknown_fields)]
pub enum Algorithm {
    /// `NormalPredictor`: a normal draw around the mean.
    NormalPredictor(NormalParams),
    /// `BaselineOnly`: `μ + bᵤ + bᵢ`.
    BaselineOnly(BaselineOnlyParams),
    /// `KNNBasic`.
    KnnBasic(KnnParams),
    /// `KNNWithMeans`.
    KnnWithMeans(KnnParams),
    /// `KNNWithZScore`.
    KnnWithZscore(KnnParams),
    /// `KNNBaseline`.
    KnnBaseline(KnnParams),
    /// `SVD` (and PMF, unbiased), trained in Surprise's exact mode.
    Svd(SvdParams),
    /// `SVDpp`: SVD with the implicit feedback of what each user rated.
    Svdpp(SvdppParams),
    /// `NMF`: non-negative factors.
    Nmf(NmfParams),
    /// `SlopeOne`.
    SlopeOne(SlopeOneParams),
    /// `CoClustering`.
    CoClustering(CoClusteringParams),
}

/// `BaselineOnly`'s one parameter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BaselineOnlyParams {
    /// How the biases are fitted.
    pub bsl_options: BaselineParams,
}

impl Algorithm {
    /// Every algorithm's name, in Surprise's order of its documentation.
    pub const NAMES: [&'static str; 11] = [
        "normal_predictor",
        "baseline_only",
        "knn_basic",
        "knn_with_means",
        "knn_with_zscore",
        "knn_baseline",
        "svd",
        "svdpp",
        "nmf",
        "slope_one",
        "co_clustering",
    ];

    /// The algorithm's name in `params.yaml` and reports.
    pub fn name(&self) -> &'static str {
        Self::NAMES[match self {
            Algorithm::NormalPredictor(_) => 0,
            Algorithm::BaselineOnly(_) => 1,
            Algorithm::KnnBasic(_) => 2,
            Algorithm::KnnWithMeans(_) => 3,
            Algorithm::KnnWithZscore(_) => 4,
            Algorithm::KnnBaseline(_) => 5,
            Algorithm::Svd(_) => 6,
            Algorithm::Svdpp(_) => 7,
            Algorithm::Nmf(_) => 8,
            Algorithm::SlopeOne(_) => 9,
            Algorithm::CoClustering(_) => 10,
        }]
    }

    /// The algorithm of this name with Surprise's defaults.
    pub fn default_of(name: &str) -> Option<Algorithm> {
        serde_json::from_value(serde_json::json!({ "algorithm": name })).ok()
    }

    /// Fits on `t` with `threads` threads for the parts that run in parallel (the k-NN
    /// similarities and SlopeOne's deviations; 0: the current rayon pool); the model is the
    /// same whatever the number of threads.
    ///
    /// # Errors
    /// [`FitError`] naming the parameter or the limit.
    pub fn fit(&self, t: &Trainset<'_>, threads: usize) -> Result<Box<dyn Predictor>, FitError> {
        Ok(match self {
            Algorithm::NormalPredictor(p) => Box::new(p.fit(t)),
            Algorithm::BaselineOnly(p) => {
                p.bsl_options.check()?;
                Box::new(p.bsl_options.fit(t))
            }
            Algorithm::KnnBasic(p) => Box::new(p.fit(KnnVariant::Basic, t, threads)?),
            Algorithm::KnnWithMeans(p) => Box::new(p.fit(KnnVariant::WithMeans, t, threads)?),
            Algorithm::KnnWithZscore(p) => Box::new(p.fit(KnnVariant::WithZscore, t, threads)?),
            Algorithm::KnnBaseline(p) => Box::new(p.fit(KnnVariant::Baseline, t, threads)?),
            Algorithm::Svd(p) => {
                let svd = p.check().map_err(|e| match e {
                    ParamError::Zero { name, value } => {
                        FitError::Invalid { name, value: value.to_string(), expected: "1 or more" }
                    }
                    ParamError::OutOfRange { name, value, expected } => {
                        FitError::Invalid { name, value: value.to_string(), expected }
                    }
                })?;
                Box::new(svd.fit_surprise(t, |_| {})?)
            }
            Algorithm::Svdpp(p) => Box::new(p.fit(t)?),
            Algorithm::Nmf(p) => Box::new(p.fit(t)?),
            Algorithm::SlopeOne(p) => Box::new(p.fit(t, threads)?),
            Algorithm::CoClustering(p) => Box::new(p.fit(t)?),
        })
    }
}

impl Predictor for Baseline {
    fn estimate(&self, u: Option<usize>, i: Option<usize>) -> Option<f64> {
        Some(biased(self.global_mean, &self.bu, &self.bi, u, i))
    }

    fn global_mean(&self) -> f64 {
        self.global_mean
    }

    fn scale(&self) -> RatingScale {
        self.scale
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

impl Predictor for SvdModel {
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

    fn global_mean(&self) -> f64 {
        self.global_mean
    }

    fn scale(&self) -> RatingScale {
        self.scale
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
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
