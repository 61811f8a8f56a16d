"""AutoAttack through either package: the same x_adv, which one ran, its warnings, once over the set.

pyautoattack (PyPI) is installed by the README's test command; without it these tests skip with
that reason. The upstream ``autoattack`` package (github.com/fra31/auto-attack) is not on the
package index: its API is exercised through a stand-in module with the upstream signatures
(positional norm/eps, ``bs=``, a log file with "Warning:" lines, x_adv returned alone) that
delegates to pyautoattack, so both code paths of the wrapper must give the same x_adv.
"""
from __future__ import annotations

import sys
import types

import pytest
import torch
from torch import nn

pyautoattack = pytest.importorskip("pyautoattack", reason="pyautoattack not installed: pip install pyautoattack")

from stablenets.attacks import autoattack_run, pgd  # noqa: E402
from stablenets.attacks.autoattack import autoattack_backend  # noqa: E402
from stablenets.evaluation import evaluate_robustness, to_markdown  # noqa: E402


def model_and_data(n: int = 12):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(12, 10)).eval()
    x = torch.rand(n, 3, 2, 2)
    return model, x, model(x).argmax(1)


def upstream_standin(monkeypatch):
    """A module named ``autoattack`` with the upstream API, delegating to pyautoattack."""

    class AutoAttack:
        def __init__(self, model, norm="Linf", eps=.3, seed=None, verbose=True, attacks_to_run=[],
                     version="standard", is_tf_model=False, device="cuda", log_path=None):
            self._inner = pyautoattack.AutoAttack(model, norm=norm, eps=eps, seed=seed, version=version,
                                                  device=device)
            self.log_path = log_path
            self.apgd_targeted, self.fab = self._inner.apgd_targeted, self._inner.fab

        @property
        def attacks_to_run(self):
            return self._inner.attacks_to_run

        @attacks_to_run.setter
        def attacks_to_run(self, value):
            self._inner.attacks_to_run = value

        def run_standard_evaluation(self, x_orig, y_orig, bs=250, return_labels=False, state_path=None):
            x_adv, y_adv = self._inner.run_standard_evaluation(x_orig, y_orig, batch_size=bs)
            with open(self.log_path, "w") as f:
                f.write("using standard version\nWarning: a stand-in warning\n")
            return (x_adv, y_adv) if return_labels else x_adv

    module = types.ModuleType("autoattack")
    module.AutoAttack = AutoAttack
    module.__version__ = "0.1-standin"
    monkeypatch.setitem(sys.modules, "autoattack", module)
    monkeypatch.setattr("importlib.util.find_spec",
                        lambda name, *a: object() if name in ("autoattack", "pyautoattack") else None)
    return module


def test_pyautoattack_keeps_the_budget_records_itself_and_beats_pgd():
    model, x, y = model_and_data()
    # a radius at which APGD-CE breaks every point, so the later attacks (Square: 5000 queries) do not run
    x_adv, info = autoattack_run(model, x, y, 0.3, backend="pyautoattack")
    assert (x_adv - x).abs().max() <= 0.3 + 1e-6 and x_adv.min() >= 0 and x_adv.max() <= 1
    assert info["package"] == "pyautoattack" and info["version"] == pyautoattack.__version__
    acc_aa = (model(x_adv).argmax(1) == y).float().mean()
    acc_pgd = (model(pgd(model, x, y, 0.3, 0.075, 20)).argmax(1) == y).float().mean()
    assert acc_aa <= acc_pgd


def test_both_apis_give_the_same_adversarial_examples(monkeypatch):
    model, x, y = model_and_data()
    ours, info_py = autoattack_run(model, x, y, 0.3, backend="pyautoattack", seed=3)
    upstream_standin(monkeypatch)
    assert autoattack_backend() == "autoattack"   # the upstream package is preferred when present
    theirs, info_up = autoattack_run(model, x, y, 0.3, seed=3)
    assert torch.equal(ours, theirs)
    assert info_up["package"] == "autoattack" and info_up["version"] == "0.1-standin"
    assert "a stand-in warning" in info_up["warnings"]


def test_evaluation_runs_autoattack_once_over_the_whole_set_and_reports_it():
    model, x, y = model_and_data(24)
    calls = []
    real = pyautoattack.AutoAttack.run_standard_evaluation

    def spy(self, x_orig, y_orig, **kw):
        calls.append(x_orig.shape[0])
        return real(self, x_orig, y_orig, **kw)

    pyautoattack.AutoAttack.run_standard_evaluation = spy
    try:
        r = evaluate_robustness(model, x, y, "D", {"attacks": {"aa": {"attack": "autoattack", "source": "test"}},
                                                   "eps.linf": [0.3], "diagnostics.enabled": False,
                                                   "adaptive.enabled": False},
                                batch_size=5, progress=False)
    finally:
        pyautoattack.AutoAttack.run_standard_evaluation = real
    assert calls == [24]   # one call over all 24 points although the evaluation batches by 5
    info = r["attacks"]["aa"]["info"]["0.3"]
    assert info["package"] == "pyautoattack" and info["version"] == pyautoattack.__version__
    assert "ran with pyautoattack" in to_markdown(r)


def test_autoattack_warnings_reach_the_report_and_the_dynamic_check_on_ie_skip_is_explained():
    import stablenets

    torch.manual_seed(0)
    ie = stablenets.create_model("ie-resnet-1-8", num_classes=10, image_size=4).eval()
    x = torch.rand(2, 3, 4, 4)
    y = ie(x).argmax(1)
    r = evaluate_robustness(ie, x, y, "D", {"attacks": {"aa": {"attack": "autoattack", "source": "test"}},
                                            "eps.linf": [0.5], "diagnostics.enabled": False,
                                            "adaptive.enabled": False}, progress=False)
    warnings = r["attacks"]["aa"]["info"]["0.5"]["warnings"]
    assert any("dynamic" in w for w in warnings)
    assert "IE-skip calls torch.autograd inside forward" in to_markdown(r)
    # the check's counters are reset between runs: a plain model afterwards is not called dynamic
    model, x, y = model_and_data()
    _, info = autoattack_run(model, x, y, 0.3)
    assert not any("dynamic" in w for w in info["warnings"])


def test_suite_d_without_the_package_decides_before_any_work(monkeypatch):
    model, x, y = model_and_data()
    monkeypatch.setattr(sys.modules["stablenets.attacks.autoattack"], "autoattack_backend", lambda: None)
    forward = []
    model.register_forward_hook(lambda *a: forward.append(1))
    with pytest.raises(ValueError, match=r"pip install 'stablenets\[autoattack\]'"):
        evaluate_robustness(model, x, y, "D", {"autoattack.required": True}, progress=False)
    assert forward == []   # refused before the first forward pass
    from stablenets.evaluation.smoke import smoke_overrides

    shrunk = {k: v for k, v in smoke_overrides("D").items() if not k.startswith("attacks.autoattack")}
    r = evaluate_robustness(model, x, y, "D", shrunk, progress=False)
    assert "autoattack" not in r["attacks"] and "pyautoattack" in r["skipped_attacks"]["autoattack"]
    assert "**autoattack did not run**" in to_markdown(r)
