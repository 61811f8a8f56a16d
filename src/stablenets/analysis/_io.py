"""Shared plumbing of the analyses: lazy matplotlib, atomic PNG/JSON writes, JSON-friendly values.

matplotlib is the optional extra ``plot``; it is imported only inside plotting functions, with
the Agg backend (no display needed).
"""
from __future__ import annotations

import json
import math
import os
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from stablenets.atomic import atomic_write, write_text_atomic

PLOT_HINT = "plotting needs matplotlib: pip install stablenets[plot]"


def pyplot():
    """matplotlib.pyplot on the Agg backend, or one clear ImportError naming the extra."""
    try:
        import matplotlib
    except ImportError as err:
        raise ImportError(PLOT_HINT) from err
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


_DPI = [110]


@contextmanager
def plot_dpi(dpi: int):
    """Within the block, figures are saved at ``dpi`` (e.g. smaller PNGs for a README)."""
    _DPI.append(int(dpi))
    try:
        yield
    finally:
        _DPI.pop()


def save_figure(fig, path: str | os.PathLike, dpi: int | None = None) -> Path:
    """Write ``fig`` as PNG atomically and close it; returns the path (``dpi`` default: see plot_dpi)."""
    plt = pyplot()
    dpi = dpi or _DPI[-1]
    try:
        return atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, bbox_inches="tight"))
    finally:
        plt.close(fig)


def to_jsonable(value):
    """numpy arrays/scalars, tensors, complex numbers, tuples and Paths as plain JSON values.

    Complex numbers become {"re": …, "im": …}; non-finite floats become strings ("inf", "nan").
    """
    if hasattr(value, "detach") and hasattr(value, "cpu"):
        value = value.detach().cpu().numpy()
    if isinstance(value, np.ndarray):
        return [to_jsonable(v) for v in value.tolist()] if value.ndim else to_jsonable(value.item())
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (np.generic,)):
        return to_jsonable(value.item())
    if isinstance(value, complex):
        return {"re": to_jsonable(value.real), "im": to_jsonable(value.imag)}
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Path):
        return str(value)
    return value


def save_json(data, path: str | os.PathLike) -> Path:
    """Write ``to_jsonable(data)`` as indented JSON atomically."""
    text = json.dumps(to_jsonable(data), indent=2, allow_nan=False)
    return write_text_atomic(path, text)


def save_text(text: str, path: str | os.PathLike) -> Path:
    return write_text_atomic(path, text)
