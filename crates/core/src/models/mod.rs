//! The models, in layers that import only downward:
//!
//! 1. [`base`]: the errors, the traits, the training set as sparse rows and the kernels
//!    (dot products, blocked scoring, Cholesky solves, the top N of a catalogue).
//! 2. [`rating`]: the rating algorithms, which predict the relevance score a user would give
//!    a movie (Surprise's eleven, SVD among them), each in its own module, registered in
//!    [`rating::Algorithm`]; and [`ranking`]: the top-N kinds, which order a user's unseen
//!    movies (popularity, EASE, implicit ALS), each in its own module, registered in
//!    [`ranking::Kind`], [`ranking::RankingParams`] and [`ranking::Ranking`]. Neither imports
//!    the other.
//! 3. [`recommender`]: what is served, a rating model and a ranking together; and
//!    [`artifact`], its file format.
//!
//! Adding a rating algorithm or a top-N kind: see `ARCHITECTURE.md`, "How to add an
//! algorithm".

pub mod artifact;
pub mod base;
pub mod ranking;
pub mod rating;
pub mod recommender;

pub use base::{Fit, FitError, Interactions, TopN, Weighting};
pub use ranking::{Kind, Ranking, RankingParams};
pub use rating::Algorithm;
pub use rating::model::RatingModel;
pub use recommender::{Recommendation, Recommender, User};
