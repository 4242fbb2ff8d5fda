//! The top-N kinds: what orders a user's unseen movies. Each kind is a module holding its
//! parameters (implementing [`Fit`]) and its fitted model (implementing [`TopN`]): the same
//! list for everyone ([`popularity`]), EASE and EDLAE ([`ease`]), implicit ALS ([`ials`]),
//! RP3beta ([`rp3beta`]), and the sum of two of them ([`ensemble`]). [`Kind`],
//! [`RankingParams`] and [`Ranking`] register them, one variant per kind; the kind
//! `relevance` orders by the rating model's predicted relevance and fits nothing of its own.
//! [`Reorder`] says how a ranking's best movies are re-ordered by that relevance.

pub mod ease;
pub mod ensemble;
pub mod ials;
mod kind;
pub mod popularity;
pub mod rp3beta;

use serde::{Deserialize, Serialize};

pub use kind::Kind;

use crate::data::trainset::Trainset;
use crate::models::base::{Fit, FitError, TopN};
use crate::models::ranking::ease::{Ease, EaseParams};
use crate::models::ranking::ensemble::{Ensemble, EnsembleParams, Member};
use crate::models::ranking::ials::{Ials, IalsParams};
use crate::models::ranking::popularity::{Popularity, PopularityParams};
use crate::models::ranking::rp3beta::{Rp3beta, Rp3betaParams};

/// How the best movies of a ranking's list are re-ordered by the rating model's predicted
/// relevance.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Reorder {
    /// How many of the best are re-ordered (0: none).
    pub rerank: usize,
    /// `None`: by predicted relevance alone. `Some(w)`: by the ranking's own score plus `w`
    /// times the predicted relevance, each standardised over those movies (its z-score, 0
    /// where they are all equal): 0 keeps the ranking's order, a large `w` tends to the
    /// order by relevance alone, and in between a movie the user is predicted to dislike
    /// has to be much further up the ranking to stay.
    pub blend: Option<f64>,
    /// Whether those of them the user is predicted to dislike (a predicted relevance below
    /// their own mean score, `recommender::liked_from`) go after all the others, each part
    /// in its order: a list that promises movies the user will like shows a predicted
    /// dislike only when the best `rerank` hold too few others.
    pub demote_dislikes: bool,
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
    /// How they are ordered again: absent, by predicted relevance alone; a weight of 0 or
    /// more, by the ranking's own score plus this weight times the predicted relevance, each
    /// standardised over those movies ([`Reorder::blend`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blend: Option<f64>,
    /// Whether, among the `rerank` best, the movies the user is predicted to dislike (a
    /// predicted relevance below their own mean score) go after all the others
    /// ([`Reorder::demote_dislikes`]).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub demote_dislikes: bool,
    /// The `popularity` kind's parameters.
    pub popularity: PopularityParams,
    /// The `ease` kind's parameters.
    pub ease: EaseParams,
    /// The `ials` kind's parameters.
    pub ials: IalsParams,
    /// The `rp3beta` kind's parameters.
    pub rp3beta: Rp3betaParams,
    /// The `ensemble` kind's parameters (its members' are theirs above).
    pub ensemble: EnsembleParams,
}

impl RankingParams {
    /// Fits the ranking of `self.kind` on `t` (nothing to fit for `relevance`).
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
        if let Some(w) = self.blend {
            crate::models::base::check("blend", w, w >= 0.0, "a weight of 0 or more")?;
            if self.rerank == 0 {
                return Err(FitError::Invalid {
                    name: "blend",
                    value: w.to_string(),
                    expected: "no blend, or rerank above 0: blend weighs the movies rerank re-orders",
                });
            }
        }
        if self.demote_dislikes && self.rerank == 0 {
            return Err(FitError::Invalid {
                name: "demote_dislikes",
                value: "true".to_owned(),
                expected: "false, or rerank above 0: the dislikes demoted are among the movies rerank re-orders",
            });
        }
        match kind {
            Kind::Relevance | Kind::Auto => Ok(()),
            Kind::Popularity => self.popularity.check(n_items),
            Kind::Ease => self.ease.check(n_items),
            Kind::Ials => self.ials.check(n_items),
            Kind::Rp3beta => self.rp3beta.check(n_items),
            Kind::Ensemble => {
                self.ensemble.check()?;
                let plain = RankingParams { blend: None, demote_dislikes: false, ..self.clone() };
                self.ensemble.members.iter().try_for_each(|&m| plain.check_kind(m, n_items).map(|_| ()))
            }
        }?;
        Ok(kind)
    }

    /// Fits the ranking of `kind` with these parameters.
    ///
    /// # Errors
    /// The kind's [`FitError`].
    pub fn fit_kind(&self, kind: Kind, t: &Trainset<'_>, threads: usize) -> Result<Ranking, FitError> {
        Ok(match self.resolve(kind, t.n_items()) {
            Kind::Relevance => Ranking::Relevance,
            Kind::Popularity => Ranking::Popularity(self.popularity.fit(t, threads)?),
            Kind::Ease => Ranking::Ease(self.ease.fit(t, threads)?),
            Kind::Ials | Kind::Auto => Ranking::Ials(self.ials.fit(t, threads)?),
            Kind::Rp3beta => Ranking::Rp3beta(self.rp3beta.fit(t, threads)?),
            Kind::Ensemble => {
                self.ensemble.check()?;
                let [first, second] = self.ensemble.members;
                let members = [self.fit_kind(first, t, threads)?, self.fit_kind(second, t, threads)?];
                Ranking::Ensemble(Ensemble::new(self.ensemble.weight, members))
            }
        })
    }

    /// How a recommender of these parameters re-orders the ranking's best movies.
    pub fn reorder(&self) -> Reorder {
        Reorder { rerank: self.rerank, blend: self.blend, demote_dislikes: self.demote_dislikes }
    }

    /// The parameters of the chosen kind only, for reports and tracking.
    pub fn chosen(&self) -> serde_json::Value {
        self.chosen_as(self.kind)
    }

    /// The parameters of `kind` (what `self.kind` resolved to) only, for reports and
    /// tracking; with `requested: auto` when `auto` chose it.
    pub fn chosen_as(&self, kind: Kind) -> serde_json::Value {
        let own = match kind {
            Kind::Relevance | Kind::Auto => serde_json::Value::Null,
            Kind::Popularity => serde_json::to_value(self.popularity).expect("plain data"),
            Kind::Ease => serde_json::to_value(self.ease).expect("plain data"),
            Kind::Ials => serde_json::to_value(self.ials).expect("plain data"),
            Kind::Rp3beta => serde_json::to_value(self.rp3beta).expect("plain data"),
            Kind::Ensemble => {
                let mut own = serde_json::to_value(self.ensemble).expect("plain data");
                for m in self.ensemble.members {
                    own[m.name()] = self.chosen_as(m)["params"].clone();
                }
                own
            }
        };
        let mut chosen = serde_json::json!({"kind": kind, "rerank": self.rerank, "params": own});
        if let Some(w) = self.blend {
            chosen["blend"] = serde_json::json!(w);
        }
        if self.demote_dislikes {
            chosen["demote_dislikes"] = serde_json::json!(true);
        }
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
    Relevance,
    /// A fitted popularity list.
    Popularity(Popularity),
    /// A fitted EASE.
    Ease(Ease),
    /// A fitted implicit ALS.
    Ials(Ials),
    /// A fitted RP3beta.
    Rp3beta(Rp3beta),
    /// A fitted ensemble of two of the above.
    Ensemble(Ensemble<Ranking>),
}

impl Ranking {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Ranking::Relevance => Kind::Relevance,
            Ranking::Popularity(_) => Kind::Popularity,
            Ranking::Ease(_) => Kind::Ease,
            Ranking::Ials(_) => Kind::Ials,
            Ranking::Rp3beta(_) => Kind::Rp3beta,
            Ranking::Ensemble(_) => Kind::Ensemble,
        }
    }

    /// The fitted top-N model, or `None` for `relevance` (the rating model orders).
    pub fn top_n(&self) -> Option<&dyn TopN> {
        match self {
            Ranking::Relevance => None,
            Ranking::Popularity(m) => Some(m),
            Ranking::Ease(m) => Some(m),
            Ranking::Ials(m) => Some(m),
            Ranking::Rp3beta(m) => Some(m),
            Ranking::Ensemble(m) => Some(m),
        }
    }
}

impl Member for Ranking {
    fn kind(&self) -> Kind {
        Ranking::kind(self)
    }

    fn top_n(&self) -> Option<&dyn TopN> {
        Ranking::top_n(self)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::data::dataset::RatingList;
    use crate::data::scale::RatingScale;

    /// The item × item kinds' small example: six users over the movies x, y, z and w, each
    /// user's k-th movie scored 40 + 10k.
    pub(crate) fn list() -> RatingList {
        let mut l = RatingList::new(RatingScale::SEED);
        let rated = [("a", "x y z"), ("b", "x y"), ("c", "y z w"), ("d", "x y w"), ("e", "z w"), ("f", "x")];
        for (u, ms) in rated {
            for (k, m) in ms.split(' ').enumerate() {
                l.push(u, m, 40.0 + 10.0 * k as f64);
            }
        }
        l
    }

    #[test]
    fn kinds_have_names() {
        for k in Kind::ALL {
            assert_eq!(serde_json::from_value::<Kind>(k.name().into()).unwrap(), k);
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
        }
        assert!(serde_json::from_value::<Kind>("knn".into()).is_err());
        // The order by predicted relevance, under the name it had when SVD was the only rating
        // model.
        assert_eq!(serde_json::from_value::<Kind>("svd".into()).unwrap(), Kind::Relevance);
        assert_eq!(Kind::Relevance.name(), "relevance");
    }

    /// A blend needs movies to weigh (`rerank` above 0) and a weight of 0 or more.
    #[test]
    fn a_blend_is_checked() {
        let p = |rerank: usize, blend: f64| RankingParams {
            kind: Kind::Popularity,
            rerank,
            blend: Some(blend),
            ..Default::default()
        };
        assert!(p(20, 0.5).check_kind(Kind::Popularity, 10).is_ok());
        let e = p(0, 0.5).check_kind(Kind::Popularity, 10).unwrap_err().to_string();
        assert!(e.contains("blend") && e.contains("rerank above 0"), "{e}");
        let e = p(20, -1.0).check_kind(Kind::Popularity, 10).unwrap_err().to_string();
        assert!(e.contains("blend -1") && e.contains("0 or more"), "{e}");
        let chosen = p(20, 0.5).chosen();
        assert_eq!((chosen["rerank"].as_u64(), chosen["blend"].as_f64()), (Some(20), Some(0.5)));
        assert!(RankingParams::default().chosen().get("blend").is_none());
        let demote = |rerank: usize| RankingParams { rerank, demote_dislikes: true, ..p(rerank, 1.0) };
        let e = RankingParams { blend: None, ..demote(0) }.check_kind(Kind::Popularity, 10).unwrap_err().to_string();
        assert!(e.contains("demote_dislikes") && e.contains("rerank above 0"), "{e}");
        assert_eq!(demote(20).chosen()["demote_dislikes"], true);
        assert_eq!(demote(20).reorder(), Reorder { rerank: 20, blend: Some(1.0), demote_dislikes: true });
        assert!(p(20, 0.5).chosen().get("demote_dislikes").is_none());
    }
}
