//! The `optimize` binary, run in a temporary folder on a small generated split.

use std::path::PathBuf;
use std::process::{Command, Output};

use movierec_core::RatingScale;
use movierec_core::data::split::train_test_split;
use movierec_core::data::synthetic::{SyntheticConfig, generate};
use movierec_core::models::Kind;
use movierec_core::models::artifact;
use serde_json::Value;

const OUTPUTS: [&str; 3] = ["models/serve.bin", "metrics/optimize.json", "metrics/candidates.csv"];

struct Project {
    dir: tempfile::TempDir,
    n_ratings: usize,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let data = generate(&SyntheticConfig { seed: 7, scale: 0.02, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        let split = train_test_split(data.ratings.len(), 0.2, 1).unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let create = |name: &str| std::fs::File::create(dir.path().join(format!("data/{name}.parquet"))).unwrap();
        movierec_tables::write_rating_rows(&data.ratings, &split.train, create("train")).unwrap();
        movierec_tables::write_rating_rows(&data.ratings, &split.test, create("test")).unwrap();
        movierec_tables::write_ratings(&data, create("ratings")).unwrap();
        Project { dir, n_ratings: data.ratings.len() }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn optimize(&self, params: &str) -> Output {
        std::fs::write(self.path("params.yaml"), params).unwrap();
        Command::new(env!("CARGO_BIN_EXE_optimize"))
            .current_dir(self.dir.path())
            .args(["--train", "data/train.parquet", "--test", "data/test.parquet", "--ratings", "data/ratings.parquet"])
            .args(["--model", OUTPUTS[0], "--report", OUTPUTS[1], "--candidates", OUTPUTS[2]])
            .output()
            .unwrap()
    }

    fn ok(&self, params: &str) -> Value {
        let out = self.optimize(params);
        assert!(out.status.success(), "optimize failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&std::fs::read(self.path(OUTPUTS[1])).unwrap()).unwrap()
    }
}

const GRID: &str = "optimize:
  measure: rmse
  cv: 3
  base: {n_epochs: 3, seed: 5}
  space:
    n_factors: [4, 8]
    lr_all: [0.003, 0.005]
    reg_all: [0.02]
";

/// The scores of every candidate, without the fit times.
fn scores(r: &Value) -> Vec<(Value, Value, Value, Value, Value)> {
    r["cv_results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let ranking = c["split_test_ranking"].clone();
            (c["params"].clone(), c["split_test_rmse"].clone(), c["split_test_mae"].clone(), c["rank"].clone(), ranking)
        })
        .collect()
}

#[test]
fn a_grid_search_reports_every_candidate_and_fits_the_model_to_serve() {
    let p = Project::new();
    let r = p.ok(GRID);
    assert_eq!((r["candidates"].as_u64(), r["failed"].as_u64()), (Some(4), Some(0)));
    let results = r["cv_results"].as_array().unwrap();
    // Parameters in name order, the last varying fastest: lr_all, n_factors, reg_all.
    assert_eq!(results[1]["params"]["lr_all"], 0.003);
    assert_eq!(results[1]["params"]["n_factors"], 8.0);
    assert_eq!(results[2]["params"]["lr_all"], 0.005);
    for c in results {
        assert_eq!(c["split_test_rmse"].as_array().unwrap().len(), 3);
        assert!(c["std_test_rmse"].as_f64().unwrap() >= 0.0 && c["mean_fit_time"].as_f64().unwrap() > 0.0);
    }
    let best = r["best_index"].as_u64().unwrap() as usize;
    assert_eq!(results[best]["rank"], 1);
    let best_rmse = results[best]["mean_test_rmse"].as_f64().unwrap();
    assert!(results.iter().all(|c| c["mean_test_rmse"].as_f64().unwrap() >= best_rmse));
    assert_eq!(r["best_score"]["rmse"].as_f64(), Some(best_rmse));
    assert!(r["test_score"]["rmse"].as_f64().unwrap() > 0.0);
    let (model, provenance) = artifact::read(&std::fs::read(p.path(OUTPUTS[0])).unwrap()).unwrap();
    assert_eq!(provenance.n_ratings as usize, p.n_ratings, "the model to serve is fitted on all ratings");
    assert_eq!(
        model.rating.as_svd().unwrap().n_factors() as f64,
        results[best]["params"]["n_factors"].as_f64().unwrap()
    );
    assert_eq!(model.kind(), Kind::Relevance, "selected by rmse, the lists keep SVD's order");
    assert_eq!(r["best_ranking"]["kind"], "relevance");
    let csv = std::fs::read_to_string(p.path(OUTPUTS[2])).unwrap();
    assert_eq!(
        csv.lines().next(),
        Some(
            "candidate,kind,algorithm,rank,mean_test_rmse,mean_test_mae,mean_test_ranking,mean_test_dislikes,mean_fit_time,lr_all,n_factors,reg_all"
        )
    );
    assert_eq!(csv.lines().count(), 5);
}

#[test]
fn results_do_not_depend_on_the_threads() {
    let p = Project::new();
    let one = p.ok(&format!("{GRID}  threads: 1\n"));
    let two = p.ok(&format!("{GRID}  threads: 2\n"));
    assert_eq!(scores(&one), scores(&two));
    assert_eq!(one["test_score"], two["test_score"]);
}

/// Above `search_ratings` training ratings the folds come from a seeded sample of whole users
/// (reported); the model to serve is still fitted on every rating.
#[test]
fn a_large_training_set_is_searched_on_a_sample_of_users() {
    let p = Project::new();
    let whole = p.ok(GRID);
    assert_eq!(whole["searched_on"]["sample"], false);
    let all_training = whole["searched_on"]["ratings"].as_u64().unwrap();
    let sampled = p.ok(&format!("{GRID}  search_ratings: 3000\n"));
    let on = &sampled["searched_on"];
    assert_eq!(on["sample"], true, "{on}");
    let (ratings, users) = (on["ratings"].as_u64().unwrap(), on["users"].as_u64().unwrap());
    assert!(ratings <= 3000 && ratings > 2500 && ratings < all_training, "{on}");
    assert!(users < whole["searched_on"]["users"].as_u64().unwrap(), "{on}");
    assert_ne!(scores(&whole), scores(&sampled), "the folds are the sample's");
    assert_eq!(sampled["serve_model"]["n_ratings"].as_u64().unwrap() as usize, p.n_ratings);
    assert_eq!(scores(&p.ok(&format!("{GRID}  search_ratings: 3000\n"))), scores(&sampled), "the same sample");

    let out = p.optimize(&format!("{GRID}  search_ratings: 5\n"));
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("optimize.search_ratings 5 leaves"), "{e}");
}

/// AdaGrad's step is searched like any parameter, as 0 or 1, and changes the fit.
#[test]
fn the_adaptive_step_is_searched() {
    let p = Project::new();
    let r = p.ok("optimize:\n  measure: rmse\n  cv: 2\n  base: {n_epochs: 3, seed: 5}\n  space:\n    adagrad: [0, 1]\n    lr_all: [0.005]\n");
    let results = r["cv_results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!((&results[0]["params"]["adagrad"], &results[1]["params"]["adagrad"]), (&0.0.into(), &1.0.into()));
    let rmse = |i: usize| results[i]["mean_test_rmse"].as_f64().unwrap();
    assert!(rmse(0).is_finite() && rmse(1).is_finite() && rmse(0) != rmse(1), "{} {}", rmse(0), rmse(1));
}

#[test]
fn a_diverging_candidate_is_reported_and_skipped() {
    let p = Project::new();
    let r = p.ok(
        "optimize:\n  measure: rmse\n  base: {n_epochs: 3}\n  space:\n    n_factors: [4]\n    lr_all: [0.005, 0.8]\n",
    );
    assert_eq!(r["failed"], 1);
    let failed = &r["cv_results"][1];
    assert_eq!(failed["status"], "failed");
    assert!(failed["reason"].as_str().unwrap().contains("diverged"), "{failed}");
    assert_eq!(r["best_index"], 0);
}

#[test]
fn a_random_search_draws_n_iter_seeded_candidates() {
    let p = Project::new();
    let params = "optimize:\n  measure: mae\n  method: random\n  n_iter: 3\n  cv: 2\n  base: {n_epochs: 2}\n  space:\n    n_factors: [3, 5]\n    lr_all: {min: 0.001, max: 0.005, log: true}\n";
    let a = p.ok(params);
    assert_eq!(a["candidates"], 3);
    for c in a["cv_results"].as_array().unwrap() {
        let lr = c["params"]["lr_all"].as_f64().unwrap();
        assert!((0.001..=0.005).contains(&lr));
    }
    assert_eq!(scores(&a), scores(&p.ok(params)));
}

#[test]
fn bad_searches_are_clear_errors() {
    let p = Project::new();
    for (params, expected) in [
        ("optimize:\n  space: {n_factor: [4]}\n", "n_factor"),
        ("optimize:\n  space: {lr_all: {min: 0.1, max: 0.2}}\n", "ranges are for the random search"),
        ("optimize:\n  cv: 1\n  space: {n_factors: [4]}\n", "folds 1"),
        (
            "optimize:\n  measure: rmse\n  base: {n_epochs: 2}\n  space: {lr_all: [5.0]}\n",
            "every rating candidate failed",
        ),
        (
            "optimize:\n  base: {n_epochs: 2}\n  space: {lr_all: [5.0]}\n",
            "every rating candidate failed (the rating model needs one); the first: training diverged",
        ),
        ("optimize:\n  space: {lr_all: [-0.1]}\n", "lr_all -0.1"),
        ("optimize:\n  space: {adagrad: [0, 2]}\n", "invalid value 2 for adagrad: expected 0 or 1"),
        ("optimize:\n  mode: surprise\n  space: {adagrad: [0, 1]}\n", "adagrad is an option of the fast training mode"),
        ("optimize:\n  measure: auc@10\n", "invalid measure \"auc@10\""),
        (
            "optimize:\n  space: {n_factors: [4]}\n  algorithms: {knn: {k: [1]}}\n",
            "cannot search \"knn\": expected one of",
        ),
        ("optimize:\n  space: {n_factors: [4]}\n  algorithms: {knn_basic: {kk: [1]}}\n", "kk"),
        (
            "optimize:\n  space: {n_factors: [4]}\n  algorithms: {knn_basic: {k: []}}\n",
            "no value to search for knn_basic.k",
        ),
        ("optimize:\n  space: {n_factors: [4]}\n  algorithms: {svd: {n_factors: [2]}}\n", "optimize.space"),
        ("optimize:\n  space: {n_factors: [4]}\n  ranking: {spaces: {ease: {alpha: [1]}}}\n", "\"alpha\" for ease"),
        (
            "optimize:\n  space: {n_factors: [4]}\n  ranking: {spaces: {ials: {factors: [0]}}}\n",
            "invalid value 0 for factors",
        ),
        (
            "optimize:\n  space: {n_factors: [4]}\n  ranking: {spaces: {auto: {}}}\n",
            "optimize.ranking.spaces.auto: auto chooses between ease and ials",
        ),
        (
            "optimize:\n  space: {n_factors: [4]}\n  ranking: {base: {ease: {lambda: -1}}, spaces: {ease: {}}}\n",
            "ease.lambda -1",
        ),
        (
            "optimize:\n  space: {n_factors: [4]}\n  ranking: {max_dislikes: 5, spaces: {ease: {}}}\n",
            "optimize.ranking.max_dislikes: 5 is not a share",
        ),
        ("optimize:\n  space: {n_factors: [4]}\n  ranking: {spaces: {rp3beta: {beta: [-1]}}}\n", "rp3beta.beta -1"),
        (
            "optimize:\n  space: {n_factors: [4]}\n  ranking: {spaces: {ease: {rerank: [5], demote_dislikes: [2]}}}\n",
            "demote_dislikes",
        ),
    ] {
        let out = p.optimize(params);
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && e.contains(expected), "{params}: {e}");
        for o in OUTPUTS {
            assert!(!p.path(o).exists(), "{o} was written by a failing run");
        }
    }
}

const KINDS: &str = "optimize:
  measure: ndcg@10
  relevance_threshold: 60
  cv: 2
  base: {n_epochs: 3, seed: 5}
  space:
    n_factors: [4, 8]
  ranking:
    base: {ials: {iterations: 3}}
    max_dislikes: null
    spaces:
      popularity: {}
      ease: {lambda: [50, 500], rerank: [0, 10]}
      ials: {factors: [4]}
";

/// With a limit on predicted dislikes, the winner is the best by NDCG among the candidates
/// whose lists hold at most that share on average over the folds; every candidate over it
/// ranks after every one within it. Each measured list has its predicted dislikes, judged
/// by the rating model fitted on the same fold; demoting them lowers that share.
#[test]
fn the_winner_keeps_predicted_dislikes_within_the_limit() {
    let p = Project::new();
    let params =
        KINDS.replace("max_dislikes: null", "max_dislikes: 0.05").replace("n_epochs: 3", "n_epochs: 20").replace(
            "ease: {lambda: [50, 500], rerank: [0, 10]}",
            "ease: {lambda: [50], rerank: [0, 20], blend: [0], demote_dislikes: [0, 1]}\n      rp3beta: {}",
        );
    let r = p.ok(&params);
    let results = r["cv_results"].as_array().unwrap();
    let ranked: Vec<&Value> = results.iter().filter(|c| !c["rank"].is_null()).collect();
    let ndcg = |c: &Value| c["mean_test_ranking"]["ndcg"].as_f64().unwrap();
    let dislikes = |c: &Value| c["mean_test_dislikes"].as_f64().unwrap_or_else(|| panic!("no dislikes: {c}"));
    let within = |c: &Value| dislikes(c) <= 0.05;
    let best = &results[r["best_ranking"]["index"].as_u64().unwrap() as usize];
    assert!(within(best), "{best}");
    assert!(ranked.iter().filter(|c| within(c)).all(|c| ndcg(c) <= ndcg(best)));
    assert!(ranked.iter().any(|c| !within(c) && ndcg(c) > ndcg(best)), "the limit changed nothing: {results:?}");
    for a in &ranked {
        for b in &ranked {
            if within(a) && !within(b) {
                assert!(a["rank"].as_u64() < b["rank"].as_u64(), "{a} ranks after {b}");
            }
        }
    }
    let demoted = ranked.iter().find(|c| c["params"]["demote_dislikes"] == 1.0).unwrap();
    let kept = ranked.iter().find(|c| c["params"]["demote_dislikes"] == 0.0 && c["params"]["rerank"] == 20.0).unwrap();
    assert!(dislikes(demoted) < dislikes(kept), "{demoted} vs {kept}");
    assert!(ranked.iter().any(|c| c["kind"] == "rp3beta"));
    let (model, _) = artifact::read(&std::fs::read(p.path(OUTPUTS[0])).unwrap()).unwrap();
    assert_eq!(model.kind().name(), best["kind"].as_str().unwrap());
}

/// Selecting by NDCG: every kind is searched on the same folds, SVD's best by rmse is the
/// rating model, the best by NDCG orders the lists of the model to serve.
#[test]
fn a_search_over_kinds_by_a_ranking_measure() {
    let p = Project::new();
    let r = p.ok(KINDS);
    let results = r["cv_results"].as_array().unwrap();
    let kinds: Vec<&str> = results.iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["relevance", "relevance", "popularity", "ease", "ease", "ease", "ease", "ials"]);
    // EASE re-ranked by predicted relevance is measured as served: a different list.
    assert_eq!(results[4]["params"]["rerank"], 10.0);
    assert_ne!(results[3]["split_test_ranking"], results[4]["split_test_ranking"]);
    // The rating model is SVD's best by rmse; its own order competes with the top-N kinds.
    let svd_best = r["best_index"].as_u64().unwrap() as usize;
    assert_eq!(results[svd_best]["kind"], "relevance");
    let rmse = |c: &Value| c["mean_test_rmse"].as_f64().unwrap_or(f64::INFINITY);
    assert!(results.iter().all(|c| rmse(c) >= rmse(&results[svd_best])));
    for (i, c) in results.iter().enumerate() {
        let measured = i == svd_best || c["kind"] != "relevance";
        assert_eq!(c["split_test_ranking"].as_array().map_or(0, Vec::len), if measured { 2 } else { 0 }, "{c}");
        assert_eq!(c["rank"].is_null(), !measured, "{c}");
        assert_eq!(c["mean_test_rmse"].is_null(), c["kind"] != "relevance");
    }
    let ndcg = |c: &Value| c["mean_test_ranking"]["ndcg"].as_f64().unwrap_or(0.0);
    let best = r["best_ranking"]["index"].as_u64().unwrap() as usize;
    assert_eq!(results[best]["rank"], 1);
    assert_eq!(results[best]["mean_test_ranking"]["k"], 10);
    assert!(results.iter().all(|c| ndcg(c) <= ndcg(&results[best])));
    assert_eq!(r["best_ranking"]["cv_score"].as_f64(), Some(ndcg(&results[best])));
    assert!(r["best_ranking"]["test_score"].as_f64().unwrap() > 0.0);
    let (model, _) = artifact::read(&std::fs::read(p.path(OUTPUTS[0])).unwrap()).unwrap();
    assert_eq!(model.kind().name(), r["best_ranking"]["kind"].as_str().unwrap());
    let rerank = results[best]["params"]["rerank"].as_f64().unwrap_or(0.0);
    assert_eq!(model.reorder.rerank as f64, rerank);
    assert_eq!(
        model.rating.as_svd().unwrap().n_factors() as f64,
        results[svd_best]["params"]["n_factors"].as_f64().unwrap()
    );
    let csv = std::fs::read_to_string(p.path(OUTPUTS[2])).unwrap();
    assert_eq!(
        csv.lines().next(),
        Some(
            "candidate,kind,algorithm,rank,mean_test_rmse,mean_test_mae,mean_test_ranking,mean_test_dislikes,mean_fit_time,factors,lambda,n_factors,rerank"
        )
    );
    // The same search on one thread gives the same scores.
    assert_eq!(scores(&r), scores(&p.ok(&format!("{KINDS}  threads: 1\n"))));
    assert!(r.get("left_out").is_none(), "{}", r["left_out"]);
}

/// Ranking candidates that cannot work on the catalogue (EASE above its item limit) are left
/// out before any fit and reported; the others are searched as usual.
#[test]
fn candidates_that_cannot_work_on_the_catalogue_are_left_out() {
    let p = Project::new();
    let r =
        p.ok(&KINDS.replace("base: {ials: {iterations: 3}}", "base: {ials: {iterations: 3}, ease: {max_items: 100}}"));
    let kinds: Vec<&str> = r["cv_results"].as_array().unwrap().iter().map(|c| c["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["relevance", "relevance", "popularity", "ials"]);
    let left_out = r["left_out"].as_array().unwrap();
    assert_eq!(left_out.len(), 4);
    assert!(
        left_out.iter().all(|c| c["kind"] == "ease" && c["reason"].as_str().unwrap().contains("ease.max_items is 100")),
        "{left_out:?}"
    );
    assert_eq!(
        (left_out[1]["params"]["lambda"].as_f64(), left_out[1]["params"]["rerank"].as_f64()),
        (Some(50.0), Some(10.0))
    );
}

/// Surprise's other algorithms are searched beside SVD with GridSearchCV's semantics, and the
/// best rating model by rmse, whichever algorithm it is, is the one served.
#[test]
fn surprises_other_algorithms_are_searched_beside_svd() {
    let p = Project::new();
    let params = "optimize:
  measure: rmse
  cv: 2
  base: {n_epochs: 2}
  space: {n_factors: [4]}
  algorithms:
    knn_baseline: {k: [10, 40], sim_options: {name: [msd, pearson_baseline], user_based: false}}
    baseline_only: {}
";
    let r = p.ok(params);
    let results = r["cv_results"].as_array().unwrap();
    let algorithms: Vec<&str> = results.iter().map(|c| c["algorithm"].as_str().unwrap()).collect();
    assert_eq!(algorithms, ["svd", "baseline_only", "knn_baseline", "knn_baseline", "knn_baseline", "knn_baseline"]);
    assert!(results.iter().all(|c| c["kind"] == "relevance" && c["split_test_rmse"].as_array().unwrap().len() == 2));
    // Parameters in name order, the last varying fastest; a nested dict's combinations are one
    // parameter's values.
    let expect =
        |k: u64, name: &str| serde_json::json!({"k": k, "sim_options.name": name, "sim_options.user_based": false});
    assert_eq!(results[2]["params"], expect(10, "msd"));
    assert_eq!(results[3]["params"], expect(10, "pearson_baseline"));
    assert_eq!(results[5]["params"], expect(40, "pearson_baseline"));
    assert_eq!(results[1]["params"], serde_json::json!({}));
    assert_ne!(results[2]["split_test_rmse"], results[3]["split_test_rmse"]);
    let best = r["best_index"].as_u64().unwrap() as usize;
    let rmse = |c: &Value| c["mean_test_rmse"].as_f64().unwrap();
    assert!(results.iter().all(|c| rmse(c) >= rmse(&results[best])));
    assert_eq!(r["best_algorithm"], results[best]["algorithm"]);
    let (model, provenance) = artifact::read(&std::fs::read(p.path(OUTPUTS[0])).unwrap()).unwrap();
    assert_eq!(model.rating.name(), results[best]["algorithm"].as_str().unwrap());
    assert_eq!(provenance.n_ratings as usize, p.n_ratings);
    let csv = std::fs::read_to_string(p.path(OUTPUTS[2])).unwrap();
    assert!(csv.lines().nth(3).unwrap().starts_with("3,relevance,knn_baseline,"), "{csv}");
    assert!(csv.lines().nth(3).unwrap().ends_with(",10,,msd,false"), "{csv}");
    // The same search on one thread gives the same scores.
    assert_eq!(scores(&r), scores(&p.ok(&format!("{params}  threads: 1\n"))));
}

impl Project {
    /// `optimize` with `extra` arguments instead of the outputs, on `params.yaml` as it is.
    fn optimize_with(&self, extra: &[&str]) -> Output {
        self.run(&[&["--test", "data/test.parquet"], extra].concat())
    }

    /// `optimize` on the training set and all ratings, with `extra` arguments.
    fn run(&self, extra: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_optimize"))
            .current_dir(self.dir.path())
            .args(["--train", "data/train.parquet", "--ratings", "data/ratings.parquet"])
            .args(extra)
            .output()
            .unwrap()
    }

    fn shard(&self, k: usize, n: usize, after: &[String]) -> String {
        let (round, k_n) = (if after.is_empty() { "rating" } else { "ranking" }, format!("{k}/{n}"));
        let file = format!("shards/{round}-{k}.json");
        let mut extra = vec!["--shard", &k_n, "--shard-file", &file];
        if !after.is_empty() {
            extra.push("--after");
            extra.extend(after.iter().map(String::as_str));
        }
        // Without the test set, which a shard does not read.
        let out = self.run(&extra);
        assert!(out.status.success(), "shard {k_n}: {}", String::from_utf8_lossy(&out.stderr));
        file
    }

    fn merge(&self, files: &[String], outputs: &[&str; 3]) -> Output {
        let mut extra = vec!["--model", outputs[0], "--report", outputs[1], "--candidates", outputs[2], "--merge"];
        extra.extend(files.iter().map(String::as_str));
        self.optimize_with(&extra)
    }
}

/// The search run in shards (as on several machines), merged: the outputs of a search in one
/// process, but for the times; and the merge refuses shards it cannot trust, writing nothing.
#[test]
fn a_search_in_shards_merges_into_the_outputs_of_one_process() {
    let p = Project::new();
    p.ok(&format!("{KINDS}  algorithms: {{baseline_only: {{}}}}\n"));
    let n = 3;
    // Out of order, one shard run twice (a retry), the rating round's shards given in any order.
    let rating: Vec<String> = [3, 1, 2, 1].iter().map(|&k| p.shard(k, n, &[])).collect();
    let mut shuffled = rating.clone();
    shuffled.reverse();
    let ranking: Vec<String> = [2, 3, 1].iter().map(|&k| p.shard(k, n, &shuffled)).collect();
    let merged = ["merged/serve.bin", "merged/optimize.json", "merged/candidates.csv"];
    let all: Vec<String> = rating.iter().chain(&ranking).cloned().collect();
    let out = p.merge(&all, &merged);
    assert!(out.status.success(), "merge: {}", String::from_utf8_lossy(&out.stderr));
    let one = p.path("one");
    std::fs::create_dir_all(&one).unwrap();
    for (from, to) in OUTPUTS.iter().zip(merged) {
        std::fs::copy(p.path(from), one.join(to.trim_start_matches("merged/"))).unwrap();
    }
    let same = Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/same_outputs.py"))
        .args([one.as_path(), &p.path("merged")])
        .args(["serve.bin", "optimize.json", "candidates.csv"])
        .output()
        .unwrap();
    assert!(
        same.status.success(),
        "{}{}",
        String::from_utf8_lossy(&same.stdout),
        String::from_utf8_lossy(&same.stderr)
    );

    // A missing shard, another plan's shard, a malformed K/N: clear errors, nothing written.
    let refused = |out: Output, expected: &str| {
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && e.contains(expected), "expected {expected:?}: {e}");
    };
    let outputs = ["refused/serve.bin", "refused/optimize.json", "refused/candidates.csv"];
    refused(p.merge(&all[1..], &outputs), "shard 3/3 of the rating round is missing");
    refused(p.merge(&all[..4], &outputs), "no shard of the ranking round");
    std::fs::write(p.path("params.yaml"), format!("{KINDS}  seed: 9\n  algorithms: {{baseline_only: {{}}}}\n"))
        .unwrap();
    refused(p.merge(&all, &outputs), "shards/rating-3.json: a shard of another search (plan ");
    for o in outputs {
        assert!(!p.path(o).exists(), "{o} was written by a refused merge");
    }
    for (bad, expected) in [("3/2", "K is 3, outside 1 to 2"), ("x", "invalid shard \"x\": no '/'")] {
        refused(p.optimize_with(&["--shard", bad, "--shard-file", "shards/bad.json"]), expected);
    }
    refused(p.optimize_with(&["--shard", "1/2"]), "--shard-file");
    assert!(!p.path("shards/bad.json").exists());
    // Only a shard goes without the test set.
    let [model, report, candidates] = outputs;
    refused(p.run(&["--model", model, "--report", report, "--candidates", candidates]), "--test");
}

/// A shard file without its times.
fn untimed(path: PathBuf) -> Value {
    fn strip(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("seconds");
                m.values_mut().for_each(strip);
            }
            Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    strip(&mut v);
    v
}

/// The search set, written once, is all a shard reads: a sample of the training set's users
/// (and the plan's identity), with which every shard writes what it writes from the training
/// set; one written with other params, or a file that is not one, is refused.
#[test]
fn shards_read_the_search_set_alone() {
    let p = Project::new();
    std::fs::write(p.path("params.yaml"), format!("{KINDS}  search_ratings: 3000\n")).unwrap();
    let set = "shards/search-set.parquet";
    let out = p.run(&["--write-search-set", set]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let train_size = std::fs::metadata(p.path("data/train.parquet")).unwrap().len();
    assert!(std::fs::metadata(p.path(set)).unwrap().len() < train_size, "a sample is smaller than the training set");
    let from = |set: &str, k_n: &str, file: &str, after: &[String]| {
        let mut args = vec!["--search-set", set, "--shard", k_n, "--shard-file", file];
        if !after.is_empty() {
            args.push("--after");
            args.extend(after.iter().map(String::as_str));
        }
        Command::new(env!("CARGO_BIN_EXE_optimize")).current_dir(p.path("")).args(args).output().unwrap()
    };
    let from_set = |k_n: &str, file: &str, after: &[String]| from(set, k_n, file, after);
    let n = 2;
    let rating: Vec<String> = (1..=n).map(|k| p.shard(k, n, &[])).collect();
    for k in 1..=n {
        let file = format!("shards/set-rating-{k}.json");
        let out = from_set(&format!("{k}/{n}"), &file, &[]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(untimed(p.path(&file)), untimed(p.path(&rating[k - 1])), "rating shard {k}");
    }
    let ranking = p.shard(2, n, &rating);
    let out = from_set(&format!("2/{n}"), "shards/set-ranking-2.json", &rating);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(untimed(p.path("shards/set-ranking-2.json")), untimed(p.path(&ranking)), "ranking shard 2");

    let refused = |out: Output, expected: &str| {
        let e = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && e.contains(expected), "expected {expected:?}: {e}");
    };
    // Other params (another seed draws another sample): the shard says so, and writes nothing.
    std::fs::write(p.path("params.yaml"), format!("{KINDS}  search_ratings: 3000\n  seed: 9\n")).unwrap();
    let other = from_set("1/2", "shards/other.json", &[]);
    refused(other.clone(), "search-set.parquet: the search set was written for the plan ");
    refused(other, "it was written with other params (or another version of movierec)");
    refused(from("data/train.parquet", "1/2", "shards/other.json", &[]), "data/train.parquet is not a search set");
    assert!(!p.path("shards/other.json").exists());
    // A search set is read by a shard alone.
    refused(p.run(&["--search-set", set, "--shard", "1/2", "--shard-file", "shards/other.json"]), "--train");
}
