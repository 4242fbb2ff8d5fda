"""The original system's load + split, for comparison with `load` + `prepare`.

    python bench/python_baseline.py RATINGS.csv RUNS

Reads the seed-schema CSV with pandas, builds Surprise's dataset from the user, movie and
score columns with the 0-100 scale, and splits it with `train_test_split(test_size=0.2,
random_state=42)`, as the original pipeline did. Prints the median wall time in seconds.
"""

import statistics
import sys
import time

import pandas as pd
from surprise import Dataset, Reader
from surprise.model_selection import train_test_split


def once(path):
    start = time.perf_counter()
    df = pd.read_csv(path, dtype={"id_utilisateur": str})
    data = Dataset.load_from_df(df[["id_utilisateur", "id_film", "score_pertinence"]], Reader(rating_scale=(0, 100)))
    train_test_split(data, test_size=0.2, random_state=42)
    return time.perf_counter() - start


if __name__ == "__main__":
    path, runs = sys.argv[1], int(sys.argv[2])
    print(f"{statistics.median(once(path) for _ in range(runs)):.2f}")
