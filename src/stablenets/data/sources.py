"""Official download locations and checksums of the supported data sets.

md5 sums are the published ones (cs.toronto.edu for CIFAR, yann.lecun.com for
MNIST, Zenodo records 2535967 / 3555552 for CIFAR-10-C / CIFAR-100-C, the
torchtext AG-NEWS CSV mirror). Loaders use the per-file sums to verify what is
on disk; :mod:`stablenets.data.download` uses the archive sums.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Archive:
    """One downloadable file: its name, md5, and the official folder it lives in."""

    filename: str
    md5: str
    base_url: str
    extract: str  # "tar" (unpack into root), "copy_to:<subdir>" (store as is under root/<subdir>)


CIFAR10_FILES = {  # cifar-10-batches-py/
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
CIFAR100_FILES = {  # cifar-100-python/
    "train": "16019d7e3df5f24257cddd939b257f8d",
    "test": "f0ef6b0ae62326f3e7ffdfab6717acfc",
    "meta": "7973b15100ade9c7d40fb424638fde48",
}
MNIST_FILES = {  # md5 of the uncompressed idx files (the .gz wrappers may be recompressed)
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
CIFAR10C_FILES = {
    "gaussian_noise": "ecaf8b9a2399ffeda7680934c33405fd", "shot_noise": "3a7239bb118894f013d9bf1984be7f11",
    "impulse_noise": "2090e01c83519ec51427e65116af6b1a", "speckle_noise": "ef00b87611792b00df09c0b0237a1e30",
    "defocus_blur": "7d1322666342a0702b1957e92f6254bc", "glass_blur": "7361fb4019269e02dbf6925f083e8629",
    "motion_blur": "fffa5f852ff7ad299cfe8a7643f090f4", "zoom_blur": "6ea8e63f1c5cdee1517533840641641b",
    "gaussian_blur": "c33370155bc9b055fb4a89113d3c559d", "snow": "bb238de8555123da9c282dea23bd6e55",
    "frost": "31f6ab3bce1d9934abfb0cc13656f141", "fog": "7b397314b5670f825465fbcd1f6e9ccd",
    "brightness": "0a81ef75e0b523c3383219c330a85d48", "contrast": "3c8262171c51307f916c30a3308235a8",
    "elastic_transform": "9421657c6cd452429cf6ce96cc412b5f", "pixelate": "0f14f7e2db14288304e1de10df16832f",
    "jpeg_compression": "2b9cc4c864e0193bb64db8d7728f8187", "spatter": "8a5a3903a7f8f65b59501a6093b4311e",
    "saturate": "1cfae0964219c5102abbb883e538cc56", "labels": "c439b113295ed5254878798ffe28fd54",
}
CIFAR100C_FILES = {
    "gaussian_noise": "ecc4d366eac432bdf25c024086f5e97d", "shot_noise": "b0a1fa6e1e465a747c1b204b1914048a",
    "impulse_noise": "3b3c210ddfa0b5cb918ff4537a429fef", "speckle_noise": "e3f215b1a0f9fd9fd6f0d1cf94a7ce99",
    "defocus_blur": "d923e3d9c585a27f0956e2f2ad832564", "glass_blur": "0bf384f38e5ccbf8dd479d9059b913e1",
    "motion_blur": "732a7e2e54152ff97c742d4c388c5516", "zoom_blur": "0204613400c034a81c4830d5df81cb82",
    "gaussian_blur": "5204ba0d557839772ef5a4196a052c3e", "snow": "0237be164583af146b7b144e73b43465",
    "frost": "3a39c6823bdfaa0bf8b12fe7004b8117", "fog": "4efc7ebd5e82b028bdbe13048e3ea564",
    "brightness": "f22d7195aecd6abb541e27fca230c171", "contrast": "322bb385f1d05154ee197ca16535f71e",
    "elastic_transform": "a0792bd6581f6810878be71acedfc65a", "pixelate": "96c00c60f144539e14cffb02ddbd0640",
    "jpeg_compression": "c851b7f1324e1d2ffddeb76920576d11", "spatter": "12ccf41d62564d36e1f6a6ada5022728",
    "saturate": "c0697e9fdd646916a61e9c312c77bf6b", "labels": "bb4026e9ce52996b95f439544568cdb2",
}
AG_NEWS_FILES = {"train.csv": "b1a00f826fdfbd249f79597b59e1dc12", "test.csv": "d52ea96a97a2d943681189a97654912d"}

_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
ARCHIVES: dict[str, tuple[Archive, ...]] = {
    "cifar10": (Archive("cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a",
                        "https://www.cs.toronto.edu/~kriz/", "tar"),),
    "cifar100": (Archive("cifar-100-python.tar.gz", "eb9058c3a382ffc7106e4002c42a8d85",
                         "https://www.cs.toronto.edu/~kriz/", "tar"),),
    "mnist": tuple(Archive(f, m, _MNIST_URL, "copy_to:MNIST/raw") for f, m in (
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"))),
    "cifar10-c": (Archive("CIFAR-10-C.tar", "56bf5dcef84df0e2308c6dcbcbbd8499",
                          "https://zenodo.org/records/2535967/files/", "tar"),),
    "cifar100-c": (Archive("CIFAR-100-C.tar", "11f0ed0f1191edbf9fa23466ae6021d3",
                           "https://zenodo.org/records/3555552/files/", "tar"),),
    "ag_news": tuple(Archive(f, m, "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/",
                             "copy_to:ag_news_csv") for f, m in AG_NEWS_FILES.items()),
}
