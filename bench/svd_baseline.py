"""scikit-surprise's SVD().fit on the same data and split as `fit_bench`, for comparison.

    python bench/svd_baseline.py RATINGS.tsv RUNS

Splits with `train_test_split(test_size=0.2, random_state=42)`, fits `SVD(random_state=42)`
(the defaults: 100 factors, 20 epochs) RUNS times, and prints one JSON line: the median wall
and CPU seconds of the fit, rating updates per second, and the test RMSE and MAE.
"""

import json
import statistics
import sys
import time

from surprise import SVD, Dataset, Reader, accuracy
from surprise.model_selection import train_test_split

path, runs = sys.argv[1], int(sys.argv[2])
data = Dataset.load_from_file(path, reader=Reader(line_format="user item rating", sep="\t", rating_scale=(0, 100)))
trainset, testset = train_test_split(data, test_size=0.2, random_state=42)
walls, cpus = [], []
for _ in range(runs):
    algo = SVD(random_state=42)
    wall, cpu = time.perf_counter(), time.process_time()
    algo.fit(trainset)
    walls.append(time.perf_counter() - wall)
    cpus.append(time.process_time() - cpu)
predictions = algo.test(testset)
rmse = accuracy.rmse(predictions, verbose=False)
mae = accuracy.mae(predictions, verbose=False)
wall = statistics.median(walls)
print(json.dumps({
    "mode": "scikit-surprise",
    "ratings": trainset.n_ratings,
    "seconds": round(wall, 3),
    "cpu_seconds": round(statistics.median(cpus), 3),
    "updates_per_second_per_thread": round(trainset.n_ratings * algo.n_epochs / wall),
    "rmse": round(rmse, 4),
    "mae": round(mae, 4),
}))
