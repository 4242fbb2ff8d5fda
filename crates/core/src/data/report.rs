//! What `load` reports: rows read, kept and rejected by reason, and the score statistics.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::data::stats::ScoreStats;

/// Why a row was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// A required value (user id, movie id or score) is empty.
    MissingValue,
    /// A value that must be a finite number is not one.
    NotANumber,
    /// A value that must be a whole number of zero or more is not one.
    NotACount,
    /// The score lies outside the declared rating scale.
    OutOfScale,
    /// The (user, movie) pair was already rated, and the duplicate policy dropped the row.
    Duplicate,
}

impl RejectReason {
    /// What was expected, for messages.
    pub fn expected(self) -> &'static str {
        match self {
            RejectReason::MissingValue => "a non-empty value",
            RejectReason::NotANumber => "a finite number",
            RejectReason::NotACount => "a whole number of zero or more",
            RejectReason::OutOfScale => "a score inside the rating scale",
            RejectReason::Duplicate => "one rating per user and movie",
        }
    }
}

/// One rejected row, as listed in the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rejection {
    /// The line of the source file where the row starts (1-based, header included).
    pub line: u64,
    /// The header of the offending column.
    pub column: String,
    /// The offending value, as read.
    pub value: String,
    /// Why the row was rejected.
    pub reason: RejectReason,
}

/// The counts and statistics `load` writes to its metrics file.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct LoadReport {
    /// Data rows read from the source (the header excluded).
    pub rows_read: u64,
    /// Rows kept in the ratings table.
    pub rows_kept: u64,
    /// Rows dropped, all reasons together.
    pub rows_rejected: u64,
    /// Rows dropped, by reason.
    pub rejected_by_reason: BTreeMap<RejectReason, u64>,
    /// The first rejected rows, with line, column and value.
    pub first_rejections: Vec<Rejection>,
    /// Rows whose (user, movie) pair appears earlier in the source, whatever the policy did.
    pub duplicate_rows: u64,
    /// Statistics of the kept scores.
    pub stats: ScoreStats,
}

impl LoadReport {
    /// How many rejected rows are listed individually.
    pub const MAX_LISTED: usize = 20;

    /// Counts a rejected row; the list keeps the [`Self::MAX_LISTED`] earliest lines.
    pub fn reject(&mut self, r: Rejection) {
        self.rows_rejected += 1;
        *self.rejected_by_reason.entry(r.reason).or_default() += 1;
        let list = &mut self.first_rejections;
        let pos = list.partition_point(|x| x.line <= r.line);
        if pos < Self::MAX_LISTED {
            list.insert(pos, r);
            list.truncate(Self::MAX_LISTED);
        }
    }
}
