//! Checks the Surprise-compatible parts of core against numpy and scikit-surprise
//! themselves: numpy's legacy `RandomState`, its pairwise mean, Surprise's
//! `train_test_split` and `KFold`, and `SVD`, PMF and `BaselineOnly` fitted on its split:
//! parameters bit for bit, predictions, RMSE and MAE within 1e-12.
//!
//! The reference values come from `surprise_reference.py`, run by the Python named in
//! `MOVIEREC_PYTHON`, or else the project's `.venv/bin/python`, which the README's test
//! command installs (numpy and scikit-surprise, pinned in `requirements/tools.txt`).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use movierec_core::data::split::train_test_split;
use movierec_core::data::synthetic::{SyntheticConfig, generate};
use movierec_core::numpy::{self, RandomState};
use movierec_core::{RatingList, RatingScale};
use serde_json::Value;

use common::ml100k;

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
    reference_with_files(args).1
}

/// The reference values, and the folder of the arrays it wrote beside them.
fn reference_with_files(args: &[&str]) -> (tempfile::TempDir, Value) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.json");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/surprise_reference.py");
    let status = Command::new(python()).arg(script).args(args).arg(&out).status().unwrap();
    assert!(status.success(), "the reference script failed: {status}");
    let value = serde_json::from_slice(&std::fs::read(out).unwrap()).unwrap();
    (dir, value)
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
    use movierec_core::models::rating::baseline::BaselineParams;
    use movierec_core::models::rating::svd::{Factors, SvdParams};

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

/// Reads an array the reference script wrote (little-endian f64 or i64).
fn read_array(path: &str) -> Vec<f64> {
    let bytes = std::fs::read(path).unwrap();
    let words = bytes.chunks_exact(8).map(|c| <[u8; 8]>::try_from(c).unwrap());
    if path.ends_with(".i64") {
        words.map(|w| i64::from_le_bytes(w) as f64).collect()
    } else {
        words.map(f64::from_le_bytes).collect()
    }
}

fn same(name: &str, what: &str, ours: &[f64], theirs: &[f64]) {
    assert_eq!(ours.len(), theirs.len(), "{name}: {what} has {} values, Surprise's {}", ours.len(), theirs.len());
    if let Some(k) = (0..ours.len()).find(|&k| ours[k].to_bits() != theirs[k].to_bits()) {
        panic!("{name}: {what}[{k}] is {:e}, Surprise's {:e}", ours[k], theirs[k]);
    }
}

/// Fits every case in both Surprise and core on the same 80/20 split of `list`: the fitted
/// arrays Surprise stores must be equal, bit for bit, and every prediction of the test set
/// within 1e-12 (with the same `was_impossible` and k-NN `actual_k`).
fn compare_algorithms(list: &RatingList, cases: &[Value]) {
    use movierec_core::data::trainset::Trainset;
    use movierec_core::models::rating::Algorithm;
    use movierec_core::models::rating::co_clustering::CoClustering;
    use movierec_core::models::rating::knn::Knn;
    use movierec_core::models::rating::nmf::Nmf;
    use movierec_core::models::rating::normal::Normal;
    use movierec_core::models::rating::slope_one::SlopeOne;
    use movierec_core::models::rating::svdpp::Svdpp;

    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("ratings.tsv");
    write_tsv(list, &tsv);
    let cases_file = dir.path().join("cases.json");
    std::fs::write(&cases_file, serde_json::to_vec(cases).unwrap()).unwrap();
    let scale = list.scale();
    let seed = 1u32;
    let (_arrays, r) = reference_with_files(&[
        "algorithms",
        tsv.to_str().unwrap(),
        &scale.min().to_string(),
        &scale.max().to_string(),
        "0.2",
        &seed.to_string(),
        cases_file.to_str().unwrap(),
    ]);
    let split = train_test_split(list.len(), 0.2, seed).unwrap();
    let train = list.select(&split.train);
    let t = Trainset::new(&train);
    let test: Vec<(Option<usize>, Option<usize>, String, String)> = split
        .test
        .iter()
        .map(|&row| {
            let (u, m) =
                (list.users().raw(list.user()[row as usize].0), list.movies().raw(list.movie()[row as usize].0));
            (
                train.users().get(u).map(|x| x as usize),
                train.movies().get(m).map(|x| x as usize),
                u.to_owned(),
                m.to_owned(),
            )
        })
        .collect();
    for (t_ours, t_theirs) in test.iter().zip(r["test"].as_array().unwrap()) {
        assert_eq!(
            (t_ours.2.as_str(), t_ours.3.as_str()),
            (t_theirs[0].as_str().unwrap(), t_theirs[1].as_str().unwrap())
        );
    }
    for (case, theirs) in cases.iter().zip(r["cases"].as_array().unwrap()) {
        let name = case.to_string();
        let algorithm: Algorithm = serde_json::from_value(case.clone()).unwrap();
        let model = algorithm.fit(&t, 0).unwrap();
        let arrays = theirs["arrays"].as_object().unwrap();
        let array = |key: &str| read_array(arrays[key].as_str().unwrap());
        let any: &dyn std::any::Any = model.as_any();
        if let Some(m) = any.downcast_ref::<movierec_core::models::rating::baseline::Baseline>() {
            same(&name, "bu", &m.bu, &array("bu"));
            same(&name, "bi", &m.bi, &array("bi"));
        } else if let Some(m) = any.downcast_ref::<Normal>() {
            same(&name, "sigma", &[m.sigma], &array("sigma"));
        } else if let Some(m) = any.downcast_ref::<Knn>() {
            let n = m.sim.n;
            let sim: Vec<f64> = (0..n * n).map(|k| m.sim.get(k / n, k % n)).collect();
            same(&name, "sim", &sim, &array("sim"));
            if arrays.contains_key("means") {
                same(&name, "means", &m.means, &array("means"));
            }
            if arrays.contains_key("sigmas") {
                same(&name, "sigmas", &m.sigmas, &array("sigmas"));
            }
            if arrays.contains_key("bu") {
                same(&name, "bu", &m.bu, &array("bu"));
                same(&name, "bi", &m.bi, &array("bi"));
            }
        } else if let Some(m) = any.downcast_ref::<Svdpp>() {
            for (key, ours) in [("bu", &m.bu), ("bi", &m.bi), ("pu", &m.pu), ("qi", &m.qi), ("yj", &m.yj)] {
                same(&name, key, ours, &array(key));
            }
        } else if let Some(m) = any.downcast_ref::<Nmf>() {
            for (key, ours) in [("bu", &m.bu), ("bi", &m.bi), ("pu", &m.pu), ("qi", &m.qi)] {
                same(&name, key, ours, &array(key));
            }
        } else if let Some(m) = any.downcast_ref::<SlopeOne>() {
            let n = m.n_items;
            let (dev, freq) = (array("dev"), array("freq"));
            for a in 0..n {
                for b in a + 1..n {
                    let k = a * n - a * (a + 1) / 2 + b - a - 1;
                    assert_eq!(f64::from(m.freq[k]), freq[a * n + b], "{name}: freq[{a}, {b}]");
                    if m.freq[k] > 0 {
                        assert_eq!(m.dev[k].to_bits(), dev[a * n + b].to_bits(), "{name}: dev[{a}, {b}]");
                        assert_eq!((-m.dev[k]).to_bits(), dev[b * n + a].to_bits(), "{name}: dev[{b}, {a}]");
                    }
                }
            }
            same(&name, "user_mean", &m.user_mean, &array("user_mean"));
        } else if let Some(m) = any.downcast_ref::<CoClustering>() {
            let ints = |v: &[u32]| v.iter().map(|&x| f64::from(x)).collect::<Vec<_>>();
            same(&name, "cltr_u", &ints(&m.cltr_u), &array("cltr_u"));
            same(&name, "cltr_i", &ints(&m.cltr_i), &array("cltr_i"));
            for (key, ours) in [
                ("user_mean", &m.user_mean),
                ("item_mean", &m.item_mean),
                ("avg_cltr_u", &m.avg_cltr_u),
                ("avg_cltr_i", &m.avg_cltr_i),
                ("avg_cocltr", &m.avg_cocltr),
            ] {
                same(&name, key, ours, &array(key));
            }
        }
        let knn = any.downcast_ref::<Knn>();
        let predictions = theirs["predictions"].as_array().unwrap();
        assert_eq!(predictions.len(), test.len());
        let mut impossible = 0;
        for ((u, i, uid, iid), p) in test.iter().zip(predictions) {
            let ours = model.predict(*u, *i);
            let want = bits(&p[0]);
            assert!(
                (ours.est - want).abs() <= 1e-12,
                "{name}: prediction for ({uid}, {iid}) is {}, Surprise's {want}",
                ours.est
            );
            assert_eq!(ours.was_impossible, p[1].as_bool().unwrap(), "{name}: was_impossible for ({uid}, {iid})");
            impossible += usize::from(ours.was_impossible);
            if let (Some(knn), Some(k)) = (knn, p[2].as_u64()) {
                assert_eq!(knn.estimate_k(*u, *i).actual_k as u64, k, "{name}: actual_k for ({uid}, {iid})");
            }
        }
        eprintln!(
            "{name}: {} predictions equal ({impossible} impossible); Surprise fit {:.3} s",
            test.len(),
            theirs["fit_seconds"].as_f64().unwrap()
        );
    }
}

#[test]
fn every_algorithm_matches_surprise_on_generated_data() {
    let data =
        generate(&SyntheticConfig { seed: 4, scale: 0.02, ..SyntheticConfig::default() }, RatingScale::SEED).unwrap();
    let cases: Vec<Value> = serde_json::from_str(
        r#"[
        {"algorithm": "normal_predictor", "seed": 5},
        {"algorithm": "baseline_only"},
        {"algorithm": "baseline_only", "bsl_options": {"method": "sgd"}},
        {"algorithm": "baseline_only", "bsl_options": {"method": "als", "n_epochs": 3, "reg_u": 5, "reg_i": 2}},
        {"algorithm": "knn_basic"},
        {"algorithm": "knn_basic", "k": 10, "sim_options": {"name": "pearson", "user_based": false}},
        {"algorithm": "knn_basic", "sim_options": {"min_support": 3, "user_based": false}},
        {"algorithm": "knn_with_means", "k": 20, "min_k": 3, "sim_options": {"name": "pearson"}},
        {"algorithm": "knn_with_zscore", "sim_options": {"name": "pearson_baseline", "user_based": false, "shrinkage": 50}},
        {"algorithm": "knn_baseline"},
        {"algorithm": "knn_baseline", "sim_options": {"name": "pearson_baseline", "user_based": false}, "bsl_options": {"method": "sgd", "n_epochs": 5}},
        {"algorithm": "svd", "n_factors": 10, "n_epochs": 5, "seed": 1},
        {"algorithm": "svdpp", "n_factors": 8, "n_epochs": 4, "seed": 2, "mode": "surprise"},
        {"algorithm": "nmf", "seed": 3},
        {"algorithm": "slope_one"},
        {"algorithm": "co_clustering", "seed": 4},
        {"algorithm": "co_clustering", "n_cltr_u": 5, "n_cltr_i": 2, "n_epochs": 7, "seed": 9}
    ]"#,
    )
    .unwrap();
    compare_algorithms(&data.ratings, &cases);
}

#[test]
fn every_algorithm_matches_surprise_on_movielens_100k() {
    let cases: Vec<Value> = serde_json::from_str(
        r#"[
        {"algorithm": "normal_predictor"},
        {"algorithm": "baseline_only"},
        {"algorithm": "baseline_only", "bsl_options": {"method": "sgd"}},
        {"algorithm": "knn_basic"},
        {"algorithm": "knn_basic", "sim_options": {"name": "cosine", "user_based": false}},
        {"algorithm": "knn_with_means"},
        {"algorithm": "knn_with_zscore"},
        {"algorithm": "knn_baseline"},
        {"algorithm": "knn_baseline", "sim_options": {"name": "pearson_baseline", "user_based": false}},
        {"algorithm": "svd"},
        {"algorithm": "svdpp", "mode": "surprise"},
        {"algorithm": "nmf"},
        {"algorithm": "nmf", "biased": true, "n_factors": 5, "n_epochs": 10},
        {"algorithm": "slope_one"},
        {"algorithm": "co_clustering"}
    ]"#,
    )
    .unwrap();
    compare_algorithms(&ml100k(), &cases);
}
