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
use movierec_core::models::base::{Epoch, FitError, TrainMode};
use movierec_core::models::rating::model::RatingModel;
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
/// recommendation shows. `train.ranking.kind` chooses what orders each user's list:
/// `relevance` (the rating model's predicted relevance; `svd` is its former name),
/// `popularity`, `ease`, `ials`, `rp3beta` or `ensemble` (two of them added), each with its
/// parameters under `train.ranking`. Training stops with an error, and writes nothing, if a parameter is out
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
    algorithm
        .check()
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("invalid {} parameters", p.rating_field()))?;
    let phase = Phase::start("reading the training set");
    let list = movierec_tables::read_ratings(&args.train)?;
    anyhow::ensure!(!list.is_empty(), "the training set {} has no rating", args.train.display());
    let t = Trainset::new(&list);
    phase.finish();
    let fingerprint = artifact::fingerprint(&list);
    tracker.log(&[("data_fingerprint".to_owned(), fingerprint.clone())], &[], &[])?;
    // Everything that cannot be fitted on this data is refused before any fitting.
    let kind = ranking_kind(p, &t)?;
    let threads = algorithm.threads(p.threads, t.n_ratings());
    let (rating, seconds, losses) = fit(&algorithm, threads, &t).map_err(|e| match e {
        // What diverged says which rates to lower.
        FitError::Diverged(_) => anyhow::Error::new(e),
        e => anyhow::Error::new(e).context(format!("invalid {}", p.rating_field())),
    })?;
    let phase = Phase::start(format!("fitting the {kind} ranking"));
    let started = Instant::now();
    let ranking = p.ranking.fit_kind(kind, &t, p.threads).context("invalid train.ranking parameters")?;
    let ranking_seconds = started.elapsed().as_secs_f64();
    phase.finish();
    let model = Recommender { rating, ranking, reorder: p.ranking.reorder() };
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
        rating_updates_per_second: algorithm.epochs().map(|n| (t.n_ratings() * n) as f64 / seconds),
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

/// Fits the rating model: the model, the seconds, and each epoch's loss for an algorithm
/// fitted epoch by epoch (SVD), with a bar over the epochs.
fn fit(a: &Algorithm, threads: usize, t: &Trainset<'_>) -> Result<(RatingModel, f64, Vec<Epoch>), FitError> {
    tracing::info!(
        algorithm = a.name(),
        mode = ?a.mode(),
        threads,
        ratings = t.n_ratings(),
        users = t.n_users(),
        movies = t.n_items(),
        "training"
    );
    let epochs = a.epochs();
    let steps = epochs.map(|n| Steps::new(n as u64, "epochs"));
    let phase = epochs.is_none().then(|| Phase::start(format!("fitting {}", a.name())));
    let mut losses: Vec<Epoch> = Vec::with_capacity(epochs.unwrap_or(0));
    let started = Instant::now();
    let model = RatingModel::fit_by_epoch(a, t, threads, |e, _| {
        if let Some(steps) = &steps {
            steps.step(format!("epoch {} train rmse {:.4}", e.epoch, e.train_rmse));
        }
        tracing::debug!(epoch = e.epoch, train_rmse = e.train_rmse, "epoch");
        losses.push(e);
    })?;
    let seconds = started.elapsed().as_secs_f64();
    if let Some(steps) = steps {
        steps.finish();
    }
    if let Some(phase) = phase {
        phase.finish();
    }
    match losses.last() {
        Some(last) => tracing::info!("trained in {seconds:.2} s, final train rmse {:.4}", last.train_rmse),
        None => tracing::info!("trained in {seconds:.2} s"),
    }
    Ok((model, seconds, losses))
}
