"""What a person wants to read after `scripts/pipeline.sh`: the few key numbers of a run, from
the reports the stages wrote under metrics/, in lines a terminal shows whole.

Usage: python3 scripts/summary.py [ROOT]   (ROOT: the project, default the current folder)
`dvc metrics show` prints every number; this prints the ones that answer "did it work, and how
well": the data, the model's rmse and mae against the baselines, the ranking measures of the
served order against the lists a user gets without us, the search's best, and the outputs.
"""

import json
import sys
from pathlib import Path


def load(root, name):
    path = root / "metrics" / f"{name}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def params_text(params):
    """A model's parameters as `name value` pairs, nulls left out."""
    return ", ".join(f"{k} {v:g}" if isinstance(v, float) else f"{k} {v}" for k, v in params.items() if v is not None)


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    lines = []
    load_report, prepare, evaluate = load(root, "load"), load(root, "prepare"), load(root, "evaluate")
    optimize, predict = load(root, "optimize"), load(root, "predict")

    if load_report:
        s = load_report["stats"]
        lines.append(
            f"Data       {s['ratings']:,} ratings, {s['users']:,} users, {s['movies']:,} movies;"
            f" {load_report['rows_rejected']:,} rows rejected"
        )
        lines.append(f"           source: {load_report['source']}")
    if prepare:
        lines.append(
            f"Split      {prepare['train']['ratings']:,} training and {prepare['test']['ratings']:,} test ratings"
            f" ({prepare['split']}, seed {prepare['seed']})"
        )
    if evaluate:
        b = evaluate["baselines"]
        lines.append(
            f"Accuracy   train's {evaluate.get('algorithm', 'svd')} on the test set: rmse {evaluate['rmse']:.2f}, mae {evaluate['mae']:.2f}"
        )
        lines.append(
            f"           baselines: BaselineOnly {b['baseline_only']['rmse']:.2f} / {b['baseline_only']['mae']:.2f},"
            f" global mean {b['global_mean']['rmse']:.2f} / {b['global_mean']['mae']:.2f}"
        )
        r = evaluate["ranking"]
        rankings = evaluate["rankings"]
        lines.append(
            f"Ranking    top {r['k']} unseen movies, relevant = a test score of {r['relevance_threshold']:g} or more"
            f" ({r['users']:,} users)"
        )
        lines.append(f"           {'':<34}{'NDCG':>7}{'precision':>11}{'hit rate':>10}{'dislikes':>10}")
        names = [
            ("model", f"train's model ({r['kind']})"),
            ("model_reranked", "  its best re-ranked by relevance"),
            ("relevance", f"{evaluate.get('algorithm', 'svd')}'s predicted relevance"),
            ("most_rated", "most-rated movies"),
            ("damped_mean", "highest damped mean score"),
        ]
        for key, label in names:
            m = rankings.get(key)
            if m:
                # Predicted dislikes: the share of the list below the user's own mean score.
                dislikes = f"{m['predicted_dislikes']:>10.1%}" if "predicted_dislikes" in m else ""
                lines.append(
                    f"           {label:<34}{m['ndcg']:>7.3f}{m['precision']:>11.3f}{m['hit_rate']:>10.3f}{dislikes}"
                )
    if optimize:
        best = optimize["best_score"]
        lines.append(
            f"Search     {optimize['candidates']} candidates, {optimize['cv']} folds"
            f" ({optimize['failed']} failed), {optimize['search_seconds']:.0f} s"
        )
        algorithm = optimize.get("best_algorithm", "svd")
        if algorithm == "svd":
            shown = {k: optimize["best_params"][k] for k in ("n_factors", "n_epochs", "lr_all", "reg_all")}
        else:
            shown = optimize["best_params"]
        lines.append(f"           best rating model: {algorithm} ({params_text(shown)})")
        lines.append(f"             cv rmse {best['rmse']:.2f}, test rmse {optimize['test_score']['rmse']:.2f}")
        ranking = optimize.get("best_ranking")
        if ranking:
            p = ranking["params"]
            # How the best are re-ordered, on a line of its own, so that no line passes 88 characters.
            rerank = ""
            if p.get("rerank") and p.get("blend") is not None:
                rerank = f"best {p['rerank']} blended with relevance x{p['blend']:g}"
            elif p.get("rerank"):
                rerank = f"best {p['rerank']} re-ranked by relevance"
            if rerank and p.get("demote_dislikes"):
                rerank += ", predicted dislikes last"
            own = p.get("params") or {}
            if ranking["kind"] == "ensemble":
                # A member's solver settings and guards are left out, so that its line fits.
                hidden = {"max_items", "seed", "simd", "init_std_dev", "cg_steps", "iterations"}
                first, second = own["members"]
                lines.append(f"           served order: ensemble of {first} + {own['weight']:g} x {second}")
                for m in (first, second):
                    shown = {k: v for k, v in own[m].items() if k not in hidden}
                    lines.append(f"             {m} ({params_text(shown)})")
            else:
                shown = {k: v for k, v in own.items() if k != "max_items"}  # a guard, not a setting
                lines.append(f"           served order: {ranking['kind']} ({params_text(shown)})")
            if rerank:
                lines.append(f"             {rerank}")
            scores = f"cv {optimize['measure']} {ranking['cv_score']:.3f}, test {ranking['test_score']:.3f}"
            if ranking.get("test_dislikes") is not None:
                scores += f"; predicted dislikes {ranking['test_dislikes']:.1%}"
            lines.append(f"             {scores}")
    lines.append("Outputs    models/serve.bin: the model to serve (optimize's best, fitted on all ratings)")
    lines.append("           models/model.bin: train's model, measured above")
    if predict:
        lines.append(
            f"           data/predictions/recommendations.csv: top {predict['n']} for {predict['users']:,} users"
        )
    lines.append("           data/loaded/, data/prepared/ (Parquet); metrics/ (every report)")
    lines.append("More       dvc metrics show; dvc plots show; serve: cargo run --release --bin serve")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
