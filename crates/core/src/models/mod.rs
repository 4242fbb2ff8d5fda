//! The models: the rating model, which predicts the relevance score a user would give a movie
//! ([`rating`]: Surprise's SVD, [`svd`] and [`fast`], or any other of Surprise's algorithms
//! behind [`predictor::Predictor`], registered in [`predictor::Algorithm`]), and the top-N
//! models, which order a user's unseen movies ([`popularity`], [`ease`], [`ials`]).
//!
//! Every model that can order movies implements [`TopN`] (score every movie for a user it was
//! fitted on or for a new user folded in from their ratings, and the movies most like a
//! movie); its parameters implement [`Fit`]. [`Ranking`] is the registration: one variant per
//! kind. A [`Recommender`] is what is served: the rating model, whose predicted relevance
//! users read, and the ranking that orders their list ([`artifact`] is its file format,
//! [`recommend`] the shared top-N machinery).
//!
//! Adding a kind: a module with its parameters (implementing [`Fit`]) and its fitted model
//! (implementing [`TopN`]), a variant of [`Kind`], [`RankingParams`] and [`Ranking`], and
//! its payload in [`artifact`]. Adding a rating algorithm: a module with its parameters and
//! its fitted model (implementing [`predictor::Predictor`], serde for the model file), and a
//! variant of [`predictor::Algorithm`] with its `fit`, `save` and `load` arms.

pub mod artifact;
pub mod baseline;
pub mod co_clustering;
pub mod ease;
pub mod fast;
pub mod ials;
pub mod knn;
pub mod nmf;
pub mod normal;
pub mod popularity;
pub mod predictor;
pub mod rating;
pub mod recommend;
pub mod scoring;
pub mod simd;
pub mod similarity;
pub mod slope_one;
pub mod svd;
pub mod svdpp;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::trainset::Trainset;
use crate::models::ease::{Ease, EaseParams};
use crate::models::ials::{Ials, IalsParams};
use crate::models::popularity::{Popularity, PopularityParams};
use crate::models::rating::{NewUser, RatingModel};
use crate::models::recommend::top_unseen;

/// What orders a user's list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The rating model's predicted relevance (the original system's order).
    Svd,
    /// The same list for everyone: the most rated movies, or the highest damped mean score.
    Popularity,
    /// EASE (Steck 2019): a closed-form item × item model of who rated what.
    Ease,
    /// Implicit ALS (Hu, Koren and Volinsky 2008), solved by conjugate gradient.
    Ials,
    /// A choice, never a fitted model: EASE on a catalogue up to `ease.max_items` movies,
    /// implicit ALS above ([`RankingParams::resolve`]), so that the default works at any size.
    #[default]
    Auto,
}

impl Kind {
    /// Every kind a model can be, in the order reports list them (not [`Kind::Auto`], which
    /// resolves to one of them).
    pub const ALL: [Kind; 4] = [Kind::Svd, Kind::Popularity, Kind::Ease, Kind::Ials];

    /// The name used in `params.yaml`, reports and the API.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Svd => "svd",
            Kind::Popularity => "popularity",
            Kind::Ease => "ease",
            Kind::Ials => "ials",
            Kind::Auto => "auto",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A model that cannot be fitted with these parameters on this data.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FitError {
    /// A parameter outside its range.
    #[error("invalid {name} {value}: expected {expected}")]
    Invalid {
        /// The parameter, as `params.yaml` names it inside the model's section.
        name: &'static str,
        /// The value given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// EASE's item × item matrix would be larger than allowed.
    #[error(
        "EASE needs a {n} × {n} matrix over the movies ({gib:.1} GiB) and ease.max_items is {max}: \
         use the ials kind (or auto, which takes it above ease.max_items) for a catalogue this large, or raise \
         ease.max_items"
    )]
    TooManyItems {
        /// Movies in the training set.
        n: usize,
        /// The limit.
        max: usize,
        /// The matrix's size.
        gib: f64,
    },
    /// Training stopped because a parameter stopped being a number.
    #[error(transparent)]
    Diverged(#[from] crate::models::svd::Diverged),
    /// A model whose size grows with the square of the users or movies, above its limit.
    #[error(
        "{what} over {n} {entities} needs a similarity for every pair ({gib:.2} GiB) and {param} is {max}: \
         {advice}, or raise {param}"
    )]
    TooLarge {
        /// The model.
        what: &'static str,
        /// Users or movies in the training set.
        n: usize,
        /// "users" or "movies".
        entities: &'static str,
        /// The size it would take.
        gib: f64,
        /// The limit.
        max: usize,
        /// The parameter holding the limit.
        param: &'static str,
        /// What to do instead.
        advice: &'static str,
    },
}

/// Fitting a top-N model: implemented by each kind's parameters.
pub trait Fit {
    /// The fitted model.
    type Model: TopN;

    /// Whether these parameters can be fitted on `n_items` movies: what [`Fit::fit`] would
    /// refuse, found before any work (a stage checks every model it will fit first).
    ///
    /// # Errors
    /// [`FitError`] naming the parameter or the limit.
    fn check(&self, n_items: usize) -> Result<(), FitError>;

    /// Checks the parameters and fits on `t` with `threads` threads (0: the current rayon
    /// pool, all cores outside one); the model is the same whatever the number of threads.
    ///
    /// # Errors
    /// [`FitError`] naming the parameter or the limit.
    fn fit(&self, t: &Trainset<'_>, threads: usize) -> Result<Self::Model, FitError>;
}

/// What every model that orders movies offers.
pub trait TopN: Send + Sync {
    /// Movies the model was fitted on (inner ids `0..n_items`).
    fn n_items(&self) -> usize;

    /// Writes a ranking score for every movie into `out` (`n_items` long; higher ranks
    /// first). `user` is the inner id of a user the model was fitted on, or `None` for a new
    /// user, who is folded in from `history`; `history` is the user's ratings (inner movie
    /// id, score), sorted by movie, each movie once.
    fn scores(&self, user: Option<usize>, history: &[(u32, f64)], out: &mut [f64]);

    /// The `n` movies most like movie `i` by what the model learnt, most similar first, or
    /// `None` when the kind learns nothing about movies' likeness.
    fn similar(&self, i: usize, n: usize) -> Option<Vec<(u32, f64)>>;

    /// The `n` best movies for a user that are not in `seen` (sorted inner ids), best first,
    /// with their ranking scores; ties go to the lower inner id.
    fn rank(&self, user: Option<usize>, history: &[(u32, f64)], seen: &[u32], n: usize) -> Vec<(u32, f64)> {
        let mut scores = vec![0.0; self.n_items()];
        self.scores(user, history, &mut scores);
        top_unseen(scores.len(), seen, n, |i| scores[i as usize])
    }

    /// [`TopN::rank`] for each of `users`, users the model was fitted on (their ratings by
    /// `history`, their seen movies by `seen`), on the current rayon pool: user by user, or,
    /// for the kinds whose scores are products of factor rows, all at once as blocked matrix
    /// products (the same lists).
    fn rank_all<'s>(
        &self,
        users: &[usize],
        history: &(dyn Fn(usize) -> &'s [(u32, f64)] + Sync),
        seen: &(dyn Fn(usize) -> &'s [u32] + Sync),
        n: usize,
    ) -> Vec<Vec<(u32, f64)>> {
        users.par_iter().map(|&u| self.rank(Some(u), history(u), seen(u), n)).collect()
    }
}

/// The parameters of every kind, and which one orders the lists.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RankingParams {
    /// The kind that orders each user's list.
    pub kind: Kind,
    /// When above 0: the ranking's best `rerank` movies are ordered again by predicted
    /// relevance (a list shorter than `rerank` is cut after the re-ordering).
    pub rerank: usize,
    /// The `popularity` kind's parameters.
    pub popularity: PopularityParams,
    /// The `ease` kind's parameters.
    pub ease: EaseParams,
    /// The `ials` kind's parameters.
    pub ials: IalsParams,
}

impl RankingParams {
    /// Fits the ranking of `self.kind` on `t` (nothing to fit for `svd`).
    ///
    /// # Errors
    /// The kind's [`FitError`].
    pub fn fit(&self, t: &Trainset<'_>, threads: usize) -> Result<Ranking, FitError> {
        self.fit_kind(self.kind, t, threads)
    }

    /// The kind `kind` means on a catalogue of `n_items` movies: itself, or for `auto`,
    /// EASE up to `ease.max_items` movies and implicit ALS above (EASE's `n²` matrix would
    /// not fit: 56 GiB at 87,000 movies).
    pub fn resolve(&self, kind: Kind, n_items: usize) -> Kind {
        match kind {
            Kind::Auto if n_items <= self.ease.max_items => Kind::Ease,
            Kind::Auto => Kind::Ials,
            other => other,
        }
    }

    /// The kind `kind` resolves to on `n_items` movies, once its parameters are checked
    /// against them: what [`RankingParams::fit_kind`] would refuse, before any work.
    ///
    /// # Errors
    /// The kind's [`FitError`].
    pub fn check_kind(&self, kind: Kind, n_items: usize) -> Result<Kind, FitError> {
        let kind = self.resolve(kind, n_items);
        match kind {
            Kind::Svd | Kind::Auto => Ok(()),
            Kind::Popularity => self.popularity.check(n_items),
            Kind::Ease => self.ease.check(n_items),
            Kind::Ials => self.ials.check(n_items),
        }?;
        Ok(kind)
    }

    /// Fits the ranking of `kind` with these parameters.
    ///
    /// # Errors
    /// The kind's [`FitError`].
    pub fn fit_kind(&self, kind: Kind, t: &Trainset<'_>, threads: usize) -> Result<Ranking, FitError> {
        Ok(match self.resolve(kind, t.n_items()) {
            Kind::Svd => Ranking::Svd,
            Kind::Popularity => Ranking::Popularity(self.popularity.fit(t, threads)?),
            Kind::Ease => Ranking::Ease(self.ease.fit(t, threads)?),
            Kind::Ials | Kind::Auto => Ranking::Ials(self.ials.fit(t, threads)?),
        })
    }

    /// The parameters of the chosen kind only, for reports and tracking.
    pub fn chosen(&self) -> serde_json::Value {
        self.chosen_as(self.kind)
    }

    /// The parameters of `kind` (what `self.kind` resolved to) only, for reports and
    /// tracking; with `requested: auto` when `auto` chose it.
    pub fn chosen_as(&self, kind: Kind) -> serde_json::Value {
        let own = match kind {
            Kind::Svd | Kind::Auto => serde_json::Value::Null,
            Kind::Popularity => serde_json::to_value(self.popularity).expect("plain data"),
            Kind::Ease => serde_json::to_value(self.ease).expect("plain data"),
            Kind::Ials => serde_json::to_value(self.ials).expect("plain data"),
        };
        let mut chosen = serde_json::json!({"kind": kind, "rerank": self.rerank, "params": own});
        if self.kind != kind {
            chosen["requested"] = serde_json::json!(self.kind);
        }
        chosen
    }
}

/// A fitted ranking: one variant per kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Ranking {
    /// Order by the rating model's predicted relevance.
    Svd,
    /// A fitted popularity list.
    Popularity(Popularity),
    /// A fitted EASE.
    Ease(Ease),
    /// A fitted implicit ALS.
    Ials(Ials),
}

impl Ranking {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Ranking::Svd => Kind::Svd,
            Ranking::Popularity(_) => Kind::Popularity,
            Ranking::Ease(_) => Kind::Ease,
            Ranking::Ials(_) => Kind::Ials,
        }
    }

    /// The fitted top-N model, or `None` for `svd` (the rating model orders).
    pub fn top_n(&self) -> Option<&dyn TopN> {
        match self {
            Ranking::Svd => None,
            Ranking::Popularity(m) => Some(m),
            Ranking::Ease(m) => Some(m),
            Ranking::Ials(m) => Some(m),
        }
    }
}

/// How deep a ranking's own list must be for `n` recommendations whose best `rerank` are
/// re-ordered by predicted relevance (`rerank` 0: not re-ordered).
pub fn depth(rerank: usize, n: usize) -> usize {
    if rerank > 0 { rerank.max(n) } else { n }
}

/// Each of `users`' `n` recommendations from its ranking's own list (`ranked`, by
/// [`TopN::rank_all`], at least [`depth`]`(rerank, n)` long), each movie with its predicted
/// relevance by `rating`, the best `rerank` re-ordered by it: what
/// [`Recommender::recommend_all`] gives with that `rerank`. One ranking's lists, computed
/// once, serve every `rerank` and every `n` up to their length.
///
/// # Panics
/// If `ranked` does not hold a list per user.
pub fn from_ranked(
    rating: &RatingModel,
    users: &[usize],
    ranked: &[Vec<(u32, f64)>],
    rerank: usize,
    n: usize,
) -> Vec<Vec<Recommendation>> {
    assert_eq!(users.len(), ranked.len(), "a ranked list per user");
    ranked
        .par_iter()
        .zip(users)
        .map(|(ranked, &u)| {
            let list = ranked
                .iter()
                .take(depth(rerank, n))
                .map(|&(movie, _)| Recommendation {
                    movie,
                    relevance: rating.estimate(Some(u), Some(movie as usize)).est,
                })
                .collect();
            reordered(list, rerank, n)
        })
        .collect()
}

/// A ranking's list (at most [`depth`]`(rerank, n)` long), its best `rerank` re-ordered by
/// predicted relevance, cut to `n`.
fn reordered(mut list: Vec<Recommendation>, rerank: usize, n: usize) -> Vec<Recommendation> {
    if rerank > 0 {
        // A stable sort keeps the ranking's order among equal relevances.
        list.sort_by(|a, b| b.relevance.total_cmp(&a.relevance));
    }
    list.truncate(n);
    list
}

/// How a user is known to a [`Recommender`].
#[derive(Clone, Copy, Debug)]
pub struct User<'a> {
    /// The inner id of a user the models were fitted on; `None` for a new user.
    pub id: Option<usize>,
    /// The user's ratings (inner movie id, score), sorted by movie, each movie once: what a
    /// new user is folded in from, and what item-based kinds score from.
    pub history: &'a [(u32, f64)],
}

/// One recommended movie.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recommendation {
    /// The movie's inner id.
    pub movie: u32,
    /// The rating model's predicted relevance, clipped to the rating scale: what users read.
    pub relevance: f64,
}

/// What is served: the rating model, whose predicted relevance every recommendation shows,
/// and the ranking that orders the list. Both were fitted on the same ratings, so they share
/// the rating model's inner ids.
#[derive(Clone, Debug, PartialEq)]
pub struct Recommender {
    /// The predicted relevance: SVD or another of Surprise's algorithms.
    pub rating: RatingModel,
    /// The order.
    pub ranking: Ranking,
    /// Re-order the ranking's best `rerank` movies by predicted relevance (0: do not).
    pub rerank: usize,
}

impl Recommender {
    /// The kind that orders the lists.
    pub fn kind(&self) -> Kind {
        self.ranking.kind()
    }

    /// The rating model's fold-in of a new user (a known user's own estimates are used
    /// directly by [`Recommender::relevance`]).
    pub fn profile(&self, user: User<'_>) -> Option<NewUser> {
        user.id.is_none().then(|| self.rating.fold_in(user.history))
    }

    /// The predicted relevance of movie `i` for `user` (`profile` from
    /// [`Recommender::profile`]).
    pub fn relevance(&self, user: User<'_>, profile: Option<&NewUser>, i: usize) -> f64 {
        match profile {
            Some(p) => p.relevance[i],
            None => self.rating.estimate(user.id, Some(i)).est,
        }
    }

    /// The `n` movies not in `seen` (sorted inner ids) to recommend to `user`, in the
    /// ranking's order (re-ordered by predicted relevance when `rerank` is set), each with
    /// its predicted relevance. Ties go to the lower inner id.
    pub fn recommend(&self, user: User<'_>, seen: &[u32], n: usize) -> Vec<Recommendation> {
        self.recommend_with(user, self.profile(user).as_ref(), seen, n)
    }

    /// [`Recommender::recommend`] for each of `users`, users the models were fitted on (their
    /// ratings by `history`, their seen movies by `seen`), the lists of the kinds whose scores
    /// are products of factor rows computed all at once as blocked matrix products (the same
    /// lists), on the current rayon pool.
    pub fn recommend_all<'s>(
        &self,
        users: &[usize],
        history: &(dyn Fn(usize) -> &'s [(u32, f64)] + Sync),
        seen: &(dyn Fn(usize) -> &'s [u32] + Sync),
        n: usize,
    ) -> Vec<Vec<Recommendation>> {
        let relevance = |u: usize, i: u32| self.rating.estimate(Some(u), Some(i as usize)).est;
        let Some(model) = self.ranking.top_n() else {
            let lists = self.rating.top_unseen_all(users, seen, n).unwrap_or_else(|| {
                let n_items = self.rating.n_items();
                users.par_iter().map(|&u| top_unseen(n_items, seen(u), n, |i| relevance(u, i))).collect()
            });
            return lists
                .into_iter()
                .map(|list| list.into_iter().map(|(movie, relevance)| Recommendation { movie, relevance }).collect())
                .collect();
        };
        let ranked = model.rank_all(users, history, seen, depth(self.rerank, n));
        from_ranked(&self.rating, users, &ranked, self.rerank, n)
    }

    /// [`Recommender::recommend`] with the new user's profile already folded in (from
    /// [`Recommender::profile`]; `None` for a known user).
    pub fn recommend_with(
        &self,
        user: User<'_>,
        profile: Option<&NewUser>,
        seen: &[u32],
        n: usize,
    ) -> Vec<Recommendation> {
        // A known user's list is the one computed for all users at once.
        if let (Some(u), None) = (user.id, profile) {
            let (history, seen) = (user.history, seen);
            return self.recommend_all(&[u], &|_| history, &|_| seen, n).pop().unwrap_or_default();
        }
        let relevance = |i: u32| self.relevance(user, profile, i as usize);
        let n_items = self.rating.n_items();
        let Some(model) = self.ranking.top_n() else {
            return top_unseen(n_items, seen, n, relevance)
                .into_iter()
                .map(|(movie, relevance)| Recommendation { movie, relevance })
                .collect();
        };
        let list = model
            .rank(user.id, user.history, seen, depth(self.rerank, n))
            .into_iter()
            .map(|(movie, _)| Recommendation { movie, relevance: relevance(movie) })
            .collect();
        reordered(list, self.rerank, n)
    }

    /// The `n` movies most like movie `i`: by the ranking's model where its kind offers it,
    /// else by the rating model's (the cosine of its movie factors, or an item-based k-NN's
    /// similarities); none when neither learns movies' likeness.
    pub fn similar(&self, i: usize, n: usize) -> Vec<(u32, f64)> {
        self.ranking.top_n().and_then(|m| m.similar(i, n)).or_else(|| self.rating.similar(i, n)).unwrap_or_default()
    }

    /// Why movie `i` is recommended to someone with these ratings: the `k` movies of
    /// `history` most like it (by [`Recommender::similar`]), most similar first, each with
    /// its similarity and the user's score.
    pub fn because(&self, i: usize, history: &[(u32, f64)], k: usize) -> Vec<(u32, f64, f64)> {
        if k == 0 || history.is_empty() {
            return Vec::new();
        }
        let score: std::collections::HashMap<u32, f64> = history.iter().copied().collect();
        self.similar(i, self.rating.n_items())
            .into_iter()
            .filter_map(|(j, similarity)| score.get(&j).map(|&s| (j, similarity, s)))
            .take(k)
            .collect()
    }
}

/// What a rating weighs in the implicit models (EASE's `X`, implicit ALS's confidence).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Weighting {
    /// 1 for every rating: who rated what.
    #[default]
    Binary,
    /// `0.5 + 0.5·(score − min) / (max − min)`: every rating counts, a high score twice
    /// as much as the lowest.
    Score,
}

impl Weighting {
    /// The entry of `X` for a score on the scale `[lo, hi]`.
    pub fn weight(self, score: f64, lo: f64, hi: f64) -> f64 {
        match self {
            Weighting::Binary => 1.0,
            Weighting::Score => 0.5 + 0.5 * ((score - lo) / (hi - lo)).clamp(0.0, 1.0),
        }
    }
}

/// A check of a count that must be 1 or more, for the kinds' `fit`.
pub(crate) fn check_count(name: &'static str, value: usize) -> Result<(), FitError> {
    if value >= 1 { Ok(()) } else { Err(FitError::Invalid { name, value: value.to_string(), expected: "1 or more" }) }
}

/// A check of a number parameter, for the kinds' `fit`.
pub(crate) fn check(name: &'static str, value: f64, ok: bool, expected: &'static str) -> Result<(), FitError> {
    if ok && value.is_finite() { Ok(()) } else { Err(FitError::Invalid { name, value: value.to_string(), expected }) }
}

/// The rating list of a training set as sparse rows: each user's movies (sorted, each once:
/// the last rating of a pair rated twice counts) with their scores, and each movie's users.
#[derive(Clone, Debug)]
pub struct Interactions {
    /// `items[user_start[u]..user_start[u + 1]]` are user `u`'s movies, ascending.
    pub user_start: Vec<usize>,
    /// Movie ids, user by user.
    pub items: Vec<u32>,
    /// Scores, aligned with `items`.
    pub user_scores: Vec<f64>,
    /// `users[item_start[i]..item_start[i + 1]]` are movie `i`'s users, ascending.
    pub item_start: Vec<usize>,
    /// User ids, movie by movie.
    pub users: Vec<u32>,
    /// Scores, aligned with `users`.
    pub item_scores: Vec<f64>,
}

impl Interactions {
    /// The interactions of `t`.
    pub fn new(t: &Trainset<'_>) -> Interactions {
        let list = t.list();
        let (n_users, n_items) = (t.n_users(), t.n_items());
        // Each user's movies, sorted, in parallel.
        let rows: Vec<Vec<(u32, f64)>> = (0..n_users)
            .into_par_iter()
            .map(|u| {
                let mut row: Vec<(u32, f64)> =
                    t.user_rows(u).iter().map(|&r| (list.movie()[r as usize].0, list.score()[r as usize])).collect();
                keep_last_per_movie(&mut row);
                row
            })
            .collect();
        let mut user_start = Vec::with_capacity(n_users + 1);
        let mut items = Vec::with_capacity(list.len());
        let mut user_scores = Vec::with_capacity(list.len());
        user_start.push(0);
        for row in &rows {
            items.extend(row.iter().map(|e| e.0));
            user_scores.extend(row.iter().map(|e| e.1));
            user_start.push(items.len());
        }
        let mut count = vec![0usize; n_items + 1];
        for &i in &items {
            count[i as usize + 1] += 1;
        }
        for i in 0..n_items {
            count[i + 1] += count[i];
        }
        let item_start = count.clone();
        let mut users = vec![0u32; items.len()];
        let mut item_scores = vec![0.0; items.len()];
        let mut next = count;
        for u in 0..n_users {
            for k in user_start[u]..user_start[u + 1] {
                let slot = &mut next[items[k] as usize];
                users[*slot] = u as u32;
                item_scores[*slot] = user_scores[k];
                *slot += 1;
            }
        }
        Interactions { user_start, items, user_scores, item_start, users, item_scores }
    }

    /// Users.
    pub fn n_users(&self) -> usize {
        self.user_start.len() - 1
    }

    /// Movies.
    pub fn n_items(&self) -> usize {
        self.item_start.len() - 1
    }

    /// User `u`'s (movie, score) pairs.
    pub fn user(&self, u: usize) -> impl ExactSizeIterator<Item = (u32, f64)> + '_ {
        let r = self.user_start[u]..self.user_start[u + 1];
        self.items[r.clone()].iter().copied().zip(self.user_scores[r].iter().copied())
    }

    /// Movie `i`'s (user, score) pairs.
    pub fn item(&self, i: usize) -> impl ExactSizeIterator<Item = (u32, f64)> + '_ {
        let r = self.item_start[i]..self.item_start[i + 1];
        self.users[r.clone()].iter().copied().zip(self.item_scores[r].iter().copied())
    }
}

/// Sorts a user's (movie, score) pairs by movie and keeps one per movie: the last of a pair
/// rated twice (the sort is stable, so it stays last).
pub(crate) fn keep_last_per_movie(row: &mut Vec<(u32, f64)>) {
    row.sort_by_key(|e| e.0);
    row.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            *earlier = *later;
        }
        same
    });
}

/// Runs `op` on a rayon pool of `threads` threads, or, for 0, on the current one (the
/// global pool, of all cores, outside any pool; the caller's inside one, so that a fit inside
/// a search shares the search's threads instead of starting its own).
pub(crate) fn install<R: Send>(threads: usize, op: impl FnOnce() -> R + Send) -> R {
    if threads == 0 {
        op()
    } else {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool").install(op)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::RatingList;
    use crate::data::scale::RatingScale;

    #[test]
    fn interactions_keep_the_last_of_a_pair_and_index_both_ways() {
        let mut l = RatingList::new(RatingScale::SEED);
        for (u, m, s) in [("a", "x", 1.0), ("a", "y", 2.0), ("b", "y", 3.0), ("a", "x", 4.0)] {
            l.push(u, m, s);
        }
        let t = Trainset::new(&l);
        let x = Interactions::new(&t);
        assert_eq!(x.user(0).collect::<Vec<_>>(), [(0, 4.0), (1, 2.0)]);
        assert_eq!(x.user(1).collect::<Vec<_>>(), [(1, 3.0)]);
        assert_eq!(x.item(1).collect::<Vec<_>>(), [(0, 2.0), (1, 3.0)]);
        assert_eq!((x.n_users(), x.n_items()), (2, 2));
    }

    #[test]
    fn kinds_have_names() {
        for k in Kind::ALL {
            assert_eq!(serde_json::from_value::<Kind>(k.name().into()).unwrap(), k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
        }
        assert!(serde_json::from_value::<Kind>("knn".into()).is_err());
    }

    /// Every user's list at once is each user's list by its definition: the best unseen by
    /// the ranking's own scores (or the predicted relevance), re-ordered by relevance where
    /// asked, ties to the lower id; for SVD in both precisions, implicit ALS, EASE, popularity.
    #[test]
    fn all_users_lists_are_each_users_list_by_definition() {
        use crate::models::svd::{SvdParams, TrainMode};
        let data = crate::data::synthetic::generate(
            &crate::data::synthetic::SyntheticConfig { seed: 4, scale: 0.03, ..Default::default() },
            RatingScale::SEED,
        )
        .unwrap();
        let t = Trainset::new(&data.ratings);
        let x = Interactions::new(&t);
        let history: Vec<Vec<(u32, f64)>> = (0..x.n_users()).map(|u| x.user(u).collect()).collect();
        let seen: Vec<Vec<u32>> = history.iter().map(|h| h.iter().map(|r| r.0).collect()).collect();
        let users: Vec<usize> = (0..x.n_users()).rev().step_by(3).collect();
        let svd = SvdParams { n_factors: 20, n_epochs: 3, ..SvdParams::default() }.check().unwrap();
        let ranking = RankingParams {
            ials: crate::models::ials::IalsParams { factors: 8, iterations: 2, ..Default::default() },
            ..Default::default()
        };
        for mode in [TrainMode::Fast, TrainMode::Surprise] {
            let rating = RatingModel::Svd(svd.fit(mode, 1, &t, |_| {}).unwrap());
            for kind in Kind::ALL {
                for rerank in [0, 12] {
                    let rec =
                        Recommender { rating: rating.clone(), ranking: ranking.fit_kind(kind, &t, 1).unwrap(), rerank };
                    let all = rec.recommend_all(&users, &|u| &history[u], &|u| &seen[u], 8);
                    for (&u, list) in users.iter().zip(&all) {
                        let relevance = |i: u32| rec.rating.estimate(Some(u), Some(i as usize)).est;
                        let expected: Vec<u32> = match rec.ranking.top_n() {
                            None => top_unseen(x.n_items(), &seen[u], 8, relevance).into_iter().map(|r| r.0).collect(),
                            Some(m) => {
                                let mut scores = vec![0.0; x.n_items()];
                                m.scores(Some(u), &history[u], &mut scores);
                                let depth = if rerank > 0 { rerank.max(8) } else { 8 };
                                let mut l = top_unseen(x.n_items(), &seen[u], depth, |i| scores[i as usize]);
                                if rerank > 0 {
                                    l.sort_by(|a, b| relevance(b.0).total_cmp(&relevance(a.0)));
                                    l.truncate(8);
                                }
                                l.into_iter().map(|r| r.0).collect()
                            }
                        };
                        let got: Vec<u32> = list.iter().map(|r| r.movie).collect();
                        assert_eq!(got, expected, "{mode:?}, {kind}, rerank {rerank}, user {u}");
                        assert!(list.iter().all(|r| r.relevance == relevance(r.movie)));
                        // One user alone gets the same list.
                        let alone = rec.recommend(User { id: Some(u), history: &history[u] }, &seen[u], 8);
                        assert_eq!(&alone, list, "{mode:?}, {kind}, rerank {rerank}, user {u} alone");
                    }
                    // One ranking's lists, deeper than any asks, re-ordered for each `rerank`
                    // and `n`: each the lists computed for that `rerank` alone.
                    if let Some(m) = rec.ranking.top_n() {
                        let ranked = m.rank_all(&users, &|u| &history[u], &|u| &seen[u], 30);
                        for (other, n) in [(0, 8), (0, 3), (12, 8), (5, 8), (20, 4)] {
                            let alone = Recommender { rerank: other, ..rec.clone() };
                            let expected = alone.recommend_all(&users, &|u| &history[u], &|u| &seen[u], n);
                            let got = from_ranked(&rec.rating, &users, &ranked, other, n);
                            assert_eq!(got, expected, "{mode:?}, {kind}, rerank {other} from one ranking, n {n}");
                        }
                    }
                }
            }
        }
    }
}
