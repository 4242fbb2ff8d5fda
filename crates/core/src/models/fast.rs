//! The `fast` training mode: single precision, parallel, deterministic.
//!
//! Ratings are visited in Surprise's order (user by user, each user's ratings in list
//! order), cut into chunks of consecutive users of about [`CHUNK_RATINGS`] ratings, and
//! [`ROUND_CHUNKS`] consecutive chunks form a round. The chunks of a round run in parallel:
//! each updates its own users in place and works on a private copy of the movies it meets,
//! starting from their values at the start of the round. When the round ends, each chunk's
//! changes to those movies are added back, chunk after chunk, in a fixed order. Chunks and
//! rounds depend only on the data, never on the number of threads, so the model is the same,
//! bit for bit, on any number of threads; within a chunk every update sees the previous one,
//! so the fit follows Surprise's closely (a movie's parameters are at most one round stale).
//!
//! The constants were measured on the seed-like data at the default parameters (test RMSE
//! against the `surprise` mode's 14.387): rounds of 2 chunks of 4,096 ratings give 14.380;
//! larger rounds let the stale copies of popular movies add up to overshooting steps
//! (8,192-rating chunks: 14.62; rounds of 4 or 8 chunks of 2,048: divergence). A fixed
//! block schedule as in LibMF's FPSGD, the first design, cuts each user's ratings into
//! pieces and cost 3% of RMSE (14.88 with an 8 × 8 grid).

use rayon::prelude::*;

use crate::data::trainset::Trainset;
use crate::models::svd::{Diverged, Epoch, Factors, Svd, SvdModel, TrainMode, dot32};

/// Ratings per chunk, about: a chunk ends at the first user boundary past it.
pub const CHUNK_RATINGS: usize = 4096;
/// Chunks per round, run in parallel.
pub const ROUND_CHUNKS: usize = 2;

/// Learning rates and regularisation in single precision: `bu`, `bi`, `pu`, `qi`.
#[derive(Clone, Copy)]
struct Rates {
    lr: [f32; 4],
    reg: [f32; 4],
    mu: f32,
    biased: bool,
}

/// One chunk's private copies of the movies it has met this round.
#[derive(Debug)]
struct Local {
    /// Slot of each movie in the copies, `u32::MAX` when not met.
    slot: Vec<u32>,
    /// Movies met, in order of meeting.
    items: Vec<u32>,
    /// Their factors and biases, as updated by the chunk; then, once the chunk is done,
    /// the changes it made (the shared values do not move during the round).
    q: Vec<f32>,
    b: Vec<f32>,
}

impl Local {
    fn new(n_items: usize) -> Local {
        Local { slot: vec![u32::MAX; n_items], items: Vec::new(), q: Vec::new(), b: Vec::new() }
    }

    /// Turns the copies into changes from the round's starting values.
    fn keep_changes_only(&mut self, k: usize, qi: &[f32], bi: &[f32]) {
        for (j, &i) in self.items.iter().enumerate() {
            let i = i as usize;
            for (x, q) in self.q[j * k..(j + 1) * k].iter_mut().zip(&qi[i * k..(i + 1) * k]) {
                *x -= q;
            }
            self.b[j] -= bi[i];
        }
    }

    /// Adds this chunk's changes to the shared parameters and forgets the copies.
    fn merge_into(&mut self, k: usize, qi: &mut [f32], bi: &mut [f32]) {
        for (j, &i) in self.items.iter().enumerate() {
            let i = i as usize;
            for (q, d) in qi[i * k..(i + 1) * k].iter_mut().zip(&self.q[j * k..(j + 1) * k]) {
                *q += d;
            }
            bi[i] += self.b[j];
            self.slot[i] = u32::MAX;
        }
        self.items.clear();
        self.q.clear();
        self.b.clear();
    }
}

/// The ratings of one chunk, user-major, as `(user local to the chunk, item, score)`.
#[derive(Debug, Default)]
struct Chunk {
    first_user: usize,
    n_users: usize,
    user: Vec<u32>,
    item: Vec<u32>,
    score: Vec<f32>,
}

#[allow(clippy::too_many_arguments)]
fn run_chunk(
    chunk: &Chunk,
    local: &mut Local,
    rates: Rates,
    k: usize,
    pu: &mut [f32],
    bu: &mut [f32],
    qi: &[f32],
    bi: &[f32],
) -> f64 {
    let [lr_bu, lr_bi, lr_pu, lr_qi] = rates.lr;
    let [reg_bu, reg_bi, reg_pu, reg_qi] = rates.reg;
    let (keep_pu, keep_qi) = (1.0 - lr_pu * reg_pu, 1.0 - lr_qi * reg_qi);
    let mut squared = 0.0f64;
    for ((&u, &i), &r) in chunk.user.iter().zip(&chunk.item).zip(&chunk.score) {
        let (u, i) = (u as usize, i as usize);
        let mut s = local.slot[i];
        if s == u32::MAX {
            s = local.items.len() as u32;
            local.slot[i] = s;
            local.items.push(i as u32);
            local.q.extend_from_slice(&qi[i * k..(i + 1) * k]);
            local.b.push(bi[i]);
        }
        let s = s as usize;
        let p = &mut pu[u * k..(u + 1) * k];
        let q = &mut local.q[s * k..(s + 1) * k];
        let err = r - (rates.mu + bu[u] + local.b[s] + dot32(p, q));
        squared += f64::from(err * err);
        if rates.biased {
            bu[u] += lr_bu * (err - reg_bu * bu[u]);
            local.b[s] += lr_bi * (err - reg_bi * local.b[s]);
        }
        // pᵤ += lr_pu (e qᵢ - reg_pu pᵤ), rewritten as pᵤ = (1 - lr_pu reg_pu) pᵤ + (lr_pu e) qᵢ:
        // the same update with fewer operations per factor (and other rounding).
        let (ep, eq) = (lr_pu * err, lr_qi * err);
        for (pf, qf) in p.iter_mut().zip(q.iter_mut()) {
            let (puf, qif) = (*pf, *qf);
            *pf = keep_pu * puf + ep * qif;
            *qf = keep_qi * qif + eq * puf;
        }
    }
    local.keep_changes_only(k, qi, bi);
    squared
}

/// Cuts the user-major ratings into chunks at user boundaries.
fn chunks(t: &Trainset<'_>) -> Vec<Chunk> {
    let list = t.list();
    let mut out = Vec::new();
    let mut chunk = Chunk::default();
    for u in 0..t.n_users() {
        if chunk.score.len() >= CHUNK_RATINGS {
            out.push(std::mem::take(&mut chunk));
        }
        if chunk.n_users == 0 {
            chunk.first_user = u;
        }
        for &row in t.user_rows(u) {
            let row = row as usize;
            chunk.user.push(chunk.n_users as u32);
            chunk.item.push(list.movie()[row].0);
            chunk.score.push(list.score()[row] as f32);
        }
        chunk.n_users += 1;
    }
    if chunk.n_users > 0 {
        out.push(chunk);
    }
    out
}

impl Svd {
    /// Fits in the `fast` mode on `threads` threads (0: all available cores). The model is
    /// the same, bit for bit, for any number of threads.
    ///
    /// # Errors
    /// [`Diverged`] as soon as an epoch ends with a parameter that is not finite.
    ///
    /// # Panics
    /// If the thread pool cannot be created.
    pub fn fit_fast(
        &self,
        t: &Trainset<'_>,
        threads: usize,
        mut on_epoch: impl FnMut(Epoch),
    ) -> Result<SvdModel, Diverged> {
        let (n_users, n_items, k) = (t.n_users(), t.n_items(), self.n_factors);
        let list = t.list();
        let chunks = chunks(t);
        // The same initial factors as the `surprise` mode, rounded to single precision.
        let (pu64, qi64) = self.init_factors(n_users, n_items);
        let mut pu: Vec<f32> = pu64.iter().map(|&x| x as f32).collect();
        let mut qi: Vec<f32> = qi64.iter().map(|&x| x as f32).collect();
        drop((pu64, qi64));
        let mut bu = vec![0.0f32; n_users];
        let mut bi = vec![0.0f32; n_items];
        let rates = Rates {
            lr: self.lr.map(|x| x as f32),
            reg: self.reg.map(|x| x as f32),
            mu: if self.biased { t.global_mean() as f32 } else { 0.0 },
            biased: self.biased,
        };
        let mut locals: Vec<Local> = (0..ROUND_CHUNKS.min(chunks.len())).map(|_| Local::new(n_items)).collect();
        // One thread runs the chunks in order on the caller's thread: no pool, so a fit can
        // itself be one task of a parallel search.
        let pool = (threads != 1)
            .then(|| rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool"));
        for epoch in 1..=self.n_epochs {
            let mut squared = 0.0f64;
            for round in chunks.chunks(ROUND_CHUNKS) {
                // Each chunk owns its users' rows of pu and bu.
                let first = round[0].first_user;
                let mut pu_rest = &mut pu[first * k..];
                let mut bu_rest = &mut bu[first..];
                let mut jobs = Vec::with_capacity(round.len());
                for (chunk, local) in round.iter().zip(locals.iter_mut()) {
                    let (p, rest) = std::mem::take(&mut pu_rest).split_at_mut(chunk.n_users * k);
                    let (b, brest) = std::mem::take(&mut bu_rest).split_at_mut(chunk.n_users);
                    pu_rest = rest;
                    bu_rest = brest;
                    jobs.push((chunk, local, p, b));
                }
                let (qi_ref, bi_ref) = (&qi, &bi);
                let run = |(chunk, local, p, b)| run_chunk(chunk, local, rates, k, p, b, qi_ref, bi_ref);
                let sums: Vec<f64> = match &pool {
                    Some(pool) => pool.install(|| jobs.into_par_iter().map(run).collect()),
                    None => jobs.into_iter().map(run).collect(),
                };
                squared += sums.iter().sum::<f64>();
                for local in locals.iter_mut().take(round.len()) {
                    local.merge_into(k, &mut qi, &mut bi);
                }
            }
            crate::models::svd::check_finite(&[("bu", &bu), ("bi", &bi), ("pu", &pu), ("qi", &qi)], squared)
                .map_err(|what| self.diverged(epoch, what, list.scale()))?;
            on_epoch(Epoch { epoch, train_rmse: (squared / t.n_ratings() as f64).sqrt() });
        }
        Ok(SvdModel {
            svd: *self,
            mode: TrainMode::Fast,
            scale: list.scale(),
            global_mean: t.global_mean(),
            users: list.users().clone(),
            items: list.movies().clone(),
            bu: bu.iter().map(|&x| f64::from(x)).collect(),
            bi: bi.iter().map(|&x| f64::from(x)).collect(),
            factors: Factors::F32 { pu, qi },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::scale::RatingScale;
    use crate::data::synthetic::{SyntheticConfig, generate};
    use crate::models::svd::SvdParams;

    #[test]
    fn chunks_cover_every_rating_at_user_boundaries() {
        let data = generate(&SyntheticConfig { seed: 6, scale: 0.05, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        let t = Trainset::new(&data.ratings);
        let c = chunks(&t);
        assert!(c.len() > ROUND_CHUNKS);
        assert_eq!(c.iter().map(|c| c.score.len()).sum::<usize>(), t.n_ratings());
        assert_eq!(c.iter().map(|c| c.n_users).sum::<usize>(), t.n_users());
        assert!(c.windows(2).all(|w| w[0].first_user + w[0].n_users == w[1].first_user));
    }

    #[test]
    fn same_model_for_any_number_of_threads() {
        let data = generate(&SyntheticConfig { seed: 6, scale: 0.05, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        let t = Trainset::new(&data.ratings);
        let svd = SvdParams { n_factors: 12, n_epochs: 4, ..SvdParams::default() }.check().unwrap();
        let one = svd.fit_fast(&t, 1, |_| {}).unwrap();
        let two = svd.fit_fast(&t, 2, |_| {}).unwrap();
        let five = svd.fit_fast(&t, 5, |_| {}).unwrap();
        assert!(one == two && two == five, "the fast mode depends on the number of threads");
    }
}
