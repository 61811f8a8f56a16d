"""Every plot function writes a real PNG that draws the analysis' own numbers (the series, markers
and colours on the figure are checked against the data and, for the stability plots, against the
closed forms: |ζ| = 1, |1 ± z| = 1, x_n = (1 + h·rate)^n); the solver and dynamics numbers behind two of them."""
import json
import sys

import numpy as np
import pytest
import torch

import stablenets
from stablenets.data import load
from stablenets.analysis import (coefficients, dynamics, flow, jacobian, landscape, solver, stability,
                                 sweeps)

PNG = b"\x89PNG\r\n\x1a\n"
GREEN, RED = (0.172, 0.627, 0.172), (0.839, 0.153, 0.157)  # matplotlib's tab:green, tab:red


@pytest.fixture
def figures(monkeypatch):
    """The matplotlib figures the plot functions save, in order (they stay readable after closing)."""
    from stablenets.analysis import _io

    saved = []

    def keep(fig, path, dpi=None):
        saved.append(fig)
        return _io.save_figure(fig, path, dpi)

    for module in (stability, jacobian, flow, coefficients, landscape):
        monkeypatch.setattr(module, "save_figure", keep)
    return saved


def assert_png(path, min_kb=5):
    data = path.read_bytes()
    assert data[:8] == PNG, f"{path} is not a PNG"
    assert len(data) > min_kb * 1024, f"{path} is only {len(data)} bytes"


def write_run(run_dir, name, seed, train_acc, test_acc, norms=True, epochs=3, overrides=None):
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps({"model": {"name": name, "overrides": overrides or {}},
                                                     "data": {"dataset": "cifar10"}, "run": {"seed": seed},
                                                     "mode": {"kind": "natural"}}))
    rows = []
    for e in range(1, epochs + 1):
        row = {"epoch": e, "step": 10 * e, "loss": 1.0 / e, "train_acc": train_acc, "test_acc": test_acc}
        if norms:
            row["weight_norms"] = {f"blocks.{i}.weight": 1.0 + 0.1 * e * i for i in range(4)}
            row["grad_norms"] = {f"blocks.{i}.weight": 0.1 / e + i for i in range(4)}
        rows.append(row)
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return run_dir


def test_stability_plots(tmp_path, figures):
    data = stability.stability_analysis(schemes=("resnet-20", "zerosnet:-0.5"), hs=(0.5, 1.0))
    stability.plot_roots(data["roots"], tmp_path / "roots.png")
    stability.plot_zerosnet_region(data["zerosnet"], tmp_path / "zerosnet.png")
    stability.plot_euler_regions(data["regions"], tmp_path / "regions.png")
    stability.plot_ivp(data["ivp"], tmp_path / "ivp.png")
    for name in ("roots", "zerosnet", "regions", "ivp"):
        assert_png(tmp_path / f"{name}.png")
    roots_fig, zerosnet_fig, regions_fig, ivp_fig = figures

    # roots: each panel scatters its scheme's roots, green iff zero-stable, inside the unit circle drawn
    resnet, zerosnet = data["roots"]
    assert resnet["zero_stable"] and not zerosnet["zero_stable"]  # λ = −0.5 is outside λ ≤ −1 or λ > 1/3
    for ax, r in zip(roots_fig.axes, data["roots"]):
        circle = ax.lines[0].get_xydata()
        np.testing.assert_allclose(np.hypot(circle[:, 0], circle[:, 1]), 1.0, atol=1e-12)
        roots = np.asarray(r["roots"])
        drawn = ax.collections[0].get_offsets()
        np.testing.assert_allclose(sorted(map(tuple, drawn)), sorted(zip(roots.real, roots.imag)), atol=1e-12)
        colour = ax.collections[0].get_facecolor()[0][:3]
        np.testing.assert_allclose(colour, GREEN if r["zero_stable"] else RED, atol=2e-3)
        assert ax.get_xlim()[1] >= np.max(np.abs(roots))  # no root is cut off
    np.testing.assert_allclose(roots_fig.axes[0].collections[0].get_offsets(), [[1.0, 0.0]], atol=1e-12)

    # ZeroSNet region: the plotted curve is the analysis' modulus over λ, the marker at λ = −9/5
    curve = data["zerosnet"]
    ax = zerosnet_fig.axes[0]
    line = ax.lines[0].get_xydata()
    np.testing.assert_allclose(line[:, 0], curve["lam"])
    np.testing.assert_allclose(line[:, 1], np.clip(curve["spurious_modulus"], 0, 2.5))
    lam, stable = np.asarray(curve["lam"]), np.asarray(curve["zero_stable"])
    assert np.all((lam[stable] <= -1) | (lam[stable] > 1 / 3)) and stable[lam < -1].all()
    marks = [ln.get_xdata()[0] for ln in ax.lines[1:] if ln.get_xdata()[0] == ln.get_xdata()[1]]
    assert marks == [pytest.approx(-9 / 5)]

    # Euler regions: the drawn boundaries are |1 + z| = 1 (explicit) and |1 − z| = 1 (implicit)
    for ax, sign, title in zip(regions_fig.axes, (1.0, -1.0), ("explicit", "implicit")):
        b = ax.lines[0].get_xydata()
        np.testing.assert_allclose(np.abs(1 + sign * (b[:, 0] + 1j * b[:, 1])), 1.0, atol=1e-12)
        assert ax.get_title().startswith(title)
    assert regions_fig.axes[0].get_xlabel() == "Re z" and regions_fig.axes[0].get_ylabel() == "Im z"

    # IVP: exact e^{rate·t}; explicit Euler (1 + h·rate)^n; implicit (1 − h·rate)^{−n}
    ivp = data["ivp"]
    assert ivp["explicit_threshold"] == pytest.approx(2 / 2.3)
    for ax, kind in zip(ivp_fig.axes, ("explicit", "implicit")):
        exact = ax.lines[0].get_xydata()
        np.testing.assert_allclose(exact[:, 1], np.exp(-2.3 * exact[:, 0]), rtol=1e-12)
        for line, run in zip(ax.lines[1:], ivp["runs"]):
            t, x = line.get_xydata().T
            n = np.round(t / run["h"])
            factor = 1 - 2.3 * run["h"] if kind == "explicit" else 1 / (1 + 2.3 * run["h"])
            np.testing.assert_allclose(x, factor ** n, rtol=1e-10)
            assert line.get_label() == f"h = {run['h']:g}"
        assert ax.get_ylim() == (-3, 3)


def test_model_plots(tmp_path, figures):
    torch.manual_seed(0)
    mlp = stablenets.create_model("mlp-moons", blocks=3, hidden=8, scheme="damped", lambda_init=(0.0, 0.05)).eval()
    x, y = load("moons", n=60, split="test")
    jac = jacobian.jacobian_analysis(mlp, x, k=2, krylov_dim=2)
    jacobian.plot_jacobian(jac, tmp_path / "jac.png")
    flows = {"a": flow.feature_flow(mlp, x, y), "b": flow.feature_flow(mlp, x, y)}
    flow.plot_feature_flow(flows, tmp_path / "fl.png")
    summary = coefficients.coefficient_summary(mlp)
    assert summary["lambda"]["share_above"] == pytest.approx(np.mean(summary["lambda"]["values"] > 0.01))
    coefficients.plot_coefficients({"mlp": summary}, tmp_path / "coef.png")
    data = landscape.compare_landscapes({"a": mlp, "b": mlp}, x[:1], y[:1], radius=20.0, n=5)
    landscape.plot_landscapes(data, tmp_path / "land.png")
    for name in ("jac", "fl", "coef", "land"):
        assert_png(tmp_path / f"{name}.png")
    jac_fig, flow_fig, coef_fig, land_fig = figures

    # Jacobian: σ₁ and C per block are the analysis' values; each block's eigenvalues are scattered
    ax_eig, ax_norm = jac_fig.axes
    rows = jac["blocks"]
    sigma, c = ax_norm.lines[0].get_xydata(), ax_norm.lines[1].get_xydata()
    np.testing.assert_allclose(sigma[:, 0], [r["index"] for r in rows])
    np.testing.assert_allclose(sigma[:, 1], [r["singular_values"][0] for r in rows])
    np.testing.assert_allclose(c[:, 1], [r["c_stability"] for r in rows])
    assert any(r["eigenvalues"] is not None for r in rows)
    drawn = np.concatenate([col.get_offsets() for col in ax_eig.collections if len(col.get_offsets())])
    for r in rows:
        for ev in np.atleast_1d(r["eigenvalues"] if r["eigenvalues"] is not None else []):
            assert np.min(np.abs(drawn[:, 0] + 1j * drawn[:, 1] - ev)) < 1e-6

    # feature flow: every panel scatters the states after its block, one row per model
    f = flows["a"]
    assert len(flow_fig.axes) == 2 * min(6, f["states"].shape[0])
    for ax in flow_fig.axes:
        j = 0 if ax.get_title() == "input" else int(ax.get_title().rsplit(" ", 1)[1])
        np.testing.assert_allclose(ax.collections[0].get_offsets(), f["states"][j], rtol=1e-6)
    assert f"acc {100 * f['accuracy']:.0f}%" in flow_fig.axes[0].get_ylabel()

    # coefficients: one count per λ value in the histogram, the share above 0.01 in the title
    (ax,) = coef_fig.axes
    assert sum(bar.get_height() for bar in ax.patches) == len(summary["lambda"]["values"])
    assert f"{100 * summary['lambda']['share_above']:.0f}% of lambda > 0.01" in ax.get_title()

    # landscape: the class grid drawn is the predicted classes over the two directions
    grids = [a for a in land_fig.axes if a.images and a.get_title().startswith("predicted class")]
    assert len(grids) == len(data["models"]) == 2
    for grid, m in zip(grids, data["models"].values()):
        np.testing.assert_array_equal(grid.images[0].get_array(), np.asarray(m["pred"]).T)
        assert grid.images[0].get_extent() == [-20.0, 20.0, -20.0, 20.0]


def test_solver_steps_record_and_restore(tmp_path):
    torch.manual_seed(0)
    model = stablenets.create_model("sonet-32", in_channels=1, image_size=8, mean=(0.5,), std=(0.25,), width=4)
    x, y = torch.rand(1, 1, 8, 8), torch.tensor([1])
    data = solver.solver_steps(model, x, y, pgd_steps=2, tolerances=(1e-1, 1e-4))
    assert [e["iteration"] for e in data["pgd"]] == [0, 1, 2] and data["n_blocks"] == 6  # five feature blocks and the classifier
    for entry in data["pgd"] + data["tolerance"]:
        for block in entry["blocks"]:
            assert block["step_times"][-1] == pytest.approx(1.0)          # integrates to T = 1
            assert block["nfe"] >= len(block["step_times"])
    loose, tight = (sum(b["nfe"] for b in e["blocks"]) for e in data["tolerance"])
    assert tight > loose                                                  # smaller tolerance, more evaluations
    from stablenets.schemes.continuous import ode_blocks
    assert all(not b.settings.record_steps and b.settings.rtol == 0.1 for b in ode_blocks(model))
    solver.plot_solver_steps(data, tmp_path / "solver.png")
    assert_png(tmp_path / "solver.png")


def test_dynamics_and_sweeps_from_run_directories(tmp_path):
    from stablenets.analysis.runs import find_runs, run_facts

    for seed, (tr, te) in enumerate([(0.99, 0.90), (0.97, 0.92), (0.98, 0.80)]):
        write_run(tmp_path / f"h1-s{seed}", "resnet-20", seed, tr, te)
        write_run(tmp_path / f"h01-s{seed}", "resnet-h0.1-20", seed, tr - 0.01, te + 0.01)
    write_run(tmp_path / "deep", "resnet-h0.1-32", 0, 0.9, 0.85)
    runs = [run_facts(r) for r in find_runs([tmp_path])]
    assert len(runs) == 7
    data = sweeps.sweep_analysis(runs)
    by_h = {r["h"]: r for r in data["vs_h"]}
    assert by_h[1.0]["median"] == pytest.approx(0.90) and by_h[1.0]["min"] == pytest.approx(0.80)
    assert by_h[0.1]["n"] == 4
    assert [r["depth"] for r in data["vs_depth"][0.1]] == [20, 32]
    gap = {g["model"]: g for g in data["gap"]}
    assert gap["resnet-20"]["gap"] == pytest.approx(np.mean([0.09, 0.05, 0.18]))
    sweeps.plot_sweeps(data, tmp_path / "sweeps.png")
    assert_png(tmp_path / "sweeps.png")

    d = dynamics.training_dynamics(tmp_path / "h1-s0")
    assert d["weight_norms"].shape == (3, 4) and d["step"].tolist() == [10, 20, 30]
    assert d["grad_norms"][0, 2] == pytest.approx(2.1)
    dynamics.plot_dynamics({"a": d, "b": d}, tmp_path / "dyn.png")
    assert_png(tmp_path / "dyn.png")
    write_run(tmp_path / "plain", "resnet-20", 0, 0.9, 0.8, norms=False)
    with pytest.raises(KeyError, match="weight_norms.*log_norms"):
        dynamics.training_dynamics(tmp_path / "plain")


def test_missing_matplotlib_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"pip install stablenets\[plot\]"):
        stability.plot_ivp(stability.stability_analysis(hs=(0.5,))["ivp"], tmp_path / "x.png")


def test_noisy_input_figure_marks_exactly_the_changed_characters(tmp_path, figures, monkeypatch):
    """B-fig17's figure: a ^ under every character the replacement changed and nowhere else; the text
    reads as written (the quantiser's backward order undone, spaces kept); one image row per σ."""
    from stablenets.analysis import noisy
    from stablenets.data.text import quantize

    monkeypatch.setattr(noisy, "save_figure", lambda fig, path, dpi=None: figures.append(fig) or path)
    text = "Oil prices fall, stocks rally: markets close higher on Tuesday."
    assert noisy.decode(torch.from_numpy(quantize(text))) == text.lower()
    codes = torch.from_numpy(quantize(text)).repeat(4, 1)
    data = noisy.noisy_samples(torch.rand(6, 3, 8, 8), (0.25,) * 3, [0.1, 0.3], codes, [0.3], show=3)
    assert [e["samples"].shape[0] for e in data["images"]] == [3, 3]
    noisy.plot_noisy_inputs(data, tmp_path / "noisy.png")
    texts = [t.get_text() for ax in figures[-1].axes for t in ax.texts]
    sample, marks = texts[-2], texts[-1]
    changed = [j for j, (a, b) in enumerate(zip(text.lower(), data["text"][0]["sample"])) if a != b]
    assert changed and [j - 11 for j, c in enumerate(marks) if c == "^"] == changed
    assert sample[11:] == data["text"][0]["sample"]
    assert len(figures[-1].axes) == 3 * 3 + 1  # clean + two σ rows of three images, one text panel


def test_step_time_figure_draws_ours_and_the_papers_lists(tmp_path, figures, monkeypatch):
    """D-table3's figure: per tolerance, one row of dots per PGD count at exactly the recorded step times,
    and the paper's lists as crosses beside them."""
    monkeypatch.setattr(solver, "save_figure", lambda fig, path, dpi=None: figures.append(fig) or path)
    rows = {"Dopri5 (tol=0.1)": {"iterations": [1, 10], "steps": {1: [0.0, 0.3, 1.0], 10: [0.0, 0.28, 1.0]},
                                 "paper_iterations": [1, 100], "paper": {1: [0.0, 0.262, 1.0], 100: [0.0, 0.253, 1.0]}}}
    solver.plot_step_times(rows, tmp_path / "steps.png")
    ax = figures[-1].axes[0]
    drawn = [c.get_offsets() for c in ax.collections]
    assert [list(d[:, 0]) for d in drawn] == [[0.0, 0.3, 1.0], [0.0, 0.28, 1.0], [0.0, 0.262, 1.0], [0.0, 0.253, 1.0]]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["1", "10 (100)"]
