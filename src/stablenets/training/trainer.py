"""``train(cfg, run_dir)``: one training run that survives crashes, and several seeds of it.

Per epoch e (0-based): the batcher's batches are a pure function of (seed, e), the
learning rate a pure function of the fractional epoch, and every random draw of the
objective a pure function of (seed, e, step) (see ``modes.py``). After each epoch the
test accuracy is measured, a line is added to ``metrics.jsonl`` and the checkpoint
(``model.safetensors`` + ``train_state.pt``, see ``checkpoint.py``) is replaced
atomically. So ``resume=True`` continues from the last completed epoch and, on a CPU,
ends with exactly the weights an uninterrupted run ends with; a ``kill -9`` loses at most
the epoch in progress.

Divergence. Models with learned scheme coefficients can blow up: the In-ResNet paper
(Yang et al., ICML 2020) reports runs whose accuracy collapses to 10% (chance on
CIFAR-10) when the learned λ_n leave their stable range, and a run that keeps training on
a NaN loss only reports chance accuracy at the end. The loss is checked on the device
every step and read by the host every ``run.finite_check_every`` steps and at the end of
each epoch (one sync each); a non-finite loss raises :class:`NonFiniteLossError` naming
the epoch, the step and the last good checkpoint, which is left untouched.

On CUDA, training runs under bf16 autocast with channels_last inputs and weights
(settings ``run.amp``, ``run.channels_last``); test accuracy and the robustness
evaluation always run in float32. ``run.compile`` wraps the training forward in
``torch.compile`` (``run.compile_mode="reduce-overhead"`` adds CUDA graphs; measured speeds are in
the README's "Performance" section).
"""
from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stablenets.training import distributed as D
from stablenets.atomic import write_text_atomic
from stablenets.training.checkpoint import (MODEL_FILE, STATE_FILE, git_hash, load_train_state, save_model,
                                            save_train_state, set_rng_state)
from stablenets.training.config import TrainConfig, config_to_dict
from stablenets.training.metrics import MetricsLog, NormTracker, coefficient_summary
from stablenets.training.modes import step_seed, training_loss
from stablenets.training.optim import build_optimizer, learning_rate, set_lr

__all__ = ["train", "train_seeds", "NonFiniteLossError", "build_model", "load_data", "evaluate_accuracy"]


class NonFiniteLossError(RuntimeError):
    """The training loss became NaN or infinite; the run stopped without writing a checkpoint."""

    def __init__(self, epoch: int, step: int, checkpoint: str | None):
        self.epoch, self.step, self.checkpoint = epoch, step, checkpoint
        where = checkpoint or "none (no epoch had completed)"
        super().__init__(f"non-finite loss at epoch {epoch}, step {step} of that epoch; the run was stopped. "
                         f"Last good checkpoint: {where}. Lower optim.lr, add schedule.warmup_epochs or "
                         f"optim.grad_clip, then resume or restart.")


def _synthetic_text(n: int, num_classes: int, length: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, num_classes, (n,), generator=g)
    x = torch.randint(1, 71, (n, length), generator=g)
    x[:, :8] = y[:, None] + 1  # a learnable cue
    return x, y


def load_data(cfg: TrainConfig, fallback: str = "", log=print):
    """(x_train, y_train, x_test, y_test, dataset name used); ``fallback`` replaces missing files."""
    from stablenets.data import dataset_info, load

    name = cfg.data.dataset
    try:
        xtr, ytr = load(name, cfg.data.root, split="train", verify=cfg.data.verify)
        xte, yte = load(name, cfg.data.root, split="test", verify=cfg.data.verify)
    except FileNotFoundError as err:
        if not fallback:
            raise
        kind = dataset_info(name).kind
        if kind == "text":
            n = max(cfg.data.train_subset, cfg.data.test_subset, 64)
            xtr, ytr = _synthetic_text(n, dataset_info(name).num_classes, 1014, 0)
            xte, yte = _synthetic_text(n, dataset_info(name).num_classes, 1014, 1)
            log(f"[smoke] {name} not on disk ({err.args[0].splitlines()[0]}); using synthetic character codes")
            return xtr, ytr, xte, yte, name
        sub = "moons" if kind == "points" else fallback
        log(f"[smoke] {name} not on disk ({str(err.args[0]).splitlines()[0]}); using {sub} instead")
        xtr, ytr = load(sub, split="train")
        xte, yte = load(sub, split="test")
        name = sub
    if cfg.data.train_subset:
        xtr, ytr = xtr[:cfg.data.train_subset], ytr[:cfg.data.train_subset]
    if cfg.data.test_subset:
        xte, yte = xte[:cfg.data.test_subset], yte[:cfg.data.test_subset]
    return xtr, ytr, xte, yte, name


def build_model(cfg: TrainConfig, dataset: str):
    """``create_model`` for ``dataset``: its classes and, for images, channels, size, mean and std."""
    from stablenets.data import dataset_info
    from stablenets.models import create_model

    info = dataset_info(dataset)
    kwargs = {}
    if info.kind == "image":
        kwargs = dict(in_channels=info.in_channels, image_size=info.image_size, mean=info.mean, std=info.std)
    kwargs.update(cfg.model.overrides)
    return create_model(cfg.model.name, info.num_classes, **kwargs)


def _as_input(x: torch.Tensor) -> torch.Tensor:
    return x.float() / 255 if x.dtype == torch.uint8 else x


@torch.no_grad()
def evaluate_accuracy(model, x: torch.Tensor, y: torch.Tensor, batch_size: int, device) -> tuple[float, float]:
    """Clean (accuracy, mean cross-entropy) in float32 eval mode."""
    was = model.training
    model.eval()
    correct = torch.zeros((), device=device)
    loss = torch.zeros((), device=device)
    for i in range(0, x.shape[0], batch_size):
        xb, yb = _as_input(x[i:i + batch_size].to(device)), y[i:i + batch_size].to(device)
        logits = model(xb).float()
        correct += (logits.argmax(1) == yb).sum()
        loss += F.cross_entropy(logits, yb, reduction="sum")
    model.train(was)
    n = max(x.shape[0], 1)
    return float(correct) / n, float(loss) / n


def _bar(total: int, desc: str, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False, disable=not (enabled and sys.stderr.isatty()))


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def train(cfg: TrainConfig, run_dir: str | Path, *, device: str | torch.device = "auto", resume: bool = False,
          fallback: str = "", log=print) -> dict:
    """Train ``cfg`` into ``run_dir`` (or continue it with ``resume``); returns the run's summary.

    Raises:
        NonFiniteLossError: the loss became NaN/inf (the last good checkpoint is kept).
        ValueError: ``run_dir`` already holds a run and ``resume`` is false; bad settings.
    """
    cfg = cfg.validate()
    run_dir = Path(run_dir)
    ctx = D.setup(device)
    device = ctx.device
    say = log if ctx.is_main else (lambda *_: None)
    state_path, model_path = run_dir / STATE_FILE, run_dir / MODEL_FILE
    if state_path.exists() and not resume:
        raise ValueError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    _seed_everything(cfg.run.seed)
    xtr, ytr, xte, yte, dataset = load_data(cfg, fallback, say)
    model = build_model(cfg, dataset).to(device)
    image = xtr.dtype == torch.uint8 and xtr.dim() == 4
    cuda = device.type == "cuda"
    fast_layout = cuda and cfg.run.channels_last and image
    if fast_layout:
        model = model.to(memory_format=torch.channels_last)
    optimizer = build_optimizer(model, cfg.optim)
    start_epoch, step = 0, 0
    if resume and state_path.exists():
        state = load_train_state(state_path)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        set_rng_state(state["rng"])
        start_epoch, step = state["epoch"], state["step"]
        say(f"resuming {run_dir} after epoch {start_epoch} (step {step})")
    resolved = config_to_dict(cfg)
    metrics = MetricsLog(run_dir) if ctx.is_main else None
    if ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        metrics.truncate(start_epoch)
        write_text_atomic(run_dir / "config.json", json.dumps(resolved, indent=2) + "\n")
    train_model = model
    if ctx.active:
        train_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if cuda else None)
    if cfg.run.compile:
        inductor_mode = cfg.run.compile_backend == "inductor" and cfg.run.compile_mode != "default"
        train_model = torch.compile(train_model, backend=cfg.run.compile_backend,
                                    mode=cfg.run.compile_mode if inductor_mode else None)
    from stablenets.data import make_batcher

    batcher = make_batcher(xtr, ytr, cfg.data.batch_size, device, augment=cfg.data.augment and image,
                           seed=cfg.run.seed, rank=ctx.rank, world_size=ctx.world_size, drop_last=ctx.active)
    steps = len(batcher) if not cfg.run.max_steps_per_epoch else min(len(batcher), cfg.run.max_steps_per_epoch)
    if steps == 0:
        raise ValueError(f"no training step per epoch: {len(ytr)} samples, batch size {cfg.data.batch_size}")
    meta = {"dataset": dataset, "config": resolved, "git": git_hash(), "experiment": cfg.experiment}
    epochs = cfg.run.epochs
    last_good = str(model_path) if model_path.exists() and start_epoch > 0 else None
    tracker = NormTracker(model) if cfg.run.log_norms else None
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        batcher.set_epoch(epoch)
        model.train()
        loss_sum = torch.zeros((), device=device)
        correct = torch.zeros((), device=device)
        seen = torch.zeros((), device=device)
        first_bad = torch.full((), steps, device=device, dtype=torch.long)
        if tracker is not None:
            tracker = NormTracker(model)
        lr = cfg.optim.lr
        bar = _bar(steps, f"epoch {epoch + 1}/{epochs}", cfg.run.progress and ctx.is_main)
        for i, (xb, yb) in enumerate(batcher):
            if i >= steps:
                break
            lr = learning_rate(cfg.optim.lr, cfg.schedule, epoch + (i + 1) / steps, epochs)
            set_lr(optimizer, lr)
            if fast_layout:
                xb = xb.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda and cfg.run.amp):
                loss, logits = training_loss(train_model, model, xb, yb, cfg.mode,
                                             step_seed(cfg.run.seed, epoch, i))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            loss = loss.detach().float()
            first_bad = torch.where(torch.isfinite(loss) | (first_bad < steps), first_bad,
                                    torch.full_like(first_bad, i))
            if cfg.optim.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
            if tracker is not None:
                tracker.update()
            optimizer.step()
            step += 1
            loss_sum += loss
            correct += (logits.detach().argmax(1) == yb).sum()
            seen += yb.shape[0]
            bar.update(1)
            if (i + 1) % max(cfg.run.finite_check_every, 1) == 0 or i + 1 == steps:
                bad = int(D.all_reduce_min(first_bad.clone(), ctx))
                if bad < steps:
                    bar.close()
                    raise NonFiniteLossError(epoch + 1, bad + 1, last_good)
        bar.close()
        totals = D.all_reduce_sum(torch.stack([loss_sum, correct, seen]), ctx).tolist()
        test_acc, test_loss = evaluate_accuracy(model, xte, yte, cfg.data.eval_batch_size, device)
        row = {"epoch": epoch + 1, "step": step, "lr": lr, "loss": totals[0] / (steps * ctx.world_size),
               "train_acc": totals[1] / max(totals[2], 1), "test_acc": test_acc, "test_loss": test_loss,
               "seconds": time.perf_counter() - t0, "coefficients": coefficient_summary(model)}
        if tracker is not None:
            row.update(tracker.summary())
        if ctx.is_main:
            metrics.append(row)
            save_model(model_path, model, {**meta, "epoch": epoch + 1})
            save_train_state(state_path, model, optimizer, {"kind": cfg.schedule.kind, "lr": lr}, epoch + 1, step)
            last_good = str(model_path)
            say(f"epoch {epoch + 1}/{epochs}  loss {row['loss']:.4f}  train {100 * row['train_acc']:.2f}%  "
                f"test {100 * test_acc:.2f}%  lr {lr:.4g}  {row['seconds']:.1f}s")
        D.barrier(ctx)
    summary = {"run_dir": str(run_dir), "dataset": dataset, "epochs": epochs,
               "final": metrics.rows[-1] if ctx.is_main and metrics.rows else None}
    if ctx.is_main and cfg.eval.suite:
        summary["robustness"] = _robustness(model, xte, yte, cfg, run_dir, say)
    if ctx.is_main:
        write_text_atomic(run_dir / "summary.json", json.dumps(summary, indent=2, default=float) + "\n")
    return summary


def _robustness(model, xte, yte, cfg: TrainConfig, run_dir: Path, say) -> dict:
    """Run the evaluation suite on the first eval.n test points; the flat accuracies."""
    from stablenets.evaluation import evaluate_robustness, write_report

    n = cfg.eval.n
    x, y = _as_input(xte[:n]), yte[:n]
    if not x.is_floating_point() or x.dim() != 4:
        say(f"evaluation suite {cfg.eval.suite!r} skipped: it needs images, the data here are not")
        return {}
    result = evaluate_robustness(model.float().to(memory_format=torch.contiguous_format).eval(), x, y,
                                 cfg.eval.suite, dict(cfg.eval.overrides), batch_size=cfg.data.eval_batch_size,
                                 progress=cfg.run.progress)
    json_path, _ = write_report(result, run_dir)
    say(f"robustness ({cfg.eval.suite}) -> {json_path}")
    return flatten_robustness(result)


def flatten_robustness(result: dict) -> dict[str, float]:
    """{"clean": a, "<attack>@<eps>": a, "<noise>/<kind>@<level>": a, ...} from a robustness result."""
    flat = {"clean": result.get("clean")}
    for name, res in (result.get("attacks") or {}).items():
        for eps, acc in res.get("accuracy", {}).items():
            flat[f"{name}@{eps}"] = acc
    for family, res in (result.get("noise") or {}).items():
        for kind, levels in res.get("accuracy", {}).items():
            for level, acc in levels.items():
                flat[f"{family}/{kind}@{level}"] = acc
    return flat


def train_seeds(cfg: TrainConfig, out_dir: str | Path, seeds: list[int], **kwargs) -> dict:
    """Train one run per seed into ``out_dir/seed-<s>``; write and return mean ± std of their numbers."""
    import copy

    out_dir = Path(out_dir)
    runs = []
    for seed in seeds:
        c = copy.deepcopy(cfg)
        c.run.seed = seed
        runs.append(train(c, out_dir / f"seed-{seed}", **kwargs))
    numbers: dict[str, list[float]] = {}
    for r in runs:
        final = r.get("final") or {}
        for key in ("test_acc", "train_acc", "loss"):
            if key in final:
                numbers.setdefault(key, []).append(final[key])
        for key, value in (r.get("robustness") or {}).items():
            if value is not None:
                numbers.setdefault(key, []).append(value)
    stats = {k: {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)) if len(v) > 1 else 0.0, "n": len(v),
                 "values": v} for k, v in numbers.items()}
    summary = {"seeds": list(seeds), "runs": [r["run_dir"] for r in runs], "stats": stats}
    if D.setup(kwargs.get("device", "auto")).is_main:
        write_text_atomic(out_dir / "seeds.json", json.dumps(summary, indent=2) + "\n")
    return summary


def format_stats(stats: dict) -> str:
    """Lines "key  mean ± std (n)" with accuracies in percent."""
    lines = []
    for key, s in stats.items():
        scale = 1.0 if key == "loss" else 100.0
        lines.append(f"{key:<32} {scale * s['mean']:8.2f} ± {scale * s['std']:.2f}  (n={s['n']})")
    return "\n".join(lines)


__all__ += ["flatten_robustness", "format_stats"]
