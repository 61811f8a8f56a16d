"""Per-epoch metrics of a run, one JSON object per line in ``<run dir>/metrics.jsonl``.

Keys of each line (the analysis helpers read exactly these):

    epoch            completed epochs (1 for the first line)
    step             optimiser steps so far (global, all epochs)
    lr               learning rate at the end of the epoch
    loss             mean training objective over the epoch's steps
    train_acc        accuracy on the training batches as trained on (adversarial / noisy
                     inputs for pgd and noisy modes, clean inputs for natural and trades)
    test_acc         clean accuracy on the (first data.test_subset) test points
    test_top5        clean top-5 accuracy on those points (:func:`topk_correct`; E-table5's ImageNet
                     column; 1.0 with five classes or fewer)
    test_loss        clean cross-entropy on those points
    seconds          wall time of the epoch (training + test)
    coefficients     {kind: {"mean", "min", "max", "n"}} over all blocks, kind = the
                     coefficient's name (e.g. "lambda", "h", "k", "alpha0"), from
                     stablenets.models.scheme_coefficients
    weight_norms     (run.log_norms only) {parameter name: ‖θ‖₂ at the end of the epoch}
    grad_norms       (run.log_norms only) {parameter name: mean over the epoch's steps of ‖∇θ‖₂}

The file is rewritten atomically each epoch; on resume, lines of epochs that are redone
are dropped, so the file always matches the checkpoint.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from stablenets.atomic import write_text_atomic

__all__ = ["coefficient_summary", "NormTracker", "MetricsLog", "topk_correct"]


def topk_correct(logits: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
    """How many samples have their label among the ``k`` highest logits: fewer than k classes score
    strictly higher than the label (a tie counts for the label, so top-k ≥ the argmax accuracy; with
    k ≥ the number of classes every sample counts)."""
    true = logits.gather(1, y.view(-1, 1))
    return ((logits > true).sum(1) < k).sum()


def coefficient_summary(model: nn.Module) -> dict[str, dict[str, float]]:
    """Mean / min / max of every kind of scheme coefficient over the blocks."""
    from stablenets.models import scheme_coefficients

    by_kind: dict[str, list[torch.Tensor]] = {}
    for key, value in scheme_coefficients(model).items():
        by_kind.setdefault(key.rsplit(".", 1)[-1], []).append(value.detach().double().flatten().cpu())
    out = {}
    for kind, values in by_kind.items():
        v = torch.cat(values)
        out[kind] = {"mean": float(v.mean()), "min": float(v.min()), "max": float(v.max()), "n": int(v.numel())}
    return out


class NormTracker:
    """Accumulates per-parameter gradient norms on the device (no host sync per step)."""

    def __init__(self, model: nn.Module):
        self.named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.sums: torch.Tensor | None = None
        self.count = 0

    def update(self) -> None:
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for _, p in self.named]
        norms = torch.stack(torch._foreach_norm(grads)).float()
        self.sums = norms if self.sums is None else self.sums + norms
        self.count += 1

    def summary(self) -> dict[str, dict[str, float]]:
        weights = torch.stack(torch._foreach_norm([p.detach() for _, p in self.named])).float().cpu().tolist()
        grads = (self.sums / max(self.count, 1)).cpu().tolist() if self.sums is not None else [0.0] * len(weights)
        names = [n for n, _ in self.named]
        return {"weight_norms": dict(zip(names, weights)), "grad_norms": dict(zip(names, grads))}


class MetricsLog:
    """``metrics.jsonl`` of a run directory: read, truncate to an epoch, append a line."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.rows: list[dict] = []
        if self.path.is_file():
            for number, line in enumerate(self.path.read_text(errors="replace").splitlines(), 1):
                try:
                    row = json.loads(line) if line.strip() else None
                except ValueError as err:
                    raise ValueError(f"{self.path} line {number} is damaged ({err}); the per-epoch record cannot be "
                                     f"rebuilt: restore the file, or train the run again in a new folder") from None
                if row is not None:
                    self.rows.append(row)

    def truncate(self, epochs: int) -> None:
        """Keep the lines of the first ``epochs`` completed epochs only."""
        self.rows = [r for r in self.rows if r["epoch"] <= epochs]
        self._write()

    def append(self, row: dict) -> None:
        self.rows.append(row)
        self._write()

    def _write(self) -> None:
        write_text_atomic(self.path, "".join(json.dumps(r) + "\n" for r in self.rows))
