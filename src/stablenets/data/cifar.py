"""CIFAR-10 / CIFAR-100 (python pickle layout) and CIFAR-10-C / CIFAR-100-C (.npy layout).

Krizhevsky (2009), "Learning Multiple Layers of Features from Tiny Images":
``root/cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}`` and
``root/cifar-100-python/{train,test,meta}``; each batch is a python-2 pickle of a dict
with b"data" (uint8 N×3072: R, G, B planes, each 32×32 row-major) and b"labels"
(CIFAR-100: b"fine_labels").

Hendrycks & Dietterich (2019), "Benchmarking Neural Network Robustness to Common
Corruptions and Perturbations": ``root/CIFAR-10-C/<corruption>.npy`` (uint8
50000×32×32×3, severities 1..5 stacked 10000 each) and ``labels.npy``.

The pickles are read with an unpickler that only admits the numpy array
reconstruction the official files use, so a planted file cannot run code.
"""
from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import torch

from stablenets.data._files import CorruptFileError, check_md5, missing_layout
from stablenets.data.sources import CIFAR10_FILES, CIFAR100_FILES, CIFAR10C_FILES, CIFAR100C_FILES

CORRUPTIONS = ("gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise", "defocus_blur", "glass_blur",
               "motion_blur", "zoom_blur", "gaussian_blur", "snow", "frost", "fog", "brightness", "contrast",
               "elastic_transform", "pixelate", "jpeg_compression", "spatter", "saturate")
PER_SEVERITY = 10000

_LAYOUT = {
    "cifar10": ("cifar-10-batches-py", {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"]},
                b"labels", CIFAR10_FILES),
    "cifar100": ("cifar-100-python", {"train": ["train"], "test": ["test"]}, b"fine_labels", CIFAR100_FILES),
}
_C_LAYOUT = {"cifar10-c": ("CIFAR-10-C", CIFAR10C_FILES), "cifar100-c": ("CIFAR-100-C", CIFAR100C_FILES)}
_ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
            ("numpy", "ndarray"), ("numpy", "dtype")}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed in a CIFAR batch")
        if module == "numpy.core.multiarray":
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def _read_batch(path: Path, label_key: bytes, verify: bool, md5: str) -> tuple[np.ndarray, np.ndarray]:
    raw = path.read_bytes()
    if verify:
        check_md5(path, md5, data=raw)
    try:
        d = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
        data = np.asarray(d[b"data"], dtype=np.uint8)
        labels = np.asarray(d[label_key], dtype=np.int64)
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError, AttributeError) as e:
        raise CorruptFileError(f"{path} is truncated or not a CIFAR python batch ({type(e).__name__}: {e}); "
                               "download it again.") from None
    if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != labels.shape[0]:
        raise CorruptFileError(f"{path}: data has shape {data.shape} for {labels.shape[0]} labels; "
                               "expected N×3072 uint8. Download it again.")
    return data, labels


def load_cifar(name: str, root: Path, split: str, verify: bool = True):
    folder, splits, label_key, md5s = _LAYOUT[name]
    files = [root / folder / f for f in splits[split]]
    if not all(f.is_file() for f in files):
        raise missing_layout(name, root, f"{folder}/{{{','.join(f for s in splits.values() for f in s)}}}")
    parts = [_read_batch(f, label_key, verify, md5s[f.name]) for f in files]
    data = np.concatenate([p[0] for p in parts]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([p[1] for p in parts])
    return torch.from_numpy(data), torch.from_numpy(labels)


def _open_npy(path: Path, verify: bool, md5: str) -> np.ndarray:
    if verify:
        check_md5(path, md5)
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise CorruptFileError(f"{path} is truncated or not a .npy array ({e}); download it again.") from None


def corruption_folder(name: str, root: Path) -> Path:
    return root / _C_LAYOUT[name][0]


def load_cifar_c(name: str, root: Path, corruption: str, severity: int, verify: bool = True):
    """The ``severity``-th block of 10000 images of ``<corruption>.npy`` with its labels."""
    if corruption not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {corruption!r}; valid: {', '.join(CORRUPTIONS)}")
    if severity not in range(1, 6):
        raise ValueError(f"severity must be 1..5, got {severity!r}")
    folder, md5s = _C_LAYOUT[name]
    x_path, y_path = root / folder / f"{corruption}.npy", root / folder / "labels.npy"
    if not (x_path.is_file() and y_path.is_file()):
        raise missing_layout(name, root, f"{folder}/{{<corruption>.npy, labels.npy}} (5 severities × 10000 each)")
    x, y = _open_npy(x_path, verify, md5s[corruption]), _open_npy(y_path, verify, md5s["labels"])
    if x.ndim != 4 or x.shape[1:] != (32, 32, 3) or x.shape[0] != 5 * PER_SEVERITY or y.shape != (5 * PER_SEVERITY,):
        raise CorruptFileError(f"{x_path}: shape {x.shape} (labels {y.shape}); expected 50000×32×32×3 and "
                               "50000 labels, severities 1..5 stacked. Download it again.")
    rows = slice((severity - 1) * PER_SEVERITY, severity * PER_SEVERITY)
    images = torch.from_numpy(np.ascontiguousarray(x[rows]).transpose(0, 3, 1, 2).copy())
    return images, torch.from_numpy(np.asarray(y[rows], dtype=np.int64))
