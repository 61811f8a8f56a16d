"""The GPU path on real CIFAR-10: training throughput, PGD-20 over the test set, one PGD-10 epoch.

    python -m benchmarks.gpu --data ROOT [--out docs/benchmarks] [--batches 512 1024] [--compile]

ROOT holds ``cifar-10-batches-py/`` (the offline JPEG copy converted by
``cifar10_from_jpeg.py`` is read with md5 checks off). Everything is timed with CUDA
events after a warm-up; the timed loops contain no host synchronisation.

1. Training throughput of resnet-20 (PreResNet-20), bf16 autocast, channels_last, SGD
   (Nesterov momentum 0.9, weight decay 5e-4), batches from :class:`DeviceBatcher` with
   crop+flip: the library's own step (``stablenets.training.modes.training_loss`` and
   ``build_optimizer``) over whole epochs, per batch size, eager and (``--compile``)
   ``torch.compile``-d; then ``stablenets.training.train`` itself for a few epochs (its
   per-epoch seconds include the test-set evaluation and the checkpoint).
2. PGD-20 (L∞, ε = 8/255, α = 2/255, random start, best iterate) over the 10,000 test
   images in float32 (TF32 off), with the model trained in 1.; also with TF32 on.
3. One epoch of PGD-10 adversarial training (the ``pgd`` training mode: PGD-10 in eval
   mode, then the step, all under bf16 autocast).
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import json
import tempfile
import time
import traceback
from pathlib import Path

import torch
import torch.nn.functional as F

import stablenets
from benchmarks._common import autocast, environment, markdown_table, sync, time_call, write_report
from stablenets.attacks import pgd
from stablenets.data import DeviceBatcher, load

EPS, ALPHA = 8 / 255, 2 / 255


def load_cifar(root: str):
    xtr, ytr = load("cifar10", root, split="train", verify=False)
    xte, yte = load("cifar10", root, split="test", verify=False)
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
    """(optimizer, loss function) from the library's training code, or a minimal equivalent."""
    try:
        from stablenets.training.config import ModeConfig, OptimConfig
        from stablenets.training.modes import training_loss
        from stablenets.training.optim import build_optimizer

        opt = build_optimizer(model, OptimConfig(lr=0.05, nesterov=True))
        cfg = ModeConfig(kind=mode, steps=pgd_steps)

        def loss_fn(fwd, x, y, seed):
            return training_loss(fwd, model, x, y, cfg, seed)[0]

        return opt, loss_fn, "stablenets.training (training_loss + build_optimizer)"
    except ImportError:
        opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True, weight_decay=5e-4)

        def loss_fn(fwd, x, y, seed):
            if mode == "pgd":
                x = pgd(model, x, y, EPS, ALPHA, pgd_steps, keep_best=False, seed=seed)
            return F.cross_entropy(fwd(x), y)

        return opt, loss_fn, "minimal loop in benchmarks/gpu.py"


def train_epochs(model, xtr, ytr, batch, device, mode="natural", pgd_steps=10, compile_mode=None, epochs=1,
                 warmup_steps=30, model_name="resnet-20") -> dict:
    """Whole epochs of the training step (bf16, channels_last), timed with CUDA events."""
    model = model.to(device).to(memory_format=torch.channels_last).train()
    opt, loss_fn, source = _step_parts(model, mode, pgd_steps)
    fwd = torch.compile(model, mode=compile_mode) if compile_mode else model
    batcher = DeviceBatcher(xtr, ytr, batch, device, augment=True, drop_last=True)

    def run(max_steps=None):
        for i, (x, y) in enumerate(batcher):
            if max_steps is not None and i >= max_steps:
                break
            x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, True):
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
    best = min(times)
    return {"model": model_name, "batch": batch, "mode": mode, "pgd_steps": pgd_steps if mode == "pgd" else 0,
            "compile": compile_mode or False, "step_source": source, "epoch_s": times,
            "images_per_epoch": images, "images_per_s": images / best,
            "images_per_s_median": images / sorted(times)[len(times) // 2], "warmup_s": warm_s}


def pgd_test(model, xte, yte, device, batch=2500, steps=20, allow_tf32=False, compile_mode=None) -> dict:
    """PGD-20 over the test set; ``compile_mode``: attack ``torch.compile(model, mode=...)`` instead."""
    model = model.to(device).eval()
    if compile_mode:
        model = torch.compile(model, mode=compile_mode)
    x = xte.to(device).float().div_(255)
    y = yte.to(device)
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
            "seconds": seconds,
            "images_per_s": len(x) / seconds, "clean_acc": clean.item() / len(x), "robust_acc": robust.item() / len(x)}


def library_train(root: str, batch: int, epochs: int, mode: str = "natural", device: str = "cuda",
                  compile_mode: str | None = None, subset: int = 0) -> dict:
    """``stablenets.training.train`` itself; its per-epoch seconds include test evaluation and checkpoint.

    ``compile_mode``: set ``run.compile`` with that ``run.compile_mode`` (e.g. "reduce-overhead").
    """
    from stablenets.training import train
    from stablenets.training.config import TrainConfig

    cfg = TrainConfig()
    cfg.model.name = "resnet-20"
    cfg.data.root, cfg.data.verify, cfg.data.batch_size = root, False, batch
    cfg.optim.lr, cfg.optim.nesterov = 0.05, True
    cfg.schedule.kind = "constant"
    cfg.mode.kind = mode
    cfg.run.epochs, cfg.run.progress = epochs, False
    cfg.data.train_subset = cfg.data.test_subset = subset
    mode_ctx = contextlib.nullcontext()
    if compile_mode:
        cfg.run.compile = True
        if hasattr(cfg.run, "compile_mode"):
            cfg.run.compile_mode = compile_mode
        else:  # a library without the setting: hand the mode to its torch.compile call
            mode_ctx = _compile_with_mode(compile_mode)
    with tempfile.TemporaryDirectory() as tmp, mode_ctx:
        t = time.perf_counter()
        train(cfg, Path(tmp) / "run", device=device, log=lambda *_: None)
        total = time.perf_counter() - t
        rows = [json.loads(line) for line in (Path(tmp) / "run" / "metrics.jsonl").read_text().splitlines()]
    secs = [r["seconds"] for r in rows]
    return {"batch": batch, "mode": mode, "epochs": epochs, "compile_mode": compile_mode, "epoch_s": secs,
            "total_s": total, "images_per_s_best_epoch": rows[-1]["step"] / len(rows) * batch / min(secs),
            "test_acc": [r["test_acc"] for r in rows]}


@contextlib.contextmanager
def _compile_with_mode(mode: str):
    """``torch.compile`` with ``mode`` filled in, while the block runs."""
    original = torch.compile
    torch.compile = functools.partial(original, mode=mode)
    try:
        yield
    finally:
        torch.compile = original


def _guard(results: dict, key: str, fn, *args, **kwargs):
    t = time.perf_counter()
    try:
        results[key] = fn(*args, **kwargs)
    except Exception as err:  # a failed section must not lose the others' numbers
        results[key] = {"error": f"{type(err).__name__}: {err}", "traceback": traceback.format_exc()[-2000:]}
    print(f"[gpu] {key}: {time.perf_counter() - t:.1f}s", flush=True)
    if _guard.save is not None:
        _guard.save()
    return results[key]


_guard.save = None


SECTIONS = ("throughput", "pgd_test", "adv_epoch", "library", "library_compiled", "library_pgd", "pgd_compiled")


def run_all(root: str, batches=(512, 1024), compile_modes=(), train_epochs_n=2, lib_epochs=3, save=None,
            sections=SECTIONS[:4]) -> dict:
    """The chosen sections in turn; ``save(results)`` after each, so a killed run keeps what it measured.

    library_compiled: ``train`` with ``run.compile_mode="reduce-overhead"``; library_pgd: one
    epoch of the library's PGD-10 adversarial training; pgd_compiled: PGD-20 over the test set
    through ``torch.compile(model)``.
    """
    device = torch.device("cuda")
    torch.backends.cudnn.benchmark = True
    xtr, ytr, xte, yte = load_cifar(root)
    res: dict = {"environment": environment(device), "throughput": {}}
    _guard.save = (lambda: save(res)) if save is not None else None
    model = None
    for b in batches if "throughput" in sections or "pgd_test" in sections else ():
        for mode in (None, *(compile_modes if b == max(batches) else ())):
            torch.manual_seed(0)
            m = stablenets.create_model("resnet-20")
            r = _guard(res["throughput"], f"batch {b}{' compile ' + mode if mode else ''}", train_epochs, m, xtr, ytr,
                       b, device, compile_mode=mode, epochs=train_epochs_n)
            if mode is None and "error" not in r:
                model = m
    if model is not None and "pgd_test" in sections:
        _guard(res, "pgd20_test_fp32", pgd_test, model, xte, yte, device, allow_tf32=False)
        _guard(res, "pgd20_test_tf32", pgd_test, model, xte, yte, device, allow_tf32=True)
    if model is not None and "pgd_compiled" in sections:
        _guard(res, "pgd20_test_fp32_compiled", pgd_test, model, xte, yte, device, compile_mode="default")
    torch.manual_seed(0)
    if "adv_epoch" in sections:
        _guard(res, "pgd10_adv_epoch", train_epochs, stablenets.create_model("resnet-20"), xtr, ytr, 512, device,
               mode="pgd", pgd_steps=10, epochs=1, warmup_steps=5)
    if "library" in sections:
        _guard(res, "library_train", library_train, root, 512, lib_epochs)
    if "library_compiled" in sections:
        for b in batches:
            _guard(res, f"library_train_reduce_overhead_{b}", library_train, root, b, lib_epochs,
                   compile_mode="reduce-overhead")
    if "library_pgd" in sections:
        _guard(res, "library_train_pgd10", library_train, root, 512, 1, mode="pgd")
    return res


def markdown(res: dict) -> str:
    env = res["environment"]
    parts = [f"### Training throughput, resnet-20 on CIFAR-10 ({env['device_name']}, bf16 autocast, channels_last; "
             "target ≥ 30,000 images/s)"]
    rows = []
    for key, r in res["throughput"].items():
        if "error" in r:
            rows.append([key, "error", r["error"][:80], "", ""])
        else:
            rows.append([key, r["images_per_s"], r["images_per_s_median"], f"{r['warmup_s']:.1f}", r["step_source"]])
    if rows:
        parts.append(markdown_table(["setting", "images/s (best epoch)", "images/s (median)", "warm-up s", "step"],
                                    rows))
    for key, lib in res.items():
        if not key.startswith("library_train"):
            continue
        if "error" in lib:
            parts.append(f"`stablenets.training.train` ({key}): {lib['error']}")
            continue
        how = f", run.compile_mode={lib['compile_mode']!r}" if lib.get("compile_mode") else ", eager"
        parts.append(f"`stablenets.training.train`, {lib['mode']}, batch {lib['batch']}{how}, {lib['epochs']} "
                     f"epoch(s): epoch seconds {', '.join(f'{s:.2f}' for s in lib['epoch_s'])} (test evaluation "
                     f"and checkpoint included): {lib['images_per_s_best_epoch']:,.0f} images/s at best; test "
                     f"accuracy {', '.join(f'{a:.3f}' for a in lib['test_acc'])}.")
    rows = []
    for key in [k for k in res if k.startswith("pgd20_test")]:
        r = res.get(key)
        if r and "error" not in r:
            rows.append([key, r["seconds"], r["images_per_s"], r["batch"], r["clean_acc"], r["robust_acc"]])
        elif r:
            rows.append([key, "error", r["error"][:80], "", "", ""])
    if rows:
        parts.append("### PGD-20 over the 10,000 CIFAR-10 test images (target < 15 s)\n\n" + markdown_table(
            ["setting", "seconds", "images/s", "batch", "clean acc", "PGD-20 acc"], rows))
    adv = res.get("pgd10_adv_epoch")
    if adv and "error" not in adv:
        parts.append(f"### One epoch of PGD-10 adversarial training (resnet-20, batch {adv['batch']}, bf16)\n\n"
                     f"{adv['epoch_s'][0]:.2f} s for {adv['images_per_epoch']:,} images "
                     f"({adv['images_per_s']:,.0f} images/s); step: {adv['step_source']}.")
    elif adv:
        parts.append(f"PGD-10 epoch: {adv['error']}")
    return "\n\n".join(parts)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="folder holding cifar-10-batches-py/")
    p.add_argument("--out", type=Path, default=Path("docs/benchmarks"))
    p.add_argument("--batches", type=int, nargs="+", default=[512, 1024])
    p.add_argument("--compile", nargs="*", default=[], metavar="MODE",
                   help="also time torch.compile with these modes (e.g. default max-autotune-no-cudagraphs)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--sections", nargs="+", default=list(SECTIONS[:4]), choices=SECTIONS)
    p.add_argument("--stem", default="gpu_cifar", help="report file name (without extension)")
    a = p.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("benchmarks.gpu needs a CUDA device")
    res = run_all(a.data, a.batches, a.compile, a.epochs,
                  save=lambda r: write_report(a.out, a.stem, r, markdown(r)), sections=a.sections)
    print(markdown(res))


if __name__ == "__main__":
    main()
