//! `predict`: for every user (or those listed in params), the top N movies they have not
//! rated, by the model to serve, written as one CSV in a stream.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use movierec_core::RatingList;
use movierec_core::models::base::select;
use movierec_core::models::{Recommender, recommender};
use movierec_core::quote::quote;
use movierec_stage::progress::{Phase, Steps};
use movierec_stage::{Common, Outputs, Params};
use serde::Serialize;

/// Recommend to every user the top N movies they have not rated.
///
/// Uses the model to serve (written by `optimize`, fitted on all ratings), ranks every movie
/// the user has not rated anywhere in the loaded data in the model's order (its ranking
/// kind's: EASE, implicit ALS, popularity, or the predicted score itself for `relevance`; ties go
/// to the movie seen first in the data), and writes up to `predict.n` rows per user (fewer
/// only for a user who has rated all but a few movies): user id, user name, rank, movie id,
/// title, score (the predicted relevance, clipped to the rating scale). `predict.users`
/// restricts the users. Users are processed in parallel, in blocks, so memory grows with the output, not
/// with users × movies.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// The model to serve.
    #[arg(long, value_name = "PATH")]
    model: PathBuf,
    /// All loaded ratings (Parquet): what each user has seen.
    #[arg(long, value_name = "PATH")]
    ratings: PathBuf,
    /// The users table (Parquet), for names.
    #[arg(long, value_name = "PATH")]
    users: PathBuf,
    /// The movies table (Parquet), for titles.
    #[arg(long, value_name = "PATH")]
    movies: PathBuf,
    /// Where to write the recommendations (CSV).
    #[arg(long, value_name = "PATH")]
    out: PathBuf,
    /// Where to write the summary (JSON: users, rows, distinct movies, catalogue coverage).
    #[arg(long, value_name = "PATH")]
    report: PathBuf,
}

#[derive(Debug, Serialize)]
struct Report {
    ranking: movierec_core::models::Kind,
    n: usize,
    users: usize,
    rows: usize,
    distinct_movies: usize,
    catalogue_coverage: f64,
}

/// Users ranked per parallel batch: bounds the memory to this many users' lists.
const BLOCK: usize = 4096;

fn main() -> ExitCode {
    movierec_stage::main(Args::parse(), |a| &a.common, run)
}

fn run(args: Args) -> anyhow::Result<()> {
    let p = Params::from_file(&args.common.params)?.predict;
    anyhow::ensure!(p.n >= 1, "invalid predict.n 0: expected 1 or more");
    let phase = Phase::start("reading the model and the data");
    let (model, _) = movierec_stage::model::read(&args.model)?;
    let ratings = movierec_tables::read_ratings(&args.ratings)?;
    let labels = Labels {
        names: movierec_tables::read_labels(&args.users, "user_id", "user_name")?,
        titles: movierec_tables::read_labels(&args.movies, "movie_id", "title")?,
    };
    let users = users(&model, &p.users)?;
    phase.finish();
    let mut out = Outputs::new();
    let (mut rows, mut distinct) = (0, 0);
    out.write(&args.out, |w| -> anyhow::Result<()> {
        (rows, distinct) = recommend(&model, &ratings, &users, p.n, &labels, w)?;
        Ok(())
    })?;
    let report = Report {
        ranking: model.kind(),
        n: p.n,
        users: users.len(),
        rows,
        distinct_movies: distinct,
        catalogue_coverage: distinct as f64 / model.rating.items().len().max(1) as f64,
    };
    tracing::info!(users = report.users, rows = report.rows, coverage = report.catalogue_coverage, "recommended");
    out.write_json(&args.report, &report)?;
    out.commit()
}

/// Users' names and movies' titles by raw id.
struct Labels {
    names: HashMap<String, String>,
    titles: HashMap<String, String>,
}

/// The model's inner ids of the users to recommend to: `predict.users`, or every user.
fn users(model: &Recommender, listed: &[String]) -> anyhow::Result<Vec<usize>> {
    let known = model.rating.users();
    if listed.is_empty() {
        return Ok((0..known.len()).collect());
    }
    let unknown: Vec<&String> = listed.iter().filter(|u| known.get(u).is_none()).collect();
    anyhow::ensure!(
        unknown.is_empty(),
        "predict.users lists users the model does not know: {}",
        unknown.iter().map(|u| quote(u).to_string()).collect::<Vec<_>>().join(", ")
    );
    Ok(listed.iter().map(|u| known.get(u).expect("checked") as usize).collect())
}

/// Writes each user's `n` recommendations as CSV rows, in blocks of users: the rows written
/// and the distinct movies recommended.
fn recommend(
    model: &Recommender,
    ratings: &RatingList,
    users: &[usize],
    n: usize,
    labels: &Labels,
    w: &mut impl std::io::Write,
) -> anyhow::Result<(usize, usize)> {
    // What each user has rated anywhere in the data, as the model's movie indices.
    let histories = recommender::histories(&model.rating, ratings);
    let seen: Vec<Vec<u32>> = histories.iter().map(|h| select::movies_of(h)).collect();
    let rating = &model.rating;
    let steps = Steps::new(users.len().div_ceil(BLOCK) as u64, "blocks of users");
    let mut recommended = vec![false; rating.items().len()];
    let (mut rows, mut done) = (0usize, 0usize);
    let mut csv = csv::Writer::from_writer(w);
    csv.write_record(["user_id", "user_name", "rank", "movie_id", "title", "score"])?;
    for block in users.chunks(BLOCK) {
        let lists = model.recommend_all(block, &|u| &histories[u], &|u| &seen[u], n);
        for (&u, list) in block.iter().zip(&lists) {
            let uid = rating.users().raw(u as u32);
            let name = labels.names.get(uid).map_or("", String::as_str);
            for (rank, r) in list.iter().enumerate() {
                let iid = rating.items().raw(r.movie);
                let title = labels.titles.get(iid).map_or("", String::as_str);
                csv.write_record([uid, name, &(rank + 1).to_string(), iid, title, &r.relevance.to_string()])?;
                recommended[r.movie as usize] = true;
                rows += 1;
            }
        }
        done += block.len();
        steps.step(format!("{done} users"));
    }
    csv.flush()?;
    steps.finish();
    Ok((rows, recommended.iter().filter(|x| **x).count()))
}
