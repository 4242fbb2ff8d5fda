//! movierec's HTTP API: the model and data the pipeline produced, served over HTTP.
//!
//! [`snapshot`] reads and indexes the artifacts; [`app`] holds the state, the router and the
//! middleware (metrics, logs, limits); [`admission`] bounds the requests worked on and waiting; [`api`] has the routes and the OpenAPI description;
//! [`jobs`] runs grid searches in the background; [`metrics`] writes Prometheus' format;
//! [`error`] turns every failure into a JSON answer.

pub mod admission;
pub mod api;
pub mod app;
pub mod error;
pub mod jobs;
pub mod metrics;
pub mod snapshot;
pub mod web;

pub use app::{AppState, Config, router};
pub use snapshot::{Paths, Snapshot};
