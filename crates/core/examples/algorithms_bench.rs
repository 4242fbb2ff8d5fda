//! Benchmark of Surprise's eleven algorithms as movierec fits them:
//! `cargo run --release -p movierec-core --example algorithms_bench -- DATA MODE [RUNS]`.
//!
//! DATA is `synthetic` (the seed-scale synthetic data, seed 42) or a MovieLens-100k folder.
//! MODE is `split` (Surprise's `train_test_split`, 20 % test, seed 42: fit and test timed
//! apart, medians of RUNS runs, default 3) or `cv` (Surprise's `KFold`, 5 folds, seed 0:
//! the mean RMSE and MAE and the total time of fitting and testing every fold, as Surprise's
//! own benchmark table reports). Every algorithm runs with Surprise's defaults (SVD and SVD++
//! in both modes: `svd` and `svdpp` are the default `fast` mode, `svd_surprise` and
//! `svdpp_surprise` the exact one), except the
//! k-NN family on the synthetic data, which is item-based there (13,373 users: the user-based
//! similarities are above `max_size`). One thread, as Surprise; in `split`, the fit is also
//! timed on two threads (the k-NN similarities and SlopeOne's deviations are computed in
//! parallel; the other fits are sequential). Prints one JSON line per algorithm; with
//! `--tsv PATH`, also writes the ratings as `user<TAB>movie<TAB>score` for the Python side.

use std::path::Path;
use std::time::Instant;

use movierec_core::data::dataset::RatingList;
use movierec_core::data::split::{kfold, train_test_split};
use movierec_core::data::synthetic::{SyntheticConfig, generate};
use movierec_core::data::trainset::Trainset;
use movierec_core::evaluation::accuracy;
use movierec_core::models::base::predictor::Predictor;
use movierec_core::models::rating::Algorithm;
use movierec_core::models::rating::svd::TrainMode;
use movierec_core::{RatingScale, numpy};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let tsv = args.iter().position(|a| a == "--tsv").map(|i| {
        let path = args.remove(i + 1);
        args.remove(i);
        path
    });
    let (data, mode) = (args[0].clone(), args[1].clone());
    let runs: usize = args.get(2).map_or(3, |s| s.parse().expect("a number of runs"));
    let only: Option<&String> = args.get(3);
    let list = if data == "synthetic" {
        generate(&SyntheticConfig { seed: 42, ..SyntheticConfig::default() }, RatingScale::SEED).unwrap().ratings
    } else {
        let rules = movierec_core::data::movielens::ml100k_rules();
        movierec_core::data::movielens::read(Path::new(&data), rules).unwrap().0.ratings
    };
    if let Some(path) = tsv {
        let mut text = String::with_capacity(list.len() * 24);
        for r in 0..list.len() {
            let (u, m) = (list.users().raw(list.user()[r].0), list.movies().raw(list.movie()[r].0));
            text += &format!("{u}\t{m}\t{}\n", list.score()[r]);
        }
        std::fs::write(path, text).expect("the TSV file");
    }
    let label = if data == "synthetic" { "synthetic" } else { "ml-100k" };
    // SVD and SVD++ twice: the default `fast` mode, and the `surprise` mode, bit for bit
    // Surprise's.
    let names = Algorithm::NAMES.iter().copied().chain(["svd_surprise", "svdpp_surprise"]);
    for name in names {
        if only.is_some_and(|o| o != name) {
            continue;
        }
        let mut algorithm = Algorithm::default_of(name.strip_suffix("_surprise").unwrap_or(name)).unwrap();
        // Both default to the `fast` mode here, as `train` does.
        let training = if name.ends_with("_surprise") { TrainMode::Surprise } else { TrainMode::Fast };
        match &mut algorithm {
            Algorithm::Svd(p) => p.mode = training,
            Algorithm::Svdpp(p) => p.mode = training,
            _ => {}
        }
        if let Algorithm::KnnBasic(p)
        | Algorithm::KnnWithMeans(p)
        | Algorithm::KnnWithZscore(p)
        | Algorithm::KnnBaseline(p) = &mut algorithm
            && data == "synthetic"
        {
            p.sim_options.user_based = false;
        }
        let fit = Fit { algorithm };
        let line = match mode.as_str() {
            "split" => split(&list, &fit, runs),
            "cv" => cv(&list, &fit),
            other => panic!("unknown mode {other}: split or cv"),
        };
        println!("{}", serde_json::json!({"data": label, "mode": mode, "algorithm": name, "ours": line}));
    }
}

/// An algorithm with its parameters, SVD's and SVD++'s mode among them.
struct Fit {
    algorithm: Algorithm,
}

impl Fit {
    fn fit(&self, t: &Trainset<'_>, threads: usize) -> Box<dyn Predictor> {
        self.algorithm.fit(t, threads).unwrap()
    }
}

/// Fits on `train` and predicts every row of `test` of `list`: seconds to fit, to test, and
/// the (truth, estimate) pairs. The training set is built before the clock starts, its
/// ratings grouped by user and by movie, as Surprise's `train_test_split` and `KFold` build
/// theirs (with its `ur` and `ir`).
fn fit_test(
    list: &RatingList,
    train: &RatingList,
    test: &[u32],
    fit: &Fit,
    threads: usize,
) -> (f64, f64, Vec<(f64, f64)>) {
    let t = Trainset::new(train);
    let _ = (t.ur(), t.ir());
    let started = Instant::now();
    let model = fit.fit(&t, threads);
    let fitted = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let pairs: Vec<(f64, f64)> = test
        .iter()
        .map(|&row| {
            let row = row as usize;
            let u = train.users().get(list.users().raw(list.user()[row].0)).map(|u| u as usize);
            let i = train.movies().get(list.movies().raw(list.movie()[row].0)).map(|i| i as usize);
            (list.score()[row], model.predict(u, i).est)
        })
        .collect();
    (fitted, started.elapsed().as_secs_f64(), pairs)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn split(list: &RatingList, algorithm: &Fit, runs: usize) -> serde_json::Value {
    let s = train_test_split(list.len(), 0.2, 42).unwrap();
    let train = list.select(&s.train);
    let (mut fit, mut fit2, mut test, mut pairs) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..runs {
        let (f, t, p) = fit_test(list, &train, &s.test, algorithm, 1);
        fit.push(f);
        test.push(t);
        pairs = p;
        fit2.push(fit_test(list, &train, &[], algorithm, 2).0);
    }
    serde_json::json!({
        "fit_seconds": median(fit),
        "fit_seconds_2_threads": median(fit2),
        "test_seconds": median(test),
        "rmse": accuracy::rmse(pairs.iter().copied()),
        "mae": accuracy::mae(pairs.iter().copied()),
    })
}

fn cv(list: &RatingList, algorithm: &Fit) -> serde_json::Value {
    let (mut rmse, mut mae, mut seconds) = (Vec::new(), Vec::new(), 0.0);
    for fold in kfold(list.len(), 5, 0).unwrap() {
        let train = list.select(&fold.train);
        let (f, t, pairs) = fit_test(list, &train, &fold.test, algorithm, 1);
        seconds += f + t;
        rmse.push(accuracy::rmse(pairs.iter().copied()));
        mae.push(accuracy::mae(pairs.iter().copied()));
    }
    serde_json::json!({"rmse": numpy::mean(&rmse), "mae": numpy::mean(&mae), "seconds": seconds})
}
