//! The `predict` binary, run in a temporary folder on small generated tables and a model
//! fitted on them; its lists are checked against a brute-force ranking.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::{Command, Output};

use movierec_core::data::synthetic::{SyntheticConfig, generate};
use movierec_core::data::trainset::Trainset;
use movierec_core::models::artifact::{self, Provenance};
use movierec_core::models::base::select;
use movierec_core::models::ranking::Reorder;
use movierec_core::models::rating::Algorithm;
use movierec_core::models::rating::model::RatingModel;
use movierec_core::models::rating::svd::SvdParams;
use movierec_core::models::{Kind, RankingParams, Recommender, recommender};
use movierec_core::{Dataset, RatingScale};
use serde_json::Value;

struct Project {
    dir: tempfile::TempDir,
    data: Dataset,
    model: Recommender,
}

impl Project {
    fn new() -> Project {
        Project::of_kind(Kind::Relevance)
    }

    /// A project whose model's lists `kind` orders.
    fn of_kind(kind: Kind) -> Project {
        Project::with(kind, |t| {
            let svd = SvdParams { n_factors: 10, n_epochs: 5, ..SvdParams::default() }.check().unwrap();
            svd.fit_fast(t, 1, |_| {}).unwrap().into()
        })
    }

    /// A project whose model's lists `kind` orders and whose rating model `fit` fits.
    fn with(kind: Kind, fit: impl Fn(&Trainset<'_>) -> RatingModel) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let data = generate(&SyntheticConfig { seed: 9, scale: 0.02, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        let create = |name: &str| std::fs::File::create(dir.path().join(format!("data/{name}.parquet"))).unwrap();
        movierec_tables::write_ratings(&data, create("ratings")).unwrap();
        movierec_tables::write_users(&data, create("users")).unwrap();
        movierec_tables::write_movies(&data, create("movies")).unwrap();
        let t = Trainset::new(&data.ratings);
        let rating = fit(&t);
        let ranking = RankingParams { kind, ..RankingParams::default() }.fit(&t, 1).unwrap();
        let model = Recommender { rating, ranking, reorder: Reorder::default() };
        let p = Provenance {
            data_fingerprint: artifact::fingerprint(&data.ratings),
            n_ratings: data.ratings.len() as u64,
            created_at: artifact::rfc3339(0),
            training_seconds: 0.1,
            threads: 1,
        };
        let mut bytes = Vec::new();
        artifact::write(&model, &p, &mut bytes).unwrap();
        std::fs::write(dir.path().join("serve.bin"), bytes).unwrap();
        Project { dir, data, model }
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn predict(&self, params: &str) -> Output {
        std::fs::write(self.path("params.yaml"), params).unwrap();
        Command::new(env!("CARGO_BIN_EXE_predict"))
            .current_dir(self.dir.path())
            .args(["--model", "serve.bin", "--ratings", "data/ratings.parquet", "--users", "data/users.parquet"])
            .args([
                "--movies",
                "data/movies.parquet",
                "--out",
                "out/recommendations.csv",
                "--report",
                "out/predict.json",
            ])
            .output()
            .unwrap()
    }

    /// The rows of the output: user, name, rank, movie, title, score.
    fn rows(&self) -> Vec<Vec<String>> {
        let mut reader = csv::Reader::from_path(self.path("out/recommendations.csv")).unwrap();
        assert_eq!(reader.headers().unwrap(), vec!["user_id", "user_name", "rank", "movie_id", "title", "score"]);
        reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect()
    }
}

#[test]
fn every_user_gets_the_brute_force_top_n_of_unseen_movies() {
    let p = Project::new();
    let out = p.predict("predict: {n: 5}\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = p.rows();
    let ratings = &p.data.ratings;
    assert_eq!(rows.len(), 5 * ratings.users().len());
    let mut by_user: HashMap<&str, Vec<&Vec<String>>> = HashMap::new();
    for r in &rows {
        by_user.entry(r[0].as_str()).or_default().push(r);
    }
    let mut seen: HashMap<&str, HashSet<&str>> = HashMap::new();
    for r in 0..ratings.len() {
        seen.entry(ratings.users().raw(ratings.user()[r].0))
            .or_default()
            .insert(ratings.movies().raw(ratings.movie()[r].0));
    }
    // A sample of users: the brute force scores every movie with the model's own prediction.
    for uid in ratings.users().iter().step_by(17) {
        let mut all: Vec<(f64, usize, &str)> = ratings
            .movies()
            .iter()
            .enumerate()
            .filter(|(_, m)| !seen[uid].contains(m))
            .map(|(i, m)| (p.model.rating.predict(uid, m).est, i, m))
            .collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let got = &by_user[uid];
        for (rank, (row, want)) in got.iter().zip(&all).enumerate() {
            assert_eq!(row[2], (rank + 1).to_string());
            assert_eq!(row[3], want.2, "user {uid}, rank {}", rank + 1);
            assert_eq!(row[5].parse::<f64>().unwrap(), want.0);
            assert!(!seen[uid].contains(row[3].as_str()));
        }
        assert!(!got[0][1].is_empty() && got[0][4].contains('('), "names and titles: {:?}", got[0]);
    }
    let r: Value = serde_json::from_slice(&std::fs::read(p.path("out/predict.json")).unwrap()).unwrap();
    assert_eq!(r["rows"].as_u64(), Some(rows.len() as u64));
    let distinct: HashSet<&str> = rows.iter().map(|r| r[3].as_str()).collect();
    assert_eq!(r["distinct_movies"].as_u64(), Some(distinct.len() as u64));
}

/// With a top-N kind, each list is that model's best unseen movies in its order, and the
/// score shown is still SVD's predicted relevance.
#[test]
fn every_kind_orders_the_lists_and_shows_predicted_relevance() {
    for kind in [Kind::Popularity, Kind::Ease, Kind::Ials] {
        let p = Project::of_kind(kind);
        let out = p.predict("predict: {n: 4}\n");
        assert!(out.status.success(), "{kind}: {}", String::from_utf8_lossy(&out.stderr));
        let r: Value = serde_json::from_slice(&std::fs::read(p.path("out/predict.json")).unwrap()).unwrap();
        assert_eq!(r["ranking"], kind.name());
        let rows = p.rows();
        let svd = &p.model.rating;
        let top_n = p.model.ranking.top_n().unwrap();
        let histories = recommender::histories(svd, &p.data.ratings);
        for u in (0..svd.users().len()).step_by(23) {
            let uid = svd.users().raw(u as u32);
            let got: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == uid).collect();
            let h = &histories[u];
            let want = top_n.rank(Some(u), h, &select::movies_of(h), 4);
            assert_eq!(got.len(), want.len());
            for (row, (i, _)) in got.iter().zip(&want) {
                assert_eq!(row[3], svd.items().raw(*i), "{kind}, user {uid}");
                assert_eq!(row[5].parse::<f64>().unwrap(), svd.estimate(Some(u), Some(*i as usize)).est);
            }
        }
    }
}

/// With another of Surprise's algorithms as the rating model, its predicted relevance orders
/// the lists (kind `relevance`) and is the score shown.
#[test]
fn another_rating_algorithm_orders_by_its_predictions() {
    let p = Project::with(Kind::Relevance, |t| {
        RatingModel::fit(&Algorithm::default_of("slope_one").unwrap(), t, 1).unwrap()
    });
    let out = p.predict("predict: {n: 5}\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = p.rows();
    let rating = &p.model.rating;
    let histories = recommender::histories(rating, &p.data.ratings);
    for u in (0..rating.users().len()).step_by(19) {
        let uid = rating.users().raw(u as u32);
        let got: Vec<&Vec<String>> = rows.iter().filter(|r| r[0] == uid).collect();
        let seen = select::movies_of(&histories[u]);
        let want = select::top_unseen(rating.n_items(), &seen, 5, |i| rating.estimate(Some(u), Some(i as usize)).est);
        assert_eq!(got.len(), want.len());
        for (row, (i, est)) in got.iter().zip(&want) {
            assert_eq!(row[3], rating.items().raw(*i), "user {uid}");
            assert_eq!(row[5].parse::<f64>().unwrap(), *est);
        }
    }
}

#[test]
fn a_list_of_users_and_its_errors() {
    let p = Project::new();
    let out = p.predict("predict: {n: 3, users: ['5', '2']}\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let rows = p.rows();
    assert_eq!(rows.iter().map(|r| r[0].as_str()).collect::<Vec<_>>(), ["5", "5", "5", "2", "2", "2"]);
    let out = p.predict("predict: {users: ['5', 'nobody']}\n");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("\"nobody\""), "{e}");
    std::fs::write(p.path("serve.bin"), b"garbage").unwrap();
    let out = p.predict("predict: {}\n");
    let e = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && e.contains("serve.bin") && e.contains("not a movierec model"), "{e}");
}
