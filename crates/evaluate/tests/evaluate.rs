//! The `evaluate` binary, run in a temporary folder on a small generated split and a model
//! trained on it.

use std::path::PathBuf;
use std::process::{Command, Output};

use movierec_core::RatingScale;
use movierec_core::artifact::{self, Provenance};
use movierec_core::split::train_test_split;
use movierec_core::svd::SvdParams;
use movierec_core::synthetic::{SyntheticConfig, generate};
use movierec_core::trainset::Trainset;
use serde_json::Value;

const OUTPUTS: [&str; 3] = ["metrics/evaluate.json", "metrics/errors.csv", "metrics/pr.csv"];

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// A split of a small synthetic set and an SVD model fitted on its training part.
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let data = generate(&SyntheticConfig { seed: 3, scale: 0.02 }, RatingScale::SEED).unwrap();
        let split = train_test_split(data.ratings.len(), 0.2, 1).unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        for (name, rows) in [("train", &split.train), ("test", &split.test)] {
            let f = std::fs::File::create(dir.path().join(format!("data/{name}.parquet"))).unwrap();
            movierec_tables::write_rating_rows(&data.ratings, rows, f).unwrap();
        }
        let train = movierec_tables::read_ratings(&dir.path().join("data/train.parquet")).unwrap();
        let t = Trainset::new(&train);
        let svd = SvdParams { n_factors: 10, n_epochs: 10, ..SvdParams::default() }.check().unwrap();
        let model = svd.fit_fast(&t, 1, |_| {}).unwrap();
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
            .args(["--report", OUTPUTS[0], "--errors", OUTPUTS[1], "--ranking", OUTPUTS[2]])
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
    for key in ["precision", "recall", "ndcg", "map", "hit_rate", "coverage"] {
        let v = ranking[key].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&v), "{key} = {v}");
    }
    assert!(ranking["users"].as_u64().unwrap() > 0);
    assert_eq!(r["test"]["ratings"], 1631);
    let curve = std::fs::read_to_string(p.path(OUTPUTS[2])).unwrap();
    assert_eq!(curve.lines().next(), Some("k,precision,recall"));
    assert_eq!(curve.lines().count(), 21);
    let errors = std::fs::read_to_string(p.path(OUTPUTS[1])).unwrap();
    let total: u64 = errors.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse::<u64>().unwrap()).sum();
    assert_eq!(total, 1631);
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
}
