//! Vector instructions chosen at run time, for the loops over factor vectors (implicit ALS's
//! solves, the `fast` SVD's updates), through `pulp`: no `unsafe` here.
//!
//! Two arithmetics ([`Simd`], a parameter of each model that vectorises):
//!
//! - [`Simd::Portable`] (the default) gives the same bits on every CPU. Its loops are written
//!   for sixteen logical lanes, whatever the registers: one AVX-512 register, two of AVX2, four
//!   of SSE2 or NEON, or sixteen scalars. Every sum adds its terms in the same order on each
//!   (lane `l` of a sum takes the elements `l`, `l + 16`, … in order, and the lanes meet in one
//!   fixed tree: `l + (l + 8)`, then `+ 4`, `+ 2`, `+ 1`), and nothing is fused, so neither the
//!   width nor the compiler can change a rounding. It pads the `fast` SVD's rows to sixteen.
//! - [`Simd::Native`] takes each instruction set's own width and fused multiply-adds (where the
//!   CPU has them): faster, and the bits differ between instruction sets by rounding.
//!
//! Which instructions run ([`Isa`]): the CPU's best (AVX-512, else AVX2 with FMA, else the
//! baseline's), unless `MOVIEREC_SIMD` in the environment forces `avx512`, `avx2` or `baseline`
//! (to check on one machine what another CPU computes). Whatever runs, each fit is the same
//! bits for any number of threads; under the portable arithmetic it is the same bits on every
//! instruction set as well.

use serde::{Deserialize, Serialize};

/// The arithmetic of the vector loops: the same bits on every CPU, or the CPU's fastest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Simd {
    /// Sixteen logical lanes on every instruction set, sums in one fixed order, nothing fused:
    /// the same model, bit for bit, on every CPU.
    #[default]
    Portable,
    /// The instruction set's own width and fused multiply-adds: faster where the CPU has them,
    /// and the model differs between CPUs by rounding.
    Native,
}

impl Simd {
    /// The name used in `params.yaml` and the reports.
    pub fn name(self) -> &'static str {
        match self {
            Simd::Portable => "portable",
            Simd::Native => "native",
        }
    }
}

/// Which instructions the vector loops use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    /// The CPU's best: AVX-512, or AVX2 with fused multiply-adds, where present.
    Best,
    /// AVX-512 (`MOVIEREC_SIMD=avx512`; [`Isa::from_env`] refuses it on a CPU without).
    Avx512,
    /// At most AVX2 with fused multiply-adds ([`Isa::from_env`] refuses it on a CPU without).
    Avx2,
    /// The baseline instructions, without fused multiply-adds, on every CPU.
    Baseline,
}

/// The environment variable that forces an instruction set.
pub const ISA_VARIABLE: &str = "MOVIEREC_SIMD";

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
    /// The instructions `MOVIEREC_SIMD` asks for: `avx512`, `avx2`, `baseline`, or unset (or
    /// empty) for the CPU's best.
    ///
    /// # Errors
    /// Another value, or an instruction set this CPU does not have, named.
    pub fn from_env() -> Result<Isa, String> {
        Isa::parse(&std::env::var(ISA_VARIABLE).unwrap_or_default())
    }

    /// The instructions a value of `MOVIEREC_SIMD` asks for ([`Isa::from_env`]).
    ///
    /// # Errors
    /// As [`Isa::from_env`].
    pub fn parse(value: &str) -> Result<Isa, String> {
        let isa = match value {
            "" => return Ok(Isa::Best),
            "avx512" => Isa::Avx512,
            "avx2" => Isa::Avx2,
            "baseline" => return Ok(Isa::Baseline),
            other => {
                return Err(format!(
                    "{ISA_VARIABLE}={} is not an instruction set: expected avx512, avx2 or baseline (or unset: the \
                     CPU's best)",
                    crate::quote::quote(other)
                ));
            }
        };
        let has = match isa.chosen() {
            #[cfg(target_arch = "x86_64")]
            Chosen::V4(_) => true,
            #[cfg(target_arch = "x86_64")]
            Chosen::V3(_) => isa == Isa::Avx2,
            _ => false,
        };
        if !has {
            return Err(format!(
                "{ISA_VARIABLE}={value}, but this CPU has no {}: expected one it has ({})",
                if isa == Isa::Avx512 { "AVX-512" } else { "AVX2 with FMA" },
                Isa::available().join(", ")
            ));
        }
        Ok(isa)
    }

    /// [`Isa::from_env`], or the CPU's best when the variable is not valid (the binaries
    /// refuse such a value at start-up, before anything is fitted).
    pub fn current() -> Isa {
        Isa::from_env().unwrap_or(Isa::Best)
    }

    /// The values of `MOVIEREC_SIMD` this CPU can run.
    pub fn available() -> Vec<&'static str> {
        let mut names = Vec::new();
        #[cfg(target_arch = "x86_64")]
        {
            if pulp::x86::V4::try_new().is_some() {
                names.push("avx512");
            }
            if pulp::x86::V3::try_new().is_some() {
                names.push("avx2");
            }
        }
        names.push("baseline");
        names
    }

    /// The one place the choice is made.
    #[inline(always)]
    fn chosen(self) -> Chosen {
        #[cfg(target_arch = "x86_64")]
        {
            if matches!(self, Isa::Best | Isa::Avx512)
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

    /// Floats a factor row is padded to, so that it is whole vectors on every path of
    /// `simd`: sixteen for the portable arithmetic (its logical vectors); for the native one,
    /// the widest vectors `self` runs here, at least 8 (the narrower ones have 4 lanes or 1).
    pub(crate) fn lanes(self, simd: Simd) -> usize {
        match (simd, self.chosen()) {
            (Simd::Portable, _) => LANES,
            #[cfg(target_arch = "x86_64")]
            (Simd::Native, Chosen::V4(_)) => 16,
            (Simd::Native, _) => 8,
        }
    }

    /// Runs `op` on these instructions, in the arithmetic `simd`.
    #[inline(always)]
    pub(crate) fn run<Op: Vectorized>(self, simd: Simd, op: Op) -> Op::Output {
        match simd {
            Simd::Portable => match self.chosen() {
                #[cfg(target_arch = "x86_64")]
                Chosen::V4(s) => pulp::Simd::vectorize(s, Lanes::<Op, Portable>::new(op)),
                #[cfg(target_arch = "x86_64")]
                Chosen::V3(s) => pulp::Simd::vectorize(s, Lanes::<Op, Portable>::new(op)),
                Chosen::Portable => pulp::Arch::new().dispatch(Lanes::<Op, Portable>::new(op)),
                Chosen::Baseline => pulp::WithSimd::with_simd(Lanes::<Op, Portable>::new(op), pulp::Scalar),
            },
            Simd::Native => match self.chosen() {
                #[cfg(target_arch = "x86_64")]
                Chosen::V4(s) => pulp::Simd::vectorize(s, Lanes::<Op, Native<true>>::new(op)),
                #[cfg(target_arch = "x86_64")]
                Chosen::V3(s) => pulp::Simd::vectorize(s, Lanes::<Op, Native<true>>::new(op)),
                Chosen::Portable => pulp::Arch::new().dispatch(Lanes::<Op, Native<false>>::new(op)),
                Chosen::Baseline => pulp::WithSimd::with_simd(Lanes::<Op, Native<false>>::new(op), pulp::Scalar),
            },
        }
    }
}

/// A loop written once for any vector width `S` and either arithmetic `A`.
pub(crate) trait Vectorized {
    type Output;

    /// Runs on `s`. Must be `#[inline(always)]`, as every function it calls with `S`: only
    /// inlined code is compiled for the instruction set `pulp` chose.
    fn run<S: pulp::Simd, A: Arith>(self, s: S) -> Self::Output;
}

/// A [`Vectorized`] operation in the arithmetic `A`, as a [`pulp::WithSimd`] one.
struct Lanes<Op, A>(Op, std::marker::PhantomData<A>);

impl<Op, A> Lanes<Op, A> {
    #[inline(always)]
    fn new(op: Op) -> Lanes<Op, A> {
        Lanes(op, std::marker::PhantomData)
    }
}

impl<Op: Vectorized, A: Arith> pulp::WithSimd for Lanes<Op, A> {
    type Output = Op::Output;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, s: S) -> Op::Output {
        self.0.run::<S, A>(s)
    }
}

/// The logical lanes of the portable arithmetic.
const LANES: usize = 16;

/// The operations whose rounding depends on the arithmetic: multiply-adds and dot products.
pub(crate) trait Arith {
    /// `a·b + c`, rounded once if fused.
    fn madd<S: pulp::Simd>(s: S, a: S::f32s, b: S::f32s, c: S::f32s) -> S::f32s;

    /// `a·b + c` on one lane, rounded once if fused.
    fn madd1(a: f32, b: f32, c: f32) -> f32;

    /// The dot product of two slices of equal length.
    fn dot<S: pulp::Simd>(s: S, a: &[f32], b: &[f32]) -> f32;
}

/// Each instruction set's own width, fused if `FUSED`.
pub(crate) struct Native<const FUSED: bool>;

/// Sixteen logical lanes on every width, nothing fused.
pub(crate) struct Portable;

impl<const FUSED: bool> Arith for Native<FUSED> {
    #[inline(always)]
    fn madd<S: pulp::Simd>(s: S, a: S::f32s, b: S::f32s, c: S::f32s) -> S::f32s {
        if FUSED { s.mul_add_f32s(a, b, c) } else { s.add_f32s(s.mul_f32s(a, b), c) }
    }

    #[inline(always)]
    fn madd1(a: f32, b: f32, c: f32) -> f32 {
        if FUSED { a.mul_add(b, c) } else { a * b + c }
    }

    /// `a·b` in four vector accumulators (so the additions do not wait on each other), added
    /// in a fixed order; on the baseline's one-lane "vectors", in eight interleaved sums,
    /// which the compiler turns into the baseline's own vectors.
    #[inline(always)]
    fn dot<S: pulp::Simd>(s: S, a: &[f32], b: &[f32]) -> f32 {
        if S::IS_SCALAR {
            return dot32(a, b);
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
                acc[l] = Self::madd(s, x[l], y[l], acc[l]);
            }
        }
        let sum = s.add_f32s(s.add_f32s(acc[0], acc[1]), s.add_f32s(acc[2], acc[3]));
        let tail: f32 = at.iter().zip(bt).map(|(x, y)| x * y).sum();
        s.reduce_sum_f32s(sum) + tail
    }
}

/// Sixteen logical lanes held in registers of `S`: the first `LANES / S::F32_LANES` of the
/// array (the rest stay unused; the compiler drops them).
type Logical<S> = [<S as pulp::Simd>::f32s; LANES];

/// Registers of `S` per logical vector of sixteen lanes.
#[inline(always)]
const fn registers<S: pulp::Simd>() -> usize {
    LANES / S::F32_LANES
}

/// The sixteen lanes of `x` added in the portable tree: lane `l` and lane `l + 8`, then the
/// eight sums' `l` and `l + 4`, then `+ 2`, then `+ 1`. Across registers first (of `n`
/// registers, register `r` and register `r + n/2` hold the lanes that meet next), down to one
/// register, then within it, which `pulp` reduces by the same halving on every instruction
/// set (a test checks it).
#[inline(always)]
fn tree<S: pulp::Simd>(s: S, mut x: Logical<S>) -> f32 {
    let mut n = registers::<S>();
    while n > 1 {
        n /= 2;
        for r in 0..n {
            x[r] = s.add_f32s(x[r], x[r + n]);
        }
    }
    s.reduce_sum_f32s(x[0])
}

impl Arith for Portable {
    #[inline(always)]
    fn madd<S: pulp::Simd>(s: S, a: S::f32s, b: S::f32s, c: S::f32s) -> S::f32s {
        s.add_f32s(s.mul_f32s(a, b), c)
    }

    #[inline(always)]
    fn madd1(a: f32, b: f32, c: f32) -> f32 {
        a * b + c
    }

    /// `Σ aᵢbᵢ`: the first `16·⌊n/16⌋` elements in sixteen logical lanes (element `i` to lane
    /// `i % 16`, each lane in order), the lanes added in the portable [`tree`]; then the rest,
    /// one by one in order.
    #[inline(always)]
    fn dot<S: pulp::Simd>(s: S, a: &[f32], b: &[f32]) -> f32 {
        let whole = a.len().min(b.len()) / LANES * LANES;
        let (ah, _) = S::as_simd_f32s(&a[..whole]);
        let (bh, _) = S::as_simd_f32s(&b[..whole]);
        let mut sum: Logical<S> = [s.splat_f32s(0.0); LANES];
        for (x, y) in ah.chunks_exact(registers::<S>()).zip(bh.chunks_exact(registers::<S>())) {
            for r in 0..registers::<S>() {
                sum[r] = s.add_f32s(s.mul_f32s(x[r], y[r]), sum[r]);
            }
        }
        let mut out = tree(s, sum);
        for (x, y) in a[whole..].iter().zip(&b[whole..]) {
            out += x * y;
        }
        out
    }
}

/// `y += a·x`.
#[inline(always)]
pub(crate) fn axpy<S: pulp::Simd, A: Arith>(s: S, a: f32, x: &[f32], y: &mut [f32]) {
    let av = s.splat_f32s(a);
    let (xh, xt) = S::as_simd_f32s(x);
    let (yh, yt) = S::as_mut_simd_f32s(y);
    for (yv, xv) in yh.iter_mut().zip(xh) {
        *yv = A::madd(s, av, *xv, *yv);
    }
    for (yv, xv) in yt.iter_mut().zip(xt) {
        *yv = A::madd1(a, *xv, *yv);
    }
}

/// Every instruction set this CPU runs, for the tests that compare them.
/// A dot product with eight interleaved sums, so the compiler can vectorise it; the order
/// of additions depends only on the length, never on threads.
#[inline]
pub fn dot32(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        let x: &[f32; 8] = x.try_into().expect("chunks of 8");
        let y: &[f32; 8] = y.try_into().expect("chunks of 8");
        for j in 0..8 {
            acc[j] += x[j] * y[j];
        }
    }
    let mut tail = 0.0f32;
    for (x, y) in ra.iter().zip(rb) {
        tail += x * y;
    }
    ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7])) + tail
}

#[cfg(test)]
pub(crate) fn every_isa() -> Vec<Isa> {
    let mut isas = vec![Isa::Best, Isa::Baseline];
    for (name, isa) in [("avx2", Isa::Avx2), ("avx512", Isa::Avx512)] {
        if Isa::available().contains(&name) {
            isas.push(isa);
        }
    }
    isas
}

/// The portable dot product by its definition, one element at a time: what every
/// instruction set must compute, bit for bit.
#[cfg(test)]
pub(crate) fn portable_dot(a: &[f32], b: &[f32]) -> f32 {
    let whole = a.len() / LANES * LANES;
    let mut lanes = [0.0f32; LANES];
    for i in 0..whole {
        lanes[i % LANES] += a[i] * b[i];
    }
    let mut width = LANES / 2;
    while width > 0 {
        for l in 0..width {
            lanes[l] += lanes[l + width];
        }
        width /= 2;
    }
    let mut out = lanes[0];
    for i in whole..a.len() {
        out += a[i] * b[i];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dot<'a>(&'a [f32], &'a [f32]);

    impl Vectorized for Dot<'_> {
        type Output = f32;

        #[inline(always)]
        fn run<S: pulp::Simd, A: Arith>(self, s: S) -> f32 {
            A::dot(s, self.0, self.1)
        }
    }

    /// Values whose sums round differently in different orders: magnitudes from 1e-4 to 1e4.
    fn awkward(n: usize, seed: f32) -> Vec<f32> {
        (0..n).map(|x| ((x as f32 + seed) * 0.737).sin() * 10f32.powi((x % 9) as i32 - 4)).collect()
    }

    #[test]
    fn the_portable_arithmetic_gives_its_definitions_bits_on_every_instruction_set() {
        for n in [1, 7, 15, 16, 17, 20, 32, 33, 48, 100, 112, 160] {
            let (a, b) = (awkward(n, 0.0), awkward(n, 3.0));
            let expected = portable_dot(&a, &b);
            for isa in every_isa() {
                let d = isa.run(Simd::Portable, Dot(&a, &b));
                assert_eq!(d.to_bits(), expected.to_bits(), "{isa:?} ({}), {n}: {d} against {expected}", isa.name());
            }
        }
    }

    #[test]
    fn the_native_arithmetic_computes_the_same_sums_up_to_rounding() {
        for n in [1, 7, 8, 33, 100, 112] {
            let a: Vec<f32> = (0..n).map(|x| (x as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|x| 1.0 - x as f32 * 0.01).collect();
            let exact: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(*x) * f64::from(*y)).sum();
            for isa in every_isa() {
                for simd in [Simd::Native, Simd::Portable] {
                    let d = isa.run(simd, Dot(&a, &b));
                    assert!((f64::from(d) - exact).abs() < 1e-5, "{isa:?} {simd:?}, {n}: {d} against {exact}");
                }
            }
        }
        // Where the CPU has fused multiply-adds, the native path uses them: other bits, for
        // some operands at least.
        if ["avx512", "avx2+fma"].contains(&Isa::Best.name()) {
            let differ = (16..200)
                .filter(|&n| {
                    let (a, b) = (awkward(n, 0.0), awkward(n, 3.0));
                    Isa::Best.run(Simd::Native, Dot(&a, &b)) != Isa::Best.run(Simd::Portable, Dot(&a, &b))
                })
                .count();
            assert!(differ > 0, "the native dot products all had the portable bits");
        }
        assert!(["avx512", "avx2+fma", "best", "baseline"].contains(&Isa::Best.name()));
        assert!(["avx2+fma", "best", "baseline"].contains(&Isa::Avx2.name()));
        assert_eq!(Isa::Baseline.name(), "baseline");
        // Sixteen floats a row for the portable arithmetic everywhere; for the native one,
        // sixteen exactly where AVX-512 runs.
        for isa in every_isa() {
            assert_eq!(isa.lanes(Simd::Portable), 16, "{isa:?}");
            assert_eq!(isa.lanes(Simd::Native), if isa.name() == "avx512" { 16 } else { 8 }, "{isa:?}");
        }
    }

    #[test]
    fn pulp_reduces_a_register_by_halves() {
        // The portable tree relies on it within a register: lanes l and l + w/2 first.
        struct Reduce<'a>(&'a [f32]);
        impl Vectorized for Reduce<'_> {
            type Output = (f32, f32);
            #[inline(always)]
            fn run<S: pulp::Simd, A: Arith>(self, s: S) -> (f32, f32) {
                let w = S::F32_LANES;
                let (x, _) = S::as_simd_f32s(&self.0[..w]);
                let mut lanes = self.0[..w].to_vec();
                let mut width = w / 2;
                while width > 0 {
                    for l in 0..width {
                        lanes[l] += lanes[l + width];
                    }
                    width /= 2;
                }
                (s.reduce_sum_f32s(x[0]), lanes[0])
            }
        }
        let x = awkward(16, 1.0);
        for isa in every_isa() {
            let (pulp, halves) = isa.run(Simd::Portable, Reduce(&x));
            assert_eq!(pulp.to_bits(), halves.to_bits(), "{isa:?}");
        }
    }

    #[test]
    fn a_forced_instruction_set_must_be_one_the_cpu_has() {
        assert_eq!(Isa::parse(""), Ok(Isa::Best));
        assert_eq!(Isa::parse("baseline"), Ok(Isa::Baseline));
        let avx2 = Isa::parse("avx2");
        assert_eq!(avx2.is_ok(), Isa::available().contains(&"avx2"), "{avx2:?}");
        match Isa::parse("avx512") {
            Ok(isa) => assert_eq!(isa.name(), "avx512"),
            Err(e) => assert!(e.contains("this CPU has no AVX-512") && e.contains("baseline"), "{e}"),
        }
        let e = Isa::parse("sse9").unwrap_err();
        assert!(e.contains("\"sse9\"") && e.contains("expected avx512, avx2 or baseline"), "{e}");
    }

    #[test]
    fn dot32_matches_a_plain_sum() {
        let a: Vec<f32> = (0..19).map(|x| x as f32 * 0.5).collect();
        let b: Vec<f32> = (0..19).map(|x| 1.0 - x as f32 * 0.1).collect();
        let plain: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
        assert!((dot32(&a, &b) - plain).abs() < 1e-4);
    }
}
