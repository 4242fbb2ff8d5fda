//! What every model shares: the errors, the traits of a top-N model ([`Fit`], [`TopN`]), the
//! training set as sparse rows ([`Interactions`]), and the kernels: the rating algorithms'
//! interface ([`predictor`]), the top N of a catalogue ([`select`]), blocked scoring
//! ([`scoring`]), the item × item kinds' scores and likeness ([`item_item`]), SIMD ([`simd`])
//! and small dense algebra ([`linalg`]). Nothing here knows a particular model.

pub mod item_item;
pub mod linalg;
pub mod predictor;
pub mod scoring;
pub mod select;
pub mod simd;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::scale::RatingScale;
use crate::data::trainset::Trainset;
use crate::models::base::select::top_unseen;

/// How SVD and SVD++ are fitted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrainMode {
    /// Double precision, one thread, Surprise's exact visiting and update order: the same
    /// parameters as scikit-surprise, bit for bit.
    Surprise,
    /// Single precision, parallel over a grid of user × movie blocks run in an order that
    /// keeps each user's and each movie's own: the same result for any number of threads.
    #[default]
    Fast,
}

/// What one epoch of training reports.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Epoch {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Root mean squared error of the training ratings, each measured just before its update.
    pub train_rmse: f64,
}

/// Why a searched value cannot be set on an algorithm's parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unsettable {
    /// Not one of the parameters a search sets.
    Unknown,
    /// Outside what the parameter accepts: what it expects.
    Invalid(&'static str),
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
    /// An item × item kind's matrix (EASE's, RP3beta's) would be larger than allowed.
    #[error(
        "{kind} needs a {n} × {n} matrix over the movies ({gib:.1} GiB) and {kind}.max_items is {max}: \
         use the ials kind (or auto, which takes it above ease.max_items) for a catalogue this large, or raise \
         {kind}.max_items"
    )]
    TooManyItems {
        /// The kind, as `params.yaml` names it.
        kind: &'static str,
        /// Movies in the training set.
        n: usize,
        /// The limit.
        max: usize,
        /// The matrix's size.
        gib: f64,
    },
    /// Training stopped because a parameter stopped being a number.
    #[error(transparent)]
    Diverged(#[from] Diverged),
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
/// Training stopped because a parameter stopped being a number.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
#[error(
    "training diverged at epoch {epoch} of {n_epochs}: {what} is no longer finite; the learning rates \
     (lr_bu {lr_bu}, lr_bi {lr_bi}, lr_pu {lr_pu}, lr_qi {lr_qi}) are too large for ratings on a scale of {scale}: \
     lower lr_all"
)]
#[allow(missing_docs)] // the fields are what the message names
pub struct Diverged {
    pub epoch: usize,
    pub n_epochs: usize,
    pub what: &'static str,
    pub lr_bu: f64,
    pub lr_bi: f64,
    pub lr_pu: f64,
    pub lr_qi: f64,
    pub scale: RatingScale,
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
}
