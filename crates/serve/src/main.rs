//! `serve`: the HTTP API over the model and data the pipeline produced.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Parser, ValueEnum};
use movierec_core::quote::quote;
use movierec_serve::{AppState, Config, Paths, Snapshot, router};
use tracing_subscriber::EnvFilter;

/// Serve movie recommendations over HTTP.
///
/// Reads the model to serve and the loaded data (the outputs of `dvc repro`), then answers
/// recommendations for known users, fold-in recommendations for new ones, users, movies and
/// similar movies; runs grid searches in the background and reloads the artifacts on
/// request (both need a bearer token); exposes Prometheus metrics on /metrics and its
/// OpenAPI description on /openapi.json, browsable at /docs/. Every option can also be set
/// by the environment variable shown. Logs go to stderr; SIGTERM or Ctrl-C stops it after the
/// requests in flight.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    /// Address to listen on (port 0: any free port, logged at start-up).
    #[arg(long, env = "MOVIEREC_ADDR", default_value = "127.0.0.1:8000")]
    addr: SocketAddr,
    /// The model to serve.
    #[arg(long, env = "MOVIEREC_MODEL", value_name = "PATH", default_value = "models/serve.bin")]
    model: PathBuf,
    /// All loaded ratings (Parquet): who has seen what.
    #[arg(long, env = "MOVIEREC_RATINGS", value_name = "PATH", default_value = "data/loaded/ratings.parquet")]
    ratings: PathBuf,
    /// The users table (Parquet).
    #[arg(long, env = "MOVIEREC_USERS", value_name = "PATH", default_value = "data/loaded/users.parquet")]
    users: PathBuf,
    /// The movies table (Parquet).
    #[arg(long, env = "MOVIEREC_MOVIES", value_name = "PATH", default_value = "data/loaded/movies.parquet")]
    movies: PathBuf,
    /// The model's evaluation report (JSON), shown on / if the file exists.
    #[arg(long, env = "MOVIEREC_METRICS", value_name = "PATH", default_value = "metrics/optimize.json")]
    metrics: PathBuf,
    /// The parameters file: its `optimize` section gives the grid search's defaults (built-in
    /// defaults if the file does not exist).
    #[arg(long, env = "MOVIEREC_PARAMS", value_name = "PATH", default_value = "params.yaml")]
    params: PathBuf,
    /// A file holding the bearer token of /gridsearch and /refresh. The variable
    /// MOVIEREC_API_TOKEN gives the token itself. With neither, both routes are disabled.
    #[arg(long, env = "MOVIEREC_API_TOKEN_FILE", value_name = "PATH")]
    token_file: Option<PathBuf>,
    /// Start even if the artifacts cannot be read: /ready answers 503 until a refresh
    /// succeeds (for a service started before the pipeline has run).
    #[arg(long, env = "MOVIEREC_ALLOW_MISSING_MODEL")]
    allow_missing_model: bool,
    /// The largest page of /users, /users/{id} and /movies.
    #[arg(long, env = "MOVIEREC_MAX_PAGE", default_value_t = 1000)]
    max_page: usize,
    /// Seconds a request may take before it is answered 503.
    #[arg(long, env = "MOVIEREC_REQUEST_TIMEOUT", default_value_t = 10.0)]
    request_timeout: f64,
    /// Requests worked on at once (0: one per core). More wait their turn, in order.
    #[arg(long, env = "MOVIEREC_MAX_IN_FLIGHT", default_value_t = 0)]
    max_in_flight: usize,
    /// Requests waiting their turn, at most. Beyond them, a request is answered 503 at once,
    /// with Retry-After, instead of waiting longer and longer (/health, /ready and /metrics
    /// never wait).
    #[arg(long, env = "MOVIEREC_MAX_QUEUE", default_value_t = 64)]
    max_queue: usize,
    /// The largest request body, bytes (larger: 413).
    #[arg(long, env = "MOVIEREC_BODY_LIMIT", default_value_t = 65536)]
    body_limit: usize,
    /// Threads of a grid search job (the rest of the cores keep answering).
    #[arg(long, env = "MOVIEREC_GRIDSEARCH_THREADS", default_value_t = 1)]
    gridsearch_threads: usize,
    /// The most (candidate, fold) fits one grid search may ask for.
    #[arg(long, env = "MOVIEREC_GRIDSEARCH_MAX_FITS", default_value_t = 1000)]
    gridsearch_max_fits: usize,
    /// Hours after its training past which the model is stale: exported on /metrics as
    /// movierec_model_max_age_seconds, which the Prometheus alert compares the age with.
    #[arg(long, env = "MOVIEREC_MAX_MODEL_AGE_HOURS", default_value_t = 168.0)]
    max_model_age_hours: f64,
    /// Threads answering requests (0: one per core).
    #[arg(long, env = "MOVIEREC_WORKERS", default_value_t = 0)]
    workers: usize,
    /// Log level (error, warn, info, debug, trace) or a RUST_LOG-style filter; `warn` drops
    /// the per-request lines.
    #[arg(long, env = "MOVIEREC_LOG", default_value = "info")]
    log: String,
    /// Log format on stderr.
    #[arg(long, env = "MOVIEREC_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Do not serve: ask the server listening on --addr (on loopback if it listens on every
    /// interface) whether it is ready, and exit 0 if /ready answers 200, 1 otherwise. The
    /// container image's health check, which needs no HTTP client in the image.
    #[arg(long)]
    health_check: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum LogFormat {
    /// One readable line per event.
    Text,
    /// One JSON object per event.
    Json,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.health_check {
        return movierec_stage::cli::exit(health_check(args.addr));
    }
    init_logging(&args);
    movierec_stage::cli::exit(movierec_stage::cli::check_env().and_then(|()| run(args)))
}

fn init_logging(args: &Args) {
    let filter = EnvFilter::try_new(&args.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = match args.log_format {
        LogFormat::Text => builder.with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr())).compact().try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Asks the server on `addr` for /ready over one HTTP/1.1 request: Ok if it answers 200.
fn health_check(addr: SocketAddr) -> anyhow::Result<()> {
    anyhow::ensure!(addr.port() != 0, "cannot check a server on port 0: give the port it listens on with --addr");
    let mut target = addr;
    if target.ip().is_unspecified() {
        target.set_ip(match addr {
            SocketAddr::V4(_) => Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => Ipv6Addr::LOCALHOST.into(),
        });
    }
    let timeout = Duration::from_secs(3);
    let mut stream =
        TcpStream::connect_timeout(&target, timeout).with_context(|| format!("no server answers on {target}"))?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    write!(stream, "GET /ready HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n")
        .with_context(|| format!("cannot send a request to {target}"))?;
    let mut line = String::new();
    BufReader::new(stream.take(4096)).read_line(&mut line).with_context(|| format!("no answer from {target}"))?;
    let status = match line.split_whitespace().collect::<Vec<_>>()[..] {
        [version, code, ..] if version.starts_with("HTTP/") => code.parse::<u16>().ok(),
        _ => None,
    }
    .with_context(|| format!("{target} did not answer HTTP: {}", quote(line.trim_end())))?;
    anyhow::ensure!(status == 200, "the server on {target} is not ready: /ready answered {status}");
    println!("http://{target}/ready: {status}");
    Ok(())
}

fn token(args: &Args) -> anyhow::Result<Option<String>> {
    let token = match &args.token_file {
        Some(path) => Some(
            std::fs::read_to_string(path)
                .with_context(|| format!("failed to read the token file {}", path.display()))?
                .trim()
                .to_owned(),
        ),
        None => std::env::var("MOVIEREC_API_TOKEN").ok(),
    };
    match token {
        Some(t) if t.is_empty() => anyhow::bail!("the API token is empty"),
        Some(t) if t.len() < 16 => anyhow::bail!("the API token is shorter than 16 characters"),
        t => Ok(t),
    }
}

fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = config(&args)?;
    if config.token.is_none() {
        tracing::warn!("no API token: POST /gridsearch and POST /refresh are disabled (set MOVIEREC_API_TOKEN)");
    }
    let paths = Paths {
        model: args.model.clone(),
        ratings: args.ratings.clone(),
        users: args.users.clone(),
        movies: args.movies.clone(),
        metrics: Some(args.metrics.clone()),
    };
    let snapshot = load(&paths, &args)?;
    let state = AppState::new(paths, config, snapshot)?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if args.workers > 0 {
        runtime.worker_threads(args.workers);
    }
    let runtime = runtime.enable_all().build().context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(args.addr)
            .await
            .with_context(|| format!("cannot listen on {}", args.addr))?;
        let local = listener.local_addr()?;
        tracing::info!(ready_in_ms = started.elapsed().as_millis() as u64, "listening on http://{local}");
        axum::serve(listener, router(state)).with_graceful_shutdown(shutdown()).await.context("the server failed")?;
        tracing::info!("stopped");
        Ok(())
    })
}

/// The service's behaviour, from the flags checked.
fn config(args: &Args) -> anyhow::Result<Config> {
    anyhow::ensure!(
        args.request_timeout.is_finite() && args.request_timeout > 0.0,
        "invalid --request-timeout {}: expected a positive number of seconds",
        args.request_timeout
    );
    anyhow::ensure!(args.max_page >= 1, "invalid --max-page 0: expected 1 or more");
    anyhow::ensure!(
        args.max_model_age_hours.is_finite() && args.max_model_age_hours > 0.0,
        "invalid --max-model-age-hours {}: expected a positive number of hours",
        args.max_model_age_hours
    );
    Ok(Config {
        token: token(args)?,
        max_page: args.max_page,
        request_timeout: Duration::from_secs_f64(args.request_timeout),
        max_in_flight: args.max_in_flight,
        max_queue: args.max_queue,
        body_limit: args.body_limit,
        gridsearch_threads: args.gridsearch_threads.max(1),
        gridsearch_max_fits: args.gridsearch_max_fits,
        max_model_age: Duration::from_secs_f64(args.max_model_age_hours * 3600.0),
        params: args.params.exists().then(|| args.params.clone()),
    })
}

/// The artifacts at `paths`, or none when they cannot be served and `--allow-missing-model`
/// says to start anyway.
fn load(paths: &Paths, args: &Args) -> anyhow::Result<Option<Snapshot>> {
    match Snapshot::load(paths) {
        Ok(s) => {
            tracing::info!(
                model = %args.model.display(),
                users = s.data.user_ids.len(),
                movies = s.data.movie_ids.len(),
                "model and data loaded"
            );
            Ok(Some(s))
        }
        Err(e) if args.allow_missing_model => {
            tracing::warn!("no model served until a refresh succeeds: {e:#}");
            Ok(None)
        }
        Err(e) => Err(e.context("cannot start: the artifacts cannot be served (--allow-missing-model starts anyway)")),
    }
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing the requests in flight");
}
