//! A stage's MLflow run: started when the stage starts, given params, metrics, tags and
//! artifacts as the stage goes, and ended `FINISHED` or `FAILED` with the stage.
//!
//! Tracking is on when `MLFLOW_TRACKING_URI` or `tracking.uri` is set. A server that fails
//! is, by `tracking.required`, a warning (the stage completes untracked) or the stage's
//! failure, before any output changes: everything is logged from the outputs as they wait to
//! be put in place, and the run ends before they are. Tracking only reads what the stage
//! wrote; it never changes it. A server that asks
//! who is calling (MLflow's `basic-auth` app, DagsHub) gets MLflow's own variables:
//! `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`, or `MLFLOW_TRACKING_TOKEN`.

use std::path::Path;
use std::time::Duration;

pub use movierec_tracking::Metric;
use movierec_tracking::{Auth, Client, Run, RunStatus, TrackingError};
use serde_json::Value;

use crate::outputs::Outputs;
use crate::params::TrackingParams;

/// The environment variable MLflow's own clients read.
pub const URI_VARIABLE: &str = "MLFLOW_TRACKING_URI";

/// The credentials in MLflow's own variables, if any: a user name and password (basic), or a
/// token (bearer).
///
/// # Errors
/// A user name without a password, or the reverse.
pub fn auth_from_env() -> anyhow::Result<Option<Auth>> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    match (var("MLFLOW_TRACKING_USERNAME"), var("MLFLOW_TRACKING_PASSWORD"), var("MLFLOW_TRACKING_TOKEN")) {
        (Some(username), Some(password), _) => Ok(Some(Auth::Basic { username, password })),
        (Some(_), None, _) | (None, Some(_), _) => {
            anyhow::bail!("MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD go together: set both, or neither")
        }
        (None, None, Some(token)) => Ok(Some(Auth::Bearer(token))),
        (None, None, None) => Ok(None),
    }
}

/// A stage's run, or nothing when tracking is off or was given up.
#[derive(Debug)]
pub struct Tracker {
    active: Option<(Client, Run)>,
    required: bool,
    stage: &'static str,
}

impl Tracker {
    /// Starts `stage`'s run in `experiment`, tagged with the stage, the DVC stage, the git
    /// commit and the model format version; or says in one line that tracking is off.
    ///
    /// # Errors
    /// If tracking is required and the server fails.
    pub fn start(p: &TrackingParams, stage: &'static str, experiment: &str) -> anyhow::Result<Tracker> {
        let uri = std::env::var(URI_VARIABLE).ok().filter(|u| !u.is_empty()).or_else(|| p.uri.clone());
        let mut tracker = Tracker { active: None, required: p.required, stage };
        let Some(uri) = uri else {
            tracing::info!("MLflow tracking is off (set {URI_VARIABLE} or tracking.uri to log this run)");
            return Ok(tracker);
        };
        let timeout = Duration::from_secs_f64(if p.timeout_seconds > 0.0 { p.timeout_seconds } else { 30.0 });
        let mut client = Client::new(&uri, p.retries.max(1), Duration::from_millis(500), timeout);
        if let Some(auth) = auth_from_env()? {
            tracing::debug!("MLflow calls authenticated as {auth:?}");
            client = client.with_auth(&auth);
        }
        let format = movierec_core::models::artifact::FORMAT_VERSION.to_string();
        let commit = git_commit();
        let mut tags = vec![("stage", stage), ("dvc_stage", stage), ("model_format_version", format.as_str())];
        if let Some(c) = &commit {
            tags.push(("git_commit", c.as_str()));
            tags.push(("mlflow.source.git.commit", c.as_str()));
        }
        let started = client.experiment(experiment).and_then(|exp| client.create_run(&exp, stage, &tags));
        if let Some(run) = tracker.handle(started)? {
            tracing::info!(uri = %uri, run = %run.id, "MLflow run started in experiment {experiment:?}");
            tracker.active = Some((client, run));
        }
        Ok(tracker)
    }

    /// Whether a run is being logged.
    pub fn is_on(&self) -> bool {
        self.active.is_some()
    }

    /// Applies the `required` policy to a tracking result: the value, or a warning and
    /// tracking given up, or the stage's error.
    fn handle<T>(&mut self, result: Result<T, TrackingError>) -> anyhow::Result<Option<T>> {
        match result {
            Ok(v) => Ok(Some(v)),
            Err(e) if self.required => Err(anyhow::Error::new(e)
                .context(format!("MLflow tracking of {} failed, and tracking.required is true", self.stage))),
            Err(e) => {
                tracing::warn!(
                    "MLflow tracking failed; {} goes on untracked (tracking.required is false): {e}",
                    self.stage
                );
                self.active = None;
                Ok(None)
            }
        }
    }

    /// Logs params, metrics and tags.
    ///
    /// # Errors
    /// If tracking is required and the server fails.
    pub fn log(
        &mut self,
        params: &[(String, String)],
        metrics: &[Metric],
        tags: &[(String, String)],
    ) -> anyhow::Result<()> {
        let Some((client, run)) = &self.active else { return Ok(()) };
        let result = client.log(run, params, metrics, tags);
        self.handle(result).map(|_| ())
    }

    /// Uploads the file at `path` as the artifact `name` (a relative path).
    ///
    /// # Errors
    /// If the file cannot be read, or tracking is required and the server fails.
    pub fn upload(&mut self, name: &str, path: &Path) -> anyhow::Result<()> {
        let Some((client, run)) = &self.active else { return Ok(()) };
        let bytes =
            std::fs::read(path).map_err(|e| anyhow::anyhow!("failed to read {} to upload it: {e}", path.display()))?;
        let result = client.upload(run, name, &bytes);
        self.handle(result).map(|_| ())
    }

    /// A finished child run of this one (MLflow's `mlflow.parentRunId` tag), in the same
    /// experiment, with these params, metrics and tags; its id.
    ///
    /// # Errors
    /// If tracking is required and the server fails.
    pub fn child(
        &mut self,
        name: &str,
        params: &[(String, String)],
        metrics: &[Metric],
        tags: &[(String, String)],
    ) -> anyhow::Result<Option<String>> {
        let Some((client, run)) = &self.active else { return Ok(None) };
        let result = (|| {
            let child = client.create_run(&run.experiment_id, name, &[("mlflow.parentRunId", run.id.as_str())])?;
            client.log(&child, params, metrics, tags)?;
            client.end_run(&child, RunStatus::Finished)?;
            Ok(child.id)
        })();
        self.handle(result)
    }

    /// Registers the artifact folder `folder` of the run as a new version of `name`, and
    /// moves `alias` to it.
    ///
    /// # Errors
    /// If tracking is required and the server fails.
    pub fn register(&mut self, folder: &str, name: &str, alias: Option<&str>) -> anyhow::Result<()> {
        let Some((client, run)) = &self.active else { return Ok(()) };
        let result = client.register(run, folder, name, alias);
        if let Some(version) = self.handle(result)? {
            tracing::info!(version = %version, alias = ?alias, "registered the model as {name:?}");
        }
        Ok(())
    }

    /// Ends the run with the stage's outcome, then puts the stage's outputs in place: `FINISHED`
    /// after success, `FAILED` after an error (whose message becomes the run's `error` tag).
    /// The run ends before the outputs move, so that with tracking required a server that
    /// fails leaves every output as it was; outputs that cannot be put in place turn the run
    /// `FAILED`.
    ///
    /// # Errors
    /// The stage's error; or, after a success, the server's if tracking is required, or the
    /// commit's.
    pub fn finish(mut self, outcome: anyhow::Result<Outputs>) -> anyhow::Result<()> {
        let Some((client, run)) = self.active.take() else { return outcome?.commit() };
        let failed = |e: &anyhow::Error| {
            let tag = [("error".to_owned(), format!("{e:#}").chars().take(5000).collect())];
            if let Err(t) = client.log(&run, &[], &[], &tag).and_then(|()| client.end_run(&run, RunStatus::Failed)) {
                tracing::warn!("could not mark the MLflow run FAILED: {t}");
            }
        };
        match outcome {
            Ok(out) => {
                let ended = client.end_run(&run, RunStatus::Finished);
                self.handle(ended)?;
                out.commit().inspect_err(|e| failed(e))
            }
            Err(e) => {
                failed(&e);
                Err(e)
            }
        }
    }
}

/// The current git commit, if the stage runs in a git work tree.
fn git_commit() -> Option<String> {
    let out = std::process::Command::new("git").args(["rev-parse", "HEAD"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned()).filter(|c| !c.is_empty())
}

/// The leaves of a JSON value (everything but objects), keyed by their path with nested keys
/// joined by `.`.
fn leaves<'a>(prefix: &str, v: &'a Value, out: &mut Vec<(String, &'a Value)>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                leaves(&key, v, out);
            }
        }
        leaf => out.push((prefix.to_owned(), leaf)),
    }
}

/// Every number in a JSON report as a metric at step 0, nested keys joined by `.`; arrays
/// (per-candidate tables and the like) and text are left out.
pub fn report_metrics(report: &Value) -> Vec<Metric> {
    let mut all = Vec::new();
    leaves("", report, &mut all);
    all.into_iter().filter_map(|(key, v)| Some(Metric { key, value: v.as_f64()?, step: 0 })).collect()
}

/// Every scalar of a serialisable value as a param, nested keys joined by `.`; nulls left out.
pub fn params_of(value: &Value) -> Vec<(String, String)> {
    let mut all = Vec::new();
    leaves("", value, &mut all);
    all.into_iter()
        .filter_map(|(key, v)| match v {
            Value::Null => None,
            Value::String(s) => Some((key, s.clone())),
            other => Some((key, other.to_string())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_flatten_to_metrics_and_params() {
        let r = json!({"rmse": 1.5, "mode": "fast", "ranking": {"k": 10, "precision": 0.2}, "cv_results": [1, 2]});
        let m = report_metrics(&r);
        let keys: Vec<&str> = m.iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, ["ranking.k", "ranking.precision", "rmse"]);
        let p = params_of(&json!({"svd": {"n_factors": 100, "lr_bu": null, "biased": true}, "mode": "fast"}));
        assert_eq!(
            p,
            [
                ("mode".into(), "fast".into()),
                ("svd.biased".into(), "true".into()),
                ("svd.n_factors".into(), "100".into())
            ]
        );
    }

    #[test]
    fn tracking_is_off_without_a_uri() {
        assert!(std::env::var_os(URI_VARIABLE).is_none(), "run the unit tests without {URI_VARIABLE}");
        let t = Tracker::start(&TrackingParams::default(), "train", "train").unwrap();
        assert!(!t.is_on());
        assert!(t.finish(Err(anyhow::anyhow!("boom"))).is_err());
        let t = Tracker::start(&TrackingParams::default(), "train", "train").unwrap();
        assert!(t.finish(Ok(Outputs::new())).is_ok());
    }
}
