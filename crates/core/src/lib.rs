//! The data model of movierec: ids, rating scales, datasets, readers, splits and statistics.
//!
//! This crate knows nothing of DVC, `params.yaml`, the command line or HTTP: typed values in,
//! typed values or typed errors out. File formats live in one module each
//! ([`seed_csv`], [`movielens`]); generating data ([`synthetic`]) and splitting it ([`split`])
//! do no I/O.

pub mod accuracy;
pub mod artifact;
pub mod baseline;
pub mod builder;
pub mod columns;
pub mod dataset;
pub mod error;
pub mod fast;
pub mod ids;
pub mod movielens;
pub mod numpy;
pub mod recommend;
pub mod report;
pub mod scale;
pub mod search;
pub mod seed_csv;
pub mod split;
pub mod stats;
pub mod svd;
pub mod synthetic;
pub mod trainset;

pub use columns::{ColumnMap, Role};
pub use dataset::{Dataset, MovieAttrs, RatingExtras, RatingList, UserAttrs};
pub use error::LoadError;
pub use ids::{IdMap, MovieIdx, UserIdx};
pub use report::{LoadReport, RejectReason};
pub use scale::RatingScale;
