//! An ensemble of two top-N kinds: a user's score of a movie is the first kind's score plus
//! `weight` times the second's, each standardised over the catalogue for that user (its
//! z-score: its distance from the mean of the kind's scores for the user, in standard
//! deviations).
//!
//! Kinds that learn different things make different mistakes: EASE learns which movies go
//! together, implicit ALS a few tastes per user, and what one ranks high by accident the
//! other seldom does. On MovieLens-100k, EDLAE with the score in the user's row plus implicit
//! ALS with a score-dependent preference ranks 5% above the better of the two alone, and 10%
//! above EASE (BENCHMARKS.md, "Rankings on five splits"). Standardising per user puts two
//! scales that have nothing in common (EASE's regression weights, ALS's dot products) on
//! one, so that `weight` means the same for every user.
//!
//! Each member is fitted with its own parameters (`ease`, `ials`, … beside `ensemble` in
//! `train.ranking`) and keeps everything it offers: a new user is folded into both, and the
//! similar movies are the first member's (the second's when the first has none).

use serde::{Deserialize, Serialize};

use crate::models::base::predictor::standardise;
use crate::models::base::{FitError, TopN, check};
use crate::models::ranking::kind::Kind;

/// The ensemble's parameters; each member's own are its kind's (`train.ranking.ease`, …).
///
/// | Name | Default | Purpose |
/// |---|---|---|
/// | `members` | `[ease, ials]` | two different top-N kinds among `popularity`, `ease`, `ials` and `rp3beta` |
/// | `weight` | 1 | the second member's weight (0 or more); the first's is 1 |
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EnsembleParams {
    /// The two kinds, each fitted with its own parameters.
    pub members: [Kind; 2],
    /// The second member's weight.
    pub weight: f64,
}

impl Default for EnsembleParams {
    fn default() -> EnsembleParams {
        EnsembleParams { members: [Kind::Ease, Kind::Ials], weight: 1.0 }
    }
}

impl EnsembleParams {
    /// Whether the members are two different kinds that fit a model of their own, and the
    /// weight one that adds.
    ///
    /// # Errors
    /// [`FitError::Invalid`] naming the member or the weight.
    pub fn check(&self) -> Result<(), FitError> {
        check("ensemble.weight", self.weight, self.weight >= 0.0 && self.weight.is_finite(), "a weight of 0 or more")?;
        for kind in self.members {
            if !matches!(kind, Kind::Popularity | Kind::Ease | Kind::Ials | Kind::Rp3beta) {
                return Err(FitError::Invalid {
                    name: "ensemble.members",
                    value: kind.to_string(),
                    expected: "popularity, ease, ials or rp3beta: a kind that fits a model of its own",
                });
            }
        }
        if self.members[0] == self.members[1] {
            return Err(FitError::Invalid {
                name: "ensemble.members",
                value: format!("[{0}, {0}]", self.members[0]),
                expected: "two different kinds (one kind with two settings is not searched as an ensemble)",
            });
        }
        Ok(())
    }
}

/// What an ensemble's member is: a fitted ranking that names its kind and offers its top-N
/// model (`ranking::Ranking`).
pub trait Member {
    /// Its kind.
    fn kind(&self) -> Kind;
    /// Its top-N model; `None` for a kind that fits none (never a member: refused by
    /// [`Ensemble::new`]).
    fn top_n(&self) -> Option<&dyn TopN>;
}

/// A fitted ensemble of two members.
#[derive(Clone, Debug, PartialEq)]
pub struct Ensemble<M> {
    /// The second member's weight.
    pub weight: f64,
    /// The two fitted members, in the order of [`EnsembleParams::members`].
    pub members: Box<[M; 2]>,
}

impl<M: Member> Ensemble<M> {
    /// The ensemble of two fitted members (each a top-N kind, on the same movies).
    ///
    /// # Panics
    /// If a member is `relevance` or the members' catalogues differ.
    pub fn new(weight: f64, members: [M; 2]) -> Ensemble<M> {
        let n = members.each_ref().map(|m| m.top_n().expect("an ensemble's members are top-N kinds").n_items());
        assert_eq!(n[0], n[1], "the members are fitted on the same movies");
        Ensemble { weight, members: Box::new(members) }
    }

    /// Its parameters.
    pub fn params(&self) -> EnsembleParams {
        EnsembleParams { members: self.members.each_ref().map(M::kind), weight: self.weight }
    }

    fn member(&self, m: usize) -> &dyn TopN {
        self.members[m].top_n().expect("checked by Ensemble::new")
    }
}

impl<M: Member + Send + Sync> TopN for Ensemble<M> {
    fn n_items(&self) -> usize {
        self.member(0).n_items()
    }

    fn scores(&self, user: Option<usize>, history: &[(u32, f64)], out: &mut [f64]) {
        let mut second = vec![0.0; out.len()];
        self.member(0).scores(user, history, out);
        self.member(1).scores(user, history, &mut second);
        standardise(out);
        standardise(&mut second);
        for (o, s) in out.iter_mut().zip(&second) {
            *o += self.weight * s;
        }
    }

    fn similar(&self, i: usize, n: usize) -> Option<Vec<(u32, f64)>> {
        self.member(0).similar(i, n).or_else(|| self.member(1).similar(i, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::trainset::Trainset;
    use crate::models::ranking::tests::list;
    use crate::models::ranking::{Ranking, RankingParams};

    fn fitted(weight: f64) -> (Ensemble<Ranking>, [Ranking; 2]) {
        let l = list();
        let t = Trainset::new(&l);
        let p = RankingParams {
            kind: Kind::Ensemble,
            ensemble: EnsembleParams { weight, ..Default::default() },
            ..Default::default()
        };
        let Ranking::Ensemble(e) = p.fit(&t, 1).unwrap() else { unreachable!("an ensemble was asked for") };
        let members = [p.fit_kind(Kind::Ease, &t, 1).unwrap(), p.fit_kind(Kind::Ials, &t, 1).unwrap()];
        (e, members)
    }

    /// A score is the first member's z-score plus the weight times the second's, for a known
    /// user and for a new one folded into both.
    #[test]
    fn scores_add_the_members_z_scores() {
        let (e, members) = fitted(0.5);
        assert_eq!(*e.members, members);
        let history = [(0, 40.0), (1, 90.0)];
        for user in [Some(0), None] {
            let z = |m: &Ranking| {
                let mut s = vec![0.0; 4];
                m.top_n().unwrap().scores(user, &history, &mut s);
                let (mean, sd) = (s.iter().sum::<f64>() / 4.0, (s.iter().map(|v| v * v).sum::<f64>() / 4.0));
                let sd = (sd - mean * mean).sqrt();
                s.iter().map(|v| (v - mean) / sd).collect::<Vec<_>>()
            };
            let (a, b) = (z(&members[0]), z(&members[1]));
            let mut s = vec![0.0; 4];
            e.scores(user, &history, &mut s);
            for j in 0..4 {
                assert!((s[j] - (a[j] + 0.5 * b[j])).abs() < 1e-9, "{user:?} {j}: {} vs {}", s[j], a[j] + 0.5 * b[j]);
            }
        }
        // Standardised, the scores of each member sum to 0 over the catalogue.
        let mut s = vec![0.0; 4];
        e.scores(Some(2), &[], &mut s);
        assert!(s.iter().sum::<f64>().abs() < 1e-9, "{s:?}");
        assert_eq!(e.similar(0, 2), members[0].top_n().unwrap().similar(0, 2));
        assert_eq!(e.params(), EnsembleParams { members: [Kind::Ease, Kind::Ials], weight: 0.5 });
    }

    /// A weight of 0 orders as the first member; a large one as the second.
    #[test]
    fn the_weight_moves_the_order_from_the_first_member_to_the_second() {
        let order = |m: &dyn TopN| m.rank(Some(0), &[], &[], 4).into_iter().map(|(i, _)| i).collect::<Vec<_>>();
        let (zero, members) = fitted(0.0);
        assert_eq!(order(&zero), order(members[0].top_n().unwrap()));
        let (large, _) = fitted(1e6);
        assert_eq!(order(&large), order(members[1].top_n().unwrap()));
    }

    #[test]
    fn bad_members_and_weights_are_named() {
        let e = |members: [Kind; 2], weight: f64| EnsembleParams { members, weight }.check().unwrap_err().to_string();
        assert!(e([Kind::Ease, Kind::Ease], 1.0).contains("ensemble.members [ease, ease]: expected two different"));
        let m = e([Kind::Ease, Kind::Relevance], 1.0);
        assert!(m.contains("ensemble.members relevance") && m.contains("fits a model of its own"), "{m}");
        assert!(e([Kind::Ease, Kind::Ensemble], 1.0).contains("ensemble.members ensemble"));
        assert!(e([Kind::Ease, Kind::Ials], -1.0).contains("ensemble.weight -1: expected a weight of 0 or more"));
        assert!(EnsembleParams::default().check().is_ok());
    }
}
