//! Benchmark of the rankings, side by side: `cargo run --release -p movierec-core --example
//! ranking_bench -- DATA [key=value ...]`.
//!
//! DATA is `synthetic` (the default generator, seed 42; `scale=`, `movies=`,
//! `ratings_per_user=` change its shape) or an ml-100k or ml-latest folder. The ratings are
//! split 80/20 as `prepare` does (Surprise's `train_test_split`, seed `seed=`, default 42);
//! every ranking is
//! measured on the held-out ratings with `evaluation::ranking`'s definitions at K = 10
//! (relevant: a test score of at least `threshold=`, default 4 for MovieLens and 60 for the
//! synthetic data). Prints one tab-separated line per ranking: name, NDCG@10, precision@10,
//! recall@10, hit rate, coverage, popularity bias, predicted dislikes (the share of the top 10
//! whose relevance SVD predicts below the user's own mean), fit seconds. `only=ease,ials`
//! restricts the rows; `ials.factors=`, `ials.alpha=`, `ials.preference=`, `ials.regularization=`,
//! `ials.iterations=`, `ials.weighting=`, `ease.lambda=`, `ease.weighting=`, and the lists
//! (comma-separated) `ease.lambdas=`, `ease.dropout=` (EDLAE) and `ease.liking=` (one EASE row
//! per combination, beside the plain `ease`), `rp3beta.alpha=` and `rp3beta.beta=` (lists: one
//! RP3beta row per combination), `ensemble.weight=` (a list: one row per weight of the
//! ensemble of EASE, with the first value of each `ease.` list, and implicit ALS), `blend=`
//! (a list of weights: each top-N model's best 20 and 50 re-ordered by its score and SVD's
//! predicted relevance, z-scores, the relevance's times the weight), `demote=1` (each
//! re-ordered row again with the movies SVD predicts the user will dislike last), `threads=`
//! set parameters.

use std::time::Instant;

use movierec_core::RatingScale;
use movierec_core::data::builder::{DuplicatePolicy, InvalidPolicy, Rules};
use movierec_core::data::split::train_test_split;
use movierec_core::data::synthetic::{SyntheticConfig, generate};
use movierec_core::data::trainset::Trainset;
use movierec_core::evaluation::ranking::Heldout;
use movierec_core::models::ranking::Reorder;
use movierec_core::models::ranking::ease::EaseParams;
use movierec_core::models::ranking::ensemble::EnsembleParams;
use movierec_core::models::ranking::popularity::{By, PopularityParams};
use movierec_core::models::ranking::rp3beta::Rp3betaParams;
use movierec_core::models::rating::svd::{SvdParams, TrainMode};
use movierec_core::models::{Fit, Kind, Ranking, RankingParams, Recommender, Weighting};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let source = args.first().cloned().unwrap_or_else(|| "synthetic".into());
    let kv: std::collections::HashMap<String, String> =
        args.iter().skip(1).filter_map(|a| a.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect();
    let get = |k: &str| kv.get(k).map(|v| v.parse::<f64>().unwrap_or_else(|_| panic!("{k}={v}: a number")));
    let only: Option<Vec<String>> = kv.get("only").map(|v| v.split(',').map(str::to_owned).collect());
    let wants = |name: &str| only.as_ref().is_none_or(|o| o.iter().any(|x| name.starts_with(x.as_str())));
    let weighting = |k: &str, d: Weighting| match kv.get(k).map(String::as_str) {
        Some("binary") => Weighting::Binary,
        Some("score") => Weighting::Score,
        Some(other) => panic!("{k}={other}: binary or score"),
        None => d,
    };
    let threads = get("threads").map_or(0, |t| t as usize);

    let (ratings, default_threshold) = if source == "synthetic" {
        let mut c = SyntheticConfig::default();
        c.scale = get("scale").unwrap_or(1.0);
        c.movies = get("movies").map_or(c.movies, |m| m as usize);
        c.ratings_per_user = get("ratings_per_user");
        (generate(&c, RatingScale::SEED).expect("a valid configuration").ratings, 60.0)
    } else {
        let rules = Rules {
            scale: RatingScale::new(1.0, 5.0).unwrap(),
            on_invalid: InvalidPolicy::Reject,
            on_duplicate: DuplicatePolicy::Keep,
        };
        let (d, _, _) = movierec_core::data::movielens::read(std::path::Path::new(&source), rules).expect("a folder");
        (d.ratings, 4.0)
    };
    let threshold = get("threshold").unwrap_or(default_threshold);
    let seed = get("seed").map_or(42, |s| s as u32);
    let split = train_test_split(ratings.len(), 0.2, seed).unwrap();
    let train = ratings.select(&split.train);
    let test = ratings.select(&split.test);
    let t = Trainset::new(&train);
    let start = Instant::now();
    let svd = SvdParams::default().check().unwrap();
    let rating = svd.fit(TrainMode::Fast, threads, &t, |_| {}).expect("SVD fits");
    let svd_seconds = start.elapsed().as_secs_f64();
    let h = Heldout::new(&t, &test, threshold).judged_by(&t, &rating.clone().into());
    eprintln!(
        "{} ratings, {} users, {} movies; {} test users with a relevant movie",
        ratings.len(),
        t.n_users(),
        t.n_items(),
        h.users.len()
    );

    let mut params = RankingParams::default();
    params.ease.lambda = get("ease.lambda").unwrap_or(params.ease.lambda);
    params.ease.weighting = weighting("ease.weighting", params.ease.weighting);
    params.ials.factors = get("ials.factors").map_or(params.ials.factors, |v| v as usize);
    params.ials.alpha = get("ials.alpha").unwrap_or(params.ials.alpha);
    params.ials.preference = get("ials.preference").unwrap_or(params.ials.preference);
    params.ials.regularization = get("ials.regularization").unwrap_or(params.ials.regularization);
    params.ials.iterations = get("ials.iterations").map_or(params.ials.iterations, |v| v as usize);
    params.ials.cg_steps = get("ials.cg_steps").map_or(params.ials.cg_steps, |v| v as usize);
    params.ials.weighting = weighting("ials.weighting", params.ials.weighting);

    println!(
        "ranking\tndcg@10\tprecision@10\trecall@10\thit_rate\tcoverage\tpopularity_bias\tpredicted_dislikes\tfit_seconds"
    );
    let print = |name: &str, rec: &Recommender, seconds: f64| {
        let (row, _) = h.measure_recommender(rec, 10, 10);
        let m = row.metrics;
        let dislikes = row.predicted_dislikes.expect("judged by SVD");
        println!(
            "{name}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{:.4}\t{dislikes:.4}\t{seconds:.3}",
            m.ndcg, m.precision, m.recall, m.hit_rate, row.coverage, row.popularity_bias
        );
    };
    let with = |ranking: Ranking, rerank: usize| Recommender {
        rating: rating.clone().into(),
        ranking,
        reorder: Reorder { rerank, ..Reorder::default() },
    };
    // With `demote=1`, every re-ordered row is printed again with the predicted dislikes last.
    let demote = get("demote").is_some_and(|d| d != 0.0);
    let print_reordered = |name: &str, rec: &Recommender, seconds: f64| {
        print(name, rec, seconds);
        if demote {
            let demoted = Recommender { reorder: Reorder { demote_dislikes: true, ..rec.reorder }, ..rec.clone() };
            print(&format!("{name}, dislikes last"), &demoted, seconds);
        }
    };
    // Each blend weight asked for, the best 20 and 50 of a top-N model re-ordered by it.
    let blends: Vec<f64> = kv.get("blend").map_or(Vec::new(), |v| {
        v.split(',').map(|x| x.parse().unwrap_or_else(|_| panic!("blend={v}: numbers"))).collect()
    });
    let blended = |name: &str, ranking: &Ranking, seconds: f64| {
        for &w in &blends {
            for depth in [20, 50] {
                let rec = with(ranking.clone(), depth);
                let rec = Recommender { reorder: Reorder { blend: Some(w), ..rec.reorder }, ..rec };
                print_reordered(&format!("{name} blended {w} (best {depth})"), &rec, seconds);
            }
        }
    };
    if wants("svd") {
        print("svd (predicted relevance)", &with(Ranking::Relevance, 0), svd_seconds);
    }
    for (name, by) in [("most_rated", By::Count), ("damped_mean", By::DampedMean)] {
        if wants(name) {
            let p = PopularityParams { by, ..PopularityParams::default() }.fit(&t, threads).unwrap();
            print(name, &with(Ranking::Popularity(p), 0), 0.0);
        }
    }
    // A variant of a kind: fitted and timed, its own order printed, then each blend asked for.
    let variant = |name: &str, p: RankingParams, kind: Kind| {
        let start = Instant::now();
        let ranking = p.fit_kind(kind, &t, threads).expect("fits");
        let seconds = start.elapsed().as_secs_f64();
        print(name, &with(ranking.clone(), 0), seconds);
        blended(name, &ranking, seconds);
    };
    // EASE (and EDLAE) with each combination of the `ease.liking`, `ease.dropout` and
    // `ease.lambdas` asked for, beside the plain one (`ease`, the anchor).
    let numbers = |k: &str| -> Option<Vec<f64>> {
        kv.get(k).map(|v| v.split(',').map(|x| x.parse().unwrap_or_else(|_| panic!("{k}={v}: numbers"))).collect())
    };
    let (likings, dropouts, lambdas) = (numbers("ease.liking"), numbers("ease.dropout"), numbers("ease.lambdas"));
    if wants("ease") && (likings.is_some() || dropouts.is_some() || lambdas.is_some()) {
        for &lambda in lambdas.as_deref().unwrap_or(&[params.ease.lambda]) {
            for &dropout in dropouts.as_deref().unwrap_or(&[0.0]) {
                for &liking in likings.as_deref().unwrap_or(&[0.0]) {
                    let ease = EaseParams { lambda, dropout, liking, ..params.ease };
                    let name = format!("ease λ{lambda} dropout {dropout} liking {liking}");
                    variant(&name, RankingParams { ease, ..params.clone() }, Kind::Ease);
                }
            }
        }
    }
    // RP3beta with each combination of the `rp3beta.alpha` and `rp3beta.beta` asked for.
    if wants("rp3beta") {
        let defaults = Rp3betaParams::default();
        for &alpha in numbers("rp3beta.alpha").as_deref().unwrap_or(&[defaults.alpha]) {
            for &beta in numbers("rp3beta.beta").as_deref().unwrap_or(&[defaults.beta]) {
                let rp3beta = Rp3betaParams { alpha, beta, ..defaults };
                variant(
                    &format!("rp3beta α{alpha} β{beta}"),
                    RankingParams { rp3beta, ..params.clone() },
                    Kind::Rp3beta,
                );
            }
        }
    }
    // The ensemble of EASE (the first of each `ease.` list) and implicit ALS, at each
    // `ensemble.weight` asked for.
    if wants("ensemble") {
        let first = |v: &Option<Vec<f64>>, d: f64| v.as_ref().and_then(|v| v.first().copied()).unwrap_or(d);
        let ease = EaseParams {
            lambda: first(&lambdas, params.ease.lambda),
            dropout: first(&dropouts, 0.0),
            liking: first(&likings, 0.0),
            ..params.ease
        };
        for &weight in numbers("ensemble.weight").as_deref().unwrap_or(&[1.0]) {
            let ensemble = EnsembleParams { weight, ..EnsembleParams::default() };
            let name = format!(
                "ensemble {weight}: ease λ{} dropout {} liking {} + ials preference {}",
                ease.lambda, ease.dropout, ease.liking, params.ials.preference
            );
            variant(&name, RankingParams { ease, ensemble, ..params.clone() }, Kind::Ensemble);
        }
    }
    for kind in [Kind::Ease, Kind::Ials] {
        if !wants(kind.name()) {
            continue;
        }
        let start = Instant::now();
        let ranking = params.fit_kind(kind, &t, threads).expect("fits");
        let seconds = start.elapsed().as_secs_f64();
        print(kind.name(), &with(ranking.clone(), 0), seconds);
        for depth in [20, 50] {
            let rec = with(ranking.clone(), depth);
            print_reordered(&format!("{kind} re-ranked by relevance (best {depth})"), &rec, seconds);
        }
        blended(kind.name(), &ranking, seconds);
    }
}
