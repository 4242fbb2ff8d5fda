//! Running a grid search job: the request checked against `optimize`'s defaults, the
//! search run in the background on a thread pool of its own (so recommendation requests
//! never wait for it), and, when asked, the best model fitted on all ratings and served.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use movierec_core::evaluation::plan::{self, OptimizeParams, Outcome, Plan, PlanError};
use movierec_core::evaluation::search::{Candidate, Measure, Method, Spec};
use movierec_core::models::artifact::Provenance;
use movierec_core::models::{RatingModel, Recommender};

use crate::error::ApiError;
use crate::jobs::{GridsearchRequest, Job, JobReport, JobResult, Resolved};
use crate::snapshot::{ModelView, Snapshot};
use crate::state::AppState;

/// Checks `request` against the defaults and starts the job on its own thread.
///
/// # Errors
/// 409 if a job runs; 422 for a space, method or count that cannot be searched or too many
/// fits.
pub fn start(
    state: &Arc<AppState>,
    snapshot: Arc<Snapshot>,
    request: GridsearchRequest,
) -> Result<JobReport, ApiError> {
    let work = plan_job(&state.optimize(), request)?;
    let n_ratings = snapshot.data.ratings.len();
    let cv = work.params.cv;
    if cv < 2 || cv > n_ratings {
        return Err(ApiError::unprocessable(format!("invalid cv {cv}: expected from 2 to {n_ratings} (the ratings)")));
    }
    let fits = work.fits.len() * cv;
    if fits > state.config.gridsearch_max_fits {
        return Err(ApiError::unprocessable(format!(
            "the search asks for {fits} fits ({} candidates x {cv} folds); this service allows {} \
             (--gridsearch-max-fits)",
            work.fits.len(),
            state.config.gridsearch_max_fits
        )));
    }
    let job = state.jobs.begin(work.settings.clone(), fits)?;
    state.metrics.gridsearch_started.fetch_add(1, Ordering::Relaxed);
    let report = job.report();
    spawn(state, job, snapshot, work)?;
    Ok(report)
}

/// The job `request` asks for, its omitted fields taken from the `optimize` section `d`: the
/// settings it reports, the search's params and its checked candidates.
///
/// # Errors
/// 422 for a field of another algorithm, a method or a space that cannot be searched, or no
/// candidate.
fn plan_job(d: &OptimizeParams, request: GridsearchRequest) -> Result<Work, ApiError> {
    // The algorithm `optimize.space` searches (SVD) by default; it takes a space of numbers
    // (grid or random), the others Surprise's param_grid.
    let base = d.space_base();
    let algorithm = request.algorithm.unwrap_or_else(|| base.name().to_owned());
    let by_space = algorithm == base.name();
    if by_space && request.param_grid.is_some() {
        return Err(ApiError::unprocessable("param_grid is for the other algorithms; SVD's parameters are in space"));
    }
    if !by_space && request.space.is_some() {
        return Err(ApiError::unprocessable(format!(
            "space is SVD's; {algorithm}'s parameters are in param_grid (Surprise's GridSearchCV param_grid)"
        )));
    }
    if !by_space && request.method == Some(Method::Random) {
        return Err(ApiError::unprocessable(format!("{algorithm}'s param_grid is searched whole: method grid only")));
    }
    let space = if by_space { request.space.unwrap_or_else(|| d.space.clone()) } else { BTreeMap::new() };
    let param_grid = match request.param_grid {
        Some(grid) => grid,
        None if by_space => serde_json::Map::new(),
        None => d.algorithms.get(&algorithm).cloned().unwrap_or_default(),
    };
    let params = OptimizeParams {
        method: if by_space { request.method.unwrap_or(d.method) } else { Method::Grid },
        n_iter: request.n_iter.unwrap_or(d.n_iter),
        cv: request.cv.unwrap_or(d.cv),
        seed: request.seed.unwrap_or(d.seed),
        mode: request.mode.unwrap_or(d.mode),
        space,
        ..d.clone()
    };
    let fits =
        plan::rating_candidates(&algorithm, &params.space, &param_grid, &params).map_err(ApiError::unprocessable)?;
    if fits.is_empty() {
        return Err(ApiError::unprocessable("the search has no candidate (random search with n_iter 0?)"));
    }
    let settings = Resolved {
        algorithm,
        space: params.space.clone(),
        param_grid,
        method: params.method,
        n_iter: params.n_iter,
        cv: params.cv,
        seed: params.seed,
        // The job tunes the rating model: by rmse unless `optimize.measure` is mae, or the
        // request asks for a ranking measure (of the rating model's own order).
        measure: request.measure.unwrap_or(if d.measure == Measure::Mae { Measure::Mae } else { Measure::Rmse }),
        mode: by_space.then_some(params.mode),
        promote: request.promote,
        candidates: fits.len(),
    };
    Ok(Work { id: String::new(), params, fits, settings })
}

/// Runs `work` as `job` on a thread of its own, and records its outcome.
///
/// # Errors
/// 500 if the thread cannot start (the job is recorded as failed).
fn spawn(state: &Arc<AppState>, job: Arc<Job>, snapshot: Arc<Snapshot>, mut work: Work) -> Result<(), ApiError> {
    let id = job.id();
    work.id = id.to_string();
    let spawned = std::thread::Builder::new().name(format!("gridsearch-{id}")).spawn({
        let (state, job) = (Arc::clone(state), Arc::clone(&job));
        move || {
            let outcome =
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(&state, &job, &snapshot, &work)))
                    .unwrap_or_else(|_| {
                        Err("the job stopped on an internal error; the service log has the details".to_owned())
                    });
            let counter = match outcome {
                Ok(_) => &state.metrics.gridsearch_succeeded,
                Err(_) => &state.metrics.gridsearch_failed,
            };
            counter.fetch_add(1, Ordering::Relaxed);
            state.jobs.finish(&job, outcome);
            tracing::info!(job = id, "grid search job finished");
        }
    });
    spawned.map(drop).map_err(|e| {
        tracing::error!("cannot start a grid search thread: {e}");
        state.jobs.finish(&job, Err("the service could not start the job".to_owned()));
        ApiError::internal()
    })
}

/// What a job runs: its checked candidates and the search's settings, all fixed when the job
/// starts.
struct Work {
    id: String,
    params: OptimizeParams,
    fits: Vec<(Candidate, Spec)>,
    settings: Resolved,
}

/// The job's work: cross-validate, then maybe fit the best on all ratings and serve it.
fn run(
    state: &Arc<AppState>,
    job: &Job,
    snapshot: &Snapshot,
    work: &Work,
) -> Result<(JobResult, bool, Option<String>), String> {
    let threads = state.config.gridsearch_threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("gridsearch-worker-{i}"))
        .build()
        .map_err(|e| format!("cannot start the thread pool: {e}"))?;
    let ratings = &snapshot.data.ratings;
    let plan =
        Plan::of_rating(&work.params, work.fits.clone(), work.settings.measure, ratings).map_err(|e| e.to_string())?;
    let outcome = pool.install(|| plan.search(|_, _| job.tick())).map_err(|e| match e {
        PlanError::AllFailed(first) => format!("every candidate failed; the first: {first}"),
        e => e.to_string(),
    })?;
    let result = job_result(&outcome)?;
    if !work.settings.promote {
        return Ok((result, false, None));
    }
    let (model, provenance) = pool
        .install(|| outcome.fit_rating_to_serve(threads, ratings))
        .map_err(|e| format!("fitting the best candidate on all ratings: {e}"))?;
    let promoted = promote(state, snapshot, model, provenance, &work.id, &result)?;
    let message = (!promoted).then(|| "not promoted: the data was refreshed while the job ran".to_owned());
    Ok((result, promoted, message))
}

/// What the API reports of a search: the best candidate, its scores, every candidate's.
fn job_result(outcome: &Outcome) -> Result<JobResult, String> {
    // The API's best parameters name the algorithm when it is not SVD.
    let best_params = match &outcome.rating {
        Spec::Rating(algorithm, _) => {
            serde_json::to_value(algorithm).map_err(|e| format!("the best parameters: {e}"))?
        }
        _ => outcome.best_params.clone(),
    };
    let best = &outcome.cv_results[outcome.best];
    Ok(JobResult {
        best_index: outcome.best,
        best_params,
        best_rmse: best.mean_test_rmse.unwrap_or(f64::NAN),
        best_mae: best.mean_test_mae.unwrap_or(f64::NAN),
        search_seconds: outcome.seconds,
        cv_results: outcome.cv_results.clone(),
    })
}

/// Serves `rating` with the ranking `snapshot` serves (fitted on the same ratings), unless the
/// data was refreshed since the search began: whether it was promoted.
///
/// # Errors
/// If the new model does not fit the data (cannot happen: it was fitted on it).
fn promote(
    state: &AppState,
    snapshot: &Snapshot,
    rating: RatingModel,
    provenance: Provenance,
    id: &str,
    result: &JobResult,
) -> Result<bool, String> {
    let current = &snapshot.view.model;
    let model = Recommender { rating, ranking: current.ranking.clone(), reorder: current.reorder };
    let view = ModelView::new(model, provenance, format!("grid search job {id}"), &snapshot.data)
        .map_err(|e| e.to_string())?;
    // Swap only if the data is still the one the search ran on: a refresh in between wins.
    let _guard = state.swap_lock.blocking_lock();
    let current = state.snapshot();
    if !current.as_ref().is_some_and(|c| Arc::ptr_eq(&c.data, &snapshot.data)) {
        return Ok(false);
    }
    let metrics = serde_json::json!({
        "source": format!("grid search job {id}"),
        "best_rmse": result.best_rmse,
        "best_mae": result.best_mae,
    });
    state.swap(Snapshot { data: Arc::clone(&snapshot.data), view, metrics: Some(metrics) });
    tracing::info!(job = %id, "promoted the best model of the grid search");
    Ok(true)
}
