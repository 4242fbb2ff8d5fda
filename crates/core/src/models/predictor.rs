//! What every rating algorithm offers, Surprise's way: an estimate for a user and a movie
//! given by inner ids (`None` for one the training set does not know), or no estimate where
//! Surprise raises `PredictionImpossible`; [`Predictor::predict`] then falls back to the
//! global mean and clips to the rating scale, as Surprise's `AlgoBase.predict` does.
//!
//! [`Algorithm`] is the registration of Surprise's eleven algorithms: one variant per
//! algorithm, with its parameters under Surprise's names and defaults.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::data::scale::RatingScale;
use crate::data::trainset::Trainset;
use crate::models::FitError;
use crate::models::baseline::{Baseline, BaselineParams};
use crate::models::co_clustering::{CoClustering, CoClusteringParams};
use crate::models::knn::{Knn, KnnParams, KnnVariant};
use crate::models::nmf::{Nmf, NmfParams};
use crate::models::normal::{Normal, NormalParams};
use crate::models::recommend::{cosines, row_of};
use crate::models::slope_one::{SlopeOne, SlopeOneParams};
use crate::models::svd::{Factors, ParamError, Prediction, SvdModel, SvdParams};
use crate::models::svdpp::{Svdpp, SvdppParams};

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
        Algorithm::with_params(name, serde_json::Map::new()).ok()
    }

    /// The algorithm of this name with these parameters (Surprise's names; the others keep
    /// Surprise's defaults), as `params.yaml` gives them beside the name.
    ///
    /// # Errors
    /// An unknown name or parameter, or a value of the wrong type, named by serde.
    pub fn with_params(
        name: &str,
        mut params: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Algorithm, serde_json::Error> {
        params.insert("algorithm".to_owned(), serde_json::Value::String(name.to_owned()));
        serde_json::from_value(serde_json::Value::Object(params))
    }

    /// The parameters under Surprise's names, without the name: the inverse of
    /// [`Algorithm::with_params`].
    pub fn params(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("plain data");
        if let Some(map) = v.as_object_mut() {
            map.remove("algorithm");
        }
        v
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
            Algorithm::Svd(p) => Box::new(check_svd(p)?.fit_surprise(t, |_| {})?),
            Algorithm::Svdpp(p) => Box::new(p.fit(t)?),
            Algorithm::Nmf(p) => Box::new(p.fit(t)?),
            Algorithm::SlopeOne(p) => Box::new(p.fit(t, threads)?),
            Algorithm::CoClustering(p) => Box::new(p.fit(t)?),
        })
    }
}

impl Algorithm {
    /// The payload of a model this algorithm fitted, as the model file stores it: its fields
    /// under their names in MessagePack. `None` for SVD, which the file stores in a layout of
    /// its own, and for a model of another algorithm.
    pub fn save(&self, model: &dyn Predictor) -> Option<Vec<u8>> {
        fn encode<T: Serialize + 'static>(model: &dyn Predictor) -> Option<Vec<u8>> {
            rmp_serde::to_vec_named(model.as_any().downcast_ref::<T>()?).ok()
        }
        match self {
            Algorithm::NormalPredictor(_) => encode::<Normal>(model),
            Algorithm::BaselineOnly(_) => encode::<Baseline>(model),
            Algorithm::KnnBasic(_)
            | Algorithm::KnnWithMeans(_)
            | Algorithm::KnnWithZscore(_)
            | Algorithm::KnnBaseline(_) => encode::<Knn>(model),
            Algorithm::Svd(_) => None,
            Algorithm::Svdpp(_) => encode::<Svdpp>(model),
            Algorithm::Nmf(_) => encode::<Nmf>(model),
            Algorithm::SlopeOne(_) => encode::<SlopeOne>(model),
            Algorithm::CoClustering(_) => encode::<CoClustering>(model),
        }
    }

    /// Reads back a payload written by [`Algorithm::save`].
    ///
    /// # Errors
    /// What is wrong with the bytes.
    pub fn load(&self, bytes: &[u8]) -> Result<Arc<dyn Predictor>, String> {
        fn decode<T: DeserializeOwned + Predictor + 'static>(bytes: &[u8]) -> Result<Arc<dyn Predictor>, String> {
            rmp_serde::from_slice::<T>(bytes).map(|m| Arc::new(m) as Arc<dyn Predictor>).map_err(|e| e.to_string())
        }
        match self {
            Algorithm::NormalPredictor(_) => decode::<Normal>(bytes),
            Algorithm::BaselineOnly(_) => decode::<Baseline>(bytes),
            Algorithm::KnnBasic(_)
            | Algorithm::KnnWithMeans(_)
            | Algorithm::KnnWithZscore(_)
            | Algorithm::KnnBaseline(_) => decode::<Knn>(bytes),
            Algorithm::Svd(_) => Err("SVD has no payload of this kind".to_owned()),
            Algorithm::Svdpp(_) => decode::<Svdpp>(bytes),
            Algorithm::Nmf(_) => decode::<Nmf>(bytes),
            Algorithm::SlopeOne(_) => decode::<SlopeOne>(bytes),
            Algorithm::CoClustering(_) => decode::<CoClustering>(bytes),
        }
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
    /// The bias and factors that minimise SVD's objective for the user, the movies' held
    /// fixed ([`crate::models::recommend::fold_in`]).
    fn fold_in(&self, history: &[(u32, f64)], n_items: usize) -> Folded {
        let p = crate::models::recommend::fold_in(self, history);
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

/// SVD's parameters checked for the `surprise` mode (Surprise's algorithms fit SVD in it),
/// their errors as every algorithm's.
///
/// # Errors
/// [`FitError::Invalid`] naming the parameter.
pub(crate) fn check_svd(p: &SvdParams) -> Result<crate::models::svd::Svd, FitError> {
    let checked = p.check().and_then(|svd| svd.check_mode(crate::models::svd::TrainMode::Surprise).map(|()| svd));
    checked.map_err(|e| match e {
        ParamError::Zero { name, value } => FitError::Invalid { name, value: value.to_string(), expected: "1 or more" },
        ParamError::OutOfRange { name, value, expected } => {
            FitError::Invalid { name, value: value.to_string(), expected }
        }
        ParamError::FastOnly { name } => {
            FitError::Invalid { name, value: "true".to_owned(), expected: "false in the surprise mode" }
        }
    })
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
