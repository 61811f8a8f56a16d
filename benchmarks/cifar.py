"""The training and attack path on real CIFAR-10 (sections ``cifar-*`` and ``library``; meant for a GPU).

``--data ROOT`` holds ``cifar-10-batches-py/`` (``--no-verify`` skips the md5 checks, for a copy
converted from another format). On CUDA everything is timed with CUDA events after a warm-up;
the timed loops contain no host synchronisation.

- ``cifar-train``: whole epochs of the library's training step (``stablenets.training.modes.
  training_loss`` with ``build_optimizer``: SGD, Nesterov momentum 0.9, weight decay 5e-4) for
  resnet-20, bf16 autocast and channels_last where ``amp`` is on, batches from
  :class:`DeviceBatcher` with crop+flip, per batch size; images/s of the best and the median epoch.
- ``cifar-compiled``: the same with the model through ``torch.compile(mode=MODE)``
  (``reduce-overhead``: CUDA graphs).
- ``cifar-pgd``: PGD-20 (L∞, ε = 8/255, α = 2/255, random start, best iterate) over the test
  images in float32 with TF32 off, with TF32 on, and through ``torch.compile(model)``, against a
  resnet-20 first trained (untimed) by the ``cifar-train`` step.
- ``cifar-adv``: one epoch of PGD-10 adversarial training in the step loop (the ``pgd`` mode).
- ``library``: ``stablenets.training.train`` itself, eager, with ``run.compile_mode=MODE``, and one
  PGD-10 epoch; its per-epoch seconds include the test-set evaluation and the checkpoint.
"""
from __future__ import annotations

import contextlib
import json
import tempfile
import time
from pathlib import Path

import torch

import stablenets
from benchmarks._common import autocast, markdown_table, sync, time_call
from stablenets.attacks import pgd
from stablenets.data import DeviceBatcher, load

EPS, ALPHA = 8 / 255, 2 / 255
MODEL = "resnet-20"


def load_cifar(root: str, verify: bool = True):
    xtr, ytr = load("cifar10", root, split="train", verify=verify)
    xte, yte = load("cifar10", root, split="test", verify=verify)
    return xtr, ytr, xte, yte


@contextlib.contextmanager
def tf32(enabled: bool):
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


def _step_parts(model, mode: str, pgd_steps: int):
    """(optimizer, loss function) from the library's training code."""
    from stablenets.training.config import ModeConfig, OptimConfig
    from stablenets.training.modes import training_loss
    from stablenets.training.optim import build_optimizer

    opt = build_optimizer(model, OptimConfig(lr=0.05, nesterov=True))
    cfg = ModeConfig(kind=mode, steps=pgd_steps)

    def loss_fn(fwd, x, y, seed):
        return training_loss(fwd, model, x, y, cfg, seed)[0]

    return opt, loss_fn


def train_epochs(model, xtr, ytr, batch, device, mode="natural", pgd_steps=10, compile_mode=None, epochs=1,
                 warmup_steps=30, amp=True) -> dict:
    """Whole epochs of the training step (bf16 + channels_last when ``amp``), each timed as one call."""
    channels_last = amp and device.type == "cuda"
    model = model.to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt, loss_fn = _step_parts(model, mode, pgd_steps)
    fwd = torch.compile(model, mode=compile_mode) if compile_mode else model
    batcher = DeviceBatcher(xtr, ytr, batch, device, augment=True, drop_last=True)

    def run(max_steps=None):
        for i, (x, y) in enumerate(batcher):
            if max_steps is not None and i >= max_steps:
                break
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, amp):
                loss = loss_fn(fwd, x, y, i)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    t0 = time.perf_counter()
    run(warmup_steps)
    sync(device)
    warm_s = time.perf_counter() - t0
    times = [time_call(run, device) for _ in range(epochs)]
    images = len(batcher) * batch
    return {"model": MODEL, "batch": batch, "mode": mode, "pgd_steps": pgd_steps if mode == "pgd" else 0,
            "compile": compile_mode or False, "epoch_s": times, "images_per_epoch": images,
            "images_per_s": images / min(times), "images_per_s_median": images / sorted(times)[len(times) // 2],
            "warmup_s": warm_s}


def pgd_test(model, xte, yte, device, batch=2500, steps=20, allow_tf32=False, compile_mode=None) -> dict:
    """PGD-``steps`` over the test set; ``compile_mode``: attack ``torch.compile(model, mode=...)`` instead."""
    model = model.to(device).eval()
    if compile_mode:
        model = torch.compile(model, mode=compile_mode)
    x = xte.to(device).float().div_(255)
    y = yte.to(device)
    batch = min(batch, len(x))
    with tf32(allow_tf32) if device.type == "cuda" else contextlib.nullcontext():
        pgd(model, x[:batch], y[:batch], EPS, ALPHA, 2)  # warm-up (cuDNN algorithm choice)

        def run():
            out = [pgd(model, x[i:i + batch], y[i:i + batch], EPS, ALPHA, steps) for i in range(0, len(x), batch)]
            run.adv = torch.cat(out)

        seconds = time_call(run, device)
        with torch.no_grad():
            clean = sum((model(x[i:i + batch]).argmax(1) == y[i:i + batch]).sum() for i in range(0, len(x), batch))
            robust = sum((model(run.adv[i:i + batch]).argmax(1) == y[i:i + batch]).sum()
                         for i in range(0, len(x), batch))
    return {"images": len(x), "batch": batch, "steps": steps, "tf32": allow_tf32, "compile_mode": compile_mode,
            "seconds": seconds, "images_per_s": len(x) / seconds, "clean_acc": clean.item() / len(x),
            "robust_acc": robust.item() / len(x)}


def throughput(data, batches, device, epochs, compile_mode=None, amp=True) -> dict:
    """``cifar-train`` (``compile_mode`` None) and ``cifar-compiled``: epochs of the step per batch size."""
    xtr, ytr = data[:2]
    out = {}
    for b in batches:
        torch.manual_seed(0)
        out[f"batch {b}"] = train_epochs(stablenets.create_model(MODEL), xtr, ytr, b, device,
                                         compile_mode=compile_mode, epochs=epochs, amp=amp)
    return out


def pgd_section(data, batch, device, epochs, pgd_batch=2500, amp=True) -> dict:
    """``cifar-pgd``: train resnet-20 (untimed), then PGD-20 over the test set in three settings."""
    xtr, ytr, xte, yte = data
    torch.manual_seed(0)
    model = stablenets.create_model(MODEL)
    trained = train_epochs(model, xtr, ytr, batch, device, epochs=epochs, amp=amp)
    res = {"trained": {"batch": batch, "epochs": epochs}}
    res["fp32"] = pgd_test(model, xte, yte, device, pgd_batch, allow_tf32=False)
    if device.type == "cuda":
        res["tf32"] = pgd_test(model, xte, yte, device, pgd_batch, allow_tf32=True)
    res["fp32 compiled"] = pgd_test(model, xte, yte, device, pgd_batch, compile_mode="default")
    res["trained"]["images_per_s"] = trained["images_per_s"]
    return res


def adv_epoch(data, batch, device, amp=True) -> dict:
    """``cifar-adv``: one epoch of PGD-10 adversarial training in the step loop."""
    torch.manual_seed(0)
    return train_epochs(stablenets.create_model(MODEL), data[0], data[1], batch, device, mode="pgd", pgd_steps=10,
                        epochs=1, warmup_steps=5, amp=amp)


def library_train(root: str | None, batch: int, epochs: int, mode: str = "natural", device: str = "cuda",
                  compile_mode: str | None = None, subset: int = 0, verify: bool = True, dataset: str = "cifar10",
                  model: str = MODEL, model_overrides: dict | None = None) -> dict:
    """``stablenets.training.train`` itself; its per-epoch seconds include test evaluation and checkpoint."""
    from stablenets.training import train
    from stablenets.training.config import TrainConfig

    cfg = TrainConfig()
    cfg.model.name, cfg.model.overrides, cfg.data.dataset = model, dict(model_overrides or {}), dataset
    cfg.data.root, cfg.data.verify, cfg.data.batch_size = root, verify, batch
    cfg.optim.lr, cfg.optim.nesterov = 0.05, True
    cfg.schedule.kind = "constant"
    cfg.mode.kind = mode
    cfg.run.epochs, cfg.run.progress = epochs, False
    cfg.data.train_subset = cfg.data.test_subset = subset
    if compile_mode:
        cfg.run.compile, cfg.run.compile_mode = True, compile_mode
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        train(cfg, Path(tmp) / "run", device=device, log=lambda *_: None)
        total = time.perf_counter() - t
        rows = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    secs = [r["seconds"] for r in rows]
    return {"batch": batch, "mode": mode, "epochs": epochs, "compile_mode": compile_mode, "epoch_s": secs,
            "total_s": total, "images_per_s_best_epoch": rows[-1]["step"] / len(rows) * batch / min(secs),
            "test_acc": [r["test_acc"] for r in rows]}


def library(root, batch, epochs, device, compile_mode, verify=True, subset=0) -> dict:
    """``library``: ``train`` eager, with ``run.compile_mode``, and one epoch of PGD-10 training."""
    dev = str(device)
    return {"eager": library_train(root, batch, epochs, device=dev, subset=subset, verify=verify),
            compile_mode: library_train(root, batch, epochs, device=dev, compile_mode=compile_mode, subset=subset,
                                        verify=verify),
            "pgd": library_train(root, batch, 1, mode="pgd", device=dev, subset=subset, verify=verify)}


def markdown_throughput(res: dict) -> str:
    rows = [[key, r["images_per_s"], r["images_per_s_median"], f"{r['warmup_s']:.1f}",
             r["compile"] or "eager"] for key, r in res.items()]
    return ("resnet-20 on CIFAR-10, the library's training step over whole epochs (target ≥ 30,000 images/s)\n\n"
            + markdown_table(["setting", "images/s (best epoch)", "images/s (median)", "warm-up s",
                              "torch.compile mode"], rows))


def markdown_pgd(res: dict) -> str:
    rows = [[key, r["seconds"], r["images_per_s"], r["batch"], r["clean_acc"], r["robust_acc"]]
            for key, r in res.items() if key != "trained"]
    return (f"PGD-{next(r['steps'] for k, r in res.items() if k != 'trained')} over the "
            f"{next(r['images'] for k, r in res.items() if k != 'trained'):,} CIFAR-10 test images "
            "(target < 15 s)\n\n" + markdown_table(["setting", "seconds", "images/s", "batch", "clean acc",
                                                    "PGD acc"], rows))


def markdown_adv(adv: dict) -> str:
    return (f"One epoch of PGD-{adv['pgd_steps']} adversarial training (resnet-20, batch {adv['batch']}): "
            f"{adv['epoch_s'][0]:.2f} s for {adv['images_per_epoch']:,} images ({adv['images_per_s']:,.0f} images/s).")


def markdown_library(res: dict) -> str:
    lines = []
    for key, lib in res.items():
        how = f"run.compile_mode={lib['compile_mode']!r}" if lib.get("compile_mode") else "eager"
        lines.append(f"- {key}: `stablenets.training.train`, {lib['mode']}, batch {lib['batch']}, {how}, "
                     f"{lib['epochs']} epoch(s): epoch seconds {', '.join(f'{s:.2f}' for s in lib['epoch_s'])} "
                     f"(test evaluation and checkpoint included): {lib['images_per_s_best_epoch']:,.0f} images/s "
                     f"at best; test accuracy {', '.join(f'{a:.3f}' for a in lib['test_acc'])}.")
    return "\n".join(lines)
