//! movierec's HTTP API: the model and data the pipeline produced, served over HTTP.
//!
//! The modules import one way, from the bottom up:
//!
//! - [`error`] turns every failure into a JSON answer; [`metrics`] writes Prometheus' format;
//!   [`admission`] bounds the requests worked on and waiting; [`snapshot`] reads and indexes
//!   the artifacts; [`jobs`] registers grid search jobs and their reports.
//! - [`state`] is what every handler shares (the snapshot served, the configuration, the
//!   metrics, the jobs) and the refresh.
//! - [`gridsearch`] runs a job in the background; [`web`] serves the page and its assets.
//! - [`api`] has the handlers and the OpenAPI description; [`app`] the router and the
//!   middleware (timeouts, metrics, logs, limits).

pub mod admission;
pub mod api;
pub mod app;
pub mod error;
pub mod gridsearch;
pub mod jobs;
pub mod metrics;
pub mod snapshot;
pub mod state;
pub mod web;

pub use app::router;
pub use snapshot::{Paths, Snapshot};
pub use state::{AppState, Config};
