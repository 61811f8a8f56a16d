"""Sections ``schemes``, ``compiled`` and ``scaling``: what each scheme costs against the plain
pre-activation ResNet on the same backbone.

For every depth D the presets resnet-D, in-resnet-D, zerosnet-opt-D, ie-resnet-1-D,
lm-resnet-D and resnet-h0.1-D (one backbone, six schemes) are timed interleaved in one
run: a training step (forward, cross-entropy, backward, SGD update) and an eval-mode
forward pass, on one fixed batch. Each figure is reported as a ratio to resnet-D.
Targets per training step (issue 7; papers A, C, E): In-ResNet ≤ 1.05×, ZeroSNet ≤ 1.10×,
IE-skip K = 1 ≤ 2.5×. The continuous blocks (sonet-32, soblock-32, odenet-32) are not on
that backbone; they are reported with their number of function evaluations (NFE) per
forward pass and, for scale, as ratios to resnet-20.

Scaling: the training step of resnet / in-resnet / zerosnet-opt / ie-resnet-1 at depths
20 → 110 (fixed batch) and at several batch sizes (depth 20), with a least-squares line
through each curve and its R² (linear when R² ≥ 0.99).
"""
from __future__ import annotations

import torch

import stablenets
from benchmarks._common import (Inference, TrainStep, interleaved, markdown_table, peak_memory,
                                prepare, random_batch)
from stablenets.schemes.continuous import ode_blocks

SCHEMES = ("resnet", "in-resnet", "zerosnet-opt", "ie-resnet-1", "ie-resnet-1-nograph", "lm-resnet", "resnet-h0.1")
TARGETS = {"in-resnet": 1.05, "zerosnet-opt": 1.10, "ie-resnet-1": 2.5, "ie-resnet-1-nograph": 2.5}
# label -> (preset family, overrides): IE-skip without gradients through the inner loop, as the reference code runs it
VARIANTS = {"ie-resnet-1-nograph": ("ie-resnet-1", {"create_graph": False})}
COMPILABLE = ("resnet", "in-resnet", "zerosnet-opt", "lm-resnet", "resnet-h0.1")  # no double backward
CONTINUOUS = ("sonet-32", "soblock-32", "odenet-32")
SCALING_SCHEMES = ("resnet", "in-resnet", "zerosnet-opt", "ie-resnet-1")


def model_name(label: str, depth: int) -> str:
    """The preset for a scheme label at a depth, with any overrides written after it: ``"<preset> (k=v)"``."""
    family, overrides = VARIANTS.get(label, (label, {}))
    return f"{family}-{depth}" + "".join(f" ({k}={v})" for k, v in overrides.items())


def build(name: str):
    """create_model for a name made by :func:`model_name`."""
    preset, _, rest = name.partition(" (")
    overrides = {}
    for family, ovr in VARIANTS.values():
        if rest and preset.startswith(family + "-"):
            overrides.update(ovr)
    return stablenets.create_model(preset, **overrides)


def _cases(names, batch, device, amp, channels_last, with_inference=True, compile_mode=None):
    x, y = random_batch(batch, device, channels_last)
    models, cases = {}, {}
    for name in names:
        torch.manual_seed(0)
        models[name] = prepare(build(name), device, channels_last)
        fwd = torch.compile(models[name], mode=compile_mode) if compile_mode else None
        cases[f"train:{name}"] = TrainStep(models[name], x, y, amp, forward=fwd)
        if with_inference:
            cases[f"infer:{name}"] = Inference(models[name], x, amp)
    return models, cases


def scheme_costs(depths=(20, 56), batch=32, device=torch.device("cpu"), repeats=5, amp=False,
                 channels_last=False, continuous_batch=None, schemes=SCHEMES, compile_mode=None,
                 continuous=True) -> dict:
    """Per depth, each scheme's train/inference time, images/s, memory, and ratio to resnet-D.

    ``compile_mode``: time the training step through ``torch.compile(model, mode=...)``.
    """
    out = {}
    for depth in depths:
        names = [model_name(s, depth) for s in schemes]
        models, cases = _cases(names, batch, device, amp, channels_last, compile_mode=compile_mode)
        timed = interleaved(cases, device, repeats)
        base = f"resnet-{depth}"
        rows = {}
        for scheme, name in zip(schemes, names):
            train, infer = timed[f"train:{name}"], timed[f"infer:{name}"]
            rows[scheme] = {
                "model": name,
                "train_step_s": train["median_s"], "train_spread": train["spread"],
                "train_images_per_s": batch / train["median_s"],
                "train_ratio": train["median_s"] / timed[f"train:{base}"]["median_s"],
                "infer_s": infer["median_s"], "infer_images_per_s": batch / infer["median_s"],
                "infer_ratio": infer["median_s"] / timed[f"infer:{base}"]["median_s"],
                "saved_activation_bytes": cases[f"train:{name}"].saved_bytes(),
                "peak_train_bytes": peak_memory(cases[f"train:{name}"], device),
                "target": TARGETS.get(scheme),
            }
            base_mem = rows["resnet"]["saved_activation_bytes"]
            rows[scheme]["memory_ratio"] = rows[scheme]["saved_activation_bytes"] / base_mem
        out[str(depth)] = {"batch": batch, "compile": compile_mode or False, "schemes": rows}
        del models, cases
    if not continuous:
        return out
    # float32 always: an adaptive solver's error estimate in bf16 never reaches rtol = atol = 1e-3
    out["continuous"] = continuous_costs(continuous_batch or batch, device, max(2, repeats // 2), False, channels_last)
    return out


def continuous_costs(batch, device, repeats, amp, channels_last) -> dict:
    names = ("resnet-20", *CONTINUOUS)
    models, cases = _cases(names, batch, device, amp, channels_last)
    timed = interleaved(cases, device, repeats)
    rows = {}
    for name in names:
        blocks = ode_blocks(models[name])
        cases[f"infer:{name}"]()
        train, infer = timed[f"train:{name}"], timed[f"infer:{name}"]
        rows[name] = {
            "train_step_s": train["median_s"], "train_images_per_s": batch / train["median_s"],
            "train_ratio_vs_resnet20": train["median_s"] / timed["train:resnet-20"]["median_s"],
            "infer_s": infer["median_s"], "infer_images_per_s": batch / infer["median_s"],
            "infer_ratio_vs_resnet20": infer["median_s"] / timed["infer:resnet-20"]["median_s"],
            "nfe_per_forward": [b.field.nfe for b in blocks],
            "solver": blocks[0].settings.solver if blocks else None,
            "saved_activation_bytes": cases[f"train:{name}"].saved_bytes(),
            "peak_train_bytes": peak_memory(cases[f"train:{name}"], device),
        }
    return {"batch": batch, "models": rows}


def _line_fit(xs, ys) -> dict:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((a - mx) ** 2 for a in xs)
    slope = sum((a - mx) * (b - my) for a, b in zip(xs, ys)) / sxx
    icpt = my - slope * mx
    ss_res = sum((b - (icpt + slope * a)) ** 2 for a, b in zip(xs, ys))
    ss_tot = sum((b - my) ** 2 for b in ys)
    r2 = 1 - ss_res / ss_tot if ss_tot > 0 else 1.0
    return {"slope_s_per_unit": slope, "intercept_s": icpt, "r2": r2, "linear": r2 >= 0.99}


def scaling(depths=(20, 32, 56, 110), batches=(8, 16, 32, 64), batch=16, device=torch.device("cpu"), repeats=3,
            amp=False, channels_last=False) -> dict:
    """Training-step time against depth (fixed batch) and against batch size (depth 20), per scheme."""
    by_depth = {}
    names = [f"{s}-{d}" for d in depths for s in SCALING_SCHEMES]
    _, cases = _cases(names, batch, device, amp, channels_last, with_inference=False)
    timed = interleaved(cases, device, repeats)
    for s in SCALING_SCHEMES:
        ts = [timed[f"train:{s}-{d}"]["median_s"] for d in depths]
        by_depth[s] = {"depths": list(depths), "train_step_s": ts, "fit": _line_fit(list(depths), ts)}
    del cases
    by_batch = {}
    cases = {}
    for b in batches:
        x, y = random_batch(b, device, channels_last)
        for s in SCALING_SCHEMES:
            torch.manual_seed(0)
            cases[f"{s}@{b}"] = TrainStep(prepare(stablenets.create_model(f"{s}-20"), device, channels_last), x, y, amp)
    timed = interleaved(cases, device, repeats)
    for s in SCALING_SCHEMES:
        ts = [timed[f"{s}@{b}"]["median_s"] for b in batches]
        by_batch[s] = {"batches": list(batches), "train_step_s": ts, "fit": _line_fit(list(batches), ts),
                       "images_per_s": [b / t for b, t in zip(batches, ts)]}
    return {"depth_batch": batch, "by_depth": by_depth, "by_batch": by_batch}


def _mib(b):
    return None if b is None else b / 2 ** 20


def markdown_costs(costs: dict) -> str:
    """The ``schemes`` and ``compiled`` tables."""
    parts = []
    for depth, block in costs.items():
        if depth == "continuous":
            continue
        rows = []
        for scheme, r in block["schemes"].items():
            target = r["target"]
            verdict = "—" if target is None else ("met" if r["train_ratio"] <= target else "MISSED")
            rows.append([r["model"], f"{r['train_ratio']:.3f}", f"{r['train_spread']:.2f}",
                         None if target is None else f"≤ {target}", verdict, r["train_images_per_s"],
                         f"{r['infer_ratio']:.3f}", r["infer_images_per_s"], _mib(r["saved_activation_bytes"]),
                         f"{r['memory_ratio']:.2f}", _mib(r["peak_train_bytes"])])
        how = f", training step through torch.compile(mode={block['compile']!r})" if block.get("compile") else ""
        parts.append(f"### Schemes on the depth-{depth} backbone (batch {block['batch']}{how})\n\n" + markdown_table(
            ["model", "train ratio", "spread", "target", "", "train img/s", "infer ratio", "infer img/s",
             "saved act. MiB", "mem ratio", "CUDA peak MiB"], rows))
    cont = costs.get("continuous")
    if cont:
        rows = [[name, r["solver"] or "—", ", ".join(map(str, r["nfe_per_forward"])) or "—",
                 f"{r['train_ratio_vs_resnet20']:.2f}", r["train_images_per_s"], f"{r['infer_ratio_vs_resnet20']:.2f}",
                 r["infer_images_per_s"], _mib(r["saved_activation_bytes"])] for name, r in cont["models"].items()]
        parts.append(f"### Continuous blocks (batch {cont['batch']}; NFE per ODE block, one forward pass)\n\n"
                     + markdown_table(["model", "solver", "NFE per block", "train vs resnet-20", "train img/s",
                                       "infer vs resnet-20", "infer img/s", "saved act. MiB"], rows))
    return "\n\n".join(parts)


def markdown_scaling(scal: dict) -> str:
    """The ``scaling`` tables."""
    parts = []
    if scal:
        rows = []
        for s, r in scal["by_depth"].items():
            rows.append([s, *[f"{t * 1e3:.1f}" for t in r["train_step_s"]],
                         f"{r['fit']['slope_s_per_unit'] * 1e3:.2f}", f"{r['fit']['r2']:.4f}",
                         "yes" if r["fit"]["linear"] else "no"])
        depths = next(iter(scal["by_depth"].values()))["depths"]
        parts.append(f"### Training step (ms) against depth (batch {scal['depth_batch']})\n\n" + markdown_table(
            ["scheme", *[f"depth {d}" for d in depths], "ms per layer", "R²", "linear"], rows))
        rows = []
        for s, r in scal["by_batch"].items():
            rows.append([s, *[f"{t * 1e3:.1f}" for t in r["train_step_s"]],
                         f"{r['fit']['slope_s_per_unit'] * 1e3:.3f}", f"{r['fit']['r2']:.4f}",
                         "yes" if r["fit"]["linear"] else "no"])
        batches = next(iter(scal["by_batch"].values()))["batches"]
        parts.append("### Training step (ms) against batch size (depth 20)\n\n" + markdown_table(
            ["scheme", *[f"batch {b}" for b in batches], "ms per image", "R²", "linear"], rows))
    return "\n\n".join(parts)
