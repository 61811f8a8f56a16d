"""Checkpoints that survive crashes, and models rebuilt from them.

A run directory holds two checkpoint files, each written atomically (a temporary file in
the same folder, flushed and fsynced, then ``os.replace``), so a write interrupted at
any point leaves the previous version of that file intact and loadable:

- ``model.safetensors``: the unwrapped model's weights (no DDP / compile prefixes), with
  the metadata (JSON strings in the safetensors header) ``stablenets_config`` (how
  ``create_model`` rebuilds the model), ``dataset``, ``preset``, ``epoch``, ``config`` (the
  resolved training configuration) and ``git`` (the commit, when known). This is what
  ``stablenets evaluate`` reads, through :func:`load_model`.
- ``train_state.pt``: everything a resume needs, self-consistent in one file: the model
  state_dict, optimiser state, scheduler state, RNG states (torch CPU and CUDA, numpy,
  python), the number of completed epochs and the global step. It holds plain tensors and
  numbers only, so ``torch.load(weights_only=True)`` reads it (no pickled objects).
"""
from __future__ import annotations

import json
import os
import random
import subprocess
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from stablenets.atomic import atomic_write

__all__ = ["atomic_write", "save_model", "load_model", "save_train_state", "load_train_state",
           "rng_state", "set_rng_state", "git_hash", "unwrap", "MODEL_FILE", "STATE_FILE"]

MODEL_FILE = "model.safetensors"
STATE_FILE = "train_state.pt"


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside DDP / torch.compile wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod
        else:
            return model


def git_hash() -> str | None:
    """The commit of the stablenets checkout, if it is one and git is available."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    # safetensors refuses shared storage; clone every tensor into its own contiguous buffer.
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in unwrap(model).state_dict().items()}


def save_model(path: str | os.PathLike, model: nn.Module, meta: dict) -> Path:
    """Write the unwrapped model's weights and ``meta`` (JSON-able values) to a safetensors file."""
    model = unwrap(model)
    meta = dict(meta)
    meta.setdefault("stablenets_config", getattr(model, "stablenets_config", None))
    meta.setdefault("preset", (meta["stablenets_config"] or {}).get("name"))
    header = {k: json.dumps(v) for k, v in meta.items()}
    tensors = _state_dict(model)
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=header))


def _resolve(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found (give a {MODEL_FILE} file or its run folder)")
    return path


def read_meta(path: str | os.PathLike) -> dict:
    """The metadata of a weights file (or of ``<run dir>/model.safetensors``)."""
    from safetensors import safe_open

    with safe_open(str(_resolve(path)), "pt") as f:
        header = f.metadata() or {}
    return {k: json.loads(v) for k, v in header.items()}


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the model of a checkpoint: ``(model.eval() on device, meta)``.

    ``meta`` has ``dataset``, ``preset``, ``epoch``, ``config``, ``stablenets_config``, ``git``.
    """
    from stablenets.models import create_model

    path = _resolve(path)
    meta = read_meta(path)
    cfg = meta.get("stablenets_config")
    if not cfg:
        raise ValueError(f"{path} has no stablenets_config metadata; it was not written by stablenets")
    model = create_model(cfg["name"], cfg["num_classes"], **cfg.get("overrides", {}))
    missing, unexpected = model.load_state_dict(load_file(str(path)), strict=False)
    if missing or unexpected:
        raise ValueError(f"{path} does not match preset {cfg['name']!r}: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    return model.to(device).eval(), meta


def rng_state() -> dict:
    """Every RNG a training step may draw from, as tensors and numbers (weights_only-loadable)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    py = random.getstate()
    state = {"torch": torch.get_rng_state(),
             "numpy": {"keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                       "has_gauss": int(has_gauss), "gauss": float(gauss)},
             "python": {"version": py[0], "state": list(py[1]), "gauss": py[2]}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_train_state(path: str | os.PathLike, model: nn.Module, optimizer, scheduler: dict, epoch: int,
                     step: int) -> Path:
    """Write the resume state after ``epoch`` completed epochs (atomically)."""
    state = {"model": _state_dict(model), "optimizer": optimizer.state_dict(), "scheduler": dict(scheduler),
             "rng": rng_state(), "epoch": int(epoch), "step": int(step)}
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_train_state(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no resume state at {path}; start the run without --resume")
    return torch.load(path, map_location="cpu", weights_only=True)
