"""``load(name, root, split)``: one entry point over every supported data set.

Returns ``(images, labels)``: images uint8 N×C×H×W (text: int64 N×1014 codes, points:
float32 N×2), labels int64 N. ``root`` defaults to $STABLENETS_DATA; "moons" and
"embedded-mnist" need no files.
"""
from __future__ import annotations

import os

from stablenets.data._files import resolve_root
from stablenets.data.cifar import load_cifar, load_cifar_c
from stablenets.data.imagefolder import load_imagefolder
from stablenets.data.info import check_name
from stablenets.data.mnist import load_embedded, load_mnist
from stablenets.data.moons import make_moons
from stablenets.data.text import load_ag_news

SPLITS = ("train", "test")


def _check_kwargs(name: str, kwargs: dict, allowed: set[str]) -> None:
    extra = set(kwargs) - allowed
    if extra:
        raise TypeError(f"load({name!r}) got unexpected arguments {sorted(extra)}; it accepts {sorted(allowed)}")


def load(name: str, root: str | os.PathLike | None = None, split: str = "train", verify: bool = True, **kwargs):
    """Load split ``split`` of data set ``name`` from its standard layout under ``root``.

    Args:
        name: one of :func:`stablenets.data.list_datasets`.
        root: folder holding the layout; default $STABLENETS_DATA.
        split: "train" or "test" (CIFAR-C: always the test set; split is ignored).
        verify: check official files against their published md5 sums.
        **kwargs: cifar10-c/cifar100-c: ``corruption`` (e.g. "gaussian_noise"), ``severity`` 1..5;
            moons: ``n``, ``noise``, ``seed``; imagefolder: ``image_size``.

    Raises:
        ValueError: unknown name, split or corruption. FileNotFoundError: files absent (the
        message names the layout and the download command). ChecksumError / CorruptFileError
        (both ValueError): a file that is not the official one, or is truncated.
    """
    check_name(name)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    if name == "moons":
        _check_kwargs(name, kwargs, {"n", "noise", "seed"})
        return make_moons(split=split, **kwargs)
    if name == "embedded-mnist":
        _check_kwargs(name, kwargs, set())
        return load_embedded(split)
    path = resolve_root(root, name)
    if name in ("cifar10-c", "cifar100-c"):
        _check_kwargs(name, kwargs, {"corruption", "severity"})
        if "corruption" not in kwargs:
            raise TypeError(f"load({name!r}) needs corruption=... (e.g. 'gaussian_noise') and severity=1..5")
        return load_cifar_c(name, path, kwargs["corruption"], kwargs.get("severity", 1), verify)
    if name == "imagefolder":
        _check_kwargs(name, kwargs, {"image_size"})
        return load_imagefolder(path, split, **kwargs)
    _check_kwargs(name, kwargs, set())
    if name in ("cifar10", "cifar100"):
        return load_cifar(name, path, split, verify)
    if name == "mnist":
        return load_mnist(path, split, verify)
    return load_ag_news(path, split, verify)
