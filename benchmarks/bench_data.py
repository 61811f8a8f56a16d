"""Batcher and corruption throughput, reported as ratios measured in one run.

    python benchmarks/bench_data.py [--device cuda] [--n 50000]

Compares the device-resident batcher with the streaming (host-memory) batcher on a
CIFAR-shaped uint8 set with crop+flip augmentation, and times the four CIFAR-C noises.
"""
from __future__ import annotations

import argparse
import time

import torch

from stablenets.data.batcher import DeviceBatcher, StreamingBatcher
from stablenets.data.corruptions import NOISE_CORRUPTIONS, corrupt


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def epoch_time(batcher, device, repeats=3) -> float:
    for _ in batcher:  # warm-up epoch
        pass
    _sync(device)
    t = time.perf_counter()
    for _ in range(repeats):
        for x, y in batcher:
            pass
    _sync(device)
    return (time.perf_counter() - t) / repeats


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--n", type=int, default=50000)
    p.add_argument("--batch-size", type=int, default=512)
    a = p.parse_args()
    device = torch.device(a.device)
    images = torch.randint(0, 256, (a.n, 3, 32, 32), dtype=torch.uint8)
    labels = torch.randint(0, 10, (a.n,))
    t_dev = epoch_time(DeviceBatcher(images, labels, a.batch_size, device, augment=True), device)
    t_str = epoch_time(StreamingBatcher(images, labels, a.batch_size, device, augment=True), device)
    print(f"device {device}, {a.n} images 3x32x32, batch {a.batch_size}, crop+flip")
    print(f"  device-resident epoch {t_dev * 1e3:8.1f} ms  ({a.n / t_dev:,.0f} img/s)")
    print(f"  streaming       epoch {t_str * 1e3:8.1f} ms  ({a.n / t_str:,.0f} img/s)  ratio {t_str / t_dev:.1f}x")
    x = images[:10000].to(device).float() / 255
    for name in NOISE_CORRUPTIONS:
        corrupt(x, name, 3)
        _sync(device)
        t = time.perf_counter()
        corrupt(x, name, 3)
        _sync(device)
        print(f"  {name:15s} 10k images {(time.perf_counter() - t) * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
