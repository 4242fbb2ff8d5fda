//! Benchmark of SVD training: `cargo run --release -p movierec-core --example fit_bench --
//! SCALE MODES...` generates the synthetic data at SCALE, splits it 80/20 as Surprise does
//! (seed 42), fits SVD with the default parameters in each mode (`surprise`, `fast1`,
//! `fast2`: the fast mode on 1 or 2 threads; `native1`, `native2`: the same in the native
//! arithmetic instead of the portable one) and prints one JSON line per mode: wall
//! seconds, rating updates per second per thread, test RMSE and MAE; `adagrad:LR[:REG[:LRB]]`
//! is the fast mode on 1 thread with AdaGrad's step, `lr_all` LR, `reg_all` REG and the
//! biases' `lr_bu` and `lr_bi` LRB (`adagrad2:…` on 2 threads). SCALE may be
//! `SCALE:MOVIES:RATINGS_PER_USER` (MovieLens-32M's shape: `14.955:87000:160`), or a
//! MovieLens-100k folder. With
//! `--tsv PATH` it also writes the ratings as `user<TAB>movie<TAB>score` for the Python
//! baseline.

use std::time::Instant;

use movierec_core::data::split::train_test_split;
use movierec_core::data::synthetic::{SyntheticConfig, generate};
use movierec_core::data::trainset::Trainset;
use movierec_core::evaluation::accuracy;
use movierec_core::models::simd::Simd;
use movierec_core::models::svd::SvdParams;

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
        let (model, threads) = match mode.as_str() {
            "surprise" => (svd.fit_surprise(&t, |_| {}).unwrap(), 1),
            "fast1" => (svd.fit_fast(&t, 1, |_| {}).unwrap(), 1),
            "fast2" => (svd.fit_fast(&t, 2, |_| {}).unwrap(), 2),
            "native1" => (native.fit_fast(&t, 1, |_| {}).unwrap(), 1),
            "native2" => (native.fit_fast(&t, 2, |_| {}).unwrap(), 2),
            other => {
                let (threads, values) = match other.strip_prefix("adagrad2:") {
                    Some(values) => (2, values),
                    None => (1, other.strip_prefix("adagrad:").unwrap_or_else(|| panic!("unknown mode {other}"))),
                };
                let v: Vec<f64> = values.split(':').map(|x| x.parse().expect("a number")).collect();
                let p = SvdParams {
                    seed: 42,
                    adagrad: true,
                    lr_all: v[0],
                    reg_all: v.get(1).copied().unwrap_or(SvdParams::default().reg_all),
                    lr_bu: v.get(2).copied(),
                    lr_bi: v.get(2).copied(),
                    ..SvdParams::default()
                };
                (p.check().unwrap().fit_fast(&t, threads, |_| {}).unwrap(), threads)
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
        let updates = (t.n_ratings() * svd.n_epochs) as f64;
        println!(
            "{{\"mode\": \"{mode}\", \"ratings\": {}, \"seconds\": {seconds:.3}, \"updates_per_second_per_thread\": {:.0}, \"rmse\": {:.4}, \"mae\": {:.4}}}",
            t.n_ratings(),
            updates / seconds / threads as f64,
            accuracy::rmse(pairs.iter().copied()),
            accuracy::mae(pairs.iter().copied())
        );
    }
}
