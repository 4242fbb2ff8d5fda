//! The same list for everyone: what a user gets without a personal model, and the baseline
//! every personal ranking must beat.
//!
//! `count` ranks movies by how many users rated them; `damped_mean` by their mean score
//! pulled toward the global mean by `damping` phantom ratings,
//! `(Σ r + m·μ) / (n + m)`, so a movie with two perfect scores does not top the list.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::trainset::Trainset;
use crate::models::base::scoring::Cached;
use crate::models::base::{Fit, FitError, Interactions, TopN, check};

/// What the list is ordered by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum By {
    /// Users who rated the movie.
    #[default]
    Count,
    /// The damped mean score.
    DampedMean,
}

/// The popularity kind's parameters.
///
/// | Name | Default | Purpose |
/// |---|---|---|
/// | `by` | `count` | `count` or `damped_mean` |
/// | `damping` | 10 | phantom ratings at the global mean, for `damped_mean` (0 or more) |
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PopularityParams {
    /// What orders the list.
    pub by: By,
    /// Phantom ratings at the global mean (`damped_mean` only).
    pub damping: f64,
}

impl Default for PopularityParams {
    fn default() -> PopularityParams {
        PopularityParams { by: By::Count, damping: 10.0 }
    }
}

/// A fitted popularity list: one score per movie.
#[derive(Clone, Debug, PartialEq)]
pub struct Popularity {
    /// What the scores are.
    pub by: By,
    /// The score of each movie (inner id).
    pub scores: Vec<f64>,
    /// The movies best first, ties to the lower inner id: put in order on first use, so that
    /// every later list (a request to `serve`, each user of a batch) only walks it.
    pub order: Cached<Vec<u32>>,
}

impl Fit for PopularityParams {
    type Model = Popularity;

    fn check(&self, _n_items: usize) -> Result<(), FitError> {
        check("popularity.damping", self.damping, self.damping >= 0.0, "a number of 0 or more")
    }

    fn fit(&self, t: &Trainset<'_>, _threads: usize) -> Result<Popularity, FitError> {
        self.check(t.n_items())?;
        let x = Interactions::new(t);
        let mu = t.global_mean();
        let scores = (0..x.n_items())
            .map(|i| match self.by {
                By::Count => x.item(i).len() as f64,
                By::DampedMean => {
                    let (n, sum) = x.item(i).fold((0.0, 0.0), |(n, s), (_, r)| (n + 1.0, s + r));
                    if n + self.damping == 0.0 { mu } else { (sum + self.damping * mu) / (n + self.damping) }
                }
            })
            .collect();
        Ok(Popularity { by: self.by, scores, order: Cached::default() })
    }
}

impl TopN for Popularity {
    fn n_items(&self) -> usize {
        self.scores.len()
    }

    fn scores(&self, _user: Option<usize>, _history: &[(u32, f64)], out: &mut [f64]) {
        out.copy_from_slice(&self.scores);
    }

    fn similar(&self, _i: usize, _n: usize) -> Option<Vec<(u32, f64)>> {
        None
    }

    /// The same list for everyone: each user's first `n` unseen movies of the one order (the
    /// same lists as [`TopN::rank`], without scoring every movie for every user).
    fn rank_all<'s>(
        &self,
        users: &[usize],
        _history: &(dyn Fn(usize) -> &'s [(u32, f64)] + Sync),
        seen: &(dyn Fn(usize) -> &'s [u32] + Sync),
        n: usize,
    ) -> Vec<Vec<(u32, f64)>> {
        let order = self.order.get_or_init(|| {
            let mut order: Vec<u32> = (0..self.scores.len() as u32).collect();
            order.sort_by(|&a, &b| self.scores[b as usize].total_cmp(&self.scores[a as usize]).then(a.cmp(&b)));
            order
        });
        users
            .par_iter()
            .map(|&u| {
                let seen = seen(u);
                order
                    .iter()
                    .filter(|i| seen.binary_search(i).is_err())
                    .take(n)
                    .map(|&i| (i, self.scores[i as usize]))
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::RatingList;
    use crate::data::scale::RatingScale;

    fn list() -> RatingList {
        let mut l = RatingList::new(RatingScale::SEED);
        for (u, m, s) in [("a", "x", 10.0), ("b", "x", 20.0), ("c", "x", 30.0), ("a", "y", 100.0), ("b", "z", 90.0)] {
            l.push(u, m, s);
        }
        l
    }

    #[test]
    fn counts_and_damped_means() {
        let l = list();
        let t = Trainset::new(&l);
        let p = PopularityParams::default().fit(&t, 1).unwrap();
        assert_eq!(p.scores, [3.0, 1.0, 1.0]);
        assert_eq!(p.rank(None, &[], &[0], 5), [(1, 1.0), (2, 1.0)]);
        let mu = t.global_mean();
        let d = PopularityParams { by: By::DampedMean, damping: 2.0 }.fit(&t, 1).unwrap();
        assert!((d.scores[0] - (60.0 + 2.0 * mu) / 5.0).abs() < 1e-12);
        assert!((d.scores[1] - (100.0 + 2.0 * mu) / 3.0).abs() < 1e-12);
        // Undamped, the single perfect score wins; damped less so.
        let raw = PopularityParams { by: By::DampedMean, damping: 0.0 }.fit(&t, 1).unwrap();
        assert_eq!(raw.scores, [20.0, 100.0, 90.0]);
    }

    /// Every user's list from the one order is the list scored for them alone, ties included.
    #[test]
    fn all_users_at_once_give_each_users_list() {
        let l = crate::data::synthetic::generate(
            &crate::data::synthetic::SyntheticConfig { seed: 3, scale: 0.02, ..Default::default() },
            RatingScale::SEED,
        )
        .unwrap()
        .ratings;
        let t = Trainset::new(&l);
        let x = Interactions::new(&t);
        let history: Vec<Vec<(u32, f64)>> = (0..x.n_users()).map(|u| x.user(u).collect()).collect();
        let seen: Vec<Vec<u32>> = history.iter().map(|h| h.iter().map(|r| r.0).collect()).collect();
        let users: Vec<usize> = (0..x.n_users()).collect();
        for by in [By::Count, By::DampedMean] {
            let p = PopularityParams { by, damping: 10.0 }.fit(&t, 1).unwrap();
            assert!(by == By::DampedMean || p.scores.windows(2).any(|w| w[0] == w[1]), "ties to break");
            for n in [1, 10, 500] {
                let all = p.rank_all(&users, &|u| &history[u], &|u| &seen[u], n);
                for &u in &users {
                    assert_eq!(all[u], p.rank(Some(u), &history[u], &seen[u], n), "{by:?}, n {n}, user {u}");
                }
            }
        }
    }

    #[test]
    fn a_negative_damping_is_refused_by_name() {
        let l = list();
        let e = PopularityParams { by: By::DampedMean, damping: -1.0 }.fit(&Trainset::new(&l), 1).unwrap_err();
        assert_eq!(e.to_string(), "invalid popularity.damping -1: expected a number of 0 or more");
    }
}
