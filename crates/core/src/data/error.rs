//! The ways reading a ratings source can fail, each naming what the user must fix.

use std::path::PathBuf;

use crate::quote::{cut, quote};

/// A source that cannot be loaded. Every variant names the file and, where there is one,
/// the line, column and value.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // the fields are what the messages name
pub enum LoadError {
    #[error("failed to read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is empty: expected a header line and rating rows")]
    Empty { path: PathBuf },
    #[error("{path} has a header but no rating rows")]
    HeaderOnly { path: PathBuf },
    #[error("{path} is not a text file: {}", cut(.detail))]
    NotText { path: PathBuf, detail: String },
    #[error(
        "{path}: required column {} (role {role}) is missing; headers found: {}; \
         map the role to one of them under the source's `columns` in params.yaml",
        quote(.header),
        .found
    )]
    MissingColumn {
        path: PathBuf,
        role: &'static str,
        header: String,
        /// The headers, as [`crate::quote::quote_list`] gives them.
        found: String,
    },
    #[error("{path}: column {} appears twice in the header (columns {first} and {second})", quote(.header))]
    DuplicateHeader { path: PathBuf, header: String, first: usize, second: usize },
    #[error("invalid column mapping: roles {first} and {second} are both mapped to {}", quote(.header))]
    SharedHeader { header: String, first: &'static str, second: &'static str },
    #[error("{path}: line {line}: expected {expected} fields as in the header, found {found}")]
    Ragged { path: PathBuf, line: u64, expected: usize, found: usize },
    #[error("{path}: line {line}: a quoted field is never closed (the file ends inside quotes)")]
    UnterminatedQuote { path: PathBuf, line: u64 },
    #[error("{path}: line {line}: malformed CSV: {}", cut(.detail))]
    Malformed { path: PathBuf, line: u64, detail: String },
    #[error("{path}: line {line}, column {}: invalid value {}: expected {expected}", quote(.column), quote(.value))]
    InvalidValue { path: PathBuf, line: u64, column: String, value: String, expected: String },
    #[error(
        "{path}: line {line}: user {} already rated movie {} at line {first_line} \
         (on_duplicate is fail)",
        quote(.user),
        quote(.movie)
    )]
    DuplicateRating { path: PathBuf, line: u64, first_line: u64, user: String, movie: String },
    #[error("{path}: every one of the {rows} rows was rejected; the first: {first}")]
    NothingKept { path: PathBuf, rows: u64, first: String },
    #[error("{path}: {}", cut(.detail))]
    Layout { path: PathBuf, detail: String },
}
