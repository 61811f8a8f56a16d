"""Data sets in their standard on-disk layouts, the papers' noise, and device-resident batching.

    from stablenets import data
    x, y = data.load("cifar10", root, split="test")        # uint8 N×3×32×32, int64 N
    x, y = data.load("embedded-mnist", split="train")       # packaged, no files needed
    info = data.dataset_info("cifar10")                     # classes, channels, size, mean/std
    data.download("mnist", root)                            # official archives, md5-checked
"""
from stablenets.data._files import ChecksumError, CorruptFileError, DataError
from stablenets.data.download import download
from stablenets.data.info import DatasetInfo, dataset_info, list_datasets
from stablenets.data.loaders import load

__all__ = ["load", "dataset_info", "list_datasets", "download", "DatasetInfo",
           "DataError", "ChecksumError", "CorruptFileError"]
