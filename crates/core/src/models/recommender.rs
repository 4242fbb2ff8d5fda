//! What is served: a [`Recommender`] joins the rating model, whose predicted relevance every
//! recommendation shows, and the ranking that orders the list, and answers for a known user,
//! a new user folded in from their ratings, or every user at once.

use rayon::prelude::*;

use crate::data::dataset::RatingList;
use crate::models::base::keep_last_per_movie;
use crate::models::base::predictor::standardise;
use crate::models::base::select::top_unseen;
use crate::models::ranking::{Kind, Ranking, Reorder};
use crate::models::rating::model::{NewUser, RatingModel};

/// What each of a model's users has rated in `list`: (model movie index, score) pairs,
/// sorted by movie, each movie once (the last rating of a pair rated twice), by model user
/// index; users and movies the model does not know are left out.
pub fn histories(model: &RatingModel, list: &RatingList) -> Vec<Vec<(u32, f64)>> {
    let users: Vec<Option<u32>> = list.users().iter().map(|u| model.users().get(u)).collect();
    let items: Vec<Option<u32>> = list.movies().iter().map(|m| model.items().get(m)).collect();
    let mut seen: Vec<Vec<(u32, f64)>> = vec![Vec::new(); model.users().len()];
    for ((u, m), &s) in list.user().iter().zip(list.movie()).zip(list.score()) {
        if let (Some(u), Some(i)) = (users[u.get()], items[m.get()]) {
            seen[u as usize].push((i, s));
        }
    }
    seen.par_iter_mut().for_each(keep_last_per_movie);
    seen
}
/// How deep a ranking's own list must be for `n` recommendations whose best `rerank` are
/// re-ordered by predicted relevance (`rerank` 0: not re-ordered).
pub fn depth(rerank: usize, n: usize) -> usize {
    if rerank > 0 { rerank.max(n) } else { n }
}

/// A ranking's best movies for one user, each as (movie, the ranking's score, its predicted
/// relevance), and the score from which the user liked a movie ([`liked_from`]): what
/// [`from_scored`] re-orders.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Scored {
    /// The movies, in the ranking's order.
    pub top: Vec<(u32, f64, f64)>,
    /// The user's own mean score (`None` for a user with no rating).
    pub liked_from: Option<f64>,
}

/// Each of `users`' `n` recommendations from its ranking's own list (`ranked`, by
/// [`TopN::rank_all`](crate::models::base::TopN::rank_all), at least [`depth`]`(rerank, n)`
/// long), each movie with its predicted relevance by `rating`, the best `rerank` re-ordered
/// as `reorder` says (each user's ratings by `history`): what
/// [`Recommender::recommend_all`] gives with that `reorder`. One ranking's lists, computed
/// once, serve every `reorder` and every `n` up to their length.
///
/// # Panics
/// If `ranked` does not hold a list per user.
pub fn from_ranked<'s>(
    rating: &RatingModel,
    users: &[usize],
    history: &(dyn Fn(usize) -> &'s [(u32, f64)] + Sync),
    ranked: &[Vec<(u32, f64)>],
    reorder: Reorder,
    n: usize,
) -> Vec<Vec<Recommendation>> {
    from_scored(&with_relevance(rating, users, history, ranked, depth(reorder.rerank, n)), reorder, n)
}

/// Each of `users`' ranked lists (`ranked`) cut to `depth`, each movie with the ranking's
/// score and its predicted relevance by `rating`, with the user's own mean score (from
/// `history`): what [`from_scored`] re-orders, computed once for every `reorder` of the
/// same lists.
///
/// # Panics
/// If `ranked` does not hold a list per user.
pub fn with_relevance<'s>(
    rating: &RatingModel,
    users: &[usize],
    history: &(dyn Fn(usize) -> &'s [(u32, f64)] + Sync),
    ranked: &[Vec<(u32, f64)>],
    depth: usize,
) -> Vec<Scored> {
    assert_eq!(users.len(), ranked.len(), "a ranked list per user");
    ranked
        .par_iter()
        .zip(users)
        .map(|(ranked, &u)| {
            let top = &ranked[..ranked.len().min(depth)];
            let top = top
                .iter()
                .map(|&(movie, score)| (movie, score, rating.estimate(Some(u), Some(movie as usize)).est))
                .collect();
            Scored { top, liked_from: liked_from(history(u)) }
        })
        .collect()
}

/// [`from_ranked`] from lists [`with_relevance`] (at least [`depth`]`(rerank, n)` long).
pub fn from_scored(scored: &[Scored], reorder: Reorder, n: usize) -> Vec<Vec<Recommendation>> {
    scored
        .par_iter()
        .map(|s| reordered(&s.top[..s.top.len().min(depth(reorder.rerank, n))], s.liked_from, reorder, n))
        .collect()
}

/// A ranking's list of (movie, its score, its predicted relevance) (at most
/// [`depth`]`(rerank, n)` long), re-ordered as `reorder` says for a user who likes a movie
/// from `liked_from` on, cut to `n`.
fn reordered(top: &[(u32, f64, f64)], liked_from: Option<f64>, reorder: Reorder, n: usize) -> Vec<Recommendation> {
    let mut list: Vec<Recommendation> =
        top.iter().map(|&(movie, _, relevance)| Recommendation { movie, relevance }).collect();
    if reorder.rerank > 0 {
        match reorder.blend {
            // A stable sort keeps the ranking's order among equal relevances.
            None => list.sort_by(|a, b| b.relevance.total_cmp(&a.relevance)),
            Some(w) => {
                let own = z_scores(top.iter().map(|r| r.1));
                let rel = z_scores(list.iter().map(|r| r.relevance));
                let key: Vec<f64> = own.iter().zip(&rel).map(|(s, r)| s + w * r).collect();
                let mut order: Vec<usize> = (0..list.len()).collect();
                order.sort_by(|&a, &b| key[b].total_cmp(&key[a]));
                list = order.into_iter().map(|i| list[i]).collect();
            }
        }
        if let Some(liked) = liked_from.filter(|_| reorder.demote_dislikes) {
            // Stable: each part keeps its order.
            list.sort_by_key(|r| r.relevance < liked);
        }
    }
    list.truncate(n);
    list
}

/// Each value's z-score among `values` ([`standardise`]).
fn z_scores(values: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut v: Vec<f64> = values.collect();
    standardise(&mut v);
    v
}

/// How a user is known to a [`Recommender`].
#[derive(Clone, Copy, Debug)]
pub struct User<'a> {
    /// The inner id of a user the models were fitted on; `None` for a new user.
    pub id: Option<usize>,
    /// The user's ratings (inner movie id, score), sorted by movie, each movie once: what a
    /// new user is folded in from, and what item-based kinds score from.
    pub history: &'a [(u32, f64)],
}

/// One recommended movie.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Recommendation {
    /// The movie's inner id.
    pub movie: u32,
    /// The rating model's predicted relevance, clipped to the rating scale: what users read.
    pub relevance: f64,
}

/// What is served: the rating model, whose predicted relevance every recommendation shows,
/// and the ranking that orders the list. Both were fitted on the same ratings, so they share
/// the rating model's inner ids.
#[derive(Clone, Debug, PartialEq)]
pub struct Recommender {
    /// The predicted relevance: SVD or another of Surprise's algorithms.
    pub rating: RatingModel,
    /// The order.
    pub ranking: Ranking,
    /// How the ranking's best movies are re-ordered by predicted relevance.
    pub reorder: Reorder,
}

impl Recommender {
    /// The kind that orders the lists.
    pub fn kind(&self) -> Kind {
        self.ranking.kind()
    }

    /// The rating model's fold-in of a new user (a known user's own estimates are used
    /// directly by [`Recommender::relevance`]).
    pub fn profile(&self, user: User<'_>) -> Option<NewUser> {
        user.id.is_none().then(|| self.rating.fold_in(user.history))
    }

    /// The predicted relevance of movie `i` for `user` (`profile` from
    /// [`Recommender::profile`]).
    pub fn relevance(&self, user: User<'_>, profile: Option<&NewUser>, i: usize) -> f64 {
        match profile {
            Some(p) => p.relevance[i],
            None => self.rating.estimate(user.id, Some(i)).est,
        }
    }

    /// The `n` movies not in `seen` (sorted inner ids) to recommend to `user`, in the
    /// ranking's order (re-ordered by predicted relevance when `rerank` is set), each with
    /// its predicted relevance. Ties go to the lower inner id.
    pub fn recommend(&self, user: User<'_>, seen: &[u32], n: usize) -> Vec<Recommendation> {
        self.recommend_with(user, self.profile(user).as_ref(), seen, n)
    }

    /// [`Recommender::recommend`] for each of `users`, users the models were fitted on (their
    /// ratings by `history`, their seen movies by `seen`), the lists of the kinds whose scores
    /// are products of factor rows computed all at once as blocked matrix products (the same
    /// lists), on the current rayon pool.
    pub fn recommend_all<'s>(
        &self,
        users: &[usize],
        history: &(dyn Fn(usize) -> &'s [(u32, f64)] + Sync),
        seen: &(dyn Fn(usize) -> &'s [u32] + Sync),
        n: usize,
    ) -> Vec<Vec<Recommendation>> {
        let relevance = |u: usize, i: u32| self.rating.estimate(Some(u), Some(i as usize)).est;
        let Some(model) = self.ranking.top_n() else {
            let lists = self.rating.top_unseen_all(users, seen, n).unwrap_or_else(|| {
                let n_items = self.rating.n_items();
                users.par_iter().map(|&u| top_unseen(n_items, seen(u), n, |i| relevance(u, i))).collect()
            });
            return lists
                .into_iter()
                .map(|list| list.into_iter().map(|(movie, relevance)| Recommendation { movie, relevance }).collect())
                .collect();
        };
        let ranked = model.rank_all(users, history, seen, depth(self.reorder.rerank, n));
        from_ranked(&self.rating, users, history, &ranked, self.reorder, n)
    }

    /// [`Recommender::recommend`] with the new user's profile already folded in (from
    /// [`Recommender::profile`]; `None` for a known user).
    pub fn recommend_with(
        &self,
        user: User<'_>,
        profile: Option<&NewUser>,
        seen: &[u32],
        n: usize,
    ) -> Vec<Recommendation> {
        // A known user's list is the one computed for all users at once.
        if let (Some(u), None) = (user.id, profile) {
            let (history, seen) = (user.history, seen);
            return self.recommend_all(&[u], &|_| history, &|_| seen, n).pop().unwrap_or_default();
        }
        let relevance = |i: u32| self.relevance(user, profile, i as usize);
        let n_items = self.rating.n_items();
        let Some(model) = self.ranking.top_n() else {
            return top_unseen(n_items, seen, n, relevance)
                .into_iter()
                .map(|(movie, relevance)| Recommendation { movie, relevance })
                .collect();
        };
        let top: Vec<(u32, f64, f64)> = model
            .rank(user.id, user.history, seen, depth(self.reorder.rerank, n))
            .into_iter()
            .map(|(movie, score)| (movie, score, relevance(movie)))
            .collect();
        reordered(&top, liked_from(user.history), self.reorder, n)
    }

    /// The `n` movies most like movie `i`: by the ranking's model where its kind offers it,
    /// else by the rating model's (the cosine of its movie factors, or an item-based k-NN's
    /// similarities); none when neither learns movies' likeness.
    pub fn similar(&self, i: usize, n: usize) -> Vec<(u32, f64)> {
        self.ranking.top_n().and_then(|m| m.similar(i, n)).or_else(|| self.rating.similar(i, n)).unwrap_or_default()
    }

    /// Why movie `i` is recommended to someone with these ratings: the `k` movies of
    /// `history` they liked ([`liked_from`]: scored at or above their own mean) most like it
    /// (by [`Recommender::similar`], a likeness above 0), most similar first, each with its
    /// similarity and the user's score. A movie they scored below their mean is never a
    /// reason: the list is empty when no movie they liked is like this one.
    pub fn because(&self, i: usize, history: &[(u32, f64)], k: usize) -> Vec<(u32, f64, f64)> {
        let Some(liked) = liked_from(history).filter(|_| k > 0) else {
            return Vec::new();
        };
        let score: std::collections::HashMap<u32, f64> = history.iter().copied().filter(|&(_, s)| s >= liked).collect();
        self.similar(i, self.rating.n_items())
            .into_iter()
            .filter(|&(_, similarity)| similarity > 0.0)
            .filter_map(|(j, similarity)| score.get(&j).map(|&s| (j, similarity, s)))
            .take(k)
            .collect()
    }
}

/// The score from which a user liked a movie they rated: their own mean score (`None` for
/// no rating). Each user's own, since scales are personal: for someone who scores
/// everything from 60 up, a 60 is a disappointment; for someone whose mean is 30, a 50 is
/// praise.
pub fn liked_from(history: &[(u32, f64)]) -> Option<f64> {
    (!history.is_empty()).then(|| history.iter().map(|r| r.1).sum::<f64>() / history.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::scale::RatingScale;
    use crate::data::trainset::Trainset;
    use crate::models::base::Interactions;
    use crate::models::ranking::RankingParams;

    /// The reasons given for a recommendation are the movies the user liked (at or above
    /// their own mean score) that the model finds most like it, most alike first; a movie
    /// they disliked is never one, even when it is the most alike of all they rated.
    #[test]
    fn reasons_are_movies_the_user_liked() {
        use crate::models::rating::Algorithm;
        let data = crate::data::synthetic::generate(
            &crate::data::synthetic::SyntheticConfig { seed: 4, scale: 0.03, ..Default::default() },
            RatingScale::SEED,
        )
        .unwrap();
        let t = Trainset::new(&data.ratings);
        let x = Interactions::new(&t);
        let rating = RatingModel::fit(&Algorithm::default_of("baseline_only").unwrap(), &t, 1).unwrap();
        let ranking = RankingParams { kind: Kind::Ease, ..Default::default() }.fit(&t, 1).unwrap();
        let rec = Recommender { rating, ranking, reorder: Reorder::default() };
        let items: Vec<usize> = (0..t.n_items()).step_by(7).collect();
        let similar: Vec<Vec<(u32, f64)>> = items.iter().map(|&i| rec.similar(i, t.n_items())).collect();
        let mut a_disliked_movie_was_closest = 0;
        for u in (0..x.n_users()).step_by(5) {
            let history: Vec<(u32, f64)> = x.user(u).collect();
            let liked = liked_from(&history).unwrap();
            let score = |j: u32| history.iter().find(|r| r.0 == j).map(|r| r.1);
            for (&i, alike) in items.iter().zip(&similar) {
                let reasons = rec.because(i, &history, 3);
                assert!(reasons.len() <= 3);
                assert!(
                    reasons.iter().all(|&(j, sim, s)| s >= liked && sim > 0.0 && score(j) == Some(s)),
                    "{reasons:?}"
                );
                assert!(reasons.windows(2).all(|w| w[0].1 >= w[1].1));
                let first_liked = alike.iter().find(|&&(j, sim)| sim > 0.0 && score(j).is_some_and(|s| s >= liked));
                assert_eq!(reasons.first().map(|r| r.0), first_liked.map(|r| r.0), "user {u}, movie {i}");
                let closest_rated = alike.iter().find(|&&(j, _)| score(j).is_some());
                if closest_rated.is_some_and(|&(j, _)| score(j).unwrap() < liked) {
                    a_disliked_movie_was_closest += 1;
                }
            }
        }
        assert!(a_disliked_movie_was_closest > 10, "{a_disliked_movie_was_closest}: the test would show nothing");
        assert_eq!(liked_from(&[]), None);
        assert!(rec.because(0, &[], 3).is_empty() && rec.because(0, &[(1, 50.0)], 0).is_empty());
    }

    /// A blend orders the best `rerank` by the ranking's z-score plus the weight times the
    /// relevance's z-score: 0 keeps the ranking's order; a large weight gives the order by
    /// relevance; in between, the definition, computed by hand.
    #[test]
    fn a_blend_weighs_the_ranking_and_the_relevance() {
        let top = [(7, 3.0, 10.0), (4, 2.0, 90.0), (9, 1.0, 40.0), (2, 0.0, 60.0)];
        let order = |blend: Option<f64>| -> Vec<u32> {
            reordered(&top, None, Reorder { rerank: 4, blend, ..Reorder::default() }, 4)
                .iter()
                .map(|r| r.movie)
                .collect()
        };
        assert_eq!(order(Some(0.0)), [7, 4, 9, 2], "weight 0: the ranking's order");
        assert_eq!(order(None), [4, 2, 9, 7], "no blend: by relevance alone");
        assert_eq!(order(Some(1e6)), order(None));
        // z-scores: the ranking's (3, 2, 1, 0) are (1.342, 0.447, -0.447, -1.342); the
        // relevance's (10, 90, 40, 60) are (-1.435, 1.375, -0.380, 0.439). At weight 1:
        // -0.093, 1.822, -0.827, -0.903.
        assert_eq!(order(Some(1.0)), [4, 7, 9, 2]);
        assert_eq!(z_scores([5.0, 5.0].into_iter()), [0.0, 0.0]);
        // Relevance is shown, whatever the order, and the list is cut to n.
        let two = reordered(&top, None, Reorder { rerank: 4, blend: Some(1.0), ..Reorder::default() }, 2);
        assert_eq!(two, [Recommendation { movie: 4, relevance: 90.0 }, Recommendation { movie: 7, relevance: 10.0 }]);
    }

    /// With `demote_dislikes`, the movies predicted below the user's own mean go after the
    /// others, each part in the order it had; without a mean (no rating) nothing moves.
    #[test]
    fn predicted_dislikes_go_last() {
        let top = [(7, 3.0, 10.0), (4, 2.0, 90.0), (9, 1.0, 40.0), (2, 0.0, 60.0), (5, -1.0, 50.0)];
        let order = |blend: Option<f64>, liked: Option<f64>, n: usize| -> Vec<u32> {
            let reorder = Reorder { rerank: 5, blend, demote_dislikes: true };
            reordered(&top, liked, reorder, n).iter().map(|r| r.movie).collect()
        };
        assert_eq!(order(Some(0.0), Some(50.0), 5), [4, 2, 5, 7, 9], "the ranking's order, 10 and 40 last");
        assert_eq!(order(Some(0.0), Some(50.0), 3), [4, 2, 5]);
        assert_eq!(order(None, Some(50.0), 5), [4, 2, 5, 9, 7], "by relevance: already last");
        assert_eq!(order(Some(0.0), Some(95.0), 5), [7, 4, 9, 2, 5], "all disliked: the order stays");
        assert_eq!(order(Some(0.0), None, 5), [7, 4, 9, 2, 5], "no mean: nothing moves");
        let kept = reordered(&top, Some(50.0), Reorder { rerank: 5, blend: Some(0.0), demote_dislikes: false }, 5);
        assert_eq!(kept.iter().map(|r| r.movie).collect::<Vec<_>>(), [7, 4, 9, 2, 5]);
    }

    /// Every user's list at once is each user's list by its definition: the best unseen by
    /// the ranking's own scores (or the predicted relevance), re-ordered by relevance where
    /// asked, ties to the lower id; for SVD in both precisions, implicit ALS, EASE, popularity.
    #[test]
    fn all_users_lists_are_each_users_list_by_definition() {
        use crate::models::rating::svd::{SvdParams, TrainMode};
        let data = crate::data::synthetic::generate(
            &crate::data::synthetic::SyntheticConfig { seed: 4, scale: 0.03, ..Default::default() },
            RatingScale::SEED,
        )
        .unwrap();
        let t = Trainset::new(&data.ratings);
        let x = Interactions::new(&t);
        let history: Vec<Vec<(u32, f64)>> = (0..x.n_users()).map(|u| x.user(u).collect()).collect();
        let seen: Vec<Vec<u32>> = history.iter().map(|h| h.iter().map(|r| r.0).collect()).collect();
        let users: Vec<usize> = (0..x.n_users()).rev().step_by(3).collect();
        let svd = SvdParams { n_factors: 20, n_epochs: 3, ..SvdParams::default() }.check().unwrap();
        let ranking = RankingParams {
            ials: crate::models::ranking::ials::IalsParams { factors: 8, iterations: 2, ..Default::default() },
            ..Default::default()
        };
        for mode in [TrainMode::Fast, TrainMode::Surprise] {
            let rating = RatingModel::from(svd.fit(mode, 1, &t, |_| {}).unwrap());
            for kind in Kind::ALL {
                for rerank in [0, 12] {
                    let rec = Recommender {
                        rating: rating.clone(),
                        ranking: ranking.fit_kind(kind, &t, 1).unwrap(),
                        reorder: Reorder { rerank, ..Reorder::default() },
                    };
                    let all = rec.recommend_all(&users, &|u| &history[u], &|u| &seen[u], 8);
                    for (&u, list) in users.iter().zip(&all) {
                        let relevance = |i: u32| rec.rating.estimate(Some(u), Some(i as usize)).est;
                        let expected: Vec<u32> = match rec.ranking.top_n() {
                            None => top_unseen(x.n_items(), &seen[u], 8, relevance).into_iter().map(|r| r.0).collect(),
                            Some(m) => {
                                let mut scores = vec![0.0; x.n_items()];
                                m.scores(Some(u), &history[u], &mut scores);
                                let depth = if rerank > 0 { rerank.max(8) } else { 8 };
                                let mut l = top_unseen(x.n_items(), &seen[u], depth, |i| scores[i as usize]);
                                if rerank > 0 {
                                    l.sort_by(|a, b| relevance(b.0).total_cmp(&relevance(a.0)));
                                    l.truncate(8);
                                }
                                l.into_iter().map(|r| r.0).collect()
                            }
                        };
                        let got: Vec<u32> = list.iter().map(|r| r.movie).collect();
                        assert_eq!(got, expected, "{mode:?}, {kind}, rerank {rerank}, user {u}");
                        assert!(list.iter().all(|r| r.relevance == relevance(r.movie)));
                        // One user alone gets the same list.
                        let alone = rec.recommend(User { id: Some(u), history: &history[u] }, &seen[u], 8);
                        assert_eq!(&alone, list, "{mode:?}, {kind}, rerank {rerank}, user {u} alone");
                    }
                    // One ranking's lists, deeper than any asks, re-ordered for each `rerank`
                    // and `n`: each the lists computed for that `rerank` alone.
                    if let Some(m) = rec.ranking.top_n() {
                        let ranked = m.rank_all(&users, &|u| &history[u], &|u| &seen[u], 30);
                        for (other, n) in [(0, 8), (0, 3), (12, 8), (5, 8), (20, 4)] {
                            for (blend, demote_dislikes) in [(None, false), (Some(0.5), true)] {
                                let reorder = Reorder { rerank: other, blend, demote_dislikes };
                                let alone = Recommender { reorder, ..rec.clone() };
                                let expected = alone.recommend_all(&users, &|u| &history[u], &|u| &seen[u], n);
                                let got = from_ranked(&rec.rating, &users, &|u| &history[u], &ranked, reorder, n);
                                assert_eq!(got, expected, "{mode:?}, {kind}, {reorder:?} from one ranking, n {n}");
                                // And one user alone, as the API asks.
                                let u = users[0];
                                let one = alone.recommend(User { id: Some(u), history: &history[u] }, &seen[u], n);
                                assert_eq!(one, expected[0], "{mode:?}, {kind}, {reorder:?}, user {u} alone");
                            }
                        }
                    }
                }
            }
        }
    }
}
