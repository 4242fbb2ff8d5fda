//! The search's plan: which candidates `optimize` searches, on which folds, which fits share
//! work, how the rating model and the ranking are chosen, and how they are refitted. One plan,
//! run whole in one process or cut into shards that run apart (on other machines) and are
//! merged into the same result.
//!
//! A search has two rounds on the same folds. The *rating* round cross-validates the rating
//! candidates (SVD's, then Surprise's other algorithms') and chooses the rating model, by rmse
//! (mae if that is the measure). When the measure is a ranking measure, the *ranking* round
//! then measures the rating model's own order and every top-N candidate (whose `rerank`
//! re-orders by the rating model fitted on the same fold) by it, and the best is the ranking.
//! Each round is a list of tasks, one per (unit of candidates sharing a fit, fold), and each
//! task's results depend on nothing but its unit and fold ([`Round`]): so shard `K/N` runs
//! the round's tasks `K-1`, `K-1+N`, `K-1+2N`, … and the merge of all `N` shards holds the same
//! scores as a run in one process, whatever `N`, whichever machine ran which shard and however
//! often one was retried.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::data::dataset::RatingList;
use crate::data::split::{self, SplitError};
use crate::data::trainset::Trainset;
use crate::evaluation::search::{self, Candidate, CandidateResult, Measure, Method, Round, Spec, TaskResult, Values};
use crate::models::artifact::{self, Fnv64, Provenance};
use crate::models::rating::svd::{SvdParams, TrainMode};
use crate::models::{Algorithm, FitError, Kind, RankingParams, RatingModel, Recommender};

/// The `optimize` section.
///
/// | Name | Default | Purpose |
/// |---|---|---|
/// | `method` | `grid` | `grid` (every combination) or `random` (`n_iter` seeded draws) |
/// | `n_iter` | 20 | draws of the random search |
/// | `seed` | 42 | the folds' shuffle and the random draws |
/// | `cv` | 3 | folds of the cross-validation (every candidate sees the same folds) |
/// | `search_ratings` | 2,000,000 | above this many training ratings, the folds are cut from a seeded sample of whole users holding at most this many (the refits use every rating); 0: never sample |
/// | `threads` | 0 | threads running (candidate, fold) fits; 0: all cores. Results do not depend on it |
/// | `mode` | `fast` | the training mode of every fit |
/// | `measure` | `ndcg@10` | what selects the ranking: `rmse` or `mae` (the rating models' candidates only; the lists keep the rating model's order), or a ranking measure at K (`ndcg@10`, `precision@10`, `recall@10`, `map@10`, `hit_rate@10`) over every kind |
/// | `relevance_threshold` | 60 | a held-out score at or above it is relevant (ranking measures) |
/// | `base` | AdaGrad's step (`adagrad`, `lr_bu` = `lr_bi` 0.2), seed 42; otherwise Surprise's defaults | SVD parameters that are not searched |
/// | `space` | the default grid (54 candidates) | SVD's searched parameters: lists, or `{min, max, log}` ranges for the random search |
/// | `algorithms` | none | Surprise's other algorithms searched beside SVD, each by its `param_grid` as Surprise's `GridSearchCV` takes it (lists; `sim_options` and `bsl_options` dicts of lists) |
/// | `ranking.base` | the kinds' defaults | the top-N kinds' parameters that are not searched (its `kind` is ignored) |
/// | `ranking.max_dislikes` | 0.05 | the most predicted dislikes (the share of the top K the rating model predicts below the user's own mean, on average over the folds) the winner's lists may hold: candidates above it rank after all within it; null: no limit |
/// | `ranking.spaces` | EASE's λ, `dropout` and `liking`, each as ranked or its best 20 or 50 blended, dislikes last or not; implicit ALS's factors, α and `preference`, each with and without `rerank` 20; RP3beta's α and β; the ensemble of EDLAE and implicit ALS, its weight and EDLAE's λ, each as ranked or its best 20 or 50 blended, dislikes last or not; popularity (129 candidates) | a space per top-N kind, searched when `measure` is a ranking measure |
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)] // documented in the table above
pub struct OptimizeParams {
    pub method: Method,
    pub n_iter: usize,
    pub seed: u32,
    pub cv: usize,
    pub search_ratings: usize,
    pub threads: usize,
    pub mode: TrainMode,
    pub measure: Measure,
    pub relevance_threshold: f64,
    pub base: SvdParams,
    pub space: BTreeMap<String, Values>,
    pub algorithms: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
    pub ranking: RankingSearch,
}

/// `optimize.ranking`: the top-N kinds searched beside SVD.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RankingSearch {
    /// Parameters not searched.
    pub base: RankingParams,
    /// A space per top-N kind (an empty space is one candidate: the base parameters).
    pub spaces: BTreeMap<Kind, BTreeMap<String, Values>>,
    /// The most predicted dislikes a winner's lists may hold, on average over the folds (the
    /// share of the top K whose relevance the rating model predicts below the user's own mean
    /// score): candidates above it rank after every one within it. `None`: no limit.
    pub max_dislikes: Option<f64>,
}

impl Default for RankingSearch {
    /// Every top-N kind of the registry over its default space
    /// ([`search::default_ranking_space`]).
    fn default() -> RankingSearch {
        RankingSearch {
            base: RankingParams::default(),
            spaces: Kind::ALL.into_iter().filter_map(|k| Some((k, search::default_ranking_space(k)?))).collect(),
            max_dislikes: Some(0.05),
        }
    }
}

impl OptimizeParams {
    /// The rating algorithm `space` searches: SVD on `base`, fitted in `mode`.
    pub fn space_base(&self) -> Algorithm {
        Algorithm::Svd(SvdParams { mode: self.mode, ..self.base })
    }
}

impl Default for OptimizeParams {
    fn default() -> OptimizeParams {
        let list = |v: &[f64]| Values::List(v.to_vec());
        OptimizeParams {
            method: Method::Grid,
            n_iter: 20,
            seed: 42,
            cv: 3,
            search_ratings: 2_000_000,
            threads: 0,
            mode: TrainMode::Fast,
            measure: Measure::Ranking { metric: search::Metric::Ndcg, k: 10 },
            relevance_threshold: 60.0,
            base: SvdParams { seed: 42, adagrad: true, lr_bu: Some(0.2), lr_bi: Some(0.2), ..SvdParams::default() },
            space: BTreeMap::from([
                ("n_factors".to_owned(), list(&[50.0, 100.0, 175.0])),
                ("n_epochs".to_owned(), list(&[20.0, 30.0, 40.0])),
                ("lr_all".to_owned(), list(&[0.03, 0.05])),
                ("reg_all".to_owned(), list(&[0.02, 0.05, 0.1])),
            ]),
            algorithms: BTreeMap::new(),
            ranking: RankingSearch::default(),
        }
    }
}

/// The candidates of `space` for a rating algorithm searched by one ([`Algorithm::searchable`]):
/// every combination, or `n_iter` draws seeded by `seed`, each applied to `base` and checked
/// (also against its training mode).
///
/// # Errors
/// The first candidate's or space's problem, as text.
pub fn space_candidates(
    base: &Algorithm,
    space: &BTreeMap<String, Values>,
    method: Method,
    n_iter: usize,
    seed: u32,
) -> Result<Vec<(Candidate, Spec)>, String> {
    search::candidates((base.name(), base.searchable()), space, method, n_iter, seed)
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|c| {
            let a = search::apply(base, &c).map_err(|e| e.to_string())?;
            a.check()?;
            let searched = c.iter().map(|(k, v)| (k.clone(), serde_json::Value::from(*v))).collect();
            Ok((c, Spec::Rating(a, searched)))
        })
        .collect()
}

/// One rating algorithm's candidates: SVD's from `space` ([`space_candidates`], by `p`'s
/// method, draws, seed and training mode, on `p.base`), or another of Surprise's algorithms'
/// from its `param_grid`, every combination whatever the method, as Surprise's
/// `GridSearchCV` takes it. `optimize` gathers SVD's and those of `optimize.algorithms`;
/// `serve`'s grid search one algorithm's.
///
/// # Errors
/// The space's, the grid's or the first candidate's problem, as text.
pub fn rating_candidates(
    algorithm: &str,
    space: &BTreeMap<String, Values>,
    param_grid: &serde_json::Map<String, serde_json::Value>,
    p: &OptimizeParams,
) -> Result<Vec<(Candidate, Spec)>, String> {
    let base = p.space_base();
    if algorithm == base.name() {
        return space_candidates(&base, space, p.method, p.n_iter, p.seed);
    }
    let specs = search::algorithm_candidates(algorithm, param_grid).map_err(|e| e.to_string())?;
    Ok(specs.into_iter().map(|s| (Candidate::new(), s)).collect())
}

/// Why a search cannot be planned or run.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A parameter (`field`, as the params file names it) that cannot be searched.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// Where it is, as `optimize.space`.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// No candidate at all.
    #[error("the search has no candidate (random search with n_iter 0?)")]
    NoCandidate,
    /// The sample of users is too small to cut the folds from.
    #[error(
        "optimize.search_ratings {max} leaves {ratings} ratings to cut {cv} folds from: raise it, or set 0 to \
         search on every training rating"
    )]
    SampleTooSmall {
        /// `optimize.search_ratings`.
        max: usize,
        /// The ratings sampled.
        ratings: usize,
        /// The folds.
        cv: usize,
    },
    /// The folds cannot be cut.
    #[error("invalid {prefix}cv: {source}")]
    Folds {
        /// Where the folds are set (`optimize.`).
        prefix: String,
        /// Why.
        source: SplitError,
    },
    /// Every rating candidate failed.
    #[error("every rating candidate failed (the rating model needs one); the first: {0}")]
    AllFailed(String),
    /// Shard files that cannot be merged: each message names the files.
    #[error("{0}")]
    Merge(String),
    /// A search set written for another plan than the params make.
    #[error(
        "the search set was written for the plan {written}, and these params make the plan {ours}: it was written \
         with other params (or another version of movierec); write it again with these"
    )]
    OtherPlan {
        /// The plan the search set records.
        written: String,
        /// The plan of these params on its data.
        ours: String,
    },
}

/// The search's input on its own, for shards that run apart: the ratings the folds are cut
/// from (the training set, or the sample of its users), with what else identifies the plan.
/// Written once by [`Plan::search_set`], it is all a shard reads ([`Plan::of_search_set`]): a
/// sample is a fraction of the training set.
#[derive(Clone, Debug)]
pub struct SearchSet {
    /// The ratings the folds are cut from, in the plan's order.
    pub ratings: RatingList,
    /// What the search set records besides.
    pub info: SearchSetInfo,
}

/// What identifies a search set's plan, beside its ratings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchSetInfo {
    /// [`SearchSetInfo::FORMAT`].
    pub format: String,
    /// The plan's fingerprint ([`Plan::fingerprint`]).
    pub plan: String,
    /// The training set's fingerprint ([`artifact::fingerprint`]).
    pub data: String,
    /// The catalogue's size: how many movies all ratings rate.
    pub n_items: usize,
    /// Whether the ratings are a sample of the training set's users.
    pub sampled: bool,
}

impl SearchSetInfo {
    /// What the `format` field of a search set holds.
    pub const FORMAT: &'static str = "movierec search set 1";
}

/// The two rounds of a search (module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The rating candidates, to choose the rating model.
    Rating,
    /// The rating model's own order and the top-N candidates, to choose the ranking.
    Ranking,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Rating => "rating",
            Stage::Ranking => "ranking",
        })
    }
}

/// Part `k` of `n` of a round's tasks (from 1): `K/N` on a command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shard {
    /// Which part, from 1 to `n`.
    pub k: usize,
    /// How many parts.
    pub n: usize,
}

impl Shard {
    /// The whole round.
    pub const WHOLE: Shard = Shard { k: 1, n: 1 };

    /// Whether task `task` of a round is this shard's.
    pub fn holds(self, task: usize) -> bool {
        task % self.n == self.k - 1
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.k, self.n)
    }
}

impl FromStr for Shard {
    type Err = String;

    fn from_str(s: &str) -> Result<Shard, String> {
        let bad = |why: &str| format!("invalid shard {s:?}: {why} (expected K/N, as 2/4: part K of N, K from 1 to N)");
        let (k, n) = s.split_once('/').ok_or_else(|| bad("no '/'"))?;
        let number =
            |v: &str, name: &str| v.trim().parse::<usize>().map_err(|_| bad(&format!("{name} is not a whole number")));
        let (k, n) = (number(k, "K")?, number(n, "N")?);
        if n == 0 {
            return Err(bad("N is 0"));
        }
        if k == 0 || k > n {
            return Err(bad(&format!("K is {k}, outside 1 to {n}")));
        }
        Ok(Shard { k, n })
    }
}

/// What a shard ran: the plan and round it belongs to, and its tasks' results. Written by
/// one process, read by the merge.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShardFile {
    /// [`ShardFile::FORMAT`].
    pub format: String,
    /// The plan's fingerprint ([`Plan::fingerprint`]): its params, its data, this version.
    pub plan: String,
    /// The round.
    pub stage: Stage,
    /// In the ranking round, the rating model it measured with (its candidate, from 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rating_model: Option<usize>,
    /// Which part of the round.
    pub shard: Shard,
    /// The shard's own time, seconds.
    pub seconds: f64,
    /// Its tasks' results, in task order.
    pub results: Vec<TaskResult>,
}

impl ShardFile {
    /// What the `format` field of a shard file holds.
    pub const FORMAT: &'static str = "movierec search shard 1";
}

/// The sample of whole users `p` searches on, if `train` holds more than
/// `p.search_ratings` ratings.
fn sample(p: &OptimizeParams, train: &RatingList) -> Option<RatingList> {
    match p.search_ratings {
        0 => None,
        max => split::sample_users(train, max, p.seed).map(|rows| train.select(&rows)),
    }
}

/// The data a search runs on: the training set (borrowed, or read from a search set), or a
/// sample of its users.
enum Searched<'a> {
    Whole(&'a RatingList),
    Owned(Box<RatingList>),
    Sample(Box<RatingList>),
}

/// A search planned on a training set (module docs).
pub struct Plan<'a> {
    params: OptimizeParams,
    /// What chooses the rating model (the accuracy measure, or for `serve`'s jobs the
    /// measure asked for).
    rating_measure: Measure,
    rating: Vec<(Candidate, Spec)>,
    ranking: Vec<(Candidate, Spec)>,
    left_out: Vec<serde_json::Value>,
    searched: Searched<'a>,
    /// The training set's fingerprint.
    data: String,
    n_items: usize,
    fingerprint: String,
}

/// A search's result: every candidate's scores (the rating candidates, then the top-N ones),
/// the rating model and the ranking chosen.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Every candidate's cross-validated scores, ranked by the measure.
    pub cv_results: Vec<CandidateResult>,
    /// The rating model: its index in `cv_results`.
    pub best: usize,
    /// The ranking: its index in `cv_results` (`best` when the lists keep the rating model's
    /// order).
    pub best_ranking: usize,
    /// The rating model's parameters, all of them.
    pub best_params: serde_json::Value,
    /// The rating model's algorithm.
    pub best_algorithm: &'static str,
    /// The rating model's spec.
    pub rating: Spec,
    /// The ranking's parameters (kind `relevance`: the rating model's order).
    pub ranking: RankingParams,
    /// The search's time, seconds (summed over the shards of a merged search).
    pub seconds: f64,
}

impl Outcome {
    /// How many candidates failed.
    pub fn failed(&self) -> usize {
        self.cv_results.iter().filter(|r| r.status == "failed").count()
    }

    /// The rating model and the ranking chosen, fitted on `t` (an SVD on `threads` threads, the
    /// rest on the current pool).
    ///
    /// # Errors
    /// Why a fit failed, naming which.
    pub fn fit(&self, threads: usize, t: &Trainset<'_>) -> Result<Recommender, String> {
        let rating = self
            .rating
            .fit_rating(threads, t)
            .expect("the rating model is a rating candidate")
            .map_err(|e| format!("fitting the rating model: {e}"))?;
        let ranking = self.ranking.fit(t, 0).map_err(|e| format!("fitting the ranking: {e}"))?;
        Ok(Recommender { rating, ranking, reorder: self.ranking.reorder() })
    }

    /// The threads a fit of the rating model on `threads` threads uses (one for an
    /// algorithm that runs on one, [`Algorithm::one_thread`]), as its model file records.
    pub fn fit_threads(&self, threads: usize) -> usize {
        match &self.rating {
            Spec::Rating(a, _) if a.one_thread() => 1,
            _ => threads,
        }
    }

    /// The model to serve: the rating model and the ranking chosen, fitted on every rating of
    /// `all` ([`Outcome::fit`]), with its provenance (the fit's time excludes building the
    /// training set).
    ///
    /// # Errors
    /// Why a fit failed, naming which.
    pub fn fit_to_serve(&self, threads: usize, all: &RatingList) -> Result<(Recommender, Provenance), String> {
        let t = Trainset::new(all);
        let started = Instant::now();
        let model = self.fit(threads, &t)?;
        Ok((model, Provenance::of(all, started.elapsed().as_secs_f64(), self.fit_threads(threads))))
    }

    /// The rating model alone fitted on every rating of `all`, with its provenance (the
    /// fit's time includes building the training set): what a grid search of the rating
    /// model promotes, keeping the ranking it serves.
    ///
    /// # Errors
    /// Why the fit failed.
    pub fn fit_rating_to_serve(&self, threads: usize, all: &RatingList) -> Result<(RatingModel, Provenance), String> {
        let started = Instant::now();
        let t = Trainset::new(all);
        let model = self.rating.fit_rating(threads, &t).expect("the rating model is a rating candidate")?;
        Ok((model, Provenance::of(all, started.elapsed().as_secs_f64(), self.fit_threads(threads))))
    }
}

impl<'a> Plan<'a> {
    /// The search `p` asks for on the training set `train` of a catalogue of `n_items` movies:
    /// its candidates (every parameter checked; top-N candidates that cannot work on
    /// `n_items` movies left out), and the data its folds are cut from (above
    /// `p.search_ratings` ratings, a seeded sample of whole users). Field names in errors
    /// start with `prefix` (`optimize.`).
    ///
    /// # Errors
    /// [`PlanError`] naming the parameter.
    pub fn new(p: &OptimizeParams, train: &'a RatingList, n_items: usize, prefix: &str) -> Result<Plan<'a>, PlanError> {
        let searched = sample(p, train).map_or(Searched::Whole(train), |s| Searched::Sample(Box::new(s)));
        Plan::build(p, searched, artifact::fingerprint(train), n_items, prefix)
    }

    /// [`Plan::new`] on a training set it keeps (while it searches on all of it) or drops.
    ///
    /// # Errors
    /// As [`Plan::new`].
    pub fn of_owned(
        p: &OptimizeParams,
        train: RatingList,
        n_items: usize,
        prefix: &str,
    ) -> Result<Plan<'static>, PlanError> {
        let data = artifact::fingerprint(&train);
        let searched = match sample(p, &train) {
            Some(s) => Searched::Sample(Box::new(s)),
            None => Searched::Owned(Box::new(train)),
        };
        Plan::build(p, searched, data, n_items, prefix)
    }

    /// The plan of `p` on a search set ([`Plan::search_set`]): the plan [`Plan::new`] makes on
    /// the training set the search set was written from, without reading it.
    ///
    /// # Errors
    /// [`PlanError`] naming the parameter, or [`PlanError::OtherPlan`] if the search set was
    /// written with other params.
    pub fn of_search_set(p: &OptimizeParams, set: SearchSet, prefix: &str) -> Result<Plan<'static>, PlanError> {
        let SearchSet { ratings, info } = set;
        let searched =
            if info.sampled { Searched::Sample(Box::new(ratings)) } else { Searched::Owned(Box::new(ratings)) };
        let plan = Plan::build(p, searched, info.data, info.n_items, prefix)?;
        if plan.fingerprint != info.plan {
            return Err(PlanError::OtherPlan { written: info.plan, ours: plan.fingerprint });
        }
        Ok(plan)
    }

    /// The plan's search set: what [`Plan::of_search_set`] plans the same search from.
    pub fn search_set(&self) -> (&RatingList, SearchSetInfo) {
        let info = SearchSetInfo {
            format: SearchSetInfo::FORMAT.to_owned(),
            plan: self.fingerprint.clone(),
            data: self.data.clone(),
            n_items: self.n_items,
            sampled: self.sampled(),
        };
        (self.searched(), info)
    }

    /// The plan of `p` on `searched`, cut from a training set of fingerprint `data`.
    fn build(
        p: &OptimizeParams,
        searched: Searched<'a>,
        data: String,
        n_items: usize,
        prefix: &str,
    ) -> Result<Plan<'a>, PlanError> {
        let invalid = |field: String| move |message: String| PlanError::Invalid { field, message };
        if let Some(m) = p.ranking.max_dislikes.filter(|m| !(0.0..=1.0).contains(m)) {
            return Err(invalid(format!("{prefix}ranking.max_dislikes"))(format!(
                "{m} is not a share: expected a number from 0 to 1, or null for no limit"
            )));
        }
        let mut rating = space_candidates(&p.space_base(), &p.space, p.method, p.n_iter, p.seed)
            .map_err(invalid(format!("{prefix}space")))?;
        if rating.is_empty() && p.algorithms.is_empty() {
            return Err(PlanError::NoCandidate);
        }
        for (name, grid) in &p.algorithms {
            let specs = search::algorithm_candidates(name, grid)
                .map_err(|e| invalid(format!("{prefix}algorithms.{name}"))(e.to_string()))?;
            rating.extend(specs.into_iter().map(|s| (Candidate::new(), s)));
        }
        let mut ranking = Vec::new();
        let mut left_out = Vec::new();
        if !p.measure.lower_is_better() {
            for (&kind, space) in &p.ranking.spaces {
                let field = format!("{prefix}ranking.spaces.{kind}");
                if kind == Kind::Relevance {
                    return Err(invalid(field)(format!("SVD's space is {prefix}space")));
                }
                if kind == Kind::Auto {
                    return Err(invalid(field)(
                        "auto chooses between ease and ials by the catalogue's size; give spaces for ease and \
                         ials, and the search keeps those that can work on the data"
                            .to_owned(),
                    ));
                }
                let candidates = search::candidates(search::of_kind(kind), space, p.method, p.n_iter, p.seed)
                    .map_err(|e| invalid(field.clone())(e.to_string()))?;
                for mut c in candidates {
                    let apply = |c: &Candidate| {
                        search::apply_ranking(&p.ranking.base, kind, c)
                            .map_err(|e| invalid(field.clone())(e.to_string()))
                    };
                    let mut params = apply(&c)?;
                    // `blend` weighs the movies `rerank` re-orders, and `demote_dislikes`
                    // moves them: with `rerank` 0 there are none, so a grid's combinations of
                    // either with `rerank` 0 are one candidate, without them.
                    let reorders = |name: &str| name == "blend" || name == "demote_dislikes";
                    if params.rerank == 0 && c.iter().any(|(name, _)| reorders(name)) {
                        c.retain(|(name, _)| !reorders(name));
                        params = apply(&c)?;
                        if ranking
                            .iter()
                            .any(|(other, spec)| *other == c && matches!(spec, Spec::TopN(o) if o.kind == kind))
                        {
                            continue;
                        }
                    }
                    // Candidates that cannot work on this catalogue (EASE above its item
                    // limit) are left out, and reported; any other refusal is an error.
                    match params.check_kind(params.kind, n_items) {
                        Ok(_) => ranking.push((c, Spec::TopN(params))),
                        Err(e @ FitError::TooManyItems { .. }) => left_out.push(serde_json::json!({
                            "kind": params.kind,
                            "params": c.iter().cloned().collect::<BTreeMap<_, _>>(),
                            "reason": e.to_string(),
                        })),
                        Err(e) => return Err(invalid(field)(e.to_string())),
                    }
                }
            }
        }
        if let Searched::Sample(s) = &searched
            && s.len() < 10 * p.cv
        {
            return Err(PlanError::SampleTooSmall { max: p.search_ratings, ratings: s.len(), cv: p.cv });
        }
        let accuracy = if p.measure == Measure::Mae { Measure::Mae } else { Measure::Rmse };
        let mut plan = Plan {
            params: p.clone(),
            rating_measure: accuracy,
            rating,
            ranking,
            left_out,
            searched,
            data,
            n_items,
            fingerprint: String::new(),
        };
        plan.fingerprint = plan.fingerprint_of();
        plan.check_folds(prefix)?;
        Ok(plan)
    }

    /// A search of the rating candidates `rating` alone on every rating of `train`, the rating
    /// model chosen by `measure` (rmse, mae, or a ranking measure of its own order), with
    /// `p`'s folds, seed, training mode and relevance threshold (`serve`'s grid search jobs).
    ///
    /// # Errors
    /// [`PlanError`] if there is no candidate or the folds cannot be cut.
    pub fn of_rating(
        p: &OptimizeParams,
        rating: Vec<(Candidate, Spec)>,
        measure: Measure,
        train: &'a RatingList,
    ) -> Result<Plan<'a>, PlanError> {
        if rating.is_empty() {
            return Err(PlanError::NoCandidate);
        }
        let p = OptimizeParams { measure, search_ratings: 0, ..p.clone() };
        let mut plan = Plan {
            params: p,
            rating_measure: measure,
            rating,
            ranking: Vec::new(),
            left_out: Vec::new(),
            searched: Searched::Whole(train),
            data: artifact::fingerprint(train),
            n_items: 0,
            fingerprint: String::new(),
        };
        plan.fingerprint = plan.fingerprint_of();
        plan.check_folds("")?;
        Ok(plan)
    }

    fn check_folds(&self, prefix: &str) -> Result<(), PlanError> {
        split::kfold(self.searched().len(), self.params.cv, self.params.seed)
            .map(drop)
            .map_err(|source| PlanError::Folds { prefix: prefix.to_owned(), source })
    }

    /// What identifies the plan: the search's params (but `threads`, which changes no
    /// result), the candidates, the training set, the catalogue's size and this version of
    /// movierec. A shard file from another plan is refused by the merge.
    fn fingerprint_of(&self) -> String {
        let mut h = Fnv64::default();
        let params = OptimizeParams { threads: 0, ..self.params.clone() };
        let text = serde_json::json!({
            "version": env!("CARGO_PKG_VERSION"),
            "params": params,
            "rating_measure": self.rating_measure,
            "candidates": self.rating.len() + self.ranking.len(),
            "data": self.data,
            "n_items": self.n_items,
        });
        h.update(text.to_string().as_bytes());
        format!("{:016x}", h.finish())
    }

    /// The plan's fingerprint (16 hexadecimal digits).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The ratings the folds are cut from.
    pub fn searched(&self) -> &RatingList {
        match &self.searched {
            Searched::Whole(l) => l,
            Searched::Owned(l) | Searched::Sample(l) => l,
        }
    }

    /// Whether the folds are cut from a sample of the training set's users.
    pub fn sampled(&self) -> bool {
        matches!(self.searched, Searched::Sample(_))
    }

    /// The candidates left out before any fit, as they cannot work on the catalogue: each with
    /// its kind, parameters and why.
    pub fn left_out(&self) -> &[serde_json::Value] {
        &self.left_out
    }

    /// How many candidates the search has.
    pub fn candidates(&self) -> usize {
        self.rating.len() + self.ranking.len()
    }

    /// Whether the search has a ranking round.
    pub fn ranks(&self) -> bool {
        !self.ranking.is_empty()
    }

    /// How many fits the search makes in all (the ranking round's counted with the rating
    /// model's own order).
    pub fn fits(&self) -> usize {
        (self.rating.len() + if self.ranks() { self.ranking.len() + 1 } else { 0 }) * self.params.cv
    }

    /// Round `stage`'s candidates: the rating candidates, or the rating model (`winner`) then
    /// the top-N candidates.
    fn stage_fits(&self, stage: Stage, winner: Option<usize>) -> Vec<(Candidate, Spec)> {
        match (stage, winner) {
            (Stage::Rating, _) => self.rating.clone(),
            (Stage::Ranking, Some(w)) => {
                std::iter::once(self.rating[w].clone()).chain(self.ranking.iter().cloned()).collect()
            }
            (Stage::Ranking, None) => unreachable!("the ranking round follows the rating model's choice"),
        }
    }

    /// Runs `f` on round `stage` (the ranking round with the rating candidate `winner`).
    fn with_round<R>(&self, stage: Stage, winner: Option<usize>, f: impl FnOnce(&Round<'_>) -> R) -> R {
        let fits = self.stage_fits(stage, winner);
        let p = &self.params;
        let (measure, rating) = match stage {
            Stage::Rating => (self.rating_measure, None),
            Stage::Ranking => (p.measure, winner.map(|w| &self.rating[w].1)),
        };
        let round = Round::new(self.searched(), &fits, p.cv, p.seed, measure, p.relevance_threshold, rating)
            .expect("the folds were checked when the plan was made")
            .with_max_dislikes(if stage == Stage::Ranking { p.ranking.max_dislikes } else { None });
        f(&round)
    }

    /// How many fits shard `shard` of round `stage` makes.
    pub fn shard_fits(&self, stage: Stage, shard: Shard) -> usize {
        if stage == Stage::Ranking && !self.ranks() {
            return 0;
        }
        let winner = (stage == Stage::Ranking).then_some(0);
        self.with_round(stage, winner, |r| (0..r.tasks()).filter(|&t| shard.holds(t)).map(|t| r.fits_of(t)).sum())
    }

    /// Runs shard `shard` of round `stage` on the current rayon pool (the ranking round with
    /// the rating candidate `winner`; nothing if the search has no ranking round).
    /// `on_fit(candidate, fold)` is called after each fit, the candidate numbered as in the
    /// search's results.
    pub fn run(
        &self,
        stage: Stage,
        winner: Option<usize>,
        shard: Shard,
        on_fit: impl Fn(usize, usize) + Sync,
    ) -> ShardFile {
        let t0 = Instant::now();
        let results = if stage == Stage::Ranking && !self.ranks() {
            Vec::new()
        } else {
            let offset = if stage == Stage::Ranking { self.rating.len() - 1 } else { 0 };
            self.with_round(stage, winner, |r| {
                let tasks: Vec<usize> = (0..r.tasks()).filter(|&t| shard.holds(t)).collect();
                r.run(&tasks, |c, f| {
                    on_fit(if c == 0 && stage == Stage::Ranking { winner.unwrap_or(0) } else { c + offset }, f)
                })
            })
        };
        ShardFile {
            format: ShardFile::FORMAT.to_owned(),
            plan: self.fingerprint.clone(),
            stage,
            rating_model: if stage == Stage::Ranking { winner.map(|w| w + 1) } else { None },
            shard,
            seconds: t0.elapsed().as_secs_f64(),
            results,
        }
    }

    /// Runs the whole search in this process, on the current rayon pool.
    ///
    /// # Errors
    /// [`PlanError::AllFailed`] if no rating candidate succeeded.
    pub fn search(&self, on_fit: impl Fn(usize, usize) + Sync) -> Result<Outcome, PlanError> {
        let rating = self.run(Stage::Rating, None, Shard::WHOLE, &on_fit);
        let winner = self.winner(std::slice::from_ref(&rating))?;
        let ranking = self.ranks().then(|| self.run(Stage::Ranking, Some(winner), Shard::WHOLE, &on_fit));
        let seconds = rating.seconds + ranking.as_ref().map_or(0.0, |r| r.seconds);
        self.outcome(&[rating], ranking.as_slice(), winner, seconds)
    }

    /// The rating model chosen by the rating round's complete results in `shards`.
    fn winner(&self, shards: &[ShardFile]) -> Result<usize, PlanError> {
        let results = self.summarize(Stage::Rating, None, shards)?;
        search::best(&results).ok_or_else(|| {
            PlanError::AllFailed(results[0].reason.clone().unwrap_or_else(|| "no reason recorded".to_owned()))
        })
    }

    /// Round `stage`'s candidates' scores from the results of `shards`.
    fn summarize(
        &self,
        stage: Stage,
        winner: Option<usize>,
        shards: &[ShardFile],
    ) -> Result<Vec<CandidateResult>, PlanError> {
        self.with_round(stage, winner, |r| r.summarize(shards.iter().flat_map(|s| s.results.iter().cloned())))
            .map_err(|e| PlanError::Merge(format!("the {stage} round's results are incomplete: {e}")))
    }

    fn outcome(
        &self,
        rating: &[ShardFile],
        ranking: &[ShardFile],
        best: usize,
        seconds: f64,
    ) -> Result<Outcome, PlanError> {
        let mut cv_results = self.summarize(Stage::Rating, None, rating)?;
        let mut best_ranking = best;
        if self.ranks() {
            let ranked = self.summarize(Stage::Ranking, Some(best), ranking)?;
            let own_order = &ranked[0];
            cv_results[best].mean_test_ranking = own_order.mean_test_ranking;
            cv_results[best].split_test_ranking = own_order.split_test_ranking.clone();
            cv_results[best].mean_test_dislikes = own_order.mean_test_dislikes;
            cv_results.extend(ranked.into_iter().skip(1));
            search::rank_by(&mut cv_results, self.params.measure, self.params.ranking.max_dislikes);
            best_ranking = search::best(&cv_results).expect("the rating model's own order has a score");
        }
        let (_, rating) = &self.rating[best];
        let best_params = match rating {
            Spec::Rating(a, _) => a.params(),
            Spec::TopN(_) => unreachable!("the rating model is a rating candidate"),
        };
        let ranking = match best_ranking.checked_sub(self.rating.len()) {
            Some(r) => match &self.ranking[r].1 {
                Spec::TopN(params) => params.clone(),
                _ => unreachable!("ranking candidates are top-N kinds"),
            },
            None => RankingParams { kind: Kind::Relevance, ..self.params.ranking.base.clone() },
        };
        Ok(Outcome {
            cv_results,
            best,
            best_ranking,
            best_params,
            best_algorithm: rating.algorithm().expect("the rating model is a rating candidate"),
            rating: rating.clone(),
            ranking,
            seconds,
        })
    }

    /// Merges the shard files `files` (each with a name for the messages, as its path) into
    /// the search's result: the same as [`Plan::search`]'s but for the fit times. Every shard
    /// of each round must be there once (twice only with the same results, as a retried
    /// shard's), from this plan; the ranking round's run with the rating model the rating
    /// round chooses.
    ///
    /// # Errors
    /// [`PlanError::Merge`] naming the file, or the shard that is missing.
    pub fn merge(&self, files: Vec<(String, ShardFile)>) -> Result<Outcome, PlanError> {
        let fail = |m: String| PlanError::Merge(m);
        let mut rounds: BTreeMap<Stage, Vec<(String, ShardFile)>> = BTreeMap::new();
        for (name, file) in files {
            self.check(&name, &file)?;
            rounds.entry(file.stage).or_default().push((name, file));
        }
        let rating = self.complete(Stage::Rating, None, rounds.remove(&Stage::Rating).unwrap_or_default())?;
        let best = self.winner(&rating)?;
        let ranking = match rounds.remove(&Stage::Ranking) {
            Some(files) if self.ranks() => self.complete(Stage::Ranking, Some(best), files)?,
            None if self.ranks() => {
                return Err(fail(
                    "no shard of the ranking round: the search measures rankings (run --shard K/N --after the rating \
                     round's shards)"
                        .to_owned(),
                ));
            }
            _ => Vec::new(),
        };
        let seconds = rating.iter().chain(&ranking).map(|s| s.seconds).sum();
        self.outcome(&rating, &ranking, best, seconds)
    }

    /// Refuses a file that is not a shard file of this version or is one of another plan.
    fn check(&self, name: &str, file: &ShardFile) -> Result<(), PlanError> {
        if file.format != ShardFile::FORMAT {
            return Err(PlanError::Merge(format!(
                "{name}: not a shard file of this version (format {:?}, expected {:?})",
                file.format,
                ShardFile::FORMAT
            )));
        }
        if file.plan != self.fingerprint {
            return Err(PlanError::Merge(format!(
                "{name}: a shard of another search (plan {}; this one is {}): other params, other data or another \
                 version of movierec",
                file.plan, self.fingerprint
            )));
        }
        Ok(())
    }

    /// The shards of round `stage` in `files`, checked: one count of shards, each shard once
    /// (a second copy only with the same results), every shard there, each holding exactly its
    /// tasks' results, and (the ranking round) run with the rating model `winner`.
    fn complete(
        &self,
        stage: Stage,
        winner: Option<usize>,
        files: Vec<(String, ShardFile)>,
    ) -> Result<Vec<ShardFile>, PlanError> {
        let fail = |m: String| Err(PlanError::Merge(m));
        let Some((first, n)) = files.first().map(|(name, f)| (format!("{name} is shard {}", f.shard), f.shard.n))
        else {
            return fail(format!("no shard of the {stage} round"));
        };
        let mut by_k: BTreeMap<usize, (String, ShardFile)> = BTreeMap::new();
        for (name, file) in files {
            if file.shard.n != n {
                return fail(format!(
                    "{name}: shard {} of the {stage} round, but {first}: a round's shards must all be cut in the same \
                     number of parts",
                    file.shard
                ));
            }
            if file.shard.k == 0 || file.shard.k > n {
                return fail(format!("{name}: shard {} does not exist", file.shard));
            }
            if stage == Stage::Ranking && file.rating_model != winner.map(|w| w + 1) {
                return fail(format!(
                    "{name}: run with rating candidate {} but the rating round's shards choose candidate {}",
                    file.rating_model.map_or("none".to_owned(), |c| c.to_string()),
                    winner.map_or(0, |w| w + 1)
                ));
            }
            let expected: BTreeSet<(usize, usize)> = self.shard_tasks(stage, winner, file.shard);
            let held: BTreeSet<(usize, usize)> = file.results.iter().map(|r| (r.candidate, r.fold)).collect();
            if held != expected || held.len() != file.results.len() {
                return fail(format!(
                    "{name}: shard {} of the {stage} round holds {} results, not the {} (candidate, fold) results it \
                     should",
                    file.shard,
                    file.results.len(),
                    expected.len()
                ));
            }
            match by_k.get(&file.shard.k) {
                Some((first, kept)) => {
                    let scores = |f: &ShardFile| {
                        f.results
                            .iter()
                            .map(|r| (r.candidate, r.fold, r.scores.clone().map(|s| (s.accuracy, s.ranking))))
                            .collect::<Vec<_>>()
                    };
                    if scores(kept) != scores(&file) {
                        return fail(format!(
                            "{first} and {name} are both shard {} of the {stage} round, with different results",
                            file.shard
                        ));
                    }
                }
                None => {
                    by_k.insert(file.shard.k, (name, file));
                }
            }
        }
        if let Some(k) = (1..=n).find(|k| !by_k.contains_key(k)) {
            return fail(format!("shard {k}/{n} of the {stage} round is missing"));
        }
        Ok(by_k.into_values().map(|(_, f)| f).collect())
    }

    /// The (candidate, fold) pairs shard `shard` of round `stage` measures.
    fn shard_tasks(&self, stage: Stage, winner: Option<usize>, shard: Shard) -> BTreeSet<(usize, usize)> {
        if stage == Stage::Ranking && !self.ranks() {
            return BTreeSet::new();
        }
        let tasks = |r: &Round<'_>| (0..r.tasks()).filter(|&t| shard.holds(t)).flat_map(|t| r.task_fits(t)).collect();
        self.with_round(stage, winner, tasks)
    }
}

/// The rating round's winner from its shard files, for the ranking round's shards (which
/// run after it): the same checks as the merge's.
///
/// # Errors
/// [`PlanError::Merge`] or [`PlanError::AllFailed`].
pub fn rating_winner(plan: &Plan<'_>, files: Vec<(String, ShardFile)>) -> Result<usize, PlanError> {
    let mut rating = Vec::new();
    for (name, file) in files {
        plan.check(&name, &file)?;
        if file.stage != Stage::Rating {
            return Err(PlanError::Merge(format!(
                "{name}: a shard of the {} round, not of the rating round",
                file.stage
            )));
        }
        rating.push((name, file));
    }
    let rating = plan.complete(Stage::Rating, None, rating)?;
    plan.winner(&rating)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::scale::RatingScale;
    use crate::data::synthetic::{SyntheticConfig, generate};

    fn data() -> RatingList {
        generate(&SyntheticConfig { seed: 8, scale: 0.03, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap()
            .ratings
    }

    /// A small search of every shape: SVD candidates sharing a fit, another algorithm, top-N
    /// kinds with and without `rerank`, by NDCG.
    fn params() -> OptimizeParams {
        let list = |v: &[f64]| Values::List(v.to_vec());
        OptimizeParams {
            cv: 3,
            base: SvdParams { n_factors: 4, seed: 3, ..SvdParams::default() },
            space: BTreeMap::from([
                ("n_epochs".to_owned(), list(&[2.0, 4.0])),
                ("lr_all".to_owned(), list(&[0.005, 0.01])),
            ]),
            algorithms: BTreeMap::from([
                ("baseline_only".to_owned(), serde_json::Map::new()),
                ("knn_basic".to_owned(), serde_json::json!({"k": [10, 20]}).as_object().unwrap().clone()),
            ]),
            ranking: RankingSearch {
                base: RankingParams::default(),
                spaces: BTreeMap::from([
                    (Kind::Popularity, BTreeMap::new()),
                    (
                        Kind::Ease,
                        BTreeMap::from([
                            ("lambda".to_owned(), list(&[50.0, 500.0])),
                            ("rerank".to_owned(), list(&[0.0, 10.0])),
                        ]),
                    ),
                ]),
                ..RankingSearch::default()
            },
            ..OptimizeParams::default()
        }
    }

    /// Scores and choices, without the times.
    fn timeless(o: &Outcome) -> (Vec<CandidateResult>, usize, usize, RankingParams) {
        let mut r = o.cv_results.clone();
        for c in &mut r {
            (c.mean_fit_time, c.std_fit_time) = (None, None);
        }
        (r, o.best, o.best_ranking, o.ranking.clone())
    }

    /// Every shard of both rounds, `n` of each, run as separate processes would.
    fn shards(plan: &Plan<'_>, n: usize) -> Vec<(String, ShardFile)> {
        let run = |stage, winner| {
            (1..=n).map(move |k| (format!("{stage}-{k}"), plan.run(stage, winner, Shard { k, n }, |_, _| {})))
        };
        let rating: Vec<_> = run(Stage::Rating, None).collect();
        let winner = rating_winner(plan, rating.clone()).unwrap();
        // Each written and read back, as the merge gets them.
        let ranking: Vec<_> = run(Stage::Ranking, Some(winner)).collect();
        rating
            .into_iter()
            .chain(ranking)
            .map(|(name, f)| (name, serde_json::from_str(&serde_json::to_string(&f).unwrap()).unwrap()))
            .collect()
    }

    /// A grid's combinations of a blend or a demotion of dislikes with `rerank` 0 (nothing
    /// to weigh or move) are one candidate, without them; with `rerank` above 0, each
    /// combination is a candidate.
    #[test]
    fn a_blend_without_rerank_is_one_candidate() {
        let data = data();
        let mut p = params();
        let list = |v: &[f64]| Values::List(v.to_vec());
        p.ranking.spaces = BTreeMap::from([(
            Kind::Ease,
            BTreeMap::from([
                ("lambda".to_owned(), list(&[50.0])),
                ("rerank".to_owned(), list(&[0.0, 10.0])),
                ("blend".to_owned(), list(&[0.5, 1.0])),
                ("demote_dislikes".to_owned(), list(&[0.0, 1.0])),
            ]),
        )]);
        let plan = Plan::new(&p, &data, data.movies().len(), "optimize.").unwrap();
        let ease: Vec<&Candidate> = plan.ranking.iter().map(|(c, _)| c).collect();
        let names = |c: &Candidate| c.iter().map(|(n, v)| format!("{n} {v}")).collect::<Vec<_>>().join(", ");
        let shown: Vec<String> = ease.iter().map(|c| names(c)).collect();
        assert_eq!(
            shown,
            [
                "lambda 50, rerank 0",
                "blend 0.5, demote_dislikes 0, lambda 50, rerank 10",
                "blend 0.5, demote_dislikes 1, lambda 50, rerank 10",
                "blend 1, demote_dislikes 0, lambda 50, rerank 10",
                "blend 1, demote_dislikes 1, lambda 50, rerank 10",
            ]
        );
        let reorders: Vec<(Option<f64>, bool)> = plan
            .ranking
            .iter()
            .map(|(_, s)| match s {
                Spec::TopN(p) => (p.blend, p.demote_dislikes),
                _ => unreachable!(),
            })
            .collect();
        assert_eq!(
            reorders,
            [(None, false), (Some(0.5), false), (Some(0.5), true), (Some(1.0), false), (Some(1.0), true)]
        );
    }

    #[test]
    fn shards_merge_into_the_search_in_one_process_whatever_their_number_and_order() {
        let data = data();
        let p = params();
        let plan = Plan::new(&p, &data, data.movies().len(), "optimize.").unwrap();
        assert_eq!(plan.candidates(), 4 + 3 + 1 + 4, "4 SVD, baseline_only, 2 knn_basic, popularity, 4 EASE");
        let whole = plan.search(|_, _| {}).unwrap();
        assert_eq!(whole.failed(), 0);
        assert!(whole.cv_results.iter().all(|r| r.split_test_rmse.len() == 3 || r.split_test_ranking.len() == 3));
        for n in [1, 2, 3, 5, 40] {
            let mut files = shards(&plan, n);
            files.reverse();
            let merged = plan.merge(files.clone()).unwrap();
            assert_eq!(timeless(&merged), timeless(&whole), "{n} shards");
            assert_eq!(merged.best_params, whole.best_params);
            // A shard run again (a retry) holds the same results, times aside: taken once.
            files.push(files[0].clone());
            files.last_mut().unwrap().1.seconds += 1.0;
            assert_eq!(timeless(&plan.merge(files).unwrap()), timeless(&whole), "{n} shards, one twice");
        }
        // The same on more threads.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let merged = pool.install(|| plan.merge(shards(&plan, 4))).unwrap();
        assert_eq!(timeless(&merged), timeless(&whole));
    }

    #[test]
    fn the_merge_refuses_what_it_cannot_trust_naming_the_file() {
        let data = data();
        let p = params();
        let plan = Plan::new(&p, &data, data.movies().len(), "optimize.").unwrap();
        let files = shards(&plan, 3);
        let refused = |files: Vec<(String, ShardFile)>| plan.merge(files).expect_err("refused").to_string();

        let mut missing = files.clone();
        missing.remove(1);
        assert_eq!(refused(missing), "shard 2/3 of the rating round is missing");
        let no_ranking: Vec<_> = files.iter().filter(|(_, f)| f.stage == Stage::Rating).cloned().collect();
        assert!(refused(no_ranking).starts_with("no shard of the ranking round"));

        let mut differ = files.clone();
        let mut copy = differ[0].clone();
        copy.0 = "elsewhere/rating-1".to_owned();
        let first = copy.1.results.iter_mut().find(|r| r.scores.as_ref().is_ok_and(|s| s.accuracy.is_some())).unwrap();
        first.scores.as_mut().unwrap().accuracy.as_mut().unwrap().0 += 1e-9;
        differ.push(copy);
        assert_eq!(
            refused(differ),
            "rating-1 and elsewhere/rating-1 are both shard 1/3 of the rating round, with different results"
        );

        let mut mixed = files.clone();
        mixed[1].1.shard.n = 4;
        assert!(refused(mixed).starts_with("rating-2: shard 2/4 of the rating round, but rating-1 is shard 1/3"));

        let mut truncated = files.clone();
        truncated[2].1.results.pop();
        assert!(refused(truncated).starts_with("rating-3: shard 3/3 of the rating round holds"));

        // Another plan: other params, or other data.
        for other in [
            Plan::new(&OptimizeParams { seed: 43, ..p.clone() }, &data, data.movies().len(), "optimize.").unwrap(),
            Plan::new(&p, &data.select(&(0..data.len() as u32 - 1).collect::<Vec<_>>()), data.movies().len(), "")
                .unwrap(),
        ] {
            let e = other.merge(files.clone()).unwrap_err().to_string();
            assert!(e.starts_with("rating-1: a shard of another search (plan "), "{e}");
        }
        // The threads change no result, and so no plan.
        let more = Plan::new(&OptimizeParams { threads: 7, ..p.clone() }, &data, data.movies().len(), "").unwrap();
        assert_eq!(more.fingerprint(), plan.fingerprint());

        // The ranking round run after another rating model.
        let mut wrong = files.clone();
        for (_, f) in wrong.iter_mut().filter(|(_, f)| f.stage == Stage::Ranking) {
            f.rating_model = f.rating_model.map(|c| c % 4 + 1);
        }
        let e = refused(wrong);
        assert!(e.starts_with("ranking-1: run with rating candidate ") && e.contains("choose candidate"), "{e}");
    }

    #[test]
    fn shards_are_written_k_slash_n() {
        assert_eq!("2/4".parse::<Shard>(), Ok(Shard { k: 2, n: 4 }));
        assert_eq!(" 1 / 1 ".trim().parse::<Shard>(), Ok(Shard::WHOLE));
        for (bad, why) in [
            ("0/4", "K is 0, outside 1 to 4"),
            ("5/4", "K is 5, outside 1 to 4"),
            ("1/0", "N is 0"),
            ("a/4", "K is not a whole number"),
            ("2-4", "no '/'"),
            ("2/-4", "N is not a whole number"),
        ] {
            let e = bad.parse::<Shard>().unwrap_err();
            assert!(e.contains(why) && e.contains("expected K/N"), "{bad}: {e}");
        }
        // Each task is in exactly one shard.
        for n in 1..6 {
            for task in 0..20 {
                assert_eq!((1..=n).filter(|&k| Shard { k, n }.holds(task)).count(), 1);
            }
        }
    }
}
