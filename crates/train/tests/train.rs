//! The `train` binary, run in a temporary folder on a small generated training set.

use std::path::PathBuf;
use std::process::{Command, Output};

use movierec_core::RatingScale;
use movierec_core::data::synthetic::{SyntheticConfig, generate};
use movierec_core::models::artifact;
use movierec_core::models::rating::svd::{Factors, SvdModel, TrainMode};
use movierec_core::models::{Kind, Ranking, Recommender};
use serde_json::Value;

const OUTPUTS: [&str; 3] = ["models/model.bin", "metrics/train.json", "metrics/train_loss.csv"];

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let data = generate(&SyntheticConfig { seed: 2, scale: 0.02, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let f = std::fs::File::create(dir.path().join("data/train.parquet")).unwrap();
        movierec_tables::write_ratings(&data, f).unwrap();
        Project { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn train(&self, params: &str) -> Output {
        self.train_env(params, &[])
    }

    fn train_env(&self, params: &str, env: &[(&str, &str)]) -> Output {
        std::fs::write(self.path("params.yaml"), params).unwrap();
        Command::new(env!("CARGO_BIN_EXE_train"))
            .current_dir(self.dir.path())
            .envs(env.iter().copied())
            .args([
                "--train",
                "data/train.parquet",
                "--model",
                OUTPUTS[0],
                "--report",
                OUTPUTS[1],
                "--loss",
                OUTPUTS[2],
            ])
            .output()
            .unwrap()
    }

    fn ok(&self, params: &str) -> (SvdModel, Value) {
        let (model, report) = self.ok_recommender(params);
        (model.rating.as_svd().cloned().expect("an SVD"), report)
    }

    fn ok_recommender(&self, params: &str) -> (Recommender, Value) {
        self.ok_env(params, &[])
    }

    fn ok_env(&self, params: &str, env: &[(&str, &str)]) -> (Recommender, Value) {
        let out = self.train_env(params, env);
        assert!(out.status.success(), "train failed: {}", String::from_utf8_lossy(&out.stderr));
        let (model, _) = artifact::read(&std::fs::read(self.path(OUTPUTS[0])).unwrap()).unwrap();
        let report = serde_json::from_slice(&std::fs::read(self.path(OUTPUTS[1])).unwrap()).unwrap();
        (model, report)
    }

    fn fails(&self, params: &str) -> String {
        let out = self.train(params);
        assert!(!out.status.success(), "train succeeded on bad input");
        for o in OUTPUTS {
            assert!(!self.path(o).exists(), "{o} was written by a failing run");
        }
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Runs with `env`, which must fail, and leaves the outputs of the run before as they were.
    fn fails_env(&self, params: &str, env: &[(&str, &str)]) -> String {
        let before: Vec<Option<Vec<u8>>> = OUTPUTS.iter().map(|o| std::fs::read(self.path(o)).ok()).collect();
        let out = self.train_env(params, env);
        assert!(!out.status.success(), "train succeeded with {env:?}");
        let after: Vec<Option<Vec<u8>>> = OUTPUTS.iter().map(|o| std::fs::read(self.path(o)).ok()).collect();
        assert!(before == after, "a failing run changed the outputs");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

#[test]
fn fast_mode_writes_the_model_the_report_and_the_loss() {
    let p = Project::new();
    let (model, r) = p.ok("train: {svd: {n_factors: 8, n_epochs: 5}}\n");
    assert_eq!(model.mode, TrainMode::Fast);
    assert!(matches!(model.factors, Factors::F32 { .. }));
    assert_eq!(r["n_ratings"], 8152);
    assert_eq!(r["n_users"].as_u64(), Some(model.users.len() as u64));
    assert_eq!(r["n_movies"], 385);
    assert!(r["training_time"].as_f64().unwrap() > 0.0);
    let loss = std::fs::read_to_string(p.path(OUTPUTS[2])).unwrap();
    let lines: Vec<&str> = loss.lines().collect();
    assert_eq!(lines.len(), 6);
    assert_eq!(lines[0], "epoch,train_rmse");
    let first: f64 = lines[1].split(',').nth(1).unwrap().parse().unwrap();
    let last: f64 = lines[5].split(',').nth(1).unwrap().parse().unwrap();
    assert!(last < first, "the training loss did not decrease: {loss}");
}

#[test]
fn the_model_does_not_depend_on_the_threads() {
    let p = Project::new();
    let (one, _) = p.ok("train: {threads: 1, svd: {n_factors: 8, n_epochs: 3}}\n");
    let (two, r) = p.ok("train: {threads: 2, svd: {n_factors: 8, n_epochs: 3}}\n");
    assert_eq!(r["threads"], 2);
    assert!(one == two, "the model changed with the number of threads");
}

/// `MOVIEREC_SIMD` forces the instruction sets other CPUs run (`avx512`, `avx2`, `baseline`):
/// in the portable arithmetic (the default) every one fits the same model, bit for bit; in the
/// native one, the same up to rounding, with other bits where the CPU fuses multiply-adds. A
/// value this CPU cannot run is refused before anything is fitted.
#[test]
fn every_instruction_set_fits_the_portable_model() {
    let p = Project::new();
    let available = movierec_core::models::base::simd::Isa::available();
    for simd in ["portable", "native"] {
        let params = format!("train: {{svd: {{n_factors: 20, n_epochs: 3, simd: {simd}}}}}\n");
        let (best, rb) = p.ok_env(&params, &[]);
        let chosen = rb["instructions"].as_str().unwrap();
        assert!(["avx512", "avx2+fma", "best", "baseline"].contains(&chosen), "{chosen}");
        assert_eq!(rb["params"]["simd"], simd);
        let rmse = |r: &serde_json::Value| r["final_train_rmse"].as_f64().unwrap();
        for (forced, names) in [
            ("avx512", &["avx512"][..]),
            ("avx2", &["avx2+fma", "best", "baseline"][..]),
            ("baseline", &["baseline"][..]),
        ] {
            if !available.contains(&forced) {
                continue;
            }
            let (other, r) = p.ok_env(&params, &[("MOVIEREC_SIMD", forced)]);
            let ran = r["instructions"].as_str().unwrap();
            assert!(names.contains(&ran), "{forced}: {ran}");
            if simd == "portable" {
                assert!(best.rating.as_svd() == other.rating.as_svd(), "{forced}: not the portable model");
                assert_eq!(rmse(&rb).to_bits(), rmse(&r).to_bits(), "{forced}");
            } else {
                assert!((rmse(&rb) - rmse(&r)).abs() < 1e-4 * rmse(&r), "{forced}: {} against {}", rmse(&r), rmse(&rb));
                if ran != chosen && ["avx512", "avx2+fma"].contains(&chosen) {
                    assert!(best.rating.as_svd() != other.rating.as_svd(), "{forced} gave the fused path's bits");
                }
            }
        }
    }
    let e = p.fails_env("train: {svd: {n_factors: 4, n_epochs: 1}}\n", &[("MOVIEREC_SIMD", "sse9")]);
    assert!(e.contains("MOVIEREC_SIMD=\"sse9\" is not an instruction set") && e.contains("expected avx512"), "{e}");
}

#[test]
fn surprise_mode_trains_in_double_precision() {
    let p = Project::new();
    let (model, r) = p.ok("train: {mode: surprise, svd: {n_factors: 4, n_epochs: 2, biased: false}}\n");
    assert_eq!((model.mode, r["threads"].as_u64()), (TrainMode::Surprise, Some(1)));
    assert!(matches!(model.factors, Factors::F64 { .. }));
    assert!(!model.svd.biased);
}

/// Every kind is fitted beside SVD, written with its kind, and the same for any number of
/// threads; the report says what orders the lists.
#[test]
fn every_ranking_kind_is_fitted_and_written() {
    let p = Project::new();
    for kind in Kind::ALL {
        let params = |threads: usize| {
            format!(
                "train: {{threads: {threads}, svd: {{n_factors: 4, n_epochs: 2}}, ranking: {{kind: {kind}, ials: {{factors: 4, iterations: 2}}}}}}\n"
            )
        };
        let (model, r) = p.ok_recommender(&params(1));
        assert_eq!(model.kind(), kind);
        assert_eq!(r["ranking"]["kind"], kind.name());
        assert!(r["ranking"]["training_time"].as_f64().unwrap() >= 0.0);
        assert_eq!(model.ranking.top_n().is_some(), kind != Kind::Relevance);
        let (two, _) = p.ok_recommender(&params(2));
        assert!(two == model, "{kind}: the model changed with the number of threads");
    }
    let (model, r) = p.ok_recommender("train: {svd: {n_factors: 4, n_epochs: 2}, ranking: {kind: ease, rerank: 30}}\n");
    assert_eq!((model.kind(), model.reorder.rerank), (Kind::Ease, 30));
    assert_eq!(r["ranking"]["params"]["lambda"], 500.0);
    assert!(model.reorder.blend.is_none() && r["ranking"].get("blend").is_none());
    // A blend and EASE's liking go into the model file and the report.
    let (model, r) = p.ok_recommender(
        "train: {svd: {n_factors: 4, n_epochs: 2}, ranking: {kind: ease, rerank: 30, blend: 0.5, ease: {liking: 1}}}\n",
    );
    assert_eq!((model.reorder.rerank, model.reorder.blend), (30, Some(0.5)));
    assert!(matches!(&model.ranking, Ranking::Ease(e) if e.liking == 1.0));
    assert_eq!((r["ranking"]["blend"].as_f64(), r["ranking"]["params"]["liking"].as_f64()), (Some(0.5), Some(1.0)));
    // So do the demotion of predicted dislikes, EDLAE's dropout, implicit ALS's preference and
    // RP3beta's parameters.
    let (model, r) = p.ok_recommender(
        "train: {svd: {n_factors: 4, n_epochs: 2}, ranking: {kind: ease, rerank: 30, blend: 0, demote_dislikes: true, ease: {dropout: 0.25}}}\n",
    );
    assert!(model.reorder.demote_dislikes && r["ranking"]["demote_dislikes"] == true);
    assert_eq!(r["ranking"]["params"]["dropout"].as_f64(), Some(0.25));
    let (model, r) = p.ok_recommender(
        "train: {svd: {n_factors: 4, n_epochs: 2}, ranking: {kind: ials, ials: {factors: 4, iterations: 2, preference: 1.5}}}\n",
    );
    assert!(matches!(&model.ranking, Ranking::Ials(m) if m.params.preference == 1.5));
    assert_eq!(r["ranking"]["params"]["preference"].as_f64(), Some(1.5));
    let (model, r) = p.ok_recommender(
        "train: {svd: {n_factors: 4, n_epochs: 2}, ranking: {kind: rp3beta, rp3beta: {alpha: 0.6, beta: 0.3}}}\n",
    );
    assert!(matches!(&model.ranking, Ranking::Rp3beta(m) if (m.params.alpha, m.params.beta) == (0.6, 0.3)));
    assert_eq!(r["ranking"]["params"]["beta"].as_f64(), Some(0.3));
    // An ensemble holds its members, each fitted with its own parameters, and its weight; the
    // report gives the members' parameters under their kind's name.
    let (model, r) = p.ok_recommender(
        "train: {svd: {n_factors: 4, n_epochs: 2}, ranking: {kind: ensemble, ensemble: {members: [rp3beta, ials], weight: 0.5}, rp3beta: {beta: 0.3}, ials: {factors: 4, iterations: 2}}}\n",
    );
    let Ranking::Ensemble(e) = &model.ranking else { panic!("an ensemble: {:?}", model.kind()) };
    assert_eq!(e.weight, 0.5);
    assert!(matches!(&e.members[0], Ranking::Rp3beta(m) if m.params.beta == 0.3));
    assert!(matches!(&e.members[1], Ranking::Ials(m) if m.params.factors == 4));
    assert_eq!(r["ranking"]["params"]["members"], serde_json::json!(["rp3beta", "ials"]));
    assert_eq!(
        (r["ranking"]["params"]["weight"].as_f64(), r["ranking"]["params"]["rp3beta"]["beta"].as_f64()),
        (Some(0.5), Some(0.3))
    );
    // auto, the default: EASE up to ease.max_items movies (385 here), implicit ALS above; the
    // model holds the kind chosen, the report says it was auto's choice.
    for (max_items, chosen) in [(385, Kind::Ease), (384, Kind::Ials)] {
        let params = format!(
            "train: {{svd: {{n_factors: 4, n_epochs: 2}}, ranking: {{ease: {{max_items: {max_items}}}, ials: {{factors: 4, iterations: 2}}}}}}\n"
        );
        let (model, r) = p.ok_recommender(&params);
        assert_eq!(model.kind(), chosen, "max_items {max_items}");
        assert_eq!(
            (r["ranking"]["kind"].as_str(), r["ranking"]["requested"].as_str()),
            (Some(chosen.name()), Some("auto"))
        );
    }
}

#[test]
fn divergence_and_bad_parameters_are_clear_errors() {
    let p = Project::new();
    let e = p.fails("train: {svd: {n_factors: 8, lr_all: 0.5}}\n");
    assert!(e.contains("diverged at epoch") && e.contains("lr_bu 0.5") && e.contains("lower lr_all"), "{e}");
    let e = p.fails("train: {svd: {n_factors: 0}}\n");
    assert!(e.contains("n_factors 0"), "{e}");
    let e = p.fails("train: {svd: {lr_al: 0.1}}\n");
    assert!(e.contains("lr_al"), "{e}");
    let e = p.fails("train: {mode: surprise, svd: {adagrad: true}}\n");
    assert!(e.contains("adagrad is an option of the fast training mode") && e.contains("set mode: fast"), "{e}");
    let e = p.fails("train: {svd: {n_epochs: 1}, ranking: {kind: ease, ease: {lambda: -5}}}\n");
    assert!(e.contains("train.ranking") && e.contains("ease.lambda -5"), "{e}");
    // Refused before any fitting: the SVD was not trained first.
    let e = p.fails("train: {svd: {n_epochs: 1}, ranking: {kind: ease, ease: {max_items: 100}}}\n");
    assert!(e.contains("385 × 385") && e.contains("use the ials kind"), "{e}");
    assert!(!e.contains("trained in"), "refused after the rating model's fit:\n{e}");
    let e = p.fails("train: {svd: {n_epochs: 1}, ranking: {kind: ease, blend: 1}}\n");
    assert!(e.contains("train.ranking") && e.contains("blend") && e.contains("rerank above 0"), "{e}");
    let e = p.fails("train: {svd: {n_epochs: 1}, ranking: {kind: ease, ease: {liking: -1}}}\n");
    assert!(e.contains("ease.liking -1"), "{e}");
    let e = p.fails("train: {svd: {n_epochs: 1}, ranking: {kind: ials, ials: {factors: 0}}}\n");
    assert!(e.contains("ials.factors 0"), "{e}");
    for (ranking, expected) in [
        ("{kind: ease, demote_dislikes: true}", "demote_dislikes true"),
        ("{kind: ease, ease: {dropout: 1}}", "ease.dropout 1"),
        ("{kind: ials, ials: {preference: -2}}", "ials.preference -2"),
        ("{kind: rp3beta, rp3beta: {alpha: 0}}", "rp3beta.alpha 0"),
        ("{kind: rp3beta, rp3beta: {max_items: 100}}", "rp3beta needs a 385 × 385 matrix"),
        ("{kind: ensemble, ensemble: {members: [ease, ease]}}", "ensemble.members [ease, ease]"),
        ("{kind: ensemble, ensemble: {members: [ease, auto]}}", "ensemble.members auto"),
        ("{kind: ensemble, ensemble: {weight: -1}}", "ensemble.weight -1"),
        ("{kind: ensemble, ease: {lambda: 0}}", "ease.lambda 0"),
        ("{kind: ensemble, ease: {max_items: 100}}", "ease needs a 385 × 385 matrix"),
    ] {
        let e = p.fails(&format!("train: {{svd: {{n_epochs: 1}}, ranking: {ranking}}}\n"));
        assert!(e.contains("train.ranking") && e.contains(expected), "{ranking}: {e}");
        assert!(!e.contains("trained in"), "{ranking}: refused after the rating model's fit:\n{e}");
    }
    let e = p.fails("train: {ranking: {kind: knn}}\n");
    assert!(e.contains("knn") && e.contains("ease"), "{e}");
    std::fs::remove_file(p.path("data/train.parquet")).unwrap();
    let e = p.fails("train: {}\n");
    assert!(e.contains("data/train.parquet"), "{e}");
}

/// Each of Surprise's other algorithms is trained by `train.algorithm`, with its parameters
/// under `train.algorithms`, and the model file holds what fitting it in-process gives.
#[test]
fn surprises_other_algorithms_are_trained_and_written() {
    use movierec_core::data::trainset::Trainset;
    use movierec_core::models::rating::Algorithm;
    use movierec_core::models::rating::model::RatingModel;
    let p = Project::new();
    let list = movierec_tables::read_ratings(&p.path("data/train.parquet")).unwrap();
    let t = Trainset::new(&list);
    for (name, params, spec) in [
        (
            "knn_baseline",
            "{k: 20, sim_options: {name: pearson_baseline, user_based: false}}",
            serde_json::json!({"algorithm": "knn_baseline", "k": 20, "sim_options": {"name": "pearson_baseline", "user_based": false}}),
        ),
        (
            "svdpp",
            "{n_factors: 5, n_epochs: 3}",
            serde_json::json!({"algorithm": "svdpp", "n_factors": 5, "n_epochs": 3}),
        ),
        ("slope_one", "{}", serde_json::json!({"algorithm": "slope_one"})),
        ("co_clustering", "null", serde_json::json!({"algorithm": "co_clustering"})),
    ] {
        let yaml =
            format!("train:\n  algorithm: {name}\n  algorithms: {{{name}: {params}}}\n  ranking: {{kind: svd}}\n");
        let (model, r) = p.ok_recommender(&yaml);
        assert_eq!(model.rating.name(), name);
        assert_eq!(r["algorithm"], name);
        assert!(r["final_train_rmse"].is_null() && r["rating_updates_per_second"].is_null(), "{r}");
        let expected = RatingModel::fit(&serde_json::from_value::<Algorithm>(spec).unwrap(), &t, 1).unwrap();
        assert!(model.rating == expected, "{name}");
        assert_eq!(r["params"], expected.params(), "{name}");
        let loss = std::fs::read_to_string(p.path(OUTPUTS[2])).unwrap();
        assert_eq!(loss, "epoch,train_rmse\n");
    }
    // The default: SVD, whatever other algorithms' sections say.
    let (model, r) =
        p.ok_recommender("train:\n  svd: {n_factors: 4, n_epochs: 2}\n  algorithms: {nmf: {n_factors: 3}}\n");
    assert_eq!((model.rating.name(), r["algorithm"].as_str()), ("svd", Some("svd")));
    let p = Project::new();
    let e = p.fails("train: {algorithm: knn}\n");
    assert!(e.contains("invalid train.algorithm") && e.contains("knn_baseline"), "{e}");
    let e = p.fails("train: {algorithm: knn_basic, algorithms: {knn_basic: {kk: 3}}}\n");
    assert!(e.contains("knn_basic") && e.contains("kk"), "{e}");
    let e = p.fails("train: {algorithm: knn_basic, algorithms: {knn_basic: {k: 0}}}\n");
    assert!(e.contains("invalid k 0"), "{e}");
    let e = p.fails(
        "train: {algorithm: knn_basic, algorithms: {knn_basic: {sim_options: {user_based: true}, max_size: 10}}}\n",
    );
    assert!(e.contains("max_size") && e.contains("users"), "{e}");
}
