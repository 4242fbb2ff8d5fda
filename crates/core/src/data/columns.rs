//! The roles a source column can play and the mapping from roles to header names.

use serde::{Deserialize, Serialize};

/// What a column of the ratings source means. The canonical tables name their columns
/// after the roles (`user_id`, `title`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// The user's id: an opaque string. Required.
    UserId,
    /// The user's display name.
    UserName,
    /// The movie's id: an opaque string. Required.
    MovieId,
    /// The movie's title.
    Title,
    /// The movie's main directors, as one text field.
    Directors,
    /// The movie's main actors, as one text field.
    Actors,
    /// The movie's description. Not used by the model.
    Description,
    /// The target: the relevance score of the movie for the user. Required.
    Score,
    /// The user's MovieLens rating (0.5 to 5). Not used by the model.
    MovielensRating,
    /// The same rating out of 10. Not used by the model.
    Rating10,
    /// The movie's mean IMDb rating.
    ImdbMean,
    /// The movie's number of IMDb votes.
    ImdbVotes,
    /// The relevance score before scaling. Not used by the model.
    RawScore,
}

/// What the values of a role look like.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Free text; an empty value is missing.
    Text,
    /// A finite decimal number.
    Number,
    /// A non-negative whole number.
    Count,
}

/// Which table a role's values are carried into.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Owner {
    /// One value per rating.
    Rating,
    /// One value per user (the first non-empty one seen).
    User,
    /// One value per movie (the first non-empty one seen).
    Movie,
}

impl Role {
    /// Every role, in the seed file's column order.
    pub const ALL: [Role; 13] = [
        Role::UserId,
        Role::UserName,
        Role::MovieId,
        Role::Title,
        Role::Directors,
        Role::Actors,
        Role::Description,
        Role::Score,
        Role::MovielensRating,
        Role::Rating10,
        Role::ImdbMean,
        Role::ImdbVotes,
        Role::RawScore,
    ];

    /// The role's name in `params.yaml` and in the canonical tables.
    pub fn name(self) -> &'static str {
        match self {
            Role::UserId => "user_id",
            Role::UserName => "user_name",
            Role::MovieId => "movie_id",
            Role::Title => "title",
            Role::Directors => "directors",
            Role::Actors => "actors",
            Role::Description => "description",
            Role::Score => "score",
            Role::MovielensRating => "movielens_rating",
            Role::Rating10 => "rating_10",
            Role::ImdbMean => "imdb_mean",
            Role::ImdbVotes => "imdb_votes",
            Role::RawScore => "raw_score",
        }
    }

    /// Whether every source must have this role.
    pub fn is_required(self) -> bool {
        matches!(self, Role::UserId | Role::MovieId | Role::Score)
    }

    /// What its values look like.
    pub fn kind(self) -> Kind {
        match self {
            Role::Score | Role::MovielensRating | Role::Rating10 | Role::ImdbMean | Role::RawScore => Kind::Number,
            Role::ImdbVotes => Kind::Count,
            _ => Kind::Text,
        }
    }

    /// Which table its values go to.
    pub fn owner(self) -> Owner {
        match self {
            Role::UserId | Role::UserName => Owner::User,
            Role::MovieId
            | Role::Title
            | Role::Directors
            | Role::Actors
            | Role::Description
            | Role::ImdbMean
            | Role::ImdbVotes => Owner::Movie,
            Role::Score | Role::MovielensRating | Role::Rating10 | Role::RawScore => Owner::Rating,
        }
    }

    /// The position of the role in [`Role::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The header name of each role in a CSV source. The defaults are the original project's
/// headers; a source with other headers changes the mapping, not the code. An optional
/// role mapped to `null` is ignored even when a column of that name exists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)] // each field is the header of the role of the same name
pub struct ColumnMap {
    pub user_id: String,
    pub user_name: Option<String>,
    pub movie_id: String,
    pub title: Option<String>,
    pub directors: Option<String>,
    pub actors: Option<String>,
    pub description: Option<String>,
    pub score: String,
    pub movielens_rating: Option<String>,
    pub rating_10: Option<String>,
    pub imdb_mean: Option<String>,
    pub imdb_votes: Option<String>,
    pub raw_score: Option<String>,
}

impl Default for ColumnMap {
    fn default() -> ColumnMap {
        let some = |s: &str| Some(s.to_owned());
        ColumnMap {
            user_id: "id_utilisateur".into(),
            user_name: some("nom_utilisateur"),
            movie_id: "id_film".into(),
            title: some("titre_film"),
            directors: some("realisateurs_principaux"),
            actors: some("noms_acteurs"),
            description: some("description_film"),
            score: "score_pertinence".into(),
            movielens_rating: some("note_movielens"),
            rating_10: some("note_sur_10"),
            imdb_mean: some("note_moyenne_imdb"),
            imdb_votes: some("nombre_votes_imdb"),
            raw_score: some("score_pertinence_brut"),
        }
    }
}

impl ColumnMap {
    /// The header mapped to `role`, if any.
    pub fn header(&self, role: Role) -> Option<&str> {
        match role {
            Role::UserId => Some(&self.user_id),
            Role::UserName => self.user_name.as_deref(),
            Role::MovieId => Some(&self.movie_id),
            Role::Title => self.title.as_deref(),
            Role::Directors => self.directors.as_deref(),
            Role::Actors => self.actors.as_deref(),
            Role::Description => self.description.as_deref(),
            Role::Score => Some(&self.score),
            Role::MovielensRating => self.movielens_rating.as_deref(),
            Role::Rating10 => self.rating_10.as_deref(),
            Role::ImdbMean => self.imdb_mean.as_deref(),
            Role::ImdbVotes => self.imdb_votes.as_deref(),
            Role::RawScore => self.raw_score.as_deref(),
        }
    }

    /// The first header that two roles share, if any: a mapping must be one to one.
    pub fn shared_header(&self) -> Option<(&str, Role, Role)> {
        for (a, &ra) in Role::ALL.iter().enumerate() {
            for &rb in &Role::ALL[a + 1..] {
                if let (Some(ha), Some(hb)) = (self.header(ra), self.header(rb))
                    && ha == hb
                {
                    return Some((ha, ra, rb));
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_listed_in_index_order() {
        for (i, r) in Role::ALL.iter().enumerate() {
            assert_eq!(r.index(), i);
        }
        let required: Vec<_> = Role::ALL.iter().filter(|r| r.is_required()).collect();
        assert_eq!(required, [&Role::UserId, &Role::MovieId, &Role::Score]);
    }

    #[test]
    fn default_mapping_uses_the_original_headers() {
        let m = ColumnMap::default();
        assert_eq!(m.header(Role::UserId), Some("id_utilisateur"));
        assert_eq!(m.header(Role::Score), Some("score_pertinence"));
        assert_eq!(m.header(Role::ImdbMean), Some("note_moyenne_imdb"));
        assert_eq!(m.shared_header(), None);
        let m = ColumnMap { title: Some("id_film".into()), ..ColumnMap::default() };
        assert_eq!(m.shared_header(), Some(("id_film", Role::MovieId, Role::Title)));
    }
}
