"""Ensembles: the average of several models' logits is itself a model (paper A, Table 6).

    ens = load_ensemble(["runs/a/model.safetensors", "runs/b", "runs/c"], device="cuda")
    evaluate_robustness(ens, x, y, "A")       # attacks see the averaged logits

z(x) = (1/M) Σ_m z_m(x). The members must share input format and number of classes; the
ensemble is an ordinary ``nn.Module``, so gradients flow through every member and white-box
attacks attack the ensemble as a whole.
"""
from __future__ import annotations

import os

import torch
from torch import nn

from stablenets.checkpoint.files import load_model

__all__ = ["Ensemble", "load_ensemble"]


class Ensemble(nn.Module):
    """Average of the members' logits."""

    def __init__(self, models):
        super().__init__()
        models = list(models)
        if not models:
            raise ValueError("an ensemble needs at least one model")
        self.members = nn.ModuleList(models)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members]).mean(0)


def load_ensemble(paths: list[str | os.PathLike], device: str | torch.device = "cpu") -> tuple[Ensemble, list[dict]]:
    """Load checkpoints (files or run folders) into an :class:`Ensemble` in eval mode; also their metas."""
    loaded = [load_model(p, device) for p in paths]
    datasets = {meta.get("dataset") for _, meta in loaded}
    if len(datasets) > 1:
        raise ValueError(f"ensemble members were trained on different data sets: {sorted(map(str, datasets))}")
    return Ensemble([m for m, _ in loaded]).to(device).eval(), [meta for _, meta in loaded]
