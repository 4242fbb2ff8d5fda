//! `evaluate`: scores the model on the test set (Surprise's rmse and mae, the baselines,
//! ranking measures at K) and writes a report and the plots' data.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use movierec_core::accuracy::{self, RankingMetrics, UserRanking};
use movierec_core::artifact;
use movierec_core::svd::SvdModel;
use movierec_core::trainset::Trainset;
use movierec_core::{RatingList, RatingScale};
use movierec_stage::params::EvaluateParams;
use movierec_stage::progress::Phase;
use movierec_stage::tracking::{self, Tracker};
use movierec_stage::{Common, Outputs, Params};
use rayon::prelude::*;
use serde::Serialize;

/// Score the model on the test set.
///
/// Reports the original project's six metrics under its own keys (`rmse`, `mae`,
/// `training_time`, `nombre_utilisateurs`, `nombre_films`, `score_pertinence_moyen`), the
/// baselines' rmse and mae (the global mean, Surprise's BaselineOnly), ranking measures at
/// `evaluate.k` (a test score at or above `evaluate.relevance_threshold` is relevant; each
/// user's list ranks the movies they did not rate in training), and the test users and
/// movies the model does not know. Predictions for unknown ids follow Surprise (the mean
/// plus the known bias), so rmse and mae are Surprise's.
#[derive(Debug, Parser)]
#[command(version, about, long_about)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// The model written by `train`.
    #[arg(long, value_name = "PATH")]
    model: PathBuf,
    /// The training set the model was fitted on (Parquet; its fingerprint is checked).
    #[arg(long, value_name = "PATH")]
    train: PathBuf,
    /// The test set (Parquet).
    #[arg(long, value_name = "PATH")]
    test: PathBuf,
    /// Where to write the report (JSON).
    #[arg(long, value_name = "PATH")]
    report: PathBuf,
    /// Where to write the distribution of errors (CSV: error, count), for `dvc plots`.
    #[arg(long, value_name = "PATH")]
    errors: PathBuf,
    /// Where to write precision and recall as K grows (CSV: k, precision, recall).
    #[arg(long, value_name = "PATH")]
    ranking: PathBuf,
}

#[derive(Debug, Serialize)]
struct Accuracy {
    rmse: f64,
    mae: f64,
}

#[derive(Debug, Serialize)]
struct Ranking {
    relevance_threshold: f64,
    #[serde(flatten)]
    metrics: RankingMetrics,
    coverage: f64,
}

#[derive(Debug, Serialize)]
struct TestSet {
    ratings: usize,
    users: usize,
    movies: usize,
    unknown_users: usize,
    unknown_movies: usize,
    ratings_of_unknown_users: usize,
    ratings_of_unknown_movies: usize,
}

#[derive(Debug, Serialize)]
struct Report {
    rmse: f64,
    mae: f64,
    training_time: f64,
    nombre_utilisateurs: usize,
    nombre_films: usize,
    score_pertinence_moyen: f64,
    mode: movierec_core::svd::TrainMode,
    baselines: Baselines,
    ranking: Ranking,
    test: TestSet,
}

#[derive(Debug, Serialize)]
struct Baselines {
    global_mean: Accuracy,
    baseline_only: Accuracy,
}

/// Width of the bins of the error distribution, in score points.
const ERROR_BIN: f64 = 5.0;
/// The precision and recall curve runs from K = 1 to at least this.
const CURVE_K: usize = 20;

fn main() -> ExitCode {
    movierec_stage::main(Args::parse(), |a| &a.common, run)
}

fn run(args: Args) -> anyhow::Result<()> {
    let params = Params::from_file(&args.common.params)?;
    let mut tracker = Tracker::start(&params.tracking, "evaluate", &params.tracking.experiments.evaluate)?;
    let outcome = evaluate(&args, &params.evaluate, &mut tracker);
    tracker.finish(outcome)
}

fn evaluate(args: &Args, p: &EvaluateParams, tracker: &mut Tracker) -> anyhow::Result<()> {
    tracker.log(&tracking::params_of(&serde_json::to_value(p)?), &[], &[])?;
    anyhow::ensure!(p.k >= 1, "invalid evaluate.k 0: expected 1 or more");
    let phase = Phase::start("reading the model and the sets");
    let (model, provenance) = movierec_stage::model::read(&args.model)?;
    let model_params = serde_json::json!({"model": {"mode": model.mode, "svd": model.svd}, "data_fingerprint": &provenance.data_fingerprint});
    tracker.log(&tracking::params_of(&model_params), &[], &[])?;
    let train = movierec_tables::read_ratings(&args.train)?;
    let test = movierec_tables::read_ratings(&args.test)?;
    anyhow::ensure!(!test.is_empty(), "the test set {} has no rating", args.test.display());
    anyhow::ensure!(
        artifact::fingerprint(&train) == provenance.data_fingerprint,
        "the model {} was not trained on {} (data fingerprints differ); run train again",
        args.model.display(),
        args.train.display()
    );
    phase.finish();

    let phase = Phase::start("scoring");
    let known = |list: &RatingList, r: usize| {
        let u = model.users.get(list.users().raw(list.user()[r].0)).map(|u| u as usize);
        let i = model.items.get(list.movies().raw(list.movie()[r].0)).map(|i| i as usize);
        (u, i)
    };
    let ids: Vec<(Option<usize>, Option<usize>)> = (0..test.len()).map(|r| known(&test, r)).collect();
    let pairs: Vec<(f64, f64)> =
        ids.iter().zip(test.score()).map(|(&(u, i), &r)| (r, model.estimate(u, i).est)).collect();
    let t = Trainset::new(&train);
    let baseline = p.baseline.fit(&t);
    let mean = model.scale.clip(t.global_mean());
    let accuracy_of = |est: &dyn Fn(Option<usize>, Option<usize>) -> f64| {
        let pairs: Vec<(f64, f64)> = ids.iter().zip(test.score()).map(|(&(u, i), &r)| (r, est(u, i))).collect();
        Accuracy { rmse: accuracy::rmse(pairs.iter().copied()), mae: accuracy::mae(pairs.iter().copied()) }
    };
    let baselines = Baselines {
        global_mean: accuracy_of(&|_, _| mean),
        baseline_only: accuracy_of(&|u, i| baseline.estimate(u, i)),
    };
    let curve_k = p.k.max(CURVE_K);
    let (ranking, curve) = rank(&model, &train, &test, &ids, p, curve_k);
    phase.finish();

    let distinct = |v: Vec<bool>| v.iter().filter(|x| **x).count();
    let mut test_users = vec![false; test.users().len()];
    let mut test_movies = vec![false; test.movies().len()];
    let (mut unknown_user_rows, mut unknown_movie_rows) = (0, 0);
    let mut unknown_users = vec![false; test.users().len()];
    let mut unknown_movies = vec![false; test.movies().len()];
    for (r, &(u, i)) in ids.iter().enumerate() {
        let (tu, tm) = (test.user()[r].get(), test.movie()[r].get());
        test_users[tu] = true;
        test_movies[tm] = true;
        if u.is_none() {
            unknown_user_rows += 1;
            unknown_users[tu] = true;
        }
        if i.is_none() {
            unknown_movie_rows += 1;
            unknown_movies[tm] = true;
        }
    }
    let report = Report {
        rmse: accuracy::rmse(pairs.iter().copied()),
        mae: accuracy::mae(pairs.iter().copied()),
        training_time: provenance.training_seconds,
        nombre_utilisateurs: model.users.len(),
        nombre_films: model.items.len(),
        score_pertinence_moyen: model.global_mean,
        mode: model.mode,
        baselines,
        ranking,
        test: TestSet {
            ratings: test.len(),
            users: distinct(test_users),
            movies: distinct(test_movies),
            unknown_users: distinct(unknown_users),
            unknown_movies: distinct(unknown_movies),
            ratings_of_unknown_users: unknown_user_rows,
            ratings_of_unknown_movies: unknown_movie_rows,
        },
    };
    tracing::info!(
        rmse = report.rmse,
        mae = report.mae,
        baseline_only_rmse = report.baselines.baseline_only.rmse,
        precision = report.ranking.metrics.precision,
        ndcg = report.ranking.metrics.ndcg,
        "evaluated"
    );

    let mut out = Outputs::new();
    out.write(&args.errors, |w| error_histogram(&pairs, model.scale, w))?;
    out.write(&args.ranking, |w| -> std::io::Result<()> {
        use std::io::Write;
        writeln!(w, "k,precision,recall")?;
        for m in &curve {
            writeln!(w, "{},{},{}", m.k, m.precision, m.recall)?;
        }
        Ok(())
    })?;
    out.write_json(&args.report, &report)?;
    out.commit()?;

    tracker.log(&[], &tracking::report_metrics(&serde_json::to_value(&report)?), &[])?;
    tracker.upload("metrics/evaluate.json", &args.report)?;
    tracker.upload("plots/evaluate_errors.csv", &args.errors)?;
    tracker.upload("plots/precision_recall.csv", &args.ranking)?;
    tracker.upload("model/model.bin", &args.model)
}

/// Ranking measures at `p.k`, and precision and recall for every K up to `curve_k`.
fn rank(
    model: &SvdModel,
    train: &RatingList,
    test: &RatingList,
    ids: &[(Option<usize>, Option<usize>)],
    p: &EvaluateParams,
    curve_k: usize,
) -> (Ranking, Vec<RankingMetrics>) {
    let n_items = model.items.len();
    // The model was fitted on `train` (fingerprints match), so its inner ids are the list's.
    let mut seen: Vec<Vec<u32>> = vec![Vec::new(); model.users.len()];
    for r in 0..train.len() {
        seen[train.user()[r].get()].push(train.movie()[r].0);
    }
    let mut relevant: Vec<Vec<u32>> = vec![Vec::new(); model.users.len()];
    for (r, &(u, i)) in ids.iter().enumerate() {
        if let (Some(u), Some(i)) = (u, i)
            && test.score()[r] >= p.relevance_threshold
        {
            relevant[u].push(i as u32);
        }
    }
    for r in &mut relevant {
        // A pair rated twice (the `keep` duplicate policy) is one relevant movie.
        r.sort_unstable();
        r.dedup();
    }
    let users: Vec<usize> = (0..model.users.len()).filter(|&u| !relevant[u].is_empty()).collect();
    let lists: Vec<(Vec<bool>, usize, Vec<u32>)> = users
        .par_iter()
        .map(|&u| {
            let mut is_seen = vec![false; n_items];
            for &i in &seen[u] {
                is_seen[i as usize] = true;
            }
            let mut scored: Vec<(f64, u32)> = (0..n_items)
                .filter(|&i| !is_seen[i])
                .map(|i| (model.estimate(Some(u), Some(i)).est, i as u32))
                .collect();
            let top = curve_k.min(scored.len());
            if top < scored.len() {
                scored.select_nth_unstable_by(top, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
                scored.truncate(top);
            }
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            let rel = &relevant[u];
            let hits: Vec<bool> = scored.iter().map(|(_, i)| rel.binary_search(i).is_ok()).collect();
            (hits, rel.len(), scored.iter().map(|s| s.1).collect())
        })
        .collect();
    let at = |k: usize| {
        let per_user: Vec<UserRanking> = lists.iter().map(|(h, n, _)| UserRanking::new(h, *n, k)).collect();
        RankingMetrics::mean(k, &per_user)
    };
    let mut recommended = vec![false; n_items];
    for (_, _, top) in &lists {
        for &i in top.iter().take(p.k) {
            recommended[i as usize] = true;
        }
    }
    let coverage = recommended.iter().filter(|x| **x).count() as f64 / n_items.max(1) as f64;
    let ranking = Ranking { relevance_threshold: p.relevance_threshold, metrics: at(p.k), coverage };
    (ranking, (1..=curve_k).map(at).collect())
}

/// Counts of `actual - predicted` in bins of [`ERROR_BIN`] points, labelled by their centre.
fn error_histogram(pairs: &[(f64, f64)], scale: RatingScale, w: &mut impl std::io::Write) -> std::io::Result<()> {
    let span = scale.max() - scale.min();
    let n_bins = (2.0 * span / ERROR_BIN).ceil() as usize;
    let last = n_bins.max(1) - 1;
    let mut counts = vec![0u64; last + 1];
    for &(r, est) in pairs {
        let b = (((r - est) + span) / ERROR_BIN).floor() as usize;
        counts[b.min(last)] += 1;
    }
    writeln!(w, "error,count")?;
    for (b, c) in counts.iter().enumerate() {
        writeln!(w, "{},{}", -span + (b as f64 + 0.5) * ERROR_BIN, c)?;
    }
    Ok(())
}
