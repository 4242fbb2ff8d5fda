//! The `evaluate` binary, run in a temporary folder on a small generated split and a model
//! trained on it.

use std::path::PathBuf;
use std::process::{Command, Output};

use movierec_core::RatingScale;
use movierec_core::data::split::train_test_split;
use movierec_core::data::synthetic::{SyntheticConfig, generate};
use movierec_core::data::trainset::Trainset;
use movierec_core::models::artifact::{self, Provenance};
use movierec_core::models::ranking::Reorder;
use movierec_core::models::rating::svd::SvdParams;
use movierec_core::models::{Kind, RankingParams, Recommender};
use serde_json::Value;

/// The NDCG plot's columns: k, the model's row, and every ranking compared beside it.
const NDCG_COLUMNS: &str = "k,model,relevance,most_rated,damped_mean,ease,ials,rp3beta,ensemble,model_reranked";

const OUTPUTS: [&str; 4] = ["metrics/evaluate.json", "metrics/errors.csv", "metrics/pr.csv", "metrics/ndcg.csv"];

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// A split of a small synthetic set and an SVD model, its lists ordered by EASE, fitted
    /// on its training part.
    fn new() -> Project {
        Project::with(|t| {
            let svd = SvdParams { n_factors: 10, n_epochs: 10, ..SvdParams::default() }.check().unwrap();
            let rating = svd.fit_fast(t, 1, |_| {}).unwrap();
            let ranking = RankingParams { kind: Kind::Ease, ..RankingParams::default() }.fit(t, 1).unwrap();
            Recommender { rating: rating.into(), ranking, reorder: Reorder::default() }
        })
    }

    /// The same split and the model `fit` makes of its training part.
    fn with(fit: impl Fn(&Trainset<'_>) -> Recommender) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let data = generate(&SyntheticConfig { seed: 3, scale: 0.02, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        let split = train_test_split(data.ratings.len(), 0.2, 1).unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        for (name, rows) in [("train", &split.train), ("test", &split.test)] {
            let f = std::fs::File::create(dir.path().join(format!("data/{name}.parquet"))).unwrap();
            movierec_tables::write_rating_rows(&data.ratings, rows, f).unwrap();
        }
        let train = movierec_tables::read_ratings(&dir.path().join("data/train.parquet")).unwrap();
        let t = Trainset::new(&train);
        let model = fit(&t);
        let provenance = Provenance {
            data_fingerprint: artifact::fingerprint(&train),
            n_ratings: train.len() as u64,
            created_at: artifact::rfc3339(0),
            training_seconds: 0.25,
            threads: 1,
        };
        let mut bytes = Vec::new();
        artifact::write(&model, &provenance, &mut bytes).unwrap();
        std::fs::write(dir.path().join("model.bin"), bytes).unwrap();
        Project { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn evaluate(&self, params: &str, train: &str) -> Output {
        std::fs::write(self.path("params.yaml"), params).unwrap();
        Command::new(env!("CARGO_BIN_EXE_evaluate"))
            .current_dir(self.dir.path())
            .args(["--model", "model.bin", "--train", train, "--test", "data/test.parquet"])
            .args(["--report", OUTPUTS[0], "--errors", OUTPUTS[1], "--ranking", OUTPUTS[2], "--ndcg", OUTPUTS[3]])
            .output()
            .unwrap()
    }

    fn fails(&self, params: &str, train: &str) -> String {
        let out = self.evaluate(params, train);
        assert!(!out.status.success(), "evaluate succeeded on bad input");
        for o in OUTPUTS {
            assert!(!self.path(o).exists(), "{o} was written by a failing run");
        }
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

#[test]
fn reports_the_original_metrics_the_baselines_and_the_ranking() {
    let p = Project::new();
    let out = p.evaluate("evaluate: {k: 5, relevance_threshold: 70}\n", "data/train.parquet");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&std::fs::read(p.path(OUTPUTS[0])).unwrap()).unwrap();
    for key in ["rmse", "mae", "training_time", "nombre_utilisateurs", "nombre_films", "score_pertinence_moyen"] {
        assert!(r[key].is_number(), "missing {key}: {r}");
    }
    assert_eq!(r["training_time"].as_f64(), Some(0.25));
    let rmse = r["rmse"].as_f64().unwrap();
    assert!(rmse < r["baselines"]["global_mean"]["rmse"].as_f64().unwrap(), "{r}");
    let ranking = &r["ranking"];
    assert_eq!((ranking["k"].as_u64(), ranking["relevance_threshold"].as_f64()), (Some(5), Some(70.0)));
    assert_eq!(ranking["kind"], "ease");
    for key in ["precision", "recall", "ndcg", "map", "hit_rate", "coverage", "popularity_bias", "predicted_dislikes"] {
        let v = ranking[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    assert!(ranking["users"].as_u64().unwrap() > 0);
    // Every ranking side by side, the model's row equal to `ranking`.
    let rows = r["rankings"].as_object().unwrap();
    let names: Vec<&str> = rows.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        ["damped_mean", "ease", "ensemble", "ials", "model", "model_reranked", "most_rated", "relevance", "rp3beta"]
    );
    assert_eq!(rows["model"]["ndcg"], ranking["ndcg"]);
    // The model orders by EASE with λ 500, the comparison's EASE too: the same lists.
    assert_eq!(rows["ease"], rows["model"]);
    // The most-rated list is the most popular by construction.
    let bias = |name: &str| rows[name]["popularity_bias"].as_f64().unwrap();
    assert!(rows.keys().all(|n| bias(n) <= bias("most_rated")), "{r}");
    // Every row judged by the model's rating model: its own order has the fewest predicted
    // dislikes (a list by predicted relevance puts the highest first).
    let dislikes = |name: &str| rows[name]["predicted_dislikes"].as_f64().unwrap();
    assert!(rows.keys().all(|n| dislikes(n) >= dislikes("relevance")), "{r}");
    assert!(dislikes("most_rated") > dislikes("relevance"), "{r}");
    let ndcg = std::fs::read_to_string(p.path(OUTPUTS[3])).unwrap();
    assert_eq!(ndcg.lines().next(), Some(NDCG_COLUMNS));
    assert_eq!(ndcg.lines().count(), 21);
    let at5: Vec<&str> = ndcg.lines().nth(5).unwrap().split(',').collect();
    // (serde_json reads floats to within one unit in the last place.)
    assert!((at5[1].parse::<f64>().unwrap() - ranking["ndcg"].as_f64().unwrap()).abs() < 1e-15);
    assert_eq!(r["test"]["ratings"], 1631);
    let curve = std::fs::read_to_string(p.path(OUTPUTS[2])).unwrap();
    assert_eq!(curve.lines().next(), Some("k,precision,recall"));
    assert_eq!(curve.lines().count(), 21);
    let errors = std::fs::read_to_string(p.path(OUTPUTS[1])).unwrap();
    let total: u64 = errors.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(total, 1631);
}

/// A model ordered by implicit ALS with the comparison's parameters gives the "ials" row its
/// own (measured once); re-ordered by relevance, it does not, and the row is measured apart,
/// from the model's ranking's lists (ranked once, as "model_reranked" is).
#[test]
fn the_comparisons_implicit_als_is_the_models_own_when_its_parameters_are() {
    let ials = |rerank: usize| {
        Project::with(move |t| {
            let svd = SvdParams { n_factors: 10, n_epochs: 10, ..SvdParams::default() }.check().unwrap();
            let rating = svd.fit_fast(t, 1, |_| {}).unwrap();
            let ranking = RankingParams { kind: Kind::Ials, ..RankingParams::default() }.fit(t, 1).unwrap();
            Recommender { rating: rating.into(), ranking, reorder: Reorder { rerank, ..Reorder::default() } }
        })
    };
    let run = |p: &Project| {
        let out = p.evaluate("evaluate: {k: 5}\n", "data/train.parquet");
        let log = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{log}");
        assert!(log.contains("not ranked again: ials, model_reranked"), "{log}");
        let r: Value = serde_json::from_slice(&std::fs::read(p.path(OUTPUTS[0])).unwrap()).unwrap();
        let ndcg = std::fs::read_to_string(p.path(OUTPUTS[3])).unwrap();
        let column =
            |c: usize| ndcg.lines().skip(1).map(|l| l.split(',').nth(c).unwrap().to_owned()).collect::<Vec<_>>();
        (r["rankings"].clone(), column(1), column(6))
    };
    let (rows, model, ials_column) = run(&ials(0));
    assert_eq!(rows["ials"], rows["model"]);
    assert_eq!(ials_column, model, "the NDCG plot's ials column is the model's");
    let (reranked_rows, reranked_model, reranked_ials) = run(&ials(5));
    assert_ne!(reranked_rows["model"], reranked_rows["ials"], "the model re-orders its lists");
    assert_ne!(reranked_model, reranked_ials);
    assert_eq!(reranked_rows["ials"], rows["ials"], "the comparison's own implicit ALS, measured apart");
    assert_eq!(reranked_ials, ials_column);
}

/// A ranking left out (EASE and RP3beta over their `max_items`, the ensemble of EASE with them,
/// no re-ranking) keeps its column in the NDCG plot, empty, so `dvc plots` finds the same
/// columns whatever the parameters.
#[test]
fn rankings_left_out_keep_their_columns() {
    let p = Project::new();
    let params = "evaluate: {compare: {rerank: 0, ease: {max_items: 10}, rp3beta: {max_items: 10}}}\n";
    let out = p.evaluate(params, "data/train.parquet");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("ease left out of the comparison") && log.contains("rp3beta left out"), "{log}");
    assert!(log.contains("ensemble left out of the comparison") && log.contains("ease.max_items is 10"), "{log}");
    let r: Value = serde_json::from_slice(&std::fs::read(p.path(OUTPUTS[0])).unwrap()).unwrap();
    let names: Vec<&str> = r["rankings"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(names, ["damped_mean", "ials", "model", "most_rated", "relevance"]);
    let ndcg = std::fs::read_to_string(p.path(OUTPUTS[3])).unwrap();
    assert_eq!(ndcg.lines().next(), Some(NDCG_COLUMNS));
    let first: Vec<&str> = ndcg.lines().nth(1).unwrap().split(',').collect();
    assert_eq!((first.len(), first[5], first[7], first[8], first[9]), (10, "", "", "", ""));
}

#[test]
fn a_model_of_other_data_is_refused() {
    let p = Project::new();
    let e = p.fails("evaluate: {}\n", "data/test.parquet");
    assert!(e.contains("was not trained on data/test.parquet"), "{e}");
}

#[test]
fn bad_model_files_are_clear_errors() {
    let p = Project::new();
    let good = std::fs::read(p.path("model.bin")).unwrap();
    let mut corrupted = good.clone();
    let at = good.len() - 50;
    corrupted[at] ^= 1;
    for (bytes, expected) in [
        (corrupted, "corrupted"),
        (good[..good.len() / 2].to_vec(), "truncated"),
        (b"PAR1....".to_vec(), "not a movierec model"),
    ] {
        std::fs::write(p.path("model.bin"), bytes).unwrap();
        let e = p.fails("evaluate: {}\n", "data/train.parquet");
        assert!(e.contains("model.bin") && e.contains(expected), "{e}");
    }
    std::fs::write(p.path("model.bin"), good).unwrap();
    let e = p.fails("evaluate: {k: 0}\n", "data/train.parquet");
    assert!(e.contains("evaluate.k"), "{e}");
    let e = p.fails("evaluate: {compare: {ease: {lambda: -1}}}\n", "data/train.parquet");
    assert!(e.contains("evaluate.compare.ease") && e.contains("ease.lambda -1"), "{e}");
}

/// A model whose rating model is another of Surprise's algorithms is scored as it predicts:
/// rmse and mae of its predictions, and its own order in the `relevance` row (predicted relevance).
#[test]
fn another_algorithms_predictions_are_scored() {
    use movierec_core::evaluation::accuracy;
    use movierec_core::models::Ranking;
    use movierec_core::models::rating::Algorithm;
    use movierec_core::models::rating::model::RatingModel;
    let spec = serde_json::json!({"algorithm": "knn_baseline", "k": 20, "sim_options": {"user_based": false}});
    let algorithm: Algorithm = serde_json::from_value(spec).unwrap();
    let p = Project::with(|t| Recommender {
        rating: RatingModel::fit(&algorithm, t, 1).unwrap(),
        ranking: Ranking::Relevance,
        reorder: Reorder::default(),
    });
    let out = p.evaluate("evaluate: {k: 5}\n", "data/train.parquet");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let r: Value = serde_json::from_slice(&std::fs::read(p.path(OUTPUTS[0])).unwrap()).unwrap();
    assert_eq!((r["algorithm"].as_str(), r["mode"].is_null()), (Some("knn_baseline"), true));
    let (model, _) = artifact::read(&std::fs::read(p.path("model.bin")).unwrap()).unwrap();
    let test = movierec_tables::read_ratings(&p.path("data/test.parquet")).unwrap();
    let pairs: Vec<(f64, f64)> = (0..test.len())
        .map(|r| {
            let (u, m) = (test.users().raw(test.user()[r].0), test.movies().raw(test.movie()[r].0));
            (test.score()[r], model.rating.predict(u, m).est)
        })
        .collect();
    // Equal up to the JSON round trip.
    assert!((r["rmse"].as_f64().unwrap() - accuracy::rmse(pairs.iter().copied())).abs() < 1e-12, "{r}");
    assert!((r["mae"].as_f64().unwrap() - accuracy::mae(pairs.iter().copied())).abs() < 1e-12, "{r}");
    assert!(r["rmse"].as_f64().unwrap() < r["baselines"]["global_mean"]["rmse"].as_f64().unwrap(), "{r}");
    assert_eq!(r["ranking"]["kind"], "relevance");
    assert_eq!(r["rankings"]["relevance"]["ndcg"], r["ranking"]["ndcg"]);
}
