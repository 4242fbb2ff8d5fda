//! Surprise's SVD++ (`SVDpp`, `matrix_factorization.pyx`), reproduced bit for bit: SVD whose
//! user vector adds the implicit feedback of what the user rated,
//! `r̂ᵤᵢ = μ + bᵤ + bᵢ + qᵢ·(pᵤ + |Iᵤ|^-½ Σⱼ∈Iᵤ yⱼ)`, fitted by stochastic gradient
//! descent over the ratings in `all_ratings` order. For each rating, as Surprise:
//!
//! ```text
//! z = Σⱼ yⱼ / √|Iᵤ|        (each term divided, summed in the user's list order)
//! e = r − (μ + bᵤ + bᵢ + qᵢ·(pᵤ + z))
//! bᵤ += lr_bu (e − reg_bu bᵤ)        bᵢ += lr_bi (e − reg_bi bᵢ)
//! pᵤ += lr_pu (e qᵢ − reg_pu pᵤ)     qᵢ += lr_qi (e (pᵤ + z) − reg_qi qᵢ)   (old values)
//! yⱼ += lr_yj (e qᵢ / √|Iᵤ| − reg_yj yⱼ)   for every j in Iᵤ (old qᵢ)
//! ```
//!
//! Two modes, as SVD's:
//!
//! - `surprise` does exactly that, `2 |Iᵤ| n_factors` operations per rating: the same
//!   parameters as scikit-surprise, bit for bit. (Surprise loops over factors outside the
//!   movies of `Iᵤ`; here the movies are outside, so each `yⱼ` row is updated in one pass:
//!   every element still receives the same operations in the same order.)
//! - `fast` (the default) fits the same model with `n_factors` operations per rating: every
//!   `yⱼ` of the user receives the same affine update `yⱼ ← α yⱼ + lr_yj eₜ` (with
//!   `α = 1 − lr_yj reg_yj`), so after `t` of the user's ratings `yⱼ = Aₜ yⱼ⁰ + Cₜ` for all of
//!   them, and `z = Aₜ z⁰ + √|Iᵤ| Cₜ`; the `yⱼ` are written once, after the user's last
//!   rating. Only the rounding differs from the `surprise` mode (a user who rated a movie
//!   twice is fitted the `surprise` way).
//!
//! `pu`, `qi` and `yj` start from `normal(init_mean, init_std_dev)` draws of numpy's
//! generator seeded by `seed`, in that order.

use serde::{Deserialize, Serialize};

use crate::data::scale::RatingScale;
use crate::data::trainset::Trainset;
use crate::models::base::linalg::{cosines, ridge_profile, row_of};
use crate::models::base::predictor::{Folded, Predictor, biased, predictor_fields};
use crate::models::base::{FitError, check, check_count};
use crate::models::rating::svd::TrainMode;
use crate::numpy::RandomState;

/// SVD++'s parameters, with Surprise's names and defaults (`random_state` is `seed`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)] // Surprise's parameters, documented in its `SVDpp`
pub struct SvdppParams {
    pub n_factors: usize,
    pub n_epochs: usize,
    pub init_mean: f64,
    pub init_std_dev: f64,
    pub lr_all: f64,
    pub reg_all: f64,
    pub lr_bu: Option<f64>,
    pub lr_bi: Option<f64>,
    pub lr_pu: Option<f64>,
    pub lr_qi: Option<f64>,
    pub lr_yj: Option<f64>,
    pub reg_bu: Option<f64>,
    pub reg_bi: Option<f64>,
    pub reg_pu: Option<f64>,
    pub reg_qi: Option<f64>,
    pub reg_yj: Option<f64>,
    pub seed: u32,
    /// `surprise` (Surprise's operations, bit for bit) or `fast` (the same model, each user's
    /// implicit factors updated once).
    pub mode: TrainMode,
}

impl Default for SvdppParams {
    fn default() -> SvdppParams {
        SvdppParams {
            n_factors: 20,
            n_epochs: 20,
            init_mean: 0.0,
            init_std_dev: 0.1,
            lr_all: 0.007,
            reg_all: 0.02,
            lr_bu: None,
            lr_bi: None,
            lr_pu: None,
            lr_qi: None,
            lr_yj: None,
            reg_bu: None,
            reg_bi: None,
            reg_pu: None,
            reg_qi: None,
            reg_yj: None,
            seed: 0,
            mode: TrainMode::Fast,
        }
    }
}

/// A fitted SVD++.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Svdpp {
    /// `reg_bu` and `reg_pu`, resolved (folding in a new user uses them).
    pub reg: [f64; 2],
    /// Length of the factor vectors.
    pub n_factors: usize,
    /// The training set's mean.
    pub global_mean: f64,
    /// The clipping scale.
    pub scale: RatingScale,
    /// User biases.
    pub bu: Vec<f64>,
    /// Movie biases.
    pub bi: Vec<f64>,
    /// User factors, row-major.
    pub pu: Vec<f64>,
    /// Movie factors, row-major.
    pub qi: Vec<f64>,
    /// Implicit factors, row-major.
    pub yj: Vec<f64>,
    /// Each user's `pᵤ + (Σⱼ yⱼ) / √|Iᵤ|` as Surprise's `estimate` computes it.
    pub user_vectors: Vec<f64>,
}

impl SvdppParams {
    /// Fits as Surprise's `SVDpp.fit`.
    ///
    /// # Errors
    /// [`FitError::Invalid`] for a parameter out of range, or when training diverged.
    pub fn fit(&self, t: &Trainset<'_>) -> Result<Svdpp, FitError> {
        check_count("n_factors", self.n_factors)?;
        check_count("n_epochs", self.n_epochs)?;
        check("init_std_dev", self.init_std_dev, self.init_std_dev >= 0.0, "0 or more")?;
        check("init_mean", self.init_mean, true, "a finite number")?;
        let lr = |name, v: Option<f64>| {
            let v = v.unwrap_or(self.lr_all);
            check(name, v, v > 0.0, "a learning rate greater than 0").map(|()| v)
        };
        let reg = |name, v: Option<f64>| {
            let v = v.unwrap_or(self.reg_all);
            check(name, v, v >= 0.0, "0 or more").map(|()| v)
        };
        let (lr_bu, lr_bi, lr_pu, lr_qi, lr_yj) = (
            lr("lr_bu", self.lr_bu)?,
            lr("lr_bi", self.lr_bi)?,
            lr("lr_pu", self.lr_pu)?,
            lr("lr_qi", self.lr_qi)?,
            lr("lr_yj", self.lr_yj)?,
        );
        let (reg_bu, reg_bi, reg_pu, reg_qi, reg_yj) = (
            reg("reg_bu", self.reg_bu)?,
            reg("reg_bi", self.reg_bi)?,
            reg("reg_pu", self.reg_pu)?,
            reg("reg_qi", self.reg_qi)?,
            reg("reg_yj", self.reg_yj)?,
        );
        let (n_users, n_items, k) = (t.n_users(), t.n_items(), self.n_factors);
        let mut rng = RandomState::new(self.seed);
        let mut draw = |n: usize| -> Vec<f64> {
            let mut x = vec![0.0; n];
            rng.fill_normal(self.init_mean, self.init_std_dev, &mut x);
            x
        };
        let mut pu = draw(n_users * k);
        let mut qi = draw(n_items * k);
        let mut yj = draw(n_items * k);
        let mut bu = vec![0.0f64; n_users];
        let mut bi = vec![0.0f64; n_items];
        let mu = t.global_mean();
        let ur = t.ur();
        let mut z = vec![0.0f64; k];
        let mut e = vec![0.0f64; k];
        let (mut z0, mut c) = (vec![0.0f64; k], vec![0.0f64; k]);
        let alpha = 1.0 - lr_yj * reg_yj;
        let mut seen = vec![false; n_items];
        for _ in 0..self.n_epochs {
            for u in 0..n_users {
                let (iu, rs) = ur.row(u);
                let sqrt_iu = (iu.len() as f64).sqrt();
                let p = &mut pu[u * k..(u + 1) * k];
                // One rating's updates of bu, bi, pu, qi from z; fills e with err·qᵢ/√|Iᵤ|.
                let mut rate = |i: usize, r: f64, z: &[f64], e: &mut [f64], p: &mut [f64]| {
                    let q = &mut qi[i * k..(i + 1) * k];
                    let mut dot = 0.0;
                    for f in 0..k {
                        dot += q[f] * (p[f] + z[f]);
                    }
                    let err = r - (mu + bu[u] + bi[i] + dot);
                    bu[u] += lr_bu * (err - reg_bu * bu[u]);
                    bi[i] += lr_bi * (err - reg_bi * bi[i]);
                    for f in 0..k {
                        let (puf, qif) = (p[f], q[f]);
                        p[f] += lr_pu * (err * qif - reg_pu * puf);
                        q[f] += lr_qi * (err * (puf + z[f]) - reg_qi * qif);
                        e[f] = err * qif / sqrt_iu;
                    }
                };
                let fast = self.mode == TrainMode::Fast && {
                    let distinct = iu.iter().all(|&j| !std::mem::replace(&mut seen[j as usize], true));
                    for &j in iu {
                        seen[j as usize] = false;
                    }
                    distinct
                };
                if fast {
                    // yⱼ = a yⱼ⁰ + c for every j of the user; z = a z⁰ + √|Iᵤ| c.
                    z0.fill(0.0);
                    for &j in iu {
                        for (z, y) in z0.iter_mut().zip(&yj[j as usize * k..(j as usize + 1) * k]) {
                            *z += y / sqrt_iu;
                        }
                    }
                    let mut a = 1.0f64;
                    c.fill(0.0);
                    for (&i, &r) in iu.iter().zip(rs) {
                        for f in 0..k {
                            z[f] = a * z0[f] + sqrt_iu * c[f];
                        }
                        rate(i as usize, r, &z, &mut e, p);
                        a *= alpha;
                        for f in 0..k {
                            c[f] = alpha * c[f] + lr_yj * e[f];
                        }
                    }
                    for &j in iu {
                        for (y, c) in yj[j as usize * k..(j as usize + 1) * k].iter_mut().zip(&c) {
                            *y = a * *y + c;
                        }
                    }
                } else {
                    for (&i, &r) in iu.iter().zip(rs) {
                        z.fill(0.0);
                        for &j in iu {
                            let y = &yj[j as usize * k..(j as usize + 1) * k];
                            for f in 0..k {
                                z[f] += y[f] / sqrt_iu;
                            }
                        }
                        rate(i as usize, r, &z, &mut e, p);
                        for &j in iu {
                            let y = &mut yj[j as usize * k..(j as usize + 1) * k];
                            for f in 0..k {
                                y[f] += lr_yj * (e[f] - reg_yj * y[f]);
                            }
                        }
                    }
                }
            }
            if !(bu.iter().chain(&bi).chain(&pu).chain(&qi).chain(&yj).all(|v| v.is_finite())) {
                return Err(FitError::Invalid {
                    name: "lr_all",
                    value: self.lr_all.to_string(),
                    expected: "a learning rate small enough for the rating scale (training diverged)",
                });
            }
        }
        // Surprise's estimate: (Σ yⱼ) / √|Iᵤ|, added to pᵤ.
        let mut user_vectors = vec![0.0f64; n_users * k];
        for u in 0..n_users {
            let (iu, _) = ur.row(u);
            let out = &mut user_vectors[u * k..(u + 1) * k];
            for &j in iu {
                for (o, y) in out.iter_mut().zip(&yj[j as usize * k..(j as usize + 1) * k]) {
                    *o += y;
                }
            }
            let sqrt_iu = (iu.len() as f64).sqrt();
            for (o, p) in out.iter_mut().zip(&pu[u * k..(u + 1) * k]) {
                *o = p + *o / sqrt_iu;
            }
        }
        let reg = [reg_bu, reg_pu];
        Ok(Svdpp { n_factors: k, global_mean: mu, scale: t.list().scale(), reg, bu, bi, pu, qi, yj, user_vectors })
    }
}

impl Predictor for Svdpp {
    predictor_fields!();

    /// The user's implicit factors from the movies rated, `|N|^-½ Σⱼ yⱼ`, then the bias
    /// and explicit factors that minimise SVD++'s objective for the user with every movie's
    /// parameters held fixed (a ridge regression, as SVD's fold-in).
    fn fold_in(&self, history: &[(u32, f64)], n_items: usize) -> Folded {
        let k = self.n_factors;
        let mut z = vec![0.0f64; k];
        for &(j, _) in history {
            for (a, y) in z.iter_mut().zip(&self.yj[j as usize * k..(j as usize + 1) * k]) {
                *a += y;
            }
        }
        if !history.is_empty() {
            let norm = (history.len() as f64).sqrt();
            z.iter_mut().for_each(|a| *a /= norm);
        }
        let dot = |i: usize, p: &[f64]| -> f64 { self.qi[i * k..(i + 1) * k].iter().zip(p).map(|(a, b)| a * b).sum() };
        let rows = history.iter().map(|&(i, r)| {
            let i = i as usize;
            (row_of(&self.qi, k, i), r - self.global_mean - self.bi[i] - dot(i, &z))
        });
        let (bias, p) = ridge_profile(k, rows, history.len(), Some(self.reg[0]), self.reg[1]);
        let user: Vec<f64> = p.iter().zip(&z).map(|(a, b)| a + b).collect();
        let estimates = (0..n_items).map(|i| Some(self.global_mean + bias + self.bi[i] + dot(i, &user))).collect();
        Folded { estimates, bias: Some(bias) }
    }

    /// The cosine of the movies' factors `qᵢ`.
    fn item_similarities(&self, i: usize, n_items: usize) -> Option<Vec<f64>> {
        Some(cosines(n_items, i, |j| row_of(&self.qi, self.n_factors, j)))
    }

    fn estimate(&self, u: Option<usize>, i: Option<usize>) -> Option<f64> {
        let mut est = biased(self.global_mean, &self.bu, &self.bi, u, i);
        if let (Some(u), Some(i)) = (u, i) {
            let k = self.n_factors;
            let (q, z) = (&self.qi[i * k..(i + 1) * k], &self.user_vectors[u * k..(u + 1) * k]);
            est += q.iter().zip(z).map(|(a, b)| a * b).sum::<f64>();
        }
        Some(est)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::synthetic::{SyntheticConfig, generate};

    #[test]
    fn the_fast_mode_fits_the_same_model_up_to_rounding() {
        let data = generate(&SyntheticConfig { seed: 3, scale: 0.01, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        let mut list = data.ratings;
        // A user who rates a movie twice is fitted the exact way, within the fast mode.
        let (u, m) = (list.user()[0], list.movie()[0]);
        list.push_indexed(u, m, 80.0);
        let t = Trainset::new(&list);
        let params = SvdppParams { n_factors: 8, n_epochs: 5, seed: 1, ..SvdppParams::default() };
        let exact = SvdppParams { mode: TrainMode::Surprise, ..params }.fit(&t).unwrap();
        let fast = params.fit(&t).unwrap();
        assert!(exact != fast, "the modes round differently");
        let mut worst = 0.0f64;
        for u in 0..t.n_users() {
            for i in 0..t.n_items() {
                let (a, b) = (exact.estimate(Some(u), Some(i)).unwrap(), fast.estimate(Some(u), Some(i)).unwrap());
                worst = worst.max((a - b).abs());
            }
        }
        assert!(worst < 1e-9, "predictions differ by {worst:e}");
    }
}
