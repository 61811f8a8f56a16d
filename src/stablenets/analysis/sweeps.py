"""Accuracy across runs: against h over seeds (paper B Fig. 9), against depth for two h (paper B
Fig. 3), and the generalisation gap train − test accuracy (paper E Table 7).

Input: the facts of each run (:func:`stablenets.analysis.runs.run_facts`: model, h, depth, seed,
train_acc, test_acc of the last epoch). train_acc is the accuracy on the training batches as
trained on (see :mod:`stablenets.training.metrics`). Aggregates over seeds are the median with
min–max error bars, as in paper B.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from stablenets.analysis._io import pyplot, save_figure

__all__ = ["accuracy_vs_h", "accuracy_vs_depth", "generalization_gap", "sweep_analysis", "plot_sweeps"]


def _stats(values) -> dict:
    v = np.asarray(values, dtype=float)
    return {"median": float(np.median(v)), "min": float(v.min()), "max": float(v.max()),
            "mean": float(v.mean()), "std": float(v.std()), "n": int(v.size)}


def accuracy_vs_h(runs: Sequence[dict], metric: str = "test_acc") -> list[dict]:
    """Per h (sorted): median/min/max/mean/std of ``metric`` over the runs (seeds) with that h."""
    groups = defaultdict(list)
    for r in runs:
        if r.get("h") is not None:
            groups[r["h"]].append(r[metric])
    return [{"h": h, **_stats(v)} for h, v in sorted(groups.items())]


def accuracy_vs_depth(runs: Sequence[dict], metric: str = "test_acc") -> dict:
    """{h: [{"depth", median …} sorted by depth]} for every h with at least one run of known depth."""
    groups = defaultdict(lambda: defaultdict(list))
    for r in runs:
        if r.get("h") is not None and r.get("depth") is not None:
            groups[r["h"]][r["depth"]].append(r[metric])
    return {h: [{"depth": d, **_stats(v)} for d, v in sorted(by_depth.items())]
            for h, by_depth in sorted(groups.items())}


def generalization_gap(runs: Sequence[dict]) -> list[dict]:
    """Per model preset: train/test accuracy and gap = train − test, mean ± std over its runs."""
    groups = defaultdict(list)
    for r in runs:
        groups[r["model"]].append(r)
    return [{"model": m, "n": len(rs), "train_acc": _stats([r["train_acc"] for r in rs])["mean"],
             "test_acc": _stats([r["test_acc"] for r in rs])["mean"],
             "gap": _stats([r["gap"] for r in rs])["mean"], "gap_std": _stats([r["gap"] for r in rs])["std"]}
            for m, rs in sorted(groups.items())]


def sweep_analysis(runs: Sequence[dict], metric: str = "test_acc") -> dict:
    if not runs:
        raise ValueError("no runs to aggregate")
    return {"metric": metric, "runs": list(runs), "vs_h": accuracy_vs_h(runs, metric),
            "vs_depth": accuracy_vs_depth(runs, metric), "gap": generalization_gap(runs)}


def _errorbar(ax, xs, rows, label=None, marker="o"):
    med = np.array([r["median"] for r in rows])
    err = np.array([[r["median"] - r["min"] for r in rows], [r["max"] - r["median"] for r in rows]])
    ax.errorbar(xs, 100 * med, yerr=100 * err, marker=marker, capsize=3, label=label)


def plot_sweeps(data: dict, path):
    """Accuracy vs h (median, min–max bars), accuracy vs depth per h, generalisation gap per model."""
    plt = pyplot()
    fig, (ax_h, ax_d, ax_g) = plt.subplots(1, 3, figsize=(12, 3.4))
    metric = data["metric"].replace("_", " ")
    if data["vs_h"]:
        _errorbar(ax_h, [r["h"] for r in data["vs_h"]], data["vs_h"])
        ax_h.set_xscale("log")
    ax_h.set_xlabel("h")
    ax_h.set_ylabel(f"{metric} (%)")
    ax_h.set_title("accuracy vs h over seeds", fontsize=9)
    for h, rows in data["vs_depth"].items():
        _errorbar(ax_d, [r["depth"] for r in rows], rows, label=f"h = {h:g}")
    ax_d.set_xlabel("depth")
    ax_d.set_title("accuracy vs depth", fontsize=9)
    if data["vs_depth"]:
        ax_d.legend(fontsize=7)
    gap = data["gap"]
    ax_g.barh(range(len(gap)), [100 * g["gap"] for g in gap], xerr=[100 * g["gap_std"] for g in gap],
              color="tab:orange")
    ax_g.set_yticks(range(len(gap)), [g["model"] for g in gap], fontsize=7)
    ax_g.set_xlabel("train − test accuracy (points)")
    ax_g.set_title("generalisation gap", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)
