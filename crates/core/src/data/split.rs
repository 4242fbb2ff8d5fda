//! Filters and train/test splits of a rating list: Surprise's `train_test_split`, row for
//! row, and a per-user split for top-N evaluation.

use serde::{Deserialize, Serialize};

use crate::data::dataset::RatingList;
use crate::numpy::RandomState;

/// How ratings are divided between the training and test sets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitStrategy {
    /// A share of all ratings, drawn as Surprise's `train_test_split(test_size,
    /// random_state=seed)` draws it: the same rows in the same order.
    #[default]
    Random,
    /// Each user's ratings divided by the share, so every user with two ratings or more is in
    /// both sets: the right split for top-N evaluation.
    PerUser,
}

/// A test share that leaves one of the two sets empty, or is not a share at all.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SplitError {
    /// The share is not strictly between 0 and 1.
    #[error("invalid test_size {0}: expected a number strictly between 0 and 1")]
    TestSize(f64),
    /// A number of folds out of range.
    #[error("invalid number of folds {k}: expected 2 to {n} (the number of ratings)")]
    Folds {
        /// Folds asked for.
        k: usize,
        /// Ratings available.
        n: usize,
    },
    /// Too few ratings for both sets to get one.
    #[error("cannot split {n} ratings with test_size {test_size}: one of the sets would be empty")]
    TooFew {
        /// Ratings available.
        n: usize,
        /// The share asked for.
        test_size: f64,
    },
}

/// Row indices of the training and test sets, each in the order the split gives them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// Rows of the training set.
    pub train: Vec<u32>,
    /// Rows of the test set.
    pub test: Vec<u32>,
}

/// Surprise's `train_test_split(data, test_size, random_state=seed)` over `n` ratings:
/// `perm = RandomState(seed).permutation(n)`, `n_test = ceil(test_size * n)`, train =
/// `perm[:n - n_test]`, test = the rest, both in permutation order.
///
/// # Errors
/// If `test_size` is not in (0, 1) or a set would be empty.
pub fn train_test_split(n: usize, test_size: f64, seed: u32) -> Result<Split, SplitError> {
    if !(test_size > 0.0 && test_size < 1.0) {
        return Err(SplitError::TestSize(test_size));
    }
    let n_test = (test_size * n as f64).ceil() as usize;
    if n_test == 0 || n_test >= n {
        return Err(SplitError::TooFew { n, test_size });
    }
    let mut perm = RandomState::new(seed).permutation(n);
    let test = perm.split_off(n - n_test);
    Ok(Split { train: perm, test })
}

/// Surprise's `KFold(n_splits=k, random_state=seed, shuffle=True).split`: `0..n` shuffled
/// by `RandomState(seed)`, fold `f` tests the `f`-th run of `n / k` indices (one more for the
/// first `n % k` folds) and trains on the indices before it then after it, in that order.
///
/// # Errors
/// If `k` is not between 2 and `n`.
pub fn kfold(n: usize, k: usize, seed: u32) -> Result<Vec<Split>, SplitError> {
    if k < 2 || k > n {
        return Err(SplitError::Folds { k, n });
    }
    let indices = RandomState::new(seed).permutation(n);
    let mut folds = Vec::with_capacity(k);
    let mut start = 0;
    for f in 0..k {
        let stop = start + n / k + usize::from(f < n % k);
        let test = indices[start..stop].to_vec();
        let train = indices[..start].iter().chain(&indices[stop..]).copied().collect();
        folds.push(Split { train, test });
        start = stop;
    }
    Ok(folds)
}

/// Each user's ratings shuffled (users in index order, one generator seeded with `seed`),
/// and `clamp(round(test_size * n_u), 1, n_u - 1)` of them put in the test set; users with
/// a single rating stay in training. Both sets keep the list's row order.
///
/// # Errors
/// If `test_size` is not in (0, 1) or no user has two ratings.
pub fn per_user_split(list: &RatingList, test_size: f64, seed: u32) -> Result<Split, SplitError> {
    if !(test_size > 0.0 && test_size < 1.0) {
        return Err(SplitError::TestSize(test_size));
    }
    let mut rng = RandomState::new(seed);
    let (mut order, start) = list.rows_by_user();
    let mut in_test = vec![false; list.len()];
    for u in 0..start.len() - 1 {
        let rows = &mut order[start[u]..start[u + 1]];
        let n_u = rows.len();
        if n_u < 2 {
            continue;
        }
        let k = ((test_size * n_u as f64).round() as usize).clamp(1, n_u - 1);
        rng.shuffle(rows);
        for &r in &rows[..k] {
            in_test[r as usize] = true;
        }
    }
    let (test, train): (Vec<u32>, Vec<u32>) = (0..list.len() as u32).partition(|&r| in_test[r as usize]);
    if test.is_empty() {
        return Err(SplitError::TooFew { n: list.len(), test_size });
    }
    Ok(Split { train, test })
}

/// The rows of a sample of whole users holding at most `max_ratings` ratings, in the list's
/// order: users are taken in a seeded random order (numpy's `permutation`) while their
/// ratings fit, so a search can run on a part of a large catalogue's users with every one of
/// their ratings. `None` when the whole list fits (the caller keeps it as it is).
pub fn sample_users(list: &RatingList, max_ratings: usize, seed: u32) -> Option<Vec<u32>> {
    if list.len() <= max_ratings {
        return None;
    }
    let counts = list.counts_per_user();
    let mut chosen = vec![false; counts.len()];
    let mut total = 0usize;
    for u in RandomState::new(seed).permutation(counts.len()) {
        let n = counts[u as usize] as usize;
        if total + n <= max_ratings {
            chosen[u as usize] = true;
            total += n;
        }
    }
    Some((0..list.len() as u32).filter(|&r| chosen[list.user()[r as usize].0 as usize]).collect())
}

/// The rows that remain, in order, once users with fewer than `min_user` ratings and movies
/// with fewer than `min_movie` are removed, repeatedly until both minimums hold (a k-core).
pub fn filter_min_ratings(list: &RatingList, min_user: u32, min_movie: u32) -> Vec<u32> {
    let mut keep = vec![true; list.len()];
    if min_user > 1 || min_movie > 1 {
        loop {
            let mut per_user = vec![0u32; list.users().len()];
            let mut per_movie = vec![0u32; list.movies().len()];
            for r in (0..list.len()).filter(|&r| keep[r]) {
                per_user[list.user()[r].get()] += 1;
                per_movie[list.movie()[r].get()] += 1;
            }
            let mut changed = false;
            for (r, k) in keep.iter_mut().enumerate().filter(|(_, k)| **k) {
                if per_user[list.user()[r].get()] < min_user || per_movie[list.movie()[r].get()] < min_movie {
                    *k = false;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
    }
    (0..list.len() as u32).filter(|&r| keep[r as usize]).collect()
}

/// Sizes of one side of a split.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SetSize {
    /// Ratings.
    pub ratings: u64,
    /// Distinct users.
    pub users: u64,
    /// Distinct movies.
    pub movies: u64,
}

/// What a split produced: both sets' sizes, and the users and movies the model will not
/// know when scoring the test set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SplitSummary {
    /// The training set.
    pub train: SetSize,
    /// The test set.
    pub test: SetSize,
    /// Users with test ratings and no training rating.
    pub users_only_in_test: u64,
    /// Movies with test ratings and no training rating.
    pub movies_only_in_test: u64,
}

/// Summarises `split` of `list`.
pub fn summarize(list: &RatingList, split: &Split) -> SplitSummary {
    let mark = |rows: &[u32]| {
        let mut users = vec![false; list.users().len()];
        let mut movies = vec![false; list.movies().len()];
        for &r in rows {
            users[list.user()[r as usize].get()] = true;
            movies[list.movie()[r as usize].get()] = true;
        }
        (users, movies)
    };
    let (tu, tm) = mark(&split.train);
    let (su, sm) = mark(&split.test);
    let count = |v: &[bool]| v.iter().filter(|x| **x).count() as u64;
    let only = |test: &[bool], train: &[bool]| test.iter().zip(train).filter(|(a, b)| **a && !**b).count() as u64;
    SplitSummary {
        train: SetSize { ratings: split.train.len() as u64, users: count(&tu), movies: count(&tm) },
        test: SetSize { ratings: split.test.len() as u64, users: count(&su), movies: count(&sm) },
        users_only_in_test: only(&su, &tu),
        movies_only_in_test: only(&sm, &tm),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::scale::RatingScale;

    fn list(rows: &[(&str, &str)]) -> RatingList {
        let mut l = RatingList::new(RatingScale::SEED);
        for (u, m) in rows {
            l.push(u, m, 50.0);
        }
        l
    }

    #[test]
    fn random_split_sizes_follow_surprise() {
        let s = train_test_split(407_610, 0.2, 0).unwrap();
        assert_eq!((s.train.len(), s.test.len()), (326_088, 81_522));
        let s = train_test_split(10, 0.25, 1).unwrap();
        assert_eq!(s.test.len(), 3);
        let mut all: Vec<u32> = s.train.iter().chain(&s.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(train_test_split(10, 0.25, 1), Ok(s));
        assert!(train_test_split(10, 1.0, 1).is_err());
        assert!(train_test_split(1, 0.5, 1).is_err());
    }

    #[test]
    fn kfold_partitions_like_surprise() {
        let folds = kfold(10, 3, 0).unwrap();
        assert_eq!(folds.iter().map(|f| f.test.len()).collect::<Vec<_>>(), [4, 3, 3]);
        let mut all: Vec<u32> = folds.iter().flat_map(|f| f.test.clone()).collect();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        for f in &folds {
            assert_eq!(f.train.len() + f.test.len(), 10);
            assert!(f.train.iter().all(|i| !f.test.contains(i)));
        }
        assert!(kfold(10, 1, 0).is_err() && kfold(3, 4, 0).is_err());
    }

    #[test]
    fn per_user_split_keeps_every_user_in_training() {
        let l = list(&[("a", "1"), ("a", "2"), ("b", "1"), ("a", "3"), ("c", "2"), ("c", "3"), ("a", "4"), ("a", "5")]);
        let s = per_user_split(&l, 0.2, 4).unwrap();
        let sum = summarize(&l, &s);
        // a: 5 ratings -> 1 test; b: 1 rating -> none; c: 2 ratings -> 1 test.
        assert_eq!(sum.test.ratings, 2);
        assert_eq!(sum.users_only_in_test, 0);
        assert_eq!(sum.train.users, 3);
        assert!(s.train.windows(2).all(|w| w[0] < w[1]) && s.test.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn a_user_sample_keeps_whole_users_within_the_limit() {
        let mut rows = Vec::new();
        let users: Vec<String> = (0..50).map(|u| format!("u{u}")).collect();
        for (u, name) in users.iter().enumerate() {
            for m in 0..(1 + u % 7) {
                rows.push((name.as_str(), ["1", "2", "3", "4", "5", "6", "7"][m]));
            }
        }
        let l = list(&rows);
        assert_eq!(sample_users(&l, l.len(), 3), None, "the whole list fits");
        let rows = sample_users(&l, 60, 3).unwrap();
        assert!(rows.len() <= 60 && rows.len() > 50, "{}", rows.len());
        assert!(rows.windows(2).all(|w| w[0] < w[1]), "in the list's order");
        // Every chosen user comes with all of their ratings.
        let counts = l.counts_per_user();
        let sample = l.select(&rows);
        for (u, &n) in sample.counts_per_user().iter().enumerate() {
            let raw = sample.users().raw(u as u32);
            let whole = counts[l.users().get(raw).unwrap() as usize];
            assert_eq!(n, whole, "user {raw}");
        }
        assert_eq!(sample_users(&l, 60, 3), Some(rows.clone()), "the same seed, the same sample");
        assert_ne!(sample_users(&l, 60, 4), Some(rows), "another seed, another sample");
    }

    #[test]
    fn filters_reach_a_fixed_point() {
        // d has one rating; removing it leaves movie 4 with one rating, which then goes too.
        let l = list(&[("a", "1"), ("a", "2"), ("b", "1"), ("b", "2"), ("c", "4"), ("c", "1"), ("d", "4")]);
        assert_eq!(filter_min_ratings(&l, 2, 2), vec![0, 1, 2, 3]);
        assert_eq!(filter_min_ratings(&l, 0, 0).len(), 7);
    }

    #[test]
    fn summary_counts_test_only_ids() {
        let l = list(&[("a", "1"), ("b", "2"), ("a", "2")]);
        let s = Split { train: vec![0], test: vec![1, 2] };
        let sum = summarize(&l, &s);
        assert_eq!((sum.users_only_in_test, sum.movies_only_in_test), (1, 1));
    }
}
