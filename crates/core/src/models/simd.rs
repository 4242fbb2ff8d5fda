//! Vector instructions chosen at run time, for the loops over factor vectors (implicit ALS's
//! solves, the `fast` SVD's updates), through `pulp`: no `unsafe` here.
//!
//! [`Isa::Best`]: on x86-64 CPUs with AVX-512 (most servers since 2017), sixteen lanes with
//! fused multiply-adds; with AVX2 and FMA (most CPUs since 2013), eight; elsewhere the widest
//! the CPU has (`pulp`'s dispatch: the baseline's SSE2 on the oldest x86-64, NEON on aarch64)
//! with separate multiplies and adds. [`Isa::Avx2`]: at most AVX2 and FMA. [`Isa::Baseline`]:
//! the portable path on every CPU. `MOVIEREC_SIMD=avx2` or `MOVIEREC_SIMD=baseline` in the
//! environment chooses the latter two (to check a model on a machine without AVX-512 or AVX2,
//! or to compare bits between machines). The order of every sum is fixed per instruction set,
//! so on one machine a model is the same bits for any number of threads; between instruction
//! sets it differs by rounding (the tests bound it).

/// Which instructions the vector loops use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// The CPU's best: AVX-512, or AVX2 with fused multiply-adds, where present.
    Best,
    /// At most AVX2 with fused multiply-adds (the portable path on CPUs without them).
    Avx2,
    /// The baseline instructions, without fused multiply-adds, on every CPU.
    Baseline,
}

/// What an [`Isa`] runs on this machine.
enum Chosen {
    #[cfg(target_arch = "x86_64")]
    V4(pulp::x86::V4),
    #[cfg(target_arch = "x86_64")]
    V3(pulp::x86::V3),
    /// `pulp`'s own dispatch, without fused multiply-adds.
    Portable,
    Baseline,
}

impl Isa {
    /// `Baseline` or `Avx2` when the environment has `MOVIEREC_SIMD=baseline` or
    /// `MOVIEREC_SIMD=avx2`, else `Best`.
    pub fn from_env() -> Isa {
        match std::env::var("MOVIEREC_SIMD").as_deref() {
            Ok("baseline") => Isa::Baseline,
            Ok("avx2") => Isa::Avx2,
            _ => Isa::Best,
        }
    }

    /// The one place the choice is made.
    #[inline(always)]
    fn chosen(self) -> Chosen {
        #[cfg(target_arch = "x86_64")]
        {
            if self == Isa::Best
                && let Some(simd) = pulp::x86::V4::try_new()
            {
                return Chosen::V4(simd);
            }
            if self != Isa::Baseline
                && let Some(simd) = pulp::x86::V3::try_new()
            {
                return Chosen::V3(simd);
            }
        }
        match self {
            Isa::Baseline => Chosen::Baseline,
            _ => Chosen::Portable,
        }
    }

    /// What this machine runs for `self`: `avx512`, `avx2+fma`, `best` (`pulp`'s choice
    /// without fused multiply-adds), or `baseline` (the portable code, which the compiler
    /// vectorises for the target's baseline).
    pub fn name(self) -> &'static str {
        match self.chosen() {
            #[cfg(target_arch = "x86_64")]
            Chosen::V4(_) => "avx512",
            #[cfg(target_arch = "x86_64")]
            Chosen::V3(_) => "avx2+fma",
            Chosen::Portable if !matches!(pulp::Arch::new(), pulp::Arch::Scalar) => "best",
            Chosen::Portable | Chosen::Baseline => "baseline",
        }
    }

    /// Lanes of the widest vectors `self` runs here, at least 8: rows padded to a multiple
    /// of it are whole vectors on every path (the narrower ones have 4 lanes or 1).
    pub(crate) fn lanes(self) -> usize {
        match self.chosen() {
            #[cfg(target_arch = "x86_64")]
            Chosen::V4(_) => 16,
            _ => 8,
        }
    }

    /// Runs `op` on these instructions.
    #[inline(always)]
    pub(crate) fn run<Op: Vectorized>(self, op: Op) -> Op::Output {
        match self.chosen() {
            #[cfg(target_arch = "x86_64")]
            Chosen::V4(simd) => pulp::Simd::vectorize(simd, Lanes::<Op, true>(op)),
            #[cfg(target_arch = "x86_64")]
            Chosen::V3(simd) => pulp::Simd::vectorize(simd, Lanes::<Op, true>(op)),
            Chosen::Portable => pulp::Arch::new().dispatch(Lanes::<Op, false>(op)),
            Chosen::Baseline => pulp::WithSimd::with_simd(Lanes::<Op, false>(op), pulp::Scalar),
        }
    }
}

/// A loop written once for any vector width `S`, with fused multiply-adds or not.
pub(crate) trait Vectorized {
    type Output;

    /// Runs on `s`. Must be `#[inline(always)]`, as every function it calls with `S`: only
    /// inlined code is compiled for the instruction set `pulp` chose.
    fn run<S: pulp::Simd, const FUSED: bool>(self, s: S) -> Self::Output;
}

/// A [`Vectorized`] operation as a [`pulp::WithSimd`] one.
struct Lanes<Op, const FUSED: bool>(Op);

impl<Op: Vectorized, const FUSED: bool> pulp::WithSimd for Lanes<Op, FUSED> {
    type Output = Op::Output;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, s: S) -> Op::Output {
        self.0.run::<S, FUSED>(s)
    }
}

/// `a·b + c`, rounded once if `FUSED`.
#[inline(always)]
pub(crate) fn madd<S: pulp::Simd, const FUSED: bool>(s: S, a: S::f32s, b: S::f32s, c: S::f32s) -> S::f32s {
    if FUSED { s.mul_add_f32s(a, b, c) } else { s.add_f32s(s.mul_f32s(a, b), c) }
}

/// `a·b + c` on one lane, rounded once if `FUSED`.
#[inline(always)]
pub(crate) fn madd1<const FUSED: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FUSED { a.mul_add(b, c) } else { a * b + c }
}

/// `a·b` in four vector accumulators (so the additions do not wait on each other), added in
/// a fixed order; on the baseline's one-lane "vectors", in eight interleaved sums, which the
/// compiler turns into the baseline's own vectors.
#[inline(always)]
pub(crate) fn dot<S: pulp::Simd, const FUSED: bool>(s: S, a: &[f32], b: &[f32]) -> f32 {
    if S::IS_SCALAR {
        return crate::models::svd::dot32(a, b);
    }
    let (ah, at) = S::as_simd_f32s(a);
    let (bh, bt) = S::as_simd_f32s(b);
    let zero = s.splat_f32s(0.0);
    let mut acc = [zero; 4];
    let (ac, bc) = (ah.chunks_exact(4), bh.chunks_exact(4));
    for (l, (x, y)) in ac.remainder().iter().zip(bc.remainder()).enumerate() {
        acc[l] = s.mul_f32s(*x, *y);
    }
    for (x, y) in ac.zip(bc) {
        for l in 0..4 {
            acc[l] = madd::<S, FUSED>(s, x[l], y[l], acc[l]);
        }
    }
    let sum = s.add_f32s(s.add_f32s(acc[0], acc[1]), s.add_f32s(acc[2], acc[3]));
    let tail: f32 = at.iter().zip(bt).map(|(x, y)| x * y).sum();
    s.reduce_sum_f32s(sum) + tail
}

/// `y += a·x`.
#[inline(always)]
pub(crate) fn axpy<S: pulp::Simd, const FUSED: bool>(s: S, a: f32, x: &[f32], y: &mut [f32]) {
    let av = s.splat_f32s(a);
    let (xh, xt) = S::as_simd_f32s(x);
    let (yh, yt) = S::as_mut_simd_f32s(y);
    for (yv, xv) in yh.iter_mut().zip(xh) {
        *yv = madd::<S, FUSED>(s, av, *xv, *yv);
    }
    for (yv, xv) in yt.iter_mut().zip(xt) {
        *yv = madd1::<FUSED>(a, *xv, *yv);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dot<'a>(&'a [f32], &'a [f32]);

    impl Vectorized for Dot<'_> {
        type Output = f32;

        #[inline(always)]
        fn run<S: pulp::Simd, const FUSED: bool>(self, s: S) -> f32 {
            dot::<S, FUSED>(s, self.0, self.1)
        }
    }

    #[test]
    fn both_instruction_sets_compute_the_same_sums_up_to_rounding() {
        for n in [1, 7, 8, 33, 100, 112] {
            let a: Vec<f32> = (0..n).map(|x| (x as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|x| 1.0 - x as f32 * 0.01).collect();
            let exact: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
            for isa in [Isa::Best, Isa::Avx2, Isa::Baseline] {
                let d = isa.run(Dot(&a, &b));
                assert!((f64::from(d) - exact).abs() < 1e-5, "{isa:?}, {n}: {d} against {exact}");
            }
        }
        assert!(["avx512", "avx2+fma", "best", "baseline"].contains(&Isa::Best.name()));
        assert!(["avx2+fma", "best", "baseline"].contains(&Isa::Avx2.name()));
        assert_eq!(Isa::Baseline.name(), "baseline");
        // Sixteen lanes exactly where AVX-512 runs; rows of a multiple of it are whole vectors.
        for isa in [Isa::Best, Isa::Avx2, Isa::Baseline] {
            assert_eq!(isa.lanes(), if isa.name() == "avx512" { 16 } else { 8 }, "{isa:?}");
        }
    }
}
