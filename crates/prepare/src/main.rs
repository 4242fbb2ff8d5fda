//! `prepare`: filters the loaded ratings and splits them into a training and a test set,
//! with Surprise's `train_test_split` reproduced row for row or a per-user split.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use movierec_core::data::split::{self, SplitStrategy, SplitSummary};
use movierec_stage::params::PrepareParams;
use movierec_stage::progress::Phase;
use movierec_stage::{Common, Outputs, Params};
use serde::Serialize;

/// Split the loaded ratings into a training and a test set.
///
/// Users and movies with fewer than `prepare.min_user_ratings` / `min_movie_ratings`
/// ratings are dropped first (repeatedly, until both minimums hold). `prepare.split` is
/// `random` (exactly Surprise's `train_test_split(test_size, random_state=seed)` given the
/// same row order) or `per_user` (each user's ratings split by `test_size`). Both sets keep
/// the columns user_id, movie_id, score; outputs are written only if the stage succeeds.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// The ratings table written by `load` (Parquet).
    #[arg(long, value_name = "PATH")]
    ratings: PathBuf,
    /// Where to write the training set (Parquet).
    #[arg(long, value_name = "PATH")]
    train: PathBuf,
    /// Where to write the test set (Parquet).
    #[arg(long, value_name = "PATH")]
    test: PathBuf,
    /// Where to write the report (JSON: sizes, users and movies, test-only ids).
    #[arg(long, value_name = "PATH")]
    report: PathBuf,
}

/// The report's JSON form.
#[derive(Debug, Serialize)]
struct Report {
    split: SplitStrategy,
    test_size: f64,
    seed: u32,
    ratings_loaded: u64,
    ratings_removed_by_filters: u64,
    #[serde(flatten)]
    summary: SplitSummary,
}

fn main() -> ExitCode {
    movierec_stage::main(Args::parse(), |a| &a.common, run)
}

fn run(args: Args) -> anyhow::Result<()> {
    let p: PrepareParams = Params::from_file(&args.common.params)?.prepare;
    let phase = Phase::start("reading the ratings");
    let loaded = movierec_tables::read_ratings(&args.ratings)?;
    phase.finish();

    let phase = Phase::start("splitting");
    let kept = split::filter_min_ratings(&loaded, p.min_user_ratings, p.min_movie_ratings);
    let removed = (loaded.len() - kept.len()) as u64;
    let list = if removed == 0 { loaded } else { loaded.select(&kept) };
    if list.is_empty() {
        anyhow::bail!(
            "no rating is left after the filters min_user_ratings = {} and min_movie_ratings = {}",
            p.min_user_ratings,
            p.min_movie_ratings
        );
    }
    let split = match p.split {
        SplitStrategy::Random => split::train_test_split(list.len(), p.test_size, p.seed),
        SplitStrategy::PerUser => split::per_user_split(&list, p.test_size, p.seed),
    }
    .context("invalid prepare parameters")?;
    let summary = split::summarize(&list, &split);
    phase.finish();
    tracing::info!(
        train = summary.train.ratings,
        test = summary.test.ratings,
        users_only_in_test = summary.users_only_in_test,
        movies_only_in_test = summary.movies_only_in_test,
        "split"
    );

    let phase = Phase::start("writing the sets");
    let mut out = Outputs::new();
    out.write(&args.train, |w| movierec_tables::write_rating_rows(&list, &split.train, w))?;
    out.write(&args.test, |w| movierec_tables::write_rating_rows(&list, &split.test, w))?;
    let report = Report {
        split: p.split,
        test_size: p.test_size,
        seed: p.seed,
        ratings_loaded: list.len() as u64 + removed,
        ratings_removed_by_filters: removed,
        summary,
    };
    out.write_json(&args.report, &report)?;
    out.commit()?;
    phase.finish();
    Ok(())
}
