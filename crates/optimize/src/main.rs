//! `optimize`: searches SVD's hyper-parameters (and those of Surprise's other algorithms
//! listed in `optimize.algorithms`), and the top-N kinds' when it selects by a
//! ranking measure, by K-fold cross-validation on the training set, scores the best on the
//! test set, and fits them on all ratings: the model to serve.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use movierec_core::data::dataset::RatingList;
use movierec_core::data::trainset::Trainset;
use movierec_core::evaluation::plan::{self, Outcome, Plan, Shard, ShardFile, Stage};
use movierec_core::evaluation::ranking::Heldout;
use movierec_core::evaluation::search::{self, CandidateResult, Measure};
use movierec_core::models::artifact::{self, Provenance};
use movierec_core::models::rating::svd::TrainMode;
use movierec_core::models::{Kind, Recommender};
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
#[command(version, about, long_about, after_long_help = SHARDS)]
struct Args {
    #[command(flatten)]
    common: Common,
    /// The training set (Parquet), cut into folds.
    #[arg(long, value_name = "PATH", required_unless_present = "search_set")]
    train: Option<PathBuf>,
    /// The test set (Parquet), for the best candidate's honest score (not read by --shard).
    #[arg(long, value_name = "PATH", required_unless_present_any = ["shard", "write_search_set"])]
    test: Option<PathBuf>,
    /// All loaded ratings (Parquet), which the model to serve is fitted on (--shard and
    /// --write-search-set read only how many movies they rate).
    #[arg(long, value_name = "PATH", required_unless_present = "search_set")]
    ratings: Option<PathBuf>,
    /// Where to write the model to serve.
    #[arg(long, value_name = "PATH", required_unless_present_any = ["shard", "write_search_set"])]
    model: Option<PathBuf>,
    /// Where to write the report (JSON: best parameters and scores, every candidate's results).
    #[arg(long, value_name = "PATH", required_unless_present_any = ["shard", "write_search_set"])]
    report: Option<PathBuf>,
    /// Where to write one line per candidate (CSV), for `dvc plots`.
    #[arg(long, value_name = "PATH", required_unless_present_any = ["shard", "write_search_set"])]
    candidates: Option<PathBuf>,
    /// Instead of searching, write the search set (Parquet): the ratings the folds are cut
    /// from (at most `optimize.search_ratings`) and what identifies the plan, all a --shard
    /// needs to read (--search-set).
    #[arg(
        long,
        value_name = "PATH",
        conflicts_with_all = ["shard", "merge", "model", "report", "candidates", "test"]
    )]
    write_search_set: Option<PathBuf>,
    /// With --shard: read the search set --write-search-set wrote with the same params, instead
    /// of --train and --ratings.
    #[arg(long, value_name = "PATH", requires = "shard", conflicts_with_all = ["train", "ratings"])]
    search_set: Option<PathBuf>,
    /// Run only part K of N of a round of the search, and write its results to --shard-file
    /// (the rating round; the ranking round with --after).
    #[arg(
        long,
        value_name = "K/N",
        requires = "shard_file",
        conflicts_with_all = ["merge", "model", "report", "candidates"]
    )]
    shard: Option<Shard>,
    /// Where --shard writes its results (JSON).
    #[arg(long, value_name = "PATH", requires = "shard")]
    shard_file: Option<PathBuf>,
    /// With --shard: run the ranking round, after the rating round whose shard files these are.
    #[arg(long, value_name = "PATH", num_args = 1.., requires = "shard")]
    after: Vec<PathBuf>,
    /// Instead of searching, merge these shard files (every shard of both rounds) and write the
    /// outputs a search in one process writes.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    merge: Vec<PathBuf>,
}

/// How to run the search on several machines, for `--help`.
const SHARDS: &str = "\
A search in parts (docs/scaling.md): the same params and inputs everywhere, then
  optimize ... --shard K/N --shard-file rating-K.json                        for K in 1..N
  optimize ... --shard K/N --shard-file ranking-K.json --after rating-*.json for K in 1..N
  optimize ... --model M --report R --candidates C --merge rating-*.json ranking-*.json
writes what `optimize ... --model M --report R --candidates C` writes, but for the times.
A shard reads the training set and counts the movies of all ratings (`...` above: --train
T --ratings R); or, lighter, it reads the search set written once by
  optimize --params P --train T --ratings R --write-search-set S
with `--params P --search-set S` in place of --train and --ratings.";

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
    /// The mean over the folds of its lists' predicted dislikes.
    #[serde(skip_serializing_if = "Option::is_none")]
    cv_dislikes: Option<f64>,
    /// Its lists' predicted dislikes on the test set: the share of the top K whose relevance
    /// its rating model predicts below the user's own mean score.
    #[serde(skip_serializing_if = "Option::is_none")]
    test_dislikes: Option<f64>,
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

fn run(args: Args) -> anyhow::Result<()> {
    let params = Params::from_file(&args.common.params)?;
    if let Some(shard) = args.shard {
        return run_shard(&args, shard, &params.optimize);
    }
    if let Some(path) = &args.write_search_set {
        return write_search_set(&args, path, &params.optimize);
    }
    let mut tracker = Tracker::start(&params.tracking, "optimize", &params.tracking.experiments.optimize)?;
    let outcome = optimize(&args, &params.optimize, &params.tracking, &mut tracker);
    tracker.finish(outcome)
}

/// The search's inputs.
struct Sets {
    train: RatingList,
    test: RatingList,
    all: RatingList,
}

fn read_sets(args: &Args) -> anyhow::Result<Sets> {
    let phase = Phase::start("reading the sets");
    let sets = Sets {
        train: movierec_tables::read_ratings(train_path(args))?,
        test: movierec_tables::read_ratings(args.test.as_ref().expect("clap requires it without --shard"))?,
        all: movierec_tables::read_ratings(ratings_path(args))?,
    };
    phase.finish();
    Ok(sets)
}

fn train_path(args: &Args) -> &PathBuf {
    args.train.as_ref().expect("clap requires it without --search-set")
}

fn ratings_path(args: &Args) -> &PathBuf {
    args.ratings.as_ref().expect("clap requires it without --search-set")
}

/// The plan of a shard: on the search set, or on the training set and the catalogue's size.
fn read_plan(args: &Args, p: &OptimizeParams) -> anyhow::Result<Plan<'static>> {
    if let Some(path) = &args.search_set {
        let phase = Phase::start("reading the search set");
        let set = movierec_tables::read_search_set(path)?;
        phase.finish();
        let n_items = set.info.n_items;
        let plan = Plan::of_search_set(p, set, "optimize.").map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        report_plan(&plan, p, n_items);
        return Ok(plan);
    }
    let phase = Phase::start("reading the training set and counting the movies");
    let train = movierec_tables::read_ratings(train_path(args))?;
    let n_items = movierec_tables::count_movies(ratings_path(args))?;
    phase.finish();
    let plan = Plan::of_owned(p, train, n_items, "optimize.")?;
    report_plan(&plan, p, n_items);
    Ok(plan)
}

/// `--write-search-set`: the plan's search set, for shards to read instead of the training set.
fn write_search_set(args: &Args, path: &Path, p: &OptimizeParams) -> anyhow::Result<()> {
    let plan = read_plan(args, p)?;
    let (ratings, info) = plan.search_set();
    tracing::info!(ratings = ratings.len(), sampled = info.sampled, plan = %info.plan, "writing the search set");
    let mut out = Outputs::new();
    out.write(path, |w| movierec_tables::write_search_set(ratings, &info, w))?;
    out.commit()
}

fn plan<'a>(p: &OptimizeParams, train: &'a RatingList, n_items: usize) -> anyhow::Result<Plan<'a>> {
    let plan = Plan::new(p, train, n_items, "optimize.")?;
    report_plan(&plan, p, n_items);
    Ok(plan)
}

/// Logs whether `plan` searches a sample and which candidates it left out.
fn report_plan(plan: &Plan<'_>, p: &OptimizeParams, n_items: usize) {
    if plan.sampled() {
        tracing::info!(
            ratings = plan.searched().len(),
            users = plan.searched().users().len(),
            "searching on a sample of whole users (optimize.search_ratings {})",
            p.search_ratings,
        );
    }
    if let Some(first) = plan.left_out().first() {
        tracing::warn!(
            left_out = plan.left_out().len(),
            "ranking candidates left out: they cannot work on {} movies ({})",
            n_items,
            first["reason"].as_str().unwrap_or_default()
        );
    }
}

fn pool(p: &OptimizeParams) -> anyhow::Result<(rayon::ThreadPool, usize)> {
    let threads = if p.threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { p.threads };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().context("cannot start the thread pool")?;
    Ok((pool, threads))
}

/// Reads shard files, each named by its path in the merge's messages.
fn read_shards(paths: &[PathBuf]) -> anyhow::Result<Vec<(String, ShardFile)>> {
    paths
        .iter()
        .map(|path| {
            let name = path.display().to_string();
            let text = std::fs::read(path).with_context(|| format!("cannot read the shard file {name}"))?;
            let file = serde_json::from_slice(&text).with_context(|| format!("{name}: not a shard file"))?;
            Ok((name, file))
        })
        .collect()
}

/// `--shard K/N`: one part of a round of the search, written to `--shard-file`.
fn run_shard(args: &Args, shard: Shard, p: &OptimizeParams) -> anyhow::Result<()> {
    // A shard reads only what its plan needs: the search set, or the training set and the
    // catalogue's size.
    let plan = read_plan(args, p)?;
    let (stage, winner) = match args.after.as_slice() {
        [] => (Stage::Rating, None),
        after => (Stage::Ranking, Some(plan::rating_winner(&plan, read_shards(after)?)?)),
    };
    let (pool, threads) = pool(p)?;
    let fits = plan.shard_fits(stage, shard);
    tracing::info!(%shard, round = %stage, fits, threads, plan = plan.fingerprint(), "searching a shard");
    let steps = Steps::new(fits as u64, "fits");
    let file = pool
        .install(|| plan.run(stage, winner, shard, |c, f| steps.step(format!("candidate {} fold {}", c + 1, f + 1))));
    steps.finish();
    let mut out = Outputs::new();
    out.write_json(args.shard_file.as_ref().expect("clap requires it with --shard"), &file)?;
    out.commit()
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
    let sets = read_sets(args)?;
    let plan = plan(p, &sets.train, sets.all.movies().len())?;
    let (pool, threads) = pool(p)?;
    let outcome = if args.merge.is_empty() {
        tracing::info!(candidates = plan.candidates(), folds = p.cv, threads, measure = %p.measure, "searching");
        let steps = Steps::new(plan.fits() as u64, "fits");
        let outcome = pool.install(|| plan.search(|c, f| steps.step(format!("candidate {} fold {}", c + 1, f + 1))))?;
        steps.finish();
        outcome
    } else {
        tracing::info!(files = args.merge.len(), plan = plan.fingerprint(), "merging the shards of a search");
        plan.merge(read_shards(&args.merge)?)?
    };
    tracing::info!(
        best = outcome.best + 1,
        rmse = outcome.cv_results[outcome.best].mean_test_rmse,
        failed = outcome.failed(),
        "searched in {:.1} s: rating model {} {}; ranking {} {}",
        outcome.seconds,
        outcome.best_algorithm,
        outcome.best_params,
        outcome.ranking.kind,
        outcome.ranking.chosen()
    );
    let (report, serve, provenance) = refit(p, &plan, outcome, &sets, &pool, threads)?;
    let mut out = Outputs::new();
    let (model, report_path, candidates) = (args.model.as_ref(), args.report.as_ref(), args.candidates.as_ref());
    let (model, report_path, candidates) =
        (model.expect("required"), report_path.expect("required"), candidates.expect("required"));
    out.write(model, |w| artifact::write(&serve, &provenance, w))?;
    out.write(candidates, |w| write_candidates(&report.cv_results, p.measure, w))?;
    out.write_json(report_path, &report)?;

    // Logged before the outputs are put in place (the tracker's `finish` does it), so that a
    // required tracking that fails changes no output.
    if tracker.is_on() {
        log_run(tracker, &report, &provenance, tp, [model, report_path, candidates], &out)?;
    }
    Ok(out)
}

/// Fits the chosen rating model and ranking on the training set (their honest scores on the
/// test set), then on all ratings: the model to serve, and the report.
fn refit(
    p: &OptimizeParams,
    plan: &Plan<'_>,
    outcome: Outcome,
    sets: &Sets,
    pool: &rayon::ThreadPool,
    threads: usize,
) -> anyhow::Result<(Report, Recommender, Provenance)> {
    let phase = Phase::start("fitting the best candidates on the training set, then on all ratings");
    let test = honest_scores(p, &outcome, sets, pool, threads)?;
    let (serve, provenance) = pool
        .install(|| outcome.fit_to_serve(threads, &sets.all))
        .map_err(anyhow::Error::msg)
        .context("fitting the model to serve")?;
    phase.finish();
    tracing::info!(
        test_rmse = test.rmse,
        test_mae = test.mae,
        test_ranking = test.ranking,
        test_dislikes = test.dislikes,
        "best candidates on the test set"
    );
    let report = report(p, plan, outcome, test, &serve, &provenance, threads);
    Ok((report, serve, provenance))
}

/// The chosen candidates' scores on the test set, fitted on the training set.
struct TestScores {
    rmse: f64,
    mae: f64,
    ranking: Option<f64>,
    dislikes: Option<f64>,
}

fn honest_scores(
    p: &OptimizeParams,
    outcome: &Outcome,
    sets: &Sets,
    pool: &rayon::ThreadPool,
    threads: usize,
) -> anyhow::Result<TestScores> {
    let t = Trainset::new(&sets.train);
    let model = pool
        .install(|| outcome.fit(threads, &t))
        .map_err(anyhow::Error::msg)
        .context("refitting the best candidates")?;
    let (rmse, mae) = search::score(&model.rating, &sets.test, 0..sets.test.len());
    let row = match p.measure {
        Measure::Ranking { k, .. } => {
            let h = Heldout::new(&t, &sets.test, p.relevance_threshold).judged_by(&t, &model.rating);
            Some(pool.install(|| h.measure_recommender(&model, k, k)).0)
        }
        _ => None,
    };
    let ranking = match p.measure {
        Measure::Ranking { metric, .. } => row.map(|r| metric.of(&r.metrics)),
        _ => None,
    };
    Ok(TestScores { rmse, mae, ranking, dislikes: row.and_then(|r| r.predicted_dislikes) })
}

/// `metrics/optimize.json`.
fn report(
    p: &OptimizeParams,
    plan: &Plan<'_>,
    outcome: Outcome,
    test: TestScores,
    serve: &Recommender,
    provenance: &Provenance,
    threads: usize,
) -> Report {
    let best_result = &outcome.cv_results[outcome.best];
    Report {
        method: p.method,
        measure: p.measure,
        cv: p.cv,
        seed: p.seed,
        mode: p.mode,
        threads,
        candidates: plan.candidates(),
        failed: outcome.failed(),
        left_out: plan.left_out().to_vec(),
        searched_on: SearchedOn {
            ratings: plan.searched().len(),
            users: plan.searched().users().len(),
            sample: plan.sampled(),
        },
        search_seconds: outcome.seconds,
        best_index: outcome.best,
        best_algorithm: outcome.best_algorithm,
        best_score: Score { rmse: best_result.mean_test_rmse.unwrap(), mae: best_result.mean_test_mae.unwrap() },
        test_score: Score { rmse: test.rmse, mae: test.mae },
        best_ranking: BestRanking {
            kind: outcome.ranking.kind,
            index: outcome.best_ranking,
            params: outcome.ranking.chosen(),
            cv_score: outcome.cv_results[outcome.best_ranking].score(p.measure),
            test_score: test.ranking,
            cv_dislikes: outcome.cv_results[outcome.best_ranking].mean_test_dislikes,
            test_dislikes: test.dislikes,
        },
        serve_model: ServeModel {
            n_ratings: provenance.n_ratings as usize,
            n_users: serve.rating.users().len(),
            n_movies: serve.rating.items().len(),
            training_time: provenance.training_seconds,
        },
        best_params: outcome.best_params,
        cv_results: outcome.cv_results,
    }
}

/// The parent run's best params and scores, one child run per candidate, the artifacts, and
/// the model to serve registered.
fn log_run(
    tracker: &mut Tracker,
    report: &Report,
    provenance: &Provenance,
    t: &TrackingParams,
    [model, report_path, candidates]: [&PathBuf; 3],
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
    tracker.upload("model/serve.bin", out.staged(model))?;
    tracker.upload("metrics/optimize.json", out.staged(report_path))?;
    tracker.upload("plots/optimize_candidates.csv", out.staged(candidates))?;
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
/// ranking measure and the lists' predicted dislikes when the search uses one), mean fit
/// time, searched values (empty where a
/// kind has no such parameter).
fn write_candidates(results: &[CandidateResult], measure: Measure, w: &mut impl std::io::Write) -> std::io::Result<()> {
    let names: BTreeSet<&String> = results.iter().flat_map(|r| r.params.keys()).collect();
    write!(
        w,
        "candidate,kind,algorithm,rank,mean_test_rmse,mean_test_mae,mean_test_ranking,mean_test_dislikes,mean_fit_time"
    )?;
    for n in &names {
        write!(w, ",{n}")?;
    }
    writeln!(w)?;
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let ranking = |r: &CandidateResult| if measure.lower_is_better() { None } else { r.score(measure) };
    for (i, r) in results.iter().enumerate() {
        write!(
            w,
            "{},{},{},{},{},{},{},{},{}",
            i + 1,
            r.kind,
            r.algorithm.unwrap_or(""),
            r.rank.map_or(String::new(), |k| k.to_string()),
            opt(r.mean_test_rmse),
            opt(r.mean_test_mae),
            opt(ranking(r)),
            opt(r.mean_test_dislikes),
            opt(r.mean_fit_time)
        )?;
        for n in &names {
            write!(w, ",{}", r.params.get(*n).map_or(String::new(), plain))?;
        }
        writeln!(w)?;
    }
    Ok(())
}
