"""Training and attack throughput per model, eager against the fast path and packed: the cost table.

    python -m benchmarks.throughput --device cuda --out DIR [--budget SECONDS] [--source ID] [--quick]

For each model the registry trains (the families and depths of ``MODELS``, most used first) it
measures, on random data of the data set's shape held on the device:

- ``eager``: the training step as it was before the fast path — bf16 autocast and channels_last on
  CUDA, the optimiser's for-each update, every kernel launched from Python;
- ``fast``: the CUDA fast path of ``train`` (training/fastpath.py): the same step with the fused
  optimiser and replayed as one CUDA graph;
- ``compiled``: ``fast`` with the model through ``torch.compile`` (inductor; the first steps compile);
- ``packed``: ``R`` runs of the model as one stack (training/packed.py), aggregate images/s;
- ``attack``: one fp32 forward + backward with respect to the input in eval mode (one attack
  iteration), images/s at the evaluation batch.

A step includes drawing the batch from the device-resident batcher with the paper's augmentation,
as in training. Each case runs ``warmup`` steps (the CUDA graph is captured there), then ``steps``
timed steps between two synchronisations. Rows are written as they are measured to
``<out>/throughput.json`` in the format of ``stablenets/reproduce/papers/throughput.json``; a case
that fails (a model whose step cannot be captured stays eager, and says so) is recorded with its
reason. Cases stop when ``--budget`` seconds are spent; the rest are left for a later run.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import time
import traceback
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

# (model, data set, training batch): every family and depth the registry trains, most used first.
MODELS = [
    ("resnet-20", "cifar10", 128), ("resnet-32", "cifar10", 128), ("resnet-18-w8", "mnist", 128),
    ("ie-resnet-1-18-w8", "mnist", 128), ("ie-resnet-3-18-w8", "mnist", 128), ("resnet-56", "cifar10", 128),
    ("resnet-44", "cifar10", 128), ("resnet-110", "cifar10", 128), ("in-resnet-110", "cifar10", 128),
    ("zerosnet-opt-56", "cifar10", 128), ("resnet-164", "cifar10", 128), ("resnet-18-w16", "cifar10", 128),
    ("resnet-50-w16", "cifar10", 128), ("ie-resnet-1-18-w16-g0.05", "cifar10", 128), ("resnet-18", "cifar10", 128),
    ("wrn-34-10", "cifar10", 128), ("resnext-29", "cifar10", 128), ("sonet-32", "cifar10", 128),
    ("soblock-wrn-34-10", "cifar10", 128), ("textresnet-29", "ag_news", 128),
]
PACKED = [("resnet-20", "cifar10", 128, 4), ("resnet-20", "cifar10", 128, 8), ("resnet-20", "cifar10", 128, 16),
          ("resnet-32", "cifar10", 128, 5), ("resnet-56", "cifar10", 128, 4), ("resnet-110", "cifar10", 128, 4),
          ("resnet-18-w8", "mnist", 128, 4)]


def _config(model: str, dataset: str, batch: int):
    from stablenets.training import TrainConfig, apply_overrides

    return apply_overrides(TrainConfig(), [f"model.name={model}", f"data.dataset={dataset}",
                                           f"data.batch_size={batch}"])


def _data(dataset: str, n: int, device):
    from stablenets.data import dataset_info

    info = dataset_info(dataset)
    g = torch.Generator().manual_seed(0)
    y = torch.randint(0, info.num_classes, (n,), generator=g)
    if info.kind == "text":
        x = torch.randint(0, 70, (n, info.image_size), generator=g)
    else:
        x = torch.randint(0, 256, (n, info.in_channels, info.image_size, info.image_size), generator=g,
                          dtype=torch.uint8)
    return x.to(device), y.to(device), info.kind == "image"


def _sync(device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def train_rate(model_name: str, dataset: str, batch: int, path: str, device, steps: int, warmup: int,
               runs: int = 1) -> tuple[float, str]:
    """Training images/s of ``path`` (eager, fast, packed) and a note (why the fast path was off)."""
    from stablenets.data import make_batcher
    from stablenets.training.fastpath import StepRunner
    from stablenets.training.optim import build_optimizer
    from stablenets.training.packed import stack_loss, stack_models, stack_optimizer
    from stablenets.training.trainer import build_model

    cfg = _config(model_name, dataset, batch)
    cuda = device.type == "cuda"
    x, y, image = _data(dataset, batch * 8, device)
    models = []
    for r in range(runs):
        torch.manual_seed(r)
        models.append(build_model(cfg, dataset).to(device).train())
    batchers = [make_batcher(x, y, batch, device, augment=image, seed=r) for r in range(runs)]
    fast = path != "eager"
    if path == "packed":
        params, buffers, call = stack_models(models)
        optimizer = stack_optimizer(models[0], params, cfg.optim, fused=cuda)
        runner = StepRunner(stack_loss(call, params, buffers), list(params.values()), optimizer, graphs=cuda,
                            autocast=cuda)
    else:
        model = models[0]
        if cuda and image:
            model = model.to(memory_format=torch.channels_last)
        optimizer = build_optimizer(model, cfg.optim, fused=cuda and fast)
        if path == "compiled":
            model = torch.compile(model)

        def loss_fn(xb, yb):
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            return loss, loss.detach().float(), (logits.detach().argmax(1) == yb).sum()

        runner = StepRunner(loss_fn, [p for p in model.parameters()], optimizer, graphs=cuda and fast,
                            autocast=cuda)

    def batches():
        while True:
            yield from zip(*batchers)

    stream = batches()
    t0 = None
    warmup = warmup + (3 if path == "compiled" else 0)
    for i in range(warmup + steps):
        if i == warmup:
            _sync(device)
            t0 = time.perf_counter()
        got = next(stream)
        if path == "packed":
            xb, yb = torch.stack([b[0] for b in got]), torch.stack([b[1] for b in got])
        else:
            xb, yb = got[0]
            if cuda and image:
                xb = xb.contiguous(memory_format=torch.channels_last)
        runner.step(xb, yb, 0.1)
    _sync(device)
    seconds = time.perf_counter() - t0
    note = "" if not (fast and cuda) or runner.failure is None else f"not captured, ran eagerly: {runner.failure}"
    return steps * batch * runs / seconds, note


def attack_rate(model_name: str, dataset: str, batch: int, device, steps: int) -> float:
    """Images/s of one fp32 attack iteration (forward + backward to the input, eval mode)."""
    from stablenets.training.trainer import build_model

    cfg = _config(model_name, dataset, 128)
    torch.manual_seed(0)
    model = build_model(cfg, dataset).to(device).eval()
    x, y, image = _data(dataset, batch, device)
    if not image:
        return float("nan")
    x = x.float() / 255
    for i in range(2 + steps):
        if i == 2:
            _sync(device)
            t0 = time.perf_counter()
        xi = x.clone().requires_grad_(True)
        loss = F.cross_entropy(model(xi), y)
        torch.autograd.grad(loss, xi)
    _sync(device)
    return steps * batch / (time.perf_counter() - t0)


def _stamp(device, source: str) -> dict:
    import platform
    import subprocess

    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                timeout=10).stdout.strip() or "not recorded"
    except (OSError, subprocess.SubprocessError):
        commit = "not recorded"
    name = torch.cuda.get_device_name(0) if device.type == "cuda" else f"CPU ({platform.machine()})"
    return {"id": source, "device": name, "torch": torch.__version__, "commit": commit,
            "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
            "command": "python -m benchmarks.throughput"}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--budget", type=float, default=150.0, help="seconds; cases after it are skipped")
    p.add_argument("--source", default=None, help="id of this measurement in the table")
    p.add_argument("--quick", action="store_true", help="two models, few steps (a check of the plumbing)")
    args = p.parse_args(argv)
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    source = args.source or f"{'gpu' if cuda else 'cpu'}-{_dt.date.today():%Y-%m}"
    steps, warmup, attack_batch = (30, 6, 500) if cuda else (4, 4, 32)
    models, packed = (MODELS, PACKED) if not args.quick else ([("resnet-8", "mnist", 8)], [("resnet-8", "mnist", 8, 2)])
    if args.quick:
        steps, warmup, attack_batch = 2, 1, 8
    args.out.mkdir(parents=True, exist_ok=True)
    table = {"sources": [_stamp(device, source)], "rows": [], "skipped": []}
    started = time.perf_counter()

    def save():
        (args.out / "throughput.json").write_text(json.dumps(table, indent=1) + "\n")

    def case(fn, what):
        if time.perf_counter() - started > args.budget:
            table["skipped"].append(what)
            return None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return fn()
        except Exception as err:  # one model's failure is a row, not the end of the table
            table.setdefault("failed", []).append({"case": what, "error": f"{type(err).__name__}: {err}"[:400],
                                                   "trace": traceback.format_exc()[-1500:]})
            print(f"{what}: failed: {type(err).__name__}: {str(err)[:200]}", flush=True)
            return None
        finally:
            if cuda:
                torch.cuda.empty_cache()

    # The cases that choose the default paths first (one fast run against a stack), then the table.
    first = [m for m in models if m[0] in ("resnet-20", "resnet-32")] or models[:1]
    order = [("train", m) for m in first] + [("packed", p) for p in packed if p[0] == "resnet-32"] + \
        [("packed", p) for p in packed if p[0] != "resnet-32"] + [("train", m) for m in models if m not in first]
    if cuda and not args.quick:
        order.append(("compiled", MODELS[0]))
    for kind, spec in order:
        if kind == "packed":
            model, dataset, batch, runs = spec
            got = case(lambda: train_rate(model, dataset, batch, "packed", device, steps, warmup, runs),
                       f"{model} packed {runs}")
            if got is not None:
                rate, note = got
                row = {"source": source, "model": model, "dataset": dataset, "batch": batch, "path": "packed",
                       "pack": runs, "train_images_per_s": round(rate, 1), "attack_images_per_s": None}
                if note:
                    row["note"] = note
                table["rows"].append(row)
                print(f"{model:<28} packed×{runs:<3} {rate:>10.0f} images/s (all runs) {note}", flush=True)
                save()
            continue
        model, dataset, batch = spec
        for path in (("eager", "fast") if kind == "train" else ("compiled",)):
            got = case(lambda: train_rate(model, dataset, batch, path, device, steps, warmup), f"{model} {path}")
            if got is None:
                continue
            rate, note = got
            row = {"source": source, "model": model, "dataset": dataset, "batch": batch, "path": path,
                   "pack": 1, "train_images_per_s": round(rate, 1), "attack_images_per_s": None}
            if note:
                row["note"] = note
            if path == "eager":
                a = case(lambda: attack_rate(model, dataset, attack_batch, device, steps // 3 or 1),
                         f"{model} attack")
                row["attack_images_per_s"] = None if a is None or a != a else round(a, 1)
                row["attack_batch"] = attack_batch
            table["rows"].append(row)
            print(f"{model:<28} {path:<8} {rate:>10.0f} images/s {note}", flush=True)
            save()
    table["seconds"] = round(time.perf_counter() - started, 1)
    save()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
