//! Checks the Surprise-compatible parts of core against numpy and scikit-surprise
//! themselves: numpy's legacy `RandomState`, its pairwise mean, Surprise's
//! `train_test_split` and `KFold`, and `SVD`, PMF and `BaselineOnly` fitted on its split:
//! parameters bit for bit, predictions, RMSE and MAE within 1e-12.
//!
//! The reference values come from `surprise_reference.py`, run by the Python named in
//! `MOVIEREC_PYTHON`, or else the project's `.venv/bin/python`, which the README's test
//! command installs (numpy and scikit-surprise, pinned in `requirements/tools.txt`).

use std::path::{Path, PathBuf};
use std::process::Command;

use movierec_core::data::split::train_test_split;
use movierec_core::data::synthetic::{SyntheticConfig, generate};
use movierec_core::numpy::{self, RandomState};
use movierec_core::{RatingList, RatingScale};
use serde_json::Value;

fn python() -> PathBuf {
    let path = std::env::var_os("MOVIEREC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/python"));
    assert!(
        path.exists(),
        "no Python with numpy and scikit-surprise at {}: run scripts/test.sh once, or set MOVIEREC_PYTHON",
        path.display()
    );
    path
}

fn reference(args: &[&str]) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/surprise_reference.py");
    let status = Command::new(python()).arg(script).args(args).arg(&out).status().unwrap();
    assert!(status.success(), "the reference script failed: {status}");
    serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap()
}

fn bits(v: &Value) -> f64 {
    f64::from_bits(v.as_u64().expect("a float's bit pattern"))
}

#[test]
fn random_state_and_mean_match_numpy() {
    let r = reference(&["numpy"]);
    for (seed, expected) in r["normal"].as_object().unwrap() {
        let mut rs = RandomState::new(seed.parse().unwrap());
        let mut got: Vec<f64> = (0..7).map(|_| rs.normal(0.0, 0.1)).collect();
        got.extend((0..15).map(|_| rs.normal(3.0, 2.0)));
        let want: Vec<f64> = expected.as_array().unwrap().iter().map(bits).collect();
        assert!(got == want, "normal draws differ for seed {seed}");
    }
    for (seed, expected) in r["permutation"].as_object().unwrap() {
        let got = RandomState::new(seed.parse().unwrap()).permutation(1000);
        let want: Vec<u32> = expected.as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
        assert!(got == want, "permutation differs for seed {seed}");
    }
    for (seed, expected) in r["random_sample"].as_object().unwrap() {
        let mut rs = RandomState::new(seed.parse().unwrap());
        let got: Vec<f64> = (0..10).map(|_| rs.random_sample()).collect();
        let want: Vec<f64> = expected.as_array().unwrap().iter().map(bits).collect();
        assert!(got == want, "random_sample differs for seed {seed}");
    }
    for case in r["mean"].as_array().unwrap() {
        let values: Vec<f64> = case["values"].as_array().unwrap().iter().map(bits).collect();
        if values.is_empty() {
            continue;
        }
        assert_eq!(
            numpy::mean(&values).to_bits(),
            bits(&case["mean"]).to_bits(),
            "np.mean differs for length {}",
            values.len()
        );
    }
}

/// Surprise's trainset order: users by first appearance, each user's ratings in list order.
fn user_major(list: &RatingList) -> Vec<(String, String, f64)> {
    let mut by_user: Vec<Vec<usize>> = vec![Vec::new(); list.users().len()];
    for (r, u) in list.user().iter().enumerate() {
        by_user[u.get()].push(r);
    }
    by_user.iter().flatten().map(|&r| triple(list, r)).collect()
}

/// The raw `(user, movie, score)` of row `r`.
fn triple(list: &RatingList, r: usize) -> (String, String, f64) {
    (list.users().raw(list.user()[r].0).to_owned(), list.movies().raw(list.movie()[r].0).to_owned(), list.score()[r])
}

fn triples(v: &Value) -> Vec<(String, String, f64)> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| (t[0].as_str().unwrap().to_owned(), t[1].as_str().unwrap().to_owned(), bits(&t[2])))
        .collect()
}

#[test]
fn train_test_split_matches_surprise_row_for_row() {
    let data =
        generate(&SyntheticConfig { seed: 11, scale: 0.02, ..SyntheticConfig::default() }, RatingScale::SEED).unwrap();
    let list = &data.ratings;
    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("ratings.tsv");
    write_tsv(list, &tsv);
    for (test_size, seed) in [("0.2", 0u32), ("0.25", 7)] {
        let r = reference(&["split", tsv.to_str().unwrap(), test_size, &seed.to_string()]);
        let split = train_test_split(list.len(), test_size.parse().unwrap(), seed).unwrap();
        let test: Vec<_> = split.test.iter().map(|&i| triple(list, i as usize)).collect();
        let want_test = triples(&r["test"]);
        assert_eq!(test.len(), want_test.len());
        assert!(test == want_test, "test set differs from Surprise's (test_size {test_size}, seed {seed})");
        let train = list.select(&split.train);
        let got = user_major(&train);
        assert!(
            got == triples(&r["train_user_major"]),
            "trainset differs from Surprise's (test_size {test_size}, seed {seed})"
        );
        let scores: Vec<f64> = got.iter().map(|t| t.2).collect();
        assert_eq!(numpy::mean(&scores).to_bits(), bits(&r["global_mean"]).to_bits(), "global mean differs");
    }
}

#[test]
fn kfold_matches_surprise_fold_for_fold() {
    let data =
        generate(&SyntheticConfig { seed: 12, scale: 0.01, ..SyntheticConfig::default() }, RatingScale::SEED).unwrap();
    let list = &data.ratings;
    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("ratings.tsv");
    write_tsv(list, &tsv);
    let r = reference(&["kfold", tsv.to_str().unwrap(), "3", "42"]);
    let folds = movierec_core::data::split::kfold(list.len(), 3, 42).unwrap();
    let theirs = r.as_array().unwrap();
    assert_eq!(folds.len(), theirs.len());
    for (ours, theirs) in folds.iter().zip(theirs) {
        let ours: Vec<_> = ours.test.iter().map(|&i| triple(list, i as usize)).collect();
        assert!(ours == triples(theirs), "a fold's test set differs from Surprise's KFold");
    }
}

fn write_tsv(list: &RatingList, path: &Path) {
    let mut text = String::new();
    for r in 0..list.len() {
        let (u, m) = (list.user()[r], list.movie()[r]);
        text += &format!("{}\t{}\t{}\n", list.users().raw(u.0), list.movies().raw(m.0), list.score()[r]);
    }
    std::fs::write(path, text).unwrap();
}

fn all_bits(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(bits).collect()
}

/// Fits SVD (or PMF) and BaselineOnly in both Surprise and core on the same split, and
/// compares the learned parameters exactly and the predictions within 1e-12 (numpy's
/// `np.dot` sums in another order than the training loop).
fn compare_models(n_factors: usize, n_epochs: usize, biased: bool) {
    use movierec_core::data::trainset::Trainset;
    use movierec_core::evaluation::accuracy;
    use movierec_core::models::baseline::BaselineParams;
    use movierec_core::models::svd::{Factors, SvdParams};

    let data =
        generate(&SyntheticConfig { seed: 4, scale: 0.02, ..SyntheticConfig::default() }, RatingScale::SEED).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("ratings.tsv");
    write_tsv(&data.ratings, &tsv);
    let seed = 3u32;
    let args = [
        "model",
        tsv.to_str().unwrap(),
        "0.2",
        &seed.to_string(),
        &n_factors.to_string(),
        &n_epochs.to_string(),
        if biased { "true" } else { "false" },
    ];
    let r = reference(&args);

    let split = train_test_split(data.ratings.len(), 0.2, seed).unwrap();
    let train = data.ratings.select(&split.train);
    let t = Trainset::new(&train);
    let svd = SvdParams { n_factors, n_epochs, biased, seed, ..SvdParams::default() }.check().unwrap();
    let model = svd.fit_surprise(&t, |_| {}).unwrap();
    assert!(model.bu == all_bits(&r["bu"]), "bu differs");
    assert!(model.bi == all_bits(&r["bi"]), "bi differs");
    let Factors::F64 { pu, qi } = &model.factors else { panic!("surprise mode trains in f64") };
    assert!(*pu == all_bits(&r["pu"]), "pu differs");
    assert!(*qi == all_bits(&r["qi"]), "qi differs");

    let mut pairs = Vec::new();
    for (p, &row) in r["predictions"].as_array().unwrap().iter().zip(&split.test) {
        let row = row as usize;
        let (uid, iid) = (p[0].as_str().unwrap(), p[1].as_str().unwrap());
        assert_eq!(uid, data.ratings.users().raw(data.ratings.user()[row].0));
        let ours = model.predict(uid, iid);
        assert!((ours.est - bits(&p[2])).abs() <= 1e-12, "prediction for ({uid}, {iid}) differs");
        assert_eq!(ours.was_impossible, p[3].as_bool().unwrap());
        pairs.push((data.ratings.score()[row], ours.est));
    }
    assert!((accuracy::rmse(pairs.iter().copied()) - bits(&r["rmse"])).abs() <= 1e-12, "rmse differs");
    assert!((accuracy::mae(pairs.iter().copied()) - bits(&r["mae"])).abs() <= 1e-12, "mae differs");

    let baseline = BaselineParams::default().fit(&t);
    assert!(baseline.bu == all_bits(&r["baseline_bu"]), "BaselineOnly bu differs");
    assert!(baseline.bi == all_bits(&r["baseline_bi"]), "BaselineOnly bi differs");
    let bpairs = split.test.iter().map(|&row| {
        let row = row as usize;
        let u = t.list().users().get(data.ratings.users().raw(data.ratings.user()[row].0)).map(|u| u as usize);
        let i = t.list().movies().get(data.ratings.movies().raw(data.ratings.movie()[row].0)).map(|i| i as usize);
        (data.ratings.score()[row], baseline.estimate(u, i))
    });
    assert_eq!(accuracy::rmse(bpairs).to_bits(), bits(&r["baseline_rmse"]).to_bits(), "BaselineOnly rmse differs");
}

#[test]
fn svd_matches_surprise_bit_for_bit() {
    compare_models(20, 10, true);
}

#[test]
fn pmf_matches_surprise_bit_for_bit() {
    compare_models(7, 4, false);
}
