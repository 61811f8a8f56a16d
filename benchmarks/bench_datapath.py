"""Section ``data``: the device-resident batcher against a plain torch DataLoader over the same tensors.

Both produce the same kind of batch from one uint8 N×3×32×32 set: float32 [0, 1] images on
the device with the random crop (4-pixel zero padding) and horizontal flip, and int64
labels. The DataLoader (``TensorDataset``, shuffle, ``pin_memory`` on CUDA, no workers —
workers would only copy the in-memory tensors between processes) yields uint8 batches
that are moved and then cropped/flipped on the device by the same function the batcher
uses; :class:`DeviceBatcher` keeps the set on the device and gathers each batch there;
:class:`StreamingBatcher` (what ``make_batcher`` falls back to when the set does not fit on the
device) keeps it in host memory, pinned on CUDA, and moves each gathered batch. One epoch each,
timed interleaved; ratio = DataLoader time / device batcher time.
"""
from __future__ import annotations

import torch
from torch.utils.data import DataLoader, TensorDataset

from benchmarks._common import interleaved, markdown_table
from stablenets.data.batcher import DeviceBatcher, StreamingBatcher, random_crop_flip


class LoaderPath:
    """A plain DataLoader epoch, finished on the device like the batcher's batches."""

    def __init__(self, images, labels, batch, device, pad=4):
        self.device, self.pad = device, pad
        self.loader = DataLoader(TensorDataset(images, labels), batch_size=batch, shuffle=True,
                                 pin_memory=device.type == "cuda")

    def __iter__(self):
        for x, y in self.loader:
            x = x.to(self.device, non_blocking=True)
            y = y.to(self.device, non_blocking=True)
            n = x.shape[0]
            off = torch.randint(0, 2 * self.pad + 1, (2, n), device=self.device)
            flip = torch.randint(0, 2, (n,), device=self.device).bool()
            yield random_crop_flip(x, off[0], off[1], flip, self.pad).float().mul_(1 / 255), y


def _epoch(iterable):
    def run():
        for _ in iterable:
            pass
    return run


def data_path(n=50000, batch=512, device=torch.device("cpu"), repeats=3) -> dict:
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (n,), generator=g)
    cases = {"device batcher": _epoch(DeviceBatcher(images, labels, batch, device, augment=True)),
             "streaming batcher": _epoch(StreamingBatcher(images, labels, batch, device, augment=True)),
             "torch DataLoader": _epoch(LoaderPath(images, labels, batch, device))}
    timed = interleaved(cases, device, repeats)
    out = {name: {"epoch_s": t["median_s"], "images_per_s": n / t["median_s"], "spread": t["spread"]}
           for name, t in timed.items()}
    return {"images": n, "batch": batch, "paths": out,
            "ratio": out["torch DataLoader"]["epoch_s"] / out["device batcher"]["epoch_s"]}


def markdown(res: dict) -> str:
    rows = [[name, r["epoch_s"] * 1e3, r["images_per_s"]] for name, r in res["paths"].items()]
    return (f"One epoch of {res['images']:,} CIFAR-shaped images, batch {res['batch']}, crop+flip: the device "
            f"batcher is {res['ratio']:.1f}× the DataLoader's throughput.\n\n"
            + markdown_table(["path", "epoch ms", "images/s"], rows))
