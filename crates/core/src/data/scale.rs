//! The rating scale: the interval scores are declared to lie in.

use serde::{Deserialize, Serialize};

/// A closed interval `[min, max]` of valid scores. It travels with the data: readers reject
/// scores outside it, and predictions are clipped to it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawScale", into = "RawScale")]
pub struct RatingScale {
    min: f64,
    max: f64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScale {
    min: f64,
    max: f64,
}

/// A rating scale that is not a finite, non-empty interval.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid rating scale [{min}, {max}]: expected finite bounds with min < max")]
pub struct InvalidScale {
    /// The lower bound given.
    pub min: f64,
    /// The upper bound given.
    pub max: f64,
}

impl RatingScale {
    /// The seed data's scale, 0 to 100.
    pub const SEED: RatingScale = RatingScale { min: 0.0, max: 100.0 };

    /// A scale from its bounds.
    ///
    /// # Errors
    /// If a bound is not finite or `min >= max`.
    pub fn new(min: f64, max: f64) -> Result<RatingScale, InvalidScale> {
        if min.is_finite() && max.is_finite() && min < max {
            Ok(RatingScale { min, max })
        } else {
            Err(InvalidScale { min, max })
        }
    }

    /// The lower bound.
    pub fn min(&self) -> f64 {
        self.min
    }

    /// The upper bound.
    pub fn max(&self) -> f64 {
        self.max
    }

    /// Whether `score` lies in the scale (bounds included).
    pub fn contains(&self, score: f64) -> bool {
        self.min <= score && score <= self.max
    }

    /// `score` clipped to the scale as Surprise clips: `max(lo, min(hi, x))`.
    pub fn clip(&self, score: f64) -> f64 {
        self.min.max(self.max.min(score))
    }
}

impl TryFrom<RawScale> for RatingScale {
    type Error = InvalidScale;
    fn try_from(r: RawScale) -> Result<Self, Self::Error> {
        RatingScale::new(r.min, r.max)
    }
}

impl From<RatingScale> for RawScale {
    fn from(s: RatingScale) -> RawScale {
        RawScale { min: s.min, max: s.max }
    }
}

impl std::fmt::Display for RatingScale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} to {}", self.min, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_empty_or_non_finite_intervals() {
        assert!(RatingScale::new(0.0, 100.0).is_ok());
        assert!(RatingScale::new(5.0, 5.0).is_err());
        assert!(RatingScale::new(5.0, 1.0).is_err());
        assert!(RatingScale::new(f64::NAN, 1.0).is_err());
        assert!(RatingScale::new(0.0, f64::INFINITY).is_err());
    }

    #[test]
    fn contains_bounds_and_clips() {
        let s = RatingScale::new(0.5, 5.0).unwrap();
        assert!(s.contains(0.5) && s.contains(5.0) && !s.contains(5.01));
        assert_eq!(s.clip(7.0), 5.0);
        assert_eq!(s.clip(-1.0), 0.5);
    }
}
