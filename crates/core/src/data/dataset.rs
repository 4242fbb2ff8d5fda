//! The canonical in-memory dataset: Surprise's list of ratings plus the optional attributes
//! of ratings, users and movies.

use crate::data::columns::{Kind, Owner, Role};
use crate::data::ids::{IdMap, MovieIdx, UserIdx};
use crate::data::scale::RatingScale;

/// An ordered list of `(user, movie, score)` ratings, as Surprise's raw ratings list, with
/// users and movies given dense indices in order of first appearance.
///
/// Row order is part of the data: Surprise's inner ids, its SGD visiting order and its
/// splits all follow it, so nothing here sorts or groups the rows.
#[derive(Clone, Debug)]
pub struct RatingList {
    scale: RatingScale,
    users: IdMap,
    movies: IdMap,
    user: Vec<UserIdx>,
    movie: Vec<MovieIdx>,
    score: Vec<f64>,
}

impl RatingList {
    /// An empty list on `scale`.
    pub fn new(scale: RatingScale) -> RatingList {
        RatingList {
            scale,
            users: IdMap::new(),
            movies: IdMap::new(),
            user: Vec::new(),
            movie: Vec::new(),
            score: Vec::new(),
        }
    }

    /// Appends a rating, giving new ids the next free index.
    pub fn push(&mut self, user: &str, movie: &str, score: f64) -> (UserIdx, MovieIdx) {
        let u = UserIdx(self.users.intern(user));
        let m = MovieIdx(self.movies.intern(movie));
        self.push_indexed(u, m, score);
        (u, m)
    }

    /// Appends a rating of already-known indices.
    ///
    /// # Panics
    /// If an index is not in the id maps.
    pub fn push_indexed(&mut self, u: UserIdx, m: MovieIdx, score: f64) {
        assert!(u.get() < self.users.len() && m.get() < self.movies.len());
        self.user.push(u);
        self.movie.push(m);
        self.score.push(score);
    }

    /// The id maps, for readers that intern ids before validating a whole row.
    pub fn ids_mut(&mut self) -> (&mut IdMap, &mut IdMap) {
        (&mut self.users, &mut self.movies)
    }

    /// The declared rating scale.
    pub fn scale(&self) -> RatingScale {
        self.scale
    }

    /// Users in index order.
    pub fn users(&self) -> &IdMap {
        &self.users
    }

    /// Movies in index order.
    pub fn movies(&self) -> &IdMap {
        &self.movies
    }

    /// The user of each rating.
    pub fn user(&self) -> &[UserIdx] {
        &self.user
    }

    /// The movie of each rating.
    pub fn movie(&self) -> &[MovieIdx] {
        &self.movie
    }

    /// The score of each rating.
    pub fn score(&self) -> &[f64] {
        &self.score
    }

    /// Number of ratings.
    pub fn len(&self) -> usize {
        self.score.len()
    }

    /// Whether the list holds no rating.
    pub fn is_empty(&self) -> bool {
        self.score.is_empty()
    }

    /// The ratings at `rows`, in that order, with ids re-indexed by first appearance in the
    /// new list: what Surprise's `construct_trainset` does with a split's raw ratings.
    pub fn select(&self, rows: &[u32]) -> RatingList {
        let mut out = RatingList::new(self.scale);
        out.user.reserve(rows.len());
        out.movie.reserve(rows.len());
        out.score.reserve(rows.len());
        let mut umap = vec![u32::MAX; self.users.len()];
        let mut mmap = vec![u32::MAX; self.movies.len()];
        for &r in rows {
            let r = r as usize;
            let (u, m) = (self.user[r].get(), self.movie[r].get());
            if umap[u] == u32::MAX {
                umap[u] = out.users.intern(self.users.raw(u as u32));
            }
            if mmap[m] == u32::MAX {
                mmap[m] = out.movies.intern(self.movies.raw(m as u32));
            }
            out.user.push(UserIdx(umap[u]));
            out.movie.push(MovieIdx(mmap[m]));
            out.score.push(self.score[r]);
        }
        out
    }

    /// Keeps the rows where `keep` is true, in order. Ids keep their indices (a user whose
    /// rows are all dropped keeps its index), so attribute tables stay aligned.
    ///
    /// # Panics
    /// If `keep` does not have one flag per rating.
    pub fn retain(&mut self, keep: &[bool]) {
        assert_eq!(keep.len(), self.len());
        retain_by(&mut self.user, keep);
        retain_by(&mut self.movie, keep);
        retain_by(&mut self.score, keep);
    }

    /// Number of ratings of each user, by user index.
    pub fn counts_per_user(&self) -> Vec<u32> {
        let mut c = vec![0u32; self.users.len()];
        for u in &self.user {
            c[u.get()] += 1;
        }
        c
    }

    /// Row indices grouped by user with a counting sort: `order[start[u]..start[u + 1]]` are
    /// user `u`'s rows, in list order.
    pub fn rows_by_user(&self) -> (Vec<u32>, Vec<usize>) {
        let counts = self.counts_per_user();
        let mut start = Vec::with_capacity(counts.len() + 1);
        start.push(0);
        for &c in &counts {
            start.push(start[start.len() - 1] + c as usize);
        }
        let mut next = start.clone();
        let mut order = vec![0u32; self.len()];
        for (r, u) in self.user.iter().enumerate() {
            order[next[u.get()]] = r as u32;
            next[u.get()] += 1;
        }
        (order, start)
    }

    /// Number of ratings of each movie, by movie index.
    pub fn counts_per_movie(&self) -> Vec<u32> {
        let mut c = vec![0u32; self.movies.len()];
        for m in &self.movie {
            c[m.get()] += 1;
        }
        c
    }
}

/// Keeps the elements of `v` whose flag in `keep` is true.
fn retain_by<T>(v: &mut Vec<T>, keep: &[bool]) {
    let mut flags = keep.iter();
    v.retain(|_| *flags.next().expect("one flag per element"));
}

/// The values of one optional column.
#[derive(Clone, Debug, PartialEq)]
pub enum Values {
    /// Text; `None` where missing.
    Text(Vec<Option<String>>),
    /// Decimal numbers; `None` where missing.
    Number(Vec<Option<f64>>),
    /// Whole numbers; `None` where missing.
    Count(Vec<Option<u64>>),
}

/// One parsed optional value.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// Text.
    Text(String),
    /// A decimal number.
    Number(f64),
    /// A whole number.
    Count(u64),
}

impl Values {
    /// An empty column for values of `kind`.
    pub fn new(kind: Kind) -> Values {
        match kind {
            Kind::Text => Values::Text(Vec::new()),
            Kind::Number => Values::Number(Vec::new()),
            Kind::Count => Values::Count(Vec::new()),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        match self {
            Values::Text(v) => v.len(),
            Values::Number(v) => v.len(),
            Values::Count(v) => v.len(),
        }
    }

    /// Whether the column has no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a value (or a missing one).
    ///
    /// # Panics
    /// If the value's kind is not the column's.
    pub fn push(&mut self, v: Option<Value>) {
        match (self, v) {
            (Values::Text(c), None) => c.push(None),
            (Values::Number(c), None) => c.push(None),
            (Values::Count(c), None) => c.push(None),
            (Values::Text(c), Some(Value::Text(x))) => c.push(Some(x)),
            (Values::Number(c), Some(Value::Number(x))) => c.push(Some(x)),
            (Values::Count(c), Some(Value::Count(x))) => c.push(Some(x)),
            _ => panic!("value of the wrong kind"),
        }
    }

    /// Sets entry `i` to `v` if it is missing: the first non-empty value wins.
    ///
    /// # Panics
    /// If the value's kind is not the column's, or `i` is out of range.
    pub fn fill(&mut self, i: usize, v: Value) {
        match (self, v) {
            (Values::Text(c), Value::Text(x)) => {
                c[i].get_or_insert(x);
            }
            (Values::Number(c), Value::Number(x)) => {
                c[i].get_or_insert(x);
            }
            (Values::Count(c), Value::Count(x)) => {
                c[i].get_or_insert(x);
            }
            _ => panic!("value of the wrong kind"),
        }
    }

    /// Whether entry `i` is missing.
    pub fn is_missing(&self, i: usize) -> bool {
        match self {
            Values::Text(c) => c[i].is_none(),
            Values::Number(c) => c[i].is_none(),
            Values::Count(c) => c[i].is_none(),
        }
    }

    /// Keeps the entries where `keep` is true.
    pub fn retain(&mut self, keep: &[bool]) {
        match self {
            Values::Text(c) => retain_by(c, keep),
            Values::Number(c) => retain_by(c, keep),
            Values::Count(c) => retain_by(c, keep),
        }
    }
}

/// The optional columns present for one table (ratings, users or movies), in role order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Attrs {
    columns: Vec<(Role, Values)>,
}

impl Attrs {
    /// Columns for `roles` (each must belong to the same table), all empty.
    pub fn new(roles: impl IntoIterator<Item = Role>) -> Attrs {
        let mut columns: Vec<_> = roles.into_iter().map(|r| (r, Values::new(r.kind()))).collect();
        columns.sort_by_key(|(r, _)| *r);
        Attrs { columns }
    }

    /// The present columns, in role order.
    pub fn columns(&self) -> &[(Role, Values)] {
        &self.columns
    }

    /// The present columns, mutably.
    pub fn columns_mut(&mut self) -> &mut [(Role, Values)] {
        &mut self.columns
    }

    /// The column of `role`, if present.
    pub fn get(&self, role: Role) -> Option<&Values> {
        self.columns.iter().find(|(r, _)| *r == role).map(|(_, v)| v)
    }

    /// Keeps the entries where `keep` is true, in every column.
    pub fn retain(&mut self, keep: &[bool]) {
        for (_, v) in &mut self.columns {
            v.retain(keep);
        }
    }
}

/// Per-rating attributes (MovieLens rating, rating out of 10, raw score), aligned with the
/// rows of a [`RatingList`].
pub type RatingExtras = Attrs;
/// Per-user attributes (name), indexed by [`UserIdx`].
pub type UserAttrs = Attrs;
/// Per-movie attributes (title, directors, actors, description, IMDb), indexed by [`MovieIdx`].
pub type MovieAttrs = Attrs;

/// Everything `load` produces: the ratings and what is known of them, their users and
/// their movies.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// The ratings in source order.
    pub ratings: RatingList,
    /// Optional per-rating columns.
    pub extras: RatingExtras,
    /// Optional per-user columns.
    pub user_attrs: UserAttrs,
    /// Optional per-movie columns.
    pub movie_attrs: MovieAttrs,
}

impl Dataset {
    /// Splits a set of present roles into the attribute tables they belong to.
    pub fn empty(scale: RatingScale, present: impl IntoIterator<Item = Role>) -> Dataset {
        let optional: Vec<Role> = present.into_iter().filter(|r| !r.is_required()).collect();
        let of = |o: Owner| optional.iter().copied().filter(move |r| r.owner() == o);
        Dataset {
            ratings: RatingList::new(scale),
            extras: Attrs::new(of(Owner::Rating)),
            user_attrs: Attrs::new(of(Owner::User)),
            movie_attrs: Attrs::new(of(Owner::Movie)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> RatingList {
        let mut l = RatingList::new(RatingScale::SEED);
        l.push("u1", "m1", 10.0);
        l.push("u2", "m2", 20.0);
        l.push("u1", "m3", 30.0);
        l.push("u3", "m1", 40.0);
        l
    }

    #[test]
    fn select_reindexes_by_first_appearance() {
        let l = list();
        let s = l.select(&[3, 2, 0]);
        assert_eq!(s.users().iter().collect::<Vec<_>>(), ["u3", "u1"]);
        assert_eq!(s.movies().iter().collect::<Vec<_>>(), ["m1", "m3"]);
        assert_eq!(s.user(), [UserIdx(0), UserIdx(1), UserIdx(1)]);
        assert_eq!(s.movie(), [MovieIdx(0), MovieIdx(1), MovieIdx(0)]);
        assert_eq!(s.score(), [40.0, 30.0, 10.0]);
    }

    #[test]
    fn retain_keeps_order_and_indices() {
        let mut l = list();
        l.retain(&[true, false, true, true]);
        assert_eq!(l.score(), [10.0, 30.0, 40.0]);
        assert_eq!(l.users().len(), 3);
        assert_eq!(l.counts_per_user(), [2, 0, 1]);
        assert_eq!(l.counts_per_movie(), [2, 0, 1]);
    }

    #[test]
    fn first_non_empty_value_wins() {
        let mut v = Values::new(Kind::Text);
        v.push(None);
        v.fill(0, Value::Text("a".into()));
        v.fill(0, Value::Text("b".into()));
        assert_eq!(v, Values::Text(vec![Some("a".into())]));
    }
}
