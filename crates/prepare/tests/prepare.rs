//! The `prepare` binary, run in a temporary folder on a small generated ratings table.

use std::path::PathBuf;
use std::process::{Command, Output};

use movierec_core::RatingScale;
use movierec_core::data::split::train_test_split;
use movierec_core::data::synthetic::{SyntheticConfig, generate};
use serde_json::Value;

const OUTPUTS: [&str; 3] = ["data/prepared/train.parquet", "data/prepared/test.parquet", "metrics/prepare.json"];

struct Project {
    dir: tempfile::TempDir,
}

impl Project {
    /// A folder holding `data/loaded/ratings.parquet` of a small synthetic set.
    fn new() -> Project {
        let dir = tempfile::tempdir().unwrap();
        let data = generate(&SyntheticConfig { seed: 2, scale: 0.02, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        std::fs::create_dir_all(dir.path().join("data/loaded")).unwrap();
        let f = std::fs::File::create(dir.path().join("data/loaded/ratings.parquet")).unwrap();
        movierec_tables::write_ratings(&data, f).unwrap();
        Project { dir }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn prepare(&self, params: &str) -> Output {
        std::fs::write(self.path("params.yaml"), params).unwrap();
        Command::new(env!("CARGO_BIN_EXE_prepare"))
            .current_dir(self.dir.path())
            .args([
                "--ratings",
                "data/loaded/ratings.parquet",
                "--train",
                OUTPUTS[0],
                "--test",
                OUTPUTS[1],
                "--report",
                OUTPUTS[2],
            ])
            .output()
            .unwrap()
    }

    fn ok(&self, params: &str) -> Value {
        let out = self.prepare(params);
        assert!(out.status.success(), "prepare failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&std::fs::read(self.path(OUTPUTS[2])).unwrap()).unwrap()
    }

    /// Runs `prepare`, expects it to fail and to leave every output as it was (absent or
    /// unchanged), and returns stderr.
    fn fails(&self, params: &str) -> String {
        let snapshot = || OUTPUTS.map(|o| std::fs::read(self.path(o)).ok());
        let before = snapshot();
        let out = self.prepare(params);
        assert!(!out.status.success(), "prepare succeeded on bad input");
        assert!(before == snapshot(), "a failing run created or changed an output");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn read(&self, rel: &str) -> movierec_core::RatingList {
        movierec_tables::read_ratings(&self.path(rel)).unwrap()
    }
}

fn ids(list: &movierec_core::RatingList) -> Vec<(String, String, f64)> {
    (0..list.len())
        .map(|r| {
            (
                list.users().raw(list.user()[r].0).to_owned(),
                list.movies().raw(list.movie()[r].0).to_owned(),
                list.score()[r],
            )
        })
        .collect()
}

#[test]
fn random_split_writes_surprises_rows_in_order() {
    let p = Project::new();
    let r = p.ok("prepare: {split: random, test_size: 0.2, seed: 3}\n");
    let loaded = p.read("data/loaded/ratings.parquet");
    let expected = train_test_split(loaded.len(), 0.2, 3).unwrap();
    let all = ids(&loaded);
    let test = ids(&p.read(OUTPUTS[1]));
    let train = ids(&p.read(OUTPUTS[0]));
    assert!(test == expected.test.iter().map(|&i| all[i as usize].clone()).collect::<Vec<_>>());
    assert!(train == expected.train.iter().map(|&i| all[i as usize].clone()).collect::<Vec<_>>());
    assert_eq!(r["test"]["ratings"].as_u64(), Some((0.2 * loaded.len() as f64).ceil() as u64));
    assert_eq!(r["train"]["ratings"].as_u64().unwrap() + r["test"]["ratings"].as_u64().unwrap(), loaded.len() as u64);
    assert_eq!(p.read(OUTPUTS[1]).scale(), RatingScale::SEED, "the scale travels with the sets");
}

#[test]
fn same_seed_same_sets_other_seed_other_sets() {
    let p = Project::new();
    p.ok("prepare: {seed: 1}\n");
    let a = std::fs::read(p.path(OUTPUTS[1])).unwrap();
    p.ok("prepare: {seed: 1}\n");
    assert_eq!(a, std::fs::read(p.path(OUTPUTS[1])).unwrap());
    p.ok("prepare: {seed: 2}\n");
    assert_ne!(a, std::fs::read(p.path(OUTPUTS[1])).unwrap());
}

#[test]
fn per_user_split_keeps_every_user_in_training() {
    let p = Project::new();
    let r = p.ok("prepare: {split: per_user, test_size: 0.25}\n");
    assert_eq!(r["users_only_in_test"], 0);
    let loaded = p.read("data/loaded/ratings.parquet");
    assert_eq!(r["train"]["users"].as_u64(), Some(loaded.users().len() as u64));
    let share = r["test"]["ratings"].as_f64().unwrap() / loaded.len() as f64;
    assert!((share - 0.25).abs() < 0.03, "test share {share}");
}

#[test]
fn filters_drop_sparse_users_and_movies() {
    let p = Project::new();
    let r = p.ok("prepare: {min_user_ratings: 30, min_movie_ratings: 10}\n");
    let removed = r["ratings_removed_by_filters"].as_u64().unwrap();
    assert!(removed > 0);
    let kept = r["train"]["ratings"].as_u64().unwrap() + r["test"]["ratings"].as_u64().unwrap();
    assert_eq!(kept + removed, r["ratings_loaded"].as_u64().unwrap());
    let e = p.fails("prepare: {min_user_ratings: 100000}\n");
    assert!(e.contains("no rating is left") && e.contains("min_user_ratings = 100000"), "{e}");
}

#[test]
fn bad_parameters_and_inputs_are_clear_errors() {
    let p = Project::new();
    let e = p.fails("prepare: {test_size: 1.5}\n");
    assert!(e.contains("test_size 1.5"), "{e}");
    let e = p.fails("prepare: {split: by_time}\n");
    assert!(e.contains("by_time"), "{e}");
    std::fs::write(p.path("data/loaded/ratings.parquet"), "not parquet").unwrap();
    let e = p.fails("prepare: {}\n");
    assert!(e.contains("data/loaded/ratings.parquet") && e.contains("not a readable Parquet file"), "{e}");
    std::fs::remove_file(p.path("data/loaded/ratings.parquet")).unwrap();
    let e = p.fails("prepare: {}\n");
    assert!(e.contains("failed to open data/loaded/ratings.parquet"), "{e}");
}
