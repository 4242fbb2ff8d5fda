//! The core of movierec, in three parts that know nothing of DVC, `params.yaml`, the command
//! line, polars or HTTP: typed values in, typed values or typed errors out.
//!
//! - [`data`]: ids, rating scales, datasets, the readers ([`data::seed_csv`],
//!   [`data::movielens`]), the synthetic generator, splits, statistics and Surprise's
//!   training set. Generating data and splitting it do no I/O.
//! - [`models`]: the rating model (Surprise's SVD, in its exact and fast modes, and
//!   `BaselineOnly`), the top-N models (popularity, EASE, implicit ALS), the [`models::TopN`]
//!   trait they share, the served [`models::Recommender`] and its file format.
//! - [`evaluation`]: rmse, mae and ranking measures, side by side for every model and
//!   baseline, and the hyper-parameter search.
//!
//! [`numpy`] is numpy's legacy random generator and pairwise mean, which all three use.

pub mod data;
pub mod evaluation;
pub mod models;
pub mod numpy;
pub mod quote;

pub use data::columns::{ColumnMap, Role};
pub use data::dataset::{Dataset, MovieAttrs, RatingExtras, RatingList, UserAttrs};
pub use data::error::LoadError;
pub use data::ids::{IdMap, MovieIdx, UserIdx};
pub use data::report::{LoadReport, RejectReason};
pub use data::scale::RatingScale;
