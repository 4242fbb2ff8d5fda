//! `evaluate`: scores the model on the test set (Surprise's rmse and mae, the baselines,
//! ranking measures at K for the model and every ranking beside it) and writes a report and
//! the plots' data.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use movierec_core::data::trainset::Trainset;
use movierec_core::evaluation::accuracy::{self, RankingMetrics};
use movierec_core::evaluation::ranking::{Heldout, RankingRow};
use movierec_core::models::artifact::{self, Provenance};
use movierec_core::models::ranking::Reorder;
use movierec_core::models::ranking::popularity::{By, PopularityParams};
use movierec_core::models::recommender::depth;
use movierec_core::models::{Fit, FitError, Kind, Ranking, RankingParams, Recommender};
use movierec_core::{RatingList, RatingScale};
use movierec_stage::params::{Compare, EvaluateParams};
use movierec_stage::progress::Phase;
use movierec_stage::tracking::{self, Tracker};
use movierec_stage::{Common, Outputs, Params};
use serde::Serialize;

/// Score the model on the test set.
///
/// Reports the original project's six metrics under its own keys (`rmse`, `mae`,
/// `training_time`, `nombre_utilisateurs`, `nombre_films`, `score_pertinence_moyen`), the
/// baselines' rmse and mae (the global mean, Surprise's BaselineOnly), the ranking measures
/// at `evaluate.k` of the model's lists (`ranking`) and, side by side under the same
/// definitions (`rankings`), of the most-rated list, the damped-mean list, SVD's predicted
/// relevance, EASE, implicit ALS and the model's ranking with its best `evaluate.compare.rerank`
/// re-ordered by predicted relevance (`model_reranked`), each fitted on the training set with
/// `evaluate.compare`'s parameters (EASE is left out above its `max_items`); and the test users
/// and movies the model does not know. A test score at or above
/// `evaluate.relevance_threshold` is relevant; each user's list ranks the movies they did not
/// rate in training. Predictions for unknown ids follow Surprise (the mean plus the known
/// bias), so rmse and mae are Surprise's.
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
    /// Where to write NDCG as K grows for every ranking (CSV: k, then one column per ranking).
    #[arg(long, value_name = "PATH")]
    ndcg: PathBuf,
}

#[derive(Debug, Serialize)]
struct Accuracy {
    rmse: f64,
    mae: f64,
}

#[derive(Debug, Serialize)]
struct ModelRanking {
    relevance_threshold: f64,
    kind: Kind,
    rerank: usize,
    #[serde(flatten)]
    row: RankingRow,
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
    algorithm: &'static str,
    mode: Option<movierec_core::models::rating::svd::TrainMode>,
    baselines: Baselines,
    ranking: ModelRanking,
    rankings: std::collections::BTreeMap<String, RankingRow>,
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

fn evaluate(args: &Args, p: &EvaluateParams, tracker: &mut Tracker) -> anyhow::Result<Outputs> {
    tracker.log(&tracking::params_of(&serde_json::to_value(p)?), &[], &[])?;
    anyhow::ensure!(p.k >= 1, "invalid evaluate.k 0: expected 1 or more");
    let (model, provenance, train, test) = read(args, tracker)?;
    let phase = Phase::start("scoring");
    let rating = &model.rating; // SVD or the algorithm train.algorithm names
    let ids: Vec<(Option<usize>, Option<usize>)> = (0..test.len())
        .map(|r| {
            let u = rating.users().get(test.users().raw(test.user()[r].0)).map(|u| u as usize);
            let i = rating.items().get(test.movies().raw(test.movie()[r].0)).map(|i| i as usize);
            (u, i)
        })
        .collect();
    let pairs: Vec<(f64, f64)> =
        ids.iter().zip(test.score()).map(|(&(u, i), &r)| (r, rating.estimate(u, i).est)).collect();
    let t = Trainset::new(&train);
    let baselines = baselines(p, &model, &t, &ids, &test);
    phase.finish();
    let curve_k = p.k.max(CURVE_K);
    let (ranking, curve, rankings, ndcg_curves) = rank(&model, &t, &test, p, curve_k)?;
    let report = Report {
        rmse: accuracy::rmse(pairs.iter().copied()),
        mae: accuracy::mae(pairs.iter().copied()),
        training_time: provenance.training_seconds,
        nombre_utilisateurs: rating.users().len(),
        nombre_films: rating.items().len(),
        score_pertinence_moyen: rating.global_mean(),
        algorithm: rating.name(),
        mode: rating.mode(),
        baselines,
        ranking,
        rankings,
        test: test_set(&test, &ids),
    };
    tracing::info!(
        rmse = report.rmse,
        mae = report.mae,
        baseline_only_rmse = report.baselines.baseline_only.rmse,
        kind = %report.ranking.kind,
        precision = report.ranking.row.metrics.precision,
        ndcg = report.ranking.row.metrics.ndcg,
        "evaluated"
    );
    for (name, row) in &report.rankings {
        tracing::info!(ndcg = row.metrics.ndcg, precision = row.metrics.precision, "ranking {name}");
    }
    write(args, &report, &pairs, rating.scale(), &curve, &ndcg_curves, curve_k, tracker)
}

/// The model and the sets, the model's provenance checked against the training set.
fn read(args: &Args, tracker: &mut Tracker) -> anyhow::Result<(Recommender, Provenance, RatingList, RatingList)> {
    let phase = Phase::start("reading the model and the sets");
    let (model, provenance) = movierec_stage::model::read(&args.model)?;
    let model_params = serde_json::json!({
        "model": {
            "algorithm": model.rating.name(), "mode": model.rating.mode(), "params": model.rating.params(),
            "ranking": model.kind(), "rerank": model.reorder.rerank,
        },
        "data_fingerprint": &provenance.data_fingerprint,
    });
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
    Ok((model, provenance, train, test))
}

/// The baselines' rmse and mae on the test ratings (`ids`: their inner ids in the model).
fn baselines(
    p: &EvaluateParams,
    model: &Recommender,
    t: &Trainset<'_>,
    ids: &[(Option<usize>, Option<usize>)],
    test: &RatingList,
) -> Baselines {
    let baseline = p.baseline.fit(t);
    let mean = model.rating.scale().clip(t.global_mean());
    let accuracy_of = |est: &dyn Fn(Option<usize>, Option<usize>) -> f64| {
        let pairs: Vec<(f64, f64)> = ids.iter().zip(test.score()).map(|(&(u, i), &r)| (r, est(u, i))).collect();
        Accuracy { rmse: accuracy::rmse(pairs.iter().copied()), mae: accuracy::mae(pairs.iter().copied()) }
    };
    Baselines { global_mean: accuracy_of(&|_, _| mean), baseline_only: accuracy_of(&|u, i| baseline.estimate(u, i)) }
}

/// What the test set holds, and how much of it the model does not know.
fn test_set(test: &RatingList, ids: &[(Option<usize>, Option<usize>)]) -> TestSet {
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
    TestSet {
        ratings: test.len(),
        users: distinct(test_users),
        movies: distinct(test_movies),
        unknown_users: distinct(unknown_users),
        unknown_movies: distinct(unknown_movies),
        ratings_of_unknown_users: unknown_user_rows,
        ratings_of_unknown_movies: unknown_movie_rows,
    }
}

/// Stages the report and the plots' data, and logs them to MLflow before they are put in
/// place (the tracker's `finish` does it), so that a required tracking that fails changes no
/// output.
#[allow(clippy::too_many_arguments)] // the outputs, each named
fn write(
    args: &Args,
    report: &Report,
    pairs: &[(f64, f64)],
    scale: RatingScale,
    curve: &[RankingMetrics],
    ndcg_curves: &[(String, Option<Vec<RankingMetrics>>)],
    curve_k: usize,
    tracker: &mut Tracker,
) -> anyhow::Result<Outputs> {
    use std::io::Write;
    let mut out = Outputs::new();
    out.write(&args.errors, |w| error_histogram(pairs, scale, w))?;
    out.write(&args.ranking, |w| -> std::io::Result<()> {
        writeln!(w, "k,precision,recall")?;
        for m in curve {
            writeln!(w, "{},{},{}", m.k, m.precision, m.recall)?;
        }
        Ok(())
    })?;
    out.write(&args.ndcg, |w| -> std::io::Result<()> {
        write!(w, "k")?;
        for (name, _) in ndcg_curves {
            write!(w, ",{name}")?;
        }
        writeln!(w)?;
        for k in 0..curve_k {
            write!(w, "{}", k + 1)?;
            for (_, curve) in ndcg_curves {
                match curve {
                    Some(curve) => write!(w, ",{}", curve[k].ndcg)?,
                    None => write!(w, ",")?,
                }
            }
            writeln!(w)?;
        }
        Ok(())
    })?;
    out.write_json(&args.report, report)?;
    tracker.log(&[], &tracking::report_metrics(&serde_json::to_value(report)?), &[])?;
    tracker.upload("metrics/evaluate.json", out.staged(&args.report))?;
    tracker.upload("plots/evaluate_errors.csv", out.staged(&args.errors))?;
    tracker.upload("plots/precision_recall.csv", out.staged(&args.ranking))?;
    tracker.upload("plots/ranking_ndcg.csv", out.staged(&args.ndcg))?;
    tracker.upload("model/model.bin", &args.model)?;
    Ok(out)
}

/// The rankings measured: the model's, then the others side by side.
type Rankings = (
    ModelRanking,
    Vec<RankingMetrics>,
    std::collections::BTreeMap<String, RankingRow>,
    Vec<(String, Option<Vec<RankingMetrics>>)>,
);

/// The ranking measures at `p.k` of the model's lists (and its precision and recall for every
/// K up to `curve_k`), and of every ranking measured beside it (with NDCG for every K).
fn rank(
    model: &Recommender,
    t: &Trainset<'_>,
    test: &RatingList,
    p: &EvaluateParams,
    curve_k: usize,
) -> anyhow::Result<Rankings> {
    // Every row's predicted dislikes by the model's rating model, the score every list shows.
    let h = Heldout::new(t, test, p.relevance_threshold).judged_by(t, &model.rating);
    let phase = Phase::start(format!("ranking for {} users", h.users.len()));
    // The model's ranking's own lists, computed once, as deep as the rows that re-order them
    // need: the model's, `model_reranked` and the own implicit ALS differ only in `rerank`.
    let n = curve_k.max(p.k);
    let shared = model.ranking.top_n().map(|top| {
        let reranks = [model.reorder.rerank, p.compare.rerank];
        h.rank_users(top, reranks.iter().map(|&r| depth(r, n)).max().unwrap_or(n))
    });
    // Re-ordered by the model's predicted relevance (blended as the model says, or alone),
    // or (`rerank` 0) as ranked.
    let reorder = |reorder: Reorder| (reorder.rerank > 0).then_some((&model.rating, reorder));
    let (row, curve) = match &shared {
        Some(ranked) => h.measure_ranked(ranked, reorder(model.reorder), p.k, curve_k),
        None => h.measure_recommender(model, p.k, curve_k),
    };
    let mut rows = std::collections::BTreeMap::new();
    let mut curves = vec![("model".to_owned(), Some(curve.clone()))];
    rows.insert("model".to_owned(), row);
    let others = compared(model, t, p, shared.is_some())?;
    let reused: Vec<&str> =
        others.iter().filter(|(_, c)| matches!(c, Compared::Shared(_) | Compared::Model)).map(|(n, _)| *n).collect();
    tracing::info!("rows from the model's ranking's lists, not ranked again: {}", reused.join(", "));
    for (name, compared) in &others {
        let measured = match compared {
            Compared::Measure(rec) => Some(h.measure_recommender(rec, p.k, curve_k)),
            Compared::Shared(rerank) => {
                let ranked = shared.as_ref().expect("the model's ranking's lists");
                Some(h.measure_ranked(ranked, reorder(Reorder { rerank: *rerank, ..Reorder::default() }), p.k, curve_k))
            }
            Compared::Model => Some((row, curve.clone())),
            Compared::LeftOut => None,
        };
        if let Some((row, _)) = &measured {
            rows.insert((*name).to_owned(), *row);
        }
        curves.push(((*name).to_owned(), measured.map(|(_, curve)| curve)));
    }
    phase.finish();
    let ranking = ModelRanking {
        relevance_threshold: p.relevance_threshold,
        kind: model.kind(),
        rerank: model.reorder.rerank,
        row,
    };
    Ok((ranking, curve, rows, curves))
}

/// The rankings measured beside the model's, by their row's name, fitted where they are
/// measured on their own (`shared`: the model's ranking's lists are computed once).
fn compared(
    model: &Recommender,
    t: &Trainset<'_>,
    p: &EvaluateParams,
    shared: bool,
) -> anyhow::Result<Vec<(&'static str, Compared)>> {
    let c = &p.compare;
    let with = |ranking: Ranking, rerank: usize| {
        let reorder = Reorder { rerank, ..Reorder::default() };
        Compared::Measure(Box::new(Recommender { rating: model.rating.clone(), ranking, reorder }))
    };
    // The model's ranking re-ordered by `rerank` (by relevance alone): the model's row again
    // for its own.
    let model_with = |rerank: usize| match shared {
        _ if model.reorder == (Reorder { rerank, ..Reorder::default() }) => Compared::Model,
        true => Compared::Shared(rerank),
        false => with(model.ranking.clone(), rerank),
    };
    // Every column of the NDCG plot is always written (empty where a ranking is left out), so
    // `dvc plots` finds the same columns whatever the parameters. A row per kind of the
    // registry, in its order: a new kind must say here how it is compared.
    let mut others: Vec<(&str, Compared)> = Vec::new();
    for kind in Kind::ALL {
        match kind {
            Kind::Relevance => others.push((Kind::Relevance.name(), with(Ranking::Relevance, 0))),
            Kind::Popularity => {
                for (name, by) in [("most_rated", By::Count), ("damped_mean", By::DampedMean)] {
                    let fitted = PopularityParams { by, damping: c.damping }
                        .fit(t, 0)
                        .context("invalid evaluate.compare.damping")?;
                    others.push((name, with(Ranking::Popularity(fitted), 0)));
                }
            }
            Kind::Ease => {
                let fit = || Ok(Ranking::Ease(c.ease.fit(t, 0).context("invalid evaluate.compare.ease")?));
                others.push((kind.name(), item_by_item(kind, t.n_items(), c.ease.max_items, fit, &with)?));
            }
            // Implicit ALS with the model's own parameters is the model's ranking (the fit is
            // deterministic, and the model was fitted on this training set: its fingerprint
            // is checked), so it is not fitted a second time.
            Kind::Ials if matches!(&model.ranking, Ranking::Ials(m) if m.params == c.ials) => {
                others.push((Kind::Ials.name(), model_with(0)));
            }
            Kind::Ials => {
                let ials = c.ials.fit(t, 0).context("invalid evaluate.compare.ials")?;
                others.push((Kind::Ials.name(), with(Ranking::Ials(ials), 0)));
            }
            Kind::Rp3beta => {
                let fit = || Ok(Ranking::Rp3beta(c.rp3beta.fit(t, 0).context("invalid evaluate.compare.rp3beta")?));
                others.push((kind.name(), item_by_item(kind, t.n_items(), c.rp3beta.max_items, fit, &with)?));
            }
            Kind::Ensemble => others.push((kind.name(), ensemble(c, t, &with)?)),
            Kind::Auto => unreachable!("Kind::ALL holds kinds, not the choice between them"),
        }
    }
    others.push(("model_reranked", if c.rerank > 0 { model_with(c.rerank) } else { Compared::LeftOut }));
    Ok(others)
}

/// An item × item kind's row of the comparison: fitted and measured on a catalogue of up to
/// `max` movies, left out (with a warning) above, where its matrix would not fit.
fn item_by_item(
    kind: Kind,
    n_items: usize,
    max: usize,
    fit: impl FnOnce() -> anyhow::Result<Ranking>,
    with: &impl Fn(Ranking, usize) -> Compared,
) -> anyhow::Result<Compared> {
    if n_items > max {
        tracing::warn!(movies = n_items, max, "{kind} left out of the comparison: too many movies");
        return Ok(Compared::LeftOut);
    }
    Ok(with(fit()?, 0))
}

/// The ensemble of `compare.ensemble`, its members fitted with their parameters above (the
/// most-rated list for `popularity`), left out (with a warning) where a member's matrix would
/// not fit.
fn ensemble(c: &Compare, t: &Trainset<'_>, with: &impl Fn(Ranking, usize) -> Compared) -> anyhow::Result<Compared> {
    let p = RankingParams {
        kind: Kind::Ensemble,
        popularity: PopularityParams { by: By::Count, damping: c.damping },
        ease: c.ease,
        ials: c.ials,
        rp3beta: c.rp3beta,
        ensemble: c.ensemble,
        ..RankingParams::default()
    };
    match p.check_kind(Kind::Ensemble, t.n_items()) {
        Err(e @ FitError::TooManyItems { .. }) => {
            tracing::warn!("ensemble left out of the comparison: {e}");
            Ok(Compared::LeftOut)
        }
        Err(e) => Err(e).context("invalid evaluate.compare.ensemble"),
        Ok(_) => Ok(with(p.fit(t, 0).context("invalid evaluate.compare.ensemble")?, 0)),
    }
}

/// A ranking measured beside the model's.
enum Compared {
    /// Measured on its own.
    Measure(Box<Recommender>),
    /// The model's ranking's lists, computed once for the model's row, re-ordered by this
    /// `rerank`.
    Shared(usize),
    /// The model's own ranking and `rerank`: the model's row again.
    Model,
    /// Left out (its row empty).
    LeftOut,
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
