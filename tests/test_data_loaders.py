"""Loaders read the standard layouts exactly, and fail with one clear error otherwise."""
from __future__ import annotations

import gzip
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from stablenets.data import ChecksumError, CorruptFileError, dataset_info, list_datasets, load
from stablenets.data.text import ALPHABET, ALPHABET_SIZE, quantize

MNIST_TRAIN_HIST = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_HIST = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.fixture(scope="module")
def cifar10_root(tmp_path_factory):
    """CIFAR-10 in the standard layout, written once per module by ../shared/data's script (~30 s)."""
    from conftest import shared_data_root
    script = shared_data_root() / "cifar10_from_jpeg.py"
    if not script.is_file():
        pytest.skip(f"{script} not found; set STABLENETS_SHARED_DATA to the shared data folder")
    root = tmp_path_factory.mktemp("cifar10")
    subprocess.run([sys.executable, str(script), str(root)], check=True, capture_output=True)
    return root


def test_mnist_exact_counts_and_official_histogram(shared_data):
    x, y = load("mnist", shared_data, split="train")
    assert x.shape == (60000, 1, 28, 28) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert torch.bincount(y).tolist() == MNIST_TRAIN_HIST
    x, y = load("mnist", shared_data, split="test")
    assert x.shape == (10000, 1, 28, 28)
    assert torch.bincount(y).tolist() == MNIST_TEST_HIST
    assert 0.12 < x.float().div(255).mean().item() < 0.14  # MNIST mean ≈ 0.1325 on the test set


def test_cifar10_standard_layout(cifar10_root):
    x, y = load("cifar10", cifar10_root, split="train", verify=False)
    assert x.shape == (50000, 3, 32, 32) and x.dtype == torch.uint8
    assert torch.bincount(y).tolist() == [5000] * 10
    x, y = load("cifar10", cifar10_root, split="test", verify=False)
    assert x.shape == (10000, 3, 32, 32)
    assert torch.bincount(y).tolist() == [1000] * 10
    mean = x.float().div(255).mean((0, 2, 3))
    assert torch.allclose(mean, torch.tensor(dataset_info("cifar10").mean), atol=0.02)


def test_cifar10_rebuilt_copy_fails_verification_and_says_how_to_skip(cifar10_root):
    with pytest.raises(ChecksumError, match="verify=False"):
        load("cifar10", cifar10_root, split="test")


def test_cifar_truncated_batch(cifar10_root, tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    shutil.copytree(cifar10_root / "cifar-10-batches-py", folder)
    raw = (folder / "test_batch").read_bytes()
    (folder / "test_batch").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CorruptFileError, match="truncated"):
        load("cifar10", tmp_path, split="test", verify=False)


def test_ag_news_test_split(shared_data):
    x, y = load("ag_news", shared_data, split="test")
    assert x.shape == (7600, 1014) and x.dtype == torch.int64
    assert torch.bincount(y).tolist() == [1900] * 4
    assert 0 <= x.min() and x.max() <= ALPHABET_SIZE
    assert (x > 0).any(1).all()
    # row 0's title "Fears for T N pension after talks", read backward, starts with "sklat"
    assert x[0, :5].tolist() == [ALPHABET.index(c) + 1 for c in "sklat"]


def test_zhang_quantisation():
    assert ALPHABET_SIZE == 70 and ALPHABET[0] == "a" and ALPHABET[-1] == "\n"
    codes = quantize("Ab9 é", length=8)
    # backward order, lower-cased; é is outside the alphabet (0), then padding (0)
    assert codes.tolist() == [0, 0, 36, 2, 1, 0, 0, 0]
    assert quantize("x" * 2000).shape == (1014,)


def test_moons_generated_without_files(monkeypatch):
    monkeypatch.delenv("STABLENETS_DATA", raising=False)
    x, y = load("moons", n=400, noise=0.0, seed=1)
    assert x.shape == (400, 2) and x.dtype == torch.float32 and torch.bincount(y).tolist() == [200, 200]
    upper, lower = x[y == 0], x[y == 1]
    assert torch.allclose(upper.norm(dim=1), torch.ones(200), atol=1e-5)  # unit circle
    assert torch.allclose((lower - torch.tensor([1.0, 0.5])).norm(dim=1), torch.ones(200), atol=1e-5)
    a, _ = load("moons", n=400, noise=0.1, seed=1)
    b, _ = load("moons", n=400, noise=0.1, seed=1)
    c, _ = load("moons", n=400, noise=0.1, seed=1, split="test")
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_embedded_mnist_without_files(monkeypatch, shared_data):
    monkeypatch.delenv("STABLENETS_DATA", raising=False)
    x, y = load("embedded-mnist", split="train")
    assert x.shape == (5000, 1, 28, 28) and x.dtype == torch.uint8 and y.dtype == torch.int64
    xt, yt = load("embedded-mnist", split="test")
    assert xt.shape == (1000, 1, 28, 28)
    full_x, full_y = load("mnist", shared_data, split="test")  # provenance: first 1000 test digits
    assert torch.equal(xt, full_x[:1000]) and torch.equal(yt, full_y[:1000])


def test_unknown_name_lists_valid_names():
    with pytest.raises(ValueError, match="cifar10.*embedded-mnist"):
        load("cifar11", "/nonexistent")
    assert "cifar100-c" in list_datasets()


def test_missing_root_names_layout_and_download(tmp_path, monkeypatch):
    with pytest.raises(FileNotFoundError, match=r"(?s)MNIST/raw.*stablenets data download mnist"):
        load("mnist", tmp_path / "nowhere")
    monkeypatch.delenv("STABLENETS_DATA", raising=False)
    with pytest.raises(FileNotFoundError, match="STABLENETS_DATA"):
        load("cifar10")


def test_wrong_layout(tmp_path):
    (tmp_path / "cifar-10-python").mkdir()  # not the extracted folder name
    with pytest.raises(FileNotFoundError, match="cifar-10-batches-py"):
        load("cifar10", tmp_path)


def test_truncated_mnist_gz_and_raw(shared_data, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for f in ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        shutil.copy(shared_data / "MNIST" / "raw" / f, raw / f)
    gz = (raw / "t10k-images-idx3-ubyte.gz").read_bytes()
    (raw / "t10k-images-idx3-ubyte.gz").write_bytes(gz[: len(gz) // 3])
    with pytest.raises(CorruptFileError, match="truncated"):
        load("mnist", tmp_path, split="test")
    (raw / "t10k-images-idx3-ubyte.gz").unlink()
    full = gzip.decompress(gz)
    (raw / "t10k-images-idx3-ubyte").write_bytes(full[:-100])
    with pytest.raises(CorruptFileError, match="truncated"):
        load("mnist", tmp_path, split="test", verify=False)
    with pytest.raises(ChecksumError, match="--no-verify"):
        load("mnist", tmp_path, split="test")


def test_cifar10c_official_layout(tmp_path):
    folder = tmp_path / "CIFAR-10-C"
    folder.mkdir()
    x = np.lib.format.open_memmap(folder / "gaussian_noise.npy", mode="w+", dtype=np.uint8, shape=(50000, 32, 32, 3))
    x[10000:20000, 1, 2, 0] = 7  # severity 2, pixel (row 1, col 2), red
    x.flush()
    np.save(folder / "labels.npy", np.tile(np.arange(10, dtype=np.uint8), 5000))
    images, labels = load("cifar10-c", tmp_path, corruption="gaussian_noise", severity=2, verify=False)
    assert images.shape == (10000, 3, 32, 32) and labels.dtype == torch.int64
    assert (images[:, 0, 1, 2] == 7).all() and images.sum() == 7 * 10000
    with pytest.raises(ChecksumError):
        load("cifar10-c", tmp_path, corruption="gaussian_noise", severity=2)
    with pytest.raises(ValueError, match="severity"):
        load("cifar10-c", tmp_path, corruption="gaussian_noise", severity=6)
    path = folder / "gaussian_noise.npy"
    path.write_bytes(path.read_bytes()[: 20 * 32 * 32 * 3])
    with pytest.raises(CorruptFileError, match="truncated"):
        load("cifar10-c", tmp_path, corruption="gaussian_noise", severity=1, verify=False)


def test_imagefolder(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    for label, cls in enumerate(["cat", "dog"]):
        (tmp_path / "train" / cls).mkdir(parents=True)
        for k in range(3):
            arr = np.full((10, 12, 3), 40 * label + k, dtype=np.uint8)
            Image.fromarray(arr).save(tmp_path / "train" / cls / f"{k}.png")
    x, y = load("imagefolder", tmp_path, image_size=8)
    assert x.shape == (6, 3, 8, 8) and y.tolist() == [0, 0, 0, 1, 1, 1]
    assert x[4].unique().tolist() == [41]
    (tmp_path / "train" / "dog" / "bad.png").write_bytes(b"not a png")
    with pytest.raises(CorruptFileError, match="bad.png"):
        load("imagefolder", tmp_path, image_size=8)
