//! Hyper-parameter search over model kinds: the candidates of a grid or of a seeded random
//! search, a space per kind, and the cross-validated scores of each, in the shape of
//! Surprise's `cv_results`: rmse and mae for SVD, and, when the search selects by a ranking
//! measure (`ndcg@10`, `precision@10`, …), that measure of every candidate's lists on each
//! fold's held-out ratings (the definitions of [`crate::evaluation::ranking`]).

use std::collections::BTreeMap;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::dataset::RatingList;
use crate::data::ids::IdMap;
use crate::data::split::{Split, SplitError, kfold};
use crate::data::trainset::Trainset;
use crate::evaluation::accuracy::{self, RankingMetrics};
use crate::evaluation::ranking::Heldout;
use crate::models::base::{Diverged, FitError, Unsettable};
use crate::models::ranking::Reorder;
use crate::models::rating::Algorithm;
use crate::models::rating::model::RatingModel;
use crate::models::recommender::{depth, with_relevance};
use crate::models::{Kind, Ranking, RankingParams, Recommender};
use crate::numpy::RandomState;
use crate::quote::quote;

/// The values a searched parameter may take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Values {
    /// These values (a grid searches them all; a random search draws among them).
    List(Vec<f64>),
    /// A range, for random search: uniform, or log-uniform (`log: true`, for rates).
    Range {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
        /// Draw the logarithm uniformly.
        #[serde(default)]
        log: bool,
    },
}

/// How candidates are chosen.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// Every combination of the lists, the last parameter varying fastest (as
    /// `itertools.product` over the grid in Surprise's `GridSearchCV`).
    #[default]
    Grid,
    /// `n_iter` draws, each parameter independently, from a generator seeded by the search's
    /// seed.
    Random,
}

/// A search space that cannot be searched.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SpaceError {
    /// A name that is not one of the kind's numeric parameters.
    #[error("cannot search {} for {of}: expected one of {}", quote(.name), .expected.join(", "))]
    Unknown {
        /// The algorithm or kind searched.
        of: &'static str,
        /// The name given.
        name: String,
        /// Its parameters that can be searched.
        expected: &'static [&'static str],
    },
    /// A grid needs lists.
    #[error("the grid search needs a list of values for {0}; ranges are for the random search")]
    RangeInGrid(String),
    /// An empty list or a backwards range.
    #[error("no value to search for {0}")]
    Empty(String),
    /// A value outside what the parameter accepts.
    #[error("invalid value {value} for {name}: expected {expected}")]
    Invalid {
        /// The parameter.
        name: String,
        /// The value.
        value: f64,
        /// What the parameter accepts.
        expected: &'static str,
    },
    /// A grid of one of Surprise's algorithms that cannot be searched.
    #[error("cannot search {}: {message}", quote(.name))]
    Algorithm {
        /// The algorithm's name.
        name: String,
        /// What is wrong.
        message: String,
    },
}

/// The popularity kind's searchable parameters (`rerank`: see [`RankingParams::rerank`]).
pub const SEARCHABLE_POPULARITY: [&str; 4] = ["blend", "damping", "demote_dislikes", "rerank"];
/// EASE's searchable parameters.
pub const SEARCHABLE_EASE: [&str; 6] = ["blend", "demote_dislikes", "dropout", "lambda", "liking", "rerank"];
/// RP3beta's searchable parameters.
pub const SEARCHABLE_RP3BETA: [&str; 5] = ["alpha", "beta", "blend", "demote_dislikes", "rerank"];
/// Implicit ALS's searchable parameters.
pub const SEARCHABLE_IALS: [&str; 10] = [
    "factors",
    "regularization",
    "alpha",
    "preference",
    "iterations",
    "cg_steps",
    "init_std_dev",
    "rerank",
    "blend",
    "demote_dislikes",
];

/// The ensemble's searchable parameters: its weight, how it re-orders, and its members'
/// parameters under their kind's name (`ease.lambda`), each set only on a member.
pub const SEARCHABLE_ENSEMBLE: [&str; 17] = [
    "weight",
    "rerank",
    "blend",
    "demote_dislikes",
    "popularity.damping",
    "ease.lambda",
    "ease.dropout",
    "ease.liking",
    "ials.factors",
    "ials.regularization",
    "ials.alpha",
    "ials.preference",
    "ials.iterations",
    "ials.cg_steps",
    "ials.init_std_dev",
    "rp3beta.alpha",
    "rp3beta.beta",
];

/// The parameters of top-N `kind` that can be searched.
pub fn searchable(kind: Kind) -> &'static [&'static str] {
    match kind {
        // The rating model's order: its parameters are the rating model's.
        Kind::Relevance => &[],
        Kind::Popularity => &SEARCHABLE_POPULARITY,
        Kind::Ease => &SEARCHABLE_EASE,
        Kind::Ials => &SEARCHABLE_IALS,
        Kind::Rp3beta => &SEARCHABLE_RP3BETA,
        Kind::Ensemble => &SEARCHABLE_ENSEMBLE,
        // A choice between kinds, not a kind with parameters of its own: search the kinds.
        Kind::Auto => &[],
    }
}

/// Top-N `kind`'s name and searchable parameters, as [`candidates`] takes them.
pub fn of_kind(kind: Kind) -> (&'static str, &'static [&'static str]) {
    (kind.name(), searchable(kind))
}

/// The space `optimize` searches `kind` over by default (`optimize.ranking.spaces`), or
/// `None` for a kind it does not search as a top-N kind (`relevance`: the rating model's space is
/// `optimize.space`; `auto`: a choice between kinds). An empty space is one candidate: the
/// base parameters. A new kind is added here, so that the default search tries it.
pub fn default_ranking_space(kind: Kind) -> Option<BTreeMap<String, Values>> {
    let list = |v: &[f64]| Values::List(v.to_vec());
    let space = |entries: &[(&str, Values)]| entries.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    match kind {
        Kind::Relevance | Kind::Auto => None,
        Kind::Popularity => Some(BTreeMap::new()),
        Kind::Ease => Some(space(&[
            ("blend", list(&[0.5, 1.0])),
            ("demote_dislikes", list(&[0.0, 1.0])),
            ("dropout", list(&[0.0, 0.25])),
            ("lambda", list(&[250.0, 1000.0])),
            ("liking", list(&[0.0, 1.0])),
            ("rerank", list(&[0.0, 20.0, 50.0])),
        ])),
        Kind::Ials => Some(space(&[
            ("factors", list(&[16.0, 32.0])),
            ("alpha", list(&[2.0, 5.0])),
            ("preference", list(&[0.0, 1.0])),
            ("rerank", list(&[0.0, 20.0])),
        ])),
        Kind::Rp3beta => Some(space(&[("alpha", list(&[0.6, 1.0])), ("beta", list(&[0.4, 0.6]))])),
        Kind::Ensemble => Some(space(&[
            ("blend", list(&[0.25, 1.0])),
            ("demote_dislikes", list(&[0.0, 1.0])),
            ("ease.dropout", list(&[0.25])),
            ("ease.lambda", list(&[300.0, 1000.0])),
            ("ease.liking", list(&[1.0])),
            ("ials.preference", list(&[1.0])),
            ("rerank", list(&[0.0, 20.0, 50.0])),
            ("weight", list(&[0.5, 1.0])),
        ])),
    }
}

/// Parameters that are counts: drawn values are rounded, and must be whole numbers of 1 or
/// more (`rerank` of 0 or more).
const COUNTS: [&str; 9] = [
    "n_factors",
    "n_epochs",
    "factors",
    "iterations",
    "cg_steps",
    "rerank",
    "ials.factors",
    "ials.iterations",
    "ials.cg_steps",
];

/// One candidate: the searched parameters' values, in the space's order.
pub type Candidate = Vec<(String, f64)>;

/// A whole number of one or more, or the error naming it.
fn count(name: &str, v: f64) -> Result<usize, SpaceError> {
    whole(name, v, 1.0, "a whole number of 1 or more")
}

/// A whole number of `min` or more, or the error naming it and saying what is `expected`.
fn whole(name: &str, v: f64, min: f64, expected: &'static str) -> Result<usize, SpaceError> {
    if v >= min && v.fract() == 0.0 && v < 1e9 {
        Ok(v as usize)
    } else {
        Err(SpaceError::Invalid { name: name.to_owned(), value: v, expected })
    }
}

/// Sets the searched values of a top-N `kind` on `base`, and makes it that kind.
///
/// # Errors
/// [`SpaceError`] for an unknown name or a count that is not a whole number of one or more.
pub fn apply_ranking(base: &RankingParams, kind: Kind, candidate: &Candidate) -> Result<RankingParams, SpaceError> {
    let mut p = base.clone();
    p.kind = kind;
    // How a list is re-ordered, which every kind that orders by a model of its own takes.
    let top_n = !matches!(kind, Kind::Relevance | Kind::Auto);
    for (name, v) in candidate {
        let v = *v;
        match (kind, name.as_str()) {
            (_, "rerank") if top_n => {
                p.rerank = whole(name, v, 0.0, "a whole number of 0 or more")?;
            }
            (_, "blend") if top_n && v >= 0.0 && v.is_finite() => p.blend = Some(v),
            (_, "blend") if top_n => {
                return Err(SpaceError::Invalid { name: name.clone(), value: v, expected: "a weight of 0 or more" });
            }
            (_, "demote_dislikes") if top_n && (v == 0.0 || v == 1.0) => {
                p.demote_dislikes = v == 1.0;
            }
            (_, "demote_dislikes") if top_n => {
                return Err(SpaceError::Invalid { name: name.clone(), value: v, expected: "0 (no) or 1 (yes)" });
            }
            (Kind::Popularity, "damping") => p.popularity.damping = v,
            (Kind::Ease, "lambda") => p.ease.lambda = v,
            (Kind::Ease, "liking") => p.ease.liking = v,
            (Kind::Ease, "dropout") => p.ease.dropout = v,
            (Kind::Rp3beta, "alpha") => p.rp3beta.alpha = v,
            (Kind::Rp3beta, "beta") => p.rp3beta.beta = v,
            (Kind::Ials, "factors") => p.ials.factors = count(name, v)?,
            (Kind::Ials, "regularization") => p.ials.regularization = v,
            (Kind::Ials, "preference") => p.ials.preference = v,
            (Kind::Ials, "alpha") => p.ials.alpha = v,
            (Kind::Ials, "iterations") => p.ials.iterations = count(name, v)?,
            (Kind::Ials, "cg_steps") => p.ials.cg_steps = count(name, v)?,
            (Kind::Ials, "init_std_dev") => p.ials.init_std_dev = v,
            (Kind::Ensemble, "weight") => p.ensemble.weight = v,
            (Kind::Ensemble, member) if member.contains('.') => {
                let (of, own) = member.split_once('.').expect("checked");
                let unknown =
                    || SpaceError::Unknown { of: kind.name(), name: name.clone(), expected: searchable(kind) };
                let of = p.ensemble.members.into_iter().find(|m| m.name() == of).ok_or_else(unknown)?;
                if matches!(own, "rerank" | "blend" | "demote_dislikes") || !searchable(of).contains(&own) {
                    return Err(unknown());
                }
                p = RankingParams { kind, ..apply_ranking(&p, of, &vec![(own.to_owned(), v)])? };
            }
            _ => return Err(SpaceError::Unknown { of: kind.name(), name: name.clone(), expected: searchable(kind) }),
        }
    }
    Ok(p)
}

/// Sets the searched values on `base`, a rating algorithm searched by a space
/// ([`Algorithm::searchable`]).
///
/// # Errors
/// [`SpaceError`] for an unknown name or a value the parameter does not take.
pub fn apply(base: &Algorithm, candidate: &Candidate) -> Result<Algorithm, SpaceError> {
    let mut a = base.clone();
    for (name, v) in candidate {
        a.set(name, *v).map_err(|e| match e {
            Unsettable::Unknown => {
                SpaceError::Unknown { of: base.name(), name: name.clone(), expected: base.searchable() }
            }
            Unsettable::Invalid(expected) => SpaceError::Invalid { name: name.clone(), value: *v, expected },
        })?;
    }
    Ok(a)
}

/// The candidates of `space` (parameters in name order) by `method`, its names among
/// `expected`, the parameters of `of` (an algorithm or a kind) that can be searched.
///
/// # Errors
/// [`SpaceError`] for an unknown name, an empty list, or a range in a grid.
pub fn candidates(
    (of, expected): (&'static str, &'static [&'static str]),
    space: &BTreeMap<String, Values>,
    method: Method,
    n_iter: usize,
    seed: u32,
) -> Result<Vec<Candidate>, SpaceError> {
    for (name, values) in space {
        if !expected.contains(&name.as_str()) {
            return Err(SpaceError::Unknown { of, name: name.clone(), expected });
        }
        let empty = match values {
            Values::List(v) => v.is_empty(),
            Values::Range { min, max, log } => {
                !min.is_finite() || !max.is_finite() || min > max || (*log && *min <= 0.0)
            }
        };
        if empty {
            return Err(SpaceError::Empty(name.clone()));
        }
    }
    match method {
        Method::Grid => {
            let lists = space
                .iter()
                .map(|(name, values)| match values {
                    Values::List(list) => Ok((name.clone(), list.clone())),
                    Values::Range { .. } => Err(SpaceError::RangeInGrid(name.clone())),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Ok(product(lists))
        }
        Method::Random => {
            let mut rng = RandomState::new(seed);
            let draws = (0..n_iter)
                .map(|_| {
                    space
                        .iter()
                        .map(|(name, values)| {
                            let v = match values {
                                Values::List(list) => list[rng.interval(list.len() as u32 - 1) as usize],
                                Values::Range { min, max, log: false } => min + (max - min) * rng.random_sample(),
                                Values::Range { min, max, log: true } => {
                                    (min.ln() + (max.ln() - min.ln()) * rng.random_sample()).exp()
                                }
                            };
                            let v = if COUNTS.contains(&name.as_str()) { v.round().max(1.0) } else { v };
                            (name.clone(), v)
                        })
                        .collect()
                })
                .collect();
            Ok(draws)
        }
    }
}

/// A ranking measure at K.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    /// Precision@K.
    Precision,
    /// Recall@K.
    Recall,
    /// NDCG@K.
    Ndcg,
    /// MAP@K.
    Map,
    /// Hit rate@K.
    HitRate,
}

impl Metric {
    const ALL: [(Metric, &'static str); 5] = [
        (Metric::Precision, "precision"),
        (Metric::Recall, "recall"),
        (Metric::Ndcg, "ndcg"),
        (Metric::Map, "map"),
        (Metric::HitRate, "hit_rate"),
    ];

    /// The measure's value in `m`.
    pub fn of(self, m: &RankingMetrics) -> f64 {
        match self {
            Metric::Precision => m.precision,
            Metric::Recall => m.recall,
            Metric::Ndcg => m.ndcg,
            Metric::Map => m.map,
            Metric::HitRate => m.hit_rate,
        }
    }
}

/// The measure a search selects by: rmse or mae (lower is better, SVD only), or a ranking
/// measure at K (higher is better, every kind), written `ndcg@10`, `precision@5`, …
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Measure {
    /// Root mean squared error.
    #[default]
    Rmse,
    /// Mean absolute error.
    Mae,
    /// A ranking measure of the top-K lists on each fold's held-out ratings.
    Ranking {
        /// Which.
        metric: Metric,
        /// The lists' length.
        k: usize,
    },
}

impl Measure {
    /// Whether a lower value is better.
    pub fn lower_is_better(self) -> bool {
        matches!(self, Measure::Rmse | Measure::Mae)
    }
}

impl TryFrom<String> for Measure {
    type Error = String;

    fn try_from(text: String) -> Result<Measure, String> {
        let expected = "expected rmse, mae, or a ranking measure at K such as ndcg@10 (precision, recall, ndcg, \
                        map or hit_rate, then @ and a whole number of 1 or more)";
        match text.as_str() {
            "rmse" => return Ok(Measure::Rmse),
            "mae" => return Ok(Measure::Mae),
            _ => {}
        }
        let bad = || format!("invalid measure {}: {expected}", quote(&text));
        let (name, k) = text.split_once('@').ok_or_else(bad)?;
        let metric = Metric::ALL.iter().find(|m| m.1 == name).ok_or_else(bad)?.0;
        let k: usize = k.parse().ok().filter(|&k| k >= 1).ok_or_else(bad)?;
        Ok(Measure::Ranking { metric, k })
    }
}

impl From<Measure> for String {
    fn from(m: Measure) -> String {
        m.to_string()
    }
}

impl std::fmt::Display for Measure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Measure::Rmse => f.write_str("rmse"),
            Measure::Mae => f.write_str("mae"),
            Measure::Ranking { metric, k } => {
                let name = Metric::ALL.iter().find(|m| m.0 == *metric).expect("every metric is named").1;
                write!(f, "{name}@{k}")
            }
        }
    }
}

/// What a candidate is: a rating algorithm or a top-N kind's parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Spec {
    /// A rating algorithm, checked, with the values searched (the space's, or its
    /// `param_grid`'s under flattened names, as `sim_options.name`).
    Rating(Algorithm, BTreeMap<String, serde_json::Value>),
    /// A top-N ranking (its `kind` is not `relevance`).
    TopN(RankingParams),
}

impl Spec {
    /// The kind: `relevance` (lists by predicted relevance) for the rating models.
    pub fn kind(&self) -> Kind {
        match self {
            Spec::Rating(..) => Kind::Relevance,
            Spec::TopN(p) => p.kind,
        }
    }

    /// The rating algorithm's name; `None` for a top-N kind.
    pub fn algorithm(&self) -> Option<&'static str> {
        match self {
            Spec::Rating(a, _) => Some(a.name()),
            Spec::TopN(_) => None,
        }
    }

    /// A rating candidate's epochs, for an algorithm whose one fit serves every smaller
    /// number ([`Algorithm::epochs`]); else 0.
    fn epochs(&self) -> usize {
        match self {
            Spec::Rating(a, _) => a.epochs().unwrap_or(0),
            Spec::TopN(_) => 0,
        }
    }

    /// The threads of a fit that is one task of a parallel search ([`Algorithm::task_threads`]).
    fn task_threads(&self) -> usize {
        match self {
            Spec::Rating(a, _) => a.task_threads(),
            Spec::TopN(_) => 0,
        }
    }

    /// Fits the rating model of a rating candidate with `threads` threads
    /// ([`Algorithm::fit`]), or `None` for a top-N kind.
    pub fn fit_rating(&self, threads: usize, t: &Trainset<'_>) -> Option<Result<RatingModel, String>> {
        match self {
            Spec::Rating(a, _) => Some(RatingModel::fit(a, t, threads).map_err(|e| e.to_string())),
            Spec::TopN(_) => None,
        }
    }
}

/// Every combination of the named lists, in their order, the last varying fastest (as
/// `itertools.product`).
fn product<T: Clone>(lists: Vec<(String, Vec<T>)>) -> Vec<Vec<(String, T)>> {
    let mut out: Vec<Vec<(String, T)>> = vec![Vec::new()];
    for (key, values) in lists {
        out = out
            .into_iter()
            .flat_map(|c| {
                let key = &key;
                values.iter().map(move |v| {
                    let mut c = c.clone();
                    c.push((key.clone(), v.clone()));
                    c
                })
            })
            .collect();
    }
    out
}

/// The candidates of one of Surprise's algorithms by its `param_grid`, as Surprise's
/// `GridSearchCV` expands it: each parameter a list of values (a single value is a list of
/// one), `sim_options` and `bsl_options` dicts of lists expanded into the list of their own
/// combinations first; every combination of the lists, parameters in name order, the last
/// varying fastest. Parameters not in the grid keep Surprise's defaults.
///
/// # Errors
/// [`SpaceError::Algorithm`] for an unknown algorithm or parameter, or a value it does not
/// accept; [`SpaceError::Empty`] for an empty list.
pub fn algorithm_candidates(
    name: &str,
    grid: &serde_json::Map<String, serde_json::Value>,
) -> Result<Vec<Spec>, SpaceError> {
    use serde_json::Value;
    let fail = |message: String| SpaceError::Algorithm { name: name.to_owned(), message };
    match Algorithm::default_of(name) {
        None => return Err(fail(format!("expected one of {}", Algorithm::NAMES.join(", ")))),
        Some(a) if !a.searchable().is_empty() => {
            return Err(fail(format!("{}'s space is optimize.space", name.to_uppercase())));
        }
        Some(_) => {}
    }
    let as_list = |v: &Value| match v {
        Value::Array(items) => items.clone(),
        other => vec![other.clone()],
    };
    let mut lists: Vec<(String, Vec<Value>)> = Vec::new();
    for (key, value) in grid {
        let values = match (key.as_str(), value) {
            ("sim_options" | "bsl_options", Value::Object(inner)) => {
                let inner_lists: Vec<(String, Vec<Value>)> =
                    inner.iter().map(|(k, v)| (k.clone(), as_list(v))).collect();
                if let Some((k, _)) = inner_lists.iter().find(|(_, v)| v.is_empty()) {
                    return Err(SpaceError::Empty(format!("{name}.{key}.{k}")));
                }
                product(inner_lists).into_iter().map(|c| Value::Object(c.into_iter().collect())).collect()
            }
            _ => as_list(value),
        };
        if values.is_empty() {
            return Err(SpaceError::Empty(format!("{name}.{key}")));
        }
        lists.push((key.clone(), values));
    }
    product(lists)
        .into_iter()
        .map(|combination| {
            let mut params = serde_json::Map::new();
            let mut searched = BTreeMap::new();
            for (key, value) in combination {
                match &value {
                    Value::Object(inner) => {
                        for (k, v) in inner {
                            searched.insert(format!("{key}.{k}"), v.clone());
                        }
                    }
                    v => {
                        searched.insert(key.clone(), v.clone());
                    }
                }
                params.insert(key, value);
            }
            let algorithm = Algorithm::with_params(name, params).map_err(|e| fail(e.to_string()))?;
            Ok(Spec::Rating(algorithm, searched))
        })
        .collect()
}

/// One candidate's cross-validated scores, as a row of Surprise's `cv_results`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CandidateResult {
    /// The candidate's kind (`relevance` for every rating model: lists by predicted relevance).
    pub kind: Kind,
    /// The rating algorithm (`svd`, `knn_baseline`, …); none for a top-N kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<&'static str>,
    /// The searched values.
    pub params: BTreeMap<String, serde_json::Value>,
    /// `ok`, or `failed` when a fold's fit diverged.
    pub status: &'static str,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// 1 for the best by the search's measure; none for a failed candidate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rank: Option<usize>,
    /// Mean of the folds' rmse.
    pub mean_test_rmse: Option<f64>,
    /// Population standard deviation of the folds' rmse.
    pub std_test_rmse: Option<f64>,
    /// Mean of the folds' mae.
    pub mean_test_mae: Option<f64>,
    /// Population standard deviation of the folds' mae.
    pub std_test_mae: Option<f64>,
    /// Mean fit time, seconds.
    pub mean_fit_time: Option<f64>,
    /// Population standard deviation of the fit times.
    pub std_fit_time: Option<f64>,
    /// Each fold's rmse.
    pub split_test_rmse: Vec<f64>,
    /// Each fold's mae.
    pub split_test_mae: Vec<f64>,
    /// The means over the folds of the ranking measures, when the search selects by one
    /// (`users`: the users measured, summed over the folds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_test_ranking: Option<RankingMetrics>,
    /// Each fold's value of the search's ranking measure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub split_test_ranking: Vec<f64>,
    /// The mean over the folds of the lists' predicted dislikes (the share of the top K
    /// whose relevance the fold's rating model predicts below the user's own mean score),
    /// when the round judged them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mean_test_dislikes: Option<f64>,
}

impl CandidateResult {
    /// The mean score by `measure`; none for a failed candidate or one that `measure` does
    /// not apply to (rmse of a top-N kind).
    pub fn score(&self, measure: Measure) -> Option<f64> {
        match measure {
            Measure::Rmse => self.mean_test_rmse,
            Measure::Mae => self.mean_test_mae,
            Measure::Ranking { metric, .. } => self.mean_test_ranking.map(|m| metric.of(&m)),
        }
    }
}

/// What one (candidate, fold) fit measured.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct FoldScores {
    /// rmse and mae (rating models only).
    pub accuracy: Option<(f64, f64)>,
    /// The ranking measures at K (when the round selects by one).
    pub ranking: Option<RankingMetrics>,
    /// The share of the top K whose relevance the fold's rating model predicts below the
    /// user's own mean score (when the round has a rating model to judge by).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dislikes: Option<f64>,
    /// The fit's seconds.
    pub seconds: f64,
}

/// One (candidate, fold) fit's scores, or why it failed.
pub type FoldResult = Result<FoldScores, String>;

/// What one candidate measured on one fold: the unit of a search's results, which the parts of
/// a search run apart hand to the whole.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TaskResult {
    /// The candidate, by its index in the round's candidates.
    pub candidate: usize,
    /// The fold, from 0.
    pub fold: usize,
    /// Its scores, or why its fit failed.
    pub scores: FoldResult,
}

/// Surprise's rmse and mae of `model` on rows `rows` of `list`.
pub fn score(model: &RatingModel, list: &RatingList, rows: impl Iterator<Item = usize>) -> (f64, f64) {
    score_inner(model, &inner_ids(model.users(), model.items(), list, rows))
}

/// A rating by the inner ids of a training set's users and movies (`None`: not in it).
type InnerRating = (Option<usize>, Option<usize>, f64);

/// Rows `rows` of `list` by the inner ids of `users` and `movies`, looked up once.
fn inner_ids(users: &IdMap, movies: &IdMap, list: &RatingList, rows: impl Iterator<Item = usize>) -> Vec<InnerRating> {
    let (list_users, list_movies) = (list.users(), list.movies());
    rows.map(|r| {
        let u = users.get(list_users.raw(list.user()[r].0)).map(|u| u as usize);
        (u, movies.get(list_movies.raw(list.movie()[r].0)).map(|i| i as usize), list.score()[r])
    })
    .collect()
}

/// Surprise's rmse and mae of `model` on ratings by the inner ids of the training set it was
/// fitted on.
fn score_inner(model: &RatingModel, ratings: &[InnerRating]) -> (f64, f64) {
    let pairs = || ratings.iter().map(|&(u, i, r)| (r, model.estimate(u, i).est));
    (accuracy::rmse(pairs()), accuracy::mae(pairs()))
}

/// Cross-validates every candidate on the same `cv` folds of `list`: a [`Round`] run whole.
///
/// # Errors
/// [`SplitError`] if `list` cannot be cut into `cv` folds.
#[allow(clippy::too_many_arguments)] // the search's settings, each used once
pub fn cross_validate(
    list: &RatingList,
    fits: &[(Candidate, Spec)],
    cv: usize,
    seed: u32,
    measure: Measure,
    threshold: f64,
    rating: Option<&Spec>,
    on_fit: impl Fn(usize, usize) + Sync,
) -> Result<Vec<CandidateResult>, SplitError> {
    let round = Round::new(list, fits, cv, seed, measure, threshold, rating)?;
    let all: Vec<usize> = (0..round.tasks()).collect();
    Ok(round.summarize(round.run(&all, on_fit)).expect("every task ran"))
}

/// Cross-validation of some candidates on the same `cv` folds of a list (Surprise's `KFold`
/// with a seed), cut into tasks: one per (unit, fold), unit-major, where a unit is the
/// candidates that share one fit ([`units`]). Each task fits on one thread of the current
/// rayon pool (an SVD on one thread, with one fit for the SVD candidates that differ only in
/// `n_epochs`: [`epoch_unit`]; the other fits' parallel parts as more tasks of the same pool), so
/// a task's results depend only on its unit and fold: never on the scheduling, the threads,
/// or which other tasks run beside it. Rating candidates are scored by rmse and mae; when the
/// measure is a ranking measure, every candidate's lists are also measured on the fold's
/// held-out ratings (relevant: a score of at least the threshold). A top-N candidate with
/// `rerank` above 0 is measured with its best movies re-ordered by the predicted relevance of
/// the round's rating model fitted on the same fold (the candidate fails without one). With
/// a limit on predicted dislikes ([`Round::with_max_dislikes`]), that rating model also
/// judges every candidate's lists, and the candidates over the limit rank last.
pub struct Round<'a> {
    list: &'a RatingList,
    fits: &'a [(Candidate, Spec)],
    folds: Vec<Split>,
    units: Vec<Vec<usize>>,
    measure: Measure,
    threshold: f64,
    rating: Option<&'a Spec>,
    max_dislikes: Option<f64>,
}

impl<'a> Round<'a> {
    /// The round of `fits` on `cv` folds of `list` cut with `seed`.
    ///
    /// # Errors
    /// [`SplitError`] if `list` cannot be cut into `cv` folds.
    #[allow(clippy::too_many_arguments)] // the search's settings, each used once
    pub fn new(
        list: &'a RatingList,
        fits: &'a [(Candidate, Spec)],
        cv: usize,
        seed: u32,
        measure: Measure,
        threshold: f64,
        rating: Option<&'a Spec>,
    ) -> Result<Round<'a>, SplitError> {
        let folds = kfold(list.len(), cv, seed)?;
        Ok(Round { list, fits, folds, units: units(fits), measure, threshold, rating, max_dislikes: None })
    }

    /// The round, its candidates ranked with those whose lists hold on average more than
    /// `max` predicted dislikes (judged by the round's rating model on each fold) after all
    /// the others; `None`: by the measure alone.
    pub fn with_max_dislikes(mut self, max: Option<f64>) -> Round<'a> {
        self.max_dislikes = max;
        self
    }

    /// How many tasks the round has: its units times its folds.
    pub fn tasks(&self) -> usize {
        self.units.len() * self.folds.len()
    }

    /// How many fits task `task` stands for: one per candidate of its unit.
    pub fn fits_of(&self, task: usize) -> usize {
        self.units[task / self.folds.len()].len()
    }

    /// The (candidate, fold) pairs task `task` measures.
    pub fn task_fits(&self, task: usize) -> impl Iterator<Item = (usize, usize)> + '_ {
        let f = task % self.folds.len();
        self.units[task / self.folds.len()].iter().map(move |&c| (c, f))
    }

    /// Runs tasks `tasks` (each below [`Round::tasks`]) in parallel on the current pool, and
    /// returns what each of their candidates measured, task by task. Only the folds these
    /// tasks need are prepared. `on_fit(candidate, fold)` is called after each fit.
    pub fn run(&self, tasks: &[usize], on_fit: impl Fn(usize, usize) + Sync) -> Vec<TaskResult> {
        let n_folds = self.folds.len();
        let mut needed = vec![false; n_folds];
        for &t in tasks {
            needed[t % n_folds] = true;
        }
        let lists: Vec<Option<RatingList>> =
            (self.folds.iter().zip(&needed)).map(|(f, &n)| n.then(|| self.list.select(&f.train))).collect();
        let sets: Vec<Option<Trainset<'_>>> = lists.iter().map(|l| l.as_ref().map(Trainset::new)).collect();
        // Each fold's test ratings by the inner ids every model fitted on the fold has: looked
        // up once, not once per candidate.
        let tests: Vec<Vec<InnerRating>> = (self.folds.iter().zip(&lists))
            .map(|(f, l)| match l {
                Some(l) => inner_ids(l.users(), l.movies(), self.list, f.test.iter().map(|&r| r as usize)),
                None => Vec::new(),
            })
            .collect();
        let k = match self.measure {
            Measure::Ranking { k, .. } => Some(k),
            _ => None,
        };
        let reranks = tasks.iter().any(|&t| {
            self.units[t / n_folds].iter().any(|&c| matches!(&self.fits[c].1, Spec::TopN(p) if p.rerank > 0))
        });
        // The round's rating model on each fold: what re-orders, and what judges every
        // list's predicted dislikes.
        let fold_ratings: Vec<Option<RatingModel>> = match self.rating {
            Some(spec) if reranks || (self.max_dislikes.is_some() && k.is_some()) => {
                let threads = spec.task_threads();
                sets.par_iter().map(|t| spec.fit_rating(threads, t.as_ref()?).and_then(Result::ok)).collect()
            }
            _ => vec![None; n_folds],
        };
        let heldout: Vec<Option<Heldout>> = (self.folds.iter().zip(&sets).zip(&fold_ratings))
            .map(|((f, t), rating)| {
                let t = t.as_ref().filter(|_| k.is_some())?;
                let h = Heldout::new(t, &self.list.select(&f.test), self.threshold);
                Some(match rating {
                    Some(rating) => h.judged_by(t, rating),
                    None => h,
                })
            })
            .collect();
        let fold = Fold { sets: &sets, tests: &tests, heldout: &heldout, ratings: &fold_ratings, k };
        tasks
            .par_iter()
            .map(|&task| {
                let (unit, f) = (&self.units[task / n_folds], task % n_folds);
                self.run_task(unit, f, &fold, &on_fit)
                    .into_iter()
                    .map(|(candidate, scores)| TaskResult { candidate, fold: f, scores })
                    .collect::<Vec<_>>()
            })
            .collect::<Vec<_>>()
            .into_iter()
            .flatten()
            .collect()
    }

    /// One unit's fits on fold `f`, each candidate's result in the unit's order.
    fn run_task(
        &self,
        unit: &[usize],
        f: usize,
        fold: &Fold<'_, '_>,
        on_fit: &(impl Fn(usize, usize) + Sync),
    ) -> Vec<(usize, FoldResult)> {
        let (fits, k) = (self.fits, fold.k);
        let set = fold.sets[f].as_ref().expect("the task's fold is prepared");
        // A rating model's scores on fold `f`, fitted in `seconds`.
        let rating_scores = |model: RatingModel, seconds: f64| {
            let accuracy = score_inner(&model, &fold.tests[f]);
            let ranking = fold.heldout[f].as_ref().zip(k).map(|(h, k)| {
                let rec = Recommender { rating: model, ranking: Ranking::Relevance, reorder: Reorder::default() };
                h.measure_recommender(&rec, k, k).0
            });
            FoldScores {
                accuracy: Some(accuracy),
                ranking: ranking.map(|r| r.metrics),
                dislikes: ranking.and_then(|r| r.predicted_dislikes),
                seconds,
            }
        };
        let c = unit[0];
        let t0 = Instant::now();
        let result = match &fits[c].1 {
            Spec::Rating(a, _) if a.epochs().is_some() => {
                return epoch_unit(fits, unit, set, |c, model, seconds| {
                    let result = Ok(rating_scores(model, seconds));
                    on_fit(c, f);
                    result
                })
                .into_iter()
                .inspect(|(c, r)| {
                    if r.is_err() {
                        on_fit(*c, f)
                    }
                })
                .collect();
            }
            spec @ Spec::Rating(..) => spec
                .fit_rating(spec.task_threads(), set)
                .expect("a rating candidate")
                .map(|model| rating_scores(model, t0.elapsed().as_secs_f64())),
            Spec::TopN(p) => {
                // One fit and one ranking of the fold's users for the unit's candidates, which
                // differ only in `rerank` and `blend`: the lists as deep as the deepest needs.
                let fitted = p.fit(set, 0).map_err(|e| e.to_string());
                let seconds = t0.elapsed().as_secs_f64();
                let reorder = |c: usize| match &fits[c].1 {
                    Spec::TopN(p) => p.reorder(),
                    _ => unreachable!("a top-N unit holds top-N candidates"),
                };
                let rerank = |c: usize| reorder(c).rerank;
                let deepest = k.map(|k| unit.iter().map(|&c| depth(rerank(c), k)).max().unwrap_or(k));
                let ranked = match (&fitted, fold.heldout[f].as_ref().zip(deepest)) {
                    (Ok(ranking), Some((h, deepest))) => {
                        Some(h.rank_users(ranking.top_n().expect("a top-N candidate"), deepest))
                    }
                    _ => None,
                };
                // Each listed movie's predicted relevance, once for the unit's re-orderings.
                let scored = match (&ranked, &fold.ratings[f], fold.heldout[f].as_ref().zip(deepest)) {
                    (Some(ranked), Some(rating), Some((h, deepest))) if unit.iter().any(|&c| rerank(c) > 0) => {
                        Some(with_relevance(rating, &h.users, &|u| &h.history[u], ranked, deepest))
                    }
                    _ => None,
                };
                return unit
                    .iter()
                    .map(|&c| {
                        let measured = |h: &Heldout, k: usize, ranked: &[Vec<(u32, f64)>]| {
                            let row = match (rerank(c), &scored) {
                                (0, _) => h.measure_ranked(ranked, None, k, k),
                                (_, Some(scored)) => h.measure_scored(scored, reorder(c), k, k),
                                (_, None) => {
                                    return Err("rerank needs a rating model fitted on the fold (none was given, \
                                                or it failed)"
                                        .to_owned());
                                }
                            };
                            Ok(Some(row.0))
                        };
                        let result = fitted.clone().and_then(|_| {
                            let row = match (fold.heldout[f].as_ref().zip(k), &ranked) {
                                (Some((h, k)), Some(ranked)) => measured(h, k, ranked)?,
                                _ => None,
                            };
                            let (ranking, dislikes) = (row.map(|r| r.metrics), row.and_then(|r| r.predicted_dislikes));
                            Ok(FoldScores { accuracy: None, ranking, dislikes, seconds })
                        });
                        on_fit(c, f);
                        (c, result)
                    })
                    .collect();
            }
        };
        on_fit(c, f);
        vec![(c, result)]
    }

    /// Every candidate's cross-validated scores from the results of all the round's tasks,
    /// ranked by the measure (ties to the earlier candidate). A candidate whose fit failed on
    /// any fold is `failed` (with its first failing fold's reason) and unranked.
    ///
    /// # Errors
    /// [`Incomplete`] names the first (candidate, fold) that no result holds.
    pub fn summarize(&self, results: impl IntoIterator<Item = TaskResult>) -> Result<Vec<CandidateResult>, Incomplete> {
        let n_folds = self.folds.len();
        let mut all: Vec<Option<FoldResult>> = vec![None; self.fits.len() * n_folds];
        for r in results {
            if r.candidate < self.fits.len() && r.fold < n_folds {
                all[r.candidate * n_folds + r.fold] = Some(r.scores);
            }
        }
        if let Some(missing) = all.iter().position(Option::is_none) {
            return Err(Incomplete { candidate: missing / n_folds, fold: missing % n_folds });
        }
        let all: Vec<FoldResult> = all.into_iter().map(|r| r.expect("checked")).collect();
        let mut out: Vec<CandidateResult> =
            (self.fits.iter().zip(all.chunks(n_folds))).map(|((c, s), r)| summarize(s, c, r, self.measure)).collect();
        rank_by(&mut out, self.measure, self.max_dislikes);
        Ok(out)
    }
}

/// A round's results lack candidate `candidate`'s fit on fold `fold` (both from 0).
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
#[error("no result for candidate {} on fold {}", candidate + 1, fold + 1)]
pub struct Incomplete {
    /// The candidate.
    pub candidate: usize,
    /// The fold.
    pub fold: usize,
}

/// What a round's tasks share of the folds they run on (`None` for a fold none of them needs).
struct Fold<'s, 'l> {
    sets: &'s [Option<Trainset<'l>>],
    tests: &'s [Vec<InnerRating>],
    heldout: &'s [Option<Heldout>],
    ratings: &'s [Option<RatingModel>],
    k: Option<usize>,
}

/// The search's units of work, each a list of candidates: the rating candidates of an
/// algorithm fitted epoch by epoch that differ only in their epochs (SVD's `n_epochs`)
/// together, by epochs (ties in candidate order), as one fit serves them all
/// ([`epoch_unit`]); the top-N candidates that differ only in how they re-order (`rerank`,
/// `blend`, `demote_dislikes`) together, in candidate order, as one fit and one ranking serve
/// them all; every other candidate alone.
fn units(fits: &[(Candidate, Spec)]) -> Vec<Vec<usize>> {
    let mut units: Vec<Vec<usize>> = Vec::new();
    // Each shared unit's key: the candidate's spec without what its members differ in.
    let mut keys: Vec<(Spec, usize)> = Vec::new();
    for (c, (_, spec)) in fits.iter().enumerate() {
        let key = match spec {
            Spec::Rating(a, _) if a.epochs().is_some() => Some(Spec::Rating(a.with_epochs(0), BTreeMap::new())),
            Spec::TopN(p) => {
                Some(Spec::TopN(RankingParams { rerank: 0, blend: None, demote_dislikes: false, ..p.clone() }))
            }
            Spec::Rating(..) => None,
        };
        if let Some(key) = key {
            if let Some(&(_, u)) = keys.iter().find(|(k, _)| *k == key) {
                units[u].push(c);
                continue;
            }
            keys.push((key, units.len()));
        }
        units.push(vec![c]);
    }
    for unit in &mut units {
        unit.sort_by_key(|&c| (fits[c].1.epochs(), c));
    }
    units
}

/// Fits a unit of rating candidates that differ only in their epochs on `t` once, with the
/// most epochs, as one task ([`Algorithm::task_threads`]), and hands each candidate its
/// model as the epoch it asks for ends (the same model as its own fit,
/// [`Algorithm::fit_by_epoch`]), with the seconds a fit of its own would have taken (the
/// fit's time so far, less the time spent in `measure`); a candidate whose epoch the fit did
/// not reach (it diverged) gets the error its own fit would have. Results in the unit's
/// order.
fn epoch_unit(
    fits: &[(Candidate, Spec)],
    unit: &[usize],
    t: &Trainset<'_>,
    mut measure: impl FnMut(usize, RatingModel, f64) -> FoldResult,
) -> Vec<(usize, FoldResult)> {
    let Spec::Rating(longest, _) = &fits[*unit.last().expect("a unit has candidates")].1 else {
        unreachable!("an epoch unit holds rating candidates")
    };
    let epochs = |c: usize| fits[c].1.epochs();
    let most = epochs(*unit.last().expect("a unit has candidates"));
    let (start, mut measuring) = (Instant::now(), std::time::Duration::ZERO);
    let mut out: Vec<(usize, FoldResult)> = Vec::with_capacity(unit.len());
    let mut hand_over = |c: usize, model: RatingModel, out: &mut Vec<(usize, FoldResult)>| {
        let seconds = (start.elapsed() - measuring).as_secs_f64();
        let t0 = Instant::now();
        out.push((c, measure(c, model, seconds)));
        measuring += t0.elapsed();
    };
    let fitted = RatingModel::fit_by_epoch(longest, t, longest.task_threads(), |epoch, model| {
        for &c in unit.iter().filter(|&&c| epochs(c) == epoch.epoch && epochs(c) < most) {
            hand_over(c, model(), &mut out);
        }
    });
    match fitted {
        Ok(model) => {
            for &c in unit.iter().filter(|&&c| epochs(c) == most) {
                hand_over(c, model.clone(), &mut out);
            }
        }
        Err(FitError::Diverged(e)) => {
            for &c in &unit[out.len()..] {
                out.push((c, Err(Diverged { n_epochs: epochs(c), ..e.clone() }.to_string())));
            }
        }
        Err(e) => {
            for &c in &unit[out.len()..] {
                out.push((c, Err(e.to_string())));
            }
        }
    }
    out
}

/// Ranks the candidates that have a score by `measure`, best first (ties to the earlier
/// candidate); the others get no rank.
pub fn rank_by(results: &mut [CandidateResult], measure: Measure, max_dislikes: Option<f64>) {
    let mut ok: Vec<usize> = (0..results.len()).filter(|&i| results[i].score(measure).is_some()).collect();
    // Whether a candidate's lists hold more predicted dislikes than allowed: it ranks after
    // every candidate within the limit.
    let over = |i: usize| max_dislikes.is_some_and(|m| results[i].mean_test_dislikes.is_some_and(|d| d > m));
    ok.sort_by(|&a, &b| {
        let key = |i: usize| results[i].score(measure).expect("ranked candidates have scores");
        let order = if measure.lower_is_better() { key(a).total_cmp(&key(b)) } else { key(b).total_cmp(&key(a)) };
        over(a).cmp(&over(b)).then(order).then(a.cmp(&b))
    });
    for r in results.iter_mut() {
        r.rank = None;
    }
    for (rank, &i) in ok.iter().enumerate() {
        results[i].rank = Some(rank + 1);
    }
}

/// The index of the candidate ranked first, if any succeeded.
pub fn best(results: &[CandidateResult]) -> Option<usize> {
    results.iter().position(|r| r.rank == Some(1))
}

fn summarize(spec: &Spec, candidate: &Candidate, fold_results: &[FoldResult], measure: Measure) -> CandidateResult {
    let params = match spec {
        Spec::Rating(_, searched) => searched.clone(),
        _ => candidate.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(*v))).collect(),
    };
    let mut out = CandidateResult {
        kind: spec.kind(),
        algorithm: spec.algorithm(),
        params,
        status: "ok",
        reason: None,
        rank: None,
        mean_test_rmse: None,
        std_test_rmse: None,
        mean_test_mae: None,
        std_test_mae: None,
        mean_fit_time: None,
        std_fit_time: None,
        split_test_rmse: Vec::new(),
        split_test_mae: Vec::new(),
        mean_test_ranking: None,
        split_test_ranking: Vec::new(),
        mean_test_dislikes: None,
    };
    if let Some(Err(reason)) = fold_results.iter().find(|r| r.is_err()) {
        out.status = "failed";
        out.reason = Some(reason.clone());
        return out;
    }
    let ok: Vec<FoldScores> = fold_results.iter().map(|r| *r.as_ref().expect("no failure")).collect();
    if let Some(dislikes) = ok.iter().map(|r| r.dislikes).collect::<Option<Vec<f64>>>() {
        out.mean_test_dislikes = Some(mean_std(&dislikes).0);
    }
    let time: Vec<f64> = ok.iter().map(|r| r.seconds).collect();
    let (mt, st) = mean_std(&time);
    (out.mean_fit_time, out.std_fit_time) = (Some(mt), Some(st));
    if let Some(acc) = ok.iter().map(|r| r.accuracy).collect::<Option<Vec<(f64, f64)>>>() {
        out.split_test_rmse = acc.iter().map(|a| a.0).collect();
        out.split_test_mae = acc.iter().map(|a| a.1).collect();
        let (mr, sr) = mean_std(&out.split_test_rmse);
        let (ma, sa) = mean_std(&out.split_test_mae);
        (out.mean_test_rmse, out.std_test_rmse, out.mean_test_mae, out.std_test_mae) =
            (Some(mr), Some(sr), Some(ma), Some(sa));
    }
    if let (Some(ranking), Measure::Ranking { metric, k }) =
        (ok.iter().map(|r| r.ranking).collect::<Option<Vec<RankingMetrics>>>(), measure)
    {
        let mean = |f: fn(&RankingMetrics) -> f64| mean_std(&ranking.iter().map(f).collect::<Vec<_>>()).0;
        out.mean_test_ranking = Some(RankingMetrics {
            k,
            precision: mean(|m| m.precision),
            recall: mean(|m| m.recall),
            ndcg: mean(|m| m.ndcg),
            map: mean(|m| m.map),
            hit_rate: mean(|m| m.hit_rate),
            users: ranking.iter().map(|m| m.users).sum(),
        });
        out.split_test_ranking = ranking.iter().map(|m| metric.of(m)).collect();
    }
    out
}

/// Mean and population standard deviation, as numpy's `mean` and `std`.
pub fn mean_std(values: &[f64]) -> (f64, f64) {
    let mean = crate::numpy::mean(values);
    let dev: Vec<f64> = values.iter().map(|v| (v - mean) * (v - mean)).collect();
    (mean, crate::numpy::mean(&dev).sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::rating::svd::{self, SvdParams, TrainMode};

    /// SVD's searchable parameters, as a space names them.
    const SVD: (&str, &[&str]) = (Algorithm::SVD, &svd::SEARCHABLE);

    /// An SVD candidate of `p` fitted in `mode`.
    fn svd(p: SvdParams, mode: TrainMode) -> Spec {
        Spec::Rating(Algorithm::Svd(SvdParams { mode, ..p }), BTreeMap::new())
    }

    fn space(entries: &[(&str, Values)]) -> BTreeMap<String, Values> {
        entries.iter().map(|(n, v)| (n.to_string(), v.clone())).collect()
    }

    /// GridSearchCV's expansion: a nested dict's combinations are one parameter's values;
    /// parameters in name order, the last varying fastest; a single value is a list of one.
    #[test]
    fn an_algorithms_grid_is_expanded_as_grid_search_cv_does() {
        let grid = serde_json::json!({
            "sim_options": {"name": ["msd", "cosine"], "user_based": [false, true]},
            "k": [10, 20],
            "min_k": 2,
        });
        let specs = algorithm_candidates("knn_basic", grid.as_object().unwrap()).unwrap();
        assert_eq!(specs.len(), 8);
        let Spec::Rating(Algorithm::KnnBasic(first), searched) = &specs[0] else { panic!("{:?}", specs[0]) };
        assert_eq!((first.k, first.min_k, first.sim_options.user_based), (10, 2, false));
        assert_eq!(searched["sim_options.name"], "msd");
        let Spec::Rating(Algorithm::KnnBasic(second), _) = &specs[1] else { panic!() };
        assert_eq!(
            (second.k, second.sim_options.user_based, second.sim_options.name),
            (10, true, crate::models::rating::similarity::Measure::Msd)
        );
        let Spec::Rating(Algorithm::KnnBasic(last), _) = &specs[7] else { panic!() };
        assert_eq!((last.k, last.sim_options.user_based), (20, true));
        let empty = algorithm_candidates("slope_one", &serde_json::Map::new()).unwrap();
        assert_eq!(empty.len(), 1, "no grid: the defaults, once");
        let bad = |name: &str, grid: serde_json::Value| {
            algorithm_candidates(name, grid.as_object().unwrap()).unwrap_err().to_string()
        };
        assert!(bad("knn", serde_json::json!({})).contains("expected one of"));
        assert!(bad("knn_basic", serde_json::json!({"k": []})).contains("knn_basic.k"));
        assert!(bad("knn_basic", serde_json::json!({"sim_options": {"name": ["jaccard"]}})).contains("jaccard"));
        assert!(bad("svd", serde_json::json!({})).contains("optimize.space"));
    }

    #[test]
    fn a_grid_is_every_combination_the_last_varying_fastest() {
        let s = space(&[("lr_all", Values::List(vec![0.1, 0.2])), ("n_epochs", Values::List(vec![5.0, 10.0, 20.0]))]);
        let c = candidates(SVD, &s, Method::Grid, 0, 0).unwrap();
        assert_eq!(c.len(), 6);
        assert_eq!(c[0], vec![("lr_all".to_string(), 0.1), ("n_epochs".to_string(), 5.0)]);
        assert_eq!(c[1][1].1, 10.0);
        let Algorithm::Svd(p) = apply(&Algorithm::Svd(SvdParams::default()), &c[5]).unwrap() else { panic!() };
        assert_eq!((p.lr_all, p.n_epochs), (0.2, 20));
    }

    #[test]
    fn random_draws_are_seeded_and_in_range() {
        let s = space(&[
            ("lr_all", Values::Range { min: 0.001, max: 0.01, log: true }),
            ("n_factors", Values::List(vec![10.0, 20.0])),
        ]);
        let a = candidates(SVD, &s, Method::Random, 50, 3).unwrap();
        assert_eq!(a, candidates(SVD, &s, Method::Random, 50, 3).unwrap());
        assert_ne!(a, candidates(SVD, &s, Method::Random, 50, 4).unwrap());
        for c in &a {
            assert!((0.001..=0.01).contains(&c[0].1));
            assert!(c[1].1 == 10.0 || c[1].1 == 20.0);
        }
    }

    #[test]
    fn bad_spaces_are_errors() {
        let e = candidates(SVD, &space(&[("n_factor", Values::List(vec![1.0]))]), Method::Grid, 0, 0).unwrap_err();
        assert!(e.to_string().contains("n_factor") && e.to_string().contains("n_factors"));
        let range = Values::Range { min: 0.1, max: 0.2, log: false };
        assert!(candidates(SVD, &space(&[("lr_all", range)]), Method::Grid, 0, 0).is_err());
        assert!(candidates(SVD, &space(&[("lr_all", Values::List(vec![]))]), Method::Grid, 0, 0).is_err());
        let c = vec![("n_factors".to_string(), 2.5)];
        assert!(apply(&Algorithm::Svd(SvdParams::default()), &c).is_err());
    }

    /// An ensemble's space sets its weight, how it re-orders, and its members' parameters under
    /// their kind's name; a parameter of a kind that is not a member is refused by name.
    #[test]
    fn an_ensembles_space_reaches_its_members() {
        let c: Candidate = [("ease.lambda", 300.0), ("ials.factors", 8.0), ("rerank", 20.0), ("weight", 0.5)]
            .map(|(n, v)| (n.to_owned(), v))
            .to_vec();
        let p = apply_ranking(&RankingParams::default(), Kind::Ensemble, &c).unwrap();
        assert_eq!((p.kind, p.ease.lambda, p.ials.factors, p.rerank), (Kind::Ensemble, 300.0, 8, 20));
        assert_eq!(p.ensemble.weight, 0.5);
        for (name, v) in [("rp3beta.alpha", 0.5), ("ease.rerank", 20.0), ("ease.gamma", 1.0)] {
            let e = apply_ranking(&RankingParams::default(), Kind::Ensemble, &vec![(name.to_owned(), v)]).unwrap_err();
            assert!(e.to_string().contains(&format!("\"{name}\" for ensemble")), "{e}");
        }
        let e = apply_ranking(&RankingParams::default(), Kind::Ensemble, &vec![("ials.factors".to_owned(), 0.5)])
            .unwrap_err()
            .to_string();
        assert!(e.contains("factors") && e.contains("1 or more"), "{e}");
        let space = default_ranking_space(Kind::Ensemble).unwrap();
        assert!(candidates(of_kind(Kind::Ensemble), &space, Method::Grid, 0, 0).is_ok());
    }

    #[test]
    fn top_n_spaces_and_measures() {
        let s = space(&[("lambda", Values::List(vec![100.0, 500.0]))]);
        let c = candidates(of_kind(Kind::Ease), &s, Method::Grid, 0, 0).unwrap();
        let p = apply_ranking(&RankingParams::default(), Kind::Ease, &c[1]).unwrap();
        assert_eq!((p.kind, p.ease.lambda), (Kind::Ease, 500.0));
        let e = candidates(of_kind(Kind::Ials), &space(&[("lambda", Values::List(vec![1.0]))]), Method::Grid, 0, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\"lambda\" for ials") && e.contains("factors, regularization"), "{e}");
        let bad = vec![("factors".to_string(), 0.5)];
        assert!(apply_ranking(&RankingParams::default(), Kind::Ials, &bad).is_err());
        // `rerank` may be 0 (no reranking) but not below nor between whole numbers.
        let rerank = |v: f64| apply_ranking(&RankingParams::default(), Kind::Ease, &vec![("rerank".to_string(), v)]);
        assert_eq!((rerank(0.0).unwrap().rerank, rerank(50.0).unwrap().rerank), (0, 50));
        for v in [-1.0, 2.5] {
            let e = rerank(v).unwrap_err().to_string();
            assert!(e.ends_with("rerank: expected a whole number of 0 or more"), "{e}");
        }
        for text in ["rmse", "mae", "ndcg@10", "precision@5", "hit_rate@1", "map@20", "recall@3"] {
            let m = Measure::try_from(text.to_owned()).unwrap();
            assert_eq!(m.to_string(), text);
        }
        assert_eq!(Measure::try_from("ndcg@10".to_owned()).unwrap(), Measure::Ranking { metric: Metric::Ndcg, k: 10 });
        for bad in ["ndcg", "ndcg@0", "auc@10", "ndcg@x", "RMSE"] {
            let e = Measure::try_from(bad.to_owned()).unwrap_err();
            assert!(e.contains(bad) && e.contains("ndcg@10"), "{e}");
        }
    }

    /// Selecting by NDCG ranks EASE above SVD's predicted relevance on data where who rated
    /// what carries taste, and the same search gives the same results on 1 or 3 threads.
    #[test]
    fn a_search_over_kinds_by_a_ranking_measure() {
        use crate::data::scale::RatingScale;
        use crate::data::synthetic::{SyntheticConfig, generate};
        let data = generate(&SyntheticConfig { seed: 8, scale: 0.05, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap()
            .ratings;
        let svd = svd(SvdParams { n_factors: 10, n_epochs: 5, ..SvdParams::default() }, TrainMode::Fast);
        let ease = apply_ranking(&RankingParams::default(), Kind::Ease, &vec![("lambda".into(), 50.0)]).unwrap();
        let fits = vec![(vec![("n_factors".into(), 10.0)], svd), (vec![("lambda".into(), 50.0)], Spec::TopN(ease))];
        let measure = Measure::try_from("ndcg@10".to_owned()).unwrap();
        let run = |threads: usize| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap()
                .install(|| cross_validate(&data, &fits, 3, 1, measure, 60.0, None, |_, _| {}).unwrap())
        };
        let r = run(1);
        let scores = |r: &[CandidateResult]| {
            r.iter().map(|c| (c.rank, c.split_test_rmse.clone(), c.split_test_ranking.clone())).collect::<Vec<_>>()
        };
        assert_eq!(scores(&r), scores(&run(3)));
        assert_eq!((r[0].kind, r[1].kind), (Kind::Relevance, Kind::Ease));
        assert!(r[0].mean_test_rmse.is_some() && r[1].mean_test_rmse.is_none());
        assert_eq!(r[1].rank, Some(1), "{:?} vs {:?}", r[1].mean_test_ranking, r[0].mean_test_ranking);
        assert_eq!(r[1].split_test_ranking.len(), 3);
        assert_eq!(best(&r), Some(1));
        // Each fold's rmse is the fitted model's on the fold's test ratings, looked up by raw id.
        let folds = kfold(data.len(), 3, 1).unwrap();
        for (f, fold) in folds.iter().enumerate() {
            let train = data.select(&fold.train);
            let model = fits[0].1.fit_rating(1, &Trainset::new(&train)).unwrap().unwrap();
            let (rmse, _) = score(&model, &data, fold.test.iter().map(|&r| r as usize));
            assert_eq!(r[0].split_test_rmse[f], rmse, "fold {f}");
        }
    }

    #[test]
    fn candidates_that_differ_only_in_epochs_share_one_fit_and_score_as_their_own() {
        use crate::data::scale::RatingScale;
        use crate::data::synthetic::{SyntheticConfig, generate};
        let data = generate(&SyntheticConfig { seed: 8, scale: 0.03, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap()
            .ratings;
        // lr_all 0.2 diverges after a few epochs: its 1-epoch candidate may be fine, its 9-epoch
        // one is not.
        let grid = [(3, 0.005), (1, 0.005), (3, 0.01), (2, 0.005), (2, 0.005), (1, 0.2), (9, 0.2)];
        for mode in [TrainMode::Fast, TrainMode::Surprise] {
            let fits: Vec<(Candidate, Spec)> = grid
                .iter()
                .map(|&(n_epochs, lr_all)| {
                    let svd = svd(SvdParams { n_factors: 6, n_epochs, lr_all, ..SvdParams::default() }, mode);
                    (vec![("n_epochs".into(), n_epochs as f64), ("lr_all".into(), lr_all)], svd)
                })
                .collect();
            assert_eq!(units(&fits), [vec![1, 3, 4, 0], vec![2], vec![5, 6]]);
            let r = cross_validate(&data, &fits, 2, 1, Measure::Rmse, 60.0, None, |_, _| {}).unwrap();
            let folds = kfold(data.len(), 2, 1).unwrap();
            for (c, (_, spec)) in fits.iter().enumerate() {
                let Spec::Rating(Algorithm::Svd(p), _) = spec else { unreachable!() };
                let svd = p.check().unwrap();
                // A failed candidate's reason is its first failing fold's.
                let mut first_error = None;
                for (f, fold) in folds.iter().enumerate() {
                    let train = data.select(&fold.train);
                    match svd.fit(mode, 1, &Trainset::new(&train), |_| {}) {
                        Ok(model) if r[c].reason.is_none() => {
                            let (rmse, _) =
                                score(&RatingModel::from(model), &data, fold.test.iter().map(|&r| r as usize));
                            assert_eq!(r[c].split_test_rmse[f], rmse, "{mode:?}: candidate {c}, fold {f}");
                        }
                        Ok(_) => {}
                        Err(e) => {
                            first_error.get_or_insert(e.to_string());
                        }
                    }
                }
                assert_eq!(r[c].reason, first_error, "{mode:?}: candidate {c}");
            }
            assert_eq!(r[6].status, "failed", "{mode:?}: lr_all 0.2 did not diverge in 9 epochs");
            assert!(r[0].mean_fit_time.unwrap() > 0.0 && r[3].mean_test_rmse == r[4].mean_test_rmse);
        }
    }

    #[test]
    fn top_n_candidates_that_differ_only_in_rerank_share_one_ranking_and_score_as_their_own() {
        use crate::data::scale::RatingScale;
        use crate::data::synthetic::{SyntheticConfig, generate};
        let data = generate(&SyntheticConfig { seed: 8, scale: 0.03, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap()
            .ratings;
        let ials = |alpha: f64, rerank: f64| {
            let values = vec![("alpha".to_string(), alpha), ("iterations".into(), 3.0), ("rerank".into(), rerank)];
            let p = apply_ranking(&RankingParams::default(), Kind::Ials, &values).unwrap();
            (values, Spec::TopN(p))
        };
        let blended = |alpha: f64, rerank: f64, blend: f64| {
            let (mut values, _) = ials(alpha, rerank);
            values.push(("blend".into(), blend));
            let p = apply_ranking(&RankingParams::default(), Kind::Ials, &values).unwrap();
            (values, Spec::TopN(p))
        };
        let fits = vec![
            ials(2.0, 0.0),
            ials(2.0, 20.0),
            ials(5.0, 20.0),
            ials(2.0, 5.0),
            ials(5.0, 0.0),
            blended(2.0, 20.0, 0.5),
            blended(2.0, 5.0, 2.0),
        ];
        assert_eq!(units(&fits), [vec![0, 1, 3, 5, 6], vec![2, 4]]);
        let rating = svd(SvdParams { n_factors: 6, n_epochs: 5, ..SvdParams::default() }, TrainMode::Fast);
        let measure = Measure::try_from("ndcg@10".to_owned()).unwrap();
        let search = |fits: &[(Candidate, Spec)]| {
            cross_validate(&data, fits, 2, 1, measure, 60.0, Some(&rating), |_, _| {}).unwrap()
        };
        let together = search(&fits);
        // Each candidate searched alone (its own fit and ranking) scores the same on each fold.
        for (c, fit) in fits.iter().enumerate() {
            let alone = search(std::slice::from_ref(fit));
            assert_eq!(together[c].split_test_ranking, alone[0].split_test_ranking, "candidate {c}");
        }
        let ranking = |c: usize| together[c].split_test_ranking.clone();
        assert_ne!(ranking(0), ranking(1), "re-ordering changed nothing");
        assert_ne!(ranking(1), ranking(3));
        assert_ne!(ranking(1), ranking(5), "blending changed nothing");
        // Without a rating model, re-ordering fails; the unit's candidate with rerank 0 does not.
        let r = cross_validate(&data, &fits, 2, 1, measure, 60.0, None, |_, _| {}).unwrap();
        assert_eq!([0, 1, 3].map(|c| r[c].status), ["ok", "failed", "failed"]);
        assert_eq!(r[0].split_test_ranking, ranking(0));
    }

    #[test]
    fn population_sd() {
        assert_eq!(mean_std(&[1.0, 3.0]), (2.0, 1.0));
    }
}
