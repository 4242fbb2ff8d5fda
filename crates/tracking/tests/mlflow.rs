//! The client against a real MLflow server (the `mlflow` of MOVIEREC_MLFLOW, or of the
//! clone's `.venv-mlflow`), started on 127.0.0.1 with a sqlite store and served artifacts,
//! and stopped by its process group.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use movierec_tracking::{Client, Metric, RunStatus, TrackingError};
use serde_json::Value;

struct Server {
    child: Child,
    uri: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        // setsid made the server the leader of its own group: stop the workers too.
        let _ = Command::new("kill").args(["--", &format!("-{}", self.child.id())]).status();
        let _ = self.child.wait();
    }
}

fn mlflow() -> PathBuf {
    std::env::var_os("MOVIEREC_MLFLOW")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv-mlflow/bin/mlflow"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mlflow = mlflow();
    assert!(mlflow.exists(), "no mlflow at {} (set MOVIEREC_MLFLOW or run scripts/test.sh)", mlflow.display());
    let child = Command::new("setsid")
        .arg(&mlflow)
        .args(["server", "--host", "127.0.0.1", "--port", &port.to_string(), "--workers", "1", "--serve-artifacts"])
        .arg("--backend-store-uri")
        .arg(format!("sqlite:///{}", dir.path().join("mlflow.db").display()))
        .arg("--artifacts-destination")
        .arg(dir.path().join("artifacts"))
        .env("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("mlflow.log")).unwrap())
        .spawn()
        .unwrap();
    let server = Server { child, uri: format!("http://127.0.0.1:{port}"), _dir: dir };
    let deadline = Instant::now() + Duration::from_secs(240);
    let agent = ureq::Agent::new_with_defaults();
    while agent.get(format!("{}/health", server.uri)).call().is_err() {
        assert!(Instant::now() < deadline, "MLflow did not start in 240 s");
        std::thread::sleep(Duration::from_millis(250));
    }
    server
}

fn get(uri: &str, path: &str) -> Value {
    let mut r = ureq::get(format!("{uri}{path}")).call().unwrap();
    serde_json::from_slice(&r.body_mut().read_to_vec().unwrap()).unwrap()
}

#[test]
fn runs_params_metrics_artifacts_and_the_registry_read_back() {
    let server = start();
    let client = Client::new(&server.uri, 3, Duration::from_millis(100), Duration::from_secs(30));
    let exp = client.experiment("train").unwrap();
    assert_eq!(client.experiment("train").unwrap(), exp, "found, not created twice");
    let run = client.create_run(&exp, "train", &[("stage", "train")]).unwrap();
    let params: Vec<(String, String)> = (0..150).map(|i| (format!("p{i}"), i.to_string())).collect();
    let mut metrics: Vec<Metric> =
        (1..=20).map(|s| Metric { key: "train_rmse".into(), value: 20.0 - s as f64 * 0.3, step: s }).collect();
    metrics.push(Metric { key: "rmse".into(), value: 14.38, step: 0 });
    client.log(&run, &params, &metrics, &[("dvc_stage".into(), "train".into())]).unwrap();
    let model: Vec<u8> = (0..100_000u32).map(|i| (i * 7 % 251) as u8).collect();
    client.upload(&run, "model/model.bin", &model).unwrap();
    let version = client.register(&run, "model", "movierec", Some("champion")).unwrap();
    client.end_run(&run, RunStatus::Finished).unwrap();

    let got = get(&server.uri, &format!("/api/2.0/mlflow/runs/get?run_id={}", run.id));
    let info = &got["run"]["info"];
    assert_eq!(info["status"], "FINISHED");
    let data = &got["run"]["data"];
    assert_eq!(data["params"].as_array().unwrap().len(), 150);
    assert!(data["tags"].as_array().unwrap().iter().any(|t| t["key"] == "stage" && t["value"] == "train"));
    assert!(data["tags"].as_array().unwrap().iter().any(|t| t["key"] == "dvc_stage"));
    let history =
        get(&server.uri, &format!("/api/2.0/mlflow/metrics/get-history?run_id={}&metric_key=train_rmse", run.id));
    let steps: Vec<u64> = history["metrics"].as_array().unwrap().iter().map(|m| m["step"].as_u64().unwrap()).collect();
    assert_eq!(steps.len(), 20);
    assert!((1..=20).all(|s| steps.contains(&s)));
    let root = run.artifact_uri.strip_prefix("mlflow-artifacts:/").unwrap();
    let mut r =
        ureq::get(format!("{}/api/2.0/mlflow-artifacts/artifacts/{root}/model/model.bin", server.uri)).call().unwrap();
    assert_eq!(r.body_mut().with_config().limit(10_000_000).read_to_vec().unwrap(), model, "byte-identical");
    let alias = get(&server.uri, "/api/2.0/mlflow/registered-models/alias?name=movierec&alias=champion");
    assert_eq!(alias["model_version"]["version"], version.as_str());
    assert_eq!(alias["model_version"]["run_id"], run.id.as_str());

    // A second version moves the alias.
    let run2 = client.create_run(&exp, "train", &[]).unwrap();
    client.upload(&run2, "model/model.bin", b"other").unwrap();
    let v2 = client.register(&run2, "model", "movierec", Some("champion")).unwrap();
    client.end_run(&run2, RunStatus::Failed).unwrap();
    assert_ne!(v2, version);
    let alias = get(&server.uri, "/api/2.0/mlflow/registered-models/alias?name=movierec&alias=champion");
    assert_eq!(alias["model_version"]["version"], v2.as_str());
    let got = get(&server.uri, &format!("/api/2.0/mlflow/runs/get?run_id={}", run2.id));
    assert_eq!(got["run"]["info"]["status"], "FAILED");

    // Errors of the server are typed, with its message.
    match client.create_run("424242", "x", &[]) {
        Err(TrackingError::Api { status, message, .. }) => assert!(status >= 400 && !message.is_empty(), "{message}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unreachable_server_is_retried_then_reported() {
    let uri = format!("http://127.0.0.1:{}", free_port());
    let client = Client::new(&uri, 3, Duration::from_millis(20), Duration::from_secs(2));
    let started = Instant::now();
    match client.experiment("train") {
        Err(TrackingError::Unreachable { attempts, uri: u, .. }) => {
            assert_eq!(attempts, 3);
            assert_eq!(u, uri);
        }
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(60), "backoff 20 then 40 ms");
}
