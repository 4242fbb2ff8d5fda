//! [`Kind`]: the names of the top-N kinds, apart from the kinds themselves so that a kind
//! made of others ([`super::ensemble`]) can name them.

use serde::{Deserialize, Serialize};

/// What orders a user's list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The rating model's predicted relevance, whichever algorithm it is (the original
    /// system's order). Its name was `svd` when SVD was the only rating model; `svd` is still
    /// read as it.
    #[serde(alias = "svd")]
    Relevance,
    /// The same list for everyone: the most rated movies, or the highest damped mean score.
    Popularity,
    /// EASE (Steck 2019): a closed-form item × item model of who rated what.
    Ease,
    /// Implicit ALS (Hu, Koren and Volinsky 2008), solved by conjugate gradient.
    Ials,
    /// RP3beta (Paudel et al. 2017): a three-step random walk on who rated what.
    Rp3beta,
    /// Two of the kinds above, their scores standardised per user and added.
    Ensemble,
    /// A choice, never a fitted model: EASE on a catalogue up to `ease.max_items` movies,
    /// implicit ALS above ([`super::RankingParams::resolve`]), so that the default works at
    /// any size.
    #[default]
    Auto,
}

impl Kind {
    /// Every kind a model can be, in the order reports list them (not [`Kind::Auto`], which
    /// resolves to one of them).
    pub const ALL: [Kind; 6] =
        [Kind::Relevance, Kind::Popularity, Kind::Ease, Kind::Ials, Kind::Rp3beta, Kind::Ensemble];

    /// The name used in `params.yaml`, reports and the API.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Relevance => "relevance",
            Kind::Popularity => "popularity",
            Kind::Ease => "ease",
            Kind::Ials => "ials",
            Kind::Rp3beta => "rp3beta",
            Kind::Ensemble => "ensemble",
            Kind::Auto => "auto",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
