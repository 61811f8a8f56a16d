"""The two checkpoint files of a run: written atomically, checksummed, never holding non-finite weights.

A run directory holds two checkpoint files, each written atomically (a temporary file in
the same folder, flushed and fsynced, then ``os.replace``; see :mod:`stablenets.atomic`), so
a write interrupted at any point leaves the previous version of that file intact:

- ``model.safetensors``: the unwrapped model's weights (no DDP / compile prefixes), with
  the metadata (JSON strings in the safetensors header) ``stablenets_config`` (how
  ``create_model`` rebuilds the model), ``dataset``, ``preset``, ``epoch``, ``config`` (the
  resolved training configuration), ``git`` (the commit, when known) and ``weights_sha256``
  (the checksum of the tensors, see :func:`digest`). This is what ``stablenets evaluate``
  reads, through :func:`load_model`.
- ``train_state.pt``: everything a resume needs, self-consistent in one file: the model
  state_dict, optimiser state, scheduler state, RNG states (torch CPU and CUDA, numpy,
  python), the number of completed epochs, the global step and ``sha256`` (the checksum of
  all of it). It holds plain tensors and numbers only, so ``torch.load(weights_only=True)``
  reads it (no pickled objects).

What is checked. Neither file is ever written with a NaN or infinite parameter or buffer
(:class:`NonFiniteWeightsError`). On reading, a truncated or garbled file, a checksum that
does not match the bytes, weights that are not finite, or weights that do not fit the preset
they name are each one :class:`CheckpointError` naming the file. Checkpoints written before
checksums existed (no ``weights_sha256``) are read without that check.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from stablenets.atomic import atomic_write

__all__ = ["save_model", "load_model", "read_meta", "save_train_state", "load_train_state", "rng_state",
           "set_rng_state", "git_hash", "unwrap", "digest", "nonfinite", "check_finite", "CheckpointError",
           "NonFiniteWeightsError", "MODEL_FILE", "STATE_FILE"]

MODEL_FILE = "model.safetensors"
STATE_FILE = "train_state.pt"


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used as it is: damaged, not ours, or not matching its preset."""


class NonFiniteWeightsError(ValueError):
    """Weights holding NaN or ±inf: never written as a checkpoint, never evaluated."""

    def __init__(self, names: list[str], where: str):
        self.names = names
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        super().__init__(f"{where}: {len(names)} parameter/buffer tensor(s) are not finite (NaN or inf): {shown}")


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


def _feed(h, value: Any) -> None:
    if torch.is_tensor(value):
        t = value.detach().to("cpu").contiguous()
        h.update(f"T{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    elif isinstance(value, dict):
        h.update(b"{")
        for key in sorted(value, key=str):
            h.update(repr(key).encode())
            _feed(h, value[key])
        h.update(b"}")
    elif isinstance(value, (list, tuple)):
        h.update(b"[")
        for item in value:
            _feed(h, item)
        h.update(b"]")
    else:
        h.update(repr(value).encode())


def digest(value: Any) -> str:
    """sha256 of tensors (dtype, shape and bytes) and plain values, nested in dicts and lists."""
    h = hashlib.sha256()
    _feed(h, value)
    return h.hexdigest()


def nonfinite(tensors: dict[str, torch.Tensor]) -> list[str]:
    """Names of the floating-point tensors holding a NaN or an infinity."""
    return [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]


def check_finite(model: nn.Module, where: str) -> None:
    """Raise :class:`NonFiniteWeightsError` if a parameter or buffer of ``model`` is not finite."""
    bad = nonfinite(dict(unwrap(model).state_dict()))
    if bad:
        raise NonFiniteWeightsError(bad, where)


def _state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    # safetensors refuses shared storage; clone every tensor into its own contiguous buffer.
    return {k: v.detach().to("cpu", copy=True).contiguous() for k, v in unwrap(model).state_dict().items()}


def save_model(path: str | os.PathLike, model: nn.Module, meta: dict) -> Path:
    """Write the unwrapped model's weights, ``meta`` (JSON-able values) and their checksum."""
    model = unwrap(model)
    tensors = _state_dict(model)
    bad = nonfinite(tensors)
    if bad:
        raise NonFiniteWeightsError(bad, f"not writing {path}")
    meta = dict(meta)
    meta.setdefault("stablenets_config", getattr(model, "stablenets_config", None))
    meta.setdefault("preset", (meta["stablenets_config"] or {}).get("name"))
    meta["weights_sha256"] = digest(tensors)
    header = {k: json.dumps(v) for k, v in meta.items()}
    return atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=header))


def _resolve(path: str | os.PathLike) -> Path:
    path = Path(path)
    if path.is_dir():
        if not (path / MODEL_FILE).is_file():
            raise FileNotFoundError(f"no checkpoint in {path}: it has no {MODEL_FILE} (give a run folder that "
                                    f"finished at least one epoch, or the file itself)")
        path = path / MODEL_FILE
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} not found (give a {MODEL_FILE} file or its run folder)")
    return path


def _damaged(path: Path, err: BaseException) -> CheckpointError:
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    return CheckpointError(f"{path} is damaged or not a stablenets checkpoint ({reason}); "
                           f"restore it or retrain")


def read_meta(path: str | os.PathLike) -> dict:
    """The metadata of a weights file (or of ``<run dir>/model.safetensors``)."""
    from safetensors import safe_open

    path = _resolve(path)
    try:
        with safe_open(str(path), "pt") as f:
            header = f.metadata() or {}
        return {k: json.loads(v) for k, v in header.items()}
    except Exception as err:  # safetensors raises its own error types for every kind of damage
        raise _damaged(path, err) from None


def load_model(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, dict]:
    """Rebuild the model of a checkpoint: ``(model.eval() on device, meta)``.

    ``meta`` has ``dataset``, ``preset``, ``epoch``, ``config``, ``stablenets_config``, ``git``.

    Raises:
        FileNotFoundError: no such file, or a run folder without a checkpoint.
        CheckpointError: damaged file, checksum mismatch, non-finite weights, weights that do
            not fit the preset they name.
    """
    from stablenets.models import create_model

    path = _resolve(path)
    meta = read_meta(path)
    cfg = meta.get("stablenets_config")
    if not cfg:
        raise CheckpointError(f"{path} has no stablenets_config metadata; it was not written by stablenets")
    try:
        tensors = load_file(str(path))
    except Exception as err:
        raise _damaged(path, err) from None
    expected = meta.get("weights_sha256")
    if expected is not None and digest(tensors) != expected:
        raise CheckpointError(f"{path}: the weights do not match their checksum (the file was changed or damaged "
                              f"after it was written); restore it or retrain")
    bad = nonfinite(tensors)
    if bad:
        raise CheckpointError(str(NonFiniteWeightsError(bad, f"{path}")) + "; such a model cannot be evaluated")
    try:
        model = create_model(cfg["name"], cfg["num_classes"], **cfg.get("overrides", {}))
    except (ValueError, TypeError, KeyError) as err:
        raise CheckpointError(f"{path}: its preset {cfg.get('name')!r} cannot be rebuilt here: {err}") from None
    try:
        missing, unexpected = model.load_state_dict(tensors, strict=False)
    except RuntimeError as err:  # a tensor of the wrong shape
        raise CheckpointError(f"{path} does not match preset {cfg['name']!r}: "
                              f"{str(err).splitlines()[-1].strip()}") from None
    if missing or unexpected:
        raise CheckpointError(f"{path} does not match preset {cfg['name']!r}: missing {missing[:5]}, "
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


STATE_KEYS = ("model", "optimizer", "scheduler", "rng", "epoch", "step")


def save_train_state(path: str | os.PathLike, model: nn.Module, optimizer, scheduler: dict, epoch: int,
                     step: int) -> Path:
    """Write the resume state after ``epoch`` completed epochs (atomically, with its checksum)."""
    tensors = _state_dict(model)
    bad = nonfinite(tensors)
    if bad:
        raise NonFiniteWeightsError(bad, f"not writing {path}")
    state = {"model": tensors, "optimizer": optimizer.state_dict(), "scheduler": dict(scheduler),
             "rng": rng_state(), "epoch": int(epoch), "step": int(step)}
    state["sha256"] = digest(state)
    return atomic_write(path, lambda tmp: torch.save(state, tmp))


def load_train_state(path: str | os.PathLike) -> dict:
    """The resume state; a damaged file or a checksum mismatch is one :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no resume state at {path}; start the run without --resume")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # truncated zip, garbled pickle, ...: all mean the same to the user
        raise _damaged(path, err) from None
    if not isinstance(state, dict) or any(k not in state for k in STATE_KEYS):
        raise CheckpointError(f"{path} is not a stablenets resume state (keys {sorted(state)[:8]})"
                              if isinstance(state, dict) else f"{path} is not a stablenets resume state")
    expected = state.pop("sha256", None)
    if expected is not None and digest(state) != expected:
        raise CheckpointError(f"{path}: the resume state does not match its checksum (the file was changed or "
                              f"damaged after it was written); restore it, or start the run again in a new folder")
    return state
