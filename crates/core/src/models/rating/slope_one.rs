//! Surprise's `SlopeOne` (`slope_one.pyx`, Lemire and Maclachlan 2005), reproduced exactly:
//! the estimate is the user's mean score plus the mean, over the movies `j` the user rated
//! that share a rater with `i`, of the average difference `dev(i, j)` between the scores of
//! `i` and of `j` by the users who rated both.
//!
//! Surprise declares the two scores of a difference as C `int`s, so each is truncated toward
//! zero before subtracting (47.9 − 12.5 counts as 35); the user's mean uses the real scores.
//! Done the same here: the sums of differences are whole numbers, exact in any order, so the
//! deviations are computed per movie in parallel and are still Surprise's.
//!
//! Memory: `n (n − 1) / 2` deviations and supports for `n` movies (1.7 MiB for MovieLens-100k's
//! 1,682 movies); above `max_items` movies the fit is refused.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::scale::RatingScale;
use crate::data::trainset::{Rows, Trainset};
use crate::models::base::predictor::{Folded, Predictor, predictor_fields};
use crate::models::base::{FitError, install};
use crate::numpy;

/// SlopeOne has no parameter in Surprise; `max_items` is movierec's limit on its memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlopeOneParams {
    /// The most movies whose pairwise deviations are stored (20,000: 2.2 GiB).
    pub max_items: usize,
}

impl Default for SlopeOneParams {
    fn default() -> SlopeOneParams {
        SlopeOneParams { max_items: 20_000 }
    }
}

/// A fitted SlopeOne.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SlopeOne {
    /// Movies.
    pub n_items: usize,
    /// The training set's mean.
    pub global_mean: f64,
    /// The clipping scale.
    pub scale: RatingScale,
    /// `dev(i, j)` for `i < j`, upper triangle row by row (`dev(j, i) = −dev(i, j)`).
    pub dev: Vec<f64>,
    /// Users who rated both `i` and `j` (with multiplicity), same layout.
    pub freq: Vec<u32>,
    /// Each user's movies, in list order.
    pub ur: Rows,
    /// Each user's mean score.
    pub user_mean: Vec<f64>,
}

impl SlopeOneParams {
    /// Fits the deviations on `threads` threads (0: the current pool).
    ///
    /// # Errors
    /// [`FitError::TooLarge`] above `max_items` movies.
    pub fn fit(&self, t: &Trainset<'_>, threads: usize) -> Result<SlopeOne, FitError> {
        let n = t.n_items();
        if n > self.max_items {
            return Err(FitError::TooLarge {
                what: "SlopeOne",
                n,
                entities: "movies",
                gib: n as f64 * (n as f64 - 1.0) / 2.0 * 12.0 / f64::from(1u32 << 30),
                max: self.max_items,
                param: "max_items",
                advice: "use a factor model (svd, svdpp, nmf)",
            });
        }
        let (ur, ir) = (t.ur(), t.ir());
        // Each user's movies sorted by id: the movies after i are a contiguous tail.
        let by_movie = ur.sorted(n);
        let rows: Vec<(Vec<f64>, Vec<u32>)> = install(threads, || {
            (0..n)
                .into_par_iter()
                .map_init(
                    || vec![(0i64, 0u32); n],
                    |sums, i| {
                        let (users, scores) = ir.row(i);
                        for (&u, &r_ui) in users.iter().zip(scores) {
                            let r_ui = r_ui as i32 as i64;
                            let (items, rs) = by_movie.row(u as usize);
                            let after = items.partition_point(|&j| j as usize <= i);
                            for (&j, &r_uj) in items[after..].iter().zip(&rs[after..]) {
                                let e = &mut sums[j as usize];
                                e.0 += r_ui - r_uj as i32 as i64;
                                e.1 += 1;
                            }
                        }
                        let mut dev = Vec::with_capacity(n - i - 1);
                        let mut f = Vec::with_capacity(n - i - 1);
                        for (sum, freq) in &mut sums[i + 1..] {
                            dev.push(*sum as f64 / f64::from(*freq));
                            f.push(*freq);
                            (*sum, *freq) = (0, 0);
                        }
                        (dev, f)
                    },
                )
                .collect()
        });
        let mut dev = Vec::with_capacity(n * n.saturating_sub(1) / 2);
        let mut freq = Vec::with_capacity(dev.capacity());
        for (d, f) in rows {
            dev.extend(d);
            freq.extend(f);
        }
        let user_mean = (0..t.n_users()).map(|u| numpy::mean(ur.scores(u))).collect();
        Ok(SlopeOne {
            n_items: n,
            global_mean: t.global_mean(),
            scale: t.list().scale(),
            dev,
            freq,
            ur: ur.clone(),
            user_mean,
        })
    }
}

impl SlopeOne {
    /// `(dev(i, j), freq(i, j))` for `i ≠ j`.
    fn pair(&self, i: usize, j: usize) -> (f64, u32) {
        let (a, b, sign) = if i < j { (i, j, 1.0) } else { (j, i, -1.0) };
        let at = a * self.n_items - a * (a + 1) / 2 + b - a - 1;
        (sign * self.dev[at], self.freq[at])
    }
}

impl SlopeOne {
    /// `mean + Σⱼ dev(i, j) / |Rᵢ(u)|` over the rated movies `j` with `freq(i, j) > 0`.
    fn estimate_with(&self, mean: f64, rated: &[u32], i: usize) -> f64 {
        let (mut sum, mut count) = (0.0f64, 0usize);
        for &j in rated {
            let j = j as usize;
            // A movie with ratings has freq(i, i) > 0 and dev(i, i) = 0.
            let (dev, freq) = if j == i { (0.0, 1) } else { self.pair(i, j) };
            if freq > 0 {
                sum += dev;
                count += 1;
            }
        }
        if count > 0 { mean + sum / count as f64 } else { mean }
    }
}

impl Predictor for SlopeOne {
    predictor_fields!();

    fn estimate(&self, u: Option<usize>, i: Option<usize>) -> Option<f64> {
        let (u, i) = (u?, i?);
        Some(self.estimate_with(self.user_mean[u], self.ur.row(u).0, i))
    }

    /// As a fitted user: the mean of the user's scores and the deviations to the movies
    /// rated.
    fn fold_in(&self, history: &[(u32, f64)], n_items: usize) -> Folded {
        let (rated, scores): (Vec<u32>, Vec<f64>) = history.iter().copied().unzip();
        let mean = if scores.is_empty() { self.global_mean } else { numpy::mean(&scores) };
        Folded { estimates: (0..n_items).map(|i| Some(self.estimate_with(mean, &rated, i))).collect(), bias: None }
    }
}
