"""MNIST from the idx files (LeCun et al. 1998), and the embedded MNIST subset.

Layout: ``root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte`` or the same with
``.gz`` (what torchvision's ``MNIST(root)`` reads). An idx file is a big-endian header —
magic 0x00000803 (images, then N, rows, cols) or 0x00000801 (labels, then N) — followed
by N·rows·cols (or N) unsigned bytes. Verification checks the md5 of the uncompressed
bytes, so recompressed .gz wrappers of official files still verify.

The embedded subset (:func:`load_embedded`) ships with the package; see
``stablenets/data/embedded/README.md`` for which images it holds.
"""
from __future__ import annotations

import gzip
import zlib
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from stablenets.data._files import CorruptFileError, check_md5, missing_layout
from stablenets.data.sources import MNIST_FILES

_PREFIX = {"train": "train", "test": "t10k"}
_LAYOUT = "MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]"
EMBEDDED_FILE = "mnist_subset.npz"


def _read_idx(folder: Path, stem: str, verify: bool, root: Path) -> np.ndarray:
    for path, opener in ((folder / stem, open), (folder / f"{stem}.gz", gzip.open)):
        if path.is_file():
            break
    else:
        raise missing_layout("mnist", root, _LAYOUT)
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (EOFError, OSError, zlib.error) as e:
        raise CorruptFileError(f"{path} is truncated or not gzip ({e}); download it again.") from None
    if verify:
        check_md5(path, MNIST_FILES[stem], data=raw, what="uncompressed")
    ndim = {0x803: 3, 0x801: 1}.get(int.from_bytes(raw[:4], "big"))
    if ndim is None or len(raw) < 4 + 4 * ndim:
        raise CorruptFileError(f"{path}: not an idx1/idx3 ubyte file (bad magic number); download it again.")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(shape)):
        raise CorruptFileError(f"{path}: header promises {shape} = {int(np.prod(shape))} bytes, file holds "
                               f"{len(body)}; the file is truncated. Download it again.")
    return np.frombuffer(body, dtype=np.uint8).reshape(shape)


def load_mnist(root: Path, split: str, verify: bool = True):
    folder, prefix = root / "MNIST" / "raw", _PREFIX[split]
    images = _read_idx(folder, f"{prefix}-images-idx3-ubyte", verify, root)
    labels = _read_idx(folder, f"{prefix}-labels-idx1-ubyte", verify, root)
    if images.shape[0] != labels.shape[0]:
        raise CorruptFileError(f"{folder}: {images.shape[0]} images but {labels.shape[0]} labels for {split!r}.")
    return torch.from_numpy(images.copy()).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))


def load_embedded(split: str):
    """The packaged MNIST subset: uint8 N×1×28×28 images and int64 labels; no files needed."""
    ref = resources.files("stablenets.data.embedded") / EMBEDDED_FILE
    with resources.as_file(ref) as path, np.load(path) as z:
        images, labels = z[f"{split}_images"], z[f"{split}_labels"]
    return torch.from_numpy(images).unsqueeze(1), torch.from_numpy(labels.astype(np.int64))
