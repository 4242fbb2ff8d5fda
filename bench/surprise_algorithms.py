"""scikit-surprise's side of bench/algorithms.sh: every algorithm with its defaults on the
ratings of a TSV file, as crates/core/examples/algorithms_bench.rs runs them.

    python surprise_algorithms.py RATINGS.tsv LOW HIGH MODE RUNS ITEM_BASED [ONLY]

MODE split: train_test_split(test_size=0.2, random_state=42), fit and test timed apart,
medians of RUNS runs. MODE cv: KFold(5, random_state=0), mean RMSE and MAE and the total
seconds. ITEM_BASED true makes the k-NN family item-based. One JSON line per algorithm.
"""

import json
import statistics
import sys
import time

import numpy as np
import surprise
from surprise import Dataset, Reader, accuracy
from surprise.model_selection import KFold, train_test_split

NAMES = {
    "normal_predictor": "NormalPredictor",
    "baseline_only": "BaselineOnly",
    "knn_basic": "KNNBasic",
    "knn_with_means": "KNNWithMeans",
    "knn_with_zscore": "KNNWithZScore",
    "knn_baseline": "KNNBaseline",
    "svd": "SVD",
    "svdpp": "SVDpp",
    "nmf": "NMF",
    "slope_one": "SlopeOne",
    "co_clustering": "CoClustering",
    "svd_surprise": "SVD",  # the same algorithms, beside our exact modes
    "svdpp_surprise": "SVDpp",
}


def make(name, item_based):
    kwargs = {}
    if name in ("svd", "svd_surprise", "svdpp", "svdpp_surprise", "nmf", "co_clustering"):
        kwargs["random_state"] = 0
    if name.startswith("knn") or name == "baseline_only":
        kwargs["verbose"] = False
    if name.startswith("knn") and item_based:
        kwargs["sim_options"] = {"user_based": False}
    return getattr(surprise, NAMES[name])(**kwargs)


def fit_test(name, item_based, trainset, testset):
    algo = make(name, item_based)
    started = time.perf_counter()
    algo.fit(trainset)
    fitted = time.perf_counter()
    np.random.seed(0)
    predictions = algo.test(testset)
    tested = time.perf_counter()
    return fitted - started, tested - fitted, predictions


def main(ratings, low, high, mode, runs, item_based, only=None):
    reader = Reader(line_format="user item rating", sep="\t", rating_scale=(float(low), float(high)))
    data = Dataset.load_from_file(ratings, reader=reader)
    item_based = item_based == "true"
    for name in NAMES:
        if only and name != only:
            continue
        if mode == "split":
            trainset, testset = train_test_split(data, test_size=0.2, random_state=42)
            fits, tests = [], []
            for _ in range(int(runs)):
                fit, test, predictions = fit_test(name, item_based, trainset, testset)
                fits.append(fit)
                tests.append(test)
            theirs = {
                "fit_seconds": statistics.median(fits),
                "test_seconds": statistics.median(tests),
                "rmse": accuracy.rmse(predictions, verbose=False),
                "mae": accuracy.mae(predictions, verbose=False),
            }
        else:
            rmse, mae, seconds = [], [], 0.0
            for trainset, testset in KFold(5, random_state=0).split(data):
                fit, test, predictions = fit_test(name, item_based, trainset, testset)
                seconds += fit + test
                rmse.append(accuracy.rmse(predictions, verbose=False))
                mae.append(accuracy.mae(predictions, verbose=False))
            theirs = {"rmse": float(np.mean(rmse)), "mae": float(np.mean(mae)), "seconds": seconds}
        print(json.dumps({"algorithm": name, "theirs": theirs}), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
