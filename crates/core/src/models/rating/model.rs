//! The rating model: what predicts the relevance score a user would give a movie, the score
//! every recommendation shows. Any of Surprise's algorithms ([`Algorithm`], SVD among them)
//! behind one interface: predict for known ids, fold in a new user, and the movies' likeness
//! where the algorithm learns one.

use std::sync::Arc;

use crate::data::ids::IdMap;
use crate::data::scale::RatingScale;
use crate::data::trainset::Trainset;
use crate::models::base::FitError;
use crate::models::base::predictor::Prediction;
use crate::models::base::predictor::Predictor;
use crate::models::rating::Algorithm;
use crate::models::rating::svd::{Epoch, SvdModel, TrainMode};

/// A fitted rating model, indexed by its training set's inner ids.
#[derive(Clone, Debug)]
pub struct RatingModel {
    /// The algorithm and the parameters it was fitted with.
    pub algorithm: Algorithm,
    /// Raw user ids by inner id.
    pub users: IdMap,
    /// Raw movie ids by inner id.
    pub items: IdMap,
    /// The fitted model.
    pub model: Arc<dyn Predictor>,
}

impl PartialEq for RatingModel {
    /// The same algorithm, parameters, ids and fitted values (compared as the model file
    /// stores them).
    fn eq(&self, other: &RatingModel) -> bool {
        let fitted = |m: &RatingModel| {
            (m.name(), m.params(), m.mode(), m.global_mean().to_bits(), m.scale(), m.algorithm.save(m.model.as_ref()))
        };
        self.users == other.users && self.items == other.items && fitted(self) == fitted(other)
    }
}

/// A user the model was not fitted on, folded in from their ratings.
#[derive(Clone, Debug, PartialEq)]
pub struct NewUser {
    /// Every movie's predicted relevance, clipped to the scale (inner movie id order).
    pub relevance: Vec<f64>,
    /// The user's bias, for the algorithms that fit one.
    pub bias: Option<f64>,
}

impl RatingModel {
    /// Fits `algorithm` on `t`, with `threads` threads for the parts that run in parallel
    /// ([`Algorithm::fit`]).
    ///
    /// # Errors
    /// The algorithm's [`FitError`].
    pub fn fit(algorithm: &Algorithm, t: &Trainset<'_>, threads: usize) -> Result<RatingModel, FitError> {
        Ok(RatingModel::of(algorithm, t, algorithm.fit(t, threads)?))
    }

    /// [`RatingModel::fit`], calling `on_epoch` as each epoch ends with what it reports and
    /// a way to build the model as it is then ([`Algorithm::fit_by_epoch`]).
    ///
    /// # Errors
    /// The algorithm's [`FitError`].
    pub fn fit_by_epoch(
        algorithm: &Algorithm,
        t: &Trainset<'_>,
        threads: usize,
        mut on_epoch: impl FnMut(Epoch, &dyn Fn() -> RatingModel),
    ) -> Result<RatingModel, FitError> {
        let fitted = algorithm
            .fit_by_epoch(t, threads, |epoch, model| on_epoch(epoch, &|| RatingModel::of(algorithm, t, model())))?;
        Ok(RatingModel::of(algorithm, t, fitted))
    }

    /// `model`, fitted by `algorithm` on `t`.
    fn of(algorithm: &Algorithm, t: &Trainset<'_>, model: Box<dyn Predictor>) -> RatingModel {
        RatingModel {
            algorithm: algorithm.clone(),
            users: t.list().users().clone(),
            items: t.list().movies().clone(),
            model: Arc::from(model),
        }
    }

    /// The `n` movies with the highest predicted relevance of each of `users` (inner ids),
    /// not in `seen(u)`, best first, ties to the lower inner id, all at once as blocked
    /// matrix products; `None` where the model does not score in blocks (then the movies
    /// are scored one by one, as [`RatingModel::estimate`] predicts them).
    pub fn top_unseen_all<'s>(
        &self,
        users: &[usize],
        seen: &(dyn Fn(usize) -> &'s [u32] + Sync),
        n: usize,
    ) -> Option<Vec<Vec<(u32, f64)>>> {
        self.model.top_unseen_all(users, seen, n)
    }

    /// The algorithm's name, as `params.yaml` spells it.
    pub fn name(&self) -> &'static str {
        self.algorithm.name()
    }

    /// The training mode, for the algorithms that have two (SVD, SVD++).
    pub fn mode(&self) -> Option<TrainMode> {
        self.model.mode().or_else(|| self.algorithm.mode())
    }

    /// The parameters under Surprise's names (SVD's with every override resolved), for
    /// reports and the API.
    pub fn params(&self) -> serde_json::Value {
        self.model.params().unwrap_or_else(|| self.algorithm.params())
    }

    /// The fitted SVD, if it is one.
    pub fn as_svd(&self) -> Option<&SvdModel> {
        self.model.as_any().downcast_ref()
    }

    /// The fitted model.
    pub fn predictor(&self) -> &dyn Predictor {
        self.model.as_ref()
    }

    /// Raw user ids by inner id.
    pub fn users(&self) -> &IdMap {
        &self.users
    }

    /// Raw movie ids by inner id.
    pub fn items(&self) -> &IdMap {
        &self.items
    }

    /// Movies the model was fitted on.
    pub fn n_items(&self) -> usize {
        self.items().len()
    }

    /// The rating scale predictions are clipped to.
    pub fn scale(&self) -> RatingScale {
        self.predictor().scale()
    }

    /// The training set's mean score.
    pub fn global_mean(&self) -> f64 {
        self.predictor().global_mean()
    }

    /// Surprise's `predict` for inner ids (`None`: unknown).
    pub fn estimate(&self, u: Option<usize>, i: Option<usize>) -> Prediction {
        self.predictor().predict(u, i)
    }

    /// Surprise's `predict` for raw ids.
    pub fn predict(&self, user: &str, movie: &str) -> Prediction {
        let u = self.users().get(user).map(|u| u as usize);
        self.estimate(u, self.items().get(movie).map(|i| i as usize))
    }

    /// Folds in a user the model was not fitted on from their ratings (inner movie id,
    /// score; sorted by movie, each once), without refitting ([`Predictor::fold_in`]).
    pub fn fold_in(&self, history: &[(u32, f64)]) -> NewUser {
        let p = self.predictor();
        let folded = p.fold_in(history, self.n_items());
        let (scale, mean) = (p.scale(), p.global_mean());
        NewUser {
            relevance: folded.estimates.into_iter().map(|e| scale.clip(e.unwrap_or(mean))).collect(),
            bias: folded.bias,
        }
    }

    /// The `n` movies most like movie `i` by what the model learnt, most similar first
    /// (ties to the lower inner id), or `None` when it learns nothing about movies' likeness.
    pub fn similar(&self, i: usize, n: usize) -> Option<Vec<(u32, f64)>> {
        let sims = self.predictor().item_similarities(i, self.n_items())?;
        Some(crate::models::base::select::top_unseen(self.n_items(), &[i as u32], n, |j| sims[j as usize]))
    }
}

impl From<SvdModel> for RatingModel {
    /// A fitted SVD, its parameters those it was fitted with, every override set.
    fn from(m: SvdModel) -> RatingModel {
        RatingModel {
            algorithm: Algorithm::Svd(m.svd.params(m.mode)),
            users: m.users.clone(),
            items: m.items.clone(),
            model: Arc::new(m),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::scale::RatingScale;
    use crate::data::synthetic::{SyntheticConfig, generate};

    /// Folding in a fitted user's own ratings ranks their unseen movies much as the fitted
    /// user's estimates do, for every algorithm that learns something per user.
    #[test]
    fn folding_in_a_fitted_users_ratings_ranks_as_the_fitted_user() {
        let c = SyntheticConfig { seed: 5, scale: 0.03, ..SyntheticConfig::default() };
        let data = generate(&c, RatingScale::SEED).unwrap();
        let t = Trainset::new(&data.ratings);
        let u = (0..t.n_users()).max_by_key(|&u| t.user_rows(u).len()).unwrap();
        let mut history: Vec<(u32, f64)> = t
            .user_rows(u)
            .iter()
            .map(|&r| (data.ratings.movie()[r as usize].0, data.ratings.score()[r as usize]))
            .collect();
        crate::models::base::keep_last_per_movie(&mut history);
        let seen: Vec<u32> = history.iter().map(|h| h.0).collect();
        for name in [
            "knn_basic",
            "knn_with_means",
            "knn_with_zscore",
            "knn_baseline",
            "svdpp",
            "nmf",
            "slope_one",
            "co_clustering",
        ] {
            for user_based in [false, true] {
                if user_based && !name.starts_with("knn") {
                    continue;
                }
                let mut spec = serde_json::json!({"algorithm": name});
                if user_based {
                    spec["sim_options"] = serde_json::json!({"name": "pearson_baseline", "user_based": true});
                }
                let algorithm: Algorithm = serde_json::from_value(spec).unwrap();
                let m = RatingModel::fit(&algorithm, &t, 1).unwrap();
                let new = m.fold_in(&history);
                let fitted = crate::models::base::select::top_unseen(m.n_items(), &seen, 10, |i| {
                    m.estimate(Some(u), Some(i as usize)).est
                });
                let folded =
                    crate::models::base::select::top_unseen(m.n_items(), &seen, 10, |i| new.relevance[i as usize]);
                let common = fitted.iter().filter(|(i, _)| folded.iter().any(|(j, _)| i == j)).count();
                if name == "slope_one" {
                    // A fitted user's estimates are their ratings' alone: the same numbers.
                    for i in 0..m.n_items() {
                        let e = m.estimate(Some(u), Some(i)).est;
                        assert!((new.relevance[i] - e).abs() < 1e-9, "{name}: movie {i}: {} vs {e}", new.relevance[i]);
                    }
                }
                // Item-based k-NN differs from the fitted user only in the order of equally
                // similar neighbours; the others fit the user with the rest of the data.
                let need = if name.starts_with("knn") && !user_based { 8 } else { 5 };
                assert!(common >= need, "{name} user_based {user_based}: {fitted:?} vs {folded:?}");
            }
        }
    }

    #[test]
    fn the_similar_movies_of_an_item_based_knn_are_its_similarities() {
        let c = SyntheticConfig { seed: 2, scale: 0.02, ..SyntheticConfig::default() };
        let data = generate(&c, RatingScale::SEED).unwrap();
        let t = Trainset::new(&data.ratings);
        let item_based: Algorithm =
            serde_json::from_value(serde_json::json!({"algorithm": "knn_basic", "sim_options": {"user_based": false}}))
                .unwrap();
        let m = RatingModel::fit(&item_based, &t, 1).unwrap();
        let knn = m.model.as_any().downcast_ref::<crate::models::rating::knn::Knn>().unwrap();
        let s = m.similar(3, 5).unwrap();
        assert_eq!(s.len(), 5);
        assert!(s.iter().all(|&(j, sim)| j != 3 && sim == knn.sim.get(3, j as usize)));
        assert!(s.windows(2).all(|w| w[0].1 >= w[1].1));
        let user_based: Algorithm =
            serde_json::from_value(serde_json::json!({"algorithm": "knn_basic", "sim_options": {"user_based": true}}))
                .unwrap();
        assert!(RatingModel::fit(&user_based, &t, 1).unwrap().similar(3, 5).is_none());
        assert!(RatingModel::fit(&Algorithm::default_of("slope_one").unwrap(), &t, 1).unwrap().similar(3, 5).is_none());
    }

    /// Two rating models are equal when their algorithm, ids and fitted values are: SVD's as
    /// much as another algorithm's, whatever path built them.
    #[test]
    fn rating_models_are_equal_by_what_they_fitted() {
        use crate::models::rating::svd::SvdParams;
        let c = SyntheticConfig { seed: 3, scale: 0.01, ..SyntheticConfig::default() };
        let data = generate(&c, RatingScale::SEED).unwrap();
        let t = Trainset::new(&data.ratings);
        let p = SvdParams { n_factors: 4, n_epochs: 2, ..SvdParams::default() };
        let fitted = RatingModel::fit(&Algorithm::Svd(p), &t, 1).unwrap();
        let from_model = RatingModel::from(p.check().unwrap().fit_surprise(&t, |_| {}).unwrap());
        assert_eq!(fitted, from_model, "the registry's fit and SVD's own");
        let other_seed = RatingModel::fit(&Algorithm::Svd(SvdParams { seed: 1, ..p }), &t, 1).unwrap();
        assert_ne!(fitted, other_seed);
        let knn = RatingModel::fit(&Algorithm::default_of("knn_basic").unwrap(), &t, 1).unwrap();
        assert_eq!(knn, RatingModel::fit(&Algorithm::default_of("knn_basic").unwrap(), &t, 1).unwrap());
        assert_ne!(knn, fitted);
        assert_eq!(fitted.name(), Algorithm::SVD);
        assert_eq!(fitted.mode(), Some(TrainMode::Surprise));
        assert!(fitted.as_svd().is_some() && knn.as_svd().is_none());
    }
}
