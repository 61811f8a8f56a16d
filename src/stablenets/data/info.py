"""What a model needs to know about a data set: classes, channels, size, mean/std, kind.

``kind`` is "image" (uint8 N×C×H×W), "text" (int64 N×L character codes; ``in_channels``
is the alphabet size plus the padding code 0, ``image_size`` the sequence length) or
"points" (float32 N×D; ``in_channels`` is D, ``image_size`` is 0). mean/std are the
per-channel statistics of the training split in [0,1] units, for the normalising first
layer inside the model; they are empty for text and points.
"""
from __future__ import annotations

from dataclasses import dataclass

from stablenets.data.text import ALPHABET_SIZE, SEQUENCE_LENGTH


@dataclass(frozen=True)
class DatasetInfo:
    num_classes: int
    in_channels: int
    image_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    kind: str


_CIFAR10 = DatasetInfo(10, 3, 32, (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616), "image")
_CIFAR100 = DatasetInfo(100, 3, 32, (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762), "image")
_MNIST = DatasetInfo(10, 1, 28, (0.1307,), (0.3081,), "image")

INFO: dict[str, DatasetInfo] = {
    "cifar10": _CIFAR10,
    "cifar100": _CIFAR100,
    "mnist": _MNIST,
    "cifar10-c": _CIFAR10,
    "cifar100-c": _CIFAR100,
    "ag_news": DatasetInfo(4, ALPHABET_SIZE + 1, SEQUENCE_LENGTH, (), (), "text"),
    "moons": DatasetInfo(2, 2, 0, (), (), "points"),
    # ImageNet defaults; the real class count is the number of subfolders found.
    "imagefolder": DatasetInfo(1000, 3, 224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225), "image"),
    "embedded-mnist": _MNIST,
}


# The size of each fixed test split (moons and imagefolder vary: None).
TEST_POINTS = {"cifar10": 10000, "cifar100": 10000, "mnist": 10000, "ag_news": 7600, "embedded-mnist": 1000}


def test_points(name: str) -> int | None:
    """How many points the whole test split of ``name`` holds (None where it is not fixed)."""
    return TEST_POINTS.get(name)


def list_datasets() -> list[str]:
    """Names accepted by :func:`stablenets.data.load`."""
    return list(INFO)


def check_name(name: str) -> str:
    if name not in INFO:
        raise ValueError(f"unknown data set {name!r}; valid names: {', '.join(INFO)}")
    return name


def dataset_info(name: str) -> DatasetInfo:
    """Classes, channels, size, mean/std and kind of data set ``name``."""
    return INFO[check_name(name)]
