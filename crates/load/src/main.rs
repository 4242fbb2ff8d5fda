//! `load`: reads the ratings source named in `params.yaml` (the embedded generator, a CSV
//! file in the seed's schema, or a MovieLens folder) and writes the canonical ratings, users
//! and movies tables plus a report of what was read, kept and rejected.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use movierec_core::data::builder::Rules;
use movierec_core::data::report::LoadReport;
use movierec_core::data::stats::ScoreStats;
use movierec_core::data::{movielens, seed_csv, synthetic};
use movierec_core::{Dataset, RatingScale};
use movierec_stage::params::{LoadParams, SourceKind};
use movierec_stage::progress::Phase;
use movierec_stage::{Common, Outputs, Params};
use serde::Serialize;

/// Read the ratings source named in params.yaml and write the canonical tables.
///
/// The source is `load.source`: `synthetic` (a seeded generator of data in the seed's
/// shape), `csv` (a file in the seed's 13-column schema, headers mapped by
/// `load.csv.columns`) or `movielens` (an ml-100k or ml-latest folder). Rows with invalid
/// values are rejected or stop the stage (`load.on_invalid`); repeated (user, movie) pairs
/// follow `load.on_duplicate`. Outputs are written only if the whole stage succeeds.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// Where to write the ratings table (Parquet: user_id, movie_id, score, extras).
    #[arg(long, value_name = "PATH")]
    ratings: PathBuf,
    /// Where to write the users table (Parquet: user_id, user_name, n_ratings).
    #[arg(long, value_name = "PATH")]
    users: PathBuf,
    /// Where to write the movies table (Parquet: movie_id, attributes, n_ratings, mean_score).
    #[arg(long, value_name = "PATH")]
    movies: PathBuf,
    /// Where to write the report (JSON: rows read, kept, rejected by reason; score statistics).
    #[arg(long, value_name = "PATH")]
    report: PathBuf,
    /// Also write the kept ratings as a CSV in the seed's schema, with the headers of
    /// `load.csv.columns`: a realistic file for the `csv` source.
    #[arg(long, value_name = "PATH")]
    export_csv: Option<PathBuf>,
}

/// The report's JSON form.
#[derive(Debug, Serialize)]
struct Report<'a> {
    source: String,
    rating_scale: RatingScale,
    #[serde(flatten)]
    load: &'a LoadReport,
}

fn main() -> ExitCode {
    movierec_stage::main(Args::parse(), |a| &a.common, run)
}

fn run(args: Args) -> anyhow::Result<()> {
    let params = Params::from_file(&args.common.params)?.load;
    let phase = Phase::start(format!("reading the {} source", source_name(&params)));
    let (data, report, source) = read_source(&params)?;
    phase.finish();
    tracing::info!(
        rows_read = report.rows_read,
        rows_kept = report.rows_kept,
        rows_rejected = report.rows_rejected,
        users = report.stats.users,
        movies = report.stats.movies,
        "loaded {source}"
    );
    if report.rows_rejected > 0 {
        tracing::warn!("{} rows rejected; see {}", report.rows_rejected, args.report.display());
    }

    let phase = Phase::start("writing the tables");
    let mut out = Outputs::new();
    out.write(&args.ratings, |w| movierec_tables::write_ratings(&data, w))?;
    out.write(&args.users, |w| movierec_tables::write_users(&data, w))?;
    out.write(&args.movies, |w| movierec_tables::write_movies(&data, w))?;
    if let Some(path) = &args.export_csv {
        out.write(path, |w| seed_csv::write(&data, &params.csv.columns, b',', w))?;
    }
    out.write_json(&args.report, &Report { source, rating_scale: params.rating_scale, load: &report })?;
    out.commit()?;
    phase.finish();
    Ok(())
}

fn source_name(params: &LoadParams) -> &'static str {
    match params.source {
        SourceKind::Synthetic => "synthetic",
        SourceKind::Csv => "csv",
        SourceKind::Movielens => "movielens",
    }
}

fn read_source(params: &LoadParams) -> anyhow::Result<(Dataset, LoadReport, String)> {
    let rules = Rules { scale: params.rating_scale, on_invalid: params.on_invalid, on_duplicate: params.on_duplicate };
    Ok(match params.source {
        SourceKind::Synthetic => {
            let data = synthetic::generate(&params.synthetic, params.rating_scale).context("invalid load.synthetic")?;
            let n = data.ratings.len() as u64;
            let report = LoadReport {
                rows_read: n,
                rows_kept: n,
                stats: ScoreStats::of(&data.ratings),
                ..LoadReport::default()
            };
            let s = &params.synthetic;
            (data, report, format!("synthetic (seed {}, scale {})", s.seed, s.scale))
        }
        SourceKind::Csv => {
            let c = &params.csv;
            let (data, report) = seed_csv::read(&c.path, c.delimiter, &c.columns, rules)?;
            (data, report, format!("csv {}", c.path.display()))
        }
        SourceKind::Movielens => {
            let path = &params.movielens.path;
            let (data, report, layout) = movielens::read(path, rules)?;
            (data, report, format!("movielens {layout} {}", path.display()))
        }
    })
}
