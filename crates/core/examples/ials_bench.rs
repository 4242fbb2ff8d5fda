//! Benchmark of implicit ALS at scale, side by side with the `implicit` library:
//! `cargo run --release -p movierec-core --example ials_bench -- [key=value ...]`.
//!
//! Generates the synthetic data (`scale=`, `movies=`, `ratings_per_user=`; MovieLens-32M's
//! shape is `scale=14.955 movies=87000 ratings_per_user=160`), splits it 80/20 as `prepare`
//! does (seed 42), fits our implicit ALS (`factors=`, `iterations=`, `alpha=`,
//! `regularization=`, `preference=`, `cg_steps=`, `threads=`, `simd=portable|native`) and
//! prints one JSON line: fit seconds, rating updates per second, and NDCG@10 and
//! precision@10 on the held-out ratings (relevant: a score of at least 60) of every
//! `sample=`-th measured user (default 100). `implicit` has no preference: compare the two
//! with `preference=0`, the default.
//!
//! With `python=PATH`, it also writes the training matrix (each rating's confidence
//! `1 + α·w`, the same as ours) to a temporary folder, runs `bench/implicit_als.py` with that
//! Python (the `implicit` library's CPU ALS, conjugate gradient, `alpha` 1 so that its
//! confidences are ours, the same factors, regularization, iterations and threads), reads
//! back its factors, and measures them with the same code, users and definition: a second
//! JSON line.

use std::io::Write;
use std::path::Path;
use std::time::Instant;

use movierec_core::RatingScale;
use movierec_core::data::split::train_test_split;
use movierec_core::data::synthetic::{SyntheticConfig, generate};
use movierec_core::data::trainset::Trainset;
use movierec_core::evaluation::ranking::Heldout;
use movierec_core::models::base::simd::Simd;
use movierec_core::models::base::{Fit, Interactions};
use movierec_core::models::ranking::ials::{Ials, IalsParams};

fn main() {
    let kv: std::collections::HashMap<String, String> =
        std::env::args().skip(1).filter_map(|a| a.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned()))).collect();
    let num = |k: &str| kv.get(k).map(|v| v.parse::<f64>().unwrap_or_else(|_| panic!("{k}={v}: a number")));
    let mut config = SyntheticConfig::default();
    config.scale = num("scale").unwrap_or(1.0);
    config.movies = num("movies").map_or(config.movies, |m| m as usize);
    config.ratings_per_user = num("ratings_per_user");
    let mut params = IalsParams { factors: 64, ..IalsParams::default() };
    params.factors = num("factors").map_or(params.factors, |v| v as usize);
    params.iterations = num("iterations").map_or(params.iterations, |v| v as usize);
    params.cg_steps = num("cg_steps").map_or(params.cg_steps, |v| v as usize);
    params.alpha = num("alpha").unwrap_or(params.alpha);
    params.regularization = num("regularization").unwrap_or(params.regularization);
    params.preference = num("preference").unwrap_or(params.preference);
    params.simd = match kv.get("simd").map(String::as_str) {
        None | Some("portable") => Simd::Portable,
        Some("native") => Simd::Native,
        Some(other) => panic!("simd={other}: portable or native"),
    };
    let threads = num("threads").map_or(2, |t| t as usize);
    let sample = num("sample").map_or(100, |s| s as usize).max(1);

    let started = Instant::now();
    let data = generate(&config, RatingScale::SEED).expect("a valid configuration").ratings;
    let split = train_test_split(data.len(), 0.2, 42).unwrap();
    let train = data.select(&split.train);
    let test = data.select(&split.test);
    drop(data);
    let t = Trainset::new(&train);
    eprintln!(
        "{} training ratings, {} users, {} movies, generated and split in {:.1} s",
        t.n_ratings(),
        t.n_users(),
        t.n_items(),
        started.elapsed().as_secs_f64()
    );
    let mut h = Heldout::new(&t, &test, 60.0);
    h.users = h.users.iter().copied().step_by(sample).collect();

    let started = Instant::now();
    let ours = params.fit(&t, threads).expect("valid parameters");
    let seconds = started.elapsed().as_secs_f64();
    report("movierec", &ours, &h, seconds, t.n_ratings(), &params, threads);

    if let Some(python) = kv.get("python") {
        let dir = std::env::temp_dir().join(format!("movierec-ials-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        export(&Interactions::new(&t), &params, &dir);
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../bench/implicit_als.py");
        let status = std::process::Command::new(python)
            .arg(&script)
            .arg(&dir)
            .args([params.factors, params.iterations, params.cg_steps, threads].map(|v| v.to_string()))
            .arg(params.regularization.to_string())
            .status()
            .expect("the Python baseline runs");
        assert!(status.success(), "{} failed", script.display());
        let read = |name: &str| -> Vec<f32> {
            let bytes = std::fs::read(dir.join(name)).unwrap();
            bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect()
        };
        let theirs = Ials::new(params, ours.scale, read("user_factors.f32"), read("item_factors.f32"));
        let seconds: f64 = std::fs::read_to_string(dir.join("seconds")).unwrap().trim().parse().unwrap();
        report("implicit 0.7.2", &theirs, &h, seconds, t.n_ratings(), &params, threads);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

/// One JSON line: the library, fit seconds, updates per second, NDCG@10 and precision@10.
fn report(name: &str, model: &Ials, h: &Heldout, seconds: f64, n_ratings: usize, p: &IalsParams, threads: usize) {
    let (row, _) = h.measure_top_n(model, 10, 10);
    println!(
        "{{\"library\": \"{name}\", \"simd\": \"{}\", \"factors\": {}, \"iterations\": {}, \"threads\": {threads}, \"fit_seconds\": {seconds:.3}, \
         \"rating_updates_per_second\": {:.0}, \"ndcg@10\": {:.4}, \"precision@10\": {:.4}, \"users_measured\": {}}}",
        p.simd.name(),
        p.factors,
        p.iterations,
        (2 * n_ratings * p.iterations) as f64 / seconds,
        row.metrics.ndcg,
        row.metrics.precision,
        row.metrics.users
    );
}

/// The training matrix as three little-endian arrays (user `u32`, movie `u32`, confidence
/// `f32`, user-major) and its shape, for the Python side.
fn export(x: &Interactions, p: &IalsParams, dir: &Path) {
    let mut users = Vec::with_capacity(x.items.len() * 4);
    let mut items = Vec::with_capacity(x.items.len() * 4);
    let mut conf = Vec::with_capacity(x.items.len() * 4);
    for u in 0..x.n_users() {
        for (i, s) in x.user(u) {
            users.extend_from_slice(&(u as u32).to_le_bytes());
            items.extend_from_slice(&i.to_le_bytes());
            let c = 1.0 + p.alpha * p.weighting.weight(s, RatingScale::SEED.min(), RatingScale::SEED.max());
            conf.extend_from_slice(&(c as f32).to_le_bytes());
        }
    }
    std::fs::write(dir.join("users.u32"), users).unwrap();
    std::fs::write(dir.join("items.u32"), items).unwrap();
    std::fs::write(dir.join("confidence.f32"), conf).unwrap();
    let mut shape = std::fs::File::create(dir.join("shape")).unwrap();
    writeln!(shape, "{} {}", x.n_users(), x.n_items()).unwrap();
}
