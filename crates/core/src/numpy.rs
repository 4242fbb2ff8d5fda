//! numpy's legacy algorithms that Surprise's results depend on: the `RandomState` generator
//! (MT19937, 53-bit doubles, polar Box–Muller normals, Fisher–Yates shuffles) and the
//! pairwise summation behind `np.mean`.
//!
//! Every seeded choice in movierec draws from [`RandomState`], so outputs depend on the
//! seed alone and never change with a dependency upgrade. The algorithms follow numpy's
//! legacy MT19937 (`init_genrand` seeding, 53-bit doubles, `legacy_gauss`, the masked
//! `random_interval` of `shuffle`) and its float64 `pairwise_sum`;
//! `tests/reference.rs` checks them against numpy itself.

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER_MASK: u32 = 0x8000_0000;
const LOWER_MASK: u32 = 0x7fff_ffff;

/// numpy's legacy `np.random.RandomState`, seeded with an integer.
#[derive(Clone)]
pub struct RandomState {
    key: [u32; N],
    /// The state's values tempered, computed all at once at each twist (the loops then run
    /// on vector instructions); `out[pos]` is the next output.
    out: [u32; N],
    pos: usize,
    gauss: Option<f64>,
}

impl std::fmt::Debug for RandomState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RandomState").field("pos", &self.pos).finish_non_exhaustive()
    }
}

/// Pairs of the polar method, one array per coordinate (so that loops over them vectorise).
struct Pairs<const B: usize> {
    x1: [f64; B],
    x2: [f64; B],
    r2: [f64; B],
}

/// `random_sample()` from its two 32-bit draws.
#[inline(always)]
fn uniform(a: u32, b: u32) -> f64 {
    (f64::from(a >> 5) * 67_108_864.0 + f64::from(b >> 6)) / 9_007_199_254_740_992.0
}

/// Whether the polar method keeps a pair of squared norm `r2`: inside the unit circle, not at
/// its centre.
#[inline(always)]
fn polar_accepts(r2: f64) -> bool {
    r2 < 1.0 && r2 != 0.0
}

/// What the polar method multiplies a kept pair by to make two standard normals.
#[inline(always)]
fn polar_factor(r2: f64) -> f64 {
    polar_root(r2.ln(), r2)
}

/// [`polar_factor`] of `r2` from its logarithm `ln_r2`.
#[inline(always)]
fn polar_root(ln_r2: f64, r2: f64) -> f64 {
    (-2.0 * ln_r2 / r2).sqrt()
}

impl RandomState {
    /// `np.random.RandomState(seed)`: MT19937's `init_genrand(seed)`.
    pub fn new(seed: u32) -> RandomState {
        let mut key = [0u32; N];
        key[0] = seed;
        for k in 1..N {
            let prev = key[k - 1];
            key[k] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(k as u32);
        }
        RandomState { key, out: [0; N], pos: N, gauss: None }
    }

    /// The next 624 values of the state.
    fn twist(&mut self) {
        self.twist_here();
    }

    /// [`RandomState::twist`] inlined (so that it is compiled for the caller's instructions):
    /// `key[i]` from `key[i]`, `key[i + 1]` and `key[i + M]`, indices modulo `N`, in order
    /// (so the last values read the new first ones).
    #[inline(always)]
    fn twist_here(&mut self) {
        #[inline(always)]
        fn next(this: u32, following: u32, far: u32) -> u32 {
            let y = (this & UPPER_MASK) | (following & LOWER_MASK);
            far ^ (y >> 1) ^ (0u32.wrapping_sub(y & 1) & MATRIX_A)
        }
        let key = &mut self.key;
        // Three runs, so that no index needs a modulo: `i + M` within the array, `i + M`
        // wrapped to the start (already new), and the last value, whose next is the new first.
        for i in 0..N - M {
            key[i] = next(key[i], key[i + 1], key[i + M]);
        }
        for i in N - M..N - 1 {
            key[i] = next(key[i], key[i + 1], key[i + M - N]);
        }
        key[N - 1] = next(key[N - 1], key[0], key[M - 1]);
        for (o, &k) in self.out.iter_mut().zip(key.iter()) {
            let mut y = k;
            y ^= y >> 11;
            y ^= (y << 7) & 0x9d2c_5680;
            y ^= (y << 15) & 0xefc6_0000;
            *o = y ^ (y >> 18);
        }
        self.pos = 0;
    }

    /// The next tempered 32-bit output of MT19937.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        if self.pos == N {
            self.twist();
        }
        let y = self.out[self.pos];
        self.pos += 1;
        y
    }

    /// `random_sample()`: a double in `[0, 1)` from two 32-bit draws (53 random bits).
    pub fn random_sample(&mut self) -> f64 {
        let a = self.next_u32();
        uniform(a, self.next_u32())
    }

    /// `standard_normal()` as the legacy generator draws it: polar Box–Muller, returning the
    /// cached second value of the previous pair first.
    pub fn gauss(&mut self) -> f64 {
        if let Some(g) = self.gauss.take() {
            return g;
        }
        loop {
            let (x1, x2, r2) = self.polar_candidate();
            if polar_accepts(r2) {
                let f = polar_factor(r2);
                self.gauss = Some(f * x1);
                return f * x2;
            }
        }
    }

    /// A candidate pair of the polar method: two uniforms in `[-1, 1)` and their squared norm.
    #[inline(always)]
    fn polar_candidate(&mut self) -> (f64, f64, f64) {
        let x1 = 2.0 * self.random_sample() - 1.0;
        let x2 = 2.0 * self.random_sample() - 1.0;
        (x1, x2, x1 * x1 + x2 * x2)
    }

    /// `normal(loc, scale)`: `loc + scale * gauss()`.
    pub fn normal(&mut self, loc: f64, scale: f64) -> f64 {
        loc + scale * self.gauss()
    }

    /// `out.len()` draws of `normal(loc, scale)`, the same values as calling it that many
    /// times, about twice as fast: a batch of pairs is drawn (the generator's sequential
    /// part), then their logarithms taken, then the rest of the transform done on the whole
    /// batch at once (divisions, roots and products in vector instructions, as exactly
    /// rounded as one at a time), so no step waits on the one before.
    pub fn fill_normal(&mut self, loc: f64, scale: f64, out: &mut [f64]) {
        // Compiled for the CPU's widest vectors as well, chosen at run time (every step is
        // exactly rounded and none is fused, so every path gives the same bits).
        struct Fill<'a> {
            rng: &'a mut RandomState,
            loc: f64,
            scale: f64,
            out: &'a mut [f64],
        }
        impl pulp::WithSimd for Fill<'_> {
            type Output = ();
            #[inline(always)]
            fn with_simd<S: pulp::Simd>(self, _: S) {
                self.rng.fill_normal_here(self.loc, self.scale, self.out);
            }
        }
        pulp::Arch::new().dispatch(Fill { rng: self, loc, scale, out });
    }

    /// [`RandomState::fill_normal`], inlined into the instructions chosen.
    #[inline(always)]
    fn fill_normal_here(&mut self, loc: f64, scale: f64, out: &mut [f64]) {
        const BATCH: usize = 256;
        let out = match (self.gauss, out.split_first_mut()) {
            (Some(g), Some((first, rest))) => {
                *first = loc + scale * g;
                self.gauss = None;
                rest
            }
            _ => out,
        };
        // Accepted pairs (x1, x2, r2); each gives two values, x2's first.
        let mut pairs = Pairs { x1: [0.0; BATCH], x2: [0.0; BATCH], r2: [0.0; BATCH] };
        let mut f = [0.0f64; BATCH];
        for chunk in out.chunks_mut(2 * BATCH) {
            let n = chunk.len().div_ceil(2);
            self.accepted_pairs(&mut pairs, n);
            // `polar_factor` in two loops: the logarithms (libm's, one call each), then
            // `polar_root`, which vectorises.
            for (f, &r2) in f[..n].iter_mut().zip(&pairs.r2) {
                *f = r2.ln();
            }
            for (f, &r2) in f[..n].iter_mut().zip(&pairs.r2) {
                *f = polar_root(*f, r2);
            }
            let whole = chunk.len() / 2;
            for (j, two) in chunk.chunks_exact_mut(2).enumerate() {
                two[0] = loc + scale * (f[j] * pairs.x2[j]);
                two[1] = loc + scale * (f[j] * pairs.x1[j]);
            }
            if let Some(last) = chunk.chunks_exact_mut(2).into_remainder().first_mut() {
                *last = loc + scale * (f[whole] * pairs.x2[whole]);
                self.gauss = Some(f[whole] * pairs.x1[whole]);
            }
        }
    }

    /// The polar method's next `n` accepted candidates, in order, into the first `n` of
    /// `pairs`. Each candidate takes four 32-bit draws: those left in the generator's block
    /// are turned into candidates all at once (a loop the compiler vectorises), and the
    /// accepted ones kept in order until there are enough; the generator then stands after
    /// the last one kept.
    #[inline(always)]
    fn accepted_pairs<const B: usize>(&mut self, pairs: &mut Pairs<B>, n: usize) {
        let mut kept = 0;
        let keep = |pairs: &mut Pairs<B>, kept: &mut usize, (x1, x2, r2): (f64, f64, f64)| {
            pairs.x1[*kept] = x1;
            pairs.x2[*kept] = x2;
            pairs.r2[*kept] = r2;
            *kept += usize::from(polar_accepts(r2));
        };
        while kept < n {
            if self.pos == N {
                self.twist_here();
            }
            if self.pos + 4 > N {
                // A candidate across a twist: one at a time.
                let candidate = self.polar_candidate();
                keep(pairs, &mut kept, candidate);
                continue;
            }
            let words = &self.out[self.pos..];
            let m = words.len() / 4;
            let (mut x1, mut x2, mut r2) = ([0.0f64; N / 4], [0.0f64; N / 4], [0.0f64; N / 4]);
            for (c, w) in words.chunks_exact(4).enumerate() {
                x1[c] = 2.0 * uniform(w[0], w[1]) - 1.0;
                x2[c] = 2.0 * uniform(w[2], w[3]) - 1.0;
                r2[c] = x1[c] * x1[c] + x2[c] * x2[c];
            }
            let mut used = 0;
            while used < m && kept < n {
                keep(pairs, &mut kept, (x1[used], x2[used], r2[used]));
                used += 1;
            }
            self.pos += 4 * used;
        }
    }

    /// A uniform integer in `0..=max` by masked rejection, as numpy's `random_interval`.
    pub fn interval(&mut self, max: u32) -> u32 {
        if max == 0 {
            return 0;
        }
        let mut mask = max;
        mask |= mask >> 1;
        mask |= mask >> 2;
        mask |= mask >> 4;
        mask |= mask >> 8;
        mask |= mask >> 16;
        loop {
            let v = self.next_u32() & mask;
            if v <= max {
                return v;
            }
        }
    }

    /// `shuffle(x)` of a one-dimensional array: Fisher–Yates from the end.
    ///
    /// # Panics
    /// If `x` has more than `u32::MAX + 1` elements (numpy then draws 64-bit intervals).
    pub fn shuffle<T>(&mut self, x: &mut [T]) {
        assert!(x.len() <= u32::MAX as usize + 1, "shuffle of more than 2^32 elements");
        for i in (1..x.len()).rev() {
            let j = self.interval(i as u32) as usize;
            x.swap(i, j);
        }
    }

    /// `permutation(n)`: a shuffled `0..n`.
    pub fn permutation(&mut self, n: usize) -> Vec<u32> {
        let mut v: Vec<u32> = (0..n as u32).collect();
        self.shuffle(&mut v);
        v
    }
}

/// numpy's `pairwise_sum` for float64: blocks of at most 128 values summed with eight
/// interleaved accumulators, longer runs split in two at a multiple of eight.
pub fn pairwise_sum(a: &[f64]) -> f64 {
    let n = a.len();
    if n < 8 {
        let mut res = 0.0;
        for &x in a {
            res += x;
        }
        res
    } else if n <= 128 {
        let mut r = [0.0f64; 8];
        r.copy_from_slice(&a[..8]);
        let mut i = 8;
        while i < n - n % 8 {
            for j in 0..8 {
                r[j] += a[i + j];
            }
            i += 8;
        }
        let mut res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        while i < n {
            res += a[i];
            i += 1;
        }
        res
    } else {
        let mut n2 = n / 2;
        n2 -= n2 % 8;
        pairwise_sum(&a[..n2]) + pairwise_sum(&a[n2..])
    }
}

/// `np.mean` of a float64 array: the pairwise sum divided by the length (NaN when empty).
pub fn mean(a: &[f64]) -> f64 {
    pairwise_sum(a) / a.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mt19937_matches_the_reference_output() {
        // The reference implementation's first output for init_genrand(5489).
        let mut rs = RandomState::new(5489);
        assert_eq!(rs.next_u32(), 3_499_211_612);
        // numpy: np.random.RandomState(0).randint(0, 2**32, dtype=np.uint64) draws
        // next_u32 directly for this range; RandomState(0)'s first word is 2357136044.
        let mut rs = RandomState::new(0);
        assert_eq!(rs.next_u32(), 2_357_136_044);
    }

    #[test]
    fn random_sample_matches_numpy_for_seed_zero() {
        // np.random.RandomState(0).random_sample() == 0.5488135039273248
        let mut rs = RandomState::new(0);
        assert_eq!(rs.random_sample(), 0.548_813_503_927_324_8);
    }

    #[test]
    fn normal_caches_the_second_value() {
        let mut a = RandomState::new(7);
        let first = a.gauss();
        let cached = a.gauss();
        let mut b = RandomState::new(7);
        assert_eq!(b.gauss(), first);
        // The second call consumed no random words: the next pair starts at the same state.
        let mut c = b.clone();
        assert_eq!(c.gauss(), cached);
        assert_ne!(first, cached);
    }

    #[test]
    fn fill_normal_draws_what_normal_draws_one_by_one() {
        // Lengths around the batch of 256 pairs, odd and even, over several of the generator's
        // blocks, from a fresh generator, from one holding the second value of a pair, and from
        // ones whose next candidate starts 1 or 3 words into a group of four.
        for n in [0, 1, 2, 3, 511, 512, 513, 1500, 5000] {
            for (cached, words) in [(false, 0), (true, 0), (false, 1), (false, 3)] {
                let (mut a, mut b) = (RandomState::new(7), RandomState::new(7));
                if cached {
                    assert_eq!(a.gauss(), b.gauss());
                }
                for _ in 0..words {
                    assert_eq!(a.next_u32(), b.next_u32());
                }
                let one_by_one: Vec<f64> = (0..n).map(|_| a.normal(0.1, 0.3)).collect();
                let mut batch = vec![0.0; n];
                b.fill_normal(0.1, 0.3, &mut batch);
                assert_eq!(one_by_one, batch, "{n} draws, cached {cached}, {words} words");
                // The generators are left in the same state, a cached value included.
                assert_eq!(
                    (a.gauss(), a.next_u32()),
                    (b.gauss(), b.next_u32()),
                    "{n} draws, cached {cached}, {words} words"
                );
            }
        }
    }

    #[test]
    fn permutation_is_a_permutation() {
        let mut rs = RandomState::new(3);
        let mut p = rs.permutation(1000);
        assert_ne!(p, (0..1000).collect::<Vec<u32>>());
        p.sort_unstable();
        assert_eq!(p, (0..1000).collect::<Vec<u32>>());
    }

    #[test]
    fn pairwise_sum_differs_from_naive_only_in_rounding() {
        let v: Vec<f64> = (0..10_000).map(|i| (i as f64).sqrt() * 0.1).collect();
        let naive: f64 = v.iter().sum();
        assert!((pairwise_sum(&v) - naive).abs() < 1e-9);
        assert_eq!(pairwise_sum(&[1.0, 2.0, 3.0]), 6.0);
        assert!(mean(&[]).is_nan());
    }
}
