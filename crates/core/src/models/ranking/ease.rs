//! EASE, Steck's "Embarrassingly Shallow Autoencoders for Sparse Data" (WWW 2019): a
//! closed-form item × item model of who rated what.
//!
//! With `X` the user × movie matrix (1 where rated, or a weight growing with the score),
//! `G = XᵀX + λI`, `P = G⁻¹`, the weights are `B = I − P·diag(1/diag(P))`, so `Bᵢᵢ = 0`
//! and `Bᵢⱼ = −Pᵢⱼ / Pⱼⱼ`; a user's score of movie `j` is `Σᵢ xᵤᵢ Bᵢⱼ`. A new user needs no
//! solve: their ratings are their row of `X`.
//!
//! The score can also speak at scoring time ([`EaseParams::liking`]): a user's row then puts
//! more weight on the movies they scored high and less (or, past 1, a negative weight) on
//! those they scored low, so that a movie like the ones they disliked is pushed down rather
//! than up. `B` is unchanged: it says which movies go together; the row says which of the
//! user's movies to follow.
//!
//! With [`EaseParams::dropout`] `p` above 0 it is EDLAE, Steck's "Autoencoders that don't
//! overfit towards the Identity" (NeurIPS 2020) in its full-rank closed form: the model
//! trained to predict each movie from the user's others with each input dropped with
//! probability `p`, emphasising the dropped ones. Its closed form is EASE's with the penalty
//! `λ + p/(1 − p)·(XᵀX)ᵢᵢ` on movie `i` instead of `λ`: a movie many users rated is held
//! back more, which lifts the less rated ones.
//!
//! It needs `items²` memory and `items³` time: [`EaseParams::max_items`] refuses large
//! catalogues with an error naming the `ials` kind. `G` is built row by row (each row from
//! the users of one movie) and inverted by Cholesky, one column of `P` per task, so the
//! result does not depend on the number of threads.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::data::trainset::Trainset;
use crate::models::base::item_item;
use crate::models::base::{Fit, FitError, Interactions, TopN, Weighting, check, install};

/// EASE's parameters.
///
/// | Name | Default | Purpose |
/// |---|---|---|
/// | `lambda` | 500 | the L2 penalty on `B` (above 0) |
/// | `dropout` | 0 | EDLAE's dropout probability `p` (0 or more, below 1): the penalty of movie `i` is `λ + p/(1 − p)·(XᵀX)ᵢᵢ`; 0 is EASE |
/// | `weighting` | `binary` | `binary` or `score`: what a rating puts into `X` |
/// | `liking` | 0 | how much a rating's score adds to its entry of the user's row when scoring (0 or more): `x + liking·(s − mid)/(max − mid)`, `mid` the scale's middle; 0: `X`'s entry alone; 1: a top score counts one more, the middle as in `X`, the lowest one less (0 for `binary`); above 1, a low score is a negative signal |
/// | `max_items` | 20000 | movies above which fitting is refused (memory `8·items²` bytes) |
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EaseParams {
    /// The L2 penalty.
    pub lambda: f64,
    /// EDLAE's dropout probability (0: EASE).
    pub dropout: f64,
    /// What a rating puts into `X`.
    pub weighting: Weighting,
    /// How much a rating's score, centred on the scale's middle, adds to the user's row.
    pub liking: f64,
    /// The largest catalogue fitted.
    pub max_items: usize,
}

impl Default for EaseParams {
    fn default() -> EaseParams {
        EaseParams { lambda: 500.0, dropout: 0.0, weighting: Weighting::Binary, liking: 0.0, max_items: 20_000 }
    }
}

/// A fitted EASE.
#[derive(Clone, Debug, PartialEq)]
pub struct Ease {
    /// What a rating puts into `X`.
    pub weighting: Weighting,
    /// How much a rating's score, centred on the scale's middle, adds to its entry of the
    /// user's row ([`EaseParams::liking`]).
    pub liking: f64,
    /// The rating scale's bounds, for [`Weighting::weight`].
    pub scale: (f64, f64),
    /// Movies.
    pub n_items: usize,
    /// `B`, row-major `n_items × n_items`: `b[i·n + j]` is what rating `i` adds to `j`.
    pub b: Vec<f32>,
}

impl Fit for EaseParams {
    type Model = Ease;

    fn check(&self, n: usize) -> Result<(), FitError> {
        check("ease.lambda", self.lambda, self.lambda > 0.0, "a number above 0")?;
        check("ease.liking", self.liking, self.liking >= 0.0, "0 or more")?;
        let p = self.dropout;
        check("ease.dropout", p, (0.0..1.0).contains(&p), "a probability of 0 or more, below 1")?;
        if n > self.max_items {
            let gib = (n * n * 8) as f64 / f64::from(1u32 << 30);
            return Err(FitError::TooManyItems { kind: "ease", n, max: self.max_items, gib });
        }
        Ok(())
    }

    fn fit(&self, t: &Trainset<'_>, threads: usize) -> Result<Ease, FitError> {
        self.check(t.n_items())?;
        let n = t.n_items();
        let scale = (t.list().scale().min(), t.list().scale().max());
        let x = Interactions::new(t);
        let w = |s: f64| self.weighting.weight(s, scale.0, scale.1);
        install(threads, || {
            // G = XᵀX + λI: row i from the users of movie i, each adding their movies up to i
            // (the lower triangle), then mirrored.
            let weights: Vec<f64> = x.user_scores.iter().map(|&s| w(s)).collect();
            let mut g = vec![0.0f64; n * n];
            g.par_chunks_mut(n.max(1)).enumerate().for_each(|(i, row)| {
                for (u, s) in x.item(i) {
                    let wi = w(s);
                    let r = x.user_start[u as usize]..x.user_start[u as usize + 1];
                    for (&j, &wj) in x.items[r.clone()].iter().zip(&weights[r]) {
                        if j as usize > i {
                            break;
                        }
                        row[j as usize] += wi * wj;
                    }
                }
                row[i] += self.lambda + self.dropout / (1.0 - self.dropout) * row[i];
            });
            for i in 0..n {
                for j in 0..i {
                    g[j * n + i] = g[i * n + j];
                }
            }
            cholesky(&mut g, n);
            // Lᵀ, row-major, so both triangular solves read rows.
            let mut lt = vec![0.0f64; n * n];
            lt.par_chunks_mut(n.max(1)).enumerate().for_each(|(r, row)| {
                for (m, v) in row.iter_mut().enumerate().skip(r) {
                    *v = g[m * n + r];
                }
            });
            // P = G⁻¹, column by column (P is symmetric, so column j is row j).
            let mut p = vec![0.0f64; n * n];
            p.par_chunks_mut(n.max(1)).enumerate().for_each(|(j, col)| {
                col[j] = 1.0;
                solve_in_place(&g, &lt, n, col);
            });
            let b = (0..n * n)
                .into_par_iter()
                .map(|k| {
                    let (i, j) = (k / n, k % n);
                    if i == j { 0.0 } else { (-p[i * n + j] / p[j * n + j]) as f32 }
                })
                .collect();
            Ok(Ease { weighting: self.weighting, liking: self.liking, scale, n_items: n, b })
        })
    }
}

/// Overwrites the lower triangle of the symmetric positive definite `a` (row-major `n × n`)
/// with its Cholesky factor `L`. Each row below the pivot is updated by one task (in
/// parallel when the column has enough work); every dot product runs in a fixed order, so
/// the factor does not depend on the number of threads.
fn cholesky(a: &mut [f64], n: usize) {
    for j in 0..n {
        let (head, rest) = a.split_at_mut((j + 1) * n);
        let row_j = &mut head[j * n..];
        // Positive in exact arithmetic; the floor guards a near-singular G against rounding.
        let diag = (row_j[j] - dot(&row_j[..j], &row_j[..j])).max(1e-12).sqrt();
        row_j[j] = diag;
        let lj = &row_j[..j];
        let update = |row_r: &mut [f64]| {
            row_r[j] = (row_r[j] - dot(&row_r[..j], lj)) / diag;
        };
        if (n - j) * j < 1 << 16 {
            rest.chunks_mut(n).for_each(update);
        } else {
            rest.par_chunks_mut(n).for_each(update);
        }
    }
}

/// The dot product of two equal-length vectors, in four lanes added in a fixed order (so
/// the compiler vectorises it, and the result does not depend on where it runs).
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let mut lanes = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..4 {
            lanes[l] += x[l] * y[l];
        }
    }
    (lanes[0] + lanes[2]) + (lanes[1] + lanes[3]) + tail
}

/// Solves `L Lᵀ x = e_j` in place (`b` holds `e_j`) for the factor `l` from [`cholesky`]
/// and its transpose `lt`. The first `j` entries of `L⁻¹ e_j` are zero, so the forward solve
/// starts at `j`.
fn solve_in_place(l: &[f64], lt: &[f64], n: usize, b: &mut [f64]) {
    let j = b.iter().position(|&v| v != 0.0).unwrap_or(n);
    for r in j..n {
        b[r] = (b[r] - dot(&l[r * n + j..r * n + r], &b[j..r])) / l[r * n + r];
    }
    for r in (0..n).rev() {
        b[r] = (b[r] - dot(&lt[r * n + r + 1..(r + 1) * n], &b[r + 1..])) / lt[r * n + r];
    }
}

impl Ease {
    /// A rating's entry in the user's row: its entry of `X`, plus `liking` times its score
    /// centred on the scale's middle (from −1 at the lowest score to 1 at the highest).
    pub fn input(&self, s: f64) -> f64 {
        let (lo, hi) = self.scale;
        let x = self.weighting.weight(s, lo, hi);
        if self.liking == 0.0 {
            return x;
        }
        let mid = (lo + hi) / 2.0;
        x + self.liking * ((s - mid) / (hi - mid)).clamp(-1.0, 1.0)
    }
}

impl TopN for Ease {
    fn n_items(&self) -> usize {
        self.n_items
    }

    fn scores(&self, _user: Option<usize>, history: &[(u32, f64)], out: &mut [f64]) {
        item_item::scores(&self.b, self.n_items, history, |s| self.input(s), out);
    }

    fn similar(&self, i: usize, n: usize) -> Option<Vec<(u32, f64)>> {
        Some(item_item::similar(&self.b, self.n_items, i, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ranking::tests::list;

    /// B is the closed form: with G = XᵀX + λI and P = G⁻¹, I − B = P·diag(1/diag(P)), so
    /// G·(I − B) = diag(1/diag(P)) is diagonal with a positive diagonal, and diag(B) = 0;
    /// with dropout `p` (EDLAE), the same with G's diagonal `(XᵀX)ᵢᵢ/(1 − p) + λ`.
    #[test]
    fn the_weights_satisfy_the_closed_form() {
        for dropout in [0.0, 0.25] {
            closed_form(dropout);
        }
        let l = list();
        let t = Trainset::new(&l);
        let ease = EaseParams { lambda: 2.0, ..EaseParams::default() }.fit(&t, 1).unwrap();
        let edlae = EaseParams { lambda: 2.0, dropout: 0.25, ..EaseParams::default() }.fit(&t, 1).unwrap();
        assert_ne!(ease.b, edlae.b, "the dropout changes the weights");
        for p in [-0.1, 1.0, f64::NAN] {
            let e = EaseParams { dropout: p, ..EaseParams::default() }.fit(&t, 1).unwrap_err().to_string();
            assert_eq!(e, format!("invalid ease.dropout {p}: expected a probability of 0 or more, below 1"));
        }
    }

    fn closed_form(dropout: f64) {
        let l = list();
        let t = Trainset::new(&l);
        let lambda = 2.0;
        let m = EaseParams { lambda, dropout, ..EaseParams::default() }.fit(&t, 1).unwrap();
        let n = m.n_items;
        let x = Interactions::new(&t);
        let mut g = vec![0.0; n * n];
        for u in 0..x.n_users() {
            for (i, _) in x.user(u) {
                for (j, _) in x.user(u) {
                    g[i as usize * n + j as usize] += 1.0;
                }
            }
        }
        for i in 0..n {
            g[i * n + i] += lambda + dropout / (1.0 - dropout) * g[i * n + i];
        }
        // G·(I − B) must be diagonal.
        for i in 0..n {
            for j in 0..n {
                let v: f64 =
                    (0..n).map(|k| g[i * n + k] * (f64::from(u8::from(k == j)) - f64::from(m.b[k * n + j]))).sum();
                if i != j {
                    assert!(v.abs() < 1e-5, "({i}, {j}): {v}");
                } else {
                    assert!(v > 0.0);
                }
            }
        }
        assert!((0..n).all(|i| m.b[i * n + i] == 0.0));
    }

    #[test]
    fn the_same_model_on_any_number_of_threads() {
        let l = list();
        let t = Trainset::new(&l);
        let one = EaseParams { lambda: 1.0, ..EaseParams::default() }.fit(&t, 1).unwrap();
        let three = EaseParams { lambda: 1.0, ..EaseParams::default() }.fit(&t, 3).unwrap();
        assert_eq!(one, three);
    }

    #[test]
    fn recommends_what_co_occurs_and_refuses_big_catalogues() {
        let l = list();
        let t = Trainset::new(&l);
        let m = EaseParams { lambda: 1.0, ..EaseParams::default() }.fit(&t, 1).unwrap();
        // A new user who rated x: y, rated with x by three of four, comes first.
        let x = l.movies().get("x").unwrap();
        let y = l.movies().get("y").unwrap();
        let top = m.rank(None, &[(x, 50.0)], &[x], 1);
        assert_eq!(top[0].0, y);
        assert_eq!(m.similar(x as usize, 1).unwrap()[0].0, y);
        let e = EaseParams { max_items: 3, ..EaseParams::default() }.fit(&t, 1).unwrap_err();
        assert!(matches!(e, FitError::TooManyItems { n: 4, max: 3, .. }));
        assert!(e.to_string().starts_with("ease needs a 4 × 4 matrix") && e.to_string().contains("use the ials kind"));
        let e = EaseParams { lambda: 0.0, ..EaseParams::default() }.fit(&t, 1).unwrap_err();
        assert_eq!(e.to_string(), "invalid ease.lambda 0: expected a number above 0");
    }

    /// With `liking`, a user's row follows the movies they scored high and, past 1, turns
    /// away from those they scored low: the score shifts the ranking, `B` stays the same.
    #[test]
    fn liking_weighs_the_users_row_by_the_score() {
        let l = list();
        let t = Trainset::new(&l);
        let plain = EaseParams { lambda: 1.0, ..EaseParams::default() }.fit(&t, 1).unwrap();
        let liking = EaseParams { lambda: 1.0, liking: 2.0, ..EaseParams::default() }.fit(&t, 1).unwrap();
        assert_eq!((plain.b.clone(), plain.liking), (liking.b.clone(), 0.0), "B does not depend on liking");
        // Scale 0 to 100, middle 50: 100 counts 1 + 2, 50 counts 1, 0 counts 1 − 2.
        assert_eq!(
            (liking.input(100.0), liking.input(50.0), liking.input(0.0), liking.input(75.0)),
            (3.0, 1.0, -1.0, 2.0)
        );
        assert_eq!((plain.input(100.0), plain.input(0.0)), (1.0, 1.0));
        let score = EaseParams { weighting: Weighting::Score, liking: 1.0, ..EaseParams::default() };
        let score = score.fit(&t, 1).unwrap();
        assert_eq!((score.input(100.0), score.input(0.0)), (2.0, -0.5));
        // Someone who loved x and hated w: without liking, both pull their neighbours up;
        // with it, w's pull is reversed, so the score of each movie is the difference.
        let (x, w) = (l.movies().get("x").unwrap(), l.movies().get("w").unwrap());
        let history = [(w, 0.0), (x, 100.0)];
        let (mut a, mut b) = (vec![0.0; plain.n_items], vec![0.0; plain.n_items]);
        plain.scores(None, &history, &mut a);
        liking.scores(None, &history, &mut b);
        let n = plain.n_items;
        for j in 0..n {
            let (bx, bw) = (f64::from(plain.b[x as usize * n + j]), f64::from(plain.b[w as usize * n + j]));
            assert!((a[j] - (bx + bw)).abs() < 1e-12 && (b[j] - (3.0 * bx - bw)).abs() < 1e-12, "{j}");
        }
        assert_ne!(plain.rank(None, &history, &[x, w], 2), liking.rank(None, &history, &[x, w], 2));
        let e = EaseParams { liking: -1.0, ..EaseParams::default() }.fit(&t, 1).unwrap_err();
        assert_eq!(e.to_string(), "invalid ease.liking -1: expected 0 or more");
    }
}
