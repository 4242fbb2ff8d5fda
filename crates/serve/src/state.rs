//! What every handler shares: the service's configuration, the snapshot being served, the
//! grid search's defaults, the metrics, the admission control and the grid search jobs; and
//! the two operations that change them, a refresh and a bearer token's check.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode, header};
use movierec_stage::params::OptimizeParams;

use crate::admission::Admission;
use crate::error::ApiError;
use crate::jobs::Jobs;
use crate::metrics::Metrics;
use crate::snapshot::{Paths, Snapshot, now};

/// How the service behaves, besides where its artifacts are.
#[derive(Clone, Debug)]
pub struct Config {
    /// The bearer token of `/gridsearch` and `/refresh`; none disables them.
    pub token: Option<String>,
    /// The largest page of `/users`, `/users/{id}` and `/movies`.
    pub max_page: usize,
    /// Requests taking longer are answered 503.
    pub request_timeout: Duration,
    /// Requests worked on at once (0: one per core); more wait their turn.
    pub max_in_flight: usize,
    /// Requests waiting their turn, at most; more are answered 503 at once.
    pub max_queue: usize,
    /// Request bodies larger than this are answered 413.
    pub body_limit: usize,
    /// Threads of a grid search job.
    pub gridsearch_threads: usize,
    /// The most (candidate, fold) fits a grid search job may ask for.
    pub gridsearch_max_fits: usize,
    /// The age past which the model is stale, exported for alerting.
    pub max_model_age: Duration,
    /// The parameters file whose `optimize` section gives the grid search's defaults; read at
    /// start-up and on every refresh. None: the built-in defaults.
    pub params: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            token: None,
            max_page: 1000,
            request_timeout: Duration::from_secs(10),
            max_in_flight: 0,
            max_queue: 64,
            body_limit: 64 * 1024,
            gridsearch_threads: 1,
            gridsearch_max_fits: 1000,
            max_model_age: Duration::from_secs(7 * 86_400),
            params: None,
        }
    }
}

/// Everything the handlers share.
#[derive(Debug)]
pub struct AppState {
    snapshot: RwLock<Option<Arc<Snapshot>>>,
    optimize: RwLock<OptimizeParams>,
    /// Where the artifacts are read from.
    pub paths: Paths,
    /// The behaviour.
    pub config: Config,
    /// The metrics.
    pub metrics: Metrics,
    /// The requests being worked on and waiting.
    pub admission: Arc<Admission>,
    /// The grid search jobs.
    pub jobs: Jobs,
    /// Serialises refreshes and promotions.
    pub swap_lock: tokio::sync::Mutex<()>,
    /// When the service started (seconds since the epoch).
    pub started: u64,
}

impl AppState {
    /// A service serving `snapshot` (none: not ready until a refresh succeeds).
    ///
    /// # Errors
    /// If the parameters file in `config` cannot be read.
    pub fn new(paths: Paths, config: Config, snapshot: Option<Snapshot>) -> anyhow::Result<Arc<AppState>> {
        let optimize = read_optimize(config.params.as_ref())?;
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        let max_in_flight = if config.max_in_flight == 0 { cores } else { config.max_in_flight };
        let admission = Arc::new(Admission::new(max_in_flight, config.max_queue));
        Ok(Arc::new(AppState {
            snapshot: RwLock::new(snapshot.map(Arc::new)),
            optimize: RwLock::new(optimize),
            paths,
            config,
            metrics: Metrics::default(),
            admission,
            jobs: Jobs::default(),
            swap_lock: tokio::sync::Mutex::new(()),
            started: now(),
        }))
    }

    /// The snapshot being served, if any.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.snapshot.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// The snapshot being served, or 503.
    ///
    /// # Errors
    /// 503 when no model is loaded.
    pub fn current(&self) -> Result<Arc<Snapshot>, ApiError> {
        self.snapshot().ok_or_else(ApiError::no_model)
    }

    /// Serves `snapshot` from now on; requests in flight keep the one they hold.
    pub fn swap(&self, snapshot: Snapshot) {
        *self.snapshot.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(snapshot));
    }

    /// The grid search's defaults.
    pub fn optimize(&self) -> OptimizeParams {
        self.optimize.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Re-reads every artifact and the parameters file, and swaps them in if all are valid.
    ///
    /// # Errors
    /// If any is missing or invalid: the service keeps serving what it served.
    pub async fn refresh(self: &Arc<AppState>) -> anyhow::Result<Arc<Snapshot>> {
        let _guard = self.swap_lock.lock().await;
        let state = Arc::clone(self);
        let loaded = tokio::task::spawn_blocking(move || -> anyhow::Result<(Snapshot, OptimizeParams)> {
            let optimize = read_optimize(state.config.params.as_ref())?;
            let previous = state.snapshot();
            Ok((Snapshot::reload(&state.paths, previous.as_deref())?, optimize))
        })
        .await
        .map_err(|e| anyhow::anyhow!("the refresh task failed: {e}"))?;
        match loaded {
            Ok((snapshot, optimize)) => {
                *self.optimize.write().unwrap_or_else(std::sync::PoisonError::into_inner) = optimize;
                self.swap(snapshot);
                self.metrics.refresh_ok.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Ok(self.current().expect("just swapped in"))
            }
            Err(e) => {
                self.metrics.refresh_failed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Err(e)
            }
        }
    }

    /// Checks the request's bearer token, in constant time.
    ///
    /// # Errors
    /// 403 when no token is configured (the route is disabled); 401 when the header is
    /// missing, malformed or carries another token.
    pub fn authorize(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        let Some(expected) = &self.config.token else {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "disabled",
                "this route changes the service's state and is disabled: start `serve` with a token \
                 (MOVIEREC_API_TOKEN or --token-file) to enable it",
            ));
        };
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match given {
            None => Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this route needs the header `Authorization: Bearer <token>`",
            )),
            Some(given) if constant_time_eq(given.as_bytes(), expected.as_bytes()) => Ok(()),
            Some(_) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "the bearer token is not valid")),
        }
    }
}

fn read_optimize(path: Option<&PathBuf>) -> anyhow::Result<OptimizeParams> {
    match path {
        Some(p) => Ok(movierec_stage::Params::from_file(p)?.optimize),
        None => Ok(OptimizeParams::default()),
    }
}

/// Whether `a == b`, in a time that depends on their lengths only.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, &x) in b.iter().enumerate() {
        diff |= x ^ a.get(i).copied().unwrap_or(!x);
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"secret", b"secre"));
        assert!(!constant_time_eq(b"", b"x"));
        assert!(!constant_time_eq(b"x", b""));
    }
}
