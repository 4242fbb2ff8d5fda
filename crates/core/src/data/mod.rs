//! The data: raw ids and dense indices ([`ids`]), the rating scale ([`scale`]), the column
//! roles and their mapping ([`columns`]), the dataset ([`dataset`]), validation and the
//! invalid and duplicate policies ([`builder`]), the readers ([`seed_csv`], [`movielens`]),
//! the synthetic generator ([`synthetic`]), filters and splits ([`split`]), statistics
//! ([`stats`]), the load report ([`report`]), the typed load errors ([`error`]) and
//! Surprise's view of a rating list for fitting ([`trainset`]).
//!
//! Every reader produces rows for one [`builder::DatasetBuilder`], so all sources follow the
//! same rules. Row order is never changed except by an explicit split: Surprise's results
//! depend on it.

pub mod builder;
pub mod columns;
pub mod dataset;
pub mod error;
pub mod ids;
pub mod movielens;
pub mod report;
pub mod scale;
pub mod seed_csv;
pub mod split;
pub mod stats;
pub mod synthetic;
pub mod trainset;
