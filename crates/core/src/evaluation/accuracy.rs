//! Accuracy measures: Surprise's `rmse` and `mae`, and ranking measures of top-K lists.

use serde::{Deserialize, Serialize};

use crate::numpy;

/// Surprise's `accuracy.rmse`: the square root of numpy's mean of squared errors.
///
/// # Panics
/// If `pairs` is empty (Surprise raises too).
pub fn rmse(pairs: impl IntoIterator<Item = (f64, f64)>) -> f64 {
    let sq: Vec<f64> = pairs.into_iter().map(|(r, est)| (r - est) * (r - est)).collect();
    assert!(!sq.is_empty(), "rmse of no prediction");
    numpy::mean(&sq).sqrt()
}

/// Surprise's `accuracy.mae`: numpy's mean of absolute errors.
///
/// # Panics
/// If `pairs` is empty.
pub fn mae(pairs: impl IntoIterator<Item = (f64, f64)>) -> f64 {
    let abs: Vec<f64> = pairs.into_iter().map(|(r, est)| (r - est).abs()).collect();
    assert!(!abs.is_empty(), "mae of no prediction");
    numpy::mean(&abs)
}

/// Ranking measures at K, averaged over the users that have at least one relevant test
/// rating; each user's list ranks the movies they did not rate in training.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RankingMetrics {
    /// List length.
    pub k: usize,
    /// Relevant movies in the list, over K.
    pub precision: f64,
    /// Relevant movies in the list, over the user's relevant movies.
    pub recall: f64,
    /// Discounted cumulative gain of the list over the best possible (binary gains).
    pub ndcg: f64,
    /// Average precision at K: the mean of the precision at each relevant rank, over
    /// `min(K, relevant)`.
    pub map: f64,
    /// Share of users with at least one relevant movie in the list.
    pub hit_rate: f64,
    /// Users the means are taken over.
    pub users: u64,
}

/// The measures of one user's list: `hits[r]` says whether the movie at rank `r` is
/// relevant; `relevant` is how many relevant movies the user has.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UserRanking {
    precision: f64,
    recall: f64,
    ndcg: f64,
    ap: f64,
    hit: bool,
}

impl UserRanking {
    /// Measures the first `k` entries of `hits` (a shorter list counts as padded with misses).
    pub fn new(hits: &[bool], relevant: usize, k: usize) -> UserRanking {
        let hits = &hits[..hits.len().min(k)];
        let n_hits = hits.iter().filter(|h| **h).count();
        let gain = |rank: usize| 1.0 / ((rank + 2) as f64).log2();
        let dcg: f64 = hits.iter().enumerate().filter(|(_, h)| **h).map(|(r, _)| gain(r)).sum();
        let idcg: f64 = (0..relevant.min(k)).map(gain).sum();
        let mut seen = 0;
        let mut ap = 0.0;
        for (r, _) in hits.iter().enumerate().filter(|(_, h)| **h) {
            seen += 1;
            ap += seen as f64 / (r + 1) as f64;
        }
        let denominator = relevant.min(k).max(1) as f64;
        UserRanking {
            precision: n_hits as f64 / k as f64,
            recall: if relevant == 0 { 0.0 } else { n_hits as f64 / relevant as f64 },
            ndcg: if idcg == 0.0 { 0.0 } else { dcg / idcg },
            ap: ap / denominator,
            hit: n_hits > 0,
        }
    }
}

impl RankingMetrics {
    /// The means over `users`.
    pub fn mean(k: usize, users: &[UserRanking]) -> RankingMetrics {
        let n = users.len().max(1) as f64;
        let sum = |f: fn(&UserRanking) -> f64| users.iter().map(f).sum::<f64>() / n;
        RankingMetrics {
            k,
            precision: sum(|u| u.precision),
            recall: sum(|u| u.recall),
            ndcg: sum(|u| u.ndcg),
            map: sum(|u| u.ap),
            hit_rate: sum(|u| if u.hit { 1.0 } else { 0.0 }),
            users: users.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rmse_and_mae() {
        let pairs = [(3.0, 1.0), (2.0, 2.0), (1.0, 2.0)];
        assert!((rmse(pairs) - (5.0f64 / 3.0).sqrt()).abs() < 1e-15);
        assert_eq!(mae(pairs), 1.0);
    }

    #[test]
    fn ranking_of_one_user() {
        // Relevant at ranks 1 and 3 of a list of 4; 3 relevant movies in all.
        let u = UserRanking::new(&[true, false, true, false], 3, 4);
        assert_eq!(u.precision, 0.5);
        assert!((u.recall - 2.0 / 3.0).abs() < 1e-15);
        assert!((u.ap - (1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-15);
        let dcg = 1.0 + 1.0 / 4f64.log2();
        let idcg = 1.0 + 1.0 / 3f64.log2() + 1.0 / 4f64.log2();
        assert!((u.ndcg - dcg / idcg).abs() < 1e-15);
        assert!(u.hit);
        let m = RankingMetrics::mean(4, &[u, UserRanking::new(&[false; 4], 1, 4)]);
        assert_eq!((m.precision, m.hit_rate, m.users), (0.25, 0.5, 2));
    }
}
