//! `optimize`: searches SVD's hyper-parameters by K-fold cross-validation on the training
//! set, scores the best on the test set, and fits it on all ratings: the model to serve.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use movierec_core::RatingList;
use movierec_core::accuracy;
use movierec_core::artifact::{self, Provenance};
use movierec_core::search::{self, Candidate};
use movierec_core::split::kfold;
use movierec_core::svd::{Svd, SvdModel, SvdParams, TrainMode};
use movierec_core::trainset::Trainset;
use movierec_stage::params::{Measure, OptimizeParams};
use movierec_stage::progress::{Phase, Steps};
use movierec_stage::{Common, Outputs, Params};
use rayon::prelude::*;
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

/// One (candidate, fold) fit.
type FoldResult = Result<(f64, f64, f64), String>;

#[derive(Debug, Serialize)]
struct CandidateResult {
    params: BTreeMap<String, f64>,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rank: Option<usize>,
    mean_test_rmse: Option<f64>,
    std_test_rmse: Option<f64>,
    mean_test_mae: Option<f64>,
    std_test_mae: Option<f64>,
    mean_fit_time: Option<f64>,
    std_fit_time: Option<f64>,
    split_test_rmse: Vec<f64>,
    split_test_mae: Vec<f64>,
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

fn fit(svd: &Svd, mode: TrainMode, threads: usize, t: &Trainset<'_>) -> Result<SvdModel, String> {
    match mode {
        TrainMode::Surprise => svd.fit_surprise(t, |_| {}),
        TrainMode::Fast => svd.fit_fast(t, threads, |_| {}),
    }
    .map_err(|e| e.to_string())
}

/// Surprise's rmse and mae of `model` on rows `rows` of `list`.
fn score(model: &SvdModel, list: &RatingList, rows: impl Iterator<Item = usize>) -> (f64, f64) {
    let pairs: Vec<(f64, f64)> = rows
        .map(|r| {
            let est = model.predict(list.users().raw(list.user()[r].0), list.movies().raw(list.movie()[r].0)).est;
            (list.score()[r], est)
        })
        .collect();
    (accuracy::rmse(pairs.iter().copied()), accuracy::mae(pairs.iter().copied()))
}

fn run(args: Args) -> anyhow::Result<()> {
    let p: OptimizeParams = Params::from_file(&args.common.params)?.optimize;
    let candidates = search::candidates(&p.space, p.method, p.n_iter, p.seed).context("invalid optimize.space")?;
    anyhow::ensure!(!candidates.is_empty(), "optimize has no candidate (random search with n_iter 0?)");
    let checked: Vec<Svd> = candidates
        .iter()
        .map(|c| {
            let params = search::apply(&p.base, c)?;
            params.check().map_err(anyhow::Error::from)
        })
        .collect::<anyhow::Result<_>>()
        .context("invalid optimize parameters")?;
    let threads = if p.threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { p.threads };

    let phase = Phase::start("reading the sets");
    let train = movierec_tables::read_ratings(&args.train)?;
    let test = movierec_tables::read_ratings(&args.test)?;
    let all = movierec_tables::read_ratings(&args.ratings)?;
    let folds = kfold(train.len(), p.cv, p.seed).context("invalid optimize.cv")?;
    let fold_lists: Vec<RatingList> = folds.iter().map(|f| train.select(&f.train)).collect();
    let fold_sets: Vec<Trainset<'_>> = fold_lists.iter().map(Trainset::new).collect();
    phase.finish();

    let n_tasks = candidates.len() * folds.len();
    tracing::info!(candidates = candidates.len(), folds = folds.len(), threads, "searching");
    let steps = Steps::new(n_tasks as u64, "fits");
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().context("cannot start the thread pool")?;
    let started = Instant::now();
    // Candidate-major tasks; each fit runs on one thread, so a task's result depends only on
    // its candidate and fold, never on the scheduling.
    let results: Vec<FoldResult> = pool.install(|| {
        (0..n_tasks)
            .into_par_iter()
            .map(|task| {
                let (c, f) = (task / folds.len(), task % folds.len());
                let t0 = Instant::now();
                let result = fit(&checked[c], p.mode, 1, &fold_sets[f]).map(|model| {
                    let seconds = t0.elapsed().as_secs_f64();
                    let (rmse, mae) = score(&model, &train, folds[f].test.iter().map(|&r| r as usize));
                    (rmse, mae, seconds)
                });
                steps.step(format!("candidate {} fold {}", c + 1, f + 1));
                result
            })
            .collect()
    });
    let search_seconds = started.elapsed().as_secs_f64();
    steps.finish();

    let mut cv_results: Vec<CandidateResult> = candidates
        .iter()
        .zip(results.chunks(folds.len()))
        .map(|(c, fold_results)| summarize(c, fold_results))
        .collect();
    let key = |r: &CandidateResult| match p.measure {
        Measure::Rmse => r.mean_test_rmse,
        Measure::Mae => r.mean_test_mae,
    };
    let mut ok: Vec<usize> = (0..cv_results.len()).filter(|&i| key(&cv_results[i]).is_some()).collect();
    ok.sort_by(|&a, &b| key(&cv_results[a]).unwrap().total_cmp(&key(&cv_results[b]).unwrap()).then(a.cmp(&b)));
    for (rank, &i) in ok.iter().enumerate() {
        cv_results[i].rank = Some(rank + 1);
    }
    let failed = cv_results.len() - ok.len();
    let Some(&best) = ok.first() else {
        anyhow::bail!(
            "every candidate failed; the first: {}",
            cv_results[0].reason.as_deref().unwrap_or("no reason recorded")
        );
    };
    let best_params = search::apply(&p.base, &candidates[best])?;
    tracing::info!(
        best = best + 1,
        rmse = cv_results[best].mean_test_rmse,
        failed,
        "searched in {search_seconds:.1} s: best {:?}",
        candidates[best]
    );

    let phase = Phase::start("fitting the best candidate on the training set, then on all ratings");
    let svd = checked[best];
    let t = Trainset::new(&train);
    let model = fit(&svd, p.mode, threads, &t).map_err(anyhow::Error::msg).context("refitting the best candidate")?;
    let (rmse, mae) = score(&model, &test, 0..test.len());
    let t_all = Trainset::new(&all);
    let t0 = Instant::now();
    let serve = fit(&svd, p.mode, threads, &t_all).map_err(anyhow::Error::msg).context("fitting the model to serve")?;
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
        candidates: candidates.len(),
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
    out.write(&args.candidates, |w| write_candidates(&report.cv_results, &p, w))?;
    out.write_json(&args.report, &report)?;
    out.commit()
}

fn summarize(candidate: &Candidate, fold_results: &[FoldResult]) -> CandidateResult {
    let params = candidate.iter().cloned().collect();
    if let Some(Err(reason)) = fold_results.iter().find(|r| r.is_err()) {
        return CandidateResult {
            params,
            status: "failed",
            reason: Some(reason.clone()),
            rank: None,
            mean_test_rmse: None,
            std_test_rmse: None,
            mean_test_mae: None,
            std_test_mae: None,
            mean_fit_time: None,
            std_fit_time: None,
            split_test_rmse: Vec::new(),
            split_test_mae: Vec::new(),
        };
    }
    let ok: Vec<(f64, f64, f64)> = fold_results.iter().map(|r| *r.as_ref().expect("no failure")).collect();
    let rmse: Vec<f64> = ok.iter().map(|r| r.0).collect();
    let mae: Vec<f64> = ok.iter().map(|r| r.1).collect();
    let time: Vec<f64> = ok.iter().map(|r| r.2).collect();
    let (mr, sr) = search::mean_std(&rmse);
    let (ma, sa) = search::mean_std(&mae);
    let (mt, st) = search::mean_std(&time);
    CandidateResult {
        params,
        status: "ok",
        reason: None,
        rank: None,
        mean_test_rmse: Some(mr),
        std_test_rmse: Some(sr),
        mean_test_mae: Some(ma),
        std_test_mae: Some(sa),
        mean_fit_time: Some(mt),
        std_fit_time: Some(st),
        split_test_rmse: rmse,
        split_test_mae: mae,
    }
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
