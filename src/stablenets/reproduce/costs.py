"""Paper-scale GPU-hours of the registry's runs, from measured throughput.

Inputs, all package data in ``reproduce/papers/``:

* ``throughput.json``: measured images/s per model, data set, batch and path (``eager``: plain
  PyTorch; ``fast``: the CUDA fast path; ``packed``: ``pack`` runs trained at once, aggregate
  images/s), each row citing its source run (device, torch, commit, date as ``YYYY-MM-DD HH:MM:SS
  UTC``, which orders the sources, command).
  ``train_images_per_s`` is one training step; ``attack_images_per_s`` one fp32 forward + backward
  to the input (one attack iteration).
* ``model_sizes.json`` (:mod:`stablenets.reproduce.sizes`): forward FLOPs and weight layers of each
  model, the ODE blocks' vector fields apart.
* ``costs.toml``: the data sets' sizes and the few counts that are not throughput (evaluations of
  an adaptive ODE solver, AutoAttack's iterations).

Rules:

* **Throughput of a run's model.** The measured rows of the same model and data set when there are
  any ("measured"; an ODE model only at its preset's own solver, the setting it was measured at).
  Otherwise the rows of the nearest measured model ("derived from <model>"): the same family
  first (the preset name without its sizes: ``in-resnet`` for ``lambda-in-resnet-110`` shares two
  words), then the closest FLOPs; an ODE model is derived only from a model without ODE blocks or
  from its own family at the same solver. Of those rows: the newest device, on it the fastest
  path that applies (``packed`` only when the entry has ``pack`` runs of that model and batch; a
  model with an adaptive ODE solver only on the paths its reference was measured on, and only
  eager from a model without ODE blocks), from that path's newest source.
* **Batch and model.** A row of the run's own model at the run's batch is used as it is.
  Otherwise a step of model M at batch b takes ``t = max(a · L_M / L_R, σ · F_M · b)``: the GPU
  works while the host launches kernels, so a step takes the longer of the launch time and the
  arithmetic. ``a`` is the reference R's launch time, scaled by the weight layers applied (L):
  its shortest measured step, or the shortest measured step time per layer on that device and path
  times its layers if that is shorter; ``σ`` the shortest measured time per image and FLOP on that
  device and path, times M's FLOPs (F); from an ODE model of the same family, that model's own.
  Both minima are over the models without ODE blocks (their evaluations per forward pass are not
  measured), any batch. A measured step time bounds both its launch time and its arithmetic from
  above; a derived model is taken to launch and compute as efficiently as the measured ones.
* **ODE blocks.** Only the FLOPs (and layers) inside the vector fields are multiplied by the
  solver's evaluations per forward pass: stages × steps for euler and rk4, ``adaptive_evaluations``
  for adaptive solvers.
* **Training** = epochs × training images / images/s × the objective's passes (natural and noisy
  1, PGD-k 1 + k, TRADES 2 + k), every seed a run of its own.
* **Evaluation** = every attack the protocol's suite runs (:func:`stablenets.reproduce.jobs.
  evaluation_suite`: the listed attacks with the protocol's overrides, each radius, steps ×
  restarts × binary searches, SPSA's and Square's forward-only queries, the noise copies of the
  test set, the diagnostics when asked for, a transfer attack) × test points / attack images/s.
  A cascade (attacks on the survivors only) and the adaptive attacks that answer a raised
  masking flag are not discounted or added: the first makes this an upper bound, the second is
  conditional.

The ``basis`` of every figure says whether it is measured or from which model it is derived.
"""
from __future__ import annotations

import functools
import json
import math
import tomllib
from dataclasses import dataclass, field
from importlib import resources

from stablenets.reproduce.sizes import SIZELESS_KEYS, SOLVER_KEYS, model_size

__all__ = ["Throughput", "Rate", "RunCost", "EntryCost", "load_throughput", "cost_facts", "run_cost",
           "entry_cost", "entry_gpu_hours", "evaluation_iterations", "ode_evaluations", "PATHS"]

PATHS = ("eager", "fast", "packed")
_STAGES = {"euler": 1, "rk4": 4}
_FIXED_GRID = tuple(_STAGES)


@functools.cache
def cost_facts() -> dict:
    text = (resources.files("stablenets.reproduce") / "papers" / "costs.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


# ----------------------------------------------------------------------------- the measured table

@dataclass(frozen=True)
class Row:
    source: str
    model: str
    dataset: str
    batch: int
    path: str
    pack: int
    train: float | None
    attack: float | None

    def rate(self, kind: str) -> float | None:
        return self.train if kind == "train" else self.attack


@dataclass(frozen=True)
class Throughput:
    """The measured table: ``sources`` by id and the ``rows`` citing them."""

    sources: dict
    rows: tuple

    @classmethod
    def from_document(cls, doc: dict, where: str = "throughput table") -> Throughput:
        """Checks every field; a ValueError names the first wrong one."""
        sources = {}
        for i, src in enumerate(doc.get("sources") or []):
            missing = [k for k in ("id", "device", "torch", "commit", "date", "command") if k not in src]
            if missing:
                raise ValueError(f"{where}: sources[{i}] lacks {missing}")
            sources[src["id"]] = dict(src)
        rows = []
        for i, r in enumerate(doc.get("rows") or []):
            at = f"{where}: rows[{i}]"
            if r.get("source") not in sources:
                raise ValueError(f"{at}: source {r.get('source')!r} is not one of the sources {sorted(sources)}")
            if r.get("path") not in PATHS:
                raise ValueError(f"{at}: path {r.get('path')!r} must be one of {PATHS}")
            batch, pack = r.get("batch"), r.get("pack", 1)
            if not isinstance(batch, int) or batch < 1 or not isinstance(pack, int) or pack < 1:
                raise ValueError(f"{at}: batch and pack must be integers ≥ 1, got {batch!r}, {pack!r}")
            if r["path"] != "packed" and pack != 1:
                raise ValueError(f"{at}: pack {pack} with path {r['path']!r} (only packed rows train several runs)")
            if not isinstance(r.get("model"), str):
                raise ValueError(f"{at}: model must be a preset name, got {r.get('model')!r}")
            rates = [r.get("train_images_per_s"), r.get("attack_images_per_s")]
            if all(v is None for v in rates) or any(v is not None and not (v > 0) for v in rates):
                raise ValueError(f"{at}: train_images_per_s / attack_images_per_s must be > 0 or null, not both null")
            rows.append(Row(r["source"], r["model"], r.get("dataset", "cifar10"), batch, r["path"], pack,
                            *[None if v is None else float(v) for v in rates]))
        return cls(sources, tuple(rows))


@functools.cache
def load_throughput() -> Throughput:
    text = (resources.files("stablenets.reproduce") / "papers" / "throughput.json").read_text(encoding="utf-8")
    return Throughput.from_document(json.loads(text), "stablenets/reproduce/papers/throughput.json")


# ----------------------------------------------------------------------------- model sizes

@dataclass(frozen=True)
class _Size:
    flops: float
    layers: float


def ode_evaluations(size: dict, overrides: dict) -> int:
    """Evaluations of each ODE block's field per forward pass at the run's solver settings."""
    if size.get("ode") is None:
        return 1
    settings = dict(size["ode"]) | {k: v for k, v in overrides.items() if k in SOLVER_KEYS}
    solver = settings.get("solver", "dopri5")
    if solver in _FIXED_GRID:
        steps = max(1, math.ceil(float(settings.get("t1", 1.0)) / float(settings.get("step_size", 1.0)) - 1e-9))
        return _STAGES[solver] * steps
    return int(cost_facts()["assumptions"]["adaptive_evaluations"])


def _effective(size: dict, evaluations: int) -> _Size:
    flops = size["flops"] + (evaluations - 1) * size["ode_flops"]
    layers = size["layers"] + (evaluations - 1) * size["ode_layers"]
    return _Size(max(flops, 1.0), max(layers, 1.0))


def _family(name: str) -> tuple[str, ...]:
    """The words of a preset name before its first size: ``in-resnet-gating-110`` → (in, resnet, gating)."""
    words = name.split("-")
    out = []
    for word in words:
        if any(c.isdigit() for c in word):
            break
        out.append(word)
    return tuple(out) or ("".join(c for c in words[0] if not c.isdigit()),)


def _shared_words(a: tuple, b: tuple) -> int:
    if a == b:
        return 100
    prefix = next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
    suffix = next((i for i, (x, y) in enumerate(zip(reversed(a), reversed(b))) if x != y), min(len(a), len(b)))
    return max(prefix, suffix)


# ----------------------------------------------------------------------------- throughput of a run

@dataclass(frozen=True)
class Rate:
    """Images/s of one model at the run's batch, and where the number comes from."""

    images_per_s: float
    model: str          # the measured model the number comes from
    dataset: str
    measured: bool      # the run's own model and data set
    path: str
    pack: int
    source: str
    device: str

    @property
    def basis(self) -> str:
        return "measured" if self.measured else f"derived from {self.model} ({self.dataset})"


def _rates_by_batch(rows: list[Row], kind: str) -> dict[int, float]:
    per: dict[int, list[float]] = {}
    for r in rows:
        per.setdefault(r.batch, []).append(r.rate(kind))
    return {b: sum(v) / len(v) for b, v in sorted(per.items())}


def _device_minima(table: Throughput, kind: str, path: str, pack: int, device: str) -> tuple[float, float]:
    """The shortest measured (time per image and FLOP, step time per weight layer) on this device and
    path: any model without ODE blocks (whose evaluations per forward pass are not measured), any batch."""
    per_flop = per_layer = math.inf
    for r in table.rows:
        if r.rate(kind) is None or r.path != path or r.pack != pack or table.sources[r.source]["device"] != device:
            continue
        size = model_size(r.model, {}, r.dataset)
        if size.get("ode") is None:
            per_flop = min(per_flop, 1.0 / r.rate(kind) / size["flops"])
            per_layer = min(per_layer, r.batch / r.rate(kind) / max(size["layers"], 1))
    return per_flop, per_layer


def _step_seconds(table: Throughput, rows: list[Row], kind: str, batch: int, ref: _Size, target: _Size,
                  ode_reference: bool = False) -> float:
    points = _rates_by_batch(rows, kind)
    if batch in points and ref == target:
        return batch / points[batch]
    first = rows[0]
    per_flop, per_layer = _device_minima(table, kind, first.path, first.pack, table.sources[first.source]["device"])
    host = min(min(b / rate for b, rate in points.items()), per_layer * ref.layers)
    if ode_reference:  # its own family at the same solver: its own time per FLOP (the NFE cancels)
        per_flop = min(1.0 / (rate * ref.flops) for rate in points.values())
    compute = per_flop * target.flops * batch if math.isfinite(per_flop) else host * target.flops / ref.flops
    return max(host * target.layers / ref.layers, compute)


def _adaptive(size: dict, overrides: dict) -> bool:
    if size.get("ode") is None:
        return False
    solver = (dict(size["ode"]) | {k: v for k, v in overrides.items() if k in SOLVER_KEYS}).get("solver")
    return solver not in _FIXED_GRID


def _reference(table: Throughput, kind: str, name: str, overrides: dict, dataset: str, size: dict,
               target: _Size) -> tuple[str, str, bool]:
    rows = [r for r in table.rows if r.rate(kind) is not None]
    solver_changed = size.get("ode") is not None and any(k in SOLVER_KEYS for k in overrides)
    shape_changed = any(k not in SIZELESS_KEYS for k in overrides)
    if not solver_changed and not shape_changed and any(r.model == name and r.dataset == dataset for r in rows):
        return name, dataset, True
    family = _family(name)
    best = None
    for model, data in {(r.model, r.dataset) for r in rows}:
        ref_size = model_size(model, {}, data)
        if ref_size.get("ode") is not None and (size.get("ode") is None or solver_changed or
                                                _family(model) != family):
            continue  # an ODE model's throughput holds at its own solver only
        ref = _effective(ref_size, ode_evaluations(ref_size, {}))
        key = (-_shared_words(family, _family(model)), _family(model) != ("resnet",),
               abs(math.log(target.flops / ref.flops)),
               abs(math.log(target.layers / ref.layers)), model, data)
        if best is None or key < best:
            best = key
    if best is None:
        raise ValueError(f"no measured throughput to derive {name} from (stablenets/reproduce/papers/throughput.json)")
    return best[-2], best[-1], False


def model_rate(kind: str, name: str, overrides: dict, dataset: str, batch: int, *, group_size: int = 1,
               table: Throughput | None = None) -> Rate:
    """Images/s of ``name`` at ``batch`` for ``kind`` "train" (one step) or "attack" (one iteration)."""
    if table is None:
        return _shipped_rate(kind, name, json.dumps(overrides, sort_keys=True), dataset, batch, group_size)
    return _model_rate(table, kind, name, overrides, dataset, batch, group_size)


@functools.lru_cache(maxsize=4096)
def _shipped_rate(kind: str, name: str, overrides_json: str, dataset: str, batch: int, group_size: int) -> Rate:
    return _model_rate(load_throughput(), kind, name, json.loads(overrides_json), dataset, batch, group_size)


def _model_rate(table: Throughput, kind: str, name: str, overrides: dict, dataset: str, batch: int,
                group_size: int) -> Rate:
    size = model_size(name, overrides, dataset)
    target = _effective(size, ode_evaluations(size, overrides))
    model, data, measured = _reference(table, kind, name, overrides, dataset, size, target)
    ref_size = model_size(model, {}, data)
    ref = _effective(ref_size, ode_evaluations(ref_size, {}))
    rows = [r for r in table.rows if r.model == model and r.dataset == data and r.rate(kind) is not None]
    device = table.sources[max(rows, key=lambda r: table.sources[r.source]["date"]).source]["device"]
    rows = [r for r in rows if table.sources[r.source]["device"] == device]
    eager_only = _adaptive(size, overrides) and ref_size.get("ode") is None
    best = None
    for path, pack in sorted({(r.path, r.pack) for r in rows}):
        if pack > group_size or (eager_only and path != "eager"):
            continue
        on_path = [r for r in rows if r.path == path and r.pack == pack]
        source = max({r.source for r in on_path}, key=lambda s: table.sources[s]["date"])
        chosen = [r for r in on_path if r.source == source]
        rate = batch / _step_seconds(table, chosen, kind, batch, ref, target, ref_size.get("ode") is not None)
        if best is None or rate > best.images_per_s:
            best = Rate(rate, model, data, measured, path, pack, source, device)
    if best is None:
        raise ValueError(f"{model} has no measured {kind} throughput on the eager path to derive {name} from")
    return best


# ----------------------------------------------------------------------------- evaluation work

def _attack_iterations(name: str, settings) -> float:
    """Attack iterations (forward + backward to the input) per test point of one attack at one radius."""
    query = float(cost_facts()["assumptions"]["query_iterations"])
    get = functools.partial(getattr, settings)
    if name == "fgsm":
        return 1.0
    if name == "spsa":
        return get("steps") * 2 * get("samples") * query
    if name == "autoattack":
        counts = cost_facts()["autoattack"][get("version")]
        return counts["iterations"] + counts["queries"] * query
    steps = float(get("steps", 1))
    return steps * get("restarts", 1) * get("binary_search_steps", 1)


def evaluation_iterations(protocol: dict | None, dataset: str) -> list[dict]:
    """Every part of the protocol's evaluation: [{"what", "points", "iterations" per point}]."""
    if not protocol or not protocol.get("suite"):
        return []
    return [dict(p) for p in _evaluation_iterations(json.dumps(protocol, sort_keys=True), dataset)]


@functools.lru_cache(maxsize=256)
def _evaluation_iterations(protocol_json: str, dataset: str) -> tuple:
    protocol = json.loads(protocol_json)
    from stablenets.evaluation.suites import attack_plan
    from stablenets.reproduce.jobs import evaluation_suite, transfer_spec

    suite = evaluation_suite(protocol)
    test = int(_dataset_sizes(dataset)["test"])
    n = min(int(protocol.get("n") or 0) or test, test)
    query = float(cost_facts()["assumptions"]["query_iterations"])
    parts = []
    for plan in attack_plan(suite):
        for eps, settings in zip(plan["radii"], plan["settings"]):
            parts.append({"what": f"{plan['name']}@{eps}", "points": n,
                          "iterations": _attack_iterations(plan["spec"].name, settings)})
    c10 = suite["noise"].get("cifar10c")
    if c10:
        copies = len(c10["groups"]) * len(c10["severities"])
        parts.append({"what": f"cifar10c ({copies} noisy copies)", "points": n, "iterations": copies * query})
    zs = suite["noise"].get("zerosnet")
    if zs:
        copies = sum(len(v) for v in zs.values())
        parts.append({"what": f"zerosnet noise ({copies} levels)", "points": n, "iterations": copies * query})
    diag = suite.get("diagnostics") or {}
    if diag.get("enabled"):
        spsa = diag.get("spsa") or {}
        iterations = (diag["steps"] + diag["strong_steps"] * diag["strong_restarts"]
                      + len(diag.get("large_eps") or []) * diag["steps"]
                      + spsa.get("steps", 0) * 2 * spsa.get("samples", 0) * query)
        parts.append({"what": "diagnostics", "points": min(int(diag["n"]), n), "iterations": iterations})
    transfer = transfer_spec(protocol)
    if transfer:
        for plan in attack_plan(suite, {"transfer": transfer}, prefix="transfer"):
            for eps, settings in zip(plan["radii"], plan["settings"]):
                parts.append({"what": f"transfer {plan['spec'].name}@{eps}", "points": n,
                              "iterations": _attack_iterations(plan["spec"].name, settings)})
    return tuple(parts)


def _dataset_sizes(dataset: str) -> dict:
    sizes = cost_facts()["datasets"]
    if dataset not in sizes:
        raise ValueError(f"no training/test set size for data set {dataset!r} "
                         "in stablenets/reproduce/papers/costs.toml")
    return sizes[dataset]


# ----------------------------------------------------------------------------- runs and entries

@dataclass(frozen=True)
class RunCost:
    train_hours: float
    eval_hours: float
    train: Rate
    attack: Rate | None
    evaluations: int            # ODE-block field evaluations per forward pass (1 without ODE blocks)
    passes: int                 # forward + backward passes per training image
    parts: list = field(default_factory=list)   # evaluation_iterations()

    @property
    def hours(self) -> float:
        return self.train_hours + self.eval_hours

    @property
    def measured(self) -> bool:
        return self.train.measured and (self.attack is None or self.attack.measured)

    @property
    def basis(self) -> str:
        """"measured", or "derived from <model> (<data set>)" for training and attacks alike, or each's own."""
        if self.attack is None or self.attack.basis == self.train.basis:
            return self.train.basis
        return f"training {self.train.basis}; attacks {self.attack.basis}"


def run_cost(config: dict, protocol: dict | None = None, *, group_size: int = 1,
             table: Throughput | None = None) -> RunCost:
    """GPU-hours of one run (training and its evaluation) at the config's own settings."""
    data = config.get("data", {})
    dataset = data.get("dataset", "cifar10")
    sizes = _dataset_sizes(dataset)
    name = config["model"]["name"]
    overrides = dict(config["model"].get("overrides") or {})
    batch = int(data.get("batch_size", 128))
    mode = config.get("mode", {})
    k = int(mode.get("steps", 10))
    passes = {"pgd": 1 + k, "trades": 2 + k}.get(mode.get("kind", "natural"), 1)
    images = int(config.get("run", {}).get("epochs", 1)) * min(int(data.get("train_subset") or sizes["train"]),
                                                                sizes["train"])
    train = model_rate("train", name, overrides, dataset, batch, group_size=group_size, table=table)
    parts = evaluation_iterations(protocol, dataset)
    work = sum(p["points"] * p["iterations"] for p in parts)
    attack = None
    if work > 0:
        attack = model_rate("attack", name, overrides, dataset, int(data.get("eval_batch_size", 500)), table=table)
    size = model_size(name, overrides, dataset)
    return RunCost(train_hours=images * passes / train.images_per_s / 3600,
                   eval_hours=0.0 if attack is None else work / attack.images_per_s / 3600,
                   train=train, attack=attack, evaluations=ode_evaluations(size, overrides), passes=passes,
                   parts=parts)


@dataclass(frozen=True)
class EntryCost:
    runs: list          # [(Run, RunCost)], every seed
    error: str | None = None

    @property
    def hours(self) -> float:
        return float("nan") if self.error else sum(c.hours for _, c in self.runs)

    @property
    def train_hours(self) -> float:
        return sum(c.train_hours for _, c in self.runs)

    @property
    def eval_hours(self) -> float:
        return sum(c.eval_hours for _, c in self.runs)

    @property
    def measured(self) -> bool:
        return all(c.measured for _, c in self.runs)

    @property
    def devices(self) -> set:
        return {r.device for _, c in self.runs for r in (c.train, c.attack) if r is not None}


def _group_key(config: dict) -> str:
    data = config.get("data", {})
    return json.dumps([config["model"]["name"], config["model"].get("overrides") or {}, data.get("dataset"),
                       data.get("batch_size")], sort_keys=True)


def entry_cost(entry, table: Throughput | None = None, protocol: str = "paper") -> EntryCost:
    """Every paper-scale run of ``entry`` under ``protocol`` (paper or code: the authors' code may train other
    epochs, widths, batch sizes) with its cost (none for paper-only and analysis-only entries)."""
    from stablenets.models import list_models
    from stablenets.reproduce.registry import expand_runs, protocol_of
    from stablenets.reproduce.runner import _trains

    if not _trains(entry):
        return EntryCost([])
    run_protocol = protocol
    protocol = protocol_of(entry, "paper", run_protocol)
    runs = expand_runs(entry, "paper", protocol=run_protocol)
    known = set(list_models())
    missing = sorted({r.config["model"]["name"] for r in runs} - known)
    if missing:
        return EntryCost([], error=f"preset(s) not added yet: {', '.join(missing)}")
    groups: dict[str, int] = {}
    for run in runs:
        groups[_group_key(run.config)] = groups.get(_group_key(run.config), 0) + 1
    out, seen = [], set()
    for run in runs:
        key = json.dumps(run.config, sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        try:
            out.append((run, run_cost(run.config, protocol, group_size=groups[_group_key(run.config)], table=table)))
        except ValueError as err:
            return EntryCost(out, error=str(err))
    return EntryCost(out)


def entry_gpu_hours(entry, protocol: str = "paper") -> float:
    """Paper-scale GPU-hours of every run of ``entry`` under ``protocol`` (0 for paper-only and analysis-only;
    NaN when unknown)."""
    return entry_cost(entry, protocol=protocol).hours
