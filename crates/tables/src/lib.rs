//! Parquet files of movierec's canonical tables, read and written through polars.
//!
//! | file | columns | one row per |
//! |---|---|---|
//! | ratings | `user_id`, `movie_id`, `score`, then the per-rating extras present | rating, in source order |
//! | users | `user_id`, `user_name` if present, `n_ratings` | user, in first-appearance order |
//! | movies | `movie_id`, the movie attributes present, `n_ratings`, `mean_score` | movie, in first-appearance order |
//! | train, test | `user_id`, `movie_id`, `score` | rating, in the split's order |
//!
//! Every file carries the rating scale in its key-value metadata (`movierec.scale.min`,
//! `movierec.scale.max`), so the scale travels with the data.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use movierec_core::data::columns::{Kind, Owner};
use movierec_core::data::dataset::{Attrs, Values};
use movierec_core::evaluation::plan::{SearchSet, SearchSetInfo};
use movierec_core::{Dataset, RatingList, RatingScale, Role};
use polars::prelude::*;

/// Metadata key of the rating scale's lower bound.
pub const SCALE_MIN_KEY: &str = "movierec.scale.min";
/// Metadata key of the rating scale's upper bound.
pub const SCALE_MAX_KEY: &str = "movierec.scale.max";

/// A table file that cannot be read or written.
#[derive(Debug, thiserror::Error)]
#[allow(missing_docs)] // the fields are what the messages name
pub enum TableError {
    #[error("failed to open {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a readable Parquet file: {source}")]
    Parquet {
        path: PathBuf,
        #[source]
        source: PolarsError,
    },
    #[error("failed to write a Parquet table: {0}")]
    Write(#[source] PolarsError),
    #[error("{path}: column {column:?} is missing or is not {expected}")]
    Column { path: PathBuf, column: &'static str, expected: &'static str },
    #[error("{path}: column {column:?} has an empty value at row {row}")]
    Null { path: PathBuf, column: &'static str, row: usize },
    #[error("{path} is not a search set ({found}; `optimize --write-search-set` writes one)")]
    NotSearchSet { path: PathBuf, found: String },
    #[error(
        "{path} has no valid rating scale in its metadata (keys {SCALE_MIN_KEY}, {SCALE_MAX_KEY}); was it written by `load`?"
    )]
    NoScale { path: PathBuf },
}

fn write_frame(df: DataFrame, scale: RatingScale, out: impl Write) -> Result<(), TableError> {
    write_frame_with(df, scale, Vec::new(), out)
}

/// Writes `df` with the rating scale and the key-value pairs `extra` in its metadata.
fn write_frame_with(
    mut df: DataFrame,
    scale: RatingScale,
    extra: Vec<(String, String)>,
    out: impl Write,
) -> Result<(), TableError> {
    let mut metadata =
        vec![(SCALE_MIN_KEY.to_owned(), scale.min().to_string()), (SCALE_MAX_KEY.to_owned(), scale.max().to_string())];
    metadata.extend(extra);
    ParquetWriter::new(out)
        .with_compression(ParquetCompression::Zstd(None))
        .with_key_value_metadata(Some(KeyValueMetadata::from_static(metadata)))
        .finish(&mut df)
        .map(|_| ())
        .map_err(TableError::Write)
}

fn frame(columns: Vec<Column>) -> Result<DataFrame, TableError> {
    DataFrame::new_infer_height(columns).map_err(TableError::Write)
}

fn values_column(name: &str, v: &Values) -> Column {
    let name = PlSmallStr::from(name);
    match v {
        Values::Text(x) => StringChunked::from_iter_options(name, x.iter().map(|s| s.as_deref())).into_column(),
        Values::Number(x) => Column::new(name, x),
        Values::Count(x) => Column::new(name, x),
    }
}

fn attrs_columns(attrs: &Attrs) -> impl Iterator<Item = Column> + '_ {
    attrs.columns().iter().map(|(role, v)| values_column(role.name(), v))
}

/// Writes the ratings table of `data`.
///
/// # Errors
/// If polars cannot encode or write the table.
pub fn write_ratings(data: &Dataset, out: impl Write) -> Result<(), TableError> {
    let all: Vec<u32> = (0..data.ratings.len() as u32).collect();
    let mut columns = rating_columns(&data.ratings, &all);
    columns.extend(attrs_columns(&data.extras));
    write_frame(frame(columns)?, data.ratings.scale(), out)
}

/// Writes the ratings at `rows` of `list`, in that order: a training or test set.
///
/// # Errors
/// If polars cannot encode or write the table.
pub fn write_rating_rows(list: &RatingList, rows: &[u32], out: impl Write) -> Result<(), TableError> {
    write_frame(frame(rating_columns(list, rows))?, list.scale(), out)
}

fn rating_columns(list: &RatingList, rows: &[u32]) -> Vec<Column> {
    let users = list.users();
    let movies = list.movies();
    let user =
        StringChunked::from_iter_values("user_id".into(), rows.iter().map(|&r| users.raw(list.user()[r as usize].0)));
    let movie = StringChunked::from_iter_values(
        "movie_id".into(),
        rows.iter().map(|&r| movies.raw(list.movie()[r as usize].0)),
    );
    let score: Vec<f64> = rows.iter().map(|&r| list.score()[r as usize]).collect();
    vec![user.into_column(), movie.into_column(), Column::new("score".into(), score)]
}

/// Writes the users table of `data`.
///
/// # Errors
/// If polars cannot encode or write the table.
pub fn write_users(data: &Dataset, out: impl Write) -> Result<(), TableError> {
    let users = data.ratings.users();
    let mut columns = vec![StringChunked::from_iter_values("user_id".into(), users.iter()).into_column()];
    columns.extend(attrs_columns(&data.user_attrs));
    columns.push(Column::new("n_ratings".into(), data.ratings.counts_per_user()));
    write_frame(frame(columns)?, data.ratings.scale(), out)
}

/// Writes the movies table of `data`, with each movie's number of ratings and mean score.
///
/// # Errors
/// If polars cannot encode or write the table.
pub fn write_movies(data: &Dataset, out: impl Write) -> Result<(), TableError> {
    let ratings = &data.ratings;
    let movies = ratings.movies();
    let counts = ratings.counts_per_movie();
    let mut sums = vec![0.0f64; movies.len()];
    for (m, s) in ratings.movie().iter().zip(ratings.score()) {
        sums[m.get()] += s;
    }
    let means: Vec<Option<f64>> = sums.iter().zip(&counts).map(|(s, &c)| (c > 0).then(|| s / f64::from(c))).collect();
    let mut columns = vec![StringChunked::from_iter_values("movie_id".into(), movies.iter()).into_column()];
    columns.extend(attrs_columns(&data.movie_attrs));
    columns.push(Column::new("n_ratings".into(), counts));
    columns.push(Column::new("mean_score".into(), means));
    write_frame(frame(columns)?, ratings.scale(), out)
}

/// Reads a ratings, training or test table into a rating list, in file order, with ids
/// indexed by first appearance.
///
/// # Errors
/// If the file cannot be opened or decoded, lacks `user_id`, `movie_id` or `score` of the
/// right types, has an empty value in them, or carries no rating scale.
pub fn read_ratings(path: &Path) -> Result<RatingList, TableError> {
    read_ratings_and_metadata(path).map(|(list, _)| list)
}

/// [`read_ratings`], and the file's key-value metadata.
fn read_ratings_and_metadata(path: &Path) -> Result<(RatingList, Vec<(String, String)>), TableError> {
    let file = std::fs::File::open(path).map_err(|source| TableError::Io { path: path.to_owned(), source })?;
    let parquet = |source| TableError::Parquet { path: path.to_owned(), source };
    let mut reader = ParquetReader::new(file);
    let metadata = reader.get_metadata().map_err(parquet)?;
    let pairs: Vec<(String, String)> = metadata
        .key_value_metadata
        .iter()
        .flatten()
        .filter_map(|kv| Some((kv.key.clone(), kv.value.clone()?)))
        .collect();
    let scale = read_scale(pairs.iter().map(|(k, v)| (k.as_str(), Some(v.as_str()))).collect())
        .ok_or_else(|| TableError::NoScale { path: path.to_owned() })?;
    let df = reader.with_columns(Some(vec!["user_id".into(), "movie_id".into(), "score".into()])).finish().map_err(
        |source| match source {
            PolarsError::ColumnNotFound(_) => {
                TableError::Column { path: path.to_owned(), column: "user_id, movie_id, score", expected: "present" }
            }
            source => parquet(source),
        },
    )?;
    let text = |column: &'static str| {
        df.column(column).ok().and_then(|c| c.str().ok()).ok_or(TableError::Column {
            path: path.to_owned(),
            column,
            expected: "text",
        })
    };
    let (users, movies) = (text("user_id")?, text("movie_id")?);
    let scores = df.column("score").ok().and_then(|c| c.f64().ok()).ok_or(TableError::Column {
        path: path.to_owned(),
        column: "score",
        expected: "float64",
    })?;
    let mut list = RatingList::new(scale);
    for (row, ((u, m), s)) in users.iter().zip(movies.iter()).zip(scores.iter()).enumerate() {
        let null = |column| TableError::Null { path: path.to_owned(), column, row };
        list.push(
            u.ok_or_else(|| null("user_id"))?,
            m.ok_or_else(|| null("movie_id"))?,
            s.ok_or_else(|| null("score"))?,
        );
    }
    Ok((list, pairs))
}

/// Metadata keys of a search set's [`SearchSetInfo`], beside the scale's.
const SEARCH_SET_KEYS: [&str; 5] = [
    "movierec.search_set.format",
    "movierec.search_set.plan",
    "movierec.search_set.data",
    "movierec.search_set.n_items",
    "movierec.search_set.sampled",
];

/// Writes a search set: its ratings as a training set's table, what identifies its plan in
/// the file's metadata.
///
/// # Errors
/// If polars cannot encode or write the table.
pub fn write_search_set(ratings: &RatingList, info: &SearchSetInfo, out: impl Write) -> Result<(), TableError> {
    let rows: Vec<u32> = (0..ratings.len() as u32).collect();
    let values =
        [info.format.clone(), info.plan.clone(), info.data.clone(), info.n_items.to_string(), info.sampled.to_string()];
    let extra = SEARCH_SET_KEYS.iter().map(|k| (*k).to_owned()).zip(values).collect();
    write_frame_with(frame(rating_columns(ratings, &rows))?, ratings.scale(), extra, out)
}

/// Reads a search set written by [`write_search_set`].
///
/// # Errors
/// As [`read_ratings`], and [`TableError::NotSearchSet`] if the file is a table but not a
/// search set of this format.
pub fn read_search_set(path: &Path) -> Result<SearchSet, TableError> {
    let (ratings, pairs) = read_ratings_and_metadata(path)?;
    let get = |key: &str| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
    let not = |found: &str| TableError::NotSearchSet { path: path.to_owned(), found: found.to_owned() };
    let [format, plan, data, n_items, sampled] = SEARCH_SET_KEYS.map(get);
    match format {
        Some(SearchSetInfo::FORMAT) => {}
        Some(other) => return Err(not(&format!("format {other:?}"))),
        None => return Err(not("no search set metadata")),
    }
    let info = (|| {
        Some(SearchSetInfo {
            format: SearchSetInfo::FORMAT.to_owned(),
            plan: plan?.to_owned(),
            data: data?.to_owned(),
            n_items: n_items?.parse().ok()?,
            sampled: sampled?.parse().ok()?,
        })
    })()
    .ok_or_else(|| not("incomplete search set metadata"))?;
    Ok(SearchSet { ratings, info })
}

/// How many distinct movies a ratings, training or test table rates: what
/// [`read_ratings`]'s `movies().len()` would give, reading the `movie_id` column alone.
///
/// # Errors
/// If the file cannot be opened or decoded, or `movie_id` is missing, not text or has an
/// empty value.
pub fn count_movies(path: &Path) -> Result<usize, TableError> {
    let file = std::fs::File::open(path).map_err(|source| TableError::Io { path: path.to_owned(), source })?;
    let df =
        ParquetReader::new(file).with_columns(Some(vec!["movie_id".into()])).finish().map_err(
            |source| match source {
                PolarsError::ColumnNotFound(_) => {
                    TableError::Column { path: path.to_owned(), column: "movie_id", expected: "present" }
                }
                source => TableError::Parquet { path: path.to_owned(), source },
            },
        )?;
    let movies = df.column("movie_id").ok().and_then(|c| c.str().ok()).ok_or(TableError::Column {
        path: path.to_owned(),
        column: "movie_id",
        expected: "text",
    })?;
    if movies.null_count() > 0 {
        let row = movies.iter().position(|m| m.is_none()).unwrap_or_default();
        return Err(TableError::Null { path: path.to_owned(), column: "movie_id", row });
    }
    movies.n_unique().map_err(|source| TableError::Parquet { path: path.to_owned(), source })
}

/// Reads the text column `label` of a users or movies table, keyed by its `key` column
/// (`user_id` or `movie_id`); empty when the table has no such column (the source had no
/// such role), and without the rows whose label is missing.
///
/// # Errors
/// If the file cannot be opened or decoded, or `key` is missing or not text.
pub fn read_labels(path: &Path, key: &'static str, label: &'static str) -> Result<HashMap<String, String>, TableError> {
    let file = std::fs::File::open(path).map_err(|source| TableError::Io { path: path.to_owned(), source })?;
    let df =
        ParquetReader::new(file).finish().map_err(|source| TableError::Parquet { path: path.to_owned(), source })?;
    let keys = df.column(key).ok().and_then(|c| c.str().ok()).ok_or(TableError::Column {
        path: path.to_owned(),
        column: key,
        expected: "text",
    })?;
    let Some(labels) = df.column(label).ok() else { return Ok(HashMap::new()) };
    let labels =
        labels.str().map_err(|_| TableError::Column { path: path.to_owned(), column: label, expected: "text" })?;
    Ok(keys.iter().zip(labels.iter()).filter_map(|(k, l)| Some((k?.to_owned(), l?.to_owned()))).collect())
}

/// Reads a users or movies table: its `key` column (`user_id` or `movie_id`), in file order,
/// and the attribute columns of the roles `owner` carries that the file has (a source
/// without a role has no such column).
///
/// # Errors
/// If the file cannot be opened or decoded, `key` is missing, not text or has an empty
/// value, or an attribute column has the wrong type.
pub fn read_attrs(path: &Path, key: &'static str, owner: Owner) -> Result<(Vec<String>, Attrs), TableError> {
    let file = std::fs::File::open(path).map_err(|source| TableError::Io { path: path.to_owned(), source })?;
    let df =
        ParquetReader::new(file).finish().map_err(|source| TableError::Parquet { path: path.to_owned(), source })?;
    let wrong =
        |column: &'static str, expected: &'static str| TableError::Column { path: path.to_owned(), column, expected };
    let keys = df.column(key).ok().and_then(|c| c.str().ok()).ok_or_else(|| wrong(key, "text"))?;
    let keys: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(row, k)| k.map(str::to_owned).ok_or(TableError::Null { path: path.to_owned(), column: key, row }))
        .collect::<Result<_, _>>()?;
    let present: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| r.owner() == owner && r.name() != key && df.column(r.name()).is_ok())
        .collect();
    let mut attrs = Attrs::new(present.iter().copied());
    for (role, values) in attrs.columns_mut() {
        let (name, column) = (role.name(), df.column(role.name()).expect("present"));
        *values = match role.kind() {
            Kind::Text => Values::Text(
                column.str().map_err(|_| wrong(name, "text"))?.iter().map(|v| v.map(str::to_owned)).collect(),
            ),
            Kind::Number => Values::Number(column.f64().map_err(|_| wrong(name, "float64"))?.iter().collect()),
            Kind::Count => Values::Count(column.u64().map_err(|_| wrong(name, "uint64"))?.iter().collect()),
        };
    }
    Ok((keys, attrs))
}

fn read_scale(kv: Vec<(&str, Option<&str>)>) -> Option<RatingScale> {
    let get = |key: &str| kv.iter().find(|(k, _)| *k == key)?.1?.parse::<f64>().ok();
    RatingScale::new(get(SCALE_MIN_KEY)?, get(SCALE_MAX_KEY)?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use movierec_core::data::synthetic::{SyntheticConfig, generate};

    #[test]
    fn ratings_round_trip_with_their_scale() {
        let scale = RatingScale::new(1.0, 5.0).unwrap();
        let data = generate(&SyntheticConfig { seed: 5, scale: 0.01, ..SyntheticConfig::default() }, scale).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ratings.parquet");
        write_ratings(&data, std::fs::File::create(&path).unwrap()).unwrap();
        let back = read_ratings(&path).unwrap();
        assert_eq!(back.scale(), scale);
        assert_eq!(back.score(), data.ratings.score());
        assert_eq!(back.users().iter().collect::<Vec<_>>(), data.ratings.users().iter().collect::<Vec<_>>());
        assert!(back.user() == data.ratings.user());
        assert!(back.movie() == data.ratings.movie());
    }

    #[test]
    fn a_search_set_round_trips_with_its_plan() {
        let data = generate(&SyntheticConfig { seed: 5, scale: 0.01, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        let sample = data.ratings.select(&[40, 3, 17, 3 + 1, 99]);
        let info = SearchSetInfo {
            format: SearchSetInfo::FORMAT.to_owned(),
            plan: "0123456789abcdef".to_owned(),
            data: "fedcba9876543210".to_owned(),
            n_items: 123,
            sampled: true,
        };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("search-set.parquet");
        write_search_set(&sample, &info, std::fs::File::create(&path).unwrap()).unwrap();
        let back = read_search_set(&path).unwrap();
        assert_eq!(back.info, info);
        assert_eq!(back.ratings.scale(), sample.scale());
        assert_eq!(back.ratings.score(), sample.score());
        assert_eq!(back.ratings.users().iter().collect::<Vec<_>>(), sample.users().iter().collect::<Vec<_>>());
        assert_eq!(back.ratings.movies().iter().collect::<Vec<_>>(), sample.movies().iter().collect::<Vec<_>>());
        assert!(back.ratings.user() == sample.user() && back.ratings.movie() == sample.movie());

        // A table that is not a search set is named as such.
        let table = dir.path().join("train.parquet");
        write_rating_rows(&data.ratings, &[1, 2], std::fs::File::create(&table).unwrap()).unwrap();
        let e = read_search_set(&table).unwrap_err().to_string();
        assert!(e.contains("train.parquet is not a search set (no search set metadata"), "{e}");
    }

    #[test]
    fn subsets_keep_their_order() {
        let data = generate(&SyntheticConfig { seed: 5, scale: 0.01, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("test.parquet");
        write_rating_rows(&data.ratings, &[30, 2, 17], std::fs::File::create(&path).unwrap()).unwrap();
        let back = read_ratings(&path).unwrap();
        let s = data.ratings.score();
        assert_eq!(back.score(), [s[30], s[2], s[17]]);
    }

    #[test]
    fn movies_counted_as_the_rating_list_counts_them() {
        let data = generate(&SyntheticConfig { seed: 5, scale: 0.01, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part.parquet");
        // A part of the ratings that misses some movies, so that the count is not the catalogue's.
        let rows: Vec<u32> = (0..data.ratings.len() as u32).filter(|r| r % 97 == 0).collect();
        write_rating_rows(&data.ratings, &rows, std::fs::File::create(&path).unwrap()).unwrap();
        let counted = count_movies(&path).unwrap();
        assert_eq!(counted, read_ratings(&path).unwrap().movies().len());
        assert!(counted < data.ratings.movies().len(), "{counted}");
        let path = dir.path().join("movies.parquet");
        write_movies(&data, std::fs::File::create(&path).unwrap()).unwrap();
        assert_eq!(count_movies(&path).unwrap(), data.ratings.movies().len());
        write_users(&data, std::fs::File::create(&path).unwrap()).unwrap();
        let e = count_movies(&path).unwrap_err().to_string();
        assert!(e.contains("movies.parquet") && e.contains("movie_id"), "{e}");
    }

    #[test]
    fn labels_by_id() {
        let data = generate(&SyntheticConfig { seed: 5, scale: 0.01, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("movies.parquet");
        write_movies(&data, std::fs::File::create(&path).unwrap()).unwrap();
        let titles = read_labels(&path, "movie_id", "title").unwrap();
        assert_eq!(titles.len(), data.ratings.movies().len());
        assert!(titles[data.ratings.movies().raw(0)].contains('('));
        assert!(read_labels(&path, "movie_id", "no_such_column").unwrap().is_empty());
        assert!(read_labels(&path, "user_id", "title").is_err());
    }

    #[test]
    fn attributes_by_id() {
        let data = generate(&SyntheticConfig { seed: 5, scale: 0.01, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("movies.parquet");
        write_movies(&data, std::fs::File::create(&path).unwrap()).unwrap();
        let (ids, attrs) = read_attrs(&path, "movie_id", Owner::Movie).unwrap();
        assert_eq!(ids, data.ratings.movies().iter().collect::<Vec<_>>());
        assert_eq!(attrs, data.movie_attrs);
        let path = dir.path().join("users.parquet");
        write_users(&data, std::fs::File::create(&path).unwrap()).unwrap();
        let (ids, attrs) = read_attrs(&path, "user_id", Owner::User).unwrap();
        assert_eq!(ids.len(), data.ratings.users().len());
        assert_eq!(attrs, data.user_attrs);
        assert!(read_attrs(&path, "movie_id", Owner::Movie).unwrap_err().to_string().contains("movie_id"));
    }

    #[test]
    fn a_file_that_is_not_parquet_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.parquet");
        std::fs::write(&path, "user_id,movie_id,score\n1,2,3\n").unwrap();
        let e = read_ratings(&path).unwrap_err().to_string();
        assert!(e.contains("x.parquet") && e.contains("not a readable Parquet file"), "{e}");
    }
}
