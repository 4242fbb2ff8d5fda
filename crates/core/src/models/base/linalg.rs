//! Small dense linear algebra shared by the models: a ridge regression of one user's profile
//! against fixed movie factors (fold-in), Cholesky solves, and cosine similarities of rows.

/// The bias (when `reg_b` is given; else 0) and the `k` factors minimising
/// `Σ (target − b − q·p)² + n·(reg_b·b² + reg_p·|p|²)` over `n` rows of (q, target): a new
/// user's profile against fixed movie factors. Cholesky on `k + 1` unknowns; no rows give
/// zeros.
pub(crate) fn ridge_profile(
    k: usize,
    rows: impl Iterator<Item = (Vec<f64>, f64)>,
    n: usize,
    reg_b: Option<f64>,
    reg_p: f64,
) -> (f64, Vec<f64>) {
    if n == 0 {
        return (0.0, vec![0.0; k]);
    }
    // Unknowns: [b, p₀ … pₖ₋₁] with a bias, else [p₀ … pₖ₋₁].
    let off = usize::from(reg_b.is_some());
    let d = k + off;
    let mut a = vec![0.0f64; d * d];
    let mut rhs = vec![0.0f64; d];
    let mut z = vec![0.0f64; d];
    for (q, target) in rows {
        if off == 1 {
            z[0] = 1.0;
        }
        z[off..].copy_from_slice(&q);
        for (row, &zr) in z.iter().enumerate() {
            rhs[row] += zr * target;
            for (col, &zc) in z.iter().enumerate().take(row + 1) {
                a[row * d + col] += zr * zc;
            }
        }
    }
    for row in 0..d {
        let reg = match reg_b {
            Some(reg_b) if row == 0 => reg_b,
            _ => reg_p,
        };
        // A tiny ridge keeps the system positive definite when the regularisation is 0.
        a[row * d + row] += n as f64 * reg + 1e-9;
    }
    let x = solve_cholesky(&mut a, rhs, d);
    if off == 1 { (x[0], x[1..].to_vec()) } else { (0.0, x) }
}

/// Solves `A x = b` for a symmetric positive definite `A` given by its lower triangle
/// (row-major `d × d`, overwritten by its Cholesky factor).
pub(crate) fn solve_cholesky(a: &mut [f64], mut b: Vec<f64>, d: usize) -> Vec<f64> {
    for j in 0..d {
        let mut diag = a[j * d + j];
        for m in 0..j {
            diag -= a[j * d + m] * a[j * d + m];
        }
        // Positive in exact arithmetic; the floor guards against rounding on a near-singular
        // system.
        let diag = diag.max(1e-12).sqrt();
        a[j * d + j] = diag;
        for row in j + 1..d {
            let mut v = a[row * d + j];
            for m in 0..j {
                v -= a[row * d + m] * a[j * d + m];
            }
            a[row * d + j] = v / diag;
        }
    }
    // L y = b, then Lᵀ x = y.
    for row in 0..d {
        let mut v = b[row];
        for m in 0..row {
            v -= a[row * d + m] * b[m];
        }
        b[row] = v / a[row * d + row];
    }
    for row in (0..d).rev() {
        let mut v = b[row];
        for m in row + 1..d {
            v -= a[m * d + row] * b[m];
        }
        b[row] = v / a[row * d + row];
    }
    b
}
/// The cosine similarity of row `i` with each of `n` rows (0 where either is all zeros).
pub(crate) fn cosines(n: usize, i: usize, row: impl Fn(usize) -> Vec<f64>) -> Vec<f64> {
    let target = row(i);
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    let target_norm = norm(&target);
    (0..n)
        .map(|j| {
            let v = row(j);
            let denom = target_norm * norm(&v);
            if denom == 0.0 { 0.0 } else { target.iter().zip(&v).map(|(a, b)| a * b).sum::<f64>() / denom }
        })
        .collect()
}

/// Rows `i` of a row-major matrix of `k` columns.
pub(crate) fn row_of(m: &[f64], k: usize, i: usize) -> Vec<f64> {
    m[i * k..(i + 1) * k].to_vec()
}
