//! `train`: fits the rating model (SVD or another of Surprise's algorithms) and the configured ranking on the training set and writes the model
//! artifact, a report and the per-epoch training loss.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use movierec_core::data::trainset::Trainset;
use movierec_core::models::artifact::{self, Provenance};
use movierec_core::models::base::simd::Isa;
use movierec_core::models::rating::model::RatingModel;
use movierec_core::models::rating::svd::fast;
use movierec_core::models::rating::svd::{Epoch, Svd, TrainMode};
use movierec_core::models::{Algorithm, Kind, Recommender};
use movierec_stage::params::TrainParams;
use movierec_stage::progress::{Phase, Steps};
use movierec_stage::tracking::{self, Metric, Tracker};
use movierec_stage::{Common, Outputs, Params};
use serde::Serialize;

/// Fit the rating model and the ranking on the training set and write the model.
///
/// `train.algorithm` is the rating model, whose predicted relevance every recommendation
/// shows: `svd` (below), or another of Surprise's algorithms (`normal_predictor`,
/// `baseline_only`, `knn_basic`, `knn_with_means`, `knn_with_zscore`, `knn_baseline`,
/// `svdpp`, `nmf`, `slope_one`, `co_clustering`) with its parameters under
/// `train.algorithms.<name>` (Surprise's names and defaults).
///
/// `train.mode` is `fast` (single precision, parallel on `train.threads` threads, the same
/// model for any number of threads) or `surprise` (scikit-surprise's SVD reproduced bit for
/// bit). `train.svd` holds Surprise's hyper-parameters: SVD predicts the relevance score every
/// recommendation shows. `train.ranking.kind` chooses what orders each user's list: `svd`
/// (predicted relevance), `popularity`, `ease` or `ials`, each with its parameters under
/// `train.ranking`. Training stops with an error, and writes nothing, if a parameter is out
/// of range or stops being finite (learning rates too large for the rating scale). Outputs
/// are written only if the stage succeeds.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// The training set written by `prepare` (Parquet).
    #[arg(long, value_name = "PATH")]
    train: PathBuf,
    /// Where to write the model (movierec's model format, docs/model-format.md).
    #[arg(long, value_name = "PATH")]
    model: PathBuf,
    /// Where to write the report (JSON: training time, users, movies, mean score, mode, threads).
    #[arg(long, value_name = "PATH")]
    report: PathBuf,
    /// Where to write the training loss by epoch (CSV: epoch, train_rmse), for `dvc plots`.
    #[arg(long, value_name = "PATH")]
    loss: PathBuf,
}

/// The report's JSON form.
#[derive(Debug, Serialize)]
struct Report {
    algorithm: &'static str,
    params: serde_json::Value,
    mode: Option<TrainMode>,
    threads: usize,
    /// The vector instructions of the `fast` SVD's and implicit ALS's loops on this machine
    /// (`avx512`, `avx2+fma`, or `baseline` where the CPU lacks them or `MOVIEREC_SIMD=baseline`;
    /// `MOVIEREC_SIMD=avx2`: at most `avx2+fma`). In the portable arithmetic (each model's
    /// `simd`, in `params`), they change nothing but the speed.
    instructions: &'static str,
    training_time: f64,
    n_ratings: usize,
    n_users: usize,
    n_movies: usize,
    mean_score: f64,
    rating_updates_per_second: Option<f64>,
    final_train_rmse: Option<f64>,
    data_fingerprint: String,
    ranking: RankingReport,
}

/// The ranking's part of the report.
#[derive(Debug, Serialize)]
struct RankingReport {
    #[serde(flatten)]
    params: serde_json::Value,
    training_time: f64,
}

fn main() -> ExitCode {
    movierec_stage::main(Args::parse(), |a| &a.common, run)
}

fn run(args: Args) -> anyhow::Result<()> {
    let params = Params::from_file(&args.common.params)?;
    let mut tracker = Tracker::start(&params.tracking, "train", &params.tracking.experiments.train)?;
    let outcome = train(&args, &params.train, &mut tracker);
    tracker.finish(outcome)
}

fn train(args: &Args, p: &TrainParams, tracker: &mut Tracker) -> anyhow::Result<Outputs> {
    tracker.log(
        &tracking::params_of(&serde_json::json!({
            "algorithm": p.algorithm, "mode": p.mode, "threads": p.threads, "svd": p.svd,
            "algorithms": p.algorithms, "ranking": p.ranking.chosen(),
        })),
        &[],
        &[],
    )?;
    let algorithm = p.rating()?;
    let svd = p.svd.check().context("invalid train.svd parameters")?;
    svd.check_mode(p.mode).context("invalid train.svd parameters")?;
    let phase = Phase::start("reading the training set");
    let list = movierec_tables::read_ratings(&args.train)?;
    anyhow::ensure!(!list.is_empty(), "the training set {} has no rating", args.train.display());
    let t = Trainset::new(&list);
    phase.finish();
    let fingerprint = artifact::fingerprint(&list);
    tracker.log(&[("data_fingerprint".to_owned(), fingerprint.clone())], &[], &[])?;
    // Everything that cannot be fitted on this data is refused before any fitting.
    let kind = ranking_kind(p, &t)?;
    let threads = threads(p, algorithm.is_none(), &t);
    let (rating, seconds, losses) = match &algorithm {
        None => fit_svd(&svd, p.mode, threads, &t)?,
        Some(a) => fit_algorithm(a, threads, &t)?,
    };
    let phase = Phase::start(format!("fitting the {kind} ranking"));
    let started = Instant::now();
    let ranking = p.ranking.fit_kind(kind, &t, p.threads).context("invalid train.ranking parameters")?;
    let ranking_seconds = started.elapsed().as_secs_f64();
    phase.finish();
    let model = Recommender { rating, ranking, rerank: p.ranking.rerank };
    let provenance = Provenance::new(fingerprint, t.n_ratings(), seconds, threads);
    let report = Report {
        algorithm: model.rating.name(),
        params: model.rating.params(),
        mode: model.rating.mode(),
        threads,
        instructions: Isa::current().name(),
        training_time: seconds,
        n_ratings: t.n_ratings(),
        n_users: t.n_users(),
        n_movies: t.n_items(),
        mean_score: t.global_mean(),
        rating_updates_per_second: algorithm.is_none().then(|| (t.n_ratings() * svd.n_epochs) as f64 / seconds),
        final_train_rmse: losses.last().map(|e| e.train_rmse),
        data_fingerprint: provenance.data_fingerprint.clone(),
        ranking: RankingReport { params: p.ranking.chosen_as(kind), training_time: ranking_seconds },
    };
    write(args, &model, &provenance, &report, &losses, tracker)
}

/// The kind `train.ranking` resolves to on this training set's catalogue, its parameters
/// checked against it.
fn ranking_kind(p: &TrainParams, t: &Trainset<'_>) -> anyhow::Result<Kind> {
    let kind = p.ranking.check_kind(p.ranking.kind, t.n_items()).context("invalid train.ranking parameters")?;
    if kind != p.ranking.kind {
        tracing::info!(
            "the {} ranking is {kind} on {} movies (ease up to ease.max_items, {}; ials above)",
            p.ranking.kind,
            t.n_items(),
            p.ranking.ease.max_items
        );
    }
    Ok(kind)
}

/// The threads the rating model's fit runs on: one for SVD in Surprise's mode; for SVD's fast
/// fit left to choose, no more than the data keeps busy; else `train.threads` (0: every core).
fn threads(p: &TrainParams, is_svd: bool, t: &Trainset<'_>) -> usize {
    match p.mode {
        TrainMode::Surprise if is_svd => 1,
        TrainMode::Fast if is_svd && p.threads == 0 => fast::threads_for(t.n_ratings()),
        _ if p.threads == 0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        _ => p.threads,
    }
}

/// Fits one of Surprise's algorithms other than SVD: the model and the seconds (no epochs).
fn fit_algorithm(a: &Algorithm, threads: usize, t: &Trainset<'_>) -> anyhow::Result<(RatingModel, f64, Vec<Epoch>)> {
    tracing::info!(ratings = t.n_ratings(), users = t.n_users(), movies = t.n_items(), "training {}", a.name());
    let phase = Phase::start(format!("fitting {}", a.name()));
    let started = Instant::now();
    let model = RatingModel::fit(a, t, threads).with_context(|| format!("invalid train.algorithms.{}", a.name()))?;
    phase.finish();
    Ok((model, started.elapsed().as_secs_f64(), Vec::new()))
}

/// Stages the model, the loss and the report, and logs them to MLflow before they are put in
/// place (the tracker's `finish` does it), so that a required tracking that fails changes no
/// output.
fn write(
    args: &Args,
    model: &Recommender,
    provenance: &Provenance,
    report: &Report,
    losses: &[Epoch],
    tracker: &mut Tracker,
) -> anyhow::Result<Outputs> {
    let mut out = Outputs::new();
    out.write(&args.model, |w| artifact::write(model, provenance, w))?;
    out.write(&args.loss, |w| -> std::io::Result<()> {
        use std::io::Write;
        writeln!(w, "epoch,train_rmse")?;
        for e in losses {
            writeln!(w, "{},{}", e.epoch, e.train_rmse)?;
        }
        Ok(())
    })?;
    out.write_json(&args.report, report)?;
    let mut metrics = tracking::report_metrics(&serde_json::to_value(report)?);
    metrics.extend(losses.iter().map(|e| Metric {
        key: "train_rmse".into(),
        value: e.train_rmse,
        step: e.epoch as u64,
    }));
    tracker.log(&[], &metrics, &[])?;
    tracker.upload("model/model.bin", out.staged(&args.model))?;
    tracker.upload("metrics/train.json", out.staged(&args.report))?;
    tracker.upload("plots/train_loss.csv", out.staged(&args.loss))?;
    Ok(out)
}

/// Fits SVD in `mode`, with a bar over the epochs: the model, the seconds, each epoch's loss.
fn fit_svd(
    svd: &Svd,
    mode: TrainMode,
    threads: usize,
    t: &Trainset<'_>,
) -> anyhow::Result<(RatingModel, f64, Vec<Epoch>)> {
    tracing::info!(
        mode = ?mode,
        threads,
        ratings = t.n_ratings(),
        users = t.n_users(),
        movies = t.n_items(),
        n_factors = svd.n_factors,
        n_epochs = svd.n_epochs,
        "training"
    );
    let steps = Steps::new(svd.n_epochs as u64, "epochs");
    let mut losses: Vec<Epoch> = Vec::with_capacity(svd.n_epochs);
    let on_epoch = |e: Epoch| {
        steps.step(format!("epoch {} train rmse {:.4}", e.epoch, e.train_rmse));
        tracing::debug!(epoch = e.epoch, train_rmse = e.train_rmse, "epoch");
        losses.push(e);
    };
    let started = Instant::now();
    let model = match mode {
        TrainMode::Surprise => svd.fit_surprise(t, on_epoch),
        TrainMode::Fast => svd.fit_fast(t, threads, on_epoch),
    }?;
    let seconds = started.elapsed().as_secs_f64();
    steps.finish();
    let final_rmse = losses.last().map_or(f64::NAN, |e| e.train_rmse);
    tracing::info!("trained in {seconds:.2} s, final train rmse {final_rmse:.4}");
    Ok((model.into(), seconds, losses))
}
