"""Rebuild ``mnist_subset.npz``: the first 5000 training and first 1000 test MNIST digits.

Usage: ``python -m stablenets.data.embedded.build MNIST_ROOT [--train 5000] [--test 1000]``
where MNIST_ROOT holds ``MNIST/raw/`` (the official idx files, verified by md5).
"""
from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np

from stablenets.atomic import write_bytes_atomic
from stablenets.data.mnist import EMBEDDED_FILE, load_mnist


def build(root: Path, n_train: int = 5000, n_test: int = 1000, out: Path | None = None) -> Path:
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = load_mnist(Path(root), split, verify=True)
        arrays[f"{split}_images"] = images[:n, 0].numpy()
        arrays[f"{split}_labels"] = labels[:n].numpy().astype(np.uint8)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    out = out or Path(__file__).with_name(EMBEDDED_FILE)
    write_bytes_atomic(out, buf.getvalue())
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("root", type=Path)
    p.add_argument("--train", type=int, default=5000)
    p.add_argument("--test", type=int, default=1000)
    a = p.parse_args(argv)
    path = build(a.root, a.train, a.test)
    print(f"{path}: {path.stat().st_size} bytes")


if __name__ == "__main__":
    main()
