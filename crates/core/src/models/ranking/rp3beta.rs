//! RP3beta, Paudel, Christoffel, Newell and Bernstein, "Updatable, Accurate, Diverse, and
//! Scalable Recommendations for Interactive Applications" (ACM TiiS 2017): a random walk of
//! three steps on the graph of who rated what, movie → user → movie, its weights sharpened
//! by `α` and the arrival's popularity discounted by `β`.
//!
//! With `X` binary (who rated what), a user of movie `i` is reached from `i` with
//! probability `1/|i|` (its number of ratings) and a movie `j` from a user `u` with
//! probability `1/|u|`; each raised to the power `α`, the weight of `i → j` is
//! `Wᵢⱼ = Σᵤ (1/|i|)^α (1/|u|)^α / |j|^β` over the users who rated both, and `Wᵢᵢ = 0`. A user's
//! score of `j` is `Σᵢ Wᵢⱼ` over the movies they rated: like EASE, a new user needs no fit.
//! It fits in one pass over the ratings, no solve: a cheap graph baseline beside EASE.
//!
//! Each row of `W` is one task summed in a fixed order, so the model does not depend on the
//! number of threads. It needs `items²` memory: [`Rp3betaParams::max_items`] refuses large
//! catalogues, as EASE's does.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::trainset::Trainset;
use crate::models::base::item_item;
use crate::models::base::{Fit, FitError, Interactions, TopN, check, install};

/// RP3beta's parameters.
///
/// | Name | Default | Purpose |
/// |---|---|---|
/// | `alpha` | 1 | the power of each step's probability (above 0): above 1 sharpens, below 1 flattens |
/// | `beta` | 0.5 | the power of the arrival's popularity that divides its weight (0 or more): 0 is P³α, higher favours the less rated |
/// | `max_items` | 20000 | movies above which fitting is refused (memory `4·items²` bytes) |
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rp3betaParams {
    /// The power of each step's probability.
    pub alpha: f64,
    /// The power of the arrival's popularity.
    pub beta: f64,
    /// The largest catalogue fitted.
    pub max_items: usize,
}

impl Default for Rp3betaParams {
    fn default() -> Rp3betaParams {
        Rp3betaParams { alpha: 1.0, beta: 0.5, max_items: 20_000 }
    }
}

/// A fitted RP3beta.
#[derive(Clone, Debug, PartialEq)]
pub struct Rp3beta {
    /// The parameters it was fitted with (kept in the model file).
    pub params: Rp3betaParams,
    /// Movies.
    pub n_items: usize,
    /// `W`, row-major `n_items × n_items`: `w[i·n + j]` is what having rated `i` adds to `j`.
    pub w: Vec<f32>,
}

impl Fit for Rp3betaParams {
    type Model = Rp3beta;

    fn check(&self, n: usize) -> Result<(), FitError> {
        check("rp3beta.alpha", self.alpha, self.alpha > 0.0, "a number above 0")?;
        check("rp3beta.beta", self.beta, self.beta >= 0.0, "a number of 0 or more")?;
        if n > self.max_items {
            let gib = (n * n * 4) as f64 / f64::from(1u32 << 30);
            return Err(FitError::TooManyItems { kind: "rp3beta", n, max: self.max_items, gib });
        }
        Ok(())
    }

    fn fit(&self, t: &Trainset<'_>, threads: usize) -> Result<Rp3beta, FitError> {
        self.check(t.n_items())?;
        let n = t.n_items();
        let x = Interactions::new(t);
        let step = |count: usize| if count == 0 { 0.0 } else { (1.0 / count as f64).powf(self.alpha) };
        let to_user: Vec<f64> = (0..n).map(|i| step(x.item(i).len())).collect();
        let to_item: Vec<f64> = (0..x.n_users()).map(|u| step(x.user(u).len())).collect();
        let discount: Vec<f64> =
            (0..n).map(|j| x.item(j).len() as f64).map(|c| if c > 0.0 { c.powf(-self.beta) } else { 0.0 }).collect();
        install(threads, || {
            let mut w = vec![0.0f32; n * n];
            w.par_chunks_mut(n.max(1)).enumerate().for_each(|(i, row)| {
                let mut sum = vec![0.0f64; n];
                for (u, _) in x.item(i) {
                    let p = to_user[i] * to_item[u as usize];
                    for (j, _) in x.user(u as usize) {
                        sum[j as usize] += p;
                    }
                }
                sum[i] = 0.0;
                for ((o, s), d) in row.iter_mut().zip(&sum).zip(&discount) {
                    *o = (s * d) as f32;
                }
            });
            Ok(Rp3beta { params: *self, n_items: n, w })
        })
    }
}

impl TopN for Rp3beta {
    fn n_items(&self) -> usize {
        self.n_items
    }

    fn scores(&self, _user: Option<usize>, history: &[(u32, f64)], out: &mut [f64]) {
        item_item::scores(&self.w, self.n_items, history, |_| 1.0, out);
    }

    fn similar(&self, i: usize, n: usize) -> Option<Vec<(u32, f64)>> {
        Some(item_item::similar(&self.w, self.n_items, i, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ranking::tests::list;

    /// Each weight is the walk's definition, computed by hand from the ratings: for x → y
    /// with α 1 and β 0.5, the users of x who rated y are a (3 movies), b (2) and d (3), x has
    /// 4 users and y 4, so W = (1/4)(1/3 + 1/2 + 1/3) / 4^0.5.
    #[test]
    fn the_weights_are_the_walks() {
        let l = list();
        let t = Trainset::new(&l);
        let m = Rp3betaParams::default().fit(&t, 1).unwrap();
        let id = |s: &str| l.movies().get(s).unwrap() as usize;
        let (x, y, z, w) = (id("x"), id("y"), id("z"), id("w"));
        let n = m.n_items;
        let at = |i: usize, j: usize| f64::from(m.w[i * n + j]);
        let expected = 0.25 * (1.0 / 3.0 + 0.5 + 1.0 / 3.0) / 2.0;
        assert!((at(x, y) - expected).abs() < 1e-6, "{} vs {expected}", at(x, y));
        assert!((0..n).all(|i| at(i, i) == 0.0));
        // Only a (3 movies) rated both x and z; z has 3 users.
        assert!((at(x, z) - 0.25 * (1.0 / 3.0) / 3f64.sqrt()).abs() < 1e-6);
        // α sharpens: at 2, each step's probability is squared.
        let sharp = Rp3betaParams { alpha: 2.0, beta: 0.0, ..Rp3betaParams::default() }.fit(&t, 1).unwrap();
        let exp = 0.0625 * (1.0 / 9.0 + 0.25 + 1.0 / 9.0);
        assert!((f64::from(sharp.w[x * n + y]) - exp).abs() < 1e-6);
        // A new user who rated x: y (the walk's most likely arrival) comes first; w, seen
        // with x once, is behind it.
        let top = m.rank(None, &[(x as u32, 50.0)], &[x as u32], 3);
        assert_eq!(top[0].0 as usize, y);
        assert!(top.iter().position(|r| r.0 as usize == w) > Some(0));
        assert_eq!(m.similar(x, 1).unwrap()[0].0 as usize, y);
    }

    #[test]
    fn the_same_model_on_any_number_of_threads_and_bad_parameters_named() {
        let l = list();
        let t = Trainset::new(&l);
        assert_eq!(Rp3betaParams::default().fit(&t, 1).unwrap(), Rp3betaParams::default().fit(&t, 3).unwrap());
        let e = Rp3betaParams { alpha: 0.0, ..Rp3betaParams::default() }.fit(&t, 1).unwrap_err();
        assert_eq!(e.to_string(), "invalid rp3beta.alpha 0: expected a number above 0");
        let e = Rp3betaParams { beta: -0.5, ..Rp3betaParams::default() }.fit(&t, 1).unwrap_err();
        assert_eq!(e.to_string(), "invalid rp3beta.beta -0.5: expected a number of 0 or more");
        let e = Rp3betaParams { max_items: 3, ..Rp3betaParams::default() }.fit(&t, 1).unwrap_err();
        assert!(matches!(e, FitError::TooManyItems { kind: "rp3beta", n: 4, max: 3, .. }));
        assert!(e.to_string().starts_with("rp3beta needs a 4 × 4 matrix"), "{e}");
    }
}
