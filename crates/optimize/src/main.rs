//! `optimize`: searches SVD's hyper-parameters (and those of Surprise's other algorithms
//! listed in `optimize.algorithms`), and the top-N kinds' when it selects by a
//! ranking measure, by K-fold cross-validation on the training set, scores the best on the
//! test set, and fits them on all ratings: the model to serve.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use movierec_core::data::split;
use movierec_core::data::trainset::Trainset;
use movierec_core::evaluation::ranking::Heldout;
use movierec_core::evaluation::search::{self, Candidate, CandidateResult, Measure, Spec};
use movierec_core::models::artifact::{self, Provenance};
use movierec_core::models::rating::RatingModel;
use movierec_core::models::svd::TrainMode;
use movierec_core::models::{FitError, Kind, RankingParams, Recommender};
use movierec_stage::params::{OptimizeParams, TrackingParams};
use movierec_stage::progress::{Phase, Steps};
use movierec_stage::tracking::{self, Tracker};
use movierec_stage::{Common, Outputs, Params};
use serde::Serialize;

/// Search the model to serve by cross-validation, then fit it on all ratings.
///
/// The model to serve is a rating model, whose predicted relevance every recommendation
/// shows, and a ranking, which orders the lists. `optimize.space` lists the values of each
/// searched SVD parameter; `optimize.algorithms` adds Surprise's other algorithms, each with
/// its `param_grid` as Surprise's GridSearchCV takes it (`knn_baseline: {k: [20, 40],
/// sim_options: {name: [msd, pearson_baseline], user_based: [false]}}`: nested dicts expanded
/// into their combinations), searched as a grid whatever `optimize.method`; `optimize.method` is `grid` (every combination) or `random` (`n_iter` seeded
/// draws, from lists or `{min, max, log}` ranges). When `optimize.measure` is a ranking
/// measure (`ndcg@10`, `precision@10`, …), the top-N kinds of `optimize.ranking.spaces` are
/// searched too, each over its own space. Every candidate is fitted on each of `optimize.cv`
/// folds of the training set (the same folds for all, as Surprise's GridSearchCV; above
/// `optimize.search_ratings` training ratings, of a seeded sample of whole users holding that
/// many); SVD is scored by rmse and mae, and every candidate's lists by the ranking measure on the fold's
/// held-out ratings. The (candidate, fold) fits run in parallel and the results do not depend
/// on the number of threads. A candidate that fails is reported with its reason and the
/// search goes on. The best rating candidate by rmse (or mae, if that is the measure), SVD or
/// another algorithm, is the rating model; the best candidate by the measure is the ranking
/// (the rating model's own order if it is that candidate, or if the measure is rmse or mae). Both are refitted on the whole training set and scored on the
/// test set (the honest scores), then refitted on all ratings: the model to serve.
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
    /// Candidates left out before any fit, as they cannot work on this data (EASE above its
    /// item limit): each with its kind, parameters and why.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    left_out: Vec<serde_json::Value>,
    searched_on: SearchedOn,
    search_seconds: f64,
    best_index: usize,
    best_algorithm: &'static str,
    best_params: serde_json::Value,
    best_score: Score,
    test_score: Score,
    best_ranking: BestRanking,
    serve_model: ServeModel,
    cv_results: Vec<CandidateResult>,
}

/// What the folds were cut from: the whole training set, or (`sample`) a seeded sample of
/// whole users holding at most `optimize.search_ratings` ratings.
#[derive(Debug, Serialize)]
struct SearchedOn {
    ratings: usize,
    users: usize,
    sample: bool,
}

/// The ranking chosen: its kind and parameters, its cross-validated score by the measure,
/// and its lists' score on the test set.
#[derive(Debug, Serialize)]
struct BestRanking {
    kind: Kind,
    index: usize,
    params: serde_json::Value,
    cv_score: Option<f64>,
    test_score: Option<f64>,
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

/// Fits a rating candidate on `threads` threads.
fn fit(spec: &Spec, mode: TrainMode, threads: usize, t: &Trainset<'_>) -> anyhow::Result<RatingModel> {
    Ok(match spec {
        Spec::Svd(svd) => svd.fit(mode, threads, t, |_| {})?.into(),
        Spec::Rating(a, _) => RatingModel::fit(a, t, threads)?,
        Spec::TopN(_) => anyhow::bail!("a top-N kind is not a rating model"),
    })
}

fn run(args: Args) -> anyhow::Result<()> {
    let params = Params::from_file(&args.common.params)?;
    let mut tracker = Tracker::start(&params.tracking, "optimize", &params.tracking.experiments.optimize)?;
    let outcome = optimize(&args, &params.optimize, &params.tracking, &mut tracker);
    tracker.finish(outcome)
}

fn optimize(args: &Args, p: &OptimizeParams, tp: &TrackingParams, tracker: &mut Tracker) -> anyhow::Result<Outputs> {
    let mut logged = tracking::params_of(&serde_json::json!({
        "method": p.method, "n_iter": p.n_iter, "seed": p.seed, "cv": p.cv, "search_ratings": p.search_ratings, "threads": p.threads,
        "mode": p.mode, "measure": p.measure, "relevance_threshold": p.relevance_threshold, "base": p.base,
    }));
    logged.push(("space".to_owned(), serde_json::to_string(&p.space)?));
    logged.push(("algorithms".to_owned(), serde_json::to_string(&p.algorithms)?));
    logged.push(("ranking".to_owned(), serde_json::to_string(&p.ranking)?));
    tracker.log(&logged, &[], &[])?;
    let candidates =
        search::candidates(Kind::Svd, &p.space, p.method, p.n_iter, p.seed).context("invalid optimize.space")?;
    anyhow::ensure!(!candidates.is_empty(), "optimize has no candidate (random search with n_iter 0?)");
    let mut svd_fits: Vec<(Candidate, Spec)> = candidates
        .into_iter()
        .map(|c| {
            let svd = search::apply(&p.base, &c)?.check()?;
            svd.check_mode(p.mode)?;
            Ok((c, Spec::Svd(svd)))
        })
        .collect::<anyhow::Result<_>>()
        .context("invalid optimize parameters")?;
    // Surprise's other algorithms join SVD's candidates: all of them are rating models.
    for (name, grid) in &p.algorithms {
        let specs =
            search::algorithm_candidates(name, grid).with_context(|| format!("invalid optimize.algorithms.{name}"))?;
        svd_fits.extend(specs.into_iter().map(|s| (Candidate::new(), s)));
    }
    let mut ranking_fits: Vec<(Candidate, Spec)> = Vec::new();
    if !p.measure.lower_is_better() {
        for (&kind, space) in &p.ranking.spaces {
            anyhow::ensure!(kind != Kind::Svd, "optimize.ranking.spaces.svd: SVD's space is optimize.space");
            anyhow::ensure!(
                kind != Kind::Auto,
                "optimize.ranking.spaces.auto: auto chooses between ease and ials by the catalogue's size; give \
                 spaces for ease and ials, and the search keeps those that can work on the data"
            );
            let context = || format!("invalid optimize.ranking.spaces.{kind}");
            for c in search::candidates(kind, space, p.method, p.n_iter, p.seed).with_context(context)? {
                let params = search::apply_ranking(&p.ranking.base, kind, &c).with_context(context)?;
                ranking_fits.push((c, Spec::TopN(params)));
            }
        }
    }
    let threads = if p.threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { p.threads };

    let phase = Phase::start("reading the sets");
    let train = movierec_tables::read_ratings(&args.train)?;
    let test = movierec_tables::read_ratings(&args.test)?;
    let all = movierec_tables::read_ratings(&args.ratings)?;
    phase.finish();
    // On a large catalogue the folds come from a seeded sample of whole users; the refits
    // below use the whole training set and all ratings.
    let sample = match p.search_ratings {
        0 => None,
        max => split::sample_users(&train, max, p.seed).map(|rows| train.select(&rows)),
    };
    let searched = sample.as_ref().unwrap_or(&train);
    anyhow::ensure!(
        sample.is_none() || searched.len() >= 10 * p.cv,
        "optimize.search_ratings {} leaves {} ratings to cut {} folds from: raise it, or set 0 to search on every \
         training rating",
        p.search_ratings,
        searched.len(),
        p.cv
    );
    let searched_on = SearchedOn { ratings: searched.len(), users: searched.users().len(), sample: sample.is_some() };
    if sample.is_some() {
        tracing::info!(
            ratings = searched_on.ratings,
            users = searched_on.users,
            "searching on a sample of whole users (optimize.search_ratings {}; the training set has {})",
            p.search_ratings,
            train.len()
        );
    }
    // Ranking candidates that cannot work on this catalogue (EASE above its item limit) are
    // left out before any fit, and reported; any other parameter they refuse is an error.
    let n_items = all.movies().len();
    let mut left_out = Vec::new();
    let mut kept = Vec::with_capacity(ranking_fits.len());
    for (c, spec) in ranking_fits {
        let Spec::TopN(params) = &spec else { unreachable!("ranking candidates are top-N kinds") };
        match params.check_kind(params.kind, n_items) {
            Ok(_) => kept.push((c, spec)),
            Err(e @ FitError::TooManyItems { .. }) => {
                left_out.push(serde_json::json!({"kind": params.kind, "params": c.iter().cloned().collect::<BTreeMap<_, _>>(), "reason": e.to_string()}));
            }
            Err(e) => return Err(e).with_context(|| format!("invalid optimize.ranking.spaces.{}", params.kind)),
        }
    }
    if !left_out.is_empty() {
        tracing::warn!(
            left_out = left_out.len(),
            "ranking candidates left out: they cannot work on {n_items} movies ({})",
            left_out[0]["reason"].as_str().unwrap_or_default()
        );
    }
    let ranking_fits = kept;

    // Two searches on the same folds: SVD's candidates by rmse (mae if that is the measure)
    // choose the rating model; then, for a ranking measure, the chosen SVD's own order and
    // the top-N kinds' candidates are measured by it.
    let accuracy = if p.measure == Measure::Mae { Measure::Mae } else { Measure::Rmse };
    let n_fits = (svd_fits.len() + if ranking_fits.is_empty() { 0 } else { ranking_fits.len() + 1 }) * p.cv;
    tracing::info!(
        candidates = svd_fits.len() + ranking_fits.len(),
        folds = p.cv,
        threads,
        measure = %p.measure,
        "searching"
    );
    let steps = Steps::new(n_fits as u64, "fits");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().context("cannot start the thread pool")?;
    let started = Instant::now();
    let search = |fits: &[(Candidate, Spec)], measure: Measure, rating: Option<&Spec>, offset: usize| {
        let threshold = p.relevance_threshold;
        pool.install(|| {
            search::cross_validate(searched, fits, p.mode, p.cv, p.seed, measure, threshold, rating, |c, f| {
                steps.step(format!("candidate {} fold {}", offset + c + 1, f + 1));
            })
        })
        .context("invalid optimize.cv")
    };
    let mut cv_results = search(&svd_fits, accuracy, None, 0)?;
    let best = search::best(&cv_results).with_context(|| {
        format!(
            "every rating candidate failed (the rating model needs one); the first: {}",
            cv_results[0].reason.as_deref().unwrap_or("no reason recorded")
        )
    })?;
    let mut best_ranking = best;
    if !ranking_fits.is_empty() {
        let mut fits = vec![svd_fits[best].clone()];
        fits.extend(ranking_fits.iter().cloned());
        let ranked = search(&fits, p.measure, Some(&svd_fits[best].1), svd_fits.len())?;
        let own_order = &ranked[0];
        cv_results[best].mean_test_ranking = own_order.mean_test_ranking;
        cv_results[best].split_test_ranking = own_order.split_test_ranking.clone();
        cv_results.extend(ranked.into_iter().skip(1));
        search::rank_by(&mut cv_results, p.measure);
        best_ranking = search::best(&cv_results).expect("the rating model's own order has a score");
    }
    let fits: Vec<(Candidate, Spec)> = svd_fits.into_iter().chain(ranking_fits).collect();
    let search_seconds = started.elapsed().as_secs_f64();
    steps.finish();

    let failed = cv_results.iter().filter(|r| r.status == "failed").count();
    let best_params = match &fits[best].1 {
        Spec::Rating(a, _) => a.params(),
        _ => serde_json::to_value(search::apply(&p.base, &fits[best].0)?)?,
    };
    let best_algorithm = fits[best].1.algorithm().expect("the rating model is a rating candidate");
    let ranking_params = match &fits[best_ranking].1 {
        Spec::TopN(params) => params.clone(),
        Spec::Svd(_) | Spec::Rating(..) => RankingParams { kind: Kind::Svd, ..p.ranking.base.clone() },
    };
    tracing::info!(
        best = best + 1,
        rmse = cv_results[best].mean_test_rmse,
        failed,
        "searched in {search_seconds:.1} s: rating model {best_algorithm} {}; ranking {} {:?}",
        best_params,
        ranking_params.kind,
        fits[best_ranking].0
    );

    let phase = Phase::start("fitting the best candidates on the training set, then on all ratings");
    let rating = &fits[best].1;
    let t = Trainset::new(&train);
    let model = fit(rating, p.mode, threads, &t).context("refitting the best candidate")?;
    let (rmse, mae) = search::score(&model, &test, 0..test.len());
    let ranking = pool.install(|| ranking_params.fit(&t, 0)).context("refitting the best ranking")?;
    let test_ranking = match p.measure {
        Measure::Ranking { metric, k } => {
            let rec = Recommender { rating: model, ranking, rerank: ranking_params.rerank };
            let h = Heldout::new(&t, &test, p.relevance_threshold);
            Some(metric.of(&pool.install(|| h.measure_recommender(&rec, k, k)).0.metrics))
        }
        _ => None,
    };
    let t_all = Trainset::new(&all);
    let t0 = Instant::now();
    let serve = fit(rating, p.mode, threads, &t_all).context("fitting the model to serve")?;
    let ranking = pool.install(|| ranking_params.fit(&t_all, 0)).context("fitting the ranking to serve")?;
    let serve = Recommender { rating: serve, ranking, rerank: ranking_params.rerank };
    let serve_seconds = t0.elapsed().as_secs_f64();
    phase.finish();
    tracing::info!(test_rmse = rmse, test_mae = mae, test_ranking, "best candidates on the test set");

    let provenance = Provenance {
        data_fingerprint: artifact::fingerprint(&all),
        n_ratings: all.len() as u64,
        created_at: artifact::now_rfc3339(),
        training_seconds: serve_seconds,
        threads: if p.mode == TrainMode::Surprise && best_algorithm == "svd" { 1 } else { threads },
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
        left_out,
        searched_on,
        search_seconds,
        best_index: best,
        best_algorithm,
        best_params,
        best_score: Score { rmse: best_result.mean_test_rmse.unwrap(), mae: best_result.mean_test_mae.unwrap() },
        test_score: Score { rmse, mae },
        best_ranking: BestRanking {
            kind: ranking_params.kind,
            index: best_ranking,
            params: ranking_params.chosen(),
            cv_score: cv_results[best_ranking].score(p.measure),
            test_score: test_ranking,
        },
        serve_model: ServeModel {
            n_ratings: all.len(),
            n_users: serve.rating.users().len(),
            n_movies: serve.rating.items().len(),
            training_time: serve_seconds,
        },
        cv_results,
    };
    let mut out = Outputs::new();
    out.write(&args.model, |w| artifact::write(&serve, &provenance, w))?;
    out.write(&args.candidates, |w| write_candidates(&report.cv_results, p.measure, w))?;
    out.write_json(&args.report, &report)?;

    // Logged before the outputs are put in place (the tracker's `finish` does it), so that a
    // required tracking that fails changes no output.
    if tracker.is_on() {
        log_run(tracker, &report, &provenance, tp, args, &out)?;
    }
    Ok(out)
}

/// The parent run's best params and scores, one child run per candidate, the artifacts, and
/// the model to serve registered.
fn log_run(
    tracker: &mut Tracker,
    report: &Report,
    provenance: &Provenance,
    t: &TrackingParams,
    args: &Args,
    out: &Outputs,
) -> anyhow::Result<()> {
    let steps = Steps::new(report.cv_results.len() as u64, "candidates logged to MLflow");
    let mut best_run = None;
    for (i, r) in report.cv_results.iter().enumerate() {
        let mut params: Vec<(String, String)> = r.params.iter().map(|(k, v)| (k.clone(), plain(v))).collect();
        params.push(("kind".to_owned(), r.kind.to_string()));
        if let Some(a) = r.algorithm {
            params.push(("algorithm".to_owned(), a.to_owned()));
        }
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
    let mut params = tracking::params_of(&serde_json::json!({
        "best_algorithm": report.best_algorithm, "best": report.best_params,
        "best_ranking": report.best_ranking.params,
    }));
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
    tracker.upload("model/serve.bin", out.staged(&args.model))?;
    tracker.upload("metrics/optimize.json", out.staged(&args.report))?;
    tracker.upload("plots/optimize_candidates.csv", out.staged(&args.candidates))?;
    if let Some(name) = &t.registry.name {
        tracker.register("model", name, t.registry.alias.as_deref())?;
    }
    Ok(())
}

/// A searched value as text: strings without their quotes, numbers as Rust prints an `f64`
/// (20, not 20.0).
fn plain(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), |f| f.to_string()),
        other => other.to_string(),
    }
}

/// One line per candidate: its number, kind, rating algorithm, rank, mean scores (rmse and mae for SVD, the
/// ranking measure when the search uses one), mean fit time, searched values (empty where a
/// kind has no such parameter).
fn write_candidates(results: &[CandidateResult], measure: Measure, w: &mut impl std::io::Write) -> std::io::Result<()> {
    let names: BTreeSet<&String> = results.iter().flat_map(|r| r.params.keys()).collect();
    write!(w, "candidate,kind,algorithm,rank,mean_test_rmse,mean_test_mae,mean_test_ranking,mean_fit_time")?;
    for n in &names {
        write!(w, ",{n}")?;
    }
    writeln!(w)?;
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let ranking = |r: &CandidateResult| if measure.lower_is_better() { None } else { r.score(measure) };
    for (i, r) in results.iter().enumerate() {
        write!(
            w,
            "{},{},{},{},{},{},{},{}",
            i + 1,
            r.kind,
            r.algorithm.unwrap_or(""),
            r.rank.map_or(String::new(), |k| k.to_string()),
            opt(r.mean_test_rmse),
            opt(r.mean_test_mae),
            opt(ranking(r)),
            opt(r.mean_fit_time)
        )?;
        for n in &names {
            write!(w, ",{}", r.params.get(*n).map_or(String::new(), plain))?;
        }
        writeln!(w)?;
    }
    Ok(())
}
