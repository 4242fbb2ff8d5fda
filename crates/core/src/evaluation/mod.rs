//! Measuring models: Surprise's rmse and mae and the ranking measures of top-K lists
//! ([`accuracy`]), every model and baseline ranked side by side on held-out ratings with one
//! definition ([`ranking`]), and the hyper-parameter search over model kinds with
//! cross-validated scores ([`search`]).

pub mod accuracy;
pub mod plan;
pub mod ranking;
pub mod search;
