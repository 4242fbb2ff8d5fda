"""scikit-surprise's GridSearchCV on the same data and grid as bench/optimize.sh's subset.

    python bench/grid_baseline.py RATINGS.tsv N_JOBS

Builds the dataset from the ratings in order, takes `train_test_split(test_size=0.2,
random_state=42)`'s training part, and runs `GridSearchCV(SVD, grid, measures=['rmse',
'mae'], cv=KFold(3, random_state=42), n_jobs=N_JOBS)` on it. Prints one JSON line: wall
seconds, the best parameters and score.
"""

import json
import sys
import time

import numpy as np
from surprise import SVD, Dataset, Reader
from surprise.model_selection import GridSearchCV, KFold

GRID = {"n_factors": [50, 100], "n_epochs": [20], "lr_all": [0.003, 0.005], "reg_all": [0.05]}

path, n_jobs = sys.argv[1], int(sys.argv[2])
data = Dataset.load_from_file(path, reader=Reader(line_format="user item rating", sep="\t", rating_scale=(0, 100)))
# GridSearchCV takes a Dataset: keep the training part of train_test_split(test_size=0.2,
# random_state=42), in its order (Surprise's own split draws exactly this permutation).
n = len(data.raw_ratings)
n_test = int(np.ceil(0.2 * n))
permutation = np.random.RandomState(42).permutation(n)
data.raw_ratings = [data.raw_ratings[i] for i in permutation[: n - n_test]]
train_data = data
start = time.perf_counter()
gs = GridSearchCV(SVD, GRID, measures=["rmse", "mae"], cv=KFold(3, random_state=42), n_jobs=n_jobs)
gs.fit(train_data)
print(json.dumps({
    "tool": f"scikit-surprise GridSearchCV, n_jobs={n_jobs}",
    "candidates": len(gs.cv_results["params"]),
    "folds": 3,
    "seconds": round(time.perf_counter() - start, 2),
    "best_params": gs.best_params["rmse"],
    "best_rmse": round(gs.best_score["rmse"], 4),
}))
