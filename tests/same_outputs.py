"""Whether two runs of the pipeline wrote the same outputs, but for what records a time.

Usage: same_outputs.py REFERENCE_DIR OTHER_DIR PATH...

Each PATH (relative to both folders) must hold the same bytes in both, except:
- JSON reports: every key naming a time, a duration or a rate (`time`, `seconds`,
  `per_second`) and `instructions` (which instruction set ran) are left out, at any depth;
- CSV tables: the columns naming a time are left out;
- model files (`.bin`): the header's provenance `created_at` and `training_seconds` are left
  out, and the checksum, which covers them; every other byte must be equal.
Prints what differs and exits 1, or prints the count and exits 0.
"""

import csv
import io
import json
import pathlib
import struct
import sys

TIMED = ("time", "seconds", "per_second")


def timeless(value):
    if isinstance(value, dict):
        return {k: timeless(v) for k, v in value.items() if not any(t in k for t in TIMED) and k != "instructions"}
    if isinstance(value, list):
        return [timeless(v) for v in value]
    return value


def model(data):
    assert data[:8] == b"MOVIEREC", "not a movierec model file"
    (length,) = struct.unpack_from("<I", data, 20)
    header = json.loads(data[24 : 24 + length])
    header["provenance"].pop("created_at")
    header["provenance"].pop("training_seconds")
    return header, data[24 + length : -8]


def table(data):
    rows = list(csv.reader(io.StringIO(data.decode())))
    keep = [i for i, name in enumerate(rows[0]) if not any(t in name for t in TIMED)]
    return [[row[i] for i in keep] for row in rows]


def comparable(path, data):
    if path.suffix == ".json":
        return timeless(json.loads(data))
    if path.suffix == ".csv":
        return table(data)
    if path.suffix == ".bin":
        return model(data)
    return data


def main():
    ref, other, paths = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), sys.argv[3:]
    differ = []
    for p in map(pathlib.Path, paths):
        a, b = (ref / p).read_bytes(), (other / p).read_bytes()
        if a != b and comparable(p, a) != comparable(p, b):
            differ.append(str(p))
    if differ:
        print("differ:", ", ".join(differ))
        sys.exit(1)
    print(f"{len(paths)} outputs the same (times aside)")


if __name__ == "__main__":
    main()
