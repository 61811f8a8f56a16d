"""Data as the later stages take it: splits with subsets and fallbacks, test points as model inputs.

    splits = load_splits("cifar10", root, train_subset=5000, fallback="embedded-mnist", log=print)
    x, y, raw = load_test_points("cifar10", root, n=1000)       # float [0, 1] images, int64 labels, uint8 originals
    xb = to_model_input(batch)                              # uint8 images -> float32 in [0, 1]

Models take images as float32 in [0, 1] (they normalise inside); the loaders return the
files' uint8. :func:`to_model_input` is the one conversion (x · fl(1/255), correctly rounded the
same on CPU and CUDA); text codes and 2-D points pass through unchanged.

Fallbacks (``fallback=``, used by smoke-scale runs): when the data set's files are absent, an
image data set is replaced by ``fallback`` (e.g. the embedded MNIST), a point set by the
generated moons, and a text set by synthetic character codes whose first eight codes name the
class (a learnable cue). ``log`` is told which, so a run never passes one data set off as another.

Subsets are the first n samples (``0``: all). Labels are checked against the data set's
number of classes, and an empty split is refused.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable

import torch

from stablenets.data.info import dataset_info
from stablenets.data.loaders import load
from stablenets.data.text import SEQUENCE_LENGTH

__all__ = ["Splits", "load_splits", "load_test_points", "to_model_input", "synthetic_text", "check_labels"]


def to_model_input(x: torch.Tensor) -> torch.Tensor:
    """uint8 images as float32 in [0, 1]; anything else unchanged."""
    return x.float().mul_(1 / 255) if x.dtype == torch.uint8 else x


def synthetic_text(n: int, num_classes: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random character-code sequences whose first eight codes are the class + 1."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, num_classes, (n,), generator=g)
    x = torch.randint(1, dataset_info("ag_news").in_channels, (n, length), generator=g)
    x[:, :8] = y[:, None] + 1
    return x, y


def check_labels(y: torch.Tensor, num_classes: int, what: str) -> torch.Tensor:
    """``y`` as int64 class indices of shape (N,), or one ValueError naming ``what``."""
    if y.dim() != 1:
        raise ValueError(f"{what}: labels must be one class index per sample (shape (N,)), got shape "
                         f"{tuple(y.shape)}")
    if y.is_floating_point() or y.dtype == torch.bool:
        raise ValueError(f"{what}: labels must be integers, got {y.dtype}")
    if y.numel() and (int(y.min()) < 0 or int(y.max()) >= num_classes):
        raise ValueError(f"{what}: labels must lie in 0..{num_classes - 1}, found {int(y.min())}..{int(y.max())}")
    return y.long()


@dataclass
class Splits:
    """Training and test split of the data set actually used (``dataset``: after any fallback)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    dataset: str


def _first_line(err: BaseException) -> str:
    return str(err.args[0] if err.args else err).splitlines()[0]


def load_splits(name: str, root: str | os.PathLike | None = None, *, verify: bool = True, train_subset: int = 0,
                test_subset: int = 0, fallback: str = "", log: Callable[[str], object] = print) -> Splits:
    """Both splits of ``name``, cut to their subsets; ``fallback`` replaces missing files (see module)."""
    for what, n in (("train_subset", train_subset), ("test_subset", test_subset)):
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"data.{what} = {n!r}: must be an integer ≥ 0 (0: all samples)")
    try:
        xtr, ytr = load(name, root, split="train", verify=verify)
        xte, yte = load(name, root, split="test", verify=verify)
    except FileNotFoundError as err:
        if not fallback:
            raise
        kind = dataset_info(name).kind
        if kind == "text":
            n = max(train_subset, test_subset, 64)
            classes = dataset_info(name).num_classes
            xtr, ytr = synthetic_text(n, classes, SEQUENCE_LENGTH, 0)
            xte, yte = synthetic_text(n, classes, SEQUENCE_LENGTH, 1)
            log(f"[smoke] {name} not on disk ({_first_line(err)}); using synthetic character codes")
        else:
            name_used = "moons" if kind == "points" else fallback
            log(f"[smoke] {name} not on disk ({_first_line(err)}); using {name_used} instead")
            name = name_used
            xtr, ytr = load(name, split="train")
            xte, yte = load(name, split="test")
    if train_subset:
        xtr, ytr = xtr[:train_subset], ytr[:train_subset]
    if test_subset:
        xte, yte = xte[:test_subset], yte[:test_subset]
    classes = dataset_info(name).num_classes
    for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        if len(y) == 0:
            raise ValueError(f"the {split} split of {name} is empty")
        check_labels(y, classes, f"{name} {split} split")
    return Splits(xtr, ytr, xte, yte, name)


def load_test_points(name: str, root: str | os.PathLike | None = None, *, n: int | None = None, start: int = 0,
                verify: bool = True) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Test points ``start`` … ``start + n − 1`` of ``name`` as model inputs, their labels, and the
    uint8 originals (None unless the data set is images)."""
    x, y = load(name, root, split="test", verify=verify)
    if not 0 <= start < len(y):
        raise ValueError(f"test point index {start} is outside the {len(y)} test points of {name}")
    stop = len(y) if n is None else start + n
    if n is not None and n < 1:
        raise ValueError(f"the number of test points must be at least 1, got {n}")
    x, y = x[start:stop], y[start:stop]
    raw = x if x.dtype == torch.uint8 else None
    return to_model_input(x), check_labels(y, dataset_info(name).num_classes, f"{name} test split"), raw
