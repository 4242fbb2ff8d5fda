//! MLflow tracking over MLflow's REST API (2.0), for movierec's stages.
//!
//! [`Client`] speaks to a tracking server: experiments, runs, params, metrics (with steps),
//! tags, artifacts (through the server's artifact proxy, `--serve-artifacts`), and the model
//! registry. Transient failures (connection errors, 429, 5xx) are retried with exponential
//! backoff; other failures are returned as [`TrackingError`] with the server's message.

use std::time::Duration;

use serde_json::{Value, json};

/// A failed tracking call.
#[derive(Debug, thiserror::Error)]
pub enum TrackingError {
    /// The server could not be reached, or kept failing, after every retry.
    #[error("the MLflow server at {uri} could not be reached after {attempts} attempts: {reason}")]
    Unreachable {
        /// The tracking URI.
        uri: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        reason: String,
    },
    /// The server answered with an error.
    #[error("MLflow {endpoint} answered {status}: {message}")]
    Api {
        /// The REST endpoint.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// MLflow's `error_code` and `message`, or the body.
        message: String,
    },
    /// The server answered something that is not what MLflow answers.
    #[error("MLflow {endpoint} answered an unexpected body: {body}")]
    Unexpected {
        /// The REST endpoint.
        endpoint: String,
        /// The start of the body.
        body: String,
    },
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunStatus {
    /// The stage succeeded.
    Finished,
    /// The stage failed.
    Failed,
}

/// A run on the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Run {
    /// The run's id.
    pub id: String,
    /// Its experiment's id.
    pub experiment_id: String,
    /// Its artifact root, as the server gives it (`mlflow-artifacts:/<exp>/<run>/artifacts`).
    pub artifact_uri: String,
}

/// A metric value at a step.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    /// Name.
    pub key: String,
    /// Value.
    pub value: f64,
    /// Step (0 for a single value).
    pub step: u64,
}

/// MLflow's limits on one `log-batch` call.
const MAX_BATCH_METRICS: usize = 1000;
const MAX_BATCH_PARAMS: usize = 100;
const MAX_BATCH_TAGS: usize = 100;

/// How a client proves who it is to a server that asks (MLflow's own variables name them:
/// `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`, or `MLFLOW_TRACKING_TOKEN`).
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// HTTP basic authentication (MLflow's `basic-auth` app; DagsHub, with the token as the
    /// password).
    Basic {
        /// The user name.
        username: String,
        /// The password or token.
        password: String,
    },
    /// A bearer token.
    Bearer(String),
}

impl std::fmt::Debug for Auth {
    /// Never the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::Basic { username, .. } => write!(f, "Basic({username}, ***)"),
            Auth::Bearer(_) => f.write_str("Bearer(***)"),
        }
    }
}

impl Auth {
    /// The `Authorization` header's value.
    fn header(&self) -> String {
        match self {
            Auth::Basic { username, password } => {
                format!("Basic {}", base64(format!("{username}:{password}").as_bytes()))
            }
            Auth::Bearer(token) => format!("Bearer {token}"),
        }
    }
}

/// Standard base64 with padding (RFC 4648), for the basic authentication header.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A client of one tracking server.
#[derive(Debug)]
pub struct Client {
    uri: String,
    agent: ureq::Agent,
    attempts: u32,
    backoff: Duration,
    /// The `Authorization` header sent with every call, if any.
    authorization: Option<String>,
}

impl Client {
    /// A client of the server at `uri` (`http://host:port`, no trailing path), making up to
    /// `attempts` tries per call, waiting `backoff`, then twice as long, between them.
    pub fn new(uri: &str, attempts: u32, backoff: Duration, timeout: Duration) -> Client {
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .user_agent(concat!("movierec/", env!("CARGO_PKG_VERSION")))
            .build();
        Client {
            uri: uri.trim_end_matches('/').to_owned(),
            agent: config.into(),
            attempts: attempts.max(1),
            backoff,
            authorization: None,
        }
    }

    /// The same client, authenticating every call with `auth`.
    pub fn with_auth(mut self, auth: &Auth) -> Client {
        self.authorization = Some(auth.header());
        self
    }

    /// A request with the client's `Authorization` header, if it has one.
    fn authorize<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.authorization {
            Some(value) => request.header("Authorization", value),
            None => request,
        }
    }

    /// The tracking URI.
    pub fn uri(&self) -> &str {
        &self.uri
    }

    /// One call with retries: `send` makes the request; connection failures, 429 and 5xx
    /// answers are retried.
    fn call(
        &self,
        endpoint: &str,
        send: impl Fn() -> Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Vec<u8>, TrackingError> {
        let mut wait = self.backoff;
        let mut reason = String::new();
        for attempt in 1..=self.attempts {
            if attempt > 1 {
                tracing::debug!(endpoint, attempt, "retrying MLflow in {wait:?}: {reason}");
                std::thread::sleep(wait);
                wait *= 2;
            }
            match send() {
                Ok(mut response) => {
                    let status = response.status().as_u16();
                    let body = response.body_mut().read_to_vec().unwrap_or_default();
                    if status == 429 || status >= 500 {
                        reason = format!("{endpoint} answered {status}");
                        continue;
                    }
                    if status >= 400 {
                        return Err(TrackingError::Api {
                            endpoint: endpoint.to_owned(),
                            status,
                            message: message(&body),
                        });
                    }
                    return Ok(body);
                }
                Err(e) => reason = e.to_string(),
            }
        }
        Err(TrackingError::Unreachable { uri: self.uri.clone(), attempts: self.attempts, reason })
    }

    fn post(&self, endpoint: &str, body: &Value) -> Result<Value, TrackingError> {
        let url = format!("{}/api/2.0/mlflow/{endpoint}", self.uri);
        let bytes = self.call(endpoint, || self.authorize(self.agent.post(&url)).send_json(body))?;
        parse(endpoint, &bytes)
    }

    fn get(&self, endpoint: &str, query: &[(&str, &str)]) -> Result<Value, TrackingError> {
        let url = format!("{}/api/2.0/mlflow/{endpoint}", self.uri);
        let bytes = self.call(endpoint, || {
            let mut request = self.authorize(self.agent.get(&url));
            for (k, v) in query {
                request = request.query(*k, *v);
            }
            request.call()
        })?;
        parse(endpoint, &bytes)
    }

    /// The id of the experiment named `name`, created if it does not exist.
    ///
    /// # Errors
    /// If the server fails.
    pub fn experiment(&self, name: &str) -> Result<String, TrackingError> {
        match self.get("experiments/get-by-name", &[("experiment_name", name)]) {
            Ok(v) => return string(&v["experiment"]["experiment_id"], "experiments/get-by-name", &v),
            Err(TrackingError::Api { status: 404, .. }) => {}
            Err(e) => return Err(e),
        }
        match self.post("experiments/create", &json!({ "name": name })) {
            Ok(v) => string(&v["experiment_id"], "experiments/create", &v),
            // Created meanwhile by another stage.
            Err(TrackingError::Api { status: 400, message, .. }) if message.contains("RESOURCE_ALREADY_EXISTS") => {
                let v = self.get("experiments/get-by-name", &[("experiment_name", name)])?;
                string(&v["experiment"]["experiment_id"], "experiments/get-by-name", &v)
            }
            Err(e) => Err(e),
        }
    }

    /// Starts a run named `name` in experiment `experiment_id` with `tags`.
    ///
    /// # Errors
    /// If the server fails.
    pub fn create_run(&self, experiment_id: &str, name: &str, tags: &[(&str, &str)]) -> Result<Run, TrackingError> {
        let tags: Vec<Value> = tags.iter().map(|(k, v)| json!({"key": k, "value": v})).collect();
        let v = self.post(
            "runs/create",
            &json!({"experiment_id": experiment_id, "run_name": name, "start_time": now_ms(), "tags": tags}),
        )?;
        let info = &v["run"]["info"];
        Ok(Run {
            id: string(&info["run_id"], "runs/create", &v)?,
            experiment_id: experiment_id.to_owned(),
            artifact_uri: string(&info["artifact_uri"], "runs/create", &v)?,
        })
    }

    /// Logs params, metrics and tags to `run`, in as many batches as MLflow's limits need.
    ///
    /// # Errors
    /// If the server fails.
    pub fn log(
        &self,
        run: &Run,
        params: &[(String, String)],
        metrics: &[Metric],
        tags: &[(String, String)],
    ) -> Result<(), TrackingError> {
        let timestamp = now_ms();
        let kv = |(k, v): &(String, String)| json!({"key": k, "value": v});
        for chunk in params.chunks(MAX_BATCH_PARAMS) {
            let params: Vec<Value> = chunk.iter().map(kv).collect();
            self.post("runs/log-batch", &json!({"run_id": run.id, "params": params}))?;
        }
        for chunk in tags.chunks(MAX_BATCH_TAGS) {
            let tags: Vec<Value> = chunk.iter().map(kv).collect();
            self.post("runs/log-batch", &json!({"run_id": run.id, "tags": tags}))?;
        }
        for chunk in metrics.chunks(MAX_BATCH_METRICS) {
            let metrics: Vec<Value> = chunk
                .iter()
                .filter(|m| m.value.is_finite())
                .map(|m| json!({"key": m.key, "value": m.value, "timestamp": timestamp, "step": m.step}))
                .collect();
            self.post("runs/log-batch", &json!({"run_id": run.id, "metrics": metrics}))?;
        }
        Ok(())
    }

    /// Uploads `bytes` as the artifact `path` (relative, `/`-separated) of `run`, through the
    /// server's artifact proxy.
    ///
    /// # Errors
    /// If the server fails, or the run's artifact root is not served by the tracking server
    /// (`mlflow-artifacts:/`).
    pub fn upload(&self, run: &Run, path: &str, bytes: &[u8]) -> Result<(), TrackingError> {
        let root = run.artifact_uri.strip_prefix("mlflow-artifacts:/").ok_or_else(|| TrackingError::Api {
            endpoint: "mlflow-artifacts".to_owned(),
            status: 0,
            message: format!(
                "the run's artifacts go to {}, not through the tracking server: start it with --serve-artifacts",
                run.artifact_uri
            ),
        })?;
        let url = format!("{}/api/2.0/mlflow-artifacts/artifacts/{}/{path}", self.uri, root.trim_start_matches('/'));
        self.call("mlflow-artifacts", || self.authorize(self.agent.put(&url)).send(bytes))?;
        Ok(())
    }

    /// Ends `run` with `status`.
    ///
    /// # Errors
    /// If the server fails.
    pub fn end_run(&self, run: &Run, status: RunStatus) -> Result<(), TrackingError> {
        let status = match status {
            RunStatus::Finished => "FINISHED",
            RunStatus::Failed => "FAILED",
        };
        self.post("runs/update", &json!({"run_id": run.id, "status": status, "end_time": now_ms()}))?;
        Ok(())
    }

    /// Registers the artifact folder `path` of `run` as a new version of the registered model
    /// `name` (created if needed) and points `alias` at it; returns the version.
    ///
    /// # Errors
    /// If the server fails.
    pub fn register(&self, run: &Run, path: &str, name: &str, alias: Option<&str>) -> Result<String, TrackingError> {
        match self.post("registered-models/create", &json!({ "name": name })) {
            Ok(_) => {}
            Err(TrackingError::Api { status: 400, message, .. }) if message.contains("RESOURCE_ALREADY_EXISTS") => {}
            Err(e) => return Err(e),
        }
        let source = format!("{}/{path}", run.artifact_uri);
        let v = self.post("model-versions/create", &json!({"name": name, "source": source, "run_id": run.id}))?;
        let version = string(&v["model_version"]["version"], "model-versions/create", &v)?;
        if let Some(alias) = alias {
            self.post("registered-models/alias", &json!({"name": name, "alias": alias, "version": version}))?;
        }
        Ok(version)
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn parse(endpoint: &str, bytes: &[u8]) -> Result<Value, TrackingError> {
    if bytes.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(bytes).map_err(|_| TrackingError::Unexpected {
        endpoint: endpoint.to_owned(),
        body: String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned(),
    })
}

fn string(v: &Value, endpoint: &str, whole: &Value) -> Result<String, TrackingError> {
    v.as_str().map(str::to_owned).ok_or_else(|| TrackingError::Unexpected {
        endpoint: endpoint.to_owned(),
        body: whole.to_string().chars().take(200).collect(),
    })
}

/// MLflow's `error_code: message`, or the start of the body.
fn message(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if v["message"].is_string() => {
            format!("{}: {}", v["error_code"].as_str().unwrap_or("ERROR"), v["message"].as_str().unwrap_or(""))
        }
        _ => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_is_rfc_4648s() {
        for (input, expected) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), expected, "{input}");
        }
        assert_eq!(base64(&[0xfb, 0xff]), "+/8=");
    }

    #[test]
    fn headers_carry_the_credentials_and_debug_hides_them() {
        let basic = Auth::Basic { username: "Aladdin".into(), password: "open sesame".into() };
        assert_eq!(basic.header(), "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert_eq!(Auth::Bearer("t0k".into()).header(), "Bearer t0k");
        let shown = format!("{basic:?} {:?}", Auth::Bearer("t0k".into()));
        assert!(!shown.contains("sesame") && !shown.contains("t0k"), "{shown}");
    }
}
