"""Several runs of one architecture trained at once, as one stack of models.

A table is 10–100 runs of small networks, and one small network leaves most of a GPU idle. Runs
that share an architecture (E-table1's five α, the seeds of any row) are trained here as one
stack: their parameters and buffers are stacked along a new leading dimension
(``torch.func.stack_module_state``) and the model is called through ``torch.func.vmap`` of
``functional_call``, so every convolution of the R runs is one grouped convolution and every
step is one launch sequence (replayed as a CUDA graph on the GPU, :mod:`.fastpath`).

It is the same training as R solo runs. The R losses are summed before the backward pass, and
since the runs share no parameter each run's gradient is its own loss's; SGD (weight decay,
momentum, Nesterov) and Adam update every element independently, so the stacked optimiser is R
optimisers. Each run draws its own batches from its own seed (one :class:`DeviceBatcher` per run),
and its initial weights are those ``train`` would build for it. A packed run therefore ends with
the weights of the same run trained alone, to float tolerance (tests/test_training_packed.py).

Each run keeps everything a solo run has: its folder, lease, ``config.json``, ``history.jsonl``,
``metrics.jsonl`` (per-epoch test accuracy measured in float32), checkpoint after every epoch in
the solo format (so ``--resume``, ``evaluate`` and reproduce's reports read it as any run), and
its divergence: a run whose loss becomes non-finite is stopped and reported on its own while the
others go on (the runs are independent, so its NaNs cannot reach them).

What can be packed (:func:`pack_key`): natural training with SGD or Adam, no gradient clipping
(a global norm couples a run's parameters, not the runs; packing it would need per-run norms),
no per-layer norm logging, and configurations equal except for the seed and, for the multistep
scheme with fixed coefficients, the coefficients themselves (held in buffers when packed:
:meth:`stablenets.schemes.multistep.MultistepStep.coefficients_to_buffers`). Everything else
trains alone, as before.
"""
from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from stablenets.atomic import write_text_atomic
from stablenets.checkpoint import MODEL_FILE, STATE_FILE, load_train_state, save_model, save_train_state
from stablenets.checkpoint.files import git_hash
from stablenets.data import load_splits, make_batcher, to_model_input
from stablenets.training import distributed as D
from stablenets.training import rundir
from stablenets.training.config import TrainConfig, config_to_dict
from stablenets.training.lease import Lease
from stablenets.training.fastpath import StepRunner, fused_available, graphable_schedule
from stablenets.training.metrics import MetricsLog, coefficient_summary, topk_correct
from stablenets.training.optim import build_optimizer, learning_rate
from stablenets.training.trainer import NonFiniteLossError, _duration, _seed_everything, build_model, check_settings

__all__ = ["pack_key", "train_packed", "stack_models", "stack_loss", "stack_optimizer"]

_COEFFICIENTS = ("alphas", "beta")  # multistep's fixed coefficients: held in buffers when packed


def pack_key(cfg: TrainConfig | dict) -> str | None:
    """Runs with equal keys train as one stack; ``None``: this run trains alone (see the module docstring)."""
    d = copy.deepcopy(cfg if isinstance(cfg, dict) else config_to_dict(cfg))
    mode, optim, run = d.get("mode", {}), d.get("optim", {}), d.get("run", {})
    if mode.get("kind", "natural") != "natural" or optim.get("grad_clip", 0) or run.get("log_norms") \
            or run.get("compile") or optim.get("name", "sgd") not in ("sgd", "adam"):
        return None
    for key in ("seed", "progress", "log_every"):
        run.pop(key, None)
    d.pop("experiment", None)
    d.pop("description", None)
    d.pop("eval", None)
    overrides = d.get("model", {}).get("overrides", {})
    if overrides.get("scheme") == "multistep" and overrides.get("learn") is None:
        overrides["alphas"] = len(overrides.get("alphas", (1.0,)))  # the number of steps is structure
        overrides.pop("beta", None)
    return json.dumps(d, sort_keys=True, default=str)


def stack_models(models: list[torch.nn.Module]):
    """``(params, buffers, call)`` of a stack of structurally equal models: ``call(p, b, x)`` is one
    model's forward pass through ``functional_call``; ``vmap(call)`` is all of them."""
    from torch.func import functional_call, stack_module_state

    for m in models:
        for module in m.modules():
            if hasattr(module, "coefficients_to_buffers"):
                module.coefficients_to_buffers()
    params, buffers = stack_module_state(models)
    base = models[0]

    def call(p, b, x):
        return functional_call(base, (p, b), (x,))

    return params, buffers, call


def stack_loss(call, params: dict, buffers: dict):
    """The stack's training objective for :class:`StepRunner`: the sum of the runs' mean cross-entropies
    (so each run's gradient is its own), and per run its loss and its number of correct predictions."""
    from torch.func import vmap

    def loss_fn(xs, ys):
        logits = vmap(call)(params, buffers, xs)                                                 # R×B×K
        losses = F.cross_entropy(logits.float().transpose(1, 2), ys, reduction="none").mean(1)  # R
        return losses.sum(), losses.detach(), (logits.detach().argmax(-1) == ys).sum(1)

    return loss_fn


def stack_optimizer(base: torch.nn.Module, params: dict, cfg, fused: bool = False) -> torch.optim.Optimizer:
    """The optimiser of ``cfg`` over the stacked parameters, with the groups ``base``'s own would have."""
    name_of = {id(p): n for n, p in base.named_parameters()}
    template = build_optimizer(base, cfg, fused=fused)
    groups = [dict(g, params=[params[name_of[id(p)]] for p in g["params"]]) for g in template.param_groups]
    return type(template)(groups, **template.defaults)


def _copy_into(model: torch.nn.Module, params: dict, buffers: dict, r: int) -> None:
    """Run r's slice of the stack into its own model (for its checkpoint)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(params[name][r])
        for name, b in model.named_buffers():
            b.copy_(buffers[name][r])


def _stack_optimizer_state(stacked, per_run: list, names: dict, params: dict) -> None:
    """Stack the per-run optimiser states (a resume) into the stacked optimiser."""
    for name, sp in params.items():
        states = [opt.state.get(names[r][name]) for r, opt in enumerate(per_run)]
        if any(s is None for s in states):
            continue
        stacked.state[sp] = {k: torch.stack([s[k] for s in states]) if torch.is_tensor(v) and v.dim() > 0
                             else copy.deepcopy(v) for k, v in states[0].items()}


def _unstack_optimizer_state(stacked, opt, model, params: dict, r: int) -> None:
    own = dict(model.named_parameters())
    opt.state.clear()
    for name, sp in params.items():
        state = stacked.state.get(sp)
        if state:
            opt.state[own[name]] = {k: v[r].clone() if torch.is_tensor(v) and v.dim() > 0 else copy.deepcopy(v)
                                    for k, v in state.items()}


@torch.no_grad()
def _evaluate_stack(call, params, buffers, x, y, batch_size: int, device) -> torch.Tensor:
    """Per run (accuracy, mean cross-entropy, top-5 accuracy) on (x, y), float32: an R×3 tensor."""
    from torch.func import vmap

    R = next(iter(params.values())).shape[0]
    sums = torch.zeros(R, 3, device=device)
    for i in range(0, x.shape[0], batch_size):
        xb, yb = to_model_input(x[i:i + batch_size].to(device)), y[i:i + batch_size].to(device)
        logits = vmap(call, in_dims=(0, 0, None))(params, buffers, xb).float()  # R×B×K
        sums[:, 0] += (logits.argmax(-1) == yb).sum(1)
        for r in range(R):
            sums[r, 2] += topk_correct(logits[r], yb, 5)
        sums[:, 1] += F.cross_entropy(logits.transpose(1, 2), yb.expand(R, -1), reduction="none").sum(1)
    return sums / max(x.shape[0], 1)


def train_packed(cfgs: list[TrainConfig], run_dirs: list[str | Path], *, device="auto", resume: bool = False,
                 fallback: str = "", log=print) -> list:
    """Train the runs ``cfgs`` into ``run_dirs`` as one stack; returns, per run, its summary or its
    :class:`NonFiniteLossError`. ``resume``: every run continues from its checkpoint (all at one epoch)."""
    if not cfgs or len(cfgs) != len(run_dirs):
        raise ValueError(f"train_packed needs one run folder per configuration; got {len(cfgs)} and {len(run_dirs)}")
    cfgs = [check_settings(c) for c in cfgs]
    keys = {pack_key(c) for c in cfgs}
    if None in keys or len(keys) != 1:
        raise ValueError("these runs cannot be packed (they differ in more than seed and multistep coefficients, "
                         "or train adversarially, clip gradients or compile): train them alone")
    run_dirs = [Path(r) for r in run_dirs]
    if len(set(map(str, run_dirs))) != len(run_dirs):
        raise ValueError("train_packed: two runs share a folder")
    ctx = D.setup(device)
    if ctx.active:
        raise ValueError("train_packed runs in one process; use train() for data-parallel runs")
    device = ctx.device
    leases = [Lease(r) for r in run_dirs]  # re-entrant: a reproduce worker's own leases are held already
    for r in run_dirs:
        rundir.check_out_dir(r, resume)
    held = []
    try:
        for lease in leases:
            lease.hold()
            held.append(lease)
        return _train_packed(cfgs, run_dirs, device, resume, fallback, log, leases)
    finally:
        for lease in held:
            lease.release()


def _train_packed(cfgs, run_dirs, device, resume, fallback, log, leases) -> list:
    cfg0, R = cfgs[0], len(cfgs)
    states = [load_train_state(r / STATE_FILE) if resume and (r / STATE_FILE).exists() else None for r in run_dirs]
    starts = {s["epoch"] if s else 0 for s in states}
    if len(starts) != 1:
        raise ValueError(f"train_packed: the runs stopped at different epochs ({sorted(starts)}); resume them alone")
    start_epoch = starts.pop()
    steps_done = [s["step"] if s else 0 for s in states]
    resolved = [config_to_dict(c) for c in cfgs]
    changes = [rundir.check_resume(r, d, start_epoch) if resume else {} for r, d in zip(run_dirs, resolved)]
    data = load_splits(cfg0.data.dataset, cfg0.data.root, verify=cfg0.data.verify, train_subset=cfg0.data.train_subset,
                       test_subset=cfg0.data.test_subset, fallback=fallback, log=log)
    xtr, ytr, xte, yte, dataset = data.x_train, data.y_train, data.x_test, data.y_test, data.dataset
    cuda = device.type == "cuda"
    image = xtr.dtype == torch.uint8 and xtr.dim() == 4
    models, optims = [], []
    for cfg, state in zip(cfgs, states):
        _seed_everything(cfg.run.seed)  # the initial weights train() builds for this seed
        model = build_model(cfg, dataset).to(device)
        opt = build_optimizer(model, cfg.optim)
        if state is not None:
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
        models.append(model)
        optims.append(opt)
    shapes = {tuple((k, tuple(v.shape)) for k, v in m.state_dict().items()) for m in models}
    if len(shapes) != 1:
        raise ValueError("train_packed: the runs' models differ in structure; train them alone")
    params, buffers, call = stack_models(models)
    base = models[0]
    names = [{n: p for n, p in m.named_parameters()} for m in models]
    optimizer = stack_optimizer(base, params, cfg0.optim,
                                fused=cfg0.run.fused_optimizer and fused_available(cfg0.optim.name, device))
    if start_epoch:
        _stack_optimizer_state(optimizer, optims, names, params)
    metrics = [MetricsLog(r) for r in run_dirs]
    git = git_hash()
    for r, m, d, ch in zip(run_dirs, metrics, resolved, changes):
        m.truncate(start_epoch)
        rundir.record_start(r, resume=resume, start_epoch=start_epoch, epochs=cfg0.run.epochs, device=str(device),
                            changes=ch, git=git)
        write_text_atomic(r / "config.json", json.dumps(d, indent=2) + "\n")

    loss_fn = stack_loss(call, params, buffers)
    graphs = cuda and cfg0.run.cuda_graphs and graphable_schedule(cfg0.schedule) and cfg0.optim.name == "sgd"
    runner = StepRunner(loss_fn, list(params.values()), optimizer, graphs=graphs, autocast=cuda and cfg0.run.amp)
    batchers = [make_batcher(xtr, ytr, c.data.batch_size, device, augment=c.data.augment and image, seed=c.run.seed,
                             pad=c.data.augment_pad, pad_mode=c.data.augment_pad_mode) for c in cfgs]
    n_steps = len(batchers[0]) if not cfg0.run.max_steps_per_epoch else min(len(batchers[0]),
                                                                             cfg0.run.max_steps_per_epoch)
    epochs = cfg0.run.epochs
    results: list = [None] * R
    alive = list(range(R))
    last_good = [str(r / MODEL_FILE) if start_epoch and (r / MODEL_FILE).exists() else None for r in run_dirs]
    meta = [{"dataset": dataset, "config": d, "git": git, "experiment": c.experiment} for d, c in zip(resolved, cfgs)]
    log(f"training {R} runs as one stack on {device} ({'CUDA graphs' if graphs else 'eager'}), "
        f"{n_steps} steps per epoch, epochs {start_epoch + 1}–{epochs}")
    t_start, last_line = time.perf_counter(), time.perf_counter()
    for epoch in range(start_epoch, epochs):
        t0 = time.perf_counter()
        for b in batchers:
            b.set_epoch(epoch)
        base.train()
        loss_sum = torch.zeros(R, device=device)
        correct = torch.zeros(R, device=device)
        first_bad = torch.full((R,), n_steps, device=device, dtype=torch.long)
        lr = cfg0.optim.lr
        seen = 0
        for i, batches in enumerate(zip(*batchers)):
            if i >= n_steps:
                break
            lr = learning_rate(cfg0.optim.lr, cfg0.schedule, epoch, i, n_steps, epochs)
            xs = torch.stack([x for x, _ in batches])
            ys = torch.stack([y for _, y in batches])
            loss, hit = runner.step(xs, ys, lr)
            first_bad = torch.where(torch.isfinite(loss) | (first_bad < n_steps), first_bad,
                                    torch.full_like(first_bad, i))
            loss_sum += loss
            correct += hit
            seen += ys.shape[1]
            now = time.perf_counter()
            if cfg0.run.progress and now - last_line >= cfg0.run.log_every:
                last_line = now
                done = (epoch - start_epoch) * n_steps + i + 1
                rate = done / (now - t_start)
                left = (epochs - start_epoch) * n_steps - done
                log(f"stack of {R}: epoch {epoch + 1}/{epochs} step {i + 1}/{n_steps}  "
                    f"{rate * ys.shape[1] * R:.0f} images/s (all runs)  ETA {_duration(left / rate)}")
        if runner.failure is not None and epoch == start_epoch:
            log(f"CUDA graphs are off for this stack (the step could not be captured: {runner.failure})")
        bad = first_bad.tolist()
        base.eval()
        evals = _evaluate_stack(call, params, buffers, xte, yte, cfg0.data.eval_batch_size, device).tolist()
        totals = torch.stack([loss_sum, correct]).tolist()
        seconds = time.perf_counter() - t0
        for r in list(alive):
            run_dir, model = run_dirs[r], models[r]
            if bad[r] < n_steps:
                results[r] = NonFiniteLossError(epoch + 1, bad[r] + 1, last_good[r])
                alive.remove(r)
                log(f"{run_dir}: {results[r]}")
                continue
            _copy_into(model, params, buffers, r)
            finite = all(torch.isfinite(v).all() for v in model.state_dict().values() if v.is_floating_point())
            if not finite:
                results[r] = NonFiniteLossError(epoch + 1, n_steps, last_good[r], what="weights")
                alive.remove(r)
                log(f"{run_dir}: {results[r]}")
                continue
            steps_done[r] += n_steps
            acc, test_loss, top5 = evals[r]
            row = {"epoch": epoch + 1, "step": steps_done[r], "lr": lr, "loss": totals[0][r] / n_steps,
                   "train_acc": totals[1][r] / max(seen, 1), "test_acc": acc, "test_top5": top5,
                   "test_loss": test_loss, "seconds": seconds, "packed": R,
                   "coefficients": coefficient_summary(model)}
            _unstack_optimizer_state(optimizer, optims[r], model, params, r)
            leases[r].check()  # never write a run another process has taken over
            save_model(run_dir / MODEL_FILE, model, {**meta[r], "epoch": epoch + 1})
            save_train_state(run_dir / STATE_FILE, model, optims[r], {"kind": cfgs[r].schedule.kind, "lr": lr},
                             epoch + 1, steps_done[r])
            last_good[r] = str(run_dir / MODEL_FILE)
            metrics[r].append(row)
        accs = "  ".join(f"{100 * evals[r][0]:.2f}%" for r in alive)
        log(f"stack of {R}: epoch {epoch + 1}/{epochs}  test {accs}  lr {lr:.4g}  {seconds:.1f}s")
        if not alive:
            break
    for r in alive:
        summary = {"run_dir": str(run_dirs[r]), "dataset": dataset, "epochs": epochs,
                   "final": metrics[r].rows[-1] if metrics[r].rows else None, "packed": R}
        write_text_atomic(run_dirs[r] / "summary.json", json.dumps(summary, indent=2, default=float) + "\n")
        results[r] = summary
    return results
