//! Running a grid search job: the request checked against `optimize`'s defaults, the
//! search run in the background on a thread pool of its own (so recommendation requests
//! never wait for it), and, when asked, the best model fitted on all ratings and served.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use movierec_core::data::trainset::Trainset;
use movierec_core::evaluation::plan::{self, OptimizeParams, Plan, PlanError};
use movierec_core::evaluation::search::{self, Candidate, Measure, Method, Spec};
use movierec_core::models::Recommender;
use movierec_core::models::artifact::{self, Provenance};

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
    let d = state.optimize();
    let algorithm = request.algorithm.unwrap_or_else(|| "svd".to_owned());
    let is_svd = algorithm == "svd";
    if is_svd && request.param_grid.is_some() {
        return Err(ApiError::unprocessable("param_grid is for the other algorithms; SVD's parameters are in space"));
    }
    if !is_svd && request.space.is_some() {
        return Err(ApiError::unprocessable(format!(
            "space is SVD's; {algorithm}'s parameters are in param_grid (Surprise's GridSearchCV param_grid)"
        )));
    }
    if !is_svd && request.method == Some(Method::Random) {
        return Err(ApiError::unprocessable(format!("{algorithm}'s param_grid is searched whole: method grid only")));
    }
    let space = if is_svd { request.space.unwrap_or_else(|| d.space.clone()) } else { BTreeMap::new() };
    let param_grid = match &request.param_grid {
        Some(grid) => grid.clone(),
        None if is_svd => serde_json::Map::new(),
        None => d.algorithms.get(&algorithm).cloned().unwrap_or_default(),
    };
    let method = if is_svd { request.method.unwrap_or(d.method) } else { Method::Grid };
    let n_iter = request.n_iter.unwrap_or(d.n_iter);
    let cv = request.cv.unwrap_or(d.cv);
    let seed = request.seed.unwrap_or(d.seed);
    // The job tunes the rating model: by rmse unless `optimize.measure` is mae, or the request
    // asks for a ranking measure (of the rating model's own order).
    let measure = request.measure.unwrap_or(if d.measure == Measure::Mae { Measure::Mae } else { Measure::Rmse });
    let mode = request.mode.unwrap_or(d.mode);
    let checked: Vec<(Candidate, Spec)> = if is_svd {
        plan::svd_candidates(&d.base, &space, method, n_iter, seed, mode).map_err(ApiError::unprocessable)?
    } else {
        search::algorithm_candidates(&algorithm, &param_grid)
            .map_err(|e| ApiError::unprocessable(e.to_string()))?
            .into_iter()
            .map(|spec| (Candidate::new(), spec))
            .collect()
    };
    if checked.is_empty() {
        return Err(ApiError::unprocessable("the search has no candidate (random search with n_iter 0?)"));
    }
    let n_ratings = snapshot.data.ratings.len();
    if cv < 2 || cv > n_ratings {
        return Err(ApiError::unprocessable(format!("invalid cv {cv}: expected from 2 to {n_ratings} (the ratings)")));
    }
    let fits = checked.len() * cv;
    if fits > state.config.gridsearch_max_fits {
        return Err(ApiError::unprocessable(format!(
            "the search asks for {fits} fits ({} candidates x {cv} folds); this service allows {} \
             (--gridsearch-max-fits)",
            checked.len(),
            state.config.gridsearch_max_fits
        )));
    }
    let settings = Resolved {
        algorithm,
        space,
        param_grid,
        method,
        n_iter,
        cv,
        seed,
        measure,
        mode: is_svd.then_some(mode),
        promote: request.promote,
        candidates: checked.len(),
    };

    let job = state.jobs.begin(settings.clone(), fits)?;
    let id = job.id();
    state.metrics.gridsearch_started.fetch_add(1, Ordering::Relaxed);
    let report = job.report();

    let params = OptimizeParams { method, n_iter, cv, seed, mode, space: settings.space.clone(), ..d };
    let work = Work { id: id.to_string(), params, fits: checked, settings };
    let state = Arc::clone(state);
    let spawned = std::thread::Builder::new().name(format!("gridsearch-{id}")).spawn({
        let job = Arc::clone(&job);
        let state = Arc::clone(&state);
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
    if let Err(e) = spawned {
        tracing::error!("cannot start a grid search thread: {e}");
        state.jobs.finish(&job, Err("the service could not start the job".to_owned()));
        return Err(ApiError::internal());
    }
    Ok(report)
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
    let Resolved { measure, promote, .. } = work.settings;
    let mode = work.params.mode;
    let threads = state.config.gridsearch_threads.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(|i| format!("gridsearch-worker-{i}"))
        .build()
        .map_err(|e| format!("cannot start the thread pool: {e}"))?;
    let ratings = &snapshot.data.ratings;
    let plan = Plan::of_rating(&work.params, work.fits.clone(), measure, ratings).map_err(|e| e.to_string())?;
    let outcome = pool.install(|| plan.search(|_, _| job.tick())).map_err(|e| match e {
        PlanError::AllFailed(first) => format!("every candidate failed; the first: {first}"),
        e => e.to_string(),
    })?;
    // The API's best parameters name the algorithm when it is not SVD.
    let best_params = match &outcome.rating {
        Spec::Rating(algorithm, _) => {
            serde_json::to_value(algorithm).map_err(|e| format!("the best parameters: {e}"))?
        }
        _ => outcome.best_params.clone(),
    };
    let best = outcome.best;
    let cv_results = outcome.cv_results.clone();
    let search_seconds = outcome.seconds;
    let result = JobResult {
        best_index: best,
        best_params,
        best_rmse: cv_results[best].mean_test_rmse.unwrap_or(f64::NAN),
        best_mae: cv_results[best].mean_test_mae.unwrap_or(f64::NAN),
        search_seconds,
        cv_results,
    };
    if !promote {
        return Ok((result, false, None));
    }
    let t0 = std::time::Instant::now();
    let t = Trainset::new(ratings);
    let model = pool
        .install(|| outcome.rating.fit_rating(mode, threads, &t))
        .expect("a grid search job fits rating models only")
        .map_err(|e| format!("fitting the best candidate on all ratings: {e}"))?;
    let provenance = Provenance {
        data_fingerprint: artifact::fingerprint(ratings),
        n_ratings: ratings.len() as u64,
        created_at: artifact::now_rfc3339(),
        training_seconds: t0.elapsed().as_secs_f64(),
        threads: outcome.fit_threads(mode, threads),
    };
    let id = &work.id;
    // The rating model changes; the served ranking, fitted on the same ratings, stays.
    let current = &snapshot.view.model;
    let model = Recommender { rating: model, ranking: current.ranking.clone(), rerank: current.rerank };
    let view = ModelView::new(model, provenance, format!("grid search job {id}"), &snapshot.data)
        .map_err(|e| e.to_string())?;
    // Swap only if the data is still the one the search ran on: a refresh in between wins.
    let _guard = state.swap_lock.blocking_lock();
    let current = state.snapshot();
    if current.as_ref().is_some_and(|c| Arc::ptr_eq(&c.data, &snapshot.data)) {
        let metrics = serde_json::json!({
            "source": format!("grid search job {id}"),
            "best_rmse": result.best_rmse,
            "best_mae": result.best_mae,
        });
        state.swap(Snapshot { data: Arc::clone(&snapshot.data), view, metrics: Some(metrics) });
        tracing::info!(job = %id, "promoted the best model of the grid search");
        Ok((result, true, None))
    } else {
        Ok((result, false, Some("not promoted: the data was refreshed while the job ran".to_owned())))
    }
}
