//! Plumbing shared by movierec's stage binaries: typed params, atomic outputs, logging,
//! progress and the error reporter. A stage's `main.rs` is an `Args` struct and a `run`
//! function; everything else it needs from the outside world comes from here.

pub mod cli;
pub mod model;
pub mod outputs;
pub mod params;
pub mod progress;
pub mod tracking;

pub use cli::{Common, main};
pub use outputs::Outputs;
pub use params::Params;
