//! The `fast` training mode against the `surprise` mode it speeds up: on the seed-scale
//! synthetic data and MovieLens-100k (each split 80/20 as `prepare` does, SVD's defaults:
//! 100 factors, 20 epochs), the same model on 1, 2, 3, 8 and 16 threads, and a test RMSE
//! within 1% of the `surprise` mode's.

mod common;

use movierec_core::RatingScale;
use movierec_core::data::dataset::RatingList;
use movierec_core::data::split::train_test_split;
use movierec_core::data::synthetic::{SyntheticConfig, generate};
use movierec_core::data::trainset::Trainset;
use movierec_core::evaluation::accuracy;
use movierec_core::models::rating::svd::{SvdModel, SvdParams};

fn test_rmse(model: &SvdModel, ratings: &RatingList, test: &[u32]) -> f64 {
    let (users, movies) = (ratings.users(), ratings.movies());
    accuracy::rmse(test.iter().map(|&r| {
        let r = r as usize;
        let est = model.predict(users.raw(ratings.user()[r].0), movies.raw(ratings.movie()[r].0)).est;
        (ratings.score()[r], est)
    }))
}

fn check(ratings: &RatingList) {
    let split = train_test_split(ratings.len(), 0.2, 42).unwrap();
    let train = ratings.select(&split.train);
    let t = Trainset::new(&train);
    let svd = SvdParams::default().check().unwrap();
    let exact = test_rmse(&svd.fit_surprise(&t, |_| {}).unwrap(), ratings, &split.test);
    let one = svd.fit_fast(&t, 1, |_| {}).unwrap();
    let fast = test_rmse(&one, ratings, &split.test);
    assert!(fast <= exact * 1.01, "test RMSE: fast mode {fast}, surprise mode {exact}");
    for threads in [2, 3, 8, 16] {
        assert!(svd.fit_fast(&t, threads, |_| {}).unwrap() == one, "{threads} threads give another model than one");
    }
    eprintln!("test RMSE: fast mode {fast:.4}, surprise mode {exact:.4}");
}

#[test]
fn the_fast_mode_fits_as_well_as_surprise_on_any_number_of_threads_on_synthetic_data() {
    check(&generate(&SyntheticConfig::default(), RatingScale::SEED).unwrap().ratings);
}

#[test]
fn the_fast_mode_fits_as_well_as_surprise_on_any_number_of_threads_on_movielens_100k() {
    check(&common::ml100k());
}

/// AdaGrad's step (`adagrad`), with the rates found by hand on each data set, fits better
/// than Surprise's constant rate in the same 20 epochs, and is the same model on 1 and 2
/// threads.
fn check_adagrad(ratings: &RatingList, lr_all: f64, reg_all: f64, lr_biases: f64) {
    let split = train_test_split(ratings.len(), 0.2, 42).unwrap();
    let train = ratings.select(&split.train);
    let t = Trainset::new(&train);
    let exact =
        test_rmse(&SvdParams::default().check().unwrap().fit_surprise(&t, |_| {}).unwrap(), ratings, &split.test);
    let p = SvdParams {
        adagrad: true,
        lr_all,
        reg_all,
        lr_bu: Some(lr_biases),
        lr_bi: Some(lr_biases),
        ..SvdParams::default()
    };
    let svd = p.check().unwrap();
    let one = svd.fit_fast(&t, 1, |_| {}).unwrap();
    assert!(svd.fit_fast(&t, 2, |_| {}).unwrap() == one, "2 threads give another model than one");
    let adagrad = test_rmse(&one, ratings, &split.test);
    eprintln!("test RMSE: AdaGrad {adagrad:.4}, surprise mode {exact:.4}");
    assert!(adagrad < exact * 0.99, "test RMSE: AdaGrad {adagrad}, surprise mode {exact}");
}

#[test]
fn the_adaptive_step_fits_better_than_the_constant_rate_on_synthetic_data() {
    check_adagrad(&generate(&SyntheticConfig::default(), RatingScale::SEED).unwrap().ratings, 0.05, 0.02, 0.2);
}

#[test]
fn the_adaptive_step_fits_better_than_the_constant_rate_on_movielens_100k() {
    check_adagrad(&common::ml100k(), 0.02, 0.05, 0.05);
}
