//! What the service serves: the data (users, movies, who rated what) and the model, read
//! from the pipeline's artifacts, checked against each other, and indexed for requests.
//!
//! A [`Snapshot`] is immutable; a refresh or a promotion builds a new one and swaps it in
//! whole, so a request sees one consistent model and data from start to end.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use movierec_core::data::columns::Owner;
use movierec_core::data::dataset::Values;
use movierec_core::models::Recommender;
use movierec_core::models::artifact::{self, Provenance};
use movierec_core::models::recommender;
use movierec_core::quote::quote;
use movierec_core::{IdMap, RatingList, Role};

/// Where the artifacts are.
#[derive(Clone, Debug)]
pub struct Paths {
    /// The model file (`models/serve.bin`).
    pub model: PathBuf,
    /// All loaded ratings (Parquet).
    pub ratings: PathBuf,
    /// The users table (Parquet).
    pub users: PathBuf,
    /// The movies table (Parquet).
    pub movies: PathBuf,
    /// The model's evaluation report (JSON), shown on `/`; optional.
    pub metrics: Option<PathBuf>,
}

/// One movie's attributes, as the movies table has them.
#[derive(Clone, Debug, Default)]
pub struct Movie {
    /// Raw id.
    pub id: String,
    /// Title.
    pub title: Option<String>,
    /// Main directors.
    pub directors: Option<String>,
    /// Main actors.
    pub actors: Option<String>,
    /// Description.
    pub description: Option<String>,
    /// Mean IMDb rating.
    pub imdb_rating: Option<f64>,
    /// IMDb votes.
    pub imdb_votes: Option<u64>,
    /// Ratings in the data.
    pub n_ratings: u32,
    /// Mean score in the data.
    pub mean_score: Option<f64>,
}

/// The loaded data: users, movies, and each user's ratings.
#[derive(Debug)]
pub struct Data {
    /// Raw user ids, in the users table's order.
    pub user_ids: IdMap,
    /// User names, by user index.
    pub user_names: Vec<Option<String>>,
    /// Raw movie ids, in the movies table's order.
    pub movie_ids: IdMap,
    /// Movies, by movie index.
    pub movies: Vec<Movie>,
    /// User `u`'s ratings are `rated[offsets[u]..offsets[u + 1]]`: (movie index, score), in
    /// the data's order.
    offsets: Vec<usize>,
    rated: Vec<(u32, f64)>,
    /// The ratings themselves, which a grid search fits on.
    pub ratings: RatingList,
    /// FNV-1a 64 of the ratings, users and movies files: a refresh that finds the same
    /// contents keeps this data instead of reading it again.
    pub digests: [u64; 3],
}

impl Data {
    /// Reads the ratings, users and movies tables.
    ///
    /// # Errors
    /// If a table cannot be read, or a rating names a user or movie its table lacks.
    pub fn read(paths: &Paths) -> anyhow::Result<Data> {
        Data::read_hashed(paths, Data::digests(paths)?)
    }

    /// [`Data::read`] of files whose digests are already known.
    fn read_hashed(paths: &Paths, digests: [u64; 3]) -> anyhow::Result<Data> {
        let ratings = movierec_tables::read_ratings(&paths.ratings)?;
        let (user_keys, user_attrs) = movierec_tables::read_attrs(&paths.users, "user_id", Owner::User)?;
        let (movie_keys, movie_attrs) = movierec_tables::read_attrs(&paths.movies, "movie_id", Owner::Movie)?;
        let user_ids = id_map(&user_keys, &paths.users)?;
        let movie_ids = id_map(&movie_keys, &paths.movies)?;
        let text = |attrs: &movierec_core::data::dataset::Attrs, role: Role, i: usize| match attrs.get(role) {
            Some(Values::Text(v)) => v[i].clone(),
            _ => None,
        };
        let user_names = (0..user_keys.len()).map(|i| text(&user_attrs, Role::UserName, i)).collect();

        // Each rating as (user index, movie index) of the tables.
        let to_user: Vec<u32> = lookup(ratings.users(), &user_ids, &paths.ratings, &paths.users, "user")?;
        let to_movie: Vec<u32> = lookup(ratings.movies(), &movie_ids, &paths.ratings, &paths.movies, "movie")?;
        let mut counts = vec![0usize; user_ids.len()];
        let mut movie_counts = vec![0u32; movie_ids.len()];
        let mut movie_sums = vec![0.0f64; movie_ids.len()];
        for r in 0..ratings.len() {
            counts[to_user[ratings.user()[r].get()] as usize] += 1;
            let m = to_movie[ratings.movie()[r].get()] as usize;
            movie_counts[m] += 1;
            movie_sums[m] += ratings.score()[r];
        }
        let mut offsets = vec![0usize; user_ids.len() + 1];
        for u in 0..user_ids.len() {
            offsets[u + 1] = offsets[u] + counts[u];
        }
        let mut next = offsets.clone();
        let mut rated = vec![(0u32, 0.0f64); ratings.len()];
        for r in 0..ratings.len() {
            let u = to_user[ratings.user()[r].get()] as usize;
            rated[next[u]] = (to_movie[ratings.movie()[r].get()], ratings.score()[r]);
            next[u] += 1;
        }

        let movies = movie_keys
            .into_iter()
            .enumerate()
            .map(|(i, id)| Movie {
                id,
                title: text(&movie_attrs, Role::Title, i),
                directors: text(&movie_attrs, Role::Directors, i),
                actors: text(&movie_attrs, Role::Actors, i),
                description: text(&movie_attrs, Role::Description, i),
                imdb_rating: match movie_attrs.get(Role::ImdbMean) {
                    Some(Values::Number(v)) => v[i],
                    _ => None,
                },
                imdb_votes: match movie_attrs.get(Role::ImdbVotes) {
                    Some(Values::Count(v)) => v[i],
                    _ => None,
                },
                n_ratings: movie_counts[i],
                mean_score: (movie_counts[i] > 0).then(|| movie_sums[i] / f64::from(movie_counts[i])),
            })
            .collect();
        Ok(Data { user_ids, user_names, movie_ids, movies, offsets, rated, ratings, digests })
    }

    /// The digests of the three tables' files.
    ///
    /// # Errors
    /// If a file cannot be read.
    pub fn digests(paths: &Paths) -> anyhow::Result<[u64; 3]> {
        let digest = |path: &Path| -> anyhow::Result<u64> {
            use std::io::Read;
            let mut file = std::fs::File::open(path).with_context(|| format!("failed to open {}", path.display()))?;
            let mut hash = artifact::Fnv64::default();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = file.read(&mut buf).with_context(|| format!("failed to read {}", path.display()))?;
                if n == 0 {
                    return Ok(hash.finish());
                }
                hash.update(&buf[..n]);
            }
        };
        Ok([digest(&paths.ratings)?, digest(&paths.users)?, digest(&paths.movies)?])
    }

    /// User `u`'s ratings: (movie index, score), in the data's order.
    pub fn ratings_of(&self, u: usize) -> &[(u32, f64)] {
        &self.rated[self.offsets[u]..self.offsets[u + 1]]
    }
}

fn id_map(keys: &[String], path: &Path) -> anyhow::Result<IdMap> {
    let mut map = IdMap::new();
    for (row, k) in keys.iter().enumerate() {
        anyhow::ensure!(map.intern(k) as usize == row, "{}: id {} appears twice (row {row})", path.display(), quote(k));
    }
    Ok(map)
}

fn lookup(from: &IdMap, to: &IdMap, ratings: &Path, table: &Path, what: &str) -> anyhow::Result<Vec<u32>> {
    from.iter()
        .map(|raw| {
            to.get(raw).with_context(|| {
                format!(
                    "{} has a rating by {what} {}, which {} does not list",
                    ratings.display(),
                    quote(raw),
                    table.display()
                )
            })
        })
        .collect()
}

/// The model and its indices into the data.
#[derive(Debug)]
pub struct ModelView {
    /// The model: SVD for the predicted relevance, and the ranking that orders the lists.
    pub model: Recommender,
    /// Where it came from.
    pub provenance: Provenance,
    /// Where it was read from, or which grid search job promoted it.
    pub source: String,
    /// When this service loaded it (seconds since the epoch).
    pub loaded_at: u64,
    /// The model file's checksum (none for a model a grid search job promoted).
    pub checksum: Option<String>,
    /// The model's user index of each data user, if the model knows them.
    pub user_in_model: Vec<Option<u32>>,
    /// The data's movie index of each model movie.
    pub movie_of_item: Vec<u32>,
    /// The model's movie index of each data movie, if the model knows it.
    pub item_of_movie: Vec<Option<u32>>,
    /// What each model user has rated: (model movie index, score), sorted by movie.
    pub history: Vec<Vec<(u32, f64)>>,
}

impl ModelView {
    /// Indexes `model` against `data`.
    ///
    /// # Errors
    /// If the model knows a user or movie the data does not: they were not made from the
    /// same pipeline run.
    pub fn new(model: Recommender, provenance: Provenance, source: String, data: &Data) -> anyhow::Result<ModelView> {
        let rating = &model.rating;
        let missing_items: Vec<&str> = rating.items().iter().filter(|m| data.movie_ids.get(m).is_none()).collect();
        anyhow::ensure!(
            missing_items.is_empty(),
            "the model and the data do not match: {} of the model's {} movies are not in the movies table (the first: {}); \
             were they made by the same pipeline run?",
            missing_items.len(),
            rating.items().len(),
            quote(missing_items[0])
        );
        let missing_users = rating.users().iter().filter(|u| data.user_ids.get(u).is_none()).count();
        anyhow::ensure!(
            missing_users == 0,
            "the model and the data do not match: {missing_users} of the model's {} users are not in the users table; \
             were they made by the same pipeline run?",
            rating.users().len()
        );
        let user_in_model: Vec<Option<u32>> = data.user_ids.iter().map(|u| rating.users().get(u)).collect();
        let movie_of_item: Vec<u32> =
            rating.items().iter().map(|m| data.movie_ids.get(m).expect("checked above")).collect();
        let item_of_movie: Vec<Option<u32>> = data.movie_ids.iter().map(|m| rating.items().get(m)).collect();
        let history = recommender::histories(rating, &data.ratings);
        Ok(ModelView {
            model,
            provenance,
            source,
            loaded_at: now(),
            checksum: None,
            user_in_model,
            movie_of_item,
            item_of_movie,
            history,
        })
    }

    /// Seconds since the model file was written, by its `created_at`.
    pub fn age_seconds(&self) -> Option<u64> {
        let created = artifact::parse_rfc3339(&self.provenance.created_at)?;
        Some(now().saturating_sub(created))
    }
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// A consistent model and data, as one request sees them.
#[derive(Debug)]
pub struct Snapshot {
    /// The data.
    pub data: Arc<Data>,
    /// The model, indexed against `data`.
    pub view: ModelView,
    /// The evaluation report shown on `/` (its scalar and object fields).
    pub metrics: Option<serde_json::Value>,
}

impl Snapshot {
    /// Reads every artifact and checks that they belong together.
    ///
    /// # Errors
    /// If an artifact is missing or invalid, or the model and the data do not match; the
    /// message names the file.
    pub fn load(paths: &Paths) -> anyhow::Result<Snapshot> {
        Snapshot::reload(paths, None)
    }

    /// As [`Snapshot::load`], but keeps the data of `previous` if the tables' files have the
    /// same contents (the model file is always read again).
    ///
    /// # Errors
    /// As [`Snapshot::load`].
    pub fn reload(paths: &Paths, previous: Option<&Snapshot>) -> anyhow::Result<Snapshot> {
        let (model, provenance, checksum) = movierec_stage::model::read_with_checksum(&paths.model)?;
        let digests = Data::digests(paths)?;
        let data = match previous {
            Some(p) if p.data.digests == digests => Arc::clone(&p.data),
            _ => Arc::new(Data::read_hashed(paths, digests)?),
        };
        let mut view = ModelView::new(model, provenance, paths.model.display().to_string(), &data)
            .with_context(|| format!("cannot serve {}", paths.model.display()))?;
        view.checksum = Some(checksum);
        let metrics = match &paths.metrics {
            Some(p) if p.exists() => Some(read_metrics(p)?),
            _ => None,
        };
        Ok(Snapshot { data, view, metrics })
    }
}

/// The fields of a metrics report that are not arrays (per-candidate tables stay out).
fn read_metrics(path: &Path) -> anyhow::Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
    let value: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?;
    let serde_json::Value::Object(map) = value else {
        anyhow::bail!("{} is not a JSON object", path.display());
    };
    Ok(serde_json::Value::Object(map.into_iter().filter(|(_, v)| !v.is_array()).collect()))
}
