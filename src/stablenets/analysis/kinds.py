"""What ``stablenets analyze KIND`` does for each kind: load the inputs, run the analysis, plot,
and describe the sections of the report. Each runner takes the parsed arguments and the output
directory and returns (title, sections, data)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from stablenets.analysis import coefficients, dynamics, flow, jacobian, landscape, solver, stability, sweeps
from stablenets.analysis.report import Section
from stablenets.analysis.runs import find_runs, run_facts

__all__ = ["KINDS", "load_checkpoints", "test_points"]


def _label(path: str) -> str:
    p = Path(path)
    return p.parent.name if p.is_file() else p.name


def load_checkpoints(paths, device, at_least: int = 1, at_most: int | None = None):
    """[(label, model, meta)] from checkpoint files or run directories."""
    if len(paths) < at_least or (at_most is not None and len(paths) > at_most):
        want = f"{at_least}" if at_most == at_least else f"{at_least} to {at_most or 'any number of'}"
        raise ValueError(f"this kind needs {want} checkpoint(s) (model.safetensors or run directories), "
                         f"got {len(paths)}")
    from stablenets.checkpoint import load_model

    out = []
    for p in paths:
        model, meta = load_model(p, device)
        out.append((_label(p), model, meta))
    return out


def test_points(meta: dict, args, device, n: int = 1):
    """Test points index … index+n−1 of the checkpoint's data set, as model inputs."""
    from stablenets.data import load_test_points

    dataset = args.dataset or meta.get("dataset")
    if not dataset:
        raise ValueError("the checkpoint does not name its data set; pass --dataset")
    root = args.data_root or (meta.get("config") or {}).get("data", {}).get("root")
    try:
        x, y, _ = load_test_points(dataset, root, n=n, start=args.index)
    except ValueError as err:
        raise ValueError(f"--index {args.index}: {err}") from None
    return x.to(device), y.to(device)


def _stability(args, out: Path):
    if args.inputs and all(Path(p).exists() for p in args.inputs):
        reports = [r for _, m, _ in load_checkpoints(args.inputs, args.device) for r in stability.model_roots(m)]
        data = {"roots": reports}
    else:
        data = stability.stability_analysis(args.inputs) if args.inputs else stability.stability_analysis()
        reports = data["roots"]
    stability.plot_roots(reports, out / "stability-roots.png")
    sections = [Section("Characteristic roots", "stability-roots.png",
                        "\n".join(f"- {r['label']}: {r['verdict']}" for r in reports))]
    if "zerosnet" in data:
        stability.plot_zerosnet_region(data["zerosnet"], out / "stability-zerosnet.png")
        stability.plot_euler_regions(data["regions"], out / "stability-euler-regions.png")
        stability.plot_ivp(data["ivp"], out / "stability-ivp.png")
        sections += [Section("ZeroSNet(λ) zero-stable region", "stability-zerosnet.png",
                             stability.roots_table_markdown(data["paper_e_table"])),
                     Section("Explicit and implicit Euler stability regions", "stability-euler-regions.png"),
                     Section("ẋ = −2.3x, x(0) = 1", "stability-ivp.png")]
    return "Stability", sections, data


def _jacobian(args, out: Path):
    (label, model, meta), = load_checkpoints(args.inputs, args.device, 1, 1)
    x, _ = test_points(meta, args, args.device)
    data = jacobian.jacobian_analysis(model, x, args.block or None, k=args.k, radius=args.radius)
    jacobian.plot_jacobian(data, out / "jacobian.png", f"{label}, test point {args.index}")
    rows = ["| block | σ₁ | C-stability | λ | max damped-shift deviation |", "|---|---|---|---|---|"]
    for r in data["blocks"]:
        dev = "—" if r["shift"] is None else f"{r['shift']['max_deviation']:.2e}"
        lam = "—" if r["lambda"] is None else f"{r['lambda']:.4g}"
        rows.append(f"| {r['index']} | {r['singular_values'][0]:.4g} | {r['c_stability']:.4g} | {lam} | {dev} |")
    stages = "\n".join(f"- stage blocks {s['start']}–{s['stop'] - 1}: C = {s['c_stability']:.4g}"
                       for s in data["stages"])
    return f"Block Jacobians of {label}", [Section("Spectra and C-stability", "jacobian.png",
                                                   "\n".join(rows) + "\n\n" + stages)], data


def _landscape(args, out: Path):
    loaded = load_checkpoints(args.inputs, args.device, 1, 4)
    x, y = test_points(loaded[0][2], args, args.device)
    data = landscape.compare_landscapes({lab: m for lab, m, _ in loaded}, x, y, args.corruption, args.severity,
                                        radius=args.radius_255, n=args.grid)
    landscape.plot_landscapes(data, out / "landscape.png")
    text = "\n".join(f"- {name}: loss at the input {m['input_loss']:.4f} (grid centre {m['center_loss']:.4f}), "
                     f"predicted {m['input_pred']}, true {m['label']}" for name, m in data["models"].items())
    return "Loss landscape (FGSM × random direction)", [Section(f"{data['input']} test point {args.index}",
                                                                 "landscape.png", text)], data


def _coefficients(args, out: Path):
    loaded = load_checkpoints(args.inputs, args.device)
    data = {lab: coefficients.coefficient_summary(m, threshold=args.threshold) for lab, m, _ in loaded}
    coefficients.plot_coefficients(data, out / "coefficients.png")
    text = "\n".join(f"- {lab} {name}: {100 * s['share_above']:.1f}% of {len(s['values'])} blocks above "
                     f"{s['threshold']:g}; median {s['median']:.4g}"
                     for lab, d in data.items() for name, s in d.items())
    return "Learned scheme coefficients", [Section("Histograms", "coefficients.png", text)], data


def _dynamics(args, out: Path):
    if not args.inputs:
        raise ValueError("dynamics needs run directories")
    data = {_label(p): dynamics.training_dynamics(p) for p in args.inputs}
    dynamics.plot_dynamics(data, out / "dynamics.png")
    return "Training dynamics", [Section("Per-layer weight and gradient norms", "dynamics.png")], data


def _flow(args, out: Path):
    loaded = load_checkpoints(args.inputs, args.device, 1, 4)
    x, y = test_points(loaded[0][2], args, args.device, n=args.points)
    data = {lab: flow.feature_flow(m, x, y) for lab, m, _ in loaded}
    flow.plot_feature_flow(data, out / "flow.png")
    text = "\n".join(f"- {lab}: accuracy {100 * d['accuracy']:.1f}%, mean step length per block "
                     f"{np.round(d['step_lengths'], 3).tolist()}" for lab, d in data.items())
    return "Feature flow", [Section("Test points through the blocks", "flow.png", text)], data


def _solver(args, out: Path):
    (label, model, meta), = load_checkpoints(args.inputs, args.device, 1, 1)
    x, y = test_points(meta, args, args.device)
    data = solver.solver_steps(model, x, y, args.eps / 255, args.alpha / 255, args.pgd_steps, args.tolerances)
    solver.plot_solver_steps(data, out / "solver.png")
    rows = ["| PGD iteration | NFE per block |", "|---|---|"] + [
        f"| {e['iteration']} | {[b['nfe'] for b in e['blocks']]} |" for e in data["pgd"]]
    rows += ["", "| rtol = atol | NFE per block |", "|---|---|"] + [
        f"| {e['tol']:g} | {[b['nfe'] for b in e['blocks']]} |" for e in data["tolerance"]]
    return f"Solver steps of {label}", [Section("NFE and accepted steps", "solver.png", "\n".join(rows))], data


def _sweeps(args, out: Path):
    data = sweeps.sweep_analysis([run_facts(r) for r in find_runs(args.inputs or ["."])], args.metric)
    sweeps.plot_sweeps(data, out / "sweeps.png")
    rows = ["| model | runs | train acc | test acc | gap |", "|---|---|---|---|---|"] + [
        f"| {g['model']} | {g['n']} | {100 * g['train_acc']:.2f} | {100 * g['test_acc']:.2f} | "
        f"{100 * g['gap']:.2f} ± {100 * g['gap_std']:.2f} |" for g in data["gap"]]
    return "Sweeps across runs", [Section("Accuracy vs h, vs depth, generalisation gap", "sweeps.png",
                                          "\n".join(rows))], data


KINDS = {"stability": _stability, "jacobian": _jacobian, "landscape": _landscape, "coefficients": _coefficients,
         "dynamics": _dynamics, "flow": _flow, "solver": _solver, "sweeps": _sweeps}
