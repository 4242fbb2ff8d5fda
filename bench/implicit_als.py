"""The `implicit` library's CPU ALS on the training matrix `ials_bench` exported.

Usage: implicit_als.py DIR FACTORS ITERATIONS CG_STEPS THREADS REGULARIZATION

DIR holds users.u32, items.u32, confidence.f32 (one entry per rating, user-major) and shape
("n_users n_items"). The confidences are already movierec's `1 + alpha * w`, so implicit runs
with alpha 1 (its confidence is alpha times the matrix value). Writes its user and movie
factors (float32, row-major) and the fit's wall seconds back into DIR.
"""

import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse
from implicit.cpu.als import AlternatingLeastSquares


def main() -> None:
    folder = Path(sys.argv[1])
    factors, iterations, cg_steps, threads = (int(v) for v in sys.argv[2:6])
    regularization = float(sys.argv[6])
    n_users, n_items = (int(v) for v in (folder / "shape").read_text().split())
    users = np.fromfile(folder / "users.u32", dtype="<u4")
    items = np.fromfile(folder / "items.u32", dtype="<u4")
    confidence = np.fromfile(folder / "confidence.f32", dtype="<f4")
    matrix = scipy.sparse.csr_matrix((confidence, (users, items)), shape=(n_users, n_items), dtype=np.float32)
    model = AlternatingLeastSquares(
        factors=factors,
        regularization=regularization,
        alpha=1.0,
        iterations=iterations,
        use_cg=True,
        num_threads=threads,
        random_state=42,
    )
    model.cg_steps = cg_steps  # its default is 3, as ours
    start = time.perf_counter()
    model.fit(matrix, show_progress=False)
    seconds = time.perf_counter() - start
    np.ascontiguousarray(model.user_factors, dtype="<f4").tofile(folder / "user_factors.f32")
    np.ascontiguousarray(model.item_factors, dtype="<f4").tofile(folder / "item_factors.f32")
    (folder / "seconds").write_text(f"{seconds}\n")


if __name__ == "__main__":
    main()
