//! Surprise's `Trainset`: a rating list seen user by user, with the global mean.

use crate::data::dataset::RatingList;
use crate::numpy;

/// A training set as Surprise builds it from a list of ratings: inner ids are the list's
/// first-appearance indices, `all_ratings()` visits users in index order and each user's
/// ratings in list order, and the global mean is numpy's pairwise mean in that order.
#[derive(Clone, Debug)]
pub struct Trainset<'a> {
    list: &'a RatingList,
    /// Row indices of the list, user-major.
    order: Vec<u32>,
    /// `order[user_start[u]..user_start[u + 1]]` are user `u`'s rows.
    user_start: Vec<usize>,
    global_mean: f64,
}

impl<'a> Trainset<'a> {
    /// The training set of `list`.
    ///
    /// # Panics
    /// If `list` is empty.
    pub fn new(list: &'a RatingList) -> Trainset<'a> {
        assert!(!list.is_empty(), "an empty training set");
        let (order, user_start) = list.rows_by_user();
        let scores: Vec<f64> = order.iter().map(|&r| list.score()[r as usize]).collect();
        let global_mean = numpy::mean(&scores);
        Trainset { list, order, user_start, global_mean }
    }

    /// The underlying list.
    pub fn list(&self) -> &'a RatingList {
        self.list
    }

    /// Number of users.
    pub fn n_users(&self) -> usize {
        self.list.users().len()
    }

    /// Number of movies (Surprise's items).
    pub fn n_items(&self) -> usize {
        self.list.movies().len()
    }

    /// Number of ratings.
    pub fn n_ratings(&self) -> usize {
        self.list.len()
    }

    /// numpy's mean of all scores in `all_ratings` order.
    pub fn global_mean(&self) -> f64 {
        self.global_mean
    }

    /// `(user, item, score)` of every rating, user-major, as Surprise's `all_ratings()`.
    pub fn all_ratings(&self) -> impl Iterator<Item = (usize, usize, f64)> + '_ {
        self.order.iter().map(|&r| {
            let r = r as usize;
            (self.list.user()[r].get(), self.list.movie()[r].get(), self.list.score()[r])
        })
    }

    /// The list rows of user `u`, in list order.
    pub fn user_rows(&self, u: usize) -> &[u32] {
        &self.order[self.user_start[u]..self.user_start[u + 1]]
    }

    /// For each item, its `(user, score)` pairs in list order: Surprise's `ir`.
    pub fn item_ratings(&self) -> Vec<Vec<(u32, f64)>> {
        let mut ir: Vec<Vec<(u32, f64)>> = vec![Vec::new(); self.n_items()];
        for r in 0..self.list.len() {
            ir[self.list.movie()[r].get()].push((self.list.user()[r].0, self.list.score()[r]));
        }
        ir
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::scale::RatingScale;

    #[test]
    fn all_ratings_is_user_major_in_list_order() {
        let mut l = RatingList::new(RatingScale::SEED);
        for (u, m, s) in [("b", "x", 1.0), ("a", "y", 2.0), ("b", "y", 3.0), ("a", "x", 4.0)] {
            l.push(u, m, s);
        }
        let t = Trainset::new(&l);
        assert_eq!(t.all_ratings().collect::<Vec<_>>(), [(0, 0, 1.0), (0, 1, 3.0), (1, 1, 2.0), (1, 0, 4.0)]);
        assert_eq!(t.global_mean(), 2.5);
        assert_eq!(t.user_rows(1), [1, 3]);
        assert_eq!(t.item_ratings()[0], [(0, 1.0), (1, 4.0)]);
    }
}
