//! A served project in a temporary folder: small generated tables and a model fitted on
//! them, written as the pipeline writes them.

#![allow(dead_code)] // each test binary uses part of it

use std::path::PathBuf;

use movierec_core::artifact::{self, Provenance};
use movierec_core::svd::{SvdModel, SvdParams};
use movierec_core::synthetic::{SyntheticConfig, generate};
use movierec_core::trainset::Trainset;
use movierec_core::{Dataset, RatingList, RatingScale};
use movierec_serve::Paths;

/// A token long enough to be accepted.
pub const TOKEN: &str = "test-token-0123456789";

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub data: Dataset,
    pub model: SvdModel,
}

impl Fixture {
    /// Tables of about 270 users and 385 movies, and a model fitted on all their ratings.
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let data = generate(&SyntheticConfig { seed: 9, scale: 0.02 }, RatingScale::SEED).unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let create = |name: &str| std::fs::File::create(dir.path().join(format!("data/{name}.parquet"))).unwrap();
        movierec_tables::write_ratings(&data, create("ratings")).unwrap();
        movierec_tables::write_users(&data, create("users")).unwrap();
        movierec_tables::write_movies(&data, create("movies")).unwrap();
        let model = write_model(&data.ratings, &dir.path().join("serve.bin"));
        std::fs::write(
            dir.path().join("optimize.json"),
            r#"{"test_score": {"rmse": 12.5, "mae": 10.0}, "cv_results": [1, 2]}"#,
        )
        .unwrap();
        Fixture { dir, data, model }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn paths(&self) -> Paths {
        Paths {
            model: self.path("serve.bin"),
            ratings: self.path("data/ratings.parquet"),
            users: self.path("data/users.parquet"),
            movies: self.path("data/movies.parquet"),
            metrics: Some(self.path("optimize.json")),
        }
    }
}

/// Fits a small model on `ratings` and writes it to `path`.
pub fn write_model(ratings: &RatingList, path: &std::path::Path) -> SvdModel {
    let t = Trainset::new(ratings);
    let svd = SvdParams { n_factors: 10, n_epochs: 5, ..SvdParams::default() }.check().unwrap();
    let model = svd.fit_fast(&t, 1, |_| {}).unwrap();
    let p = Provenance {
        data_fingerprint: artifact::fingerprint(ratings),
        n_ratings: ratings.len() as u64,
        created_at: artifact::rfc3339(1_764_115_200),
        training_seconds: 0.1,
        threads: 1,
    };
    let mut bytes = Vec::new();
    artifact::write(&model, &p, &mut bytes).unwrap();
    std::fs::write(path, bytes).unwrap();
    model
}
