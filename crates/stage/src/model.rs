//! Reading a model file at a stage's edge, with the path in every error.

use std::path::Path;

use anyhow::Context;
use movierec_core::models::Recommender;
use movierec_core::models::artifact::{self, Provenance};

/// Reads and checks the model file at `path`.
///
/// # Errors
/// If the file cannot be read, or is not a valid model (the message says why and names it).
pub fn read(path: &Path) -> anyhow::Result<(Recommender, Provenance)> {
    let bytes = std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
    artifact::read(&bytes).with_context(|| format!("cannot use the model {}", path.display()))
}

/// As [`read`], with the file's checksum ([`artifact::checksum`]).
///
/// # Errors
/// As [`read`].
pub fn read_with_checksum(path: &Path) -> anyhow::Result<(Recommender, Provenance, String)> {
    let bytes = std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
    let (model, provenance) =
        artifact::read(&bytes).with_context(|| format!("cannot use the model {}", path.display()))?;
    Ok((model, provenance, artifact::checksum(&bytes).expect("a valid model file ends with its checksum")))
}
