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
from stablenets.data.batcher import DeviceBatcher, StreamingBatcher, make_batcher
from stablenets.data.corruptions import (corrupt, gaussian_noise_train, normalised_gaussian_noise,
                                         noisy_training_input, replace_characters)
from stablenets.data.download import download
from stablenets.data.info import DatasetInfo, dataset_info, list_datasets
from stablenets.data.loaders import load
from stablenets.data.noise_sets import NoiseTestSet, noise_test_set
from stablenets.data.prepare import Splits, load_splits, load_test_points, to_model_input

__all__ = ["load", "dataset_info", "list_datasets", "download", "DatasetInfo",
           "DataError", "ChecksumError", "CorruptFileError", "corrupt", "gaussian_noise_train", "normalised_gaussian_noise", "noisy_training_input",
           "replace_characters", "noise_test_set", "NoiseTestSet", "DeviceBatcher", "StreamingBatcher",
           "make_batcher", "load_splits", "Splits", "load_test_points", "to_model_input"]
