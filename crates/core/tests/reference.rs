//! Checks the Surprise-compatible parts of core against numpy and scikit-surprise
//! themselves: numpy's legacy `RandomState`, its pairwise mean, and Surprise's
//! `train_test_split`, exactly.
//!
//! The reference values come from `surprise_reference.py`, run by the Python named in
//! `MOVIEREC_PYTHON`, or else the project's `.venv/bin/python`, which the README's test
//! command installs (numpy and scikit-surprise, pinned in `requirements/tools.txt`).

use std::path::{Path, PathBuf};
use std::process::Command;

use movierec_core::numpy::{self, RandomState};
use movierec_core::split::train_test_split;
use movierec_core::synthetic::{SyntheticConfig, generate};
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
    by_user
        .iter()
        .flatten()
        .map(|&r| {
            (
                list.users().raw(list.user()[r].0).to_owned(),
                list.movies().raw(list.movie()[r].0).to_owned(),
                list.score()[r],
            )
        })
        .collect()
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
    let data = generate(&SyntheticConfig { seed: 11, scale: 0.02 }, RatingScale::SEED).unwrap();
    let list = &data.ratings;
    let dir = tempfile::tempdir().unwrap();
    let tsv = dir.path().join("ratings.tsv");
    let mut text = String::new();
    for r in 0..list.len() {
        let (u, m) = (list.user()[r], list.movie()[r]);
        text += &format!("{}\t{}\t{}\n", list.users().raw(u.0), list.movies().raw(m.0), list.score()[r]);
    }
    std::fs::write(&tsv, text).unwrap();
    for (test_size, seed) in [("0.2", 0u32), ("0.25", 7)] {
        let r = reference(&["split", tsv.to_str().unwrap(), test_size, &seed.to_string()]);
        let split = train_test_split(list.len(), test_size.parse().unwrap(), seed).unwrap();
        let test: Vec<_> = split
            .test
            .iter()
            .map(|&i| {
                let i = i as usize;
                (
                    list.users().raw(list.user()[i].0).to_owned(),
                    list.movies().raw(list.movie()[i].0).to_owned(),
                    list.score()[i],
                )
            })
            .collect();
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
