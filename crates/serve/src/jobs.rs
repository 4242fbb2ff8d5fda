//! Grid search jobs: the `optimize` machinery run in the background, one job at a time, on
//! a thread pool of its own, so recommendation requests never wait for it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use movierec_core::data::trainset::Trainset;
use movierec_core::evaluation::plan::{self, OptimizeParams, Plan, PlanError};
use movierec_core::evaluation::search::{self, Candidate, CandidateResult, Measure, Method, Spec, Values};
use movierec_core::models::Recommender;
use movierec_core::models::artifact::{self, Provenance};
use movierec_core::models::svd::TrainMode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::app::AppState;
use crate::error::ApiError;
use crate::snapshot::{ModelView, Snapshot};

/// Jobs kept for `GET /gridsearch/{workid}` (the oldest finished ones are forgotten).
const KEPT: usize = 20;

/// The body of `POST /gridsearch`: every field is optional and defaults to the `optimize`
/// section of `params.yaml`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GridsearchRequest {
    /// The rating algorithm searched: `svd` (the default), or another of Surprise's
    /// (`knn_baseline`, `svdpp`, `nmf`, …), searched by `param_grid`.
    #[schema(example = "svd")]
    pub algorithm: Option<String>,
    /// For an algorithm other than SVD: Surprise's `GridSearchCV` `param_grid` (each parameter
    /// a list of values; `sim_options` and `bsl_options` dicts of lists). Default: the
    /// algorithm's grid in `optimize.algorithms`, or its defaults alone.
    #[schema(value_type = Option<Object>, example = json!({"k": [20, 40], "sim_options": {"name": ["msd", "pearson_baseline"], "user_based": [false]}}))]
    pub param_grid: Option<serde_json::Map<String, serde_json::Value>>,
    /// SVD's searched parameters: lists of values, or `{min, max, log}` ranges for the random
    /// search.
    #[schema(value_type = Option<Object>, example = json!({"n_factors": [50, 100], "lr_all": [0.003, 0.005]}))]
    pub space: Option<BTreeMap<String, Values>>,
    /// `grid` or `random` (SVD only: the other algorithms' grids are searched whole).
    #[schema(value_type = Option<String>, example = "grid")]
    pub method: Option<Method>,
    /// Draws of the random search.
    pub n_iter: Option<usize>,
    /// Cross-validation folds.
    #[schema(example = 3)]
    pub cv: Option<usize>,
    /// Seed of the folds and the draws.
    pub seed: Option<u32>,
    /// `rmse` or `mae` (default: `mae` if `optimize.measure` is, else `rmse`), or a ranking
    /// measure of the rating model's own order such as `ndcg@10`.
    #[schema(value_type = Option<String>, example = "rmse")]
    pub measure: Option<Measure>,
    /// SVD's training mode, `fast` or `surprise`.
    #[schema(value_type = Option<String>, example = "fast")]
    pub mode: Option<TrainMode>,
    /// Fit the best candidate on all ratings and serve it when the job succeeds.
    #[serde(default)]
    pub promote: bool,
}

/// A job's settings, with the defaults resolved.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct Resolved {
    algorithm: String,
    /// SVD's space (empty for another algorithm).
    #[schema(value_type = Object)]
    space: BTreeMap<String, Values>,
    /// Another algorithm's grid (empty for SVD).
    #[schema(value_type = Object)]
    param_grid: serde_json::Map<String, serde_json::Value>,
    #[schema(value_type = String)]
    method: Method,
    n_iter: usize,
    cv: usize,
    seed: u32,
    #[schema(value_type = String)]
    measure: Measure,
    /// SVD's training mode (none for another algorithm).
    #[schema(value_type = Option<String>)]
    mode: Option<TrainMode>,
    promote: bool,
    candidates: usize,
}

/// Where a job is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Fitting.
    Running,
    /// Done; the results are in.
    Succeeded,
    /// Stopped by an error.
    Failed,
}

/// What a finished job found.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct JobResult {
    /// The best candidate's position in `cv_results`.
    best_index: usize,
    /// Its full parameters: SVD's, or the algorithm's as its model file has them (with
    /// `algorithm`).
    #[schema(value_type = Object)]
    best_params: serde_json::Value,
    /// Its mean cross-validated rmse and mae.
    best_rmse: f64,
    best_mae: f64,
    /// Seconds the search took.
    search_seconds: f64,
    /// One row per candidate, as `metrics/optimize.json`.
    #[schema(value_type = Vec<Object>)]
    cv_results: Vec<CandidateResult>,
}

/// Fits done out of fits to do.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
pub struct Progress {
    done: usize,
    total: usize,
}

/// A job, as `GET /gridsearch/{workid}` reports it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct JobReport {
    /// The job's id.
    id: String,
    state: JobState,
    progress: Progress,
    /// RFC 3339 UTC.
    started_at: String,
    finished_at: Option<String>,
    settings: Resolved,
    result: Option<JobResult>,
    /// Whether the best model now serves.
    promoted: bool,
    /// Why promotion did not happen, or why the job failed.
    message: Option<String>,
}

impl JobReport {
    /// The job's id.
    pub fn id(&self) -> &str {
        &self.id
    }
}

#[derive(Debug)]
struct Job {
    done: AtomicUsize,
    report: Mutex<JobReport>,
}

/// The jobs: at most one running.
#[derive(Debug, Default)]
pub struct Jobs {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    next_id: u64,
    running: Option<u64>,
    jobs: BTreeMap<u64, Arc<Job>>,
}

impl Jobs {
    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Whether a job runs.
    pub fn running(&self) -> bool {
        self.lock().running.is_some()
    }

    /// A job's report; none for an unknown id.
    pub fn report(&self, id: &str) -> Option<JobReport> {
        let id: u64 = id.parse().ok()?;
        let job = self.lock().jobs.get(&id).cloned()?;
        Some(snapshot_report(&job))
    }

    /// Every kept job, newest first, without the results tables.
    pub fn list(&self) -> Vec<JobReport> {
        let jobs: Vec<Arc<Job>> = self.lock().jobs.values().rev().cloned().collect();
        jobs.iter()
            .map(|j| {
                let mut r = snapshot_report(j);
                if let Some(res) = &mut r.result {
                    res.cv_results.clear();
                }
                r
            })
            .collect()
    }
}

fn snapshot_report(job: &Job) -> JobReport {
    let mut r = job.report.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
    r.progress.done = job.done.load(Ordering::Relaxed);
    r
}

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

    let mut inner = state.jobs.lock();
    if let Some(id) = inner.running {
        return Err(ApiError::new(
            axum::http::StatusCode::CONFLICT,
            "job_running",
            format!("grid search job {id} is running; one job runs at a time (GET /gridsearch/{id})"),
        ));
    }
    inner.next_id += 1;
    let id = inner.next_id;
    let job = Arc::new(Job {
        done: AtomicUsize::new(0),
        report: Mutex::new(JobReport {
            id: id.to_string(),
            state: JobState::Running,
            progress: Progress { done: 0, total: fits },
            started_at: artifact::rfc3339(crate::snapshot::now()),
            finished_at: None,
            settings: settings.clone(),
            result: None,
            promoted: false,
            message: None,
        }),
    });
    inner.running = Some(id);
    inner.jobs.insert(id, Arc::clone(&job));
    while inner.jobs.len() > KEPT {
        let oldest = *inner.jobs.keys().next().expect("not empty");
        inner.jobs.remove(&oldest);
    }
    drop(inner);
    state.metrics.gridsearch_started.fetch_add(1, Ordering::Relaxed);
    let report = snapshot_report(&job);

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
            let mut r = job.report.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            r.finished_at = Some(artifact::rfc3339(crate::snapshot::now()));
            match outcome {
                Ok((result, promoted, message)) => {
                    r.state = JobState::Succeeded;
                    r.result = Some(result);
                    r.promoted = promoted;
                    r.message = message;
                    state.metrics.gridsearch_succeeded.fetch_add(1, Ordering::Relaxed);
                }
                Err(message) => {
                    r.state = JobState::Failed;
                    r.message = Some(message);
                    state.metrics.gridsearch_failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            drop(r);
            tracing::info!(job = id, "grid search job finished");
            state.jobs.lock().running = None;
        }
    });
    if let Err(e) = spawned {
        tracing::error!("cannot start a grid search thread: {e}");
        let mut r = job.report.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        r.state = JobState::Failed;
        r.message = Some("the service could not start the job".to_owned());
        state.jobs.lock().running = None;
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
    let outcome = pool
        .install(|| {
            plan.search(|_, _| {
                job.done.fetch_add(1, Ordering::Relaxed);
            })
        })
        .map_err(|e| match e {
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
