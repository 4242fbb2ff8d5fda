//! Grid search jobs: what a job was asked, where it is and what it found, and the register
//! of jobs (at most one running, the last few kept). [`crate::gridsearch`] runs them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use movierec_core::evaluation::search::{CandidateResult, Measure, Method, Values};
use movierec_core::models::artifact;
use movierec_core::models::rating::svd::TrainMode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

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
    pub(crate) algorithm: String,
    /// SVD's space (empty for another algorithm).
    #[schema(value_type = Object)]
    pub(crate) space: BTreeMap<String, Values>,
    /// Another algorithm's grid (empty for SVD).
    #[schema(value_type = Object)]
    pub(crate) param_grid: serde_json::Map<String, serde_json::Value>,
    #[schema(value_type = String)]
    pub(crate) method: Method,
    pub(crate) n_iter: usize,
    pub(crate) cv: usize,
    pub(crate) seed: u32,
    #[schema(value_type = String)]
    pub(crate) measure: Measure,
    /// SVD's training mode (none for another algorithm).
    #[schema(value_type = Option<String>)]
    pub(crate) mode: Option<TrainMode>,
    pub(crate) promote: bool,
    pub(crate) candidates: usize,
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
    pub(crate) best_index: usize,
    /// Its full parameters: SVD's, or the algorithm's as its model file has them (with
    /// `algorithm`).
    #[schema(value_type = Object)]
    pub(crate) best_params: serde_json::Value,
    /// Its mean cross-validated rmse and mae.
    pub(crate) best_rmse: f64,
    pub(crate) best_mae: f64,
    /// Seconds the search took.
    pub(crate) search_seconds: f64,
    /// One row per candidate, as `metrics/optimize.json`.
    #[schema(value_type = Vec<Object>)]
    pub(crate) cv_results: Vec<CandidateResult>,
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

    /// Registers and returns a job with these settings and `total` fits, as running.
    ///
    /// # Errors
    /// 409 if a job runs.
    pub(crate) fn begin(&self, settings: Resolved, total: usize) -> Result<Arc<Job>, ApiError> {
        let mut inner = self.lock();
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
            id,
            done: AtomicUsize::new(0),
            report: Mutex::new(JobReport {
                id: id.to_string(),
                state: JobState::Running,
                progress: Progress { done: 0, total },
                started_at: artifact::rfc3339(crate::snapshot::now()),
                finished_at: None,
                settings,
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
        Ok(job)
    }

    /// Records the running job's outcome (the result, whether it was promoted and why not;
    /// or why it failed), and lets the next job start.
    pub(crate) fn finish(&self, job: &Job, outcome: Result<(JobResult, bool, Option<String>), String>) {
        let mut r = job.report.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        r.finished_at = Some(artifact::rfc3339(crate::snapshot::now()));
        match outcome {
            Ok((result, promoted, message)) => {
                r.state = JobState::Succeeded;
                r.result = Some(result);
                r.promoted = promoted;
                r.message = message;
            }
            Err(message) => {
                r.state = JobState::Failed;
                r.message = Some(message);
            }
        }
        drop(r);
        self.lock().running = None;
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

/// A registered job: its progress and its report.
#[derive(Debug)]
pub(crate) struct Job {
    id: u64,
    done: AtomicUsize,
    report: Mutex<JobReport>,
}

impl Job {
    /// Its id.
    pub(crate) fn id(&self) -> u64 {
        self.id
    }

    /// One more fit done.
    pub(crate) fn tick(&self) {
        self.done.fetch_add(1, Ordering::Relaxed);
    }

    /// Its report now.
    pub(crate) fn report(&self) -> JobReport {
        snapshot_report(self)
    }
}
