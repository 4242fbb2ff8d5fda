//! Summary statistics of a list of scores, in the seed's own form.

use serde::Serialize;

use crate::data::dataset::RatingList;
use crate::numpy;

/// The seed's description of its ratings: counts of ratings, distinct users and movies,
/// and the score's min, max, mean, median and standard deviation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct ScoreStats {
    /// Number of ratings.
    pub ratings: u64,
    /// Distinct users with at least one rating.
    pub users: u64,
    /// Distinct movies with at least one rating.
    pub movies: u64,
    /// Smallest score.
    pub min: f64,
    /// Largest score.
    pub max: f64,
    /// Mean score (numpy's pairwise mean).
    pub mean: f64,
    /// Median score (the mean of the two middle values for an even count).
    pub median: f64,
    /// Sample standard deviation (n - 1 in the denominator, as pandas).
    pub sd: f64,
}

impl ScoreStats {
    /// The statistics of `list`; all zero for an empty list.
    pub fn of(list: &RatingList) -> ScoreStats {
        let scores = list.score();
        if scores.is_empty() {
            return ScoreStats::default();
        }
        let distinct = |counts: Vec<u32>| counts.iter().filter(|&&c| c > 0).count() as u64;
        let (min, max) = scores.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| (lo.min(x), hi.max(x)));
        let mean = numpy::mean(scores);
        let dev: Vec<f64> = scores.iter().map(|x| (x - mean) * (x - mean)).collect();
        let n = scores.len();
        let sd = if n > 1 { (numpy::pairwise_sum(&dev) / (n - 1) as f64).sqrt() } else { 0.0 };
        ScoreStats {
            ratings: n as u64,
            users: distinct(list.counts_per_user()),
            movies: distinct(list.counts_per_movie()),
            min,
            max,
            mean,
            median: median(scores),
            sd,
        }
    }
}

/// The median of a non-empty slice of finite values.
pub fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    let n = v.len();
    let (_, &mut hi, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        hi
    } else {
        let lo = v[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lo + hi) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::scale::RatingScale;

    #[test]
    fn stats_of_a_small_list() {
        let mut l = RatingList::new(RatingScale::SEED);
        for (u, m, s) in [("a", "x", 10.0), ("a", "y", 20.0), ("b", "x", 30.0), ("c", "x", 60.0)] {
            l.push(u, m, s);
        }
        let s = ScoreStats::of(&l);
        assert_eq!((s.ratings, s.users, s.movies), (4, 3, 2));
        assert_eq!((s.min, s.max, s.mean, s.median), (10.0, 60.0, 30.0, 25.0));
        // sample sd of 10, 20, 30, 60: sqrt((400 + 100 + 0 + 900) / 3)
        assert!((s.sd - (1400.0f64 / 3.0).sqrt()).abs() < 1e-12);
    }

    #[test]
    fn median_of_odd_and_even_lengths() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[5.0]), 5.0);
    }
}
