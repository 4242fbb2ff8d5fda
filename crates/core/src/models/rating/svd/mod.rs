//! Surprise's SVD (and PMF, its unbiased form), in two training modes: `surprise`, which
//! reproduces scikit-surprise 1.1.5 bit for bit, and `fast`, single precision and parallel
//! over a fixed grid of blocks, deterministic whatever the number of threads.
//!
//! The model (Funk's SVD as Surprise implements it, `matrix_factorization.pyx`):
//! `r̂ᵤᵢ = μ + bᵤ + bᵢ + qᵢ·pᵤ`, fitted by stochastic gradient descent, for each rating:
//!
//! ```text
//! e = r - (μ + bᵤ + bᵢ + qᵢ·pᵤ)
//! bᵤ += lr_bu (e - reg_bu bᵤ)          bᵢ += lr_bi (e - reg_bi bᵢ)
//! pᵤ += lr_pu (e qᵢ - reg_pu pᵤ)       qᵢ += lr_qi (e pᵤ - reg_qi qᵢ)   (both from the old values)
//! ```

pub mod fast;
pub mod fold;

use serde::{Deserialize, Serialize};

use crate::data::ids::IdMap;
use crate::data::scale::RatingScale;
use crate::data::trainset::Trainset;
use crate::models::base::predictor::Prediction;
use crate::models::base::scoring::{Cached, Finish, Panels, dot_in_order};
use crate::models::base::simd::{Isa, Simd};
use crate::models::base::{Diverged, FitError, Unsettable};
pub use crate::models::base::{Epoch, TrainMode};
use crate::numpy::RandomState;

/// SVD's hyper-parameters, with Surprise's names and defaults, as read from `params.yaml`.
///
/// | Name | Default | Purpose | Range |
/// |---|---|---|---|
/// | `n_factors` | 100 | length of each user's and movie's factor vector | 1 or more |
/// | `n_epochs` | 20 | passes over the training set | 1 or more |
/// | `biased` | true | use the global mean and the biases (false: PMF) | |
/// | `init_mean` | 0 | mean of the normal initialisation of the factors | finite |
/// | `init_std_dev` | 0.1 | its standard deviation | 0 or more |
/// | `lr_all` | 0.005 | learning rate of every parameter | more than 0 |
/// | `reg_all` | 0.02 | L2 regularisation of every parameter | 0 or more |
/// | `lr_bu`, `lr_bi`, `lr_pu`, `lr_qi` | none | override `lr_all` for one parameter | more than 0 |
/// | `reg_bu`, `reg_bi`, `reg_pu`, `reg_qi` | none | override `reg_all` for one parameter | 0 or more |
/// | `seed` | 0 | the factors' initialisation (Surprise's `random_state`) | 0 to 2^32 - 1 |
/// | `adagrad` | false | movierec's own, `fast` mode only: AdaGrad's adaptive step, as LibMF's | |
/// | `simd` | `portable` | movierec's own, `fast` mode only: the vector loops' arithmetic ([`Simd`]): the same model on every CPU, or `native`, the CPU's fastest | `portable`, `native` |
/// | `mode` | `surprise` | how it is fitted ([`TrainMode`]); not read from `train.svd`: the params file sets it by `train.mode` (`optimize.mode` in the search) | `surprise`, `fast` |
///
/// With `adagrad`, each row of factors (a user's `pᵤ`, a movie's `qᵢ`) and each bias keeps
/// the sum `G` of its squared gradients, starting at 1 (for a row, the mean over its factors
/// of each update's squared gradient), and steps by `lr / √G` instead of `lr`: frequent
/// users and movies take smaller and smaller steps, rare ones keep large ones. Its good
/// learning rates are about ten times the constant rate's (`lr_all` 0.02 to 0.05).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[allow(missing_docs)] // documented in the table above
pub struct SvdParams {
    pub n_factors: usize,
    pub n_epochs: usize,
    pub biased: bool,
    pub init_mean: f64,
    pub init_std_dev: f64,
    pub lr_all: f64,
    pub reg_all: f64,
    pub lr_bu: Option<f64>,
    pub lr_bi: Option<f64>,
    pub lr_pu: Option<f64>,
    pub lr_qi: Option<f64>,
    pub reg_bu: Option<f64>,
    pub reg_bi: Option<f64>,
    pub reg_pu: Option<f64>,
    pub reg_qi: Option<f64>,
    pub seed: u32,
    pub adagrad: bool,
    pub simd: Simd,
    #[serde(skip)]
    pub mode: TrainMode,
}

impl Default for SvdParams {
    fn default() -> SvdParams {
        SvdParams {
            n_factors: 100,
            n_epochs: 20,
            biased: true,
            init_mean: 0.0,
            init_std_dev: 0.1,
            lr_all: 0.005,
            reg_all: 0.02,
            lr_bu: None,
            lr_bi: None,
            lr_pu: None,
            lr_qi: None,
            reg_bu: None,
            reg_bi: None,
            reg_pu: None,
            reg_qi: None,
            seed: 0,
            adagrad: false,
            simd: Simd::Portable,
            mode: TrainMode::Surprise,
        }
    }
}

/// A hyper-parameter outside its range.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParamError {
    /// A count that must be at least one.
    #[error("invalid {name} {value}: expected 1 or more")]
    Zero {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: usize,
    },
    /// A real value out of range.
    #[error("invalid {name} {value}: expected {expected}")]
    OutOfRange {
        /// The parameter.
        name: &'static str,
        /// Its value.
        value: f64,
        /// The range.
        expected: &'static str,
    },
    /// An option of the `fast` mode asked of the `surprise` mode.
    #[error(
        "{name} is an option of the fast training mode; the surprise mode reproduces Surprise's constant \
         learning rate: set mode: fast, or {name}: false with Surprise's rates (lr_all 0.005, no lr_bu or \
         lr_bi)"
    )]
    FastOnly {
        /// The option.
        name: &'static str,
    },
}

/// Checked hyper-parameters, with the per-parameter overrides resolved: the only way to fit.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Svd {
    /// Length of the factor vectors.
    pub n_factors: usize,
    /// Passes over the training set.
    pub n_epochs: usize,
    /// Whether the global mean and biases are used.
    pub biased: bool,
    /// Mean of the factors' initialisation.
    pub init_mean: f64,
    /// Standard deviation of the factors' initialisation.
    pub init_std_dev: f64,
    /// Learning rates of `bu`, `bi`, `pu`, `qi`.
    pub lr: [f64; 4],
    /// Regularisation of `bu`, `bi`, `pu`, `qi`.
    pub reg: [f64; 4],
    /// Seed of the initialisation.
    pub seed: u32,
    /// AdaGrad's adaptive step instead of the constant rate (`fast` mode only); absent from
    /// model files written before it.
    #[serde(default)]
    pub adagrad: bool,
    /// The `fast` mode's arithmetic (the `surprise` mode computes in double precision, one
    /// value at a time: the same on every CPU); absent from model files written before it,
    /// which were fitted in the native one.
    #[serde(default = "fitted_natively")]
    pub simd: Simd,
}

/// The arithmetic of the fits whose model files do not say.
fn fitted_natively() -> Simd {
    Simd::Native
}

impl Svd {
    /// Parameters that check to these ([`SvdParams::check`]), fitted in `mode`: every
    /// override set.
    pub fn params(&self, mode: TrainMode) -> SvdParams {
        let [lr_bu, lr_bi, lr_pu, lr_qi] = self.lr.map(Some);
        let [reg_bu, reg_bi, reg_pu, reg_qi] = self.reg.map(Some);
        SvdParams {
            n_factors: self.n_factors,
            n_epochs: self.n_epochs,
            biased: self.biased,
            init_mean: self.init_mean,
            init_std_dev: self.init_std_dev,
            lr_all: self.lr[0],
            reg_all: self.reg[0],
            lr_bu,
            lr_bi,
            lr_pu,
            lr_qi,
            reg_bu,
            reg_bi,
            reg_pu,
            reg_qi,
            seed: self.seed,
            adagrad: self.adagrad,
            simd: self.simd,
            mode,
        }
    }
}

impl SvdParams {
    /// Checks every value and resolves the overrides.
    ///
    /// # Errors
    /// The first parameter out of range, named with its value.
    pub fn check(&self) -> Result<Svd, ParamError> {
        for (name, value) in [("n_factors", self.n_factors), ("n_epochs", self.n_epochs)] {
            if value == 0 {
                return Err(ParamError::Zero { name, value });
            }
        }
        let range = |name, value: f64, ok: bool, expected| {
            if value.is_finite() && ok { Ok(value) } else { Err(ParamError::OutOfRange { name, value, expected }) }
        };
        range("init_mean", self.init_mean, true, "a finite number")?;
        range("init_std_dev", self.init_std_dev, self.init_std_dev >= 0.0, "0 or more")?;
        let rate = |name, v: Option<f64>| {
            let v = v.unwrap_or(self.lr_all);
            range(name, v, v > 0.0, "a learning rate greater than 0")
        };
        let reg = |name, v: Option<f64>| {
            let v = v.unwrap_or(self.reg_all);
            range(name, v, v >= 0.0, "a regularisation of 0 or more")
        };
        rate("lr_all", Some(self.lr_all))?;
        reg("reg_all", Some(self.reg_all))?;
        Ok(Svd {
            n_factors: self.n_factors,
            n_epochs: self.n_epochs,
            biased: self.biased,
            init_mean: self.init_mean,
            init_std_dev: self.init_std_dev,
            lr: [
                rate("lr_bu", self.lr_bu)?,
                rate("lr_bi", self.lr_bi)?,
                rate("lr_pu", self.lr_pu)?,
                rate("lr_qi", self.lr_qi)?,
            ],
            reg: [
                reg("reg_bu", self.reg_bu)?,
                reg("reg_bi", self.reg_bi)?,
                reg("reg_pu", self.reg_pu)?,
                reg("reg_qi", self.reg_qi)?,
            ],
            seed: self.seed,
            adagrad: self.adagrad,
            simd: self.simd,
        })
    }
}

/// The learned factors, in the precision of the mode that trained them.
#[derive(Clone, Debug, PartialEq)]
pub enum Factors {
    /// From the `surprise` mode.
    F64 {
        /// User factors, row-major `n_users × n_factors`.
        pu: Vec<f64>,
        /// Movie factors, row-major `n_items × n_factors`.
        qi: Vec<f64>,
    },
    /// From the `fast` mode.
    F32 {
        /// User factors, row-major `n_users × n_factors`.
        pu: Vec<f32>,
        /// Movie factors, row-major `n_items × n_factors`.
        qi: Vec<f32>,
    },
}

/// A fitted SVD: what predicting needs, indexed by the training set's inner ids.
#[derive(Clone, Debug, PartialEq)]
pub struct SvdModel {
    /// The hyper-parameters it was fitted with.
    pub svd: Svd,
    /// The mode that fitted it.
    pub mode: TrainMode,
    /// Predictions are clipped to this scale.
    pub scale: RatingScale,
    /// The training set's mean score (numpy's mean); 0 is not used for PMF but is kept.
    pub global_mean: f64,
    /// Raw user ids by inner id.
    pub users: IdMap,
    /// Raw movie ids by inner id.
    pub items: IdMap,
    /// User biases.
    pub bu: Vec<f64>,
    /// Movie biases.
    pub bi: Vec<f64>,
    /// The factors.
    pub factors: Factors,
    /// The movies' single-precision rows packed for scoring every movie at once
    /// ([`SvdModel::top_unseen_all`]), made on first use.
    pub packed: Cached<Panels>,
}

impl SvdModel {
    /// The factor vectors' length.
    pub fn n_factors(&self) -> usize {
        self.svd.n_factors
    }

    /// `qᵢ·pᵤ` for inner ids, as a sequential sum (in single precision for the `fast` mode's
    /// factors, as [`SvdModel::top_unseen_all`] computes it for every movie at once).
    pub fn dot(&self, u: usize, i: usize) -> f64 {
        let k = self.n_factors();
        match &self.factors {
            Factors::F64 { pu, qi } => {
                let (p, q) = (&pu[u * k..(u + 1) * k], &qi[i * k..(i + 1) * k]);
                q.iter().zip(p).map(|(a, b)| a * b).sum()
            }
            Factors::F32 { pu, qi } => f64::from(dot_in_order(&pu[u * k..(u + 1) * k], &qi[i * k..(i + 1) * k])),
        }
    }

    /// The `n` movies with the highest predicted scores of each of `users` (inner ids) among
    /// those not in `seen(u)` (sorted), best first, ties to the lower inner id: what
    /// [`crate::models::rating::svd::fold::for_user`] gives user by user, computed for all of them at
    /// once as blocked matrix products ([`crate::models::base::scoring`]). `None` for the
    /// `surprise` mode's double-precision factors, which it does not score in blocks.
    pub fn top_unseen_all<'s>(
        &self,
        users: &[usize],
        seen: &(dyn Fn(usize) -> &'s [u32] + Sync),
        n: usize,
    ) -> Option<Vec<Vec<(u32, f64)>>> {
        let Factors::F32 { pu, qi } = &self.factors else { return None };
        let k = self.n_factors();
        let biased = self.svd.biased;
        let panels = self.packed.get_or_init(|| Panels::new(qi, k, biased.then_some(&self.bi[..])));
        // `μ + bᵤ`, as the single estimate adds it ([`crate::models::base::predictor`]'s `biased`).
        let offsets: Option<Vec<f64>> = biased.then(|| self.bu.iter().map(|&b| self.global_mean + b).collect());
        let finish = Finish { user: offsets.as_deref(), clip: Some((self.scale.min(), self.scale.max())) };
        Some(crate::models::base::scoring::top_unseen(pu, panels, &finish, users, seen, n))
    }

    /// The biases and factors as the model file stores them, after its header and ids:
    /// `bu`, `bi`, then `pu` and `qi`, little-endian, in the precision of the mode that
    /// fitted them.
    pub fn payload(&self) -> Vec<u8> {
        let mut buf = Vec::new();
        self.write_payload(&mut buf);
        buf
    }

    /// Appends [`SvdModel::payload`] to `buf`, without a copy of its own.
    pub fn write_payload(&self, buf: &mut Vec<u8>) {
        for v in self.bu.iter().chain(&self.bi) {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        match &self.factors {
            Factors::F32 { pu, qi } => pu.iter().chain(qi).for_each(|v| buf.extend_from_slice(&v.to_le_bytes())),
            Factors::F64 { pu, qi } => pu.iter().chain(qi).for_each(|v| buf.extend_from_slice(&v.to_le_bytes())),
        }
    }

    /// Surprise's `estimate` followed by `predict`'s clipping, for inner ids (`None` for
    /// an unknown user or movie): biased, `μ + bᵤ + bᵢ + qᵢ·pᵤ` with the unknown terms left
    /// out; PMF, `qᵢ·pᵤ`, or the global mean and `was_impossible` if either is unknown.
    pub fn estimate(&self, u: Option<usize>, i: Option<usize>) -> Prediction {
        crate::models::base::predictor::Predictor::predict(self, u, i)
    }

    /// The prediction for raw ids.
    pub fn predict(&self, user: &str, movie: &str) -> Prediction {
        self.estimate(self.users.get(user).map(|u| u as usize), self.items.get(movie).map(|i| i as usize))
    }
}

/// An epoch's end, as [`Svd::fit_with`] hands it over.
pub struct Progress<'a> {
    /// What the epoch reports.
    pub epoch: Epoch,
    pub(crate) model: &'a dyn Fn() -> SvdModel,
}

impl Progress<'_> {
    /// The model as it is after this epoch (built on demand: a copy of every parameter).
    pub fn model(&self) -> SvdModel {
        (self.model)()
    }
}

impl Svd {
    /// Whether these parameters can be fitted in `mode`.
    ///
    /// # Errors
    /// [`ParamError::FastOnly`] for `adagrad` in the `surprise` mode.
    pub fn check_mode(&self, mode: TrainMode) -> Result<(), ParamError> {
        if mode == TrainMode::Surprise && self.adagrad {
            return Err(ParamError::FastOnly { name: "adagrad" });
        }
        Ok(())
    }

    /// Fits in `mode`: [`Svd::fit_surprise`] (one thread) or [`Svd::fit_fast`] on `threads`.
    ///
    /// # Errors
    /// [`Diverged`] as soon as an epoch ends with a parameter that is not finite.
    pub fn fit(
        &self,
        mode: TrainMode,
        threads: usize,
        t: &Trainset<'_>,
        mut on_epoch: impl FnMut(Epoch),
    ) -> Result<SvdModel, Diverged> {
        self.fit_with(mode, threads, t, |p| on_epoch(p.epoch))
    }

    /// [`Svd::fit`], with the model after each epoch on hand: `on_epoch` may build it
    /// ([`Progress::model`]), the same model, bit for bit, as a fit with that many epochs (an
    /// epoch does not depend on how many follow). So one fit serves every `n_epochs` of a
    /// search up to its own.
    ///
    /// # Errors
    /// [`Diverged`] as soon as an epoch ends with a parameter that is not finite.
    pub fn fit_with(
        &self,
        mode: TrainMode,
        threads: usize,
        t: &Trainset<'_>,
        on_epoch: impl FnMut(Progress<'_>),
    ) -> Result<SvdModel, Diverged> {
        match mode {
            TrainMode::Surprise => self.fit_surprise_with(t, on_epoch),
            TrainMode::Fast => self.fit_fast_with(Isa::current(), t, threads, on_epoch),
        }
    }

    pub(crate) fn init_factors(&self, n_users: usize, n_items: usize) -> (Vec<f64>, Vec<f64>) {
        let mut rng = RandomState::new(self.seed);
        let k = self.n_factors;
        let (mut pu, mut qi) = (vec![0.0; n_users * k], vec![0.0; n_items * k]);
        rng.fill_normal(self.init_mean, self.init_std_dev, &mut pu);
        rng.fill_normal(self.init_mean, self.init_std_dev, &mut qi);
        (pu, qi)
    }

    pub(crate) fn diverged(&self, epoch: usize, what: &'static str, scale: RatingScale) -> Diverged {
        let [lr_bu, lr_bi, lr_pu, lr_qi] = self.lr;
        Diverged { epoch, n_epochs: self.n_epochs, what, lr_bu, lr_bi, lr_pu, lr_qi, scale }
    }

    /// Fits as scikit-surprise's `SVD.fit` does, operation for operation in double precision.
    /// `adagrad` is not Surprise's: [`Svd::check_mode`] refuses it for this mode, and this
    /// fit leaves it aside.
    ///
    /// # Errors
    /// [`Diverged`] as soon as an epoch ends with a parameter that is not finite.
    pub fn fit_surprise(&self, t: &Trainset<'_>, mut on_epoch: impl FnMut(Epoch)) -> Result<SvdModel, Diverged> {
        self.fit_surprise_with(t, |p| on_epoch(p.epoch))
    }

    /// [`Svd::fit_surprise`] with the model after each epoch on hand ([`Svd::fit_with`]).
    fn fit_surprise_with(
        &self,
        t: &Trainset<'_>,
        mut on_epoch: impl FnMut(Progress<'_>),
    ) -> Result<SvdModel, Diverged> {
        let (n_users, n_items, k) = (t.n_users(), t.n_items(), self.n_factors);
        let (mut pu, mut qi) = self.init_factors(n_users, n_items);
        let mut bu = vec![0.0f64; n_users];
        let mut bi = vec![0.0f64; n_items];
        let mu = if self.biased { t.global_mean() } else { 0.0 };
        let [lr_bu, lr_bi, lr_pu, lr_qi] = self.lr;
        let [reg_bu, reg_bi, reg_pu, reg_qi] = self.reg;
        let ratings: Vec<(usize, usize, f64)> = t.all_ratings().collect();
        let scale = t.list().scale();
        for epoch in 1..=self.n_epochs {
            let mut squared = 0.0;
            for &(u, i, r) in &ratings {
                let p = &mut pu[u * k..(u + 1) * k];
                let q = &mut qi[i * k..(i + 1) * k];
                let mut dot = 0.0;
                for f in 0..k {
                    dot += q[f] * p[f];
                }
                let err = r - (mu + bu[u] + bi[i] + dot);
                squared += err * err;
                if self.biased {
                    bu[u] += lr_bu * (err - reg_bu * bu[u]);
                    bi[i] += lr_bi * (err - reg_bi * bi[i]);
                }
                for f in 0..k {
                    let (puf, qif) = (p[f], q[f]);
                    p[f] += lr_pu * (err * qif - reg_pu * puf);
                    q[f] += lr_qi * (err * puf - reg_qi * qif);
                }
            }
            check_finite(&[("bu", &bu), ("bi", &bi), ("pu", &pu), ("qi", &qi)], squared)
                .map_err(|what| self.diverged(epoch, what, scale))?;
            let epoch = Epoch { epoch, train_rmse: (squared / ratings.len() as f64).sqrt() };
            let model = || {
                let factors = Factors::F64 { pu: pu.clone(), qi: qi.clone() };
                self.model_after(epoch.epoch, TrainMode::Surprise, t, [bu.clone(), bi.clone()], factors)
            };
            on_epoch(Progress { epoch, model: &model });
        }
        Ok(self.model_after(self.n_epochs, TrainMode::Surprise, t, [bu, bi], Factors::F64 { pu, qi }))
    }

    /// The model after `epoch` epochs of a fit in `mode` on `t`, from its biases `[bu, bi]`
    /// and factors.
    pub(crate) fn model_after(
        &self,
        epoch: usize,
        mode: TrainMode,
        t: &Trainset<'_>,
        [bu, bi]: [Vec<f64>; 2],
        factors: Factors,
    ) -> SvdModel {
        SvdModel {
            svd: Svd { n_epochs: epoch, ..*self },
            mode,
            scale: t.list().scale(),
            global_mean: t.global_mean(),
            users: t.list().users().clone(),
            items: t.list().movies().clone(),
            bu,
            bi,
            factors,
            packed: Cached::default(),
        }
    }
}

/// SVD's parameters checked, also against their mode, their errors as every algorithm's.
///
/// # Errors
/// [`FitError::Invalid`] naming the parameter.
pub(crate) fn check_svd(p: &SvdParams) -> Result<Svd, FitError> {
    let checked = p.check().and_then(|svd| svd.check_mode(p.mode).map(|()| svd));
    checked.map_err(|e| match e {
        ParamError::Zero { name, value } => FitError::Invalid { name, value: value.to_string(), expected: "1 or more" },
        ParamError::OutOfRange { name, value, expected } => {
            FitError::Invalid { name, value: value.to_string(), expected }
        }
        ParamError::FastOnly { name } => {
            FitError::Invalid { name, value: "true".to_owned(), expected: "false in the surprise mode" }
        }
    })
}

/// SVD's parameters that a search can set (`adagrad`: 0 or 1, for false or true).
pub const SEARCHABLE: [&str; 15] = [
    "adagrad",
    "n_factors",
    "n_epochs",
    "init_mean",
    "init_std_dev",
    "lr_all",
    "reg_all",
    "lr_bu",
    "lr_bi",
    "lr_pu",
    "lr_qi",
    "reg_bu",
    "reg_bi",
    "reg_pu",
    "reg_qi",
];

impl SvdParams {
    /// Sets the searched parameter `name` (one of [`SEARCHABLE`]) to `v`.
    ///
    /// # Errors
    /// [`Unsettable`] for another name, a count that is not a whole number of 1 or more, or an
    /// `adagrad` other than 0 or 1.
    pub fn set(&mut self, name: &str, v: f64) -> Result<(), Unsettable> {
        let count = || {
            if v >= 1.0 && v.fract() == 0.0 && v < 1e9 {
                Ok(v as usize)
            } else {
                Err(Unsettable::Invalid("a whole number of 1 or more"))
            }
        };
        match name {
            "n_factors" => self.n_factors = count()?,
            "n_epochs" => self.n_epochs = count()?,
            "init_mean" => self.init_mean = v,
            "init_std_dev" => self.init_std_dev = v,
            "lr_all" => self.lr_all = v,
            "reg_all" => self.reg_all = v,
            "lr_bu" => self.lr_bu = Some(v),
            "lr_bi" => self.lr_bi = Some(v),
            "lr_pu" => self.lr_pu = Some(v),
            "lr_qi" => self.lr_qi = Some(v),
            "reg_bu" => self.reg_bu = Some(v),
            "reg_bi" => self.reg_bi = Some(v),
            "reg_pu" => self.reg_pu = Some(v),
            "reg_qi" => self.reg_qi = Some(v),
            "adagrad" if v == 0.0 || v == 1.0 => self.adagrad = v == 1.0,
            "adagrad" => return Err(Unsettable::Invalid("0 or 1")),
            _ => return Err(Unsettable::Unknown),
        }
        Ok(())
    }
}

/// `Err` with the name of the first of `params` with a value that is not finite, or "the
/// training error" when the epoch's sum of squared errors is not.
pub(crate) fn check_finite<T: Finite>(params: &[(&'static str, &[T])], squared: f64) -> Result<(), &'static str> {
    if !squared.is_finite() {
        return Err("the training error");
    }
    for (name, values) in params {
        if !all_finite(values) {
            return Err(name);
        }
    }
    Ok(())
}

/// Whether every value is finite: looks at every one, without stopping at the first that is
/// not, in a loop the compiler vectorises (this runs after every epoch, over every parameter).
pub(crate) fn all_finite<T: Finite>(values: &[T]) -> bool {
    values.iter().fold(true, |ok, &v| ok & v.is_finite())
}

/// The floating-point types parameters come in (checked in their own precision: twice the
/// lanes for single).
pub(crate) trait Finite: Copy {
    fn is_finite(self) -> bool;
}

impl Finite for f32 {
    #[inline(always)]
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
}

impl Finite for f64 {
    #[inline(always)]
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::dataset::RatingList;

    fn small() -> RatingList {
        let mut l = RatingList::new(RatingScale::SEED);
        for (u, m, s) in [("a", "x", 80.0), ("a", "y", 20.0), ("b", "x", 70.0), ("c", "y", 30.0), ("c", "z", 50.0)] {
            l.push(u, m, s);
        }
        l
    }

    #[test]
    fn the_model_after_an_epoch_is_a_fit_with_that_many_epochs() {
        let data = crate::data::synthetic::generate(
            &crate::data::synthetic::SyntheticConfig { seed: 3, scale: 0.02, ..Default::default() },
            RatingScale::SEED,
        )
        .unwrap();
        let t = Trainset::new(&data.ratings);
        for mode in [TrainMode::Surprise, TrainMode::Fast] {
            let svd = SvdParams { n_factors: 5, n_epochs: 4, ..SvdParams::default() }.check().unwrap();
            let mut after = Vec::new();
            let last = svd.fit_with(mode, 2, &t, |p| after.push(p.model())).unwrap();
            assert_eq!(after.len(), 4);
            assert!(after[3] == last, "{mode:?}: the last epoch's model is the fit's");
            for epochs in [1, 2] {
                let alone = Svd { n_epochs: epochs, ..svd }.fit(mode, 1, &t, |_| {}).unwrap();
                assert!(after[epochs - 1] == alone, "{mode:?}: after {epochs} epochs");
            }
            assert!(after[0] != after[1], "{mode:?}: the epochs changed nothing");
        }
    }

    #[test]
    fn params_are_checked_and_overrides_resolved() {
        let p = SvdParams { lr_pu: Some(0.01), reg_qi: Some(0.5), ..SvdParams::default() };
        let s = p.check().unwrap();
        assert_eq!(s.lr, [0.005, 0.005, 0.01, 0.005]);
        assert_eq!(s.reg, [0.02, 0.02, 0.02, 0.5]);
        let e = SvdParams { n_factors: 0, ..SvdParams::default() }.check().unwrap_err();
        assert_eq!(e.to_string(), "invalid n_factors 0: expected 1 or more");
        let e = SvdParams { lr_all: -0.1, ..SvdParams::default() }.check().unwrap_err();
        assert!(e.to_string().contains("invalid lr_all -0.1"));
        let e = SvdParams { reg_bi: Some(f64::NAN), ..SvdParams::default() }.check().unwrap_err();
        assert!(e.to_string().contains("reg_bi"));
    }

    #[test]
    fn a_too_large_rate_stops_with_the_epoch_and_the_rates() {
        let l = small();
        let t = Trainset::new(&l);
        let svd = SvdParams { lr_all: 5.0, n_factors: 3, ..SvdParams::default() }.check().unwrap();
        let e = svd.fit_surprise(&t, |_| {}).unwrap_err();
        assert!(e.epoch >= 1 && e.to_string().contains("lr_bu 5") && e.to_string().contains("0 to 100"), "{e}");
    }

    #[test]
    fn predictions_follow_surprise_for_unknown_ids() {
        let l = small();
        let t = Trainset::new(&l);
        let svd = SvdParams { n_factors: 2, n_epochs: 3, ..SvdParams::default() }.check().unwrap();
        let m = svd.fit_surprise(&t, |_| {}).unwrap();
        let known = m.predict("a", "x");
        assert!(known.user_known && known.item_known && !known.was_impossible);
        let p = m.predict("nobody", "x");
        assert!(!p.user_known && !p.was_impossible);
        assert_eq!(p.est, m.global_mean + m.bi[0]);
        let p = m.predict("nobody", "nothing");
        assert_eq!((p.est, p.was_impossible), (m.global_mean, false));
        let pmf = SvdParams { biased: false, n_factors: 2, n_epochs: 3, ..SvdParams::default() }.check().unwrap();
        let m = pmf.fit_surprise(&t, |_| {}).unwrap();
        assert!(m.predict("nobody", "x").was_impossible);
        assert_eq!(m.bu, [0.0; 3]);
    }

    /// The parameters of a checked SVD check back to it, every override kept.
    #[test]
    fn a_checked_svd_gives_back_its_parameters() {
        let given = [
            SvdParams::default(),
            SvdParams {
                lr_bu: Some(0.2),
                reg_qi: Some(0.5),
                adagrad: true,
                simd: Simd::Native,
                ..SvdParams::default()
            },
            SvdParams { biased: false, n_factors: 7, lr_all: 0.03, reg_all: 0.1, seed: 9, ..SvdParams::default() },
        ];
        for p in given {
            let svd = p.check().unwrap();
            assert_eq!(svd.params(TrainMode::Fast).check().unwrap(), svd, "{p:?}");
        }
    }
}
