//! The typed contents of `params.yaml`: one section per stage, each named after the stage.
//! Unknown keys are errors, so a misspelt parameter never falls back to a default silently.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;
use movierec_core::data::builder::{DuplicatePolicy, InvalidPolicy};
use movierec_core::data::seed_csv::Delimiter;
use movierec_core::data::split::SplitStrategy;
use movierec_core::data::synthetic::SyntheticConfig;
pub use movierec_core::evaluation::search::Measure;
use movierec_core::models::RankingParams;
use movierec_core::models::ranking::ease::EaseParams;
use movierec_core::models::ranking::ensemble::EnsembleParams;
use movierec_core::models::ranking::ials::IalsParams;
use movierec_core::models::ranking::rp3beta::Rp3betaParams;
use movierec_core::models::rating::Algorithm;
use movierec_core::models::rating::baseline::BaselineParams;
use movierec_core::models::rating::svd::{SvdParams, TrainMode};
use movierec_core::quote::cut_backticked;
use movierec_core::{ColumnMap, RatingScale};
use serde::{Deserialize, Serialize};

/// The whole parameters file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Params {
    /// The `load` stage.
    #[serde(default)]
    pub load: LoadParams,
    /// The `prepare` stage.
    #[serde(default)]
    pub prepare: PrepareParams,
    /// The `train` stage.
    #[serde(default)]
    pub train: TrainParams,
    /// The `evaluate` stage.
    #[serde(default)]
    pub evaluate: EvaluateParams,
    /// The `optimize` stage.
    #[serde(default)]
    pub optimize: OptimizeParams,
    /// The `predict` stage.
    #[serde(default)]
    pub predict: PredictParams,
    /// MLflow tracking of `train`, `evaluate` and `optimize` (no stage's outputs depend on it).
    #[serde(default)]
    pub tracking: TrackingParams,
}

impl Params {
    /// Reads and checks the parameters file at `path`.
    ///
    /// # Errors
    /// If the file cannot be read, is not YAML, or has an unknown key or a value of the wrong
    /// type; the message names the file and the key.
    pub fn from_file(path: &Path) -> anyhow::Result<Params> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read parameters file {}", path.display()))?;
        serde_yaml::from_str(&text).map_err(|e| {
            // serde_yaml quotes the offending value whole: cut it, keep what was expected and
            // where.
            let message = e.to_string();
            match e.location() {
                Some(at) => {
                    let suffix = format!(" at line {} column {}", at.line(), at.column());
                    let message = message.strip_suffix(&suffix).unwrap_or(&message);
                    anyhow::anyhow!(
                        "invalid parameters file {}: line {}, column {}: {}",
                        path.display(),
                        at.line(),
                        at.column(),
                        cut_backticked(message)
                    )
                }
                None => anyhow::anyhow!("invalid parameters file {}: {}", path.display(), cut_backticked(&message)),
            }
        })
    }
}

/// Which kind of source `load` reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceKind {
    /// The embedded generator (the default: a fresh clone runs with no download).
    #[default]
    Synthetic,
    /// A CSV file in the seed's schema.
    Csv,
    /// A MovieLens folder (ml-100k, ml-latest, 25M, 32M).
    Movielens,
}

/// The `load` section.
///
/// | Name | Default | Purpose |
/// |---|---|---|
/// | `source` | `synthetic` | `synthetic`, `csv` or `movielens` |
/// | `rating_scale` | `{min: 0, max: 100}` | valid scores; travels with the data |
/// | `on_invalid` | `reject` | `reject` (drop, count, list) or `fail` |
/// | `on_duplicate` | `keep` | `keep` (as Surprise), `first`, `last` or `fail` |
/// | `synthetic` | seed 42, scale 1 | the generator |
/// | `csv` | `data/raw/ratings.csv`, `auto`, the original headers | the CSV source |
/// | `movielens` | `data/raw/ml-100k` | the MovieLens folder |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)] // documented in the table above
pub struct LoadParams {
    pub source: SourceKind,
    pub rating_scale: RatingScale,
    pub on_invalid: InvalidPolicy,
    pub on_duplicate: DuplicatePolicy,
    pub synthetic: SyntheticConfig,
    pub csv: CsvParams,
    pub movielens: MovielensParams,
}

impl Default for LoadParams {
    fn default() -> LoadParams {
        LoadParams {
            source: SourceKind::Synthetic,
            rating_scale: RatingScale::SEED,
            on_invalid: InvalidPolicy::Reject,
            on_duplicate: DuplicatePolicy::Keep,
            synthetic: SyntheticConfig::default(),
            csv: CsvParams::default(),
            movielens: MovielensParams::default(),
        }
    }
}

/// `load.csv`: a CSV file in the seed's schema.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CsvParams {
    /// The file, relative to the project root.
    pub path: PathBuf,
    /// `auto`, `","`, `";"`, `"\t"` or `"|"`.
    pub delimiter: Delimiter,
    /// The header of each role.
    pub columns: ColumnMap,
}

impl Default for CsvParams {
    fn default() -> CsvParams {
        CsvParams { path: "data/raw/ratings.csv".into(), delimiter: Delimiter::Auto, columns: ColumnMap::default() }
    }
}

/// `load.movielens`: a MovieLens folder.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MovielensParams {
    /// The folder holding `u.data` or `ratings.csv`.
    pub path: PathBuf,
}

impl Default for MovielensParams {
    fn default() -> MovielensParams {
        MovielensParams { path: "data/raw/ml-100k".into() }
    }
}

/// The `prepare` section.
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `seed` | 42 | the split's random choices | 0 to 2^32 - 1 |
/// | `split` | `random` | `random` (Surprise's `train_test_split`) or `per_user` | |
/// | `test_size` | 0.2 | share of ratings in the test set | (0, 1) |
/// | `min_user_ratings` | 1 | drop users with fewer ratings, before splitting | 1 or more |
/// | `min_movie_ratings` | 1 | drop movies with fewer ratings, before splitting | 1 or more |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)] // documented in the table above
pub struct PrepareParams {
    pub seed: u32,
    pub split: SplitStrategy,
    pub test_size: f64,
    pub min_user_ratings: u32,
    pub min_movie_ratings: u32,
}

impl Default for PrepareParams {
    fn default() -> PrepareParams {
        PrepareParams {
            seed: 42,
            split: SplitStrategy::Random,
            test_size: 0.2,
            min_user_ratings: 1,
            min_movie_ratings: 1,
        }
    }
}

/// The `train` section.
///
/// | Name | Default | Purpose |
/// |---|---|---|
/// | `mode` | `fast` | `fast` (single precision, parallel, deterministic) or `surprise` (scikit-surprise's exact results) |
/// | `threads` | 0 | threads of the fit; 0: all cores (the `fast` mode at most one per 131,072 training ratings). The model does not depend on it |
/// | `svd` | Surprise's defaults | SVD's hyper-parameters, with Surprise's names (`n_factors`, `lr_all`, ...) |
/// | `ranking` | `kind: ease` | what orders each user's list (`relevance`, `popularity`, `ease`, `ials`, `rp3beta`, `ensemble`; `svd`, its former name, is read as `relevance`), `rerank`, `blend`, `demote_dislikes`, and each kind's parameters |
/// | `algorithm` | `svd` | the rating model, whose predicted relevance every list shows: `svd` (`mode`, `svd`) or another of Surprise's algorithms (`knn_baseline`, `svdpp`, …) |
/// | `algorithms` | none | the other algorithms' parameters by name, under Surprise's names (absent: Surprise's defaults); only the chosen one's are used |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)] // documented in the table above
pub struct TrainParams {
    pub algorithm: String,
    pub mode: TrainMode,
    pub threads: usize,
    pub svd: SvdParams,
    pub algorithms: Algorithms,
    pub ranking: RankingParams,
}

impl Default for TrainParams {
    fn default() -> TrainParams {
        TrainParams {
            algorithm: Algorithm::SVD.to_owned(),
            mode: TrainMode::default(),
            threads: 0,
            svd: SvdParams::default(),
            algorithms: Algorithms::default(),
            ranking: RankingParams::default(),
        }
    }
}

impl TrainParams {
    /// The rating algorithm to fit: the one named by `algorithm` with its parameters from
    /// `algorithms` (Surprise's defaults when absent), or SVD's from `svd`, fitted in `mode`
    /// (this file's layout before SVD's parameters had a place among the others').
    ///
    /// # Errors
    /// An unknown name.
    pub fn rating(&self) -> anyhow::Result<Algorithm> {
        if self.algorithm == Algorithm::SVD {
            return Ok(Algorithm::Svd(SvdParams { mode: self.mode, ..self.svd }));
        }
        match self.algorithms.0.get(&self.algorithm) {
            Some(a) => Ok(a.clone()),
            None => Algorithm::default_of(&self.algorithm).ok_or_else(|| {
                anyhow::anyhow!(
                    "invalid train.algorithm {}: expected one of {}",
                    movierec_core::quote::quote(&self.algorithm),
                    Algorithm::NAMES.join(", ")
                )
            }),
        }
    }
}

impl TrainParams {
    /// Where the rating algorithm's parameters are in the params file, for messages.
    pub fn rating_field(&self) -> String {
        if self.algorithm == Algorithm::SVD {
            "train.svd".to_owned()
        } else {
            format!("train.algorithms.{}", self.algorithm)
        }
    }
}

/// Surprise's algorithms' parameters by name (`knn_baseline: {k: 40, sim_options: {…}}`),
/// each checked against the algorithm's names when `params.yaml` is read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Algorithms(pub BTreeMap<String, Algorithm>);

impl Serialize for Algorithms {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let map: BTreeMap<&String, serde_json::Value> = self.0.iter().map(|(name, a)| (name, a.params())).collect();
        map.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Algorithms {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Algorithms, D::Error> {
        use serde::de::Error;
        let raw = BTreeMap::<String, Option<serde_json::Map<String, serde_json::Value>>>::deserialize(d)?;
        let mut out = BTreeMap::new();
        for (name, params) in raw {
            if name == Algorithm::SVD {
                return Err(D::Error::custom("SVD's parameters are train.svd, not train.algorithms.svd"));
            }
            let a = Algorithm::with_params(&name, params.unwrap_or_default())
                .map_err(|e| D::Error::custom(format!("{name}: {e}")))?;
            out.insert(name, a);
        }
        Ok(Algorithms(out))
    }
}

/// The `evaluate` section.
///
/// | Name | Default | Purpose |
/// |---|---|---|
/// | `k` | 10 | length of the top-K lists of the ranking measures |
/// | `relevance_threshold` | 60 | a test rating at or above it is relevant |
/// | `baseline` | `{n_epochs: 10, reg_u: 15, reg_i: 10}` | Surprise's `BaselineOnly` (ALS), reported beside SVD |
/// | `compare` | see [`Compare`] | the rankings fitted on the training set and measured beside the model's |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)] // documented in the table above
pub struct EvaluateParams {
    pub k: usize,
    pub relevance_threshold: f64,
    pub baseline: BaselineParams,
    pub compare: Compare,
}

impl Default for EvaluateParams {
    fn default() -> EvaluateParams {
        EvaluateParams {
            k: 10,
            relevance_threshold: 60.0,
            baseline: BaselineParams::default(),
            compare: Compare::default(),
        }
    }
}

/// `evaluate.compare`: the rankings measured beside the model's, each fitted on the training
/// set: the most-rated list, the damped-mean list, SVD's predicted relevance, EASE and
/// implicit ALS, RP3beta, an ensemble of two of them, and the model's ranking re-ordered by
/// predicted relevance.
///
/// | Name | Default | Purpose |
/// |---|---|---|
/// | `damping` | 10 | phantom ratings at the global mean of the damped-mean list |
/// | `ease` | λ 500, binary | EASE's parameters (Steck's reference setting) |
/// | `ials` | the kind's defaults | implicit ALS's parameters |
/// | `rp3beta` | the kind's defaults | RP3beta's parameters |
/// | `ensemble` | EASE and implicit ALS, weight 1 | the ensemble's members and weight (each member with its parameters above; `popularity`: the most-rated list) |
/// | `rerank` | 20 | the model's best N re-ordered by predicted relevance (0: no such row) |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)] // documented in the table above
pub struct Compare {
    pub damping: f64,
    pub ease: EaseParams,
    pub ials: IalsParams,
    pub rp3beta: Rp3betaParams,
    pub ensemble: EnsembleParams,
    pub rerank: usize,
}

impl Default for Compare {
    fn default() -> Compare {
        Compare {
            damping: 10.0,
            ease: EaseParams::default(),
            ials: IalsParams::default(),
            rp3beta: Rp3betaParams::default(),
            ensemble: EnsembleParams::default(),
            rerank: 20,
        }
    }
}

pub use movierec_core::evaluation::plan::{OptimizeParams, RankingSearch};

/// The `predict` section.
///
/// | Name | Default | Purpose |
/// |---|---|---|
/// | `n` | 10 | movies recommended per user |
/// | `users` | `[]` | the users to recommend to; empty: every user |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)] // documented in the table above
pub struct PredictParams {
    pub n: usize,
    pub users: Vec<String>,
}

impl Default for PredictParams {
    fn default() -> PredictParams {
        PredictParams { n: 10, users: Vec::new() }
    }
}

/// The `tracking` section: where `train`, `evaluate` and `optimize` log their runs.
///
/// | Name | Default | Purpose |
/// |---|---|---|
/// | `uri` | none | the MLflow tracking server (`http://host:port`); `MLFLOW_TRACKING_URI` overrides it; with neither, tracking is off |
/// | `required` | false | false: a server that cannot be reached is a warning and the stage completes; true: the stage fails |
/// | `experiments` | `train`, `evaluate`, `optimize` | the experiment of each stage's runs |
/// | `registry.name` | `movierec` | the registered model that `optimize`'s model to serve becomes a version of; null: no registration |
/// | `registry.alias` | `champion` | the alias moved to that version; null: none |
/// | `retries` | 4 | tries of a call that fails for a transient reason (connection, 429, 5xx), with a doubling wait |
/// | `timeout_seconds` | 30 | the longest one call may take |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)] // documented in the table above
pub struct TrackingParams {
    pub uri: Option<String>,
    pub required: bool,
    pub experiments: Experiments,
    pub registry: Registry,
    pub retries: u32,
    pub timeout_seconds: f64,
}

impl Default for TrackingParams {
    fn default() -> TrackingParams {
        TrackingParams {
            uri: None,
            required: false,
            experiments: Experiments::default(),
            registry: Registry::default(),
            retries: 4,
            timeout_seconds: 30.0,
        }
    }
}

/// The experiment of each tracked stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)] // one per stage
pub struct Experiments {
    pub train: String,
    pub evaluate: String,
    pub optimize: String,
}

impl Default for Experiments {
    fn default() -> Experiments {
        Experiments { train: "train".into(), evaluate: "evaluate".into(), optimize: "optimize".into() }
    }
}

/// Where `optimize` registers the model to serve.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)] // documented in TrackingParams
pub struct Registry {
    pub name: Option<String>,
    pub alias: Option<String>,
}

impl Default for Registry {
    fn default() -> Registry {
        Registry { name: Some("movierec".into()), alias: Some("champion".into()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_params_file_parses() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../params.yaml");
        let p = Params::from_file(&path).unwrap();
        assert_eq!(p.load.source, SourceKind::Synthetic);
        assert_eq!(p.load.csv.columns, ColumnMap::default());
        // The file spells out the defaults.
        assert_eq!(p.load.synthetic, SyntheticConfig::default());
        // SVD's: Surprise's defaults (what an absent `train.svd` means) but for the seed and the
        // fast mode's step, AdaGrad's.
        let svd = SvdParams {
            seed: 42,
            adagrad: true,
            lr_all: 0.05,
            lr_bu: Some(0.2),
            lr_bi: Some(0.2),
            ..SvdParams::default()
        };
        assert_eq!(p.train, TrainParams { svd, ..TrainParams::default() });
        assert_eq!(p.evaluate, EvaluateParams::default());
        assert_eq!(p.optimize, OptimizeParams::default());
        assert_eq!(p.predict, PredictParams::default());
    }

    #[test]
    fn a_misspelt_key_is_an_error_naming_it() {
        let e = serde_yaml::from_str::<Params>("prepare:\n  test_sise: 0.3\n").unwrap_err().to_string();
        assert!(e.contains("test_sise"), "{e}");
        let e = serde_yaml::from_str::<Params>("load:\n  rating_scale: {min: 5, max: 1}\n").unwrap_err().to_string();
        assert!(e.contains("invalid rating scale"), "{e}");
        let e = serde_yaml::from_str::<Params>("load:\n  source: parquet\n").unwrap_err().to_string();
        assert!(e.contains("parquet"), "{e}");
    }

    #[test]
    fn the_rating_algorithm_and_its_parameters() {
        let p: Params = serde_yaml::from_str(
            "train:\n  algorithm: knn_baseline\n  algorithms:\n    knn_baseline: {k: 7, sim_options: {user_based: false}}\n    slope_one:\n",
        )
        .unwrap();
        let Algorithm::KnnBaseline(k) = p.train.rating().unwrap() else { panic!("{:?}", p.train) };
        assert_eq!((k.k, k.sim_options.user_based, k.min_k), (7, false, 1));
        let p: Params = serde_yaml::from_str("train: {algorithm: nmf}\n").unwrap();
        assert_eq!(Some(p.train.rating().unwrap()), Algorithm::default_of("nmf"));
        let svd = Params::default().train.rating().unwrap();
        assert_eq!((svd.name(), svd.mode()), (Algorithm::SVD, Some(TrainMode::Fast)), "train.svd in train.mode");
        let e =
            serde_yaml::from_str::<Params>("train: {algorithm: svd, algorithms: {knn_basic: {kk: 1}}}\n").unwrap_err();
        assert!(e.to_string().contains("kk"), "{e}");
        let e = serde_yaml::from_str::<Params>("train: {algorithms: {svd: {n_factors: 1}}}\n").unwrap_err();
        assert!(e.to_string().contains("train.svd"), "{e}");
        let e = serde_yaml::from_str::<Params>("train: {algorithms: {knn: {}}}\n").unwrap_err();
        assert!(e.to_string().contains("knn"), "{e}");
        let p: Params = serde_yaml::from_str("train: {algorithm: knn}\n").unwrap();
        assert!(p.train.rating().unwrap_err().to_string().contains("expected one of normal_predictor"));
    }

    #[test]
    fn empty_sections_take_the_defaults() {
        let p: Params = serde_yaml::from_str("load: {}\n").unwrap();
        assert_eq!(p, Params::default());
    }
}
