//! The public MovieLens layouts: ml-100k (`u.data`, tab-separated `user item rating
//! timestamp`, with titles in `u.item`, Latin-1, `|`-separated) and ml-latest / 25M / 32M
//! (`ratings.csv` with `userId,movieId,rating,timestamp`, titles in `movies.csv`).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use crate::data::builder::{DatasetBuilder, RawRow, Rules};
use crate::data::columns::Role;
use crate::data::dataset::Dataset;
use crate::data::error::LoadError;
use crate::data::report::LoadReport;
use crate::data::seed_csv::csv_error;
use crate::quote::quote_list;

/// Which MovieLens layout a folder holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// ml-100k: `u.data` and `u.item`.
    Ml100k,
    /// ml-latest, ml-latest-small, ml-25m, ml-32m: `ratings.csv` and `movies.csv`.
    MlLatest,
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layout::Ml100k => "ml-100k",
            Layout::MlLatest => "ml-latest",
        })
    }
}

/// The layout of the MovieLens folder `dir`.
///
/// # Errors
/// [`LoadError::Layout`] when the folder holds neither `u.data` nor `ratings.csv`.
pub fn detect(dir: &Path) -> Result<Layout, LoadError> {
    if dir.join("u.data").is_file() {
        Ok(Layout::Ml100k)
    } else if dir.join("ratings.csv").is_file() {
        Ok(Layout::MlLatest)
    } else {
        Err(LoadError::Layout {
            path: dir.to_owned(),
            detail: "expected a MovieLens folder holding u.data (ml-100k) or ratings.csv (ml-latest, 25M, 32M)".into(),
        })
    }
}

/// ml-100k's own rules, for tests and benchmarks that read it as it is: scores 1 to 5, an
/// invalid or repeated rating an error (the file has none).
pub fn ml100k_rules() -> Rules {
    use crate::data::builder::{DuplicatePolicy, InvalidPolicy};
    Rules {
        scale: crate::data::scale::RatingScale::new(1.0, 5.0).expect("1 to 5 is a scale"),
        on_invalid: InvalidPolicy::Fail,
        on_duplicate: DuplicatePolicy::Fail,
    }
}

/// Reads the MovieLens folder `dir` in its detected layout.
///
/// # Errors
/// A [`LoadError`] naming the file and line of the first problem.
pub fn read(dir: &Path, rules: Rules) -> Result<(Dataset, LoadReport, Layout), LoadError> {
    let layout = detect(dir)?;
    let (d, r) = match layout {
        Layout::Ml100k => read_100k(dir, rules)?,
        Layout::MlLatest => read_latest(dir, rules)?,
    };
    Ok((d, r, layout))
}

fn open(path: &Path) -> Result<File, LoadError> {
    File::open(path).map_err(|source| LoadError::Io { path: path.to_owned(), source })
}

fn read_100k(dir: &Path, rules: Rules) -> Result<(Dataset, LoadReport), LoadError> {
    let item = dir.join("u.item");
    let titles = if item.is_file() { Some(titles_100k(&item)?) } else { None };
    let path = dir.join("u.data");
    let mut present = vec![(Role::UserId, "user id".to_owned()), (Role::MovieId, "item id".to_owned())];
    if titles.is_some() {
        present.push((Role::Title, "title (u.item)".to_owned()));
    }
    present.push((Role::Score, "rating".to_owned()));
    let mut builder = DatasetBuilder::new(&path, rules, &present);
    let reader = BufReader::with_capacity(1 << 20, open(&path)?);
    for (i, line) in reader.split(b'\n').enumerate() {
        let line_no = i as u64 + 1;
        let bytes = line.map_err(|source| LoadError::Io { path: path.clone(), source })?;
        let text = std::str::from_utf8(&bytes).map_err(|_| not_text(&path, line_no))?;
        let text = text.strip_suffix('\r').unwrap_or(text);
        if text.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = text.split('\t').collect();
        if fields.len() != 4 {
            return Err(LoadError::Ragged { path, line: line_no, expected: 4, found: fields.len() });
        }
        let mut row: RawRow<'_> = [None; Role::ALL.len()];
        row[Role::UserId.index()] = Some(fields[0]);
        row[Role::MovieId.index()] = Some(fields[1]);
        row[Role::Score.index()] = Some(fields[2]);
        if let Some(t) = &titles {
            row[Role::Title.index()] = Some(t.get(fields[1].trim()).map_or("", String::as_str));
        }
        builder.push(line_no, &row)?;
    }
    finish(builder, &path)
}

/// `u.item` is Latin-1 and `|`-separated: `id|title|release date|...`.
fn titles_100k(path: &Path) -> Result<HashMap<String, String>, LoadError> {
    let mut bytes = Vec::new();
    open(path)?.read_to_end(&mut bytes).map_err(|source| LoadError::Io { path: path.to_owned(), source })?;
    let text: String = bytes.iter().map(|&b| b as char).collect();
    let mut titles = HashMap::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut fields = line.split('|');
        match (fields.next(), fields.next()) {
            (Some(id), Some(title)) => {
                titles.insert(id.trim().to_owned(), title.trim().to_owned());
            }
            _ => {
                return Err(LoadError::Ragged { path: path.to_owned(), line: i as u64 + 1, expected: 24, found: 1 });
            }
        }
    }
    Ok(titles)
}

fn read_latest(dir: &Path, rules: Rules) -> Result<(Dataset, LoadReport), LoadError> {
    let movies = dir.join("movies.csv");
    let titles = if movies.is_file() { Some(titles_latest(&movies)?) } else { None };
    let path = dir.join("ratings.csv");
    let mut reader = csv_reader(&path)?;
    let names = headers(&path, &mut reader)?;
    let col = |name: &'static str, role: Role| {
        names.iter().position(|n| n == name).ok_or_else(|| LoadError::MissingColumn {
            path: path.clone(),
            role: role.name(),
            header: name.to_owned(),
            found: quote_list(names.iter().map(String::as_str)),
        })
    };
    let (cu, cm, cr) = (col("userId", Role::UserId)?, col("movieId", Role::MovieId)?, col("rating", Role::Score)?);
    let mut present = vec![(Role::UserId, "userId".to_owned()), (Role::MovieId, "movieId".to_owned())];
    if titles.is_some() {
        present.push((Role::Title, "title (movies.csv)".to_owned()));
    }
    present.push((Role::Score, "rating".to_owned()));
    let mut builder = DatasetBuilder::new(&path, rules, &present);
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => return Err(csv_error(&path, e)),
        }
        let line = record.position().map_or(0, |p| p.line());
        let mut row: RawRow<'_> = [None; Role::ALL.len()];
        row[Role::UserId.index()] = record.get(cu);
        row[Role::MovieId.index()] = record.get(cm);
        row[Role::Score.index()] = record.get(cr);
        if let Some(t) = &titles {
            let id = record.get(cm).unwrap_or_default().trim();
            row[Role::Title.index()] = Some(t.get(id).map_or("", String::as_str));
        }
        builder.push(line, &row)?;
    }
    finish(builder, &path)
}

fn titles_latest(path: &Path) -> Result<HashMap<String, String>, LoadError> {
    let mut reader = csv_reader(path)?;
    let names = headers(path, &mut reader)?;
    let find = |name: &str| {
        names.iter().position(|n| n == name).ok_or_else(|| LoadError::MissingColumn {
            path: path.to_owned(),
            role: if name == "title" { Role::Title.name() } else { Role::MovieId.name() },
            header: name.to_owned(),
            found: quote_list(names.iter().map(String::as_str)),
        })
    };
    let (ci, ct) = (find("movieId")?, find("title")?);
    let mut titles = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(path, e))?;
        titles.insert(
            record.get(ci).unwrap_or_default().trim().to_owned(),
            record.get(ct).unwrap_or_default().trim().to_owned(),
        );
    }
    Ok(titles)
}

fn csv_reader(path: &Path) -> Result<csv::Reader<BufReader<File>>, LoadError> {
    Ok(csv::ReaderBuilder::new().flexible(false).from_reader(BufReader::with_capacity(1 << 20, open(path)?)))
}

fn headers(path: &Path, reader: &mut csv::Reader<BufReader<File>>) -> Result<Vec<String>, LoadError> {
    let h = reader.headers().map_err(|e| csv_error(path, e))?;
    if h.is_empty() || (h.len() == 1 && h[0].trim().is_empty()) {
        return Err(LoadError::Empty { path: path.to_owned() });
    }
    Ok(h.iter().map(|s| s.trim_start_matches('\u{feff}').trim().to_owned()).collect())
}

fn not_text(path: &Path, line: u64) -> LoadError {
    LoadError::NotText { path: path.to_owned(), detail: format!("line {line} is not valid UTF-8") }
}

fn finish(builder: DatasetBuilder, path: &Path) -> Result<(Dataset, LoadReport), LoadError> {
    if builder.rows_read() == 0 {
        return Err(LoadError::Empty { path: path.to_owned() });
    }
    builder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::builder::{DuplicatePolicy, InvalidPolicy};
    use crate::data::scale::RatingScale;

    fn rules(lo: f64, hi: f64) -> Rules {
        Rules {
            scale: RatingScale::new(lo, hi).unwrap(),
            on_invalid: InvalidPolicy::Reject,
            on_duplicate: DuplicatePolicy::Keep,
        }
    }

    #[test]
    fn reads_ml_100k_with_latin1_titles() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("u.data"), "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t242\t9\t1\n")
            .unwrap();
        std::fs::write(dir.path().join("u.item"), b"242|Kolya (1996)|24-Jan-1997||http://x|0\n302|L.A. Confidential (1997)|01-Jan-1997||x|0\n303|Cin\xe9ma (1990)|x||x|0\n").unwrap();
        let (d, rep, layout) = read(dir.path(), rules(1.0, 5.0)).unwrap();
        assert_eq!(layout, Layout::Ml100k);
        assert_eq!((rep.rows_read, rep.rows_kept), (3, 2));
        assert_eq!(rep.first_rejections[0].line, 3);
        assert_eq!(d.ratings.users().iter().collect::<Vec<_>>(), ["196", "186"]);
        let titles = d.movie_attrs.get(Role::Title).unwrap();
        assert_eq!(
            *titles,
            crate::data::dataset::Values::Text(vec![
                Some("Kolya (1996)".into()),
                Some("L.A. Confidential (1997)".into())
            ])
        );
        let t = titles_100k(&dir.path().join("u.item")).unwrap();
        assert_eq!(t["303"], "Cinéma (1990)");
    }

    #[test]
    fn reads_ml_latest_with_quoted_titles() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("ratings.csv"),
            "userId,movieId,rating,timestamp\n1,1,4.0,964982703\n1,3,0.5,964981247\n2,1,5.0,1\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("movies.csv"),
            "movieId,title,genres\n1,Toy Story (1995),Animation\n3,\"American President, The (1995)\",Comedy\n",
        )
        .unwrap();
        let (d, rep, layout) = read(dir.path(), rules(0.5, 5.0)).unwrap();
        assert_eq!(layout, Layout::MlLatest);
        assert_eq!(rep.rows_kept, 3);
        assert_eq!(d.ratings.score(), [4.0, 0.5, 5.0]);
        let titles = d.movie_attrs.get(Role::Title).unwrap();
        assert_eq!(
            *titles,
            crate::data::dataset::Values::Text(vec![
                Some("Toy Story (1995)".into()),
                Some("American President, The (1995)".into())
            ])
        );
    }

    #[test]
    fn a_folder_without_ratings_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let e = read(dir.path(), rules(1.0, 5.0)).unwrap_err().to_string();
        assert!(e.contains("u.data") && e.contains("ratings.csv"), "{e}");
    }
}
