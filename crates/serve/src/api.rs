//! The routes: their handlers, the shapes of their answers, and the OpenAPI description
//! generated from both.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use movierec_core::models::artifact::FORMAT_VERSION;
use movierec_core::models::base::select;
use movierec_core::models::recommender;
use movierec_core::models::{Ranking, Recommendation, User};
use movierec_core::quote::quote;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use crate::error::{ApiError, ErrorBody, Json, Path, Query};
use crate::gridsearch;
use crate::jobs::{GridsearchRequest, JobReport};
use crate::metrics::{Load, ModelGauges};
use crate::snapshot::{Movie, Snapshot};
use crate::state::AppState;

type S = State<Arc<AppState>>;

/// The OpenAPI description of every route.
#[derive(OpenApi)]
#[openapi(
    info(title = "movierec", description = "Movie recommendations from an SVD model trained by the movierec pipeline."),
    paths(
        root, health, ready, users, user, user_recommendations, fold_in_recommendations, movies, movie,
        similar_movies, start_gridsearch, list_gridsearch, gridsearch_job, refresh, metrics
    ),
    components(schemas(ErrorBody)),
    modifiers(&BearerAuth),
    tags(
        (name = "service", description = "What the service serves and whether it is up"),
        (name = "recommendations", description = "Top movies for a user, known or new"),
        (name = "catalogue", description = "Users and movies"),
        (name = "operations", description = "Grid search and refresh: need the bearer token")
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

// ---- service ----

/// The model being served.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelInfo {
    /// Model file format version.
    format_version: u32,
    /// The file it was read from, or the grid search job that promoted it.
    source: String,
    /// The rating model's algorithm: `svd`, or another of Surprise's (`knn_baseline`, `svdpp`, …).
    #[schema(example = "svd")]
    algorithm: String,
    /// `fast` or `surprise` (SVD and SVD++); none for the algorithms with one way of fitting.
    mode: Option<String>,
    /// The rating model's parameters under Surprise's names.
    #[schema(value_type = Object)]
    params: serde_json::Value,
    /// What orders the lists.
    ranking: RankingInfo,
    /// When the model was trained (RFC 3339 UTC).
    trained_at: String,
    /// Fingerprint of the ratings it was trained on.
    data_fingerprint: String,
    /// The model file's checksum: what tells two models apart (absent for a model a grid
    /// search job promoted, which has no file).
    #[serde(skip_serializing_if = "Option::is_none")]
    model_checksum: Option<String>,
    /// Ratings it was trained on.
    n_ratings: u64,
    /// Users and movies it knows.
    n_users: usize,
    n_movies: usize,
    /// Seconds the training took.
    training_seconds: f64,
    /// When this service loaded it (RFC 3339 UTC).
    loaded_at: String,
    /// Seconds since it was trained.
    age_seconds: Option<u64>,
    /// The evaluation report of the pipeline (`metrics/optimize.json`), without its tables.
    #[schema(value_type = Option<Object>)]
    metrics: Option<serde_json::Value>,
}

/// What orders the recommendation lists (the score shown is always SVD's predicted relevance).
#[derive(Debug, Serialize, ToSchema)]
pub struct RankingInfo {
    /// `relevance` (the rating model's predicted relevance), `popularity`, `ease`, `ials`, `rp3beta`
    /// or `ensemble`.
    #[schema(example = "ease")]
    kind: String,
    /// When above 0, the ranking's best `rerank` movies are re-ordered by predicted relevance.
    rerank: usize,
    /// How: absent, by predicted relevance alone; a weight, by the ranking's score plus this
    /// weight times the predicted relevance (each a z-score over those movies).
    #[serde(skip_serializing_if = "Option::is_none")]
    blend: Option<f64>,
    /// Whether, among them, the movies the user is predicted to dislike (a predicted
    /// relevance below their own mean score) go after the others (absent: no).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    demote_dislikes: bool,
    /// An ensemble's two kinds, in order (absent for the other kinds).
    #[serde(skip_serializing_if = "Option::is_none")]
    members: Option<Vec<String>>,
    /// An ensemble's weight of its second kind's z-scores (absent for the other kinds).
    #[serde(skip_serializing_if = "Option::is_none")]
    weight: Option<f64>,
}

fn model_info(s: &Snapshot) -> ModelInfo {
    let v = &s.view;
    let ensemble = match &v.model.ranking {
        Ranking::Ensemble(e) => Some(e.params()),
        _ => None,
    };
    ModelInfo {
        format_version: FORMAT_VERSION,
        source: v.source.clone(),
        algorithm: v.model.rating.name().to_owned(),
        mode: v.model.rating.mode().and_then(|m| serde_json::to_value(m).ok()?.as_str().map(str::to_owned)),
        params: v.model.rating.params(),
        ranking: RankingInfo {
            kind: v.model.kind().to_string(),
            rerank: v.model.reorder.rerank,
            blend: v.model.reorder.blend,
            demote_dislikes: v.model.reorder.demote_dislikes,
            members: ensemble.map(|e| e.members.iter().map(|k| k.to_string()).collect()),
            weight: ensemble.map(|e| e.weight),
        },
        trained_at: v.provenance.created_at.clone(),
        data_fingerprint: v.provenance.data_fingerprint.clone(),
        model_checksum: v.checksum.clone(),
        n_ratings: v.provenance.n_ratings,
        n_users: v.model.rating.users().len(),
        n_movies: v.model.rating.items().len(),
        training_seconds: v.provenance.training_seconds,
        loaded_at: movierec_core::models::artifact::rfc3339(v.loaded_at),
        age_seconds: v.age_seconds(),
        metrics: s.metrics.clone(),
    }
}

/// What `/` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct RootInfo {
    #[schema(example = "movierec")]
    service: &'static str,
    version: &'static str,
    /// None until a model is loaded.
    model: Option<ModelInfo>,
    /// Users and movies in the data.
    users: usize,
    movies: usize,
    /// The rating algorithms a grid search can search (`POST /gridsearch`'s `algorithm`).
    #[schema(example = json!(["svd", "knn_baseline"]))]
    algorithms: &'static [&'static str],
    /// The other routes.
    links: BTreeMap<&'static str, &'static str>,
}

/// The service, the model it serves, and its routes; to a browser (an `Accept` naming
/// `text/html`), the web page.
#[utoipa::path(get, path = "/", tag = "service", responses(
    (status = 200, description = "The JSON root, or to a browser the web page",
        content((RootInfo = "application/json"), (String = "text/html")))
))]
pub async fn root(State(state): S, headers: HeaderMap) -> Response {
    if crate::web::wants_html(&headers) {
        return crate::web::index(&headers);
    }
    let mut response = root_info(&state).into_response();
    response.headers_mut().insert(header::VARY, header::HeaderValue::from_static("Accept"));
    response
}

fn root_info(state: &AppState) -> Json<RootInfo> {
    let s = state.snapshot();
    let links = BTreeMap::from([
        ("health", "/health"),
        ("ready", "/ready"),
        ("users", "/users"),
        ("user", "/users/{id}"),
        ("recommendations", "/users/{id}/recommendations?n=10"),
        ("fold_in", "/recommendations"),
        ("movies", "/movies"),
        ("movie", "/movies/{id}"),
        ("similar", "/movies/{id}/similar?n=10"),
        ("gridsearch", "/gridsearch"),
        ("refresh", "/refresh"),
        ("metrics", "/metrics"),
        ("openapi", "/openapi.json"),
        ("docs", "/docs/"),
    ]);
    Json(RootInfo {
        service: "movierec",
        version: env!("CARGO_PKG_VERSION"),
        model: s.as_deref().map(model_info),
        users: s.as_ref().map_or(0, |s| s.data.user_ids.len()),
        movies: s.as_ref().map_or(0, |s| s.data.movie_ids.len()),
        algorithms: &movierec_core::models::rating::Algorithm::NAMES,
        links,
    })
}

/// A status answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    #[schema(example = "ok")]
    status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/health", tag = "service", responses((status = 200, body = Status)))]
pub async fn health() -> Json<Status> {
    Json(Status { status: "ok" })
}

/// Readiness: a model is loaded.
#[utoipa::path(get, path = "/ready", tag = "service", responses(
    (status = 200, body = Status), (status = 503, description = "No model loaded yet", body = ErrorBody)
))]
pub async fn ready(State(state): S) -> Result<Json<Status>, ApiError> {
    state.current().map(|_| Json(Status { status: "ready" }))
}

// ---- users ----

/// A page of a list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// Items to skip (default 0).
    #[param(minimum = 0)]
    offset: Option<usize>,
    /// Items to return (default 50, at most the service's page limit, 1000 unless set).
    #[param(minimum = 1)]
    limit: Option<usize>,
}

impl PageQuery {
    fn range(&self, total: usize, max: usize) -> Result<(usize, usize, std::ops::Range<usize>), ApiError> {
        let offset = self.offset.unwrap_or(0);
        let limit = self.limit.unwrap_or(50.min(max));
        if limit == 0 || limit > max {
            return Err(ApiError::bad_request(format!("invalid limit {limit}: expected 1 to {max}")));
        }
        let start = offset.min(total);
        Ok((offset, limit, start..offset.saturating_add(limit).min(total)))
    }
}

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserSummary {
    #[schema(example = "42")]
    id: String,
    name: Option<String>,
    /// Ratings in the data.
    n_ratings: usize,
    /// Whether the model has factors for the user (else no recommendations).
    known_to_model: bool,
}

fn user_summary(s: &Snapshot, u: usize) -> UserSummary {
    UserSummary {
        id: s.data.user_ids.raw(u as u32).to_owned(),
        name: s.data.user_names[u].clone(),
        n_ratings: s.data.ratings_of(u).len(),
        known_to_model: s.view.user_in_model[u].is_some(),
    }
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    total: usize,
    offset: usize,
    limit: usize,
    users: Vec<UserSummary>,
}

/// A page of a list, optionally only what matches a search.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only the items whose id or name (for movies, title) contains it, ignoring case.
    q: Option<String>,
    /// Items to skip (default 0).
    #[param(minimum = 0)]
    offset: Option<usize>,
    /// Items to return (default 50, at most the service's page limit, 1000 unless set).
    #[param(minimum = 1)]
    limit: Option<usize>,
}

impl ListQuery {
    fn page(&self) -> PageQuery {
        PageQuery { offset: self.offset, limit: self.limit }
    }

    /// The indices `0..n` of the items the search keeps (all of them without a search): those
    /// whose id or text (`item` gives both) contains it, ignoring case.
    fn matching<'a>(&self, n: usize, item: impl Fn(usize) -> (&'a str, Option<&'a str>)) -> Vec<usize> {
        let Some(needle) = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(str::to_lowercase) else {
            return (0..n).collect();
        };
        let contains = |text: &str| text.to_lowercase().contains(&needle);
        (0..n)
            .filter(|&i| {
                let (id, text) = item(i);
                contains(id) || text.is_some_and(contains)
            })
            .collect()
    }
}

/// Users, in the data's order, a page at a time; with `q`, only those whose id or name
/// matches.
#[utoipa::path(get, path = "/users", tag = "catalogue", params(ListQuery), responses(
    (status = 200, body = UserPage), (status = 400, body = ErrorBody)
))]
pub async fn users(State(state): S, Query(q): Query<ListQuery>) -> Result<Json<UserPage>, ApiError> {
    let s = state.current()?;
    let all = q.matching(s.data.user_ids.len(), |u| (s.data.user_ids.raw(u as u32), s.data.user_names[u].as_deref()));
    let total = all.len();
    let (offset, limit, range) = q.page().range(total, state.config.max_page)?;
    Ok(Json(UserPage { total, offset, limit, users: all[range].iter().map(|&u| user_summary(&s, u)).collect() }))
}

/// A rating of a user.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatedMovie {
    movie_id: String,
    title: Option<String>,
    score: f64,
}

/// A page of a user's ratings.
#[derive(Debug, Serialize, ToSchema)]
pub struct RatingPage {
    total: usize,
    offset: usize,
    limit: usize,
    items: Vec<RatedMovie>,
}

/// A user and the movies they rated.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDetail {
    #[serde(flatten)]
    user: UserSummary,
    ratings: RatingPage,
}

fn find_user(s: &Snapshot, id: &str) -> Result<usize, ApiError> {
    s.data
        .user_ids
        .get(id)
        .map(|u| u as usize)
        .ok_or_else(|| ApiError::not_found(format!("no user with id {}", quote(id))))
}

/// One user, with the movies they rated (a page at a time, in the data's order).
#[utoipa::path(get, path = "/users/{id}", tag = "catalogue", params(("id" = String, Path, description = "User id"), PageQuery),
    responses((status = 200, body = UserDetail), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn user(
    State(state): S,
    Path(id): Path<String>,
    Query(q): Query<PageQuery>,
) -> Result<Json<UserDetail>, ApiError> {
    let s = state.current()?;
    let u = find_user(&s, &id)?;
    let rated = s.data.ratings_of(u);
    let (offset, limit, range) = q.range(rated.len(), state.config.max_page)?;
    let items = rated[range]
        .iter()
        .map(|&(m, score)| {
            let movie = &s.data.movies[m as usize];
            RatedMovie { movie_id: movie.id.clone(), title: movie.title.clone(), score }
        })
        .collect();
    Ok(Json(UserDetail { user: user_summary(&s, u), ratings: RatingPage { total: rated.len(), offset, limit, items } }))
}

// ---- recommendations ----

/// How many movies to recommend.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TopQuery {
    /// Movies to return: 1 to the catalogue size (default 10).
    #[param(minimum = 1)]
    n: Option<usize>,
    /// With each movie, the movies the user liked (scored at or above their own mean) that
    /// are most like it: 0 to 10 (default 0).
    #[param(minimum = 0, maximum = 10)]
    explain: Option<usize>,
}

/// The most movies `explain` may ask for.
const MAX_EXPLAIN: usize = 10;

fn explain_k(k: Option<usize>) -> Result<usize, ApiError> {
    match k.unwrap_or(0) {
        k if k <= MAX_EXPLAIN => Ok(k),
        k => Err(ApiError::bad_request(format!("invalid explain {k}: expected 0 to {MAX_EXPLAIN}"))),
    }
}

fn top_n(n: Option<usize>, catalogue: usize) -> Result<usize, ApiError> {
    let n = n.unwrap_or(10);
    if n == 0 || n > catalogue {
        return Err(ApiError::bad_request(format!("invalid n {n}: expected 1 to {catalogue} (the catalogue size)")));
    }
    Ok(n)
}

/// A recommended movie.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecommendedMovie {
    /// 1 for the best.
    rank: usize,
    movie_id: String,
    title: Option<String>,
    directors: Option<String>,
    actors: Option<String>,
    /// Mean IMDb rating.
    imdb_rating: Option<f64>,
    /// Predicted relevance score, clipped to the rating scale.
    score: f64,
    /// With `explain`: the movies the user liked (scored at or above `liked_from`) that are
    /// most like this one, most alike first; empty when none they liked is like it (a movie
    /// they scored lower is never a reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    because: Option<Vec<Because>>,
}

/// A movie the user liked that is like a recommended one.
#[derive(Debug, Serialize, ToSchema)]
pub struct Because {
    movie_id: String,
    title: Option<String>,
    /// The user's score.
    score: f64,
    /// How alike the two movies are, by the served model (for EASE, its item weight; for
    /// factor models, the cosine of the movies' factors).
    similarity: f64,
}

/// Runs `work` off the threads that answer requests (on tokio's blocking pool), so that they
/// keep accepting, refusing and answering the cheap routes while it runs.
async fn off_the_answering_threads<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| {
        tracing::error!("a request's work failed: {e}");
        ApiError::internal()
    })
}

/// A recommender's list as (movie, predicted relevance) pairs.
fn relevance_list(list: &[Recommendation]) -> Vec<(u32, f64)> {
    list.iter().map(|r| (r.movie, r.relevance)).collect()
}

/// With `explain` above 0, the score from which the user of `history` liked a movie.
fn liked(history: &[(u32, f64)], explain: usize) -> Option<f64> {
    recommender::liked_from(history).filter(|_| explain > 0)
}

/// The answer's list; with `explain` above 0, each movie with the movies of `history` the
/// user liked most like it.
fn recommended(s: &Snapshot, list: &[(u32, f64)], history: &[(u32, f64)], explain: usize) -> Vec<RecommendedMovie> {
    let movie = |item: u32| -> &Movie { &s.data.movies[s.view.movie_of_item[item as usize] as usize] };
    list.iter()
        .enumerate()
        .map(|(rank, &(item, score))| {
            let m = movie(item);
            let because = (explain > 0).then(|| {
                s.view
                    .model
                    .because(item as usize, history, explain)
                    .into_iter()
                    .map(|(j, similarity, score)| Because {
                        movie_id: movie(j).id.clone(),
                        title: movie(j).title.clone(),
                        score,
                        similarity,
                    })
                    .collect()
            });
            RecommendedMovie {
                rank: rank + 1,
                movie_id: m.id.clone(),
                title: m.title.clone(),
                directors: m.directors.clone(),
                actors: m.actors.clone(),
                imdb_rating: m.imdb_rating,
                score,
                because,
            }
        })
        .collect()
}

/// A user's recommendations.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserRecommendations {
    user_id: String,
    user_name: Option<String>,
    n: usize,
    /// With `explain`: the score from which the user liked a movie, their own mean score;
    /// only movies scored at or above it are given as reasons.
    #[serde(skip_serializing_if = "Option::is_none")]
    liked_from: Option<f64>,
    /// Best first; fewer than `n` only if the user has seen nearly every movie.
    recommendations: Vec<RecommendedMovie>,
}

fn count_served(state: &AppState, movies: usize) {
    use std::sync::atomic::Ordering::Relaxed;
    state.metrics.recommendations.fetch_add(1, Relaxed);
    state.metrics.recommended_movies.fetch_add(movies as u64, Relaxed);
}

/// The top-n movies a user has not seen, in the served ranking's order (by predicted
/// relevance for the `relevance` kind; ties to the movie seen first in the data), each with its
/// predicted relevance score.
#[utoipa::path(get, path = "/users/{id}/recommendations", tag = "recommendations",
    params(("id" = String, Path, description = "User id"), TopQuery),
    responses((status = 200, body = UserRecommendations), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn user_recommendations(
    State(state): S,
    Path(id): Path<String>,
    Query(q): Query<TopQuery>,
) -> Result<Json<UserRecommendations>, ApiError> {
    let s = state.current()?;
    let n = top_n(q.n, s.view.model.rating.n_items())?;
    let explain = explain_k(q.explain)?;
    let u = find_user(&s, &id)?;
    let Some(mu) = s.view.user_in_model[u] else {
        return Err(ApiError::not_found(format!(
            "user {} is in the data but not in the model (it was trained without their ratings); \
             POST their ratings to /recommendations to fold them in",
            quote(&id)
        )));
    };
    let snapshot = Arc::clone(&s);
    let (liked_from, recommendations) = off_the_answering_threads(move || {
        let history = &snapshot.view.history[mu as usize];
        let user = User { id: Some(mu as usize), history };
        let list = relevance_list(&snapshot.view.model.recommend(user, &select::movies_of(history), n));
        (liked(history, explain), recommended(&snapshot, &list, history, explain))
    })
    .await?;
    count_served(&state, recommendations.len());
    let user_name = s.data.user_names[u].clone();
    Ok(Json(UserRecommendations { user_id: id, user_name, n, liked_from, recommendations }))
}

/// A rating of someone the model has never seen.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRating {
    #[schema(example = "1")]
    movie_id: String,
    #[schema(example = 85.0)]
    score: f64,
}

/// Ratings of someone the model has never seen.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FoldInRequest {
    /// At least one, each movie once, scores within the rating scale.
    #[schema(min_items = 1, max_items = 1000)]
    ratings: Vec<NewRating>,
    /// Movies to return: 1 to the catalogue size (default 10).
    #[schema(minimum = 1)]
    n: Option<usize>,
    /// With each movie, the rated movies most like it: 0 to 10 (default 0).
    #[schema(minimum = 0, maximum = 10)]
    explain: Option<usize>,
}

/// Recommendations for someone folded in.
#[derive(Debug, Serialize, ToSchema)]
pub struct FoldInRecommendations {
    n: usize,
    /// Ratings folded in.
    folded_in: usize,
    /// The user bias found (0 for PMF; none for the algorithms without one).
    bias: Option<f64>,
    /// With `explain`: the score from which the user liked a movie, the mean of the scores
    /// given; only movies scored at or above it are given as reasons.
    #[serde(skip_serializing_if = "Option::is_none")]
    liked_from: Option<f64>,
    recommendations: Vec<RecommendedMovie>,
}

/// Most ratings one fold-in request may carry.
const MAX_FOLD_IN: usize = 1000;

/// Recommendations for someone the model has never seen: their ratings are folded in, no
/// retraining (SVD's bias and factors solved against the fixed movie factors, for the
/// predicted relevance; the ranking kind's own fold-in for the order: EASE scores from the
/// ratings directly, implicit ALS solves the user's factors), and the top-n movies they have
/// not rated returned.
#[utoipa::path(post, path = "/recommendations", tag = "recommendations", request_body = FoldInRequest,
    responses((status = 200, body = FoldInRecommendations), (status = 400, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 415, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn fold_in_recommendations(
    State(state): S,
    Json(body): Json<FoldInRequest>,
) -> Result<Json<FoldInRecommendations>, ApiError> {
    let s = state.current()?;
    let model = &s.view.model.rating;
    let (n, explain) = match top_n(body.n, model.n_items()).and_then(|n| Ok((n, explain_k(body.explain)?))) {
        Ok(v) => v,
        Err(e) => return Err(ApiError::unprocessable(e.message)),
    };
    if body.ratings.is_empty() || body.ratings.len() > MAX_FOLD_IN {
        return Err(ApiError::unprocessable(format!(
            "expected 1 to {MAX_FOLD_IN} ratings, got {}",
            body.ratings.len()
        )));
    }
    let mut pairs: Vec<(u32, f64)> = Vec::with_capacity(body.ratings.len());
    for (k, r) in body.ratings.iter().enumerate() {
        let Some(item) = model.items().get(&r.movie_id) else {
            return Err(ApiError::unprocessable(format!(
                "ratings[{k}]: no movie with id {} in the model",
                quote(&r.movie_id)
            )));
        };
        let scale = model.scale();
        if !r.score.is_finite() || !scale.contains(r.score) {
            return Err(ApiError::unprocessable(format!(
                "ratings[{k}]: score {} is outside the rating scale {} to {}",
                r.score,
                scale.min(),
                scale.max()
            )));
        }
        if pairs.iter().any(|&(i, _)| i == item) {
            return Err(ApiError::unprocessable(format!("ratings[{k}]: movie {} is rated twice", quote(&r.movie_id))));
        }
        pairs.push((item, r.score));
    }
    let snapshot = Arc::clone(&s);
    let (bias, liked_from, recommendations) = off_the_answering_threads(move || {
        let model = &snapshot.view.model;
        pairs.sort_unstable_by_key(|p| p.0);
        let user = User { id: None, history: &pairs };
        let profile = model.profile(user).expect("a new user is folded in");
        let list = relevance_list(&model.recommend_with(user, Some(&profile), &select::movies_of(&pairs), n));
        (profile.bias, liked(&pairs, explain), recommended(&snapshot, &list, &pairs, explain))
    })
    .await?;
    count_served(&state, recommendations.len());
    Ok(Json(FoldInRecommendations { n, folded_in: body.ratings.len(), bias, liked_from, recommendations }))
}

// ---- movies ----

/// A movie.
#[derive(Debug, Serialize, ToSchema)]
pub struct MovieSummary {
    id: String,
    title: Option<String>,
    directors: Option<String>,
    actors: Option<String>,
    imdb_rating: Option<f64>,
    imdb_votes: Option<u64>,
    /// Ratings in the data and their mean score.
    n_ratings: u32,
    mean_score: Option<f64>,
    /// Whether the model has factors for it (else it is never recommended).
    known_to_model: bool,
}

fn movie_summary(s: &Snapshot, m: usize) -> MovieSummary {
    let movie = &s.data.movies[m];
    MovieSummary {
        id: movie.id.clone(),
        title: movie.title.clone(),
        directors: movie.directors.clone(),
        actors: movie.actors.clone(),
        imdb_rating: movie.imdb_rating,
        imdb_votes: movie.imdb_votes,
        n_ratings: movie.n_ratings,
        mean_score: movie.mean_score,
        known_to_model: s.view.item_of_movie[m].is_some(),
    }
}

/// A page of movies.
#[derive(Debug, Serialize, ToSchema)]
pub struct MoviePage {
    total: usize,
    offset: usize,
    limit: usize,
    movies: Vec<MovieSummary>,
}

/// Movies, in the data's order, a page at a time; with `q`, only those whose id or title
/// matches.
#[utoipa::path(get, path = "/movies", tag = "catalogue", params(ListQuery), responses(
    (status = 200, body = MoviePage), (status = 400, body = ErrorBody)
))]
pub async fn movies(State(state): S, Query(q): Query<ListQuery>) -> Result<Json<MoviePage>, ApiError> {
    let s = state.current()?;
    let all = q.matching(s.data.movies.len(), |m| (s.data.movies[m].id.as_str(), s.data.movies[m].title.as_deref()));
    let total = all.len();
    let (offset, limit, range) = q.page().range(total, state.config.max_page)?;
    Ok(Json(MoviePage { total, offset, limit, movies: all[range].iter().map(|&m| movie_summary(&s, m)).collect() }))
}

/// A movie with its description.
#[derive(Debug, Serialize, ToSchema)]
pub struct MovieDetail {
    #[serde(flatten)]
    movie: MovieSummary,
    description: Option<String>,
}

fn find_movie(s: &Snapshot, id: &str) -> Result<usize, ApiError> {
    s.data
        .movie_ids
        .get(id)
        .map(|m| m as usize)
        .ok_or_else(|| ApiError::not_found(format!("no movie with id {}", quote(id))))
}

/// One movie.
#[utoipa::path(get, path = "/movies/{id}", tag = "catalogue", params(("id" = String, Path, description = "Movie id")),
    responses((status = 200, body = MovieDetail), (status = 404, body = ErrorBody)))]
pub async fn movie(State(state): S, Path(id): Path<String>) -> Result<Json<MovieDetail>, ApiError> {
    let s = state.current()?;
    let m = find_movie(&s, &id)?;
    Ok(Json(MovieDetail { movie: movie_summary(&s, m), description: s.data.movies[m].description.clone() }))
}

/// A movie near another.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarMovie {
    rank: usize,
    movie_id: String,
    title: Option<String>,
    /// Cosine similarity of the learned factors, -1 to 1.
    similarity: f64,
}

/// The movies nearest a movie.
#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarMovies {
    movie_id: String,
    title: Option<String>,
    n: usize,
    similar: Vec<SimilarMovie>,
}

/// The movies nearest a movie by what the served ranking learnt: EASE's item weights, the
/// cosine of implicit ALS's movie factors, or, for the `relevance` and `popularity` kinds, the
/// cosine of SVD's movie factors.
#[utoipa::path(get, path = "/movies/{id}/similar", tag = "recommendations",
    params(("id" = String, Path, description = "Movie id"), TopQuery),
    responses((status = 200, body = SimilarMovies), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn similar_movies(
    State(state): S,
    Path(id): Path<String>,
    Query(q): Query<TopQuery>,
) -> Result<Json<SimilarMovies>, ApiError> {
    let s = state.current()?;
    let n = top_n(q.n, s.view.model.rating.n_items().saturating_sub(1).max(1))?;
    let m = find_movie(&s, &id)?;
    let Some(item) = s.view.item_of_movie[m] else {
        return Err(ApiError::not_found(format!("movie {} is in the data but not in the model", quote(&id))));
    };
    let snapshot = Arc::clone(&s);
    let similar = off_the_answering_threads(move || {
        let s = &snapshot;
        s.view
            .model
            .similar(item as usize, n)
            .iter()
            .enumerate()
            .map(|(rank, &(j, similarity))| {
                let other = &s.data.movies[s.view.movie_of_item[j as usize] as usize];
                SimilarMovie { rank: rank + 1, movie_id: other.id.clone(), title: other.title.clone(), similarity }
            })
            .collect::<Vec<_>>()
    })
    .await?;
    Ok(Json(SimilarMovies { movie_id: id, title: s.data.movies[m].title.clone(), n, similar }))
}

// ---- operations ----

/// Starts a grid search in the background (the `optimize` machinery on all loaded ratings;
/// every field of the body defaults to `params.yaml`'s `optimize` section: send `{}` for
/// all defaults). One job runs at a time. With `promote`, the best candidate is fitted on all
/// ratings and served when the job succeeds.
#[utoipa::path(post, path = "/gridsearch", tag = "operations", request_body = GridsearchRequest,
    security(("bearer" = [])),
    responses((status = 202, body = JobReport), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 415, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
pub async fn start_gridsearch(
    State(state): S,
    headers: HeaderMap,
    body: Result<Json<GridsearchRequest>, ApiError>,
) -> Result<Response, ApiError> {
    state.authorize(&headers)?;
    let Json(request) = body?;
    let s = state.current()?;
    let report = gridsearch::start(&state, s, request)?;
    let location = format!("/gridsearch/{}", report.id());
    let mut response = (StatusCode::ACCEPTED, Json(report)).into_response();
    if let Ok(v) = header::HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    Ok(response)
}

/// The kept grid search jobs, newest first, without their results tables.
#[utoipa::path(get, path = "/gridsearch", tag = "operations", responses((status = 200, body = Vec<JobReport>)))]
pub async fn list_gridsearch(State(state): S) -> Json<Vec<JobReport>> {
    Json(state.jobs.list())
}

/// A grid search job: its state, progress, and the results table when done.
#[utoipa::path(get, path = "/gridsearch/{job_id}", tag = "operations",
    params(("job_id" = String, Path, description = "Job id, from POST /gridsearch")),
    responses((status = 200, body = JobReport), (status = 404, body = ErrorBody)))]
pub async fn gridsearch_job(State(state): S, Path(job_id): Path<String>) -> Result<Json<JobReport>, ApiError> {
    state
        .jobs
        .report(&job_id)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no grid search job {}", quote(&job_id))))
}

/// What a refresh answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Refreshed {
    #[schema(example = "refreshed")]
    status: &'static str,
    model: ModelInfo,
    users: usize,
    movies: usize,
}

/// Reloads the model and data from disk, checks them, and swaps them in at once; requests in
/// flight finish on the old ones. If an artifact is missing or invalid, the old model keeps
/// serving and the answer says why.
#[utoipa::path(post, path = "/refresh", tag = "operations", security(("bearer" = [])),
    responses((status = 200, body = Refreshed), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 500, description = "An artifact is missing or invalid; the old model still serves", body = ErrorBody)))]
pub async fn refresh(State(state): S, headers: HeaderMap) -> Result<Json<Refreshed>, ApiError> {
    state.authorize(&headers)?;
    match state.refresh().await {
        Ok(s) => {
            tracing::info!(model = %s.view.source, fingerprint = %s.view.provenance.data_fingerprint, "refreshed");
            Ok(Json(Refreshed {
                status: "refreshed",
                model: model_info(&s),
                users: s.data.user_ids.len(),
                movies: s.data.movie_ids.len(),
            }))
        }
        Err(e) => {
            let chain: Vec<String> = e.chain().map(ToString::to_string).collect();
            let message = chain.join(": ");
            tracing::error!("refresh failed: {message}");
            let serving =
                if state.snapshot().is_some() { "the previous model still serves" } else { "no model serves" };
            Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "refresh_failed",
                format!("refresh failed, {serving}: {message}"),
            ))
        }
    }
}

/// Prometheus metrics, in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "service", responses((status = 200, body = String, content_type = "text/plain")))]
pub async fn metrics(State(state): S) -> Response {
    let s = state.snapshot();
    let gauges = s.as_ref().map(|s| ModelGauges {
        fingerprint: &s.view.provenance.data_fingerprint,
        created_at: &s.view.provenance.created_at,
        source: &s.view.source,
        created_seconds: movierec_core::models::artifact::parse_rfc3339(&s.view.provenance.created_at),
        loaded_seconds: s.view.loaded_at,
        age_seconds: s.view.age_seconds(),
        max_age_seconds: state.config.max_model_age.as_secs(),
        users: s.view.model.rating.users().len(),
        movies: s.view.model.rating.n_items(),
    });
    let a = &state.admission;
    let (max_in_flight, max_queue) = a.limits();
    let load = Load { in_flight: a.in_flight(), queued: a.queued(), refused: a.refused(), max_in_flight, max_queue };
    let text = state.metrics.render(gauges.as_ref(), &load, state.jobs.running(), state.started);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}

/// Any other path.
pub async fn no_route() -> ApiError {
    ApiError::not_found("no such route; GET / lists them")
}

/// A route asked with a method it does not take.
pub async fn no_method() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take this method")
}
