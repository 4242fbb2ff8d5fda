//! Benchmark of scoring every user against every movie and keeping each one's top N
//! (`core::models::base::scoring`): `cargo run --release -p movierec-core --example scoring_bench --
//! [key=value ...]`, with `users=` (200,000), `items=` (87,000), `factors=` (100), `seen=` (160
//! movies a user has rated, left out of their list), `n=` (10), `threads=` (2), `bias=` (1: SVD's
//! predicted relevance, with the movies' biases, the users' terms and the clipping; 0: implicit
//! ALS's bare products). Random factor rows (seeded); prints one JSON line: seconds,
//! multiply-adds per second, and their share of `peak=` (the machine's single-precision
//! multiply-add peak in billions a second, all cores, if given).

use std::time::Instant;

use movierec_core::models::base::scoring::{Finish, Panels, top_unseen};
use movierec_core::numpy::RandomState;

fn main() {
    let kv: std::collections::HashMap<String, String> =
        std::env::args().skip(1).filter_map(|a| a.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned()))).collect();
    let num =
        |k: &str, d: f64| kv.get(k).map_or(d, |v| v.parse::<f64>().unwrap_or_else(|_| panic!("{k}={v}: a number")));
    let (n_users, n_items, k) =
        (num("users", 200_000.0) as usize, num("items", 87_000.0) as usize, num("factors", 100.0) as usize);
    let (seen_per_user, n, threads) =
        (num("seen", 160.0) as usize, num("n", 10.0) as usize, num("threads", 2.0) as usize);
    let with_bias = num("bias", 1.0) != 0.0;
    let mut rng = RandomState::new(42);
    let mut rows = |count: usize| -> Vec<f32> { (0..count * k).map(|_| (rng.gauss() * 0.1) as f32).collect() };
    let users = rows(n_users);
    let items = rows(n_items);
    let mut rng = RandomState::new(7);
    let bias: Vec<f64> = (0..n_items).map(|_| rng.gauss() * 5.0).collect();
    let offsets: Vec<f64> = (0..n_users).map(|_| 48.5 + rng.gauss() * 5.0).collect();
    let seen: Vec<Vec<u32>> = (0..n_users)
        .map(|_| {
            let mut s: Vec<u32> = (0..seen_per_user).map(|_| (rng.random_sample() * n_items as f64) as u32).collect();
            s.sort_unstable();
            s.dedup();
            s
        })
        .collect();
    let which: Vec<usize> = (0..n_users).collect();

    let started = Instant::now();
    let panels = Panels::new(&items, k, with_bias.then_some(&bias[..]));
    let packed = started.elapsed().as_secs_f64();
    let finish = if with_bias {
        Finish { user: Some(&offsets), clip: Some((0.0, 100.0)) }
    } else {
        Finish { user: None, clip: None }
    };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    let started = Instant::now();
    let lists = pool.install(|| top_unseen(&users, &panels, &finish, &which, &|u| &seen[u], n));
    let seconds = started.elapsed().as_secs_f64();
    assert_eq!(lists.len(), n_users);
    let macs = (n_users * n_items * k) as f64;
    let peak = kv.get("peak").map(|p| p.parse::<f64>().expect("peak: a number"));
    println!(
        "{{\"users\": {n_users}, \"items\": {n_items}, \"factors\": {k}, \"n\": {n}, \"threads\": {threads}, \"bias\": {with_bias}, \
         \"pack_seconds\": {packed:.3}, \"seconds\": {seconds:.2}, \"gmac_per_second\": {:.1}{}}}",
        macs / seconds / 1e9,
        peak.map_or(String::new(), |p| format!(", \"share_of_peak\": {:.3}", macs / seconds / 1e9 / p))
    );
}
