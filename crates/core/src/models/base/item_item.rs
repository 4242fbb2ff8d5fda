//! What the item × item kinds (EASE's `B`, RP3beta's `W`) share: a row-major `n × n` matrix
//! of `f32` weights, `w[i·n + j]` what having rated movie `i` adds to movie `j`.

use crate::models::base::select::top_unseen;

/// Writes a user's score of every movie into `out` (`n` long): `Σᵢ input(sᵢ)·w[i][j]` over
/// the user's ratings `(i, sᵢ)` of `history`, in its order.
pub(crate) fn scores(w: &[f32], n: usize, history: &[(u32, f64)], input: impl Fn(f64) -> f64, out: &mut [f64]) {
    out.fill(0.0);
    for &(i, s) in history {
        let x = input(s);
        let row = &w[i as usize * n..(i as usize + 1) * n];
        for (o, &v) in out.iter_mut().zip(row) {
            *o += x * f64::from(v);
        }
    }
}

/// The `k` movies with the largest weights in movie `i`'s row, `i` itself left out.
pub(crate) fn similar(w: &[f32], n: usize, i: usize, k: usize) -> Vec<(u32, f64)> {
    let row = &w[i * n..(i + 1) * n];
    top_unseen(n, &[i as u32], k, |j| f64::from(row[j as usize]))
}
