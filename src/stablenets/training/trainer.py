"""``train(cfg, run_dir)``: one training run that survives crashes, and ends at its checkpoint.

Per epoch e (0-based): the batcher's batches are a pure function of (seed, e), the
learning rate a pure function of the step's position, and every random draw of the
objective a pure function of (seed, e, step) (see ``modes.py``). After each epoch the
test accuracy is measured, a line is added to ``metrics.jsonl`` and the checkpoint
(``model.safetensors`` + ``train_state.pt``, see :mod:`stablenets.checkpoint`) is replaced
atomically. So ``resume=True`` continues from the last completed epoch and, on a CPU,
ends with exactly the weights an uninterrupted run ends with; a ``kill -9`` loses at most
the epoch in progress. Training ends at the checkpoint: evaluating it is the next stage
(:mod:`stablenets.pipeline` chains the two).

Before any data is loaded: every setting is checked (:meth:`TrainConfig.validate`), the
data set is known and the model builds (on the meta device, no memory), the run folder
obeys the rules of :mod:`stablenets.training.rundir` (no overwriting, resume only a run
with compatible settings, one writer, writable), and a resume state is read and verified.

Divergence. Models with learned scheme coefficients can blow up: the In-ResNet paper
(Yang et al., ICML 2020) reports runs whose accuracy collapses to 10% (chance on
CIFAR-10) when the learned λ_n leave their stable range, and a run that keeps training on
a NaN loss only reports chance accuracy at the end. The loss is checked on the device
every step and read by the host every ``run.finite_check_every`` steps and at the end of
each epoch (one sync each); the weights (parameters and buffers) are checked before each
checkpoint is written. Either non-finite raises :class:`NonFiniteLossError` naming the
epoch, the step and the last good checkpoint, which is left untouched: no file this
module writes ever holds a NaN weight.

Progress: tqdm bars on a terminal; otherwise (a launcher, a pipe) one line every
``run.log_every`` seconds with the step, images/s, the epoch's mean loss so far and the ETA.

On CUDA, training runs under bf16 autocast with channels_last inputs and weights
(settings ``run.amp``, ``run.channels_last``); the per-epoch test accuracy always runs in
float32. ``run.compile`` wraps the training forward in ``torch.compile``
(``run.compile_mode="reduce-overhead"`` adds CUDA graphs; measured speeds are in the README's
"Performance" section).
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

from stablenets.atomic import WriteError, write_text_atomic
from stablenets.checkpoint import (MODEL_FILE, STATE_FILE, NonFiniteWeightsError, load_train_state, save_model,
                                   save_train_state)
from stablenets.checkpoint.files import git_hash, set_rng_state
from stablenets.data import dataset_info, load_splits, make_batcher, to_model_input
from stablenets.settings import SettingError
from stablenets.training import distributed as D
from stablenets.training import rundir
from stablenets.training.lease import Lease
from stablenets.training.config import TrainConfig, config_to_dict
from stablenets.training.fastpath import StepRunner, fused_available, graphable_schedule, is_compile_error
from stablenets.training.metrics import MetricsLog, NormTracker, coefficient_summary, topk_correct
from stablenets.training.modes import step_seed, training_loss
from stablenets.training.optim import build_optimizer, learning_rate

__all__ = ["train", "NonFiniteLossError", "build_model", "evaluate_accuracy", "check_settings"]


class NonFiniteLossError(RuntimeError):
    """The loss or the weights became NaN or infinite; the run stopped without writing a checkpoint."""

    def __init__(self, epoch: int, step: int, checkpoint: str | None, what: str = "loss"):
        self.epoch, self.step, self.checkpoint, self.what = epoch, step, checkpoint, what
        where = checkpoint or "none (no epoch had completed)"
        super().__init__(f"non-finite {what} at epoch {epoch}, step {step} of that epoch; the run was stopped. "
                         f"Last good checkpoint: {where}. Lower optim.lr, add schedule.warmup_epochs or "
                         f"optim.grad_clip, then resume or restart.")


def _say(*args) -> None:
    print(*args, flush=True)


def _model_kwargs(cfg: TrainConfig, dataset: str) -> tuple[int, dict]:
    info = dataset_info(dataset)
    kwargs = {}
    if info.kind == "image":
        kwargs = dict(in_channels=info.in_channels, image_size=info.image_size, mean=info.mean, std=info.std)
    kwargs.update(cfg.model.overrides)
    return info.num_classes, kwargs


def build_model(cfg: TrainConfig, dataset: str):
    """``create_model`` for ``dataset``: its classes and, for images, channels, size, mean and std."""
    from stablenets.models import create_model

    num_classes, kwargs = _model_kwargs(cfg, dataset)
    return create_model(cfg.model.name, num_classes, **kwargs)


def check_settings(cfg: TrainConfig) -> TrainConfig:
    """Everything about ``cfg`` that can be checked without data: ranges, the data set, the model."""
    from stablenets.data.info import check_name

    cfg = cfg.validate()
    try:
        check_name(cfg.data.dataset)
    except ValueError as err:
        raise SettingError(f"data.dataset = {cfg.data.dataset!r}: {err}") from None
    try:
        with torch.device("meta"):  # builds the model without memory: bad presets and overrides fail here
            build_model(cfg, cfg.data.dataset)
    except (ValueError, TypeError, KeyError) as err:
        message = err.args[0] if err.args else str(err)
        raise SettingError(f"model.name = {cfg.model.name!r} with model.overrides = {cfg.model.overrides}: "
                           f"{message}") from None
    return cfg


@torch.no_grad()
def evaluate_accuracy(model, x: torch.Tensor, y: torch.Tensor, batch_size: int,
                      device) -> tuple[float, float, float]:
    """Clean (accuracy, mean cross-entropy, top-5 accuracy) in float32 eval mode."""
    was = model.training
    model.eval()
    correct = torch.zeros((), device=device)
    top5 = torch.zeros((), device=device)
    loss = torch.zeros((), device=device)
    for i in range(0, x.shape[0], batch_size):
        xb, yb = to_model_input(x[i:i + batch_size].to(device)), y[i:i + batch_size].to(device)
        logits = model(xb).float()
        correct += (logits.argmax(1) == yb).sum()
        top5 += topk_correct(logits, yb, 5)
        loss += F.cross_entropy(logits, yb, reduction="sum")
    model.train(was)
    n = max(x.shape[0], 1)
    return float(correct) / n, float(loss) / n, float(top5) / n


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return text.splitlines()[0][:200] if text else ""


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    return f"{h}h{rest // 60:02d}m" if h else f"{rest // 60}m{rest % 60:02d}s"


class _Progress:
    """tqdm on a terminal; else a line every ``every`` seconds (steps, images/s, loss, ETA)."""

    def __init__(self, enabled: bool, every: float, say, epochs: int, steps: int, batch: int):
        self.enabled, self.every, self.say = enabled, every, say
        self.epochs, self.steps, self.batch = epochs, steps, batch
        self.tty = sys.stderr.isatty()
        self.bar = None
        self.t0 = self.last = time.perf_counter()
        self.epoch, self.done = 0, 0

    def start_epoch(self, epoch: int) -> None:
        self.epoch, self.done = epoch, 0
        self.t0 = self.last = time.perf_counter()
        if self.enabled and self.tty:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=self.steps, desc=f"epoch {epoch + 1}/{self.epochs}", leave=False)

    def step(self, loss_sum: torch.Tensor) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            return
        now = time.perf_counter()
        if not self.enabled or now - self.last < self.every:
            return
        self.last = now
        per_step = (now - self.t0) / self.done
        left = (self.steps - self.done) + (self.epochs - self.epoch - 1) * self.steps
        self.say(f"epoch {self.epoch + 1}/{self.epochs}  step {self.done}/{self.steps}  "
                 f"{self.batch / per_step:.0f} images/s  loss {float(loss_sum) / self.done:.4f}  "
                 f"ETA {_duration(left * per_step)}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _weights_finite(model, ctx) -> bool:
    """Whether every floating parameter and buffer is finite on every rank (one sync)."""
    flags = [torch.isfinite(v).all() for v in model.state_dict().values() if v.is_floating_point()]
    bad = (~torch.stack(flags)).sum().float() if flags else torch.zeros(())
    return float(D.all_reduce_sum(bad, ctx)) == 0


def _seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def _saved(model_path: Path, good_epoch: int, written: tuple[str, ...] = (), epoch: int = 0) -> str:
    """What a failed write leaves: the last checkpoint a resume can start from, and any partial one."""
    text = (f"the last complete checkpoint is epoch {good_epoch} in {model_path.parent} (resume from it)"
            if good_epoch else "no complete checkpoint had been written yet")
    if "weights" in written:
        text += f"; the weights of epoch {epoch} are in {model_path}, without their resume state"
    return text


def train(cfg: TrainConfig, run_dir: str | Path, *, device: str | torch.device = "auto", resume: bool = False,
          fallback: str = "", log=_say) -> dict:
    """Train ``cfg`` into ``run_dir`` (or continue it with ``resume``); returns the run's summary.

    Raises:
        NonFiniteLossError: the loss or the weights became NaN/inf (the last good checkpoint is kept).
        ValueError: bad settings; ``run_dir`` holds stablenets files and ``resume`` is false; a resume
            of a folder without a run, or with settings a resume may not change; another process
            holds the lease on ``run_dir`` (:class:`~stablenets.training.lease.LeaseHeld`).
            :class:`~stablenets.checkpoint.CheckpointError` (a ValueError): a
            damaged resume state.
        stablenets.atomic.WriteError: ``run_dir`` is not writable, or a write failed (the message
            says what was saved).
        stablenets.training.lease.LeaseLost: this process stopped renewing its lease for longer than
            the expiry and another took the run over; nothing more was written.
    """
    cfg = check_settings(cfg)
    run_dir = Path(run_dir)
    ctx = D.setup(device)
    device = ctx.device
    say = log if ctx.is_main else (lambda *_: None)
    state_path, model_path = run_dir / STATE_FILE, run_dir / MODEL_FILE
    lease = Lease(run_dir)  # the caller's lease when it holds one (a reproduce worker): leases are re-entrant
    if ctx.is_main:
        rundir.check_out_dir(run_dir, resume)
        lease.hold()
    try:
        if ctx.is_main:
            stale = rundir.clean_stale_tmp(run_dir)
            if stale:
                say(f"removed {len(stale)} temporary file(s) left by an interrupted write: {', '.join(stale)}")
        return _train(cfg, run_dir, ctx, resume, fallback, say, state_path, model_path, lease)
    finally:
        lease.release()


def _train(cfg, run_dir, ctx, resume, fallback, say, state_path, model_path, lease) -> dict:
    device = ctx.device
    resolved = config_to_dict(cfg)
    state = load_train_state(state_path) if resume and state_path.exists() else None
    start_epoch, step = (state["epoch"], state["step"]) if state is not None else (0, 0)
    changes = rundir.check_resume(run_dir, resolved, start_epoch) if resume else {}
    _seed_everything(cfg.run.seed)
    data = load_splits(cfg.data.dataset, cfg.data.root, verify=cfg.data.verify, train_subset=cfg.data.train_subset,
                       test_subset=cfg.data.test_subset, fallback=fallback, log=say)
    xtr, ytr, xte, yte, dataset = data.x_train, data.y_train, data.x_test, data.y_test, data.dataset
    model = build_model(cfg, dataset).to(device)
    image = xtr.dtype == torch.uint8 and xtr.dim() == 4
    cuda = device.type == "cuda"
    fast_layout = cuda and cfg.run.channels_last and image
    if fast_layout:
        model = model.to(memory_format=torch.channels_last)
    fused = cfg.run.fused_optimizer and fused_available(cfg.optim.name, device)
    optimizer = build_optimizer(model, cfg.optim, fused=fused)
    if state is not None:
        try:
            model.load_state_dict(state["model"])
            optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, ValueError, KeyError) as err:
            raise ValueError(f"{state_path} does not fit model {cfg.model.name!r} and its optimiser: "
                             f"{str(err).splitlines()[0]}") from None
        set_rng_state(state["rng"])
        say(f"resuming {run_dir} after epoch {start_epoch} (step {step})")
    metrics = MetricsLog(run_dir) if ctx.is_main else None
    if ctx.is_main:
        metrics.truncate(start_epoch)
        rundir.record_start(run_dir, resume=resume, start_epoch=start_epoch, epochs=cfg.run.epochs,
                            device=str(device), changes=changes, git=git_hash())
        write_text_atomic(run_dir / "config.json", json.dumps(resolved, indent=2) + "\n")
    train_model = model
    if ctx.active:
        train_model = torch.nn.parallel.DistributedDataParallel(model, device_ids=[device] if cuda else None)
    uncompiled = train_model
    if cfg.run.compile:
        inductor_mode = cfg.run.compile_backend == "inductor" and cfg.run.compile_mode != "default"
        try:
            train_model = torch.compile(train_model, backend=cfg.run.compile_backend,
                                        mode=cfg.run.compile_mode if inductor_mode else None)
        except Exception as err:
            if not is_compile_error(err):
                raise
            say(f"torch.compile is off for this run ({type(err).__name__}: {_first_line(err)}); training goes on "
                "eagerly")
    batcher = make_batcher(xtr, ytr, cfg.data.batch_size, device, augment=cfg.data.augment and image,
                           seed=cfg.run.seed, rank=ctx.rank, world_size=ctx.world_size, drop_last=ctx.active,
                           pad=cfg.data.augment_pad, pad_mode=cfg.data.augment_pad_mode)
    steps = len(batcher) if not cfg.run.max_steps_per_epoch else min(len(batcher), cfg.run.max_steps_per_epoch)
    if steps == 0:
        raise ValueError(f"no training step per epoch: {len(ytr)} samples, batch size {cfg.data.batch_size}")
    meta = {"dataset": dataset, "config": resolved, "git": git_hash(), "experiment": cfg.experiment}
    epochs = cfg.run.epochs
    good_epoch = start_epoch if model_path.exists() else 0
    last_good = str(model_path) if good_epoch else None
    tracker = NormTracker(model) if cfg.run.log_norms else None
    progress = _Progress(cfg.run.progress and ctx.is_main, cfg.run.log_every, say, epochs, steps,
                         cfg.data.batch_size * ctx.world_size)
    graphs = (cuda and cfg.run.cuda_graphs and cfg.mode.kind == "natural" and cfg.optim.name == "sgd"
              and graphable_schedule(cfg.schedule) and not ctx.active and tracker is None)

    def loss_fn(xb, yb):
        loss, logits = training_loss(train_model, model, xb, yb, cfg.mode, step_seed(cfg.run.seed, epoch, i))
        return loss, loss.detach().float(), (logits.detach().argmax(1) == yb).sum()

    runner = StepRunner(loss_fn, [p for p in model.parameters() if p.requires_grad], optimizer, graphs=graphs,
                        autocast=cuda and cfg.run.amp, grad_clip=cfg.optim.grad_clip,
                        before_step=(lambda: tracker.update()) if tracker is not None else None)
    told = False
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
        progress.start_epoch(epoch)
        try:
            for i, (xb, yb) in enumerate(batcher):
                if i >= steps:
                    break
                lr = learning_rate(cfg.optim.lr, cfg.schedule, epoch, i, steps, epochs)
                if fast_layout:
                    xb = xb.contiguous(memory_format=torch.channels_last)
                try:
                    loss, hit = runner.step(xb, yb, lr)
                except Exception as err:  # the compiler failed on its first call: the step ran no update
                    if train_model is uncompiled or not is_compile_error(err):
                        raise
                    say(f"torch.compile failed for this model ({type(err).__name__}: {_first_line(err)}); "
                        "training goes on eagerly")
                    train_model = uncompiled
                    loss, hit = runner.step(xb, yb, lr)
                first_bad = torch.where(torch.isfinite(loss) | (first_bad < steps), first_bad,
                                        torch.full_like(first_bad, i))
                step += 1
                loss_sum += loss
                correct += hit
                seen += yb.shape[0]
                if runner.failure is not None and not told:
                    told = True
                    say(f"CUDA graphs are off for this run (the step could not be captured: {runner.failure}); "
                        "training goes on eagerly")
                progress.step(loss_sum)
                if (i + 1) % cfg.run.finite_check_every == 0 or i + 1 == steps:
                    bad = int(D.all_reduce_min(first_bad.clone(), ctx))
                    if bad < steps:
                        raise NonFiniteLossError(epoch + 1, bad + 1, last_good)
        finally:
            progress.close()
        if not _weights_finite(model, ctx):
            raise NonFiniteLossError(epoch + 1, steps, last_good, what="weights")
        totals = D.all_reduce_sum(torch.stack([loss_sum, correct, seen]), ctx).tolist()
        test_acc, test_loss, test_top5 = evaluate_accuracy(model, xte, yte, cfg.data.eval_batch_size, device)
        row = {"epoch": epoch + 1, "step": step, "lr": lr, "loss": totals[0] / (steps * ctx.world_size),
               "train_acc": totals[1] / max(totals[2], 1), "test_acc": test_acc, "test_top5": test_top5,
               "test_loss": test_loss,
               "seconds": time.perf_counter() - t0, "coefficients": coefficient_summary(model)}
        if tracker is not None:
            row.update(tracker.summary())
        if ctx.is_main:
            lease.check()
            written: tuple[str, ...] = ()
            try:
                save_model(model_path, model, {**meta, "epoch": epoch + 1})
                written = ("weights",)
                save_train_state(state_path, model, optimizer, {"kind": cfg.schedule.kind, "lr": lr}, epoch + 1,
                                 step)
                good_epoch, last_good, written = epoch + 1, str(model_path), ()
                metrics.append(row)
            except NonFiniteWeightsError:
                raise NonFiniteLossError(epoch + 1, steps, last_good, what="weights") from None
            except WriteError as err:
                raise WriteError(f"{err}; {_saved(model_path, good_epoch, written, epoch + 1)}") from None
            say(f"epoch {epoch + 1}/{epochs}  loss {row['loss']:.4f}  train {100 * row['train_acc']:.2f}%  "
                f"test {100 * test_acc:.2f}%  lr {lr:.4g}  {row['seconds']:.1f}s")
        D.barrier(ctx)
    summary = {"run_dir": str(run_dir), "dataset": dataset, "epochs": epochs,
               "final": metrics.rows[-1] if ctx.is_main and metrics.rows else None}
    if ctx.is_main:
        try:
            write_text_atomic(run_dir / "summary.json", json.dumps(summary, indent=2, default=float) + "\n")
        except WriteError as err:
            raise WriteError(f"{err}; {_saved(model_path, good_epoch)}") from None
    return summary
