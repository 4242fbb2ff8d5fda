//! Hyper-parameter search for SVD: the candidates of a grid or of a seeded random search,
//! and the cross-validated scores of each, in the shape of Surprise's `cv_results`.

use std::collections::BTreeMap;
use std::time::Instant;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::accuracy;
use crate::dataset::RatingList;
use crate::numpy::RandomState;
use crate::split::{SplitError, kfold};
use crate::svd::{Svd, SvdModel, SvdParams, TrainMode};
use crate::trainset::Trainset;

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
    /// A name that is not one of SVD's numeric parameters.
    #[error("cannot search {0:?}: expected one of {list}", list = SEARCHABLE.join(", "))]
    Unknown(String),
    /// A grid needs lists.
    #[error("the grid search needs a list of values for {0}; ranges are for the random search")]
    RangeInGrid(String),
    /// An empty list or a backwards range.
    #[error("no value to search for {0}")]
    Empty(String),
    /// A value outside what the parameter accepts.
    #[error("invalid value {value} for {name}")]
    Invalid {
        /// The parameter.
        name: String,
        /// The value.
        value: f64,
    },
}

/// SVD's parameters that can be searched.
pub const SEARCHABLE: [&str; 14] = [
    "n_factors",
    "n_epochs",
    "init_mean",
    "init_std_dev",
    "lr_all",
    "reg_all",
    "lr_bu",
    "lr_bi",
    "lr_pu",
    "lr_qi",
    "reg_bu",
    "reg_bi",
    "reg_pu",
    "reg_qi",
];

/// One candidate: the searched parameters' values, in the space's order.
pub type Candidate = Vec<(String, f64)>;

/// Sets the searched values on `base`.
///
/// # Errors
/// [`SpaceError`] for an unknown name or a count that is not a whole number of one or more.
pub fn apply(base: &SvdParams, candidate: &Candidate) -> Result<SvdParams, SpaceError> {
    let mut p = *base;
    for (name, v) in candidate {
        let v = *v;
        let count = || {
            if v >= 1.0 && v.fract() == 0.0 && v < 1e9 {
                Ok(v as usize)
            } else {
                Err(SpaceError::Invalid { name: name.clone(), value: v })
            }
        };
        match name.as_str() {
            "n_factors" => p.n_factors = count()?,
            "n_epochs" => p.n_epochs = count()?,
            "init_mean" => p.init_mean = v,
            "init_std_dev" => p.init_std_dev = v,
            "lr_all" => p.lr_all = v,
            "reg_all" => p.reg_all = v,
            "lr_bu" => p.lr_bu = Some(v),
            "lr_bi" => p.lr_bi = Some(v),
            "lr_pu" => p.lr_pu = Some(v),
            "lr_qi" => p.lr_qi = Some(v),
            "reg_bu" => p.reg_bu = Some(v),
            "reg_bi" => p.reg_bi = Some(v),
            "reg_pu" => p.reg_pu = Some(v),
            "reg_qi" => p.reg_qi = Some(v),
            other => return Err(SpaceError::Unknown(other.to_owned())),
        }
    }
    Ok(p)
}

/// The candidates of `space` (parameters in name order) by `method`.
///
/// # Errors
/// [`SpaceError`] for an unknown name, an empty list, or a range in a grid.
pub fn candidates(
    space: &BTreeMap<String, Values>,
    method: Method,
    n_iter: usize,
    seed: u32,
) -> Result<Vec<Candidate>, SpaceError> {
    for (name, values) in space {
        if !SEARCHABLE.contains(&name.as_str()) {
            return Err(SpaceError::Unknown(name.clone()));
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
            let mut out: Vec<Candidate> = vec![Vec::new()];
            for (name, values) in space {
                let Values::List(list) = values else { return Err(SpaceError::RangeInGrid(name.clone())) };
                out = out
                    .into_iter()
                    .flat_map(|c| {
                        list.iter().map(move |&v| {
                            let mut c = c.clone();
                            c.push((name.clone(), v));
                            c
                        })
                    })
                    .collect();
            }
            Ok(out)
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
                            let v = if name == "n_factors" || name == "n_epochs" { v.round().max(1.0) } else { v };
                            (name.clone(), v)
                        })
                        .collect()
                })
                .collect();
            Ok(draws)
        }
    }
}

/// The measure a search selects by (lower is better).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Measure {
    /// Root mean squared error.
    #[default]
    Rmse,
    /// Mean absolute error.
    Mae,
}

/// One candidate's cross-validated scores, as a row of Surprise's `cv_results`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CandidateResult {
    /// The searched values.
    pub params: BTreeMap<String, f64>,
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
}

impl CandidateResult {
    /// The mean score by `measure`; none for a failed candidate.
    pub fn score(&self, measure: Measure) -> Option<f64> {
        match measure {
            Measure::Rmse => self.mean_test_rmse,
            Measure::Mae => self.mean_test_mae,
        }
    }
}

/// One (candidate, fold) fit: rmse, mae and seconds, or why it diverged.
type FoldResult = Result<(f64, f64, f64), String>;

/// Surprise's rmse and mae of `model` on rows `rows` of `list`.
pub fn score(model: &SvdModel, list: &RatingList, rows: impl Iterator<Item = usize>) -> (f64, f64) {
    let pairs: Vec<(f64, f64)> = rows
        .map(|r| {
            let est = model.predict(list.users().raw(list.user()[r].0), list.movies().raw(list.movie()[r].0)).est;
            (list.score()[r], est)
        })
        .collect();
    (accuracy::rmse(pairs.iter().copied()), accuracy::mae(pairs.iter().copied()))
}

/// Cross-validates every candidate on the same `cv` folds of `list` (Surprise's `KFold`
/// with `seed`), fitting each (candidate, fold) on one thread of the current rayon pool, and
/// ranks the candidates by `measure` (ties to the earlier candidate). A candidate whose fit
/// diverges on any fold is `failed` and unranked. The results do not depend on the number of
/// threads. `on_fit(candidate, fold)` is called after each fit.
///
/// # Errors
/// [`SplitError`] if `list` cannot be cut into `cv` folds.
pub fn cross_validate(
    list: &RatingList,
    fits: &[(Candidate, Svd)],
    mode: TrainMode,
    cv: usize,
    seed: u32,
    measure: Measure,
    on_fit: impl Fn(usize, usize) + Sync,
) -> Result<Vec<CandidateResult>, SplitError> {
    let folds = kfold(list.len(), cv, seed)?;
    let fold_lists: Vec<RatingList> = folds.iter().map(|f| list.select(&f.train)).collect();
    let fold_sets: Vec<Trainset<'_>> = fold_lists.iter().map(Trainset::new).collect();
    let n_tasks = fits.len() * folds.len();
    // Candidate-major tasks; each fit runs on one thread, so a task's result depends only on
    // its candidate and fold, never on the scheduling.
    let results: Vec<FoldResult> = (0..n_tasks)
        .into_par_iter()
        .map(|task| {
            let (c, f) = (task / folds.len(), task % folds.len());
            let t0 = Instant::now();
            let result = fits[c].1.fit(mode, 1, &fold_sets[f], |_| {}).map_err(|e| e.to_string()).map(|model| {
                let seconds = t0.elapsed().as_secs_f64();
                let (rmse, mae) = score(&model, list, folds[f].test.iter().map(|&r| r as usize));
                (rmse, mae, seconds)
            });
            on_fit(c, f);
            result
        })
        .collect();
    let mut out: Vec<CandidateResult> =
        fits.iter().zip(results.chunks(folds.len())).map(|((c, _), r)| summarize(c, r)).collect();
    let mut ok: Vec<usize> = (0..out.len()).filter(|&i| out[i].score(measure).is_some()).collect();
    ok.sort_by(|&a, &b| {
        let key = |i: usize| out[i].score(measure).expect("ranked candidates have scores");
        key(a).total_cmp(&key(b)).then(a.cmp(&b))
    });
    for (rank, &i) in ok.iter().enumerate() {
        out[i].rank = Some(rank + 1);
    }
    Ok(out)
}

/// The index of the candidate ranked first, if any succeeded.
pub fn best(results: &[CandidateResult]) -> Option<usize> {
    results.iter().position(|r| r.rank == Some(1))
}

fn summarize(candidate: &Candidate, fold_results: &[FoldResult]) -> CandidateResult {
    let params = candidate.iter().cloned().collect();
    if let Some(Err(reason)) = fold_results.iter().find(|r| r.is_err()) {
        return CandidateResult {
            params,
            status: "failed",
            reason: Some(reason.clone()),
            rank: None,
            mean_test_rmse: None,
            std_test_rmse: None,
            mean_test_mae: None,
            std_test_mae: None,
            mean_fit_time: None,
            std_fit_time: None,
            split_test_rmse: Vec::new(),
            split_test_mae: Vec::new(),
        };
    }
    let ok: Vec<(f64, f64, f64)> = fold_results.iter().map(|r| *r.as_ref().expect("no failure")).collect();
    let rmse: Vec<f64> = ok.iter().map(|r| r.0).collect();
    let mae: Vec<f64> = ok.iter().map(|r| r.1).collect();
    let time: Vec<f64> = ok.iter().map(|r| r.2).collect();
    let (mr, sr) = mean_std(&rmse);
    let (ma, sa) = mean_std(&mae);
    let (mt, st) = mean_std(&time);
    CandidateResult {
        params,
        status: "ok",
        reason: None,
        rank: None,
        mean_test_rmse: Some(mr),
        std_test_rmse: Some(sr),
        mean_test_mae: Some(ma),
        std_test_mae: Some(sa),
        mean_fit_time: Some(mt),
        std_fit_time: Some(st),
        split_test_rmse: rmse,
        split_test_mae: mae,
    }
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

    fn space(entries: &[(&str, Values)]) -> BTreeMap<String, Values> {
        entries.iter().map(|(n, v)| (n.to_string(), v.clone())).collect()
    }

    #[test]
    fn a_grid_is_every_combination_the_last_varying_fastest() {
        let s = space(&[("lr_all", Values::List(vec![0.1, 0.2])), ("n_epochs", Values::List(vec![5.0, 10.0, 20.0]))]);
        let c = candidates(&s, Method::Grid, 0, 0).unwrap();
        assert_eq!(c.len(), 6);
        assert_eq!(c[0], vec![("lr_all".to_string(), 0.1), ("n_epochs".to_string(), 5.0)]);
        assert_eq!(c[1][1].1, 10.0);
        let p = apply(&SvdParams::default(), &c[5]).unwrap();
        assert_eq!((p.lr_all, p.n_epochs), (0.2, 20));
    }

    #[test]
    fn random_draws_are_seeded_and_in_range() {
        let s = space(&[
            ("lr_all", Values::Range { min: 0.001, max: 0.01, log: true }),
            ("n_factors", Values::List(vec![10.0, 20.0])),
        ]);
        let a = candidates(&s, Method::Random, 50, 3).unwrap();
        assert_eq!(a, candidates(&s, Method::Random, 50, 3).unwrap());
        assert_ne!(a, candidates(&s, Method::Random, 50, 4).unwrap());
        for c in &a {
            assert!((0.001..=0.01).contains(&c[0].1));
            assert!(c[1].1 == 10.0 || c[1].1 == 20.0);
        }
    }

    #[test]
    fn bad_spaces_are_errors() {
        let e = candidates(&space(&[("n_factor", Values::List(vec![1.0]))]), Method::Grid, 0, 0).unwrap_err();
        assert!(e.to_string().contains("n_factor") && e.to_string().contains("n_factors"));
        let range = Values::Range { min: 0.1, max: 0.2, log: false };
        assert!(candidates(&space(&[("lr_all", range)]), Method::Grid, 0, 0).is_err());
        assert!(candidates(&space(&[("lr_all", Values::List(vec![]))]), Method::Grid, 0, 0).is_err());
        let c = vec![("n_factors".to_string(), 2.5)];
        assert!(apply(&SvdParams::default(), &c).is_err());
    }

    #[test]
    fn population_sd() {
        assert_eq!(mean_std(&[1.0, 3.0]), (2.0, 1.0));
    }
}
