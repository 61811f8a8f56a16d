"""The size of each model the registry trains: forward FLOPs and weight layers, ODE blocks apart.

The cost model (:mod:`stablenets.reproduce.costs`) scales measured throughput from one model to
another by these counts. Counting them builds every model and runs one input through it, which
takes minutes for the whole registry, so the counts ship as package data
(``papers/model_sizes.json``), generated and checked by::

    python -m stablenets.reproduce.sizes            # rewrite papers/model_sizes.json
    python -m stablenets.reproduce.sizes --missing  # count only what it lacks (new presets, new table rows)
    python -m stablenets.reproduce.sizes --check    # exit 1 when it differs from a fresh count

A model the file lacks (a new preset, a user's overrides) is counted when first needed, with a
line on stderr saying so.

Per model (preset name, the overrides that change its shape, data set): ``flops`` of one forward
pass of one input with every ODE block integrated by a single Euler step (one evaluation of its
vector field), of which ``ode_flops`` are inside the vector fields; ``layers`` the convolutions and
matrix products applied (aten ops; ``ode_layers`` of them inside the vector fields); ``ode`` the
preset's own solver settings (None without ODE blocks). FLOPs are ``torch.utils.flop_counter``'s (a
multiply-add is 2).
"""
from __future__ import annotations

import argparse
import functools
import json
import sys
from importlib import resources

__all__ = ["model_size", "size_key", "registry_keys", "count_size", "load_sizes", "SIZES_FILE", "SIZELESS_KEYS"]

SIZES_FILE = "model_sizes.json"
# ODESettings fields: they change how many times an ODE block's field is evaluated, not its shape
SOLVER_KEYS = ("solver", "rtol", "atol", "t1", "step_size", "adjoint", "record_steps", "max_nfe")
# Settings that change neither a model's shape nor its forward FLOPs: left out of the size keys
SIZELESS_KEYS = SOLVER_KEYS + ("init",)


def _layer_ops() -> set:
    import torch

    aten = torch.ops.aten
    return {aten.convolution, aten.mm, aten.addmm, aten.bmm, aten.baddbmm}


def size_key(name: str, overrides: dict, dataset: str) -> str:
    """``name|{shape overrides}|dataset``: the key of a model's counts (solver settings and the initialisation
    left out)."""
    shape = {k: v for k, v in sorted(overrides.items()) if k not in SIZELESS_KEYS}
    return f"{name}|{json.dumps(shape, sort_keys=True)}|{dataset}"


def _sizes_path():
    return resources.files("stablenets.reproduce") / "papers" / SIZES_FILE


@functools.cache
def load_sizes() -> dict:
    try:
        return json.loads(_sizes_path().read_text(encoding="utf-8"))["models"]
    except (OSError, ValueError, KeyError):
        return {}


@functools.lru_cache(maxsize=4096)
def _counted(key: str) -> dict:
    name, shape, dataset = key.split("|")
    print(f"counting the FLOPs of {name} on {dataset} (not in stablenets/reproduce/papers/{SIZES_FILE}) ...",
          file=sys.stderr, flush=True)
    return count_size(name, json.loads(shape), dataset)


def model_size(name: str, overrides: dict, dataset: str) -> dict:
    """The counts of one model: from the shipped file, else counted now (a line on stderr says so)."""
    key = size_key(name, overrides, dataset)
    shipped = load_sizes().get(key)
    return dict(shipped) if shipped is not None else dict(_counted(key))


def count_size(name: str, overrides: dict, dataset: str) -> dict:
    """Count the FLOPs and layers of one forward pass of one input (see the module docstring)."""
    import dataclasses
    import warnings

    import torch
    from torch.utils._python_dispatch import TorchDispatchMode
    from torch.utils.flop_counter import FlopCounterMode

    from stablenets.data import dataset_info
    from stablenets.models import create_model
    from stablenets.schemes.continuous import VectorField, ode_blocks

    info = dataset_info(dataset)
    kwargs = {k: v for k, v in overrides.items() if k not in SIZELESS_KEYS}
    # An IE-skip inner loop runs the same operations whether or not its gradient's graph is kept (create_graph
    # decides only that); it is counted with the graph, as FlopCounterMode cannot follow autograd.grad on the
    # detached leaf of create_graph=False.
    kwargs.pop("create_graph", None)
    if info.kind == "image":
        kwargs = dict(in_channels=info.in_channels, image_size=info.image_size, mean=info.mean, std=info.std) | kwargs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(0)
        model = create_model(name, info.num_classes, **kwargs).eval()
    blocks = ode_blocks(model)
    ode = None
    if blocks:
        s = blocks[0].settings
        ode = {"solver": s.solver, "t1": s.t1, "step_size": s.step_size}
        for block in blocks:  # one Euler step over [0, T]: one evaluation of each field
            block.settings = dataclasses.replace(block.settings, solver="euler", step_size=block.settings.t1)
    if info.kind == "text":
        x = torch.ones(1, info.image_size, dtype=torch.long)
    elif info.kind == "points":
        x = torch.zeros(1, info.in_channels)
    else:
        size = min(info.image_size, 224)
        x = torch.rand(1, info.in_channels, size, size)
    state = {"depth": 0, "start": 0.0, "ode_flops": 0.0, "layers": 0, "ode_layers": 0}
    counter = FlopCounterMode(display=False)

    def enter(_module, _args):
        if state["depth"] == 0:
            state["start"] = counter.get_total_flops()
        state["depth"] += 1

    def leave(_module, _args, _out):
        state["depth"] -= 1
        if state["depth"] == 0:
            state["ode_flops"] += counter.get_total_flops() - state["start"]

    class Layers(TorchDispatchMode):
        """Counts the convolutions and matrix products applied (inside the vector fields apart)."""

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func.overloadpacket in layer_ops:
                state["layers"] += 1
                state["ode_layers"] += state["depth"] > 0
            return func(*args, **(kwargs or {}))

    handles = []
    for module in model.modules():
        if isinstance(module, VectorField):
            handles += [module.register_forward_pre_hook(enter), module.register_forward_hook(leave)]
    layer_ops = _layer_ops()
    try:
        with counter, Layers():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    calls = [b.field.nfe for b in blocks]
    if any(n != 1 for n in calls):
        raise RuntimeError(f"{name}: an ODE block evaluated its field {calls} times in one Euler step")
    return {"flops": float(counter.get_total_flops()), "ode_flops": float(state["ode_flops"]),
            "layers": int(state["layers"]), "ode_layers": int(state["ode_layers"]), "ode": ode}


def registry_keys() -> dict[str, tuple[str, dict, str]]:
    """Every model the registry trains at paper scale, under the paper and the code protocol, and every model of
    the measured throughput table (``papers/throughput.json``): {key: (name, overrides, dataset)}."""
    from stablenets.models import list_models
    from stablenets.reproduce.registry import expand_runs, get_entry, list_entries

    known = set(list_models())
    keys = {}
    for entry_id in list_entries():
        entry = get_entry(entry_id)
        if entry.kind == "paper-only" or entry.analysis.get("train") is False:
            continue
        for run in expand_runs(entry, "paper") + expand_runs(entry, "paper", protocol="code"):
            model = run.config["model"]
            if model["name"] not in known:
                continue  # a preset not added yet: `reproduce list` marks the entry
            dataset = run.config.get("data", {}).get("dataset", "cifar10")
            overrides = dict(model.get("overrides") or {})
            keys.setdefault(size_key(model["name"], overrides, dataset), (model["name"], overrides, dataset))
    path = resources.files("stablenets.reproduce") / "papers" / "throughput.json"
    table = json.loads(path.read_text(encoding="utf-8"))
    for row in table["rows"]:
        dataset = row.get("dataset", "cifar10")
        keys.setdefault(size_key(row["model"], {}, dataset), (row["model"], {}, dataset))
    return dict(sorted(keys.items()))


def _count_all(keep: dict | None = None, progress: bool = True) -> dict:
    """Counts of every key of :func:`registry_keys`; those in ``keep`` are taken from it, not recounted."""
    import time

    keys = registry_keys()
    out, start = {}, time.monotonic()
    for i, (key, (name, overrides, dataset)) in enumerate(keys.items(), 1):
        if keep is not None and key in keep:
            out[key] = keep[key]
            continue
        out[key] = count_size(name, overrides, dataset)
        if progress:
            print(f"[{i}/{len(keys)}] {key}  ({time.monotonic() - start:.0f} s)", file=sys.stderr, flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stablenets.reproduce.sizes", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="compare with a fresh count; exit 1 if they differ")
    parser.add_argument("--missing", action="store_true",
                        help="count only the models the file lacks (after adding rows or presets); keep the rest")
    args = parser.parse_args(argv)
    import torch

    fresh = _count_all(keep=load_sizes() if args.missing and not args.check else None)
    if args.check:
        stale = sorted(k for k in set(fresh) | set(load_sizes()) if fresh.get(k) != load_sizes().get(k))
        for key in stale:
            print(f"differs: {key}: shipped {load_sizes().get(key)}, counted {fresh.get(key)}")
        print(f"{len(fresh)} models, {len(stale)} differ" + (": run `python -m stablenets.reproduce.sizes`"
                                                             if stale else ""))
        return 1 if stale else 0
    path = _sizes_path()
    document = {"generated_by": "python -m stablenets.reproduce.sizes", "torch": torch.__version__,
                "models": fresh}
    from stablenets.atomic import write_text_atomic

    write_text_atomic(path, json.dumps(document, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(fresh)} models to {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
