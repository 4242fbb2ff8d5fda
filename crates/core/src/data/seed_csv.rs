//! The seed's CSV format: one row per rating, 13 columns named by a [`ColumnMap`], any
//! common delimiter, RFC 4180 quoting (fields may hold delimiters and newlines), UTF-8.
//! Reading validates every row through a [`DatasetBuilder`]; writing produces the same
//! schema from a [`Dataset`], so generated data can exercise the reader.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::builder::{DatasetBuilder, RawRow, Rules};
use crate::data::columns::{ColumnMap, Owner, Role};
use crate::data::dataset::{Dataset, Values};
use crate::data::error::LoadError;
use crate::data::report::LoadReport;
use crate::quote::{quote, quote_list};

/// The field delimiter of a CSV file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Delimiter {
    /// Guessed from the header line: the most frequent of `,` `;` tab `|`.
    #[default]
    Auto,
    /// One given byte.
    Byte(u8),
}

impl TryFrom<String> for Delimiter {
    type Error = String;
    fn try_from(s: String) -> Result<Delimiter, String> {
        match s.as_str() {
            "auto" => Ok(Delimiter::Auto),
            "," | "comma" => Ok(Delimiter::Byte(b',')),
            ";" | "semicolon" => Ok(Delimiter::Byte(b';')),
            "\t" | "tab" => Ok(Delimiter::Byte(b'\t')),
            "|" | "pipe" => Ok(Delimiter::Byte(b'|')),
            other => Err(format!("invalid delimiter {}: expected auto, \",\", \";\", \"\\t\" or \"|\"", quote(other))),
        }
    }
}

impl From<Delimiter> for String {
    fn from(d: Delimiter) -> String {
        match d {
            Delimiter::Auto => "auto".into(),
            Delimiter::Byte(b) => (b as char).to_string(),
        }
    }
}

const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];

/// The most frequent candidate delimiter outside quotes in the first line of `head`
/// (ties go to the earlier of `,` `;` tab `|`; none found means `,`).
pub fn sniff_delimiter(head: &[u8]) -> u8 {
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for &b in head {
        match b {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = CANDIDATES.iter().position(|&c| c == b) {
                    counts[i] += 1;
                }
            }
            _ => {}
        }
    }
    let best = (0..4).max_by_key(|&i| (counts[i], std::cmp::Reverse(i))).unwrap();
    if counts[best] == 0 { b',' } else { CANDIDATES[best] }
}

/// Reads a seed-schema CSV file into a dataset, validating every row.
///
/// # Errors
/// A [`LoadError`] naming the file, and the line, column and value where there is one:
/// an empty, header-only or binary file, a missing required column, a ragged row, an
/// unterminated quote, or (by policy) an invalid value or a duplicate rating.
pub fn read(
    path: &Path,
    delimiter: Delimiter,
    columns: &ColumnMap,
    rules: Rules,
) -> Result<(Dataset, LoadReport), LoadError> {
    let io = |source| LoadError::Io { path: path.to_owned(), source };
    if let Some((header, first, second)) = columns.shared_header() {
        return Err(LoadError::SharedHeader { header: header.to_owned(), first: first.name(), second: second.name() });
    }
    let mut file = File::open(path).map_err(io)?;
    let mut head = Vec::with_capacity(64 * 1024);
    (&mut file).take(64 * 1024).read_to_end(&mut head).map_err(io)?;
    check_text(path, &head)?;
    let delimiter = match delimiter {
        Delimiter::Auto => sniff_delimiter(head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&head)),
        Delimiter::Byte(b) => b,
    };
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(true)
        .flexible(false)
        .from_reader(BufReader::with_capacity(1 << 20, file));
    let headers = reader.byte_headers().map_err(|e| csv_error(path, e))?.clone();
    let names = header_names(path, &headers)?;
    if names.iter().all(String::is_empty) {
        return Err(LoadError::Empty { path: path.to_owned() });
    }
    let (present, positions) = map_columns(path, &names, columns)?;
    let mut builder = DatasetBuilder::new(path, rules, &present);

    let mut record = csv::ByteRecord::new();
    let mut last_start = (0u64, 1u64);
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                // A quote left open swallows the rest of the file into one short record:
                // say so rather than report the wrong number of fields.
                if let Some(pos) = e.position() {
                    check_closed_from(path, pos.byte(), pos.line())?;
                }
                return Err(csv_error(path, e));
            }
        }
        let pos = record.position().expect("records read from a reader have a position");
        let line = pos.line();
        last_start = (pos.byte(), line);
        let mut row: RawRow<'_> = [None; Role::ALL.len()];
        for (role, &col) in present.iter().map(|(r, _)| r).zip(&positions) {
            let bytes = record.get(col).unwrap_or_default();
            let text = std::str::from_utf8(bytes).map_err(|_| LoadError::NotText {
                path: path.to_owned(),
                detail: format!(
                    "line {line}, column {} is not valid UTF-8 (save the file as UTF-8)",
                    quote(&names[col])
                ),
            })?;
            row[role.index()] = Some(text);
        }
        builder.push(line, &row)?;
    }
    if builder.rows_read() == 0 {
        return Err(LoadError::HeaderOnly { path: path.to_owned() });
    }
    check_closed_from(path, last_start.0, last_start.1)?;
    builder.finish()
}

/// A NUL byte or invalid UTF-8 in the first block means the file is not text.
fn check_text(path: &Path, head: &[u8]) -> Result<(), LoadError> {
    let not_text = |detail: String| LoadError::NotText { path: path.to_owned(), detail };
    if head.is_empty() {
        return Err(LoadError::Empty { path: path.to_owned() });
    }
    if let Some(at) = head.iter().position(|&b| b == 0) {
        return Err(not_text(format!("NUL byte at offset {at}; expected UTF-8 CSV")));
    }
    if let Err(e) = std::str::from_utf8(head) {
        // An error at the very end may be a character cut by the block boundary.
        if e.error_len().is_some() {
            let line = 1 + head[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count();
            return Err(not_text(format!("invalid UTF-8 on line {line} (save the file as UTF-8)")));
        }
    }
    Ok(())
}

fn header_names(path: &Path, headers: &csv::ByteRecord) -> Result<Vec<String>, LoadError> {
    headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let h = if i == 0 { h.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(h) } else { h };
            std::str::from_utf8(h).map(|s| s.trim().to_owned()).map_err(|_| LoadError::NotText {
                path: path.to_owned(),
                detail: format!("header column {} is not valid UTF-8", i + 1),
            })
        })
        .collect()
}

/// The present roles with their headers, and the position of each in the file.
#[allow(clippy::type_complexity)]
fn map_columns(
    path: &Path,
    names: &[String],
    columns: &ColumnMap,
) -> Result<(Vec<(Role, String)>, Vec<usize>), LoadError> {
    let mut present = Vec::new();
    let mut positions = Vec::new();
    for role in Role::ALL {
        let Some(header) = columns.header(role) else { continue };
        let mut found = names.iter().enumerate().filter(|(_, n)| *n == header).map(|(i, _)| i);
        match (found.next(), found.next()) {
            (Some(first), Some(second)) => {
                return Err(LoadError::DuplicateHeader {
                    path: path.to_owned(),
                    header: header.to_owned(),
                    first: first + 1,
                    second: second + 1,
                });
            }
            (Some(i), None) => {
                present.push((role, header.to_owned()));
                positions.push(i);
            }
            (None, _) if role.is_required() => {
                let found = quote_list(names.iter().map(String::as_str));
                return Err(LoadError::MissingColumn {
                    path: path.to_owned(),
                    role: role.name(),
                    header: header.to_owned(),
                    found,
                });
            }
            (None, _) => {}
        }
    }
    Ok((present, positions))
}

/// The load error for a CSV parser's error in the file at `path` (also used by `movielens`).
pub(crate) fn csv_error(path: &Path, e: csv::Error) -> LoadError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        csv::ErrorKind::Io(source) => LoadError::Io { path: path.to_owned(), source },
        csv::ErrorKind::UnequalLengths { pos, expected_len, len } => LoadError::Ragged {
            path: path.to_owned(),
            line: pos.map_or(line, |p| p.line()),
            expected: expected_len as usize,
            found: len as usize,
        },
        csv::ErrorKind::Utf8 { .. } => {
            LoadError::NotText { path: path.to_owned(), detail: format!("line {line} is not valid UTF-8") }
        }
        other => LoadError::Malformed { path: path.to_owned(), line, detail: format!("{other:?}") },
    }
}

/// The CSV parser ends a quoted field at the end of the file without complaint: an odd
/// number of quote characters from the record starting at `byte` to the end of the file
/// means a quote was never closed.
fn check_closed_from(path: &Path, byte: u64, line: u64) -> Result<(), LoadError> {
    let io = |source| LoadError::Io { path: path.to_owned(), source };
    let mut f = File::open(path).map_err(io)?;
    f.seek(SeekFrom::Start(byte)).map_err(io)?;
    let mut quotes = 0u64;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        quotes += buf[..n].iter().filter(|&&b| b == b'"').count() as u64;
    }
    if quotes % 2 == 1 {
        return Err(LoadError::UnterminatedQuote { path: path.to_owned(), line });
    }
    Ok(())
}

/// Writes `data` as a seed-schema CSV: one row per rating, with the headers of `columns`
/// for every role the dataset has.
///
/// # Errors
/// Any error of the underlying writer.
pub fn write(data: &Dataset, columns: &ColumnMap, delimiter: u8, out: impl Write) -> std::io::Result<()> {
    let mut w = csv::WriterBuilder::new().delimiter(delimiter).from_writer(out);
    let ratings = &data.ratings;
    let roles: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|&r| {
            columns.header(r).is_some()
                && (r.is_required()
                    || match r.owner() {
                        Owner::Rating => data.extras.get(r).is_some(),
                        Owner::User => data.user_attrs.get(r).is_some(),
                        Owner::Movie => data.movie_attrs.get(r).is_some(),
                    })
        })
        .collect();
    w.write_record(roles.iter().map(|&r| columns.header(r).expect("filtered")))?;
    let mut field = String::new();
    let mut record: Vec<String> = vec![String::new(); roles.len()];
    for row in 0..ratings.len() {
        let (u, m) = (ratings.user()[row], ratings.movie()[row]);
        for (slot, &role) in record.iter_mut().zip(&roles) {
            field.clear();
            match role {
                Role::UserId => field.push_str(ratings.users().raw(u.0)),
                Role::MovieId => field.push_str(ratings.movies().raw(m.0)),
                Role::Score => push_number(&mut field, ratings.score()[row]),
                _ => {
                    let (attrs, i) = match role.owner() {
                        Owner::Rating => (&data.extras, row),
                        Owner::User => (&data.user_attrs, u.get()),
                        Owner::Movie => (&data.movie_attrs, m.get()),
                    };
                    match attrs.get(role).expect("filtered") {
                        Values::Text(v) => field.push_str(v[i].as_deref().unwrap_or("")),
                        Values::Number(v) => {
                            if let Some(x) = v[i] {
                                push_number(&mut field, x)
                            }
                        }
                        Values::Count(v) => {
                            if let Some(x) = v[i] {
                                field.push_str(&x.to_string())
                            }
                        }
                    }
                }
            }
            slot.clone_from(&field);
        }
        w.write_record(&record)?;
    }
    w.flush()
}

fn push_number(s: &mut String, x: f64) {
    use std::fmt::Write as _;
    let _ = write!(s, "{x}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_the_most_frequent_delimiter_outside_quotes() {
        assert_eq!(sniff_delimiter(b"a;b;c\n1,2;3"), b';');
        assert_eq!(sniff_delimiter(b"\"a,b,c\"\tx\ty\n"), b'\t');
        assert_eq!(sniff_delimiter(b"a,b|c\n"), b',');
        assert_eq!(sniff_delimiter(b"abc\n"), b',');
    }

    #[test]
    fn delimiter_params() {
        assert_eq!(Delimiter::try_from("tab".to_owned()), Ok(Delimiter::Byte(b'\t')));
        assert_eq!(Delimiter::try_from(";".to_owned()), Ok(Delimiter::Byte(b';')));
        assert!(Delimiter::try_from("::".to_owned()).is_err());
    }
}
