"""bench/workers.sh's report: the runs side by side, their medians, and the projection.

Usage: workers_report.py WORK RUNS

From WORK: sharded-I.json (the DAG run's task instances), shards-I/ (its shard files),
sharded-I.memory (each shard worker's peak memory), one-I/ (the one-process run: its wall,
peak memory and outputs). Prints Markdown tables and one JSON line.

The projection: a round on S one-core shards takes the scheduling gap before it, a shard's own
overhead (its task's time beyond its search: fetching the search set, reading it, planning,
putting its file), and the larger of its one-thread work divided by S and its longest fit (a
fit is not divided); the search set before and the merge (the refits) after run on one
machine. Machines of two cores run two
shards each.
"""

import datetime
import json
import pathlib
import statistics
import sys

work, runs = pathlib.Path(sys.argv[1]), int(sys.argv[2])


def when(text):
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def seconds(a, b):
    return (when(b) - when(a)).total_seconds()


def fit_seconds(result):
    scores = result["scores"]
    return scores.get("Ok", {}).get("seconds", 0.0) if isinstance(scores, dict) else 0.0


rows = []
for i in range(1, runs + 1):
    run = json.loads((work / f"sharded-{i}.json").read_text())
    tasks = {(t["task_id"], t["map_index"]): t for t in run["tasks"]}
    search_set = tasks[("search_set", -1)]
    merge = tasks[("merge", -1)]
    rounds = {}
    last_end = search_set["end_date"]
    for name in ("rating", "ranking"):
        shard_tasks = sorted((t for (task, _), t in tasks.items() if task == f"{name}_shard"), key=lambda t: t["map_index"])
        files = {}
        for path in (work / f"shards-{i}").glob(f"{name}-*.json"):
            file = json.loads(path.read_text())
            files[f"{file['shard']['k']}/{file['shard']['n']}"] = file
        shards = []
        for t in shard_tasks:
            k = t["map_index"] + 1
            file = files[f"{k}/{len(shard_tasks)}"]
            task_seconds = seconds(t["start_date"], t["end_date"])
            shards.append({"task": task_seconds, "search": file["seconds"], "overhead": task_seconds - file["seconds"],
                           "fits": len(file["results"]), "host": t["hostname"], "try": t["try_number"]})
        start = min(t["start_date"] for t in shard_tasks)
        end = max(t["end_date"] for t in shard_tasks)
        longest = max(fit_seconds(r) for f in files.values() for r in f["results"])
        rounds[name] = {"gap": seconds(last_end, start), "span": seconds(start, end), "shards": shards,
                        "work": sum(s["search"] for s in shards), "longest_fit": longest}
        last_end = end
    memory = {}
    for line in (work / f"sharded-{i}.memory").read_text().splitlines():
        parts = line.split()
        if len(parts) == 2:
            memory[parts[0][:12]] = int(parts[1]) / 1e9
    one = work / f"one-{i}"
    started, finished = (one / "wall").read_text().split()
    one_report = json.loads((one / "metrics/optimize.json").read_text())
    one_memory = (one / "memory").read_text().strip()
    rows.append({
        "one_optimize": seconds(started, finished),
        "one_search": one_report["search_seconds"],
        "one_memory_gb": int(one_memory) / 1e9 if one_memory else None,
        "sharded_optimize": seconds(search_set["start_date"], merge["end_date"]),
        "search_set": seconds(search_set["start_date"], search_set["end_date"]),
        "sharded_search": seconds(min(s["start_date"] for (t, _), s in tasks.items() if t == "rating_shard"),
                                  max(s["end_date"] for (t, _), s in tasks.items() if t == "ranking_shard")),
        "merge": seconds(merge["start_date"], merge["end_date"]),
        "merge_gap": seconds(last_end, merge["start_date"]),
        "rounds": rounds,
        "worker_memory_gb": memory,
    })

print("| run | one process: `optimize` (s) | its search (s) | sharded: search set's start to merge done (s) | its search: first shard's start to last shard's end (s) | overhead, `optimize` | overhead, search |")
print("|---|---:|---:|---:|---:|---:|---:|")
for i, r in enumerate(rows, 1):
    print(f"| {i} | {r['one_optimize']:.1f} | {r['one_search']:.1f} | {r['sharded_optimize']:.1f} | {r['sharded_search']:.1f} "
          f"| {r['sharded_optimize'] / r['one_optimize'] - 1:+.1%} | {r['sharded_search'] / r['one_search'] - 1:+.1%} |")
med = lambda key: statistics.median(r[key] for r in rows)
print(f"| median | {med('one_optimize'):.1f} | {med('one_search'):.1f} | {med('sharded_optimize'):.1f} | {med('sharded_search'):.1f} "
      f"| {med('sharded_optimize') / med('one_optimize') - 1:+.1%} | {med('sharded_search') / med('one_search') - 1:+.1%} |")
print()
print("| run | round | gap before it (s) | span (s) | shards: task (s) | shards: search (s) | shards: overhead (s) | fits | longest fit (s) |")
print("|---|---|---:|---:|---|---|---|---|---:|")
for i, r in enumerate(rows, 1):
    for name, o in r["rounds"].items():
        f = lambda key: ", ".join(f"{s[key]:.1f}" for s in o["shards"])
        if name == "rating":
            print(f"| {i} | search set | | {r['search_set']:.1f} | | | | | |")
        print(f"| {i} | {name} | {o['gap']:.1f} | {o['span']:.1f} | {f('task')} | {f('search')} | {f('overhead')} "
              f"| {', '.join(str(s['fits']) for s in o['shards'])} | {o['longest_fit']:.1f} |")
    print(f"| {i} | merge | {r['merge_gap']:.1f} | {r['merge']:.1f} | | | | | |")
print()

# The projection, from the medians of the runs.
def median_of(get):
    return statistics.median(get(r) for r in rows)


model = {}
for name in ("rating", "ranking"):
    model[name] = {
        "gap": median_of(lambda r: r["rounds"][name]["gap"]),
        "overhead": median_of(lambda r: max(s["overhead"] for s in r["rounds"][name]["shards"])),
        "work": median_of(lambda r: r["rounds"][name]["work"]),
        "longest_fit": median_of(lambda r: r["rounds"][name]["longest_fit"]),
    }
merge_seconds = median_of(lambda r: r["merge_gap"] + r["merge"])
search_set_seconds = median_of(lambda r: r["search_set"])
print("| machines (2 cores each) | shards per round | projected: search set's start to merge done (s) | of which the search (s) | against one process |")
print("|---:|---:|---:|---:|---:|")
projection = {}
for machines in (1, 2, 4, 8):
    shards = 2 * machines
    search = sum(m["gap"] + m["overhead"] + max(m["work"] / shards, m["longest_fit"]) for m in model.values())
    total = search_set_seconds + search + merge_seconds
    projection[machines] = round(total, 1)
    print(f"| {machines} | {shards} | {total:.1f} | {search:.1f} | {total / med('one_optimize'):.2f} |")
print()
mem = [v for r in rows for v in r["worker_memory_gb"].values()]
one_mem = [r["one_memory_gb"] for r in rows if r["one_memory_gb"]]
print(json.dumps({
    "one_optimize_s": round(med("one_optimize"), 1), "one_search_s": round(med("one_search"), 1),
    "sharded_optimize_s": round(med("sharded_optimize"), 1), "sharded_search_s": round(med("sharded_search"), 1),
    "model": {k: {kk: round(vv, 2) for kk, vv in v.items()} for k, v in model.items()}, "merge_s": round(merge_seconds, 1),
    "search_set_s": round(search_set_seconds, 1),
    "projection_s": projection, "shard_worker_peak_gb": round(max(mem), 2) if mem else None,
    "one_process_peak_gb": round(max(one_mem), 2) if one_mem else None,
}))
