"""The measuring tools of benchmarks/ and the fused scheme arithmetic they motivated.

- ``axpy`` (schemes/base.py) computes y + a·x for a number, a 0-dim tensor and a per-sample
  tensor, with the same gradients as the unfused expression.
- ``interleaved`` times every case ``repeats`` times in a rotated round-robin order.
- ``count_saved_bytes`` counts exactly the storages autograd saves.
- ``_line_fit`` recovers an exact line (R² = 1) and flags a quadratic as not linear.
- ``torch.compile`` (the graph-capturing ``aot_eager`` backend, no C++ build) gives the
  eager logits and input gradients for the scheme models the benchmarks time.
"""
from __future__ import annotations

import functools
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._common import count_saved_bytes, interleaved  # noqa: E402
from benchmarks.bench_schemes import _line_fit  # noqa: E402
from stablenets.schemes.base import axpy  # noqa: E402


@pytest.mark.parametrize("coef", [1.0, 0.3, -1.25, "scalar", "per-sample"])
def test_axpy_matches_unfused_values_and_gradients(coef):
    g = torch.Generator().manual_seed(1)
    y = torch.randn(3, 2, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    x = torch.randn(3, 2, 4, 4, generator=g, dtype=torch.float64, requires_grad=True)
    if coef == "scalar":
        a = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    elif coef == "per-sample":
        a = torch.randn(3, 1, 1, 1, generator=g, dtype=torch.float64, requires_grad=True)
    else:
        a = coef
    w = torch.randn(3, 2, 4, 4, generator=g, dtype=torch.float64)
    fused = axpy(y, a, x)
    plain = y + a * x
    torch.testing.assert_close(fused, plain, rtol=0, atol=1e-15)
    inputs = [y, x] + ([a] if isinstance(a, torch.Tensor) else [])
    g_fused = torch.autograd.grad((fused * w).sum(), inputs)
    g_plain = torch.autograd.grad((plain * w).sum(), inputs)
    for gf, gp in zip(g_fused, g_plain):
        torch.testing.assert_close(gf, gp, rtol=1e-12, atol=1e-12)


def test_interleaved_rotates_and_counts():
    calls = []
    cases = {n: (lambda n=n: calls.append(n)) for n in "abc"}
    out = interleaved(cases, torch.device("cpu"), repeats=3, warmup=1)
    assert calls[:3] == ["a", "b", "c"]  # warm-up, in order
    assert calls[3:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # repetition r starts at case r
    assert all(r["repeats"] == 3 and r["median_s"] >= 0 for r in out.values())


def test_count_saved_bytes_is_exact():
    x = torch.randn(5, 7, requires_grad=True)
    w = torch.randn(7, 3, requires_grad=True)
    with count_saved_bytes() as counted:
        z = (x @ w).sum()  # mm saves x and w; sum saves nothing
    assert counted["bytes"] == (5 * 7 + 7 * 3) * 4
    with count_saved_bytes() as counted:
        (x * x).sum()  # x saved twice: one storage
    assert counted["bytes"] == 5 * 7 * 4
    z.backward()


def test_line_fit():
    fit = _line_fit([20, 32, 56, 110], [0.5 + 0.01 * d for d in (20, 32, 56, 110)])
    assert fit["slope_s_per_unit"] == pytest.approx(0.01) and fit["r2"] == pytest.approx(1.0) and fit["linear"]
    assert not _line_fit([1, 2, 3, 4, 5], [1, 4, 9, 16, 100])["linear"]


@pytest.mark.parametrize("name", ["resnet-8", "in-resnet-8", "zerosnet-opt-8"])
def test_compiled_model_agrees_with_eager(name):
    import stablenets

    torch.manual_seed(0)
    model = stablenets.create_model(name).eval()
    x = torch.rand(2, 3, 32, 32)
    y = torch.tensor([1, 7])
    compiled = torch.compile(model, backend="aot_eager", fullgraph=True)
    outs = []
    for f in (model, compiled):
        xi = x.clone().requires_grad_(True)
        logits = f(xi)
        (grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(logits, y), xi)
        outs.append((logits.detach(), grad))
    torch.testing.assert_close(outs[1][0], outs[0][0], rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(outs[1][1], outs[0][1], rtol=1e-4, atol=1e-7)


def _widest_addcmul(addcmul):
    """addcmul as CUDA autocast runs it: every input cast to the widest input dtype first."""
    def promoted(y, x, a, **kw):
        wide = functools.reduce(torch.promote_types, (y.dtype, x.dtype, a.dtype))
        return addcmul(y.to(wide), x.to(wide), a.to(wide), **kw)
    return promoted


@pytest.mark.parametrize("name", ["in-resnet-8", "lm-resnet-8", "in-resnet-gating-8"])
def test_learned_coefficients_keep_bf16_states_under_autocast_promotion(name, monkeypatch):
    """CUDA autocast promotes addcmul to its widest input: a float32 coefficient must not make
    the bf16 states float32 (twice the bytes saved for the backward pass)."""
    import stablenets

    monkeypatch.setattr(torch, "addcmul", _widest_addcmul(torch.addcmul))
    model = stablenets.create_model(name).to(torch.bfloat16)
    for m in model.modules():  # scheme coefficients stay float32, as under autocast
        for key in ("lam", "k"):
            if isinstance(getattr(m, key, None), torch.nn.Parameter):
                getattr(m, key).data = getattr(m, key).data.float()
    states = model.block_states(torch.rand(2, 3, 32, 32, dtype=torch.bfloat16))
    assert all(s.dtype == torch.bfloat16 for s in states), [s.dtype for s in states]


def test_pgd_through_a_compiled_model_matches_eager():
    """The PGD loop runs through a compiled model unchanged (compile is the caller's setting)."""
    import stablenets
    from stablenets.attacks import pgd

    torch.manual_seed(0)
    model = stablenets.create_model("in-resnet-8")
    g = torch.Generator().manual_seed(3)
    x = torch.rand(3, 3, 32, 32, generator=g)
    y = torch.tensor([0, 4, 9])
    eager = pgd(model, x, y, eps=8 / 255, alpha=2 / 255, steps=3, seed=5)
    compiled = pgd(torch.compile(model, backend="aot_eager"), x, y, eps=8 / 255, alpha=2 / 255, steps=3, seed=5)
    assert model.training  # the attack gave the model its mode back, through the wrapper too
    assert (compiled - x).abs().max() <= 8 / 255 + 1e-6
    torch.testing.assert_close(compiled, eager, rtol=0, atol=1e-6)


# --- the entry point and its report (python -m benchmarks)

REPORTS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks"
STAMP_KEYS = {"commit", "date", "device", "hardware", "torch", "cuda", "python", "command"}


@pytest.mark.parametrize("stem", ["cpu", "cuda"])
def test_committed_report_is_rendered_from_its_json_and_every_section_is_stamped(stem):
    import json

    from benchmarks.__main__ import SECTIONS, render

    rep = json.loads((REPORTS / f"{stem}.json").read_text())
    assert rep["device"] == stem and rep["sections"]
    assert set(rep["sections"]) <= set(SECTIONS)
    for key, sec in rep["sections"].items():
        assert STAMP_KEYS <= set(sec["stamp"]), (key, STAMP_KEYS - set(sec["stamp"]))
        assert sec["stamp"]["device"] == stem and sec["stamp"]["commit"] and sec["stamp"]["date"][:4] == "2026"
    assert (REPORTS / f"{stem}.md").read_text() == render(rep)  # the Markdown says what the JSON says


def test_a_run_stamps_the_sections_it_measures_and_keeps_the_others(tmp_path):
    import json
    import os

    from benchmarks import report
    from benchmarks.__main__ import QUICK, main

    old = {"stamp": {"commit": "abc", "date": "2026-01-01", "device": "cpu"}, "settings": {},
           "results": {"model": "resnet-20", "batch": 1, "attacks": {}}}
    (tmp_path / "t.json").write_text(json.dumps({"device": "cpu", "sections": {"attacks": old}}))
    assert main(["--device", "cpu", "--quick", "--sections", "data", "--out", str(tmp_path), "--stem", "t",
                 "--note", "shared machine"]) == 0
    rep = json.loads((tmp_path / "t.json").read_text())
    assert rep["sections"]["attacks"] == old
    sec = rep["sections"]["data"]
    st = sec["stamp"]
    assert st["torch"] == torch.__version__ and st["note"] == "shared machine" and st["torch_threads"] == 1
    assert st["clock"] == "thread_time" and st["hardware"]["logical_cores"] == os.cpu_count()
    assert st["commit"] == report.git_commit() and st["command"].startswith("python -m benchmarks --device cpu")
    assert sec["settings"]["sizes"]["data_n"] == QUICK["data_n"] and sec["settings"]["quick"]
    res = sec["results"]
    assert set(res["paths"]) == {"device batcher", "streaming batcher", "torch DataLoader"}
    for path in res["paths"].values():
        assert path["images_per_s"] * path["epoch_s"] == pytest.approx(QUICK["data_n"])
    assert res["ratio"] == pytest.approx(res["paths"]["torch DataLoader"]["epoch_s"]
                                         / res["paths"]["device batcher"]["epoch_s"])
    md = (tmp_path / "t.md").read_text()
    assert report.describe(st) in md and "shared machine" in md


@pytest.mark.parametrize("argv, words", [
    (["--sections", "cifar-pgd"], "need --data"),
    (["--sections", "nonsense"], "invalid choice"),
    (["--data", "/no/such/folder", "--sections", "library"], "no such folder"),
    (["--device", "meta"], "only cpu and cuda"),
    (["--threads", "0"], "at least 1"),
])
def test_bad_benchmark_arguments_stop_before_any_work(argv, words, capsys, tmp_path):
    from benchmarks.__main__ import main

    with pytest.raises(SystemExit) as info:
        main(["--out", str(tmp_path), *([] if "--device" in argv else ["--device", "cpu"]), *argv])
    assert info.value.code == 2 and words in capsys.readouterr().err
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize("mode, steps", [("natural", 0), ("pgd", 2)])
def test_cifar_step_loop_times_the_library_step_it_names(mode, steps):
    """An epoch of ``cifar-train`` / ``cifar-adv`` is the library's step on every batch: a training
    forward per batch, plus the attack's forwards in ``pgd`` mode, and the weights move."""
    import stablenets
    from benchmarks import cifar

    g = torch.Generator().manual_seed(0)
    x, y = torch.randint(0, 256, (40, 3, 32, 32), dtype=torch.uint8, generator=g), torch.randint(0, 10, (40,), generator=g)
    model = stablenets.create_model("resnet-8", widths=[4, 8, 8])
    before = [p.detach().clone() for p in model.parameters()]
    calls = []
    model.register_forward_pre_hook(lambda m, args: calls.append(args[0].shape[0]))
    r = cifar.train_epochs(model, x, y, 16, torch.device("cpu"), mode=mode, pgd_steps=steps, epochs=2,
                           warmup_steps=1, amp=False)
    assert r["images_per_epoch"] == 32 and len(r["epoch_s"]) == 2  # drop_last: 2 batches of 16
    assert r["images_per_s"] == pytest.approx(32 / min(r["epoch_s"]))
    batches = 1 + 2 * 2  # warm-up step, then two epochs of two batches
    assert len(calls) == batches * (1 + steps)  # PGD-k training: k attack forwards (last iterate) + the step's
    assert all(n == 16 for n in calls)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_library_section_reads_the_trainers_epochs():
    """``library`` times ``stablenets.training.train`` from its metrics: one row per epoch, and images/s
    of the best epoch = steps per epoch × batch / its seconds."""
    from benchmarks import cifar

    r = cifar.library_train(None, 16, 2, device="cpu", subset=32, dataset="embedded-mnist", model="resnet-8",
                            model_overrides={"widths": [4, 8, 8]})
    assert len(r["epoch_s"]) == len(r["test_acc"]) == 2 and all(0 <= a <= 1 for a in r["test_acc"])
    assert r["images_per_s_best_epoch"] == pytest.approx(2 * 16 / min(r["epoch_s"]))  # 32 images: 2 steps of 16
    assert r["total_s"] >= sum(r["epoch_s"])


def test_cifar_pgd_reports_the_models_accuracies():
    """``cifar-pgd``'s clean accuracy is the model's, and its robust accuracy is that of PGD's points."""
    import stablenets
    from benchmarks import cifar
    from stablenets.attacks import pgd

    torch.manual_seed(0)
    model = stablenets.create_model("resnet-8", widths=[4, 8, 8]).eval()
    g = torch.Generator().manual_seed(1)
    x, y = torch.randint(0, 256, (12, 3, 32, 32), dtype=torch.uint8, generator=g), torch.randint(0, 10, (12,), generator=g)
    r = cifar.pgd_test(model, x, y, torch.device("cpu"), batch=5, steps=2)
    xf = x.float() / 255
    with torch.no_grad():
        clean = (model(xf).argmax(1) == y).float().mean().item()
        adv = torch.cat([pgd(model, xf[i:i + 5], y[i:i + 5], cifar.EPS, cifar.ALPHA, 2) for i in range(0, 12, 5)])
        robust = (model(adv).argmax(1) == y).float().mean().item()
    assert r["images"] == 12 and r["batch"] == 5 and r["clean_acc"] == pytest.approx(clean)
    assert r["robust_acc"] == pytest.approx(robust) and r["images_per_s"] == pytest.approx(12 / r["seconds"])


def test_every_model_the_benchmarks_time_is_a_preset():
    """The schemes, scaling, continuous and profile sections name presets that exist (a renamed preset
    would otherwise surface only in a benchmark run)."""
    import stablenets
    from benchmarks import bench_schemes, profile_step

    names = {bench_schemes.model_name(s, d).partition(" (")[0] for s in bench_schemes.SCHEMES for d in (20, 56)}
    names |= {f"{s}-{d}" for s in bench_schemes.SCALING_SCHEMES for d in (20, 32, 56, 110)}
    names |= {*bench_schemes.CONTINUOUS, *profile_step.MODELS, "resnet-20"}
    assert names <= set(stablenets.list_models()), names - set(stablenets.list_models())


def test_throughput_table_rows_have_the_cost_tables_format(tmp_path):
    """benchmarks/throughput.py --quick writes rows that reproduce/costs.py can read: every path
    measured, rates positive, the stacked row counting all its runs."""
    import json

    from benchmarks import throughput

    assert throughput.main(["--device", "cpu", "--out", str(tmp_path), "--quick", "--source", "test"]) == 0
    table = json.loads((tmp_path / "throughput.json").read_text())
    assert [s["id"] for s in table["sources"]] == ["test"] and not table.get("failed")
    import re

    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", table["sources"][0]["date"]), "the cost table's date form"
    paths = {(r["path"], r["pack"]) for r in table["rows"]}
    assert paths == {("eager", 1), ("fast", 1), ("packed", 2)}
    for row in table["rows"]:
        assert row["source"] == "test" and row["model"] == "resnet-8" and row["train_images_per_s"] > 0
    eager = next(r for r in table["rows"] if r["path"] == "eager")
    assert eager["attack_images_per_s"] > 0
