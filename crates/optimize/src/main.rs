//! `optimize`: searches SVD's hyper-parameters by K-fold cross-validation on the training
//! set, scores the best on the test set, and fits it on all ratings: the model to serve.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use movierec_core::artifact::{self, Provenance};
use movierec_core::search::{self, Candidate, CandidateResult, Measure};
use movierec_core::svd::{Svd, SvdModel, SvdParams, TrainMode};
use movierec_core::trainset::Trainset;
use movierec_stage::params::{OptimizeParams, TrackingParams};
use movierec_stage::progress::{Phase, Steps};
use movierec_stage::tracking::{self, Tracker};
use movierec_stage::{Common, Outputs, Params};
use serde::Serialize;

/// Search SVD's hyper-parameters by cross-validation, then fit the best on all ratings.
///
/// `optimize.space` lists the values of each searched parameter; `optimize.method` is `grid`
/// (every combination) or `random` (`n_iter` seeded draws, from lists or `{min, max, log}`
/// ranges). Every candidate is fitted on each of `optimize.cv` folds of the training set
/// (the same folds for all, as Surprise's GridSearchCV) and scored by rmse and mae; the
/// (candidate, fold) fits run in parallel and the results do not depend on the number of
/// threads. A candidate that diverges is reported as failed and the search goes on. The best
/// by `optimize.measure` is refitted on the whole training set and scored on the test set
/// (the honest score), then refitted on all ratings: the model to serve.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// The training set (Parquet), cut into folds.
    #[arg(long, value_name = "PATH")]
    train: PathBuf,
    /// The test set (Parquet), for the best candidate's honest score.
    #[arg(long, value_name = "PATH")]
    test: PathBuf,
    /// All loaded ratings (Parquet), which the model to serve is fitted on.
    #[arg(long, value_name = "PATH")]
    ratings: PathBuf,
    /// Where to write the model to serve.
    #[arg(long, value_name = "PATH")]
    model: PathBuf,
    /// Where to write the report (JSON: best parameters and scores, every candidate's results).
    #[arg(long, value_name = "PATH")]
    report: PathBuf,
    /// Where to write one line per candidate (CSV), for `dvc plots`.
    #[arg(long, value_name = "PATH")]
    candidates: PathBuf,
}

#[derive(Debug, Serialize)]
struct Score {
    rmse: f64,
    mae: f64,
}

#[derive(Debug, Serialize)]
struct Report {
    method: search::Method,
    measure: Measure,
    cv: usize,
    seed: u32,
    mode: TrainMode,
    threads: usize,
    candidates: usize,
    failed: usize,
    search_seconds: f64,
    best_index: usize,
    best_params: SvdParams,
    best_score: Score,
    test_score: Score,
    serve_model: ServeModel,
    cv_results: Vec<CandidateResult>,
}

#[derive(Debug, Serialize)]
struct ServeModel {
    n_ratings: usize,
    n_users: usize,
    n_movies: usize,
    training_time: f64,
}

fn main() -> ExitCode {
    movierec_stage::main(Args::parse(), |a| &a.common, run)
}

fn fit(svd: &Svd, mode: TrainMode, threads: usize, t: &Trainset<'_>) -> anyhow::Result<SvdModel> {
    Ok(svd.fit(mode, threads, t, |_| {})?)
}

fn run(args: Args) -> anyhow::Result<()> {
    let params = Params::from_file(&args.common.params)?;
    let mut tracker = Tracker::start(&params.tracking, "optimize", &params.tracking.experiments.optimize)?;
    let outcome = optimize(&args, &params.optimize, &params.tracking, &mut tracker);
    tracker.finish(outcome)
}

fn optimize(args: &Args, p: &OptimizeParams, tp: &TrackingParams, tracker: &mut Tracker) -> anyhow::Result<()> {
    let mut logged = tracking::params_of(&serde_json::json!({
        "method": p.method, "n_iter": p.n_iter, "seed": p.seed, "cv": p.cv, "threads": p.threads,
        "mode": p.mode, "measure": p.measure, "base": p.base,
    }));
    logged.push(("space".to_owned(), serde_json::to_string(&p.space)?));
    tracker.log(&logged, &[], &[])?;
    let candidates = search::candidates(&p.space, p.method, p.n_iter, p.seed).context("invalid optimize.space")?;
    anyhow::ensure!(!candidates.is_empty(), "optimize has no candidate (random search with n_iter 0?)");
    let fits: Vec<(Candidate, Svd)> = candidates
        .into_iter()
        .map(|c| {
            let svd = search::apply(&p.base, &c)?.check()?;
            Ok((c, svd))
        })
        .collect::<anyhow::Result<_>>()
        .context("invalid optimize parameters")?;
    let threads = if p.threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { p.threads };

    let phase = Phase::start("reading the sets");
    let train = movierec_tables::read_ratings(&args.train)?;
    let test = movierec_tables::read_ratings(&args.test)?;
    let all = movierec_tables::read_ratings(&args.ratings)?;
    phase.finish();

    tracing::info!(candidates = fits.len(), folds = p.cv, threads, "searching");
    let steps = Steps::new((fits.len() * p.cv) as u64, "fits");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().context("cannot start the thread pool")?;
    let started = Instant::now();
    let cv_results = pool
        .install(|| {
            search::cross_validate(&train, &fits, p.mode, p.cv, p.seed, p.measure, |c, f| {
                steps.step(format!("candidate {} fold {}", c + 1, f + 1));
            })
        })
        .context("invalid optimize.cv")?;
    let search_seconds = started.elapsed().as_secs_f64();
    steps.finish();

    let failed = cv_results.iter().filter(|r| r.rank.is_none()).count();
    let Some(best) = search::best(&cv_results) else {
        anyhow::bail!(
            "every candidate failed; the first: {}",
            cv_results[0].reason.as_deref().unwrap_or("no reason recorded")
        );
    };
    let candidates: Vec<&Candidate> = fits.iter().map(|(c, _)| c).collect();
    let best_params = search::apply(&p.base, candidates[best])?;
    tracing::info!(
        best = best + 1,
        rmse = cv_results[best].mean_test_rmse,
        failed,
        "searched in {search_seconds:.1} s: best {:?}",
        candidates[best]
    );

    let phase = Phase::start("fitting the best candidate on the training set, then on all ratings");
    let svd = fits[best].1;
    let t = Trainset::new(&train);
    let model = fit(&svd, p.mode, threads, &t).context("refitting the best candidate")?;
    let (rmse, mae) = search::score(&model, &test, 0..test.len());
    let t_all = Trainset::new(&all);
    let t0 = Instant::now();
    let serve = fit(&svd, p.mode, threads, &t_all).context("fitting the model to serve")?;
    let serve_seconds = t0.elapsed().as_secs_f64();
    phase.finish();
    tracing::info!(test_rmse = rmse, test_mae = mae, "best candidate on the test set");

    let provenance = Provenance {
        data_fingerprint: artifact::fingerprint(&all),
        n_ratings: all.len() as u64,
        created_at: artifact::now_rfc3339(),
        training_seconds: serve_seconds,
        threads: if p.mode == TrainMode::Fast { threads } else { 1 },
    };
    let best_result = &cv_results[best];
    let report = Report {
        method: p.method,
        measure: p.measure,
        cv: p.cv,
        seed: p.seed,
        mode: p.mode,
        threads,
        candidates: fits.len(),
        failed,
        search_seconds,
        best_index: best,
        best_params,
        best_score: Score { rmse: best_result.mean_test_rmse.unwrap(), mae: best_result.mean_test_mae.unwrap() },
        test_score: Score { rmse, mae },
        serve_model: ServeModel {
            n_ratings: all.len(),
            n_users: serve.users.len(),
            n_movies: serve.items.len(),
            training_time: serve_seconds,
        },
        cv_results,
    };
    let mut out = Outputs::new();
    out.write(&args.model, |w| artifact::write(&serve, &provenance, w))?;
    out.write(&args.candidates, |w| write_candidates(&report.cv_results, p, w))?;
    out.write_json(&args.report, &report)?;
    out.commit()?;

    if tracker.is_on() {
        log_run(tracker, &report, &provenance, tp, args)?;
    }
    Ok(())
}

/// The parent run's best params and scores, one child run per candidate, the artifacts, and
/// the model to serve registered.
fn log_run(
    tracker: &mut Tracker,
    report: &Report,
    provenance: &Provenance,
    t: &TrackingParams,
    args: &Args,
) -> anyhow::Result<()> {
    let steps = Steps::new(report.cv_results.len() as u64, "candidates logged to MLflow");
    let mut best_run = None;
    for (i, r) in report.cv_results.iter().enumerate() {
        let params: Vec<(String, String)> = r.params.iter().map(|(k, v)| (k.clone(), v.to_string())).collect();
        let metrics = tracking::report_metrics(&serde_json::to_value(r)?);
        let best = i == report.best_index;
        let tags = [
            ("candidate".to_owned(), (i + 1).to_string()),
            ("status".to_owned(), r.status.to_owned()),
            ("best".to_owned(), best.to_string()),
        ];
        let id = tracker.child(&format!("candidate {}", i + 1), &params, &metrics, &tags)?;
        if best {
            best_run = id;
        }
        steps.step(format!("candidate {}", i + 1));
    }
    steps.finish();
    let mut params = tracking::params_of(&serde_json::json!({ "best": report.best_params }));
    params.push(("data_fingerprint".to_owned(), provenance.data_fingerprint.clone()));
    let mut tags = vec![("best_candidate".to_owned(), (report.best_index + 1).to_string())];
    if let Some(id) = best_run {
        tags.push(("best_run_id".to_owned(), id));
    }
    let mut summary = serde_json::to_value(report)?;
    if let Some(m) = summary.as_object_mut() {
        m.remove("cv_results");
    }
    tracker.log(&params, &tracking::report_metrics(&summary), &tags)?;
    tracker.upload("model/serve.bin", &args.model)?;
    tracker.upload("metrics/optimize.json", &args.report)?;
    tracker.upload("plots/optimize_candidates.csv", &args.candidates)?;
    if let Some(name) = &t.registry.name {
        tracker.register("model", name, t.registry.alias.as_deref())?;
    }
    Ok(())
}

/// One line per candidate: its number, rank, mean scores, mean fit time, searched values.
fn write_candidates(
    results: &[CandidateResult],
    p: &OptimizeParams,
    w: &mut impl std::io::Write,
) -> std::io::Result<()> {
    let names: Vec<&String> = p.space.keys().collect();
    write!(w, "candidate,rank,mean_test_rmse,mean_test_mae,mean_fit_time")?;
    for n in &names {
        write!(w, ",{n}")?;
    }
    writeln!(w)?;
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for (i, r) in results.iter().enumerate() {
        write!(
            w,
            "{},{},{},{},{}",
            i + 1,
            r.rank.map_or(String::new(), |k| k.to_string()),
            opt(r.mean_test_rmse),
            opt(r.mean_test_mae),
            opt(r.mean_fit_time)
        )?;
        for n in &names {
            write!(w, ",{}", r.params[*n])?;
        }
        writeln!(w)?;
    }
    Ok(())
}
