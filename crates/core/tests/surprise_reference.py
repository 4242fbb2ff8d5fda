"""Reference values from numpy and scikit-surprise for movierec's compatibility tests.

    python surprise_reference.py numpy OUT.json
    python surprise_reference.py split RATINGS.tsv TEST_SIZE SEED OUT.json
    python surprise_reference.py kfold RATINGS.tsv K SEED OUT.json
    python surprise_reference.py model RATINGS.tsv TEST_SIZE SEED N_FACTORS N_EPOCHS BIASED OUT.json

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


if __name__ == "__main__":
    if sys.argv[1] == "numpy":
        numpy_reference(sys.argv[2])
    elif sys.argv[1] == "split":
        split_reference(*sys.argv[2:6])
    elif sys.argv[1] == "kfold":
        kfold_reference(*sys.argv[2:6])
    elif sys.argv[1] == "model":
        model_reference(*sys.argv[2:9])
    else:
        sys.exit(f"unknown command {sys.argv[1]!r}")
