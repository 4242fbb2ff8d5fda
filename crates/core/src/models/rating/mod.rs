//! The rating algorithms: what predicts the relevance score a user would give a movie, the
//! score every recommendation shows. Each of Surprise's eleven algorithms is a module holding
//! its parameters, its fitted model (a [`Predictor`]), its fold-in and what the model file
//! stores of it; [`Algorithm`] registers them, one variant per algorithm, with its parameters
//! under Surprise's names and defaults; [`model::RatingModel`] is a fitted one, whichever it is.

pub mod baseline;
pub mod co_clustering;
pub mod knn;
pub mod model;
pub mod nmf;
pub mod normal;
pub mod similarity;
pub mod slope_one;
pub mod svd;
pub mod svdpp;

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::data::trainset::Trainset;
use crate::models::base::predictor::Predictor;
use crate::models::base::{FitError, TrainMode, Unsettable};
use crate::models::rating::baseline::{Baseline, BaselineOnlyParams};
use crate::models::rating::co_clustering::{CoClustering, CoClusteringParams};
use crate::models::rating::knn::{Knn, KnnParams, KnnVariant};
use crate::models::rating::nmf::{Nmf, NmfParams};
use crate::models::rating::normal::{Normal, NormalParams};
use crate::models::rating::slope_one::{SlopeOne, SlopeOneParams};
use crate::models::rating::svd::{Epoch, SvdModel, SvdParams, check_svd};
use crate::models::rating::svdpp::{Svdpp, SvdppParams};

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

impl Algorithm {
    /// SVD's name.
    pub const SVD: &'static str = "svd";

    /// Every algorithm's name, in Surprise's order of its documentation.
    pub const NAMES: [&'static str; 11] = [
        "normal_predictor",
        "baseline_only",
        "knn_basic",
        "knn_with_means",
        "knn_with_zscore",
        "knn_baseline",
        Self::SVD,
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
    /// similarities and SlopeOne's deviations, 0: the current rayon pool; SVD's `fast` fit,
    /// which runs threads of its own, 0: as many as the data keeps busy); the model is the
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
            Algorithm::Svd(p) => Box::new(check_svd(p)?.fit(p.mode, threads, t, |_| {})?),
            Algorithm::Svdpp(p) => Box::new(p.fit(t)?),
            Algorithm::Nmf(p) => Box::new(p.fit(t)?),
            Algorithm::SlopeOne(p) => Box::new(p.fit(t, threads)?),
            Algorithm::CoClustering(p) => Box::new(p.fit(t)?),
        })
    }
}

impl Algorithm {
    /// The payload of a model this algorithm fitted, as the model file stores it: its fields
    /// under their names in MessagePack, or for SVD its biases and factors as the file's own
    /// layout has them; `None` for a model of another algorithm.
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
            // Its model file's own layout; the header holds its parameters and mode.
            Algorithm::Svd(_) => model.as_any().downcast_ref::<SvdModel>().map(SvdModel::payload),
            Algorithm::Svdpp(_) => encode::<Svdpp>(model),
            Algorithm::Nmf(_) => encode::<Nmf>(model),
            Algorithm::SlopeOne(_) => encode::<SlopeOne>(model),
            Algorithm::CoClustering(_) => encode::<CoClustering>(model),
        }
    }

    /// The training mode its parameters choose, for the algorithms that have two.
    pub fn mode(&self) -> Option<TrainMode> {
        match self {
            Algorithm::Svd(p) => Some(p.mode),
            Algorithm::Svdpp(p) => Some(p.mode),
            _ => None,
        }
    }

    /// The threads a fit with a budget of `budget` threads (0: every core) runs on, for
    /// `n_ratings` training ratings, as reports record it: the algorithm's own policy where
    /// it has one (SVD: [`SvdParams::threads`]), else the budget.
    pub fn threads(&self, budget: usize, n_ratings: usize) -> usize {
        match self {
            Algorithm::Svd(p) => p.threads(budget, n_ratings),
            _ if budget == 0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            _ => budget,
        }
    }

    /// Whether a fit runs on one thread whatever it is given (SVD in the `surprise` mode).
    pub fn one_thread(&self) -> bool {
        matches!(self, Algorithm::Svd(p) if p.mode == TrainMode::Surprise)
    }

    /// The `threads` to fit with as one task of a search that runs many fits in parallel on a
    /// rayon pool: 1 for an algorithm that runs threads of its own (SVD), so that the tasks
    /// do not oversubscribe the cores; 0, the search's pool, for the others.
    pub fn task_threads(&self) -> usize {
        match self {
            Algorithm::Svd(_) => 1,
            _ => 0,
        }
    }

    /// The parameters a search sets from a space of numbers (a grid or random draws,
    /// `optimize.space`); empty for the algorithms searched by Surprise's `param_grid`.
    pub fn searchable(&self) -> &'static [&'static str] {
        match self {
            Algorithm::Svd(_) => &svd::SEARCHABLE,
            _ => &[],
        }
    }

    /// Checks parameters a search set ([`Algorithm::set`]) before any fit, in the
    /// algorithm's own terms.
    ///
    /// # Errors
    /// The first parameter out of range, also for the training mode.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Algorithm::Svd(p) => p.check().and_then(|svd| svd.check_mode(p.mode)).map_err(|e| e.to_string()),
            _ => Ok(()),
        }
    }

    /// Sets the searched parameter `name`, one of [`Algorithm::searchable`], to `v`.
    ///
    /// # Errors
    /// [`Unsettable`] for another name or a value the parameter does not take.
    pub fn set(&mut self, name: &str, v: f64) -> Result<(), Unsettable> {
        match self {
            Algorithm::Svd(p) => p.set(name, v),
            _ => Err(Unsettable::Unknown),
        }
    }

    /// The epochs of an algorithm fitted epoch by epoch where an epoch does not depend on
    /// how many follow (SVD): one fit with the most epochs then serves every smaller number
    /// ([`Algorithm::fit_by_epoch`]), and reports each epoch's training loss; `None` for the
    /// others.
    pub fn epochs(&self) -> Option<usize> {
        match self {
            Algorithm::Svd(p) => Some(p.n_epochs),
            _ => None,
        }
    }

    /// This algorithm with `n` epochs, for one that has them ([`Algorithm::epochs`]); else
    /// itself.
    pub fn with_epochs(&self, n: usize) -> Algorithm {
        match self {
            Algorithm::Svd(p) => Algorithm::Svd(SvdParams { n_epochs: n, ..*p }),
            other => other.clone(),
        }
    }

    /// [`Algorithm::fit`], calling `on_epoch` as each epoch ends with what it reports and a
    /// way to build the model as it is then: the same model, bit for bit, as a fit with that
    /// many epochs. Never called for an algorithm without [`Algorithm::epochs`].
    ///
    /// # Errors
    /// [`FitError`] naming the parameter or the limit, or the epoch that diverged.
    pub fn fit_by_epoch(
        &self,
        t: &Trainset<'_>,
        threads: usize,
        mut on_epoch: impl FnMut(Epoch, &dyn Fn() -> Box<dyn Predictor>),
    ) -> Result<Box<dyn Predictor>, FitError> {
        match self {
            Algorithm::Svd(p) => {
                let fitted = check_svd(p)?.fit_with(p.mode, threads, t, |progress| {
                    on_epoch(progress.epoch, &|| Box::new(progress.model()))
                })?;
                Ok(Box::new(fitted))
            }
            other => other.fit(t, threads),
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
