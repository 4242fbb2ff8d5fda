//! The `serve` binary on a real socket: start-up, answers over TCP, a graceful stop on
//! SIGTERM, the start-up errors, and `--health-check`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Fixture, TOKEN};

fn serve(fixture: &Fixture, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_serve"));
    c.current_dir(fixture.dir.path())
        .args(["--addr", "127.0.0.1:0", "--model", "serve.bin", "--ratings", "data/ratings.parquet"])
        .args(["--users", "data/users.parquet", "--movies", "data/movies.parquet", "--metrics", "optimize.json"])
        .args(extra)
        .env_remove("MOVIEREC_API_TOKEN")
        .env_remove("RUST_LOG");
    c
}

/// A running server, killed if a test fails before stopping it.
struct Server(Option<Child>);

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Starts the server and waits for the line that gives its address.
fn start(mut command: Command) -> (Server, String, BufReader<std::process::ChildStderr>) {
    let mut child = command.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let server = Server(Some(child));
    let mut line = String::new();
    loop {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "serve exited before listening");
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect();
            return (server, addr, stderr);
        }
    }
}

/// One HTTP/1.1 request on a new connection: status and body.
fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    stream.write_all(format!("{head}\r\n{body}").as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response[9..12].parse().unwrap();
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

fn stop(mut server: Server) -> std::process::ExitStatus {
    let mut child = server.0.take().unwrap();
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("serve did not stop on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn serves_over_tcp_and_stops_on_sigterm() {
    let fixture = Fixture::new();
    let token_file = fixture.path("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let (child, addr, mut stderr) =
        start(serve(&fixture, &["--token-file", token_file.to_str().unwrap(), "--log-format", "json"]));

    assert_eq!(request(&addr, "GET", "/ready", &[], "").0, 200);
    let user = fixture.data.ratings.users().raw(0);
    let (status, body) = request(&addr, "GET", &format!("/users/{user}/recommendations?n=3"), &[], "");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["recommendations"].as_array().unwrap().len(), 3);
    let (status, body) = request(&addr, "GET", "/users/nobody/recommendations", &[], "");
    assert_eq!(status, 404);
    assert!(body.contains("\"not_found\""));
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(request(&addr, "POST", "/refresh", &[("Authorization", &bearer)], "").0, 200);
    assert_eq!(request(&addr, "POST", "/refresh", &[("Authorization", "Bearer nope")], "").0, 401);
    let huge = "x".repeat(200_000);
    let (status, _) = request(&addr, "POST", "/recommendations", &[("Content-Type", "application/json")], &huge);
    assert_eq!(status, 413);

    let status = stop(child);
    assert!(status.success(), "{status}");
    let mut log = String::new();
    stderr.read_to_string(&mut log).unwrap();
    // Structured request logs: one JSON object per request.
    let access: Vec<serde_json::Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "movierec::access")
        .collect();
    assert!(access.iter().any(|v| v["route"] == "/users/{id}/recommendations" && v["status"] == 200), "{log}");
    assert!(access.iter().any(|v| v["status"] == 404));
    assert!(log.contains("stopped"), "{log}");
}

#[test]
fn start_up_errors_are_clear() {
    let fixture = Fixture::new();
    let out = serve(&fixture, &[]).env("MOVIEREC_API_TOKEN", "short").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("shorter than 16"));

    let out = serve(&fixture, &["--addr", "nowhere"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "clap rejects a bad address");

    std::fs::remove_file(fixture.path("serve.bin")).unwrap();
    let out = serve(&fixture, &[]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("serve.bin") && err.contains("--allow-missing-model"), "{err}");
}

#[test]
fn starts_without_a_model_when_allowed_and_becomes_ready_on_refresh() {
    let fixture = Fixture::new();
    std::fs::rename(fixture.path("serve.bin"), fixture.path("later.bin")).unwrap();
    let mut command = serve(&fixture, &["--allow-missing-model"]);
    command.env("MOVIEREC_API_TOKEN", TOKEN);
    let (child, addr, _stderr) = start(command);
    let (status, body) = request(&addr, "GET", "/ready", &[], "");
    assert_eq!(status, 503, "{body}");
    let (code, err) = health_check(&addr);
    assert_eq!(code, Some(1));
    assert!(err.contains("not ready: /ready answered 503"), "{err}");
    std::fs::rename(fixture.path("later.bin"), fixture.path("serve.bin")).unwrap();
    let bearer = format!("Bearer {TOKEN}");
    assert_eq!(request(&addr, "POST", "/refresh", &[("Authorization", &bearer)], "").0, 200);
    assert_eq!(request(&addr, "GET", "/ready", &[], "").0, 200);
    assert_eq!(health_check(&addr), (Some(0), String::new()));
    // A server listening on every interface is asked on loopback.
    let port = addr.rsplit(':').next().unwrap();
    assert_eq!(health_check(&format!("0.0.0.0:{port}")).0, Some(0));
    assert!(stop(child).success());
    let (code, err) = health_check(&addr);
    assert_eq!(code, Some(1));
    assert!(err.contains(&format!("no server answers on {addr}")), "{err}");
}

/// `serve --health-check` against `addr`: exit code and stderr.
fn health_check(addr: &str) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_serve"))
        .args(["--health-check", "--addr", addr])
        .env_remove("MOVIEREC_ADDR")
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A client that sends half a body and waits: answered 503 once the request time is up.
#[test]
fn slow_requests_time_out() {
    let fixture = Fixture::new();
    let (server, addr, _stderr) = start(serve(&fixture, &["--request-timeout", "0.2"]));
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let head =
        "POST /recommendations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    stream.write_all(format!("{head}{{\"ratings\": [").as_bytes()).unwrap();
    let started = Instant::now();
    let mut response = vec![0u8; 4096];
    // A signal to the test process (a child's exit) may interrupt the wait: wait again.
    let n = loop {
        match stream.read(&mut response) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            other => break other.unwrap(),
        }
    };
    let response = String::from_utf8_lossy(&response[..n]);
    assert!(response.starts_with("HTTP/1.1 503"), "{response}");
    assert!(response.contains("\"timeout\""), "{response}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(stop(server).success());
}
