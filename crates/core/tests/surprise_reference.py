"""Reference values from numpy and scikit-surprise for movierec's compatibility tests.

    python surprise_reference.py numpy OUT.json
    python surprise_reference.py split RATINGS.tsv TEST_SIZE SEED OUT.json
    python surprise_reference.py kfold RATINGS.tsv K SEED OUT.json
    python surprise_reference.py model RATINGS.tsv TEST_SIZE SEED N_FACTORS N_EPOCHS BIASED OUT.json
    python surprise_reference.py algorithms RATINGS.tsv LOW HIGH TEST_SIZE SEED CASES.json OUT.json

`algorithms` fits each case of CASES.json (movierec's form: `{"algorithm": "knn_basic", "k": 20,
...}`, `seed` for Surprise's `random_state`) on the split, and writes its predictions of the
test set and its fitted arrays; the arrays go beside OUT.json as little-endian binary files
(`NAME.f64` or `NAME.i64`), named in OUT.json.

Floats are written as the integer bit patterns of their IEEE 754 doubles, so the Rust side
compares them exactly.
"""

import json
import struct
import sys

import numpy as np


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", float(x)))[0]


def numpy_reference(out):
    ref = {"normal": {}, "permutation": {}, "random_sample": {}, "mean": []}
    for seed in (0, 1, 42, 12345, 2**32 - 1):
        rs = np.random.RandomState(seed)
        # Odd sizes make the cached second value of Box-Muller carry over between calls.
        first = rs.normal(0.0, 0.1, size=7)
        second = rs.normal(3.0, 2.0, size=(3, 5))
        ref["normal"][str(seed)] = [bits(x) for x in list(first) + list(second.ravel())]
        ref["permutation"][str(seed)] = [int(i) for i in np.random.RandomState(seed).permutation(1000)]
        ref["random_sample"][str(seed)] = [bits(x) for x in np.random.RandomState(seed).random_sample(10)]
    rs = np.random.RandomState(7)
    for n in list(range(0, 300)) + [1000, 1023, 8191, 8192, 8193, 10007, 100000, 407610]:
        values = rs.normal(48.5, 21.46, size=n)
        mean = np.mean(values) if n else 0.0
        ref["mean"].append({"values": [bits(v) for v in values], "mean": bits(mean)})
    with open(out, "w") as f:
        json.dump(ref, f)


def split_reference(ratings, test_size, seed, out):
    from surprise import Dataset, Reader
    from surprise.model_selection import train_test_split

    reader = Reader(line_format="user item rating", sep="\t", rating_scale=(0, 100))
    data = Dataset.load_from_file(ratings, reader=reader)
    trainset, testset = train_test_split(data, test_size=float(test_size), random_state=int(seed))
    train = [
        [trainset.to_raw_uid(u), trainset.to_raw_iid(i), bits(r)]
        for (u, i, r) in trainset.all_ratings()
    ]
    test = [[u, i, bits(r)] for (u, i, r) in testset]
    with open(out, "w") as f:
        json.dump({"train_user_major": train, "test": test, "global_mean": bits(trainset.global_mean)}, f)


def kfold_reference(ratings, k, seed, out):
    from surprise import Dataset, Reader
    from surprise.model_selection import KFold

    reader = Reader(line_format="user item rating", sep="\t", rating_scale=(0, 100))
    data = Dataset.load_from_file(ratings, reader=reader)
    folds = [[[u, i, bits(r)] for (u, i, r) in testset] for _, testset in KFold(int(k), random_state=int(seed)).split(data)]
    with open(out, "w") as f:
        json.dump(folds, f)


def model_reference(ratings, test_size, seed, n_factors, n_epochs, biased, out):
    from surprise import SVD, BaselineOnly, Dataset, Reader, accuracy
    from surprise.model_selection import train_test_split

    reader = Reader(line_format="user item rating", sep="\t", rating_scale=(0, 100))
    data = Dataset.load_from_file(ratings, reader=reader)
    trainset, testset = train_test_split(data, test_size=float(test_size), random_state=int(seed))
    algo = SVD(n_factors=int(n_factors), n_epochs=int(n_epochs), biased=biased == "true", random_state=int(seed))
    algo.fit(trainset)
    predictions = algo.test(testset)
    baseline = BaselineOnly(verbose=False)
    baseline.fit(trainset)
    baseline_predictions = baseline.test(testset)
    result = {
        "bu": [bits(x) for x in algo.bu],
        "bi": [bits(x) for x in algo.bi],
        "pu": [bits(x) for x in algo.pu.ravel()],
        "qi": [bits(x) for x in algo.qi.ravel()],
        "predictions": [[p.uid, p.iid, bits(p.est), p.details["was_impossible"]] for p in predictions],
        "rmse": bits(accuracy.rmse(predictions, verbose=False)),
        "mae": bits(accuracy.mae(predictions, verbose=False)),
        "baseline_bu": [bits(x) for x in baseline.bu],
        "baseline_bi": [bits(x) for x in baseline.bi],
        "baseline_rmse": bits(accuracy.rmse(baseline_predictions, verbose=False)),
    }
    with open(out, "w") as f:
        json.dump(result, f)


CLASSES = {
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
}
# movierec's own limits, which Surprise does not have.
OURS_ONLY = {"max_size", "max_items", "mode"}
# The arrays each algorithm stores, compared exactly.
ARRAYS = {
    "normal_predictor": ["sigma"],
    "baseline_only": ["bu", "bi"],
    "knn_basic": ["sim"],
    "knn_with_means": ["sim", "means"],
    "knn_with_zscore": ["sim", "means", "sigmas"],
    "knn_baseline": ["sim", "bu", "bi"],
    "svd": ["bu", "bi", "pu", "qi"],
    "svdpp": ["bu", "bi", "pu", "qi", "yj"],
    "nmf": ["bu", "bi", "pu", "qi"],
    "slope_one": ["dev", "freq", "user_mean"],
    "co_clustering": ["cltr_u", "cltr_i", "user_mean", "item_mean", "avg_cltr_u", "avg_cltr_i", "avg_cocltr"],
}


def algorithms_reference(ratings, low, high, test_size, seed, cases, out):
    import os
    import time

    import surprise
    from surprise import Dataset, Reader
    from surprise.model_selection import train_test_split

    reader = Reader(line_format="user item rating", sep="\t", rating_scale=(float(low), float(high)))
    data = Dataset.load_from_file(ratings, reader=reader)
    trainset, testset = train_test_split(data, test_size=float(test_size), random_state=int(seed))
    with open(cases) as f:
        cases = json.load(f)
    folder = os.path.dirname(os.path.abspath(out))
    results = []
    for n, case in enumerate(cases):
        case = dict(case)
        name = case.pop("algorithm")
        kwargs = {k: v for k, v in case.items() if k not in OURS_ONLY}
        # movierec's seed defaults to 0 where Surprise's random_state defaults to unseeded.
        if name in ("svd", "svdpp", "nmf", "co_clustering"):
            kwargs["random_state"] = kwargs.pop("seed", 0)
        if name == "normal_predictor":
            kwargs.pop("seed", None)  # its draws are seeded below, before the test
        if name.startswith("knn") or name == "baseline_only":
            kwargs["verbose"] = False
        algo = getattr(surprise, CLASSES[name])(**kwargs)
        started = time.perf_counter()
        try:
            algo.fit(trainset)
        except ZeroDivisionError as e:
            sys.exit(f"Surprise fails to fit {name} {kwargs}: {e!r}")
        fitted = time.perf_counter()
        if name == "normal_predictor":
            np.random.seed(case.get("seed", 0))
        predictions = algo.test(testset)
        tested = time.perf_counter()
        arrays = {}
        for key in ARRAYS[name]:
            value = np.asarray(getattr(algo, key))
            kind = "i64" if value.dtype.kind in "iu" else "f64"
            path = os.path.join(folder, f"{n}-{key}.{kind}")
            value.astype("<i8" if kind == "i64" else "<f8").tofile(path)
            arrays[key] = path
        results.append(
            {
                "predictions": [[bits(p.est), p.details["was_impossible"], p.details.get("actual_k")] for p in predictions],
                "arrays": arrays,
                "fit_seconds": fitted - started,
                "test_seconds": tested - fitted,
            }
        )
    with open(out, "w") as f:
        json.dump({"test": [[u, i, bits(r)] for (u, i, r) in testset], "cases": results}, f)


if __name__ == "__main__":
    if sys.argv[1] == "numpy":
        numpy_reference(sys.argv[2])
    elif sys.argv[1] == "split":
        split_reference(*sys.argv[2:6])
    elif sys.argv[1] == "kfold":
        kfold_reference(*sys.argv[2:6])
    elif sys.argv[1] == "model":
        model_reference(*sys.argv[2:9])
    elif sys.argv[1] == "algorithms":
        algorithms_reference(*sys.argv[2:9])
    else:
        sys.exit(f"unknown command {sys.argv[1]!r}")
