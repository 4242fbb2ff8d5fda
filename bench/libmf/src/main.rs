//! LibMF on the same ratings and split as `fit_bench`: `libmf-bench RATINGS.tsv MIN MAX THREADS
//! RATES...` reads the ratings `fit_bench --tsv` wrote (`user<TAB>movie<TAB>score`, in the
//! list's order), splits them 80/20 as Surprise does (seed 42: the same split as `fit_bench`'s),
//! and fits LibMF (its default loss, squared error, with AdaGrad's adaptive step) with 100
//! factors, 20 iterations and SVD's default L2 regularisation (0.02 on P and Q) at each
//! learning rate, on THREADS threads. One JSON line per rate: wall seconds of the fit, rating
//! updates per second per thread, test RMSE and MAE (predictions clipped to MIN..MAX, the
//! rating scale, as movierec's and Surprise's are).

use std::collections::HashMap;
use std::time::Instant;

use movierec_core::data::split::train_test_split;
use movierec_core::evaluation::accuracy;

/// Each rating as (user index, movie index, score), the indices in order of first appearance.
fn read(path: &str) -> Vec<(i32, i32, f64)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let (mut users, mut movies) = (HashMap::new(), HashMap::new());
    let index = |ids: &mut HashMap<String, i32>, id: &str| {
        let next = ids.len() as i32;
        *ids.entry(id.to_owned()).or_insert(next)
    };
    text.lines()
        .enumerate()
        .map(|(n, line)| {
            let mut fields = line.split('\t');
            let (Some(u), Some(m), Some(s)) = (fields.next(), fields.next(), fields.next()) else {
                panic!("{path}, line {}: expected user<TAB>movie<TAB>score", n + 1)
            };
            let score = s.parse().unwrap_or_else(|_| panic!("{path}, line {}: score {s:?} is not a number", n + 1));
            (index(&mut users, u), index(&mut movies, m), score)
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize| args[i].parse::<f64>().unwrap_or_else(|_| panic!("argument {}: a number", i + 1));
    let ratings = read(&args[0]);
    let (min, max, threads) = (number(1), number(2), number(3) as i32);
    let split = train_test_split(ratings.len(), 0.2, 42).unwrap();
    let mut train = libmf::Matrix::new();
    for &r in &split.train {
        let (u, m, s) = ratings[r as usize];
        train.push(u, m, s as f32);
    }
    for i in 4..args.len() {
        let rate = number(i) as f32;
        let start = Instant::now();
        let model = libmf::Model::params()
            .factors(100)
            .iterations(20)
            .lambda_p2(0.02)
            .lambda_q2(0.02)
            .learning_rate(rate)
            .threads(threads)
            .quiet(true)
            .fit(&train)
            .expect("LibMF fits");
        let seconds = start.elapsed().as_secs_f64();
        let pairs: Vec<(f64, f64)> = split
            .test
            .iter()
            .map(|&r| {
                let (u, m, s) = ratings[r as usize];
                (s, f64::from(model.predict(u, m)).clamp(min, max))
            })
            .collect();
        let updates = (split.train.len() * 20) as f64;
        println!(
            "{{\"mode\": \"libmf{threads}\", \"learning_rate\": {rate}, \"ratings\": {}, \"seconds\": {seconds:.3}, \"updates_per_second_per_thread\": {:.0}, \"rmse\": {:.4}, \"mae\": {:.4}}}",
            split.train.len(),
            updates / seconds / f64::from(threads),
            accuracy::rmse(pairs.iter().copied()),
            accuracy::mae(pairs.iter().copied())
        );
    }
}
