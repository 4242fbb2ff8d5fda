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
//!
//! Each update runs on the CPU's best vector instructions, chosen at run time
//! ([`crate::models::simd`]): eight lanes with fused multiply-adds on x86-64 with AVX2 and
//! FMA. Factor rows are padded with zeros to whole vectors and start on cache-line
//! boundaries, so no vector straddles two lines and no row ends in a scalar tail.

use rayon::prelude::*;

use crate::data::trainset::Trainset;
use crate::models::simd::{Isa, Vectorized, dot, madd, madd1};
use crate::models::svd::{Diverged, Epoch, Factors, Svd, SvdModel, TrainMode};

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

/// One chunk's private copies of the movies it has met this round. Each array is
/// [`Aligned`], whole cache lines of its own: two chunks' arrays side by side in memory would
/// share a line at their ends, and each write to it by one thread would evict the other's
/// copy (this false sharing made each of two threads 40% slower).
#[derive(Debug)]
struct Local {
    /// Slot of each movie in the copies, `u32::MAX` when not met.
    slot: Aligned<u32>,
    /// Movies met, in order of meeting: the first `met`.
    items: Aligned<u32>,
    met: usize,
    /// Their factors and biases, as updated by the chunk; then, once the chunk is done,
    /// the changes it made (the shared values do not move during the round).
    q: Aligned<f32>,
    b: Aligned<f32>,
}

impl Local {
    fn new(n_items: usize, k: usize) -> Local {
        let mut slot = Aligned::zeros(n_items);
        slot.get_mut().fill(u32::MAX);
        Local {
            slot,
            items: Aligned::zeros(n_items),
            met: 0,
            q: Aligned::zeros(n_items * k),
            b: Aligned::zeros(n_items),
        }
    }

    /// Turns the copies into changes from the round's starting values.
    fn keep_changes_only(&mut self, k: usize, qi: &[f32], bi: &[f32]) {
        let (q, b) = (self.q.get_mut(), self.b.get_mut());
        for (j, &i) in self.items.get()[..self.met].iter().enumerate() {
            let i = i as usize;
            for (x, q) in q[j * k..(j + 1) * k].iter_mut().zip(&qi[i * k..(i + 1) * k]) {
                *x -= q;
            }
            b[j] -= bi[i];
        }
    }

    /// Adds this chunk's changes to the shared parameters and forgets the copies.
    fn merge_into(&mut self, k: usize, qi: &mut [f32], bi: &mut [f32]) {
        let (q, b, slot) = (self.q.get(), self.b.get(), self.slot.get_mut());
        for (j, &i) in self.items.get()[..self.met].iter().enumerate() {
            let i = i as usize;
            for (x, d) in qi[i * k..(i + 1) * k].iter_mut().zip(&q[j * k..(j + 1) * k]) {
                *x += d;
            }
            bi[i] += b[j];
            slot[i] = u32::MAX;
        }
        self.met = 0;
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

/// One chunk's pass: the ratings in order, each an SGD step on its user's row of `pu`, `bu`
/// and the chunk's copy of its movie's.
struct ChunkPass<'a> {
    chunk: &'a Chunk,
    local: &'a mut Local,
    rates: Rates,
    k: usize,
    pu: &'a mut [f32],
    bu: &'a mut [f32],
    qi: &'a [f32],
    bi: &'a [f32],
}

impl Vectorized for ChunkPass<'_> {
    /// The sum of the squared errors, each measured before its update.
    type Output = f64;

    #[inline(always)]
    fn run<S: pulp::Simd, const FUSED: bool>(self, s: S) -> f64 {
        let ChunkPass { chunk, local, rates, k, pu, bu, qi, bi } = self;
        let [lr_bu, lr_bi, lr_pu, lr_qi] = rates.lr;
        let [reg_bu, reg_bi, reg_pu, reg_qi] = rates.reg;
        let (keep_pu, keep_qi) = (1.0 - lr_pu * reg_pu, 1.0 - lr_qi * reg_qi);
        let (keep_p, keep_q) = (s.splat_f32s(keep_pu), s.splat_f32s(keep_qi));
        let mut squared = 0.0f64;
        let mut met = local.met;
        let (slots, items, qs, bs) =
            (local.slot.get_mut(), local.items.get_mut(), local.q.get_mut(), local.b.get_mut());
        for ((&u, &i), &r) in chunk.user.iter().zip(&chunk.item).zip(&chunk.score) {
            let (u, i) = (u as usize, i as usize);
            let mut slot = slots[i] as usize;
            if slots[i] == u32::MAX {
                // First met this round: a copy of the movie's values.
                slot = met;
                met += 1;
                slots[i] = slot as u32;
                items[slot] = i as u32;
                qs[slot * k..(slot + 1) * k].copy_from_slice(&qi[i * k..(i + 1) * k]);
                bs[slot] = bi[i];
            }
            let p = &mut pu[u * k..(u + 1) * k];
            let q = &mut qs[slot * k..(slot + 1) * k];
            let err = r - (rates.mu + bu[u] + bs[slot] + dot::<S, FUSED>(s, p, q));
            squared += f64::from(err * err);
            if rates.biased {
                bu[u] += lr_bu * (err - reg_bu * bu[u]);
                bs[slot] += lr_bi * (err - reg_bi * bs[slot]);
            }
            // pᵤ += lr_pu (e qᵢ - reg_pu pᵤ), rewritten as pᵤ = (1 - lr_pu reg_pu) pᵤ + (lr_pu e) qᵢ:
            // the same update with fewer operations per factor (and other rounding).
            let (ep, eq) = (lr_pu * err, lr_qi * err);
            let (epv, eqv) = (s.splat_f32s(ep), s.splat_f32s(eq));
            let (ph, pt) = S::as_mut_simd_f32s(p);
            let (qh, qt) = S::as_mut_simd_f32s(q);
            for (pv, qv) in ph.iter_mut().zip(qh.iter_mut()) {
                let (pf, qf) = (*pv, *qv);
                *pv = madd::<S, FUSED>(s, keep_p, pf, s.mul_f32s(epv, qf));
                *qv = madd::<S, FUSED>(s, keep_q, qf, s.mul_f32s(eqv, pf));
            }
            for (pf, qf) in pt.iter_mut().zip(qt.iter_mut()) {
                let (puf, qif) = (*pf, *qf);
                *pf = madd1::<FUSED>(keep_pu, puf, ep * qif);
                *qf = madd1::<FUSED>(keep_qi, qif, eq * puf);
            }
        }
        local.met = met;
        local.keep_changes_only(k, qi, bi);
        squared
    }
}

/// Values whose first is on a 64-byte boundary and whose last line is theirs alone: rows of
/// whole vectors never straddle two cache lines (an allocation is only 16-byte aligned), and
/// no other allocation shares a line with them. The buffer never grows, so it never moves.
#[derive(Debug)]
struct Aligned<T> {
    buf: Vec<T>,
    start: usize,
    len: usize,
}

impl<T: Copy + Default> Aligned<T> {
    fn zeros(len: usize) -> Aligned<T> {
        let line = 64 / std::mem::size_of::<T>();
        // Up to a line to reach the boundary, and a line after the last value.
        let buf = vec![T::default(); len + 2 * line];
        let start = (buf.as_ptr() as usize).wrapping_neg() % 64 / std::mem::size_of::<T>();
        Aligned { buf, start, len }
    }

    fn get(&self) -> &[T] {
        &self.buf[self.start..self.start + self.len]
    }

    fn get_mut(&mut self) -> &mut [T] {
        &mut self.buf[self.start..self.start + self.len]
    }
}

/// Factor rows are padded to a multiple of this many: whole vectors of eight lanes (AVX2),
/// of four (SSE2, NEON) too.
const PAD: usize = 8;

/// The rows of `k` values of `x`, in single precision, each padded with zeros to `padded`,
/// written straight into their aligned buffer.
fn padded(x: &[f64], k: usize, padded: usize) -> Aligned<f32> {
    let mut out = Aligned::zeros(x.len() / k * padded);
    for (row, from) in out.get_mut().chunks_exact_mut(padded).zip(x.chunks_exact(k)) {
        for (o, &v) in row.iter_mut().zip(from) {
            *o = v as f32;
        }
    }
    out
}

/// The first `k` values of each row of `padded` values.
fn unpadded(x: &[f32], padded: usize, k: usize) -> Vec<f32> {
    x.chunks_exact(padded).flat_map(|row| &row[..k]).copied().collect()
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
    /// Fits in the `fast` mode on `threads` threads (0: all available cores), on the CPU's
    /// best vector instructions (unless `MOVIEREC_SIMD=baseline`: [`Isa`]). The model is the
    /// same, bit for bit, for any number of threads.
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
        on_epoch: impl FnMut(Epoch),
    ) -> Result<SvdModel, Diverged> {
        self.fit_fast_on(Isa::from_env(), t, threads, on_epoch)
    }

    /// [`Svd::fit_fast`] on the instructions `isa`.
    ///
    /// # Errors
    /// [`Diverged`] as soon as an epoch ends with a parameter that is not finite.
    ///
    /// # Panics
    /// If the thread pool cannot be created.
    pub fn fit_fast_on(
        &self,
        isa: Isa,
        t: &Trainset<'_>,
        threads: usize,
        mut on_epoch: impl FnMut(Epoch),
    ) -> Result<SvdModel, Diverged> {
        let (n_users, n_items, n_factors) = (t.n_users(), t.n_items(), self.n_factors);
        let list = t.list();
        let chunks = chunks(t);
        // The same initial factors as the `surprise` mode, rounded to single precision, each
        // row padded with zeros to whole vectors (the zeros stay zeros: they add nothing to a
        // dot product, and an update scales them and adds zero times the other's).
        let k = n_factors.next_multiple_of(PAD);
        let (pu64, qi64) = self.init_factors(n_users, n_items);
        let mut pu_buf = padded(&pu64, n_factors, k);
        let mut qi_buf = padded(&qi64, n_factors, k);
        let (pu, qi) = (pu_buf.get_mut(), qi_buf.get_mut());
        drop((pu64, qi64));
        // Each chunk's user biases in lines of their own (see `Local`).
        let mut bus: Vec<Aligned<f32>> = chunks.iter().map(|c| Aligned::zeros(c.n_users)).collect();
        let mut bi = vec![0.0f32; n_items];
        let rates = Rates {
            lr: self.lr.map(|x| x as f32),
            reg: self.reg.map(|x| x as f32),
            mu: if self.biased { t.global_mean() as f32 } else { 0.0 },
            biased: self.biased,
        };
        let mut locals: Vec<Local> = (0..ROUND_CHUNKS.min(chunks.len())).map(|_| Local::new(n_items, k)).collect();
        // One thread runs the chunks in order on the caller's thread: no pool, so a fit can
        // itself be one task of a parallel search.
        let pool = (threads != 1)
            .then(|| rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool"));
        let parallel = pool.is_some();
        // One epoch, every round in order; on the pool when there is one (entered once an
        // epoch, not once a round: a round is a few hundred microseconds).
        let epoch_pass =
            |pu: &mut [f32], bus: &mut [Aligned<f32>], qi: &mut [f32], bi: &mut [f32], locals: &mut [Local]| {
                let mut squared = 0.0f64;
                for (round, bus) in chunks.chunks(ROUND_CHUNKS).zip(bus.chunks_mut(ROUND_CHUNKS)) {
                    // Each chunk owns its users' rows of pu and its biases.
                    let first = round[0].first_user;
                    let mut pu_rest = &mut pu[first * k..];
                    let mut jobs = Vec::with_capacity(round.len());
                    for ((chunk, local), b) in round.iter().zip(locals.iter_mut()).zip(bus) {
                        let (p, rest) = std::mem::take(&mut pu_rest).split_at_mut(chunk.n_users * k);
                        pu_rest = rest;
                        jobs.push((chunk, local, p, b.get_mut()));
                    }
                    let (qi_ref, bi_ref): (&[f32], &[f32]) = (qi, bi);
                    let run = |(chunk, local, pu, bu)| {
                        isa.run(ChunkPass { chunk, local, rates, k, pu, bu, qi: qi_ref, bi: bi_ref })
                    };
                    let sums: Vec<f64> = if parallel {
                        jobs.into_par_iter().map(run).collect()
                    } else {
                        jobs.into_iter().map(run).collect()
                    };
                    squared += sums.iter().sum::<f64>();
                    for local in locals.iter_mut().take(round.len()) {
                        local.merge_into(k, qi, bi);
                    }
                }
                squared
            };
        for epoch in 1..=self.n_epochs {
            let squared = match &pool {
                Some(pool) => pool.install(|| epoch_pass(pu, &mut bus, qi, &mut bi, &mut locals)),
                None => epoch_pass(pu, &mut bus, qi, &mut bi, &mut locals),
            };
            let bu: Vec<f32> = bus.iter().flat_map(|b| b.get().iter().copied()).collect();
            crate::models::svd::check_finite(&[("bu", &bu), ("bi", &bi), ("pu", pu), ("qi", qi)], squared)
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
            bu: bus.iter().flat_map(|b| b.get().iter().map(|&x| f64::from(x))).collect(),
            bi: bi.iter().map(|&x| f64::from(x)).collect(),
            factors: Factors::F32 { pu: unpadded(pu, k, n_factors), qi: unpadded(qi, k, n_factors) },
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
    fn rows_are_padded_to_whole_vectors_on_cache_lines() {
        let x: Vec<f64> = (0..30).map(f64::from).collect();
        let p = padded(&x, 10, 16);
        assert_eq!(p.get().as_ptr() as usize % 64, 0);
        let p = p.get();
        assert_eq!((p.len(), &p[10..16], p[16]), (48, &[0.0f32; 6][..], 10.0));
        assert_eq!(unpadded(p, 16, 10), x.iter().map(|&v| v as f32).collect::<Vec<_>>());
        for len in [1, 7, 100] {
            let mut a = Aligned::zeros(len);
            a.get_mut().fill(1.5);
            assert_eq!(a.get().as_ptr() as usize % 64, 0);
            assert_eq!(a.get_mut().len(), len);
            assert!(a.get().iter().all(|&v| v == 1.5));
        }
    }

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
    fn same_model_for_any_number_of_threads_on_either_instruction_set() {
        let data = generate(&SyntheticConfig { seed: 6, scale: 0.05, ..SyntheticConfig::default() }, RatingScale::SEED)
            .unwrap();
        let t = Trainset::new(&data.ratings);
        // 20 factors: two and a half vectors of eight lanes, so the tails are exercised too.
        let svd = SvdParams { n_factors: 20, n_epochs: 4, ..SvdParams::default() }.check().unwrap();
        let (mut rmse, mut models) = (Vec::new(), Vec::new());
        for isa in [Isa::Best, Isa::Baseline] {
            let mut last = 0.0;
            let one = svd.fit_fast_on(isa, &t, 1, |e| last = e.train_rmse).unwrap();
            for threads in [2, 3, 8, 16] {
                let other = svd.fit_fast_on(isa, &t, threads, |_| {}).unwrap();
                assert!(one == other, "{isa:?}: {threads} threads give another model than one");
            }
            rmse.push(last);
            models.push(one);
        }
        // The instruction sets differ by rounding only; where the CPU has fused multiply-adds,
        // they do differ (the vector path ran).
        assert!(rmse[0].is_finite() && (rmse[0] - rmse[1]).abs() < 1e-4 * rmse[1], "{rmse:?}");
        if Isa::Best.name() == "avx2+fma" {
            assert!(models[0] != models[1], "AVX2 with FMA gave the baseline's bits");
        }
    }
}
