//! Plumbing shared by movierec's stage binaries: typed params, atomic outputs, logging,
//! progress and the error reporter. A stage's `main.rs` is an `Args` struct and a `run`
//! function; everything else it needs from the outside world comes from here.
//!
//! `serve` uses only the params, the model reader and the exit ([`cli::exit`]): without the
//! default feature `stage`, the crate leaves out the atomic outputs, the progress bars and
//! MLflow tracking, and their dependencies.

pub mod cli;
pub mod model;
#[cfg(feature = "stage")]
pub mod outputs;
pub mod params;
#[cfg(feature = "stage")]
pub mod progress;
#[cfg(feature = "stage")]
pub mod tracking;

pub use cli::{Common, main};
#[cfg(feature = "stage")]
pub use outputs::Outputs;
pub use params::Params;
