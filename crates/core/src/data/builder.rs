//! Turns raw rows from any source into a [`Dataset`], applying the validation rules and the
//! policies for invalid values and duplicate ratings.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::columns::{Kind, Role};
use crate::data::dataset::{Dataset, Value};
use crate::data::error::LoadError;
use crate::data::report::{LoadReport, RejectReason, Rejection};
use crate::data::scale::RatingScale;
use crate::data::stats::ScoreStats;
use crate::quote::quote;

/// What to do with a row holding a value that does not parse or a score outside the scale.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvalidPolicy {
    /// Drop the row, count it by reason and list it in the report.
    #[default]
    Reject,
    /// Stop with an error naming the line, column and value.
    Fail,
}

/// What to do when a (user, movie) pair is rated more than once.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DuplicatePolicy {
    /// Keep every row, as Surprise does (it trains on both): the original system's behaviour.
    #[default]
    Keep,
    /// Keep the first row of the pair, reject the later ones.
    First,
    /// Keep the last row of the pair, reject the earlier ones.
    Last,
    /// Stop with an error naming both lines.
    Fail,
}

/// The rules every row is checked against.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rules {
    /// Scores outside this scale are invalid.
    pub scale: RatingScale,
    /// What to do with invalid rows.
    pub on_invalid: InvalidPolicy,
    /// What to do with duplicate pairs.
    pub on_duplicate: DuplicatePolicy,
}

/// One raw row: the text of each role's field (`None` where the source has no such column).
pub type RawRow<'a> = [Option<&'a str>; Role::ALL.len()];

/// Accumulates validated rows into a [`Dataset`] and a [`LoadReport`].
#[derive(Debug)]
pub struct DatasetBuilder {
    path: PathBuf,
    rules: Rules,
    headers: [Option<String>; Role::ALL.len()],
    /// The optional roles the source has, in role order (the order of the attribute columns).
    optional: Vec<Role>,
    data: Dataset,
    lines: Vec<u64>,
    report: LoadReport,
}

impl DatasetBuilder {
    /// A builder for a source at `path` whose columns are `present` (role and header name).
    pub fn new(path: &Path, rules: Rules, present: &[(Role, String)]) -> DatasetBuilder {
        let mut headers: [Option<String>; Role::ALL.len()] = Default::default();
        for (role, header) in present {
            headers[role.index()] = Some(header.clone());
        }
        let optional = Role::ALL.into_iter().filter(|r| !r.is_required() && headers[r.index()].is_some()).collect();
        DatasetBuilder {
            path: path.to_owned(),
            rules,
            headers,
            optional,
            data: Dataset::empty(rules.scale, present.iter().map(|(r, _)| *r)),
            lines: Vec::new(),
            report: LoadReport::default(),
        }
    }

    fn header(&self, role: Role) -> &str {
        self.headers[role.index()].as_deref().unwrap_or(role.name())
    }

    /// Checks one row and appends it, or rejects it by the invalid-value policy.
    ///
    /// # Errors
    /// [`LoadError::InvalidValue`] for an invalid row when the policy is `fail`.
    pub fn push(&mut self, line: u64, row: &RawRow<'_>) -> Result<(), LoadError> {
        self.report.rows_read += 1;
        match self.check(row) {
            Ok((score, values)) => {
                self.append(line, row, score, values);
                Ok(())
            }
            Err((role, reason)) => {
                let value = row[role.index()].unwrap_or("").to_owned();
                let column = self.header(role).to_owned();
                if self.rules.on_invalid == InvalidPolicy::Fail {
                    let expected = match reason {
                        RejectReason::OutOfScale => {
                            format!("a score between {} and {}", self.rules.scale.min(), self.rules.scale.max())
                        }
                        r => r.expected().to_owned(),
                    };
                    return Err(LoadError::InvalidValue { path: self.path.clone(), line, column, value, expected });
                }
                self.report.reject(Rejection { line, column, value, reason });
                Ok(())
            }
        }
    }

    /// Parses every present optional value and the score; the first problem found wins.
    /// Text stays borrowed: most rows repeat a known movie's attributes, which are not kept.
    #[allow(clippy::type_complexity)]
    fn check<'a>(&self, row: &RawRow<'a>) -> Result<(f64, Vec<Option<Field<'a>>>), (Role, RejectReason)> {
        for role in [Role::UserId, Role::MovieId] {
            if row[role.index()].is_none_or(|s| s.trim().is_empty()) {
                return Err((role, RejectReason::MissingValue));
            }
        }
        let score = match row[Role::Score.index()].map(str::trim) {
            None | Some("") => return Err((Role::Score, RejectReason::MissingValue)),
            Some(s) => parse_number(s).ok_or((Role::Score, RejectReason::NotANumber))?,
        };
        if !self.rules.scale.contains(score) {
            return Err((Role::Score, RejectReason::OutOfScale));
        }
        let mut values = Vec::new();
        for &role in &self.optional {
            let raw = row[role.index()].unwrap_or_default().trim();
            let v = if raw.is_empty() {
                None
            } else {
                Some(match role.kind() {
                    Kind::Text => Field::Text(raw),
                    Kind::Number => Field::Number(parse_number(raw).ok_or((role, RejectReason::NotANumber))?),
                    Kind::Count => Field::Count(parse_count(raw).ok_or((role, RejectReason::NotACount))?),
                })
            };
            values.push(v);
        }
        Ok((score, values))
    }

    fn append(&mut self, line: u64, row: &RawRow<'_>, score: f64, values: Vec<Option<Field<'_>>>) {
        let user = row[Role::UserId.index()].unwrap_or_default().trim();
        let movie = row[Role::MovieId.index()].unwrap_or_default().trim();
        let (n_users, n_movies) = (self.data.ratings.users().len(), self.data.ratings.movies().len());
        let (u, m) = self.data.ratings.push(user, movie, score);
        self.lines.push(line);
        // `values` holds the present optional roles in role order, as do the attribute tables.
        let mut values = values.into_iter();
        for k in 0..self.optional.len() {
            let role = self.optional[k];
            let v = values.next().expect("one value per present optional role");
            let (attrs, index, new) = match role.owner() {
                crate::data::columns::Owner::Rating => (&mut self.data.extras, 0, true),
                crate::data::columns::Owner::User => (&mut self.data.user_attrs, u.get(), u.get() == n_users),
                crate::data::columns::Owner::Movie => (&mut self.data.movie_attrs, m.get(), m.get() == n_movies),
            };
            let col = &mut attrs.columns_mut().iter_mut().find(|(r, _)| *r == role).expect("column").1;
            if new {
                col.push(v.map(Field::to_value));
            } else if let Some(v) = v
                && col.is_missing(index)
            {
                col.fill(index, v.to_value());
            }
        }
    }

    /// Rows offered so far, kept or not.
    pub fn rows_read(&self) -> u64 {
        self.report.rows_read
    }

    /// Applies the duplicate policy and returns the dataset and its report.
    ///
    /// # Errors
    /// [`LoadError::DuplicateRating`] when the policy is `fail` and a pair repeats;
    /// [`LoadError::NothingKept`] when no row survives.
    pub fn finish(mut self) -> Result<(Dataset, LoadReport), LoadError> {
        self.apply_duplicate_policy()?;
        let ratings = &self.data.ratings;
        self.report.rows_kept = ratings.len() as u64;
        if ratings.is_empty() {
            let first = self.report.first_rejections.first().map_or_else(
                || "no rows".to_owned(),
                |r| {
                    format!(
                        "line {}, column {}: {} ({})",
                        r.line,
                        quote(&r.column),
                        quote(&r.value),
                        r.reason.expected()
                    )
                },
            );
            return Err(LoadError::NothingKept { path: self.path, rows: self.report.rows_read, first });
        }
        self.report.stats = ScoreStats::of(ratings);
        Ok((self.data, self.report))
    }

    /// Finds repeated (user, movie) pairs in O(n): rows grouped by user with a counting sort,
    /// then one marker per movie.
    fn apply_duplicate_policy(&mut self) -> Result<(), LoadError> {
        let ratings = &self.data.ratings;
        let n = ratings.len();
        let (by_user, start) = ratings.rows_by_user();
        let reverse = self.rules.on_duplicate == DuplicatePolicy::Last;
        let mut seen_by = vec![u32::MAX; ratings.movies().len()];
        let mut seen_row = vec![0u32; ratings.movies().len()];
        let mut keep = vec![true; n];
        let mut earliest: Option<(u64, usize, usize)> = None;
        for u in 0..start.len() - 1 {
            let rows = &by_user[start[u]..start[u + 1]];
            let mut visit = |r: u32| {
                let m = ratings.movie()[r as usize].get();
                if seen_by[m] == u as u32 {
                    keep[r as usize] = false;
                    let (a, b) = (seen_row[m] as usize, r as usize);
                    let (first, later) = if a < b { (a, b) } else { (b, a) };
                    if earliest.is_none_or(|(l, _, _)| self.lines[later] < l) {
                        earliest = Some((self.lines[later], first, later));
                    }
                } else {
                    seen_by[m] = u as u32;
                    seen_row[m] = r;
                }
            };
            if reverse {
                rows.iter().rev().for_each(|&r| visit(r));
            } else {
                rows.iter().for_each(|&r| visit(r));
            }
        }
        let duplicates = keep.iter().filter(|k| !**k).count();
        self.report.duplicate_rows = duplicates as u64;
        if duplicates == 0 {
            return Ok(());
        }
        match self.rules.on_duplicate {
            DuplicatePolicy::Keep => Ok(()),
            DuplicatePolicy::Fail => {
                let (line, first, _) = earliest.expect("a duplicate was found");
                Err(LoadError::DuplicateRating {
                    path: self.path.clone(),
                    line,
                    first_line: self.lines[first],
                    user: ratings.users().raw(ratings.user()[first].0).to_owned(),
                    movie: ratings.movies().raw(ratings.movie()[first].0).to_owned(),
                })
            }
            DuplicatePolicy::First | DuplicatePolicy::Last => {
                let column = format!("{}, {}", self.header(Role::UserId), self.header(Role::MovieId));
                for r in (0..n).filter(|&r| !keep[r]) {
                    let value = format!(
                        "{}, {}",
                        ratings.users().raw(ratings.user()[r].0),
                        ratings.movies().raw(ratings.movie()[r].0)
                    );
                    let rejection = Rejection {
                        line: self.lines[r],
                        column: column.clone(),
                        value,
                        reason: RejectReason::Duplicate,
                    };
                    self.report.reject(rejection);
                }
                self.data.ratings.retain(&keep);
                self.data.extras.retain(&keep);
                let mut k = keep.iter();
                self.lines.retain(|_| *k.next().unwrap());
                Ok(())
            }
        }
    }
}

/// A checked value, borrowing its text from the row.
#[derive(Clone, Copy, Debug)]
enum Field<'a> {
    Text(&'a str),
    Number(f64),
    Count(u64),
}

impl Field<'_> {
    fn to_value(self) -> Value {
        match self {
            Field::Text(s) => Value::Text(s.to_owned()),
            Field::Number(x) => Value::Number(x),
            Field::Count(x) => Value::Count(x),
        }
    }
}

/// A finite decimal number; a single decimal comma (`47,15`) is accepted as a decimal point.
pub fn parse_number(s: &str) -> Option<f64> {
    let v = match s.parse::<f64>() {
        Ok(v) => v,
        Err(_) if s.matches(',').count() == 1 && !s.contains('.') => s.replace(',', ".").parse().ok()?,
        Err(_) => return None,
    };
    v.is_finite().then_some(v)
}

/// A whole number of zero or more; `1234.0` (as pandas writes integer columns with gaps) is
/// accepted.
pub fn parse_count(s: &str) -> Option<u64> {
    if let Ok(v) = s.parse::<u64>() {
        return Some(v);
    }
    let v = s.parse::<f64>().ok()?;
    (v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 9.0e15).then_some(v as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(on_invalid: InvalidPolicy, on_duplicate: DuplicatePolicy) -> Rules {
        Rules { scale: RatingScale::SEED, on_invalid, on_duplicate }
    }

    fn row<'a>(user: &'a str, movie: &'a str, score: &'a str, title: Option<&'a str>) -> RawRow<'a> {
        let mut r: RawRow<'a> = [None; Role::ALL.len()];
        r[Role::UserId.index()] = Some(user);
        r[Role::MovieId.index()] = Some(movie);
        r[Role::Score.index()] = Some(score);
        r[Role::Title.index()] = title;
        r
    }

    fn builder(r: Rules) -> DatasetBuilder {
        let present = [
            (Role::UserId, "u".to_owned()),
            (Role::MovieId, "m".to_owned()),
            (Role::Score, "s".to_owned()),
            (Role::Title, "t".to_owned()),
        ];
        DatasetBuilder::new(Path::new("x.csv"), r, &present)
    }

    #[test]
    fn rejects_by_reason_and_keeps_the_rest() {
        let mut b = builder(rules(InvalidPolicy::Reject, DuplicatePolicy::Keep));
        b.push(2, &row("1", "a", "50", Some("A"))).unwrap();
        b.push(3, &row("1", "b", "abc", None)).unwrap();
        b.push(4, &row("2", "a", "101", None)).unwrap();
        b.push(5, &row("", "a", "3", None)).unwrap();
        b.push(6, &row("2", "b", "47,5", Some("B"))).unwrap();
        let (d, rep) = b.finish().unwrap();
        assert_eq!((rep.rows_read, rep.rows_kept, rep.rows_rejected), (5, 2, 3));
        assert_eq!(rep.rejected_by_reason[&RejectReason::NotANumber], 1);
        assert_eq!(rep.rejected_by_reason[&RejectReason::OutOfScale], 1);
        assert_eq!(rep.rejected_by_reason[&RejectReason::MissingValue], 1);
        assert_eq!(
            rep.first_rejections[0],
            Rejection { line: 3, column: "s".into(), value: "abc".into(), reason: RejectReason::NotANumber }
        );
        assert_eq!(d.ratings.score(), [50.0, 47.5]);
        // A rejected row registers no id.
        assert_eq!(d.ratings.users().len(), 2);
        let titles = d.movie_attrs.get(Role::Title).unwrap();
        assert_eq!(*titles, crate::data::dataset::Values::Text(vec![Some("A".into()), Some("B".into())]));
    }

    #[test]
    fn fail_policy_names_line_column_and_value() {
        let mut b = builder(rules(InvalidPolicy::Fail, DuplicatePolicy::Keep));
        b.push(2, &row("1", "a", "50", None)).unwrap();
        let e = b.push(3, &row("1", "b", "120", None)).unwrap_err().to_string();
        assert!(
            e.contains("line 3") && e.contains("\"s\"") && e.contains("\"120\"") && e.contains("between 0 and 100"),
            "{e}"
        );
    }

    #[test]
    fn duplicate_policies() {
        let rows = [row("1", "a", "10", None), row("2", "a", "20", None), row("1", "a", "30", None)];
        let run = |p| {
            let mut b = builder(rules(InvalidPolicy::Reject, p));
            for (i, r) in rows.iter().enumerate() {
                b.push(i as u64 + 2, r).unwrap();
            }
            b.finish()
        };
        let (d, rep) = run(DuplicatePolicy::Keep).unwrap();
        assert_eq!((d.ratings.score(), rep.duplicate_rows), (&[10.0, 20.0, 30.0][..], 1));
        let (d, rep) = run(DuplicatePolicy::First).unwrap();
        assert_eq!(d.ratings.score(), [10.0, 20.0]);
        assert_eq!(rep.first_rejections[0].line, 4);
        let (d, rep) = run(DuplicatePolicy::Last).unwrap();
        assert_eq!(d.ratings.score(), [20.0, 30.0]);
        assert_eq!(rep.first_rejections[0].line, 2);
        let e = run(DuplicatePolicy::Fail).unwrap_err().to_string();
        assert!(e.contains("line 4") && e.contains("line 2") && e.contains("\"1\""), "{e}");
    }

    #[test]
    fn all_rejected_is_an_error() {
        let mut b = builder(rules(InvalidPolicy::Reject, DuplicatePolicy::Keep));
        b.push(2, &row("1", "a", "x", None)).unwrap();
        let e = b.finish().unwrap_err().to_string();
        assert!(e.contains("every one of the 1 rows") && e.contains("line 2"), "{e}");
    }

    #[test]
    fn numbers_and_counts() {
        assert_eq!(parse_number("47.15"), Some(47.15));
        assert_eq!(parse_number("47,15"), Some(47.15));
        assert_eq!(parse_number("1,234.5"), None);
        assert_eq!(parse_number("NaN"), None);
        assert_eq!(parse_number("inf"), None);
        assert_eq!(parse_count("1234"), Some(1234));
        assert_eq!(parse_count("1234.0"), Some(1234));
        assert_eq!(parse_count("12.5"), None);
        assert_eq!(parse_count("-3"), None);
    }
}
