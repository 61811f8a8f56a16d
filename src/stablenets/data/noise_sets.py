"""Noise test sets: the official CIFAR-10-C / CIFAR-100-C files when present, else generated.

``noise_test_set("cifar10", "gaussian_noise", 3, root)`` returns the 10000 test images at
that severity from ``root/CIFAR-10-C/gaussian_noise.npy`` if the file is there
(source "official"); otherwise it applies :func:`stablenets.data.corruptions.corrupt`
with the published formulas to the clean test set (source "generated"). Reports must
print ``source``: the two are statistically alike, not identical.
"""
from __future__ import annotations

import os
from typing import NamedTuple

import torch

from stablenets.data._files import resolve_root
from stablenets.data.cifar import corruption_folder, load_cifar_c
from stablenets.data.corruptions import NOISE_CORRUPTIONS, corrupt
from stablenets.data.loaders import load
from stablenets.data.prepare import to_model_input

SOURCES = ("official", "generated")


class NoiseTestSet(NamedTuple):
    images: torch.Tensor  # uint8 N×C×H×W
    labels: torch.Tensor  # int64 N
    source: str           # "official" or "generated"


def generate_noise_set(images: torch.Tensor, corruption: str, severity: int, seed: int = 0,
                       chunk: int = 2000) -> torch.Tensor:
    """Apply a CIFAR-C noise to uint8 images (on their device) chunk by chunk; returns uint8."""
    g = torch.Generator(device=images.device).manual_seed(int(seed))
    out = torch.empty_like(images)
    for i in range(0, images.shape[0], chunk):
        x = to_model_input(images[i:i + chunk])
        out[i:i + chunk] = (corrupt(x, corruption, severity, generator=g) * 255).round().to(torch.uint8)
    return out


def noise_test_set(dataset: str, corruption: str, severity: int, root: str | os.PathLike | None = None,
                   clean: tuple[torch.Tensor, torch.Tensor] | None = None, seed: int = 0,
                   verify: bool = True) -> NoiseTestSet:
    """The ``corruption`` test set of ``dataset`` at ``severity``, official if available.

    Args:
        dataset: "cifar10" or "cifar100" look for official files; any other name (or
            ``clean`` given) is generated from its test set.
        clean: (uint8 images, labels) to corrupt instead of loading ``dataset``'s test split.
    """
    c_name = f"{dataset}-c"
    if dataset in ("cifar10", "cifar100") and (root is not None or os.environ.get("STABLENETS_DATA")):
        folder = corruption_folder(c_name, resolve_root(root, c_name))
        if (folder / f"{corruption}.npy").is_file():
            x, y = load_cifar_c(c_name, folder.parent, corruption, severity, verify)
            return NoiseTestSet(x, y, "official")
    if corruption not in NOISE_CORRUPTIONS:
        raise FileNotFoundError(f"{corruption!r} can only come from the official {c_name} files (absent under "
                                f"{root}); the formulas here generate {', '.join(NOISE_CORRUPTIONS)}.")
    x, y = clean if clean is not None else load(dataset, root, split="test", verify=verify)
    return NoiseTestSet(generate_noise_set(x, corruption, severity, seed), y, "generated")
