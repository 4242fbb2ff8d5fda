//! A served project in a temporary folder: small generated tables and a model fitted on
//! them, written as the pipeline writes them.

#![allow(dead_code)] // each test binary uses part of it

use std::path::PathBuf;

use movierec_core::data::synthetic::{SyntheticConfig, generate};
use movierec_core::data::trainset::Trainset;
use movierec_core::models::artifact::{self, Provenance};
use movierec_core::models::ranking::Reorder;
use movierec_core::models::rating::svd::SvdParams;
use movierec_core::models::{Kind, RankingParams, Recommender};
use movierec_core::{Dataset, RatingList, RatingScale};
use movierec_serve::Paths;

/// A token long enough to be accepted.
pub const TOKEN: &str = "test-token-0123456789";

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub data: Dataset,
    pub model: Recommender,
}

impl Fixture {
    /// Tables of about 270 users and 385 movies, and a model fitted on all their ratings.
    pub fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let data = generate(&SyntheticConfig { seed: 9, scale: 0.02, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
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

/// Fits a small model on `ratings`, ordered by predicted relevance, and writes it to `path`.
pub fn write_model(ratings: &RatingList, path: &std::path::Path) -> Recommender {
    write_model_of_kind(ratings, path, Kind::Relevance)
}

/// Fits a small model on `ratings` whose lists `kind` orders, and writes it to `path`.
pub fn write_model_of_kind(ratings: &RatingList, path: &std::path::Path, kind: Kind) -> Recommender {
    let t = Trainset::new(ratings);
    let svd = SvdParams { n_factors: 10, n_epochs: 5, ..SvdParams::default() }.check().unwrap();
    let rating = svd.fit_fast(&t, 1, |_| {}).unwrap();
    let mut params = RankingParams { kind, ..RankingParams::default() };
    params.ease.lambda = 50.0;
    params.ials.iterations = 4;
    let model = Recommender { rating: rating.into(), ranking: params.fit(&t, 1).unwrap(), reorder: Reorder::default() };
    write_recommender(&model, ratings, path);
    model
}

/// Writes `model`, fitted on `ratings`, to `path`.
pub fn write_recommender(model: &Recommender, ratings: &RatingList, path: &std::path::Path) {
    let p = Provenance {
        data_fingerprint: artifact::fingerprint(ratings),
        n_ratings: ratings.len() as u64,
        created_at: artifact::rfc3339(1_764_115_200),
        training_seconds: 0.1,
        threads: 1,
    };
    let mut bytes = Vec::new();
    artifact::write(model, &p, &mut bytes).unwrap();
    std::fs::write(path, bytes).unwrap();
}
