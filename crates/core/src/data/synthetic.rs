//! A seeded generator of ratings in the seed's exact shape: 13,373 users, 385 movies and
//! 407,610 ratings at scale 1, all 13 columns filled with plausible values.
//!
//! Scores come from a low-rank user × movie structure plus user and movie biases plus
//! noise, with skewed movie popularity and user activity, so that matrix factorisation has
//! something real to learn. A monotone transform, calibrated on the generated values, then
//! gives the seed's score statistics (mean 48.50, median 47.15, sd 21.46, min 0, max 100).
//!
//! Who rated what depends on taste as well as popularity, as in real data: each movie
//! belongs to the genre of its strongest latent factor (and its sign), and a user picks a
//! movie with a probability proportional to its popularity times `exp(TASTE · affinity)`,
//! the affinity being the user's factor along that genre. So the movies a user chose say
//! something about the movies they would choose next, which is what top-N models learn.
//!
//! The scale factor multiplies users and ratings; `movies` sets the catalogue (385, the
//! seed's, by default) and `ratings_per_user` the mean activity (the seed's 30.5 by
//! default), so data of MovieLens-32M's shape can be generated for the scale benchmarks.

use serde::{Deserialize, Serialize};

use crate::data::columns::Role;
use crate::data::dataset::{Dataset, Value};
use crate::data::ids::{MovieIdx, UserIdx};
use crate::data::scale::RatingScale;
use crate::data::stats::median;
use crate::numpy::RandomState;

/// Users in the seed data.
pub const SEED_USERS: usize = 13_373;
/// Movies in the seed data.
pub const SEED_MOVIES: usize = 385;
/// Ratings in the seed data.
pub const SEED_RATINGS: usize = 407_610;
/// The seed's score statistics on its 0 to 100 scale: mean, median, sd.
pub const SEED_SCORE: (f64, f64, f64) = (48.50, 47.15, 21.46);

/// Rank of the latent user × movie structure.
const RANK: usize = 6;
/// How strongly taste steers which movies a user rates (0: popularity alone).
const TASTE: f64 = 1.2;

/// Parameters of the generator.
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `seed` | 42 | every random choice | 0 to 2^32 - 1 |
/// | `scale` | 1.0 | multiplies users and ratings | 1e-4 to 1000 |
/// | `movies` | 385 | the catalogue | 1 to 10,000,000 |
/// | `ratings_per_user` | null (the seed's 30.48) | mean ratings per user | 1 to `movies` |
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyntheticConfig {
    /// Seed of every random choice.
    pub seed: u32,
    /// Multiplies the seed's users and ratings (0.01 for tests, 60 for about 24 million ratings).
    pub scale: f64,
    /// Movies in the catalogue.
    pub movies: usize,
    /// Mean ratings per user; `None` keeps the seed's.
    pub ratings_per_user: Option<f64>,
}

impl Default for SyntheticConfig {
    fn default() -> SyntheticConfig {
        SyntheticConfig { seed: 42, scale: 1.0, movies: SEED_MOVIES, ratings_per_user: None }
    }
}

/// A generator setting outside its range.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum InvalidConfig {
    /// The scale factor.
    #[error("invalid synthetic scale {0}: expected a number from 0.0001 to 1000")]
    Scale(f64),
    /// The catalogue.
    #[error("invalid synthetic movies {0}: expected a whole number from 1 to 10000000")]
    Movies(usize),
    /// The activity.
    #[error("invalid synthetic ratings_per_user {value}: expected a number from 1 to movies ({movies})")]
    RatingsPerUser {
        /// The value.
        value: f64,
        /// The catalogue.
        movies: usize,
    },
}

/// The shape of the data a configuration generates: users, movies, ratings.
///
/// # Errors
/// [`InvalidConfig`] naming the setting out of range.
pub fn shape(config: &SyntheticConfig) -> Result<(usize, usize, usize), InvalidConfig> {
    let scale = config.scale;
    if !(1e-4..=1000.0).contains(&scale) {
        return Err(InvalidConfig::Scale(scale));
    }
    if !(1..=10_000_000).contains(&config.movies) {
        return Err(InvalidConfig::Movies(config.movies));
    }
    let users = ((SEED_USERS as f64 * scale).round() as usize).max(1);
    let ratings = match config.ratings_per_user {
        None => ((SEED_RATINGS as f64 * scale).round() as usize).max(1),
        Some(r) if (1.0..=config.movies as f64).contains(&r) => (users as f64 * r).round() as usize,
        Some(value) => return Err(InvalidConfig::RatingsPerUser { value, movies: config.movies }),
    };
    let users = users.min(ratings);
    let movies = config.movies.min(ratings);
    Ok((users, movies, ratings.min(users * movies)))
}

/// Generates the dataset for `config`, with scores mapped linearly from the seed's 0 to 100
/// onto `scale`.
///
/// # Errors
/// If a setting is out of range.
pub fn generate(config: &SyntheticConfig, scale: RatingScale) -> Result<Dataset, InvalidConfig> {
    let (n_users, n_movies, n_ratings) = shape(config)?;
    let mut rng = RandomState::new(config.seed);

    // Movies: popularity ranks, ids, biases, factors.
    let mut rank_of = rng.permutation(n_movies);
    rank_of.iter_mut().for_each(|r| *r += 5);
    let popularity: Vec<f64> = rank_of.iter().map(|&r| f64::from(r).powf(-0.9)).collect();
    let mut movie_ids = Vec::with_capacity(n_movies);
    let mut next_id = 0u32;
    for _ in 0..n_movies {
        next_id += 1 + rng.interval(300);
        movie_ids.push(next_id.to_string());
    }
    let movie_bias: Vec<f64> = (0..n_movies).map(|_| rng.gauss()).collect();
    let movie_factors: Vec<f64> = (0..n_movies * RANK).map(|_| rng.gauss()).collect();

    // Users: activity, biases, factors.
    let counts = activity(&mut rng, n_users, n_movies, n_ratings);
    let user_bias: Vec<f64> = (0..n_users).map(|_| rng.gauss()).collect();
    let user_factors: Vec<f64> = (0..n_users * RANK).map(|_| rng.gauss()).collect();

    // Which movies each user rated: popularity times taste.
    let genres = Genres::new(&movie_factors, &popularity);
    let mut picks: Vec<Vec<u32>> = counts
        .iter()
        .enumerate()
        .map(|(u, &c)| genres.pick(&mut rng, &user_factors[u * RANK..(u + 1) * RANK], c))
        .collect();
    cover_every_movie(&mut rng, &mut picks, n_movies);

    // Latent scores: biases + low-rank interaction + noise, each of unit variance.
    let mut latent = Vec::with_capacity(n_ratings);
    for (u, movies) in picks.iter().enumerate() {
        let pu = &user_factors[u * RANK..(u + 1) * RANK];
        for &m in movies {
            let qi = &movie_factors[m as usize * RANK..(m as usize + 1) * RANK];
            let dot: f64 = pu.iter().zip(qi).map(|(a, b)| a * b).sum::<f64>() / (RANK as f64).sqrt();
            latent.push(0.42 * movie_bias[m as usize] + 0.36 * user_bias[u] + 0.70 * dot + 0.45 * rng.gauss());
        }
    }
    let scores = calibrate(&latent);
    drop(latent);

    // Ratings in user-major order; ids get their indices by first appearance, as readers
    // give them, so `order[k]` is the generated movie behind movie index `k`.
    let mut data = Dataset::empty(scale, Role::ALL);
    let user_ids: Vec<String> = (1..=n_users).map(|u| u.to_string()).collect();
    let (lo, hi) = (scale.min(), scale.max());
    let mut order = Vec::with_capacity(n_movies);
    let mut index_of = vec![u32::MAX; n_movies];
    let mut i = 0;
    for (u, movies) in picks.iter().enumerate() {
        let (users, _) = data.ratings.ids_mut();
        let user = UserIdx(users.intern(&user_ids[u]));
        for &m in movies {
            let s = scores[i];
            i += 1;
            let m = m as usize;
            if index_of[m] == u32::MAX {
                index_of[m] = data.ratings.ids_mut().1.intern(&movie_ids[m]);
                order.push(m);
            }
            data.ratings.push_indexed(user, MovieIdx(index_of[m]), lo + (hi - lo) * s / 100.0);
            let ml = ((0.5 + 4.5 * s / 100.0 + 0.4 * rng.gauss()) * 2.0).round().clamp(1.0, 10.0) / 2.0;
            for (role, col) in data.extras.columns_mut() {
                let v = match role {
                    Role::MovielensRating => ml,
                    Role::Rating10 => ml * 2.0,
                    Role::RawScore => (s * 100.0).round() / 10_000.0,
                    _ => unreachable!("rating roles only"),
                };
                col.push(Some(Value::Number(v)));
            }
        }
    }
    for (role, col) in data.user_attrs.columns_mut() {
        debug_assert_eq!(*role, Role::UserName);
        for _ in 0..n_users {
            col.push(Some(Value::Text(person(&mut rng))));
        }
    }
    let mut titles = std::collections::HashSet::new();
    let movie_rows: Vec<MovieRow> =
        (0..n_movies).map(|m| MovieRow::new(&mut rng, &mut titles, movie_bias[m], rank_of[m])).collect();
    for (role, col) in data.movie_attrs.columns_mut() {
        for &m in &order {
            let row = &movie_rows[m];
            let v = match role {
                Role::Title => Value::Text(row.title.clone()),
                Role::Directors => Value::Text(row.directors.clone()),
                Role::Actors => Value::Text(row.actors.clone()),
                Role::Description => Value::Text(row.description.clone()),
                Role::ImdbMean => Value::Number(row.imdb_mean),
                Role::ImdbVotes => Value::Count(row.imdb_votes),
                _ => unreachable!("movie roles only"),
            };
            col.push(Some(v));
        }
    }

    Ok(data)
}

/// Ratings per user: log-normal activity, at least one each, at most the catalogue, summing
/// to exactly `n_ratings`.
fn activity(rng: &mut RandomState, n_users: usize, n_movies: usize, n_ratings: usize) -> Vec<usize> {
    let weights: Vec<f64> = (0..n_users).map(|_| (0.9 * rng.gauss()).exp()).collect();
    let total: f64 = weights.iter().sum();
    let extra = (n_ratings - n_users) as f64;
    let mut counts: Vec<usize> = weights.iter().map(|w| (1 + (extra * w / total) as usize).min(n_movies)).collect();
    let mut order: Vec<usize> = (0..n_users).collect();
    order.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]).then(a.cmp(&b)));
    let mut assigned: usize = counts.iter().sum();
    while assigned < n_ratings {
        for &u in &order {
            if assigned == n_ratings {
                break;
            }
            if counts[u] < n_movies {
                counts[u] += 1;
                assigned += 1;
            }
        }
    }
    counts
}

/// Movies by genre: the genre of a movie is its strongest latent factor and that factor's
/// sign (`2·RANK` genres).
struct Genres {
    /// The genre of each movie.
    genre: Vec<usize>,
    /// Each movie's popularity.
    popularity: Vec<f64>,
    /// Each genre's movies, and the cumulative share of the genre's popularity up to each.
    members: Vec<(Vec<u32>, Vec<f64>)>,
    /// Each genre's total popularity.
    mass: Vec<f64>,
}

impl Genres {
    fn new(movie_factors: &[f64], popularity: &[f64]) -> Genres {
        let genre: Vec<usize> = movie_factors
            .chunks_exact(RANK)
            .map(|q| {
                let k = (0..RANK).max_by(|&a, &b| q[a].abs().total_cmp(&q[b].abs()).then(b.cmp(&a))).unwrap_or(0);
                2 * k + usize::from(q[k] < 0.0)
            })
            .collect();
        let mut members: Vec<(Vec<u32>, Vec<f64>)> = vec![(Vec::new(), Vec::new()); 2 * RANK];
        let mut mass = vec![0.0; 2 * RANK];
        for (m, &g) in genre.iter().enumerate() {
            mass[g] += popularity[m];
            members[g].0.push(m as u32);
            members[g].1.push(mass[g]);
        }
        for (g, (_, cumulative)) in members.iter_mut().enumerate() {
            cumulative.iter_mut().for_each(|c| *c /= mass[g]);
        }
        Genres { genre, popularity: popularity.to_vec(), members, mass }
    }

    /// How much a user with factors `pu` is drawn to each genre.
    fn affinity(&self, pu: &[f64]) -> Vec<f64> {
        (0..2 * RANK).map(|g| (TASTE * if g % 2 == 0 { pu[g / 2] } else { -pu[g / 2] }).exp()).collect()
    }

    /// `count` distinct movies, each drawn with probability proportional to its popularity
    /// times the user's affinity for its genre: a genre then a movie inside it, drawn again
    /// on a repeat, for small counts; Efraimidis–Spirakis keys for large ones.
    fn pick(&self, rng: &mut RandomState, pu: &[f64], count: usize) -> Vec<u32> {
        let n = self.genre.len();
        let affinity = self.affinity(pu);
        if count * 8 <= n {
            let weights: Vec<f64> = affinity.iter().zip(&self.mass).map(|(a, m)| a * m).collect();
            let total: f64 = weights.iter().sum();
            let cumulative: Vec<f64> = weights
                .iter()
                .scan(0.0, |acc, w| {
                    *acc += w / total;
                    Some(*acc)
                })
                .collect();
            let mut chosen: Vec<u32> = Vec::with_capacity(count);
            let mut taken = std::collections::HashSet::with_capacity(count);
            while chosen.len() < count {
                let x = rng.random_sample();
                let g = cumulative.partition_point(|&c| c <= x).min(2 * RANK - 1);
                let (movies, within) = &self.members[g];
                if movies.is_empty() {
                    continue;
                }
                let x = rng.random_sample();
                let m = movies[within.partition_point(|&c| c <= x).min(movies.len() - 1)];
                if taken.insert(m) {
                    chosen.push(m);
                }
            }
            chosen
        } else {
            let mut keys: Vec<(f64, u32)> = (0..n)
                .map(|m| {
                    let w = self.popularity[m] * affinity[self.genre[m]];
                    ((1.0 - rng.random_sample()).ln() / w, m as u32)
                })
                .collect();
            // The `count` largest keys, then a canonical order before the shuffle, so the
            // result does not depend on how the selection arranges them.
            if count < n {
                keys.select_nth_unstable_by(count, |a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            }
            let mut chosen: Vec<u32> = keys[..count].iter().map(|k| k.1).collect();
            chosen.sort_unstable();
            rng.shuffle(&mut chosen);
            chosen
        }
    }
}

/// Gives every movie at least one rating: an unrated movie replaces, in a random user's
/// list, a movie that others also rated.
fn cover_every_movie(rng: &mut RandomState, picks: &mut [Vec<u32>], n_movies: usize) {
    let mut count = vec![0usize; n_movies];
    for p in picks.iter() {
        for &m in p {
            count[m as usize] += 1;
        }
    }
    for m in 0..n_movies {
        while count[m] == 0 {
            let u = rng.interval(picks.len() as u32 - 1) as usize;
            if picks[u].contains(&(m as u32)) {
                continue;
            }
            let slot = rng.interval(picks[u].len() as u32 - 1) as usize;
            let old = picks[u][slot] as usize;
            if count[old] > 1 {
                count[old] -= 1;
                count[m] += 1;
                picks[u][slot] = m as u32;
            }
        }
    }
}

/// Maps latent values to 0..100 scores with the seed's mean, median and sd: standardise,
/// skew with `z + g (z^2 - 1)`, then `clip(a + b y, 0, 100)` rounded to 0.01, with `a`,
/// `b`, `g` found by fixed-point iteration on (a sample of) the values themselves.
fn calibrate(latent: &[f64]) -> Vec<f64> {
    let n = latent.len() as f64;
    let mean = latent.iter().sum::<f64>() / n;
    let sd = (latent.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n).sqrt().max(1e-12);
    let z: Vec<f64> = latent.iter().map(|x| (x - mean) / sd).collect();
    let step = (z.len() / 500_000).max(1);
    let sample: Vec<f64> = z.iter().step_by(step).copied().collect();
    let (t_mean, t_median, t_sd) = SEED_SCORE;
    let (mut a, mut b, mut g) = (t_mean, t_sd, 0.115);
    let map =
        |x: f64, a: f64, b: f64, g: f64| ((a + b * (x + g * (x * x - 1.0))).clamp(0.0, 100.0) * 100.0).round() / 100.0;
    for _ in 0..40 {
        let s: Vec<f64> = sample.iter().map(|&x| map(x, a, b, g)).collect();
        let m = s.iter().sum::<f64>() / s.len() as f64;
        let sdv = (s.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (s.len() - 1).max(1) as f64).sqrt();
        if sdv == 0.0 {
            break;
        }
        let med = median(&s);
        a += t_mean - m;
        b *= t_sd / sdv;
        g += 1.8 * ((t_mean - t_median) / t_sd - (m - med) / sdv);
        g = g.clamp(0.0, 0.4);
    }
    z.iter().map(|&x| map(x, a, b, g)).collect()
}

const FIRST: [&str; 48] = [
    "Camille",
    "Léa",
    "Manon",
    "Chloé",
    "Inès",
    "Jade",
    "Louise",
    "Zoé",
    "Élodie",
    "Margaux",
    "Océane",
    "Clémence",
    "Amélie",
    "Juliette",
    "Anaïs",
    "Mathilde",
    "Hélène",
    "Céline",
    "Aurélie",
    "Noémie",
    "Agnès",
    "Maëlle",
    "Sophie",
    "Émilie",
    "Lucas",
    "Hugo",
    "Théo",
    "Nathan",
    "Louis",
    "Gabriel",
    "Jules",
    "Raphaël",
    "Arthur",
    "Maxime",
    "Antoine",
    "Étienne",
    "François",
    "Benoît",
    "Jérôme",
    "Sébastien",
    "Clément",
    "Aurélien",
    "Mathéo",
    "Noé",
    "Loïc",
    "Grégoire",
    "Joël",
    "Thibault",
];
const LAST: [&str; 48] = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefèvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Lefebvre",
    "Mercier",
    "Dupont",
    "Lambert",
    "Bonnet",
    "François",
    "Martinez",
    "Legrand",
    "Garnier",
    "Faure",
    "Rousseau",
    "Blanc",
    "Guérin",
    "Muller",
    "Henry",
    "Roussel",
    "Nicolas",
    "Perrin",
    "Morin",
    "Mathieu",
    "Clément",
    "Gauthier",
    "Dumont",
    "Lopez",
    "Fontaine",
];
const SUBJECT: [&str; 24] = [
    "Le Voyage",
    "La Nuit",
    "Les Ombres",
    "L'Été",
    "Le Silence",
    "La Mémoire",
    "Les Enfants",
    "Le Dernier Hiver",
    "La Promesse",
    "Les Amants",
    "Le Secret",
    "La Traversée",
    "Les Fantômes",
    "Le Retour",
    "La Chambre",
    "Les Heures",
    "Le Jardin",
    "La Fugue",
    "Les Lumières",
    "Le Mystère",
    "La Maison",
    "Les Étrangers",
    "Le Phare",
    "La Rivière",
];
const COMPLEMENT: [&str; 24] = [
    "de Paris",
    "du Silence",
    "d'Automne",
    "des Anges",
    "sans Fin",
    "du Nord",
    "de Marseille",
    "des Illusions",
    "au Bord de la Mer",
    "de la Colline",
    "du Désert",
    "d'un Été",
    "des Oubliés",
    "de Minuit",
    "en Provence",
    "de l'Aube",
    "des Loups",
    "sous la Pluie",
    "du Phare",
    "de Lyon",
    "d'Hier",
    "des Sables",
    "à Venise",
    "du Temps",
];
const TRADE: [&str; 16] = [
    "une architecte",
    "un boulanger",
    "une juge",
    "un marin",
    "une photographe",
    "un instituteur",
    "une pianiste",
    "un détective",
    "une chirurgienne",
    "un vigneron",
    "une journaliste",
    "un horloger",
    "une aviatrice",
    "un peintre",
    "une comédienne",
    "un libraire",
];
const PLOT: [&str; 16] = [
    "découvre un secret de famille",
    "part à la recherche de son frère",
    "tombe amoureux d'une inconnue",
    "enquête sur une disparition",
    "hérite d'une maison étrange",
    "affronte son passé",
    "rêve d'une autre vie",
    "traverse la France à vélo",
    "reçoit une lettre anonyme",
    "doit sauver son village",
    "retrouve un ami d'enfance",
    "perd la mémoire",
    "cache un lourd secret",
    "organise un mariage impossible",
    "fuit la ville",
    "défie le destin",
];
const PLACE: [&str; 12] = [
    "à Paris",
    "en Bretagne",
    "dans les Alpes",
    "à Marseille",
    "sur la Côte d'Azur",
    "à Lyon",
    "en Normandie",
    "dans un petit village",
    "à Bordeaux",
    "en Corse",
    "au bord de la Loire",
    "à Strasbourg",
];

fn pick(rng: &mut RandomState, list: &[&'static str]) -> &'static str {
    list[rng.interval(list.len() as u32 - 1) as usize]
}

fn person(rng: &mut RandomState) -> String {
    let first = pick(rng, &FIRST);
    format!("{first} {}", pick(rng, &LAST))
}

fn people(rng: &mut RandomState, n: usize) -> String {
    (0..n).map(|_| person(rng)).collect::<Vec<_>>().join(", ")
}

/// The attributes of one generated movie.
struct MovieRow {
    title: String,
    directors: String,
    actors: String,
    description: String,
    imdb_mean: f64,
    imdb_votes: u64,
}

impl MovieRow {
    /// A movie whose title is not yet in `titles` (drawn again until it is new).
    fn new(rng: &mut RandomState, titles: &mut std::collections::HashSet<String>, bias: f64, rank: u32) -> MovieRow {
        let mut tries = 0;
        let title = loop {
            let year = 1950 + rng.interval(72);
            let subject = pick(rng, &SUBJECT);
            tries += 1;
            // Large catalogues run out of new combinations: a number keeps them distinct.
            let t = if tries <= 20 {
                format!("{subject} {} ({year})", pick(rng, &COMPLEMENT))
            } else {
                format!("{subject} {} {} ({year})", pick(rng, &COMPLEMENT), titles.len())
            };
            if titles.insert(t.clone()) {
                break t;
            }
        };
        let n_directors = if rng.random_sample() < 0.85 { 1 } else { 2 };
        let directors = people(rng, n_directors);
        let n_actors = 3 + rng.interval(2) as usize;
        let actors = people(rng, n_actors);
        let hero = pick(rng, &FIRST);
        let mut description = format!("{hero}, {}, {} {}.", pick(rng, &TRADE), pick(rng, &PLOT), pick(rng, &PLACE));
        // Some descriptions span two lines or quote a nickname, as real exports do.
        let extra = rng.random_sample();
        if extra < 0.05 {
            description.push_str("\nUn film sur le temps qui passe.");
        } else if extra < 0.08 {
            description.push_str(" Surnommé \"le Magnifique\", rien ne l'arrête.");
        }
        let imdb_mean = ((6.4 + 0.9 * bias + 0.4 * rng.gauss()).clamp(1.0, 9.6) * 10.0).round() / 10.0;
        let imdb_votes = (12.5 - f64::from(rank).ln() + 0.6 * rng.gauss()).exp().round() as u64 + 5;
        MovieRow { title, directors, actors, description, imdb_mean, imdb_votes }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::stats::ScoreStats;

    #[test]
    fn shape_scales_users_and_ratings_and_keeps_the_catalogue() {
        let at = |scale: f64| shape(&SyntheticConfig { scale, ..SyntheticConfig::default() });
        assert_eq!(at(1.0).unwrap(), (13_373, 385, 407_610));
        assert_eq!(at(0.01).unwrap(), (134, 385, 4_076));
        assert_eq!(at(60.0).unwrap(), (802_380, 385, 24_456_600));
        assert!(at(0.0).is_err() && at(f64::NAN).is_err());
        // MovieLens-32M's shape.
        let ml32 = SyntheticConfig { scale: 14.955, movies: 87_000, ratings_per_user: Some(160.0), seed: 1 };
        assert_eq!(shape(&ml32).unwrap(), (199_993, 87_000, 31_998_880));
        let bad = SyntheticConfig { ratings_per_user: Some(500.0), ..SyntheticConfig::default() };
        assert_eq!(
            shape(&bad).unwrap_err().to_string(),
            "invalid synthetic ratings_per_user 500: expected a number from 1 to movies (385)"
        );
        assert!(shape(&SyntheticConfig { movies: 0, ..SyntheticConfig::default() }).is_err());
    }

    /// A catalogue other than the seed's: every movie rated, the requested activity, the
    /// seed's score statistics. (That exposure carries taste is checked where it matters: a
    /// top-N model beats the most-rated list on this data, in `evaluation::ranking`.)
    #[test]
    fn other_catalogues_have_their_shape() {
        let c = SyntheticConfig { seed: 4, scale: 0.1, movies: 2_000, ratings_per_user: Some(40.0) };
        let d = generate(&c, RatingScale::SEED).unwrap();
        let s = ScoreStats::of(&d.ratings);
        assert_eq!((s.users as usize, s.movies as usize, s.ratings as usize), shape(&c).unwrap());
        assert_eq!(s.movies, 2_000);
        assert!((s.mean - 48.50).abs() < 0.5 && (s.sd - 21.46).abs() < 0.5, "{s:?}");
    }

    #[test]
    fn small_scale_has_the_seed_shape_and_statistics() {
        let c = SyntheticConfig { seed: 1, scale: 0.05, ..SyntheticConfig::default() };
        let d = generate(&c, RatingScale::SEED).unwrap();
        let s = ScoreStats::of(&d.ratings);
        let (users, movies, ratings) = shape(&c).unwrap();
        assert_eq!((s.users as usize, s.movies as usize, s.ratings as usize), (users, movies, ratings));
        assert_eq!((s.min, s.max), (0.0, 100.0));
        assert!((s.mean - 48.50).abs() < 0.5 && (s.median - 47.15).abs() < 0.5 && (s.sd - 21.46).abs() < 0.5, "{s:?}");
        assert_eq!(d.user_attrs.columns().len(), 1);
        assert_eq!(d.movie_attrs.columns().len(), 6);
        assert_eq!(d.extras.columns().len(), 3);
    }

    #[test]
    fn same_seed_same_data_other_seed_other_data() {
        let c = SyntheticConfig { seed: 9, scale: 0.01, ..SyntheticConfig::default() };
        let a = generate(&c, RatingScale::SEED).unwrap();
        let b = generate(&c, RatingScale::SEED).unwrap();
        assert_eq!(a.ratings.score(), b.ratings.score());
        assert_eq!(a.movie_attrs, b.movie_attrs);
        let c2 = generate(&SyntheticConfig { seed: 10, ..c }, RatingScale::SEED).unwrap();
        assert_ne!(a.ratings.score(), c2.ratings.score());
    }

    #[test]
    fn scores_follow_the_declared_scale() {
        let d = generate(
            &SyntheticConfig { seed: 3, scale: 0.01, ..SyntheticConfig::default() },
            RatingScale::new(1.0, 5.0).unwrap(),
        )
        .unwrap();
        let s = ScoreStats::of(&d.ratings);
        assert_eq!((s.min, s.max), (1.0, 5.0));
    }
}
