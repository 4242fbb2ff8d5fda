//! Surprise's NMF (`matrix_factorization.pyx`), reproduced bit for bit: non-negative user
//! and movie factors fitted by the multiplicative updates of Luo et al. (2014), optionally
//! with biases fitted by SGD (`biased`). Each epoch, in `all_ratings` order, accumulates for
//! every rating `qᵢ r` and `qᵢ r̂` into the user's numerator and denominator (and `pᵤ r`,
//! `pᵤ r̂` into the movie's), updating the biases as it goes; then every user factor `f`
//! becomes `p · num / (den + |Iᵤ| reg_pu p)`, then every movie's likewise. Factors start
//! from `uniform(init_low, init_high)` draws of numpy's generator seeded by `seed`, the
//! users' first.

use serde::{Deserialize, Serialize};

use crate::data::scale::RatingScale;
use crate::data::trainset::Trainset;
use crate::models::base::linalg::{cosines, row_of};
use crate::models::base::predictor::{Folded, Predictor, biased, predictor_fields};
use crate::models::base::{FitError, check, check_count};
use crate::numpy::RandomState;

/// NMF's parameters, with Surprise's names and defaults (`random_state` is `seed`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)] // Surprise's parameters, documented in its `NMF`
pub struct NmfParams {
    pub n_factors: usize,
    pub n_epochs: usize,
    pub biased: bool,
    pub reg_pu: f64,
    pub reg_qi: f64,
    pub reg_bu: f64,
    pub reg_bi: f64,
    pub lr_bu: f64,
    pub lr_bi: f64,
    pub init_low: f64,
    pub init_high: f64,
    pub seed: u32,
}

impl Default for NmfParams {
    fn default() -> NmfParams {
        NmfParams {
            n_factors: 15,
            n_epochs: 50,
            biased: false,
            reg_pu: 0.06,
            reg_qi: 0.06,
            reg_bu: 0.02,
            reg_bi: 0.02,
            lr_bu: 0.005,
            lr_bi: 0.005,
            init_low: 0.0,
            init_high: 1.0,
            seed: 0,
        }
    }
}

/// A fitted NMF.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Nmf {
    /// Length of the factor vectors.
    pub n_factors: usize,
    /// Whether the biases and the global mean are used.
    pub biased: bool,
    /// The parameters it was fitted with (folding in a new user runs the same updates).
    pub params: NmfParams,
    /// The training set's mean.
    pub global_mean: f64,
    /// The clipping scale.
    pub scale: RatingScale,
    /// User biases (zeros unless biased).
    pub bu: Vec<f64>,
    /// Movie biases (zeros unless biased).
    pub bi: Vec<f64>,
    /// User factors, row-major.
    pub pu: Vec<f64>,
    /// Movie factors, row-major.
    pub qi: Vec<f64>,
}

impl NmfParams {
    /// Fits as Surprise's `NMF.fit`.
    ///
    /// # Errors
    /// [`FitError::Invalid`] for a parameter out of range.
    pub fn fit(&self, t: &Trainset<'_>) -> Result<Nmf, FitError> {
        check_count("n_factors", self.n_factors)?;
        check_count("n_epochs", self.n_epochs)?;
        check("init_low", self.init_low, self.init_low >= 0.0, "0 or more")?;
        check("init_high", self.init_high, self.init_high >= self.init_low, "init_low or more")?;
        for (name, v) in
            [("reg_pu", self.reg_pu), ("reg_qi", self.reg_qi), ("reg_bu", self.reg_bu), ("reg_bi", self.reg_bi)]
        {
            check(name, v, v >= 0.0, "0 or more")?;
        }
        for (name, v) in [("lr_bu", self.lr_bu), ("lr_bi", self.lr_bi)] {
            check(name, v, v > 0.0, "more than 0")?;
        }
        let (n_users, n_items, k) = (t.n_users(), t.n_items(), self.n_factors);
        let mut rng = RandomState::new(self.seed);
        let range = self.init_high - self.init_low;
        let mut draw = |n: usize| -> Vec<f64> { (0..n).map(|_| self.init_low + range * rng.random_sample()).collect() };
        let mut pu = draw(n_users * k);
        let mut qi = draw(n_items * k);
        let mut bu = vec![0.0f64; n_users];
        let mut bi = vec![0.0f64; n_items];
        let mu = if self.biased { t.global_mean() } else { 0.0 };
        let ratings: Vec<(usize, usize, f64)> = t.all_ratings().collect();
        let ur_len: Vec<usize> = (0..n_users).map(|u| t.user_rows(u).len()).collect();
        let ir = t.ir();
        let mut user_num = vec![0.0f64; n_users * k];
        let mut user_den = vec![0.0f64; n_users * k];
        let mut item_num = vec![0.0f64; n_items * k];
        let mut item_den = vec![0.0f64; n_items * k];
        for _ in 0..self.n_epochs {
            for v in [&mut user_num, &mut user_den, &mut item_num, &mut item_den] {
                v.fill(0.0);
            }
            for &(u, i, r) in &ratings {
                let (p, q) = (&pu[u * k..(u + 1) * k], &qi[i * k..(i + 1) * k]);
                let mut dot = 0.0;
                for f in 0..k {
                    dot += q[f] * p[f];
                }
                let est = mu + bu[u] + bi[i] + dot;
                let err = r - est;
                if self.biased {
                    bu[u] += self.lr_bu * (err - self.reg_bu * bu[u]);
                    bi[i] += self.lr_bi * (err - self.reg_bi * bi[i]);
                }
                for f in 0..k {
                    user_num[u * k + f] += q[f] * r;
                    user_den[u * k + f] += q[f] * est;
                    item_num[i * k + f] += p[f] * r;
                    item_den[i * k + f] += p[f] * est;
                }
            }
            for (u, &n) in ur_len.iter().enumerate() {
                let n = n as f64;
                for f in u * k..(u + 1) * k {
                    if pu[f] != 0.0 {
                        user_den[f] += n * self.reg_pu * pu[f];
                        pu[f] *= user_num[f] / user_den[f];
                    }
                }
            }
            for i in 0..n_items {
                let n = ir.count(i) as f64;
                for f in i * k..(i + 1) * k {
                    if qi[f] != 0.0 {
                        item_den[f] += n * self.reg_qi * qi[f];
                        qi[f] *= item_num[f] / item_den[f];
                    }
                }
            }
        }
        Ok(Nmf {
            n_factors: k,
            biased: self.biased,
            params: *self,
            global_mean: t.global_mean(),
            scale: t.list().scale(),
            bu,
            bi,
            pu,
            qi,
        })
    }
}

impl Predictor for Nmf {
    predictor_fields!();

    /// NMF's own updates for one user, the movies' biases and factors held fixed: from
    /// factors at the middle of the initial range and a zero bias, `n_epochs` passes of the
    /// bias's SGD step (biased) and the factors' multiplicative update over the user's ratings.
    fn fold_in(&self, history: &[(u32, f64)], n_items: usize) -> Folded {
        let (k, p) = (self.n_factors, &self.params);
        let mu = if self.biased { self.global_mean } else { 0.0 };
        let mut pu = vec![(p.init_low + p.init_high) / 2.0; k];
        let mut bu = 0.0f64;
        let (mut num, mut den) = (vec![0.0f64; k], vec![0.0f64; k]);
        for _ in 0..p.n_epochs {
            num.fill(0.0);
            den.fill(0.0);
            for &(i, r) in history {
                let q = &self.qi[i as usize * k..(i as usize + 1) * k];
                let dot: f64 = q.iter().zip(&pu).map(|(a, b)| a * b).sum();
                let est = mu + bu + self.bi[i as usize] + dot;
                if self.biased {
                    bu += p.lr_bu * ((r - est) - p.reg_bu * bu);
                }
                for f in 0..k {
                    num[f] += q[f] * r;
                    den[f] += q[f] * est;
                }
            }
            let n = history.len() as f64;
            for f in 0..k {
                if pu[f] != 0.0 {
                    den[f] += n * p.reg_pu * pu[f];
                    pu[f] *= if den[f] != 0.0 { num[f] / den[f] } else { 0.0 };
                }
            }
        }
        let estimates = (0..n_items)
            .map(|i| {
                let dot: f64 = self.qi[i * k..(i + 1) * k].iter().zip(&pu).map(|(a, b)| a * b).sum();
                Some(if self.biased { mu + bu + self.bi[i] + dot } else { dot })
            })
            .collect();
        Folded { estimates, bias: self.biased.then_some(bu) }
    }

    /// The cosine of the movies' factors `qᵢ`.
    fn item_similarities(&self, i: usize, n_items: usize) -> Option<Vec<f64>> {
        Some(cosines(n_items, i, |j| row_of(&self.qi, self.n_factors, j)))
    }

    fn estimate(&self, u: Option<usize>, i: Option<usize>) -> Option<f64> {
        let k = self.n_factors;
        let dot = |u: usize, i: usize| -> f64 {
            self.qi[i * k..(i + 1) * k].iter().zip(&self.pu[u * k..(u + 1) * k]).map(|(a, b)| a * b).sum()
        };
        if self.biased {
            let mut est = biased(self.global_mean, &self.bu, &self.bi, u, i);
            if let (Some(u), Some(i)) = (u, i) {
                est += dot(u, i);
            }
            Some(est)
        } else {
            Some(dot(u?, i?))
        }
    }
}
