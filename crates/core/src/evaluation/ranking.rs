//! Every model and baseline ranked side by side on held-out ratings, with one definition.
//!
//! For each user known in training who has at least one relevant test rating (a score at or
//! above the threshold, of a movie known in training): rank the movies present in training
//! that the user did not rate in training, take the top K, and count a hit for each relevant
//! test movie in it. Precision@K = hits / K; recall@K = hits / relevant; NDCG@K with binary
//! gains and the ideal DCG over `min(K, relevant)`; MAP@K over `min(K, relevant)`; hit rate =
//! share of users with a hit; each a mean over those users. Besides: catalogue coverage (the
//! share of movies in at least one top-K list) and popularity bias (the mean popularity
//! percentile of the recommended movies: 1 for the most rated movie, 0 for the least).

use rayon::prelude::*;
use serde::Serialize;

use crate::data::dataset::RatingList;
use crate::data::trainset::Trainset;
use crate::evaluation::accuracy::{RankingMetrics, UserRanking};
use crate::models::ranking::Reorder;
use crate::models::rating::model::RatingModel;
use crate::models::recommender::{Scored, from_ranked, from_scored, liked_from};
use crate::models::{Interactions, Recommender, TopN};

/// What the ranking measures are taken against: each training user's history and relevant
/// test movies, in the training set's inner ids.
#[derive(Clone, Debug)]
pub struct Heldout {
    /// Each training user's ratings (movie, score), sorted by movie, each once.
    pub history: Vec<Vec<(u32, f64)>>,
    /// Each training user's movies (those of `history`).
    pub seen: Vec<Vec<u32>>,
    /// Each training user's relevant test movies, sorted, each once.
    pub relevant: Vec<Vec<u32>>,
    /// The users measured: those with a relevant test movie.
    pub users: Vec<usize>,
    /// Each movie's popularity percentile in training.
    pub percentile: Vec<f64>,
    /// The rating model that judges whether a listed movie is a predicted dislike
    /// ([`Heldout::judged_by`]), with each training user's and movie's inner id in it.
    judge: Option<Judge>,
}

/// A rating model judging lists: its predicted relevance of a listed movie against the
/// user's own mean score.
#[derive(Clone, Debug)]
struct Judge {
    rating: RatingModel,
    users: Vec<Option<usize>>,
    items: Vec<Option<usize>>,
    /// Each training user's mean score (their ratings' in `history`).
    mean: Vec<f64>,
}

impl Heldout {
    /// The held-out truth of `test` for a model fitted on `t`.
    pub fn new(t: &Trainset<'_>, test: &RatingList, threshold: f64) -> Heldout {
        let x = Interactions::new(t);
        let history: Vec<Vec<(u32, f64)>> = (0..x.n_users()).map(|u| x.user(u).collect()).collect();
        let train = t.list();
        let users: Vec<Option<u32>> = test.users().iter().map(|u| train.users().get(u)).collect();
        let items: Vec<Option<u32>> = test.movies().iter().map(|m| train.movies().get(m)).collect();
        let mut relevant: Vec<Vec<u32>> = vec![Vec::new(); x.n_users()];
        for r in 0..test.len() {
            if let (Some(u), Some(i)) = (users[test.user()[r].get()], items[test.movie()[r].get()])
                && test.score()[r] >= threshold
            {
                relevant[u as usize].push(i);
            }
        }
        for r in &mut relevant {
            // A pair rated twice (the `keep` duplicate policy) is one relevant movie.
            r.sort_unstable();
            r.dedup();
        }
        let measured = (0..x.n_users()).filter(|&u| !relevant[u].is_empty()).collect();
        let counts: Vec<usize> = (0..x.n_items()).map(|i| x.item(i).len()).collect();
        let mut sorted = counts.clone();
        sorted.sort_unstable();
        let n = counts.len().max(2) as f64 - 1.0;
        let percentile = counts.iter().map(|c| sorted.partition_point(|s| s < c) as f64 / n).collect();
        let seen = history.iter().map(|h| h.iter().map(|r| r.0).collect()).collect();
        Heldout { history, seen, relevant, users: measured, percentile, judge: None }
    }

    /// Every list measured also reports its predicted dislikes: the share of its top-K
    /// movies whose relevance `rating` predicts below the user's own mean score (`t` is the
    /// training set this was made from, for its ids).
    pub fn judged_by(mut self, t: &Trainset<'_>, rating: &RatingModel) -> Heldout {
        let train = t.list();
        let users = train.users().iter().map(|u| rating.users().get(u).map(|v| v as usize)).collect();
        let items = train.movies().iter().map(|m| rating.items().get(m).map(|v| v as usize)).collect();
        let mean = self.history.iter().map(|h| liked_from(h).unwrap_or(f64::NAN)).collect();
        self.judge = Some(Judge { rating: rating.clone(), users, items, mean });
        self
    }

    /// Movies in training.
    pub fn n_items(&self) -> usize {
        self.percentile.len()
    }

    /// Measures the lists `list(user, history, seen, n)` gives (movie ids, best first, none
    /// of them seen), at `k`, and precision, recall and NDCG at every K from 1 to `curve_k`
    /// (at least `k`).
    pub fn measure(
        &self,
        k: usize,
        curve_k: usize,
        list: impl Fn(usize, &[(u32, f64)], &[u32], usize) -> Vec<u32> + Sync,
    ) -> (RankingRow, Vec<RankingMetrics>) {
        let depth = curve_k.max(k);
        let lists: Vec<Vec<u32>> =
            self.users.par_iter().map(|&u| list(u, &self.history[u], &self.seen[u], depth)).collect();
        self.measure_lists(k, curve_k, &lists)
    }

    /// Measures the lists of the measured users (`lists[j]` is `users[j]`'s), as
    /// [`Heldout::measure`] does.
    pub fn measure_lists(&self, k: usize, curve_k: usize, lists: &[Vec<u32>]) -> (RankingRow, Vec<RankingMetrics>) {
        let depth = curve_k.max(k);
        let at = |k: usize| {
            let per_user: Vec<UserRanking> = lists
                .iter()
                .zip(&self.users)
                .map(|(l, &u)| {
                    let rel = &self.relevant[u];
                    let hits: Vec<bool> = l.iter().map(|i| rel.binary_search(i).is_ok()).collect();
                    UserRanking::new(&hits, rel.len(), k)
                })
                .collect();
            RankingMetrics::mean(k, &per_user)
        };
        let mut recommended = vec![false; self.n_items()];
        let (mut sum, mut count) = (0.0, 0usize);
        for l in lists {
            for &i in l.iter().take(k) {
                recommended[i as usize] = true;
                sum += self.percentile[i as usize];
                count += 1;
            }
        }
        let row = RankingRow {
            metrics: at(k),
            coverage: recommended.iter().filter(|r| **r).count() as f64 / self.n_items().max(1) as f64,
            popularity_bias: if count == 0 { 0.0 } else { sum / count as f64 },
            predicted_dislikes: self.judge.as_ref().map(|j| self.dislikes(j, lists, k)),
        };
        (row, (1..=depth).map(at).collect())
    }

    /// The share of the top-`k` movies of `lists` (one per measured user) whose relevance
    /// `j` predicts below the user's own mean score (0 for no movie).
    fn dislikes(&self, j: &Judge, lists: &[Vec<u32>], k: usize) -> f64 {
        let (below, count) = lists
            .par_iter()
            .zip(&self.users)
            .map(|(l, &u)| {
                let top = &l[..l.len().min(k)];
                let below =
                    top.iter().filter(|&&i| j.rating.estimate(j.users[u], j.items[i as usize]).est < j.mean[u]).count();
                (below, top.len())
            })
            .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        if count == 0 { 0.0 } else { below as f64 / count as f64 }
    }

    /// Measures a top-N model's own order (its lists of all the users at once).
    pub fn measure_top_n(&self, model: &dyn TopN, k: usize, curve_k: usize) -> (RankingRow, Vec<RankingMetrics>) {
        self.measure_ranked(&self.rank_users(model, curve_k.max(k)), None, k, curve_k)
    }

    /// A top-N model's own lists of the measured users, `depth` long: what
    /// [`Heldout::measure_ranked`] re-orders, once for every `rerank` measured.
    pub fn rank_users(&self, model: &dyn TopN, depth: usize) -> Vec<Vec<(u32, f64)>> {
        model.rank_all(&self.users, &|u| &self.history[u], &|u| &self.seen[u], depth)
    }

    /// The measures of lists taken from a ranking's own, computed beforehand
    /// ([`Heldout::rank_users`], at least [`depth`](crate::models::recommender::depth)`(rerank,
    /// curve_k.max(k))` long): as they are, or, with `reorder`, as a [`Recommender`] of that
    /// rating model and `rerank` gives them ([`from_ranked`]). The same measures as
    /// [`Heldout::measure_top_n`] and [`Heldout::measure_recommender`].
    pub fn measure_ranked(
        &self,
        ranked: &[Vec<(u32, f64)>],
        reorder: Option<(&RatingModel, Reorder)>,
        k: usize,
        curve_k: usize,
    ) -> (RankingRow, Vec<RankingMetrics>) {
        let n = curve_k.max(k);
        let lists: Vec<Vec<u32>> = match reorder {
            None => ranked.iter().map(|l| l.iter().take(n).map(|r| r.0).collect()).collect(),
            Some((rating, reorder)) => from_ranked(rating, &self.users, &|u| &self.history[u], ranked, reorder, n)
                .into_iter()
                .map(|l| l.into_iter().map(|r| r.movie).collect())
                .collect(),
        };
        self.measure_lists(k, curve_k, &lists)
    }

    /// Measures lists [`with_relevance`](crate::models::recommender::with_relevance) (each
    /// movie with the ranking's score and its predicted relevance, computed once) re-ordered
    /// as `reorder` says: what [`Heldout::measure_ranked`] gives with that rating model.
    pub fn measure_scored(
        &self,
        scored: &[Scored],
        reorder: Reorder,
        k: usize,
        curve_k: usize,
    ) -> (RankingRow, Vec<RankingMetrics>) {
        let lists: Vec<Vec<u32>> = from_scored(scored, reorder, curve_k.max(k))
            .into_iter()
            .map(|l| l.into_iter().map(|r| r.movie).collect())
            .collect();
        self.measure_lists(k, curve_k, &lists)
    }

    /// Measures a recommender's lists, as `predict` and the API give them.
    pub fn measure_recommender(
        &self,
        rec: &Recommender,
        k: usize,
        curve_k: usize,
    ) -> (RankingRow, Vec<RankingMetrics>) {
        let lists = rec.recommend_all(&self.users, &|u| &self.history[u], &|u| &self.seen[u], curve_k.max(k));
        let lists: Vec<Vec<u32>> = lists.into_iter().map(|l| l.into_iter().map(|r| r.movie).collect()).collect();
        self.measure_lists(k, curve_k, &lists)
    }
}

/// The ranking measures of one model or baseline.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct RankingRow {
    /// Precision, recall, NDCG, MAP and hit rate at K, and the users measured.
    #[serde(flatten)]
    pub metrics: RankingMetrics,
    /// Share of the movies in at least one top-K list.
    pub coverage: f64,
    /// Mean popularity percentile of the recommended movies (1: the most rated).
    pub popularity_bias: f64,
    /// Share of the top-K movies whose predicted relevance is below the user's own mean
    /// score: movies the list's own rating model says the user will not like
    /// ([`Heldout::judged_by`]; none when nothing judges).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted_dislikes: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::scale::RatingScale;
    use crate::data::split::train_test_split;
    use crate::data::synthetic::{SyntheticConfig, generate};
    use crate::models::ranking::popularity::PopularityParams;
    use crate::models::{Fit, Kind, RankingParams};

    #[test]
    fn a_hand_made_case() {
        // Two users; user a rated x, user b rated y; a's relevant test movie is z.
        let mut train = RatingList::new(RatingScale::SEED);
        for (u, m, s) in [("a", "x", 50.0), ("b", "y", 50.0), ("b", "z", 50.0), ("b", "x", 10.0)] {
            train.push(u, m, s);
        }
        let mut test = RatingList::new(RatingScale::SEED);
        test.push("a", "z", 90.0);
        test.push("a", "y", 10.0);
        test.push("c", "z", 90.0);
        let t = Trainset::new(&train);
        let h = Heldout::new(&t, &test, 60.0);
        assert_eq!(h.users, [0]);
        // Counts: x 2, y 1, z 1: percentiles 2/2, 0, 0.
        assert_eq!(h.percentile, [1.0, 0.0, 0.0]);
        let (row, curve) = h.measure(1, 2, |_, _, seen, n| {
            assert_eq!(seen, [0]);
            vec![2, 1].into_iter().take(n).collect()
        });
        assert_eq!((row.metrics.precision, row.metrics.ndcg, row.metrics.hit_rate), (1.0, 1.0, 1.0));
        assert_eq!(row.coverage, 1.0 / 3.0);
        assert_eq!(row.popularity_bias, 0.0);
        assert_eq!(curve.len(), 2);
        assert_eq!(curve[1].precision, 0.5);
    }

    /// On the synthetic data, where who rated what depends on taste, the top-N models beat
    /// the most-rated list: exposure carries something personal to learn.
    #[test]
    fn top_n_models_beat_popularity_on_the_synthetic_data() {
        let c = SyntheticConfig { seed: 11, scale: 0.3, ..SyntheticConfig::default() };
        let data = generate(&c, RatingScale::SEED).unwrap();
        let split = train_test_split(data.ratings.len(), 0.2, 42).unwrap();
        let train = data.ratings.select(&split.train);
        let test = data.ratings.select(&split.test);
        let t = Trainset::new(&train);
        let h = Heldout::new(&t, &test, 60.0);
        let popular = PopularityParams::default().fit(&t, 2).unwrap();
        let (pop, _) = h.measure_top_n(&popular, 10, 10);
        let params = RankingParams::default();
        for kind in [Kind::Ease, Kind::Ials] {
            let m = params.fit_kind(kind, &t, 2).unwrap();
            let (row, _) = h.measure_top_n(m.top_n().unwrap(), 10, 10);
            assert!(row.metrics.ndcg > 1.3 * pop.metrics.ndcg, "{kind}: {} vs {}", row.metrics.ndcg, pop.metrics.ndcg);
        }
    }

    /// A judged list's predicted dislikes are the share of its top-K movies whose predicted
    /// relevance is below the user's own mean score; the rating model's own order has fewer
    /// than the most-rated list; nothing judges an unjudged list.
    #[test]
    fn predicted_dislikes_are_the_listed_movies_predicted_below_the_users_mean() {
        use crate::models::rating::Algorithm;
        use crate::models::{Ranking, Recommender};
        let c = SyntheticConfig { seed: 11, scale: 0.1, ..SyntheticConfig::default() };
        let data = generate(&c, RatingScale::SEED).unwrap();
        let split = train_test_split(data.ratings.len(), 0.2, 42).unwrap();
        let (train, test) = (data.ratings.select(&split.train), data.ratings.select(&split.test));
        let t = Trainset::new(&train);
        let rating = RatingModel::fit(&Algorithm::default_of("baseline_only").unwrap(), &t, 1).unwrap();
        let h = Heldout::new(&t, &test, 60.0).judged_by(&t, &rating);
        let popular = PopularityParams::default().fit(&t, 1).unwrap();
        let ranked = h.rank_users(&popular, 10);
        let (row, _) = h.measure_ranked(&ranked, None, 10, 10);
        let (mut below, mut count) = (0, 0);
        for (list, &u) in ranked.iter().zip(&h.users) {
            let mean = h.history[u].iter().map(|r| r.1).sum::<f64>() / h.history[u].len() as f64;
            for &(i, _) in list.iter().take(10) {
                count += 1;
                below += usize::from(rating.estimate(Some(u), Some(i as usize)).est < mean);
            }
        }
        assert_eq!(row.predicted_dislikes, Some(below as f64 / count as f64));
        assert!(below > 0 && below < count, "{below} of {count}");
        let own = Recommender { rating, ranking: Ranking::Relevance, reorder: Reorder::default() };
        let (own, _) = h.measure_recommender(&own, 10, 10);
        assert!(own.predicted_dislikes < row.predicted_dislikes, "{own:?} vs {row:?}");
        let unjudged = Heldout::new(&t, &test, 60.0);
        assert_eq!(unjudged.measure_ranked(&ranked, None, 10, 10).0.predicted_dislikes, None);
    }
}
