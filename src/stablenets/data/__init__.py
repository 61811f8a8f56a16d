"""Data sets in their standard on-disk layouts, the papers' noise, and device-resident batching.

    from stablenets import data
    x, y = data.load("cifar10", root, split="test")        # uint8 N×3×32×32, int64 N
    x, y = data.load("embedded-mnist", split="train")       # packaged, no files needed
    info = data.dataset_info("cifar10")                     # classes, channels, size, mean/std
    data.download("mnist", root)                            # official archives, md5-checked
    xn = data.corrupt(data.to_model_input(x), "shot_noise", 3)  # CIFAR-10-C noise, on x's device
    splits = data.load_splits("cifar10", root, train_subset=5000)   # both splits, subsets, fallbacks
    for xb, yb in data.make_batcher(x, y, 128, "cuda", augment=True): ...
"""
from stablenets.data._files import ChecksumError, CorruptFileError, DataError
from stablenets.data.download import download
from stablenets.data.info import DatasetInfo, dataset_info, list_datasets

# Loaded on first use (PEP 562): the command line starts without torch.
_LAZY = {
    "DeviceBatcher": "stablenets.data.batcher",
    "StreamingBatcher": "stablenets.data.batcher",
    "make_batcher": "stablenets.data.batcher",
    "corrupt": "stablenets.data.corruptions",
    "gaussian_noise_train": "stablenets.data.corruptions",
    "normalised_gaussian_noise": "stablenets.data.corruptions",
    "noisy_training_input": "stablenets.data.corruptions",
    "replace_characters": "stablenets.data.corruptions",
    "load": "stablenets.data.loaders",
    "NoiseTestSet": "stablenets.data.noise_sets",
    "noise_test_set": "stablenets.data.noise_sets",
    "Splits": "stablenets.data.prepare",
    "load_splits": "stablenets.data.prepare",
    "load_test_points": "stablenets.data.prepare",
    "to_model_input": "stablenets.data.prepare",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'stablenets.data' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = ["load", "dataset_info", "list_datasets", "download", "DatasetInfo",
           "DataError", "ChecksumError", "CorruptFileError", "corrupt", "gaussian_noise_train", "normalised_gaussian_noise", "noisy_training_input",
           "replace_characters", "noise_test_set", "NoiseTestSet", "DeviceBatcher", "StreamingBatcher",
           "make_batcher", "load_splits", "Splits", "load_test_points", "to_model_input"]
