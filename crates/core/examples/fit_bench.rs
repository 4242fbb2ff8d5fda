//! Benchmark of SVD training: `cargo run --release -p movierec-core --example fit_bench --
//! SCALE MODES...` generates the synthetic data at SCALE, splits it 80/20 as Surprise does
//! (seed 42), fits SVD with the default parameters in each mode (`surprise`, `fast1`,
//! `fast2`: the fast mode on 1 or 2 threads; `native1`, `native2`: the same in the native
//! arithmetic instead of the portable one) and prints one JSON line per mode: wall
//! seconds, rating updates per second per thread, test RMSE and MAE.
//! `adagrad:LR[:REG[:LRB[:INIT[:EPOCHS]]]]` is the fast mode on 1 thread with AdaGrad's step,
//! `lr_all` LR, `reg_all` REG, the biases' `lr_bu` and `lr_bi` LRB, `init_std_dev` INIT and
//! `n_epochs` EPOCHS (`adagrad2:…` on 2 threads; `sgd:…` and `sgd2:…` the same with the
//! constant rate). SCALE may be
//! `SCALE:MOVIES:RATINGS_PER_USER` (MovieLens-32M's shape: `14.955:87000:160`), or a
//! MovieLens-100k folder. With
//! `--tsv PATH` it also writes the ratings as `user<TAB>movie<TAB>score` for the Python
//! baseline.

use std::time::Instant;

use movierec_core::data::split::train_test_split;
use movierec_core::data::synthetic::{SyntheticConfig, generate};
use movierec_core::data::trainset::Trainset;
use movierec_core::evaluation::accuracy;
use movierec_core::models::base::simd::Simd;
use movierec_core::models::rating::svd::SvdParams;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let tsv = args.iter().position(|a| a == "--tsv").map(|i| {
        let path = args.remove(i + 1);
        args.remove(i);
        path
    });
    let source = args.first().map_or("1", String::as_str);
    let modes = &args[1..];
    let data = if std::path::Path::new(source).is_dir() {
        let rules = movierec_core::data::movielens::ml100k_rules();
        movierec_core::data::movielens::read(std::path::Path::new(source), rules).expect("MovieLens-100k").0
    } else {
        let mut shape = source.split(':').map(|v| v.parse::<f64>().expect("a scale or a MovieLens-100k folder"));
        let mut config = SyntheticConfig { seed: 42, scale: shape.next().unwrap_or(1.0), ..SyntheticConfig::default() };
        config.movies = shape.next().map_or(config.movies, |m| m as usize);
        config.ratings_per_user = shape.next();
        generate(&config, movierec_core::RatingScale::SEED).unwrap()
    };
    if let Some(path) = tsv {
        let l = &data.ratings;
        let mut text = String::with_capacity(l.len() * 24);
        for r in 0..l.len() {
            text +=
                &format!("{}\t{}\t{}\n", l.users().raw(l.user()[r].0), l.movies().raw(l.movie()[r].0), l.score()[r]);
        }
        std::fs::write(path, text).expect("the TSV file");
    }
    let split = train_test_split(data.ratings.len(), 0.2, 42).unwrap();
    let train = data.ratings.select(&split.train);
    let t = Trainset::new(&train);
    let svd = SvdParams { seed: 42, ..SvdParams::default() }.check().unwrap();
    let native = SvdParams { seed: 42, simd: Simd::Native, ..SvdParams::default() }.check().unwrap();
    for mode in modes {
        let start = Instant::now();
        let (model, threads, epochs) = match mode.as_str() {
            "surprise" => (svd.fit_surprise(&t, |_| {}).unwrap(), 1, svd.n_epochs),
            "fast1" => (svd.fit_fast(&t, 1, |_| {}).unwrap(), 1, svd.n_epochs),
            "fast2" => (svd.fit_fast(&t, 2, |_| {}).unwrap(), 2, svd.n_epochs),
            "native1" => (native.fit_fast(&t, 1, |_| {}).unwrap(), 1, svd.n_epochs),
            "native2" => (native.fit_fast(&t, 2, |_| {}).unwrap(), 2, svd.n_epochs),
            other => {
                let (name, values) = other.split_once(':').unwrap_or_else(|| panic!("unknown mode {other}"));
                let (adagrad, threads) = match name {
                    "adagrad" => (true, 1),
                    "adagrad2" => (true, 2),
                    "sgd" => (false, 1),
                    "sgd2" => (false, 2),
                    _ => panic!("unknown mode {other}"),
                };
                let v: Vec<f64> = values.split(':').map(|x| x.parse().expect("a number")).collect();
                let d = SvdParams::default();
                let p = SvdParams {
                    seed: 42,
                    adagrad,
                    lr_all: v[0],
                    reg_all: v.get(1).copied().unwrap_or(d.reg_all),
                    lr_bu: v.get(2).copied(),
                    lr_bi: v.get(2).copied(),
                    init_std_dev: v.get(3).copied().unwrap_or(d.init_std_dev),
                    n_epochs: v.get(4).map_or(d.n_epochs, |&e| e as usize),
                    ..d
                };
                (p.check().unwrap().fit_fast(&t, threads, |_| {}).unwrap(), threads, p.n_epochs)
            }
        };
        let seconds = start.elapsed().as_secs_f64();
        let pairs: Vec<(f64, f64)> = split
            .test
            .iter()
            .map(|&r| {
                let r = r as usize;
                let l = &data.ratings;
                (l.score()[r], model.predict(l.users().raw(l.user()[r].0), l.movies().raw(l.movie()[r].0)).est)
            })
            .collect();
        let updates = (t.n_ratings() * epochs) as f64;
        println!(
            "{{\"mode\": \"{mode}\", \"ratings\": {}, \"seconds\": {seconds:.3}, \"updates_per_second_per_thread\": {:.0}, \"rmse\": {:.4}, \"mae\": {:.4}}}",
            t.n_ratings(),
            updates / seconds / threads as f64,
            accuracy::rmse(pairs.iter().copied()),
            accuracy::mae(pairs.iter().copied())
        );
    }
}
