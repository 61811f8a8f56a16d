"""Long work is never silent: off a terminal, a progress line at a fixed interval (stage, done/total, rate,
ETA, what runs now); on a terminal, tqdm. Checked on the evaluation, down to SPSA's iterations."""
from __future__ import annotations

import io

import pytest
import torch
from torch import nn

from stablenets.evaluation import evaluate_robustness, get_suite
from stablenets.evaluation.summary import unpack_outcomes
from stablenets.progress import Progress


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_off_a_terminal_a_line_comes_at_the_interval_and_at_start_and_end(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("stablenets.progress.time.perf_counter", lambda: clock[0])
    out = io.StringIO()
    bar = Progress(4, "stage", unit="task", every=10, stream=out)
    bar.step("a")
    clock[0] += 5
    bar.note("b, batch 1/2")             # 5 s since the last line: quiet
    clock[0] += 6
    bar.note("b, batch 2/2")             # 11 s: a line
    bar.step("b")
    clock[0] += 10
    bar.step("c")
    bar.close()
    lines = out.getvalue().splitlines()
    assert lines[0] == "stage: 4 tasks to do"
    assert lines[1] == "stage: 1/4 tasks, 0m11s so far, 5.45 tasks/min, ETA 0m33s; now: b, batch 2/2"
    assert lines[2].startswith("stage: 3/4 tasks, 0m21s so far") and "ETA 0m07s" in lines[2]
    assert lines[-1] == "stage: finished 3/4 tasks in 0m21s" and len(lines) == 4


def test_on_a_terminal_it_is_a_tqdm_bar_and_disabled_it_is_quiet():
    tty = _Terminal()
    bar = Progress(2, "stage", every=0, stream=tty)
    bar.step("a")
    bar.close()
    assert "stage: 1/2" not in tty.getvalue() and "stage:" in tty.getvalue() and "%" in tty.getvalue()
    quiet = io.StringIO()
    bar = Progress(2, "stage", enabled=False, every=0, stream=quiet)
    bar.step("a")
    bar.close()
    assert quiet.getvalue() == ""


def test_evaluate_reports_progress_down_to_spsa_iterations_and_keeps_per_example_outcomes(capsys, monkeypatch):
    monkeypatch.setenv("STABLENETS_PROGRESS_EVERY", "0")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 3)).eval()
    x, y = torch.rand(12, 3, 4, 4), torch.randint(0, 3, (12,))
    cfg = get_suite("quick", {"diagnostics.enabled": False})
    cfg["noise"], cfg["cascade"] = {}, False   # every attack on every point: SPSA runs two batches
    cfg["attacks"] = {"fgsm": {"attack": "fgsm", "eps": [0.05]},
                      "spsa": {"attack": "spsa", "eps": [0.05], "steps": 3, "samples": 4, "lr": 0.01}}
    result = evaluate_robustness(model, x, y, cfg, progress=True, batch_size=8)
    err = capsys.readouterr().err
    assert err.splitlines()[0] == "robustness: 2 tasks to do"
    assert "robustness: 1/2 tasks" in err and "ETA" in err
    assert "now: spsa: iteration 3/3" in err and "now: spsa eps=0.05 batch 2/2" in err
    assert err.splitlines()[-1].startswith("robustness: finished 2/2 tasks")
    n = result["n"]
    for name in ("fgsm", "spsa"):
        res = result["attacks"][name]
        flags = unpack_outcomes(res["outcomes"]["0.05"], n)
        assert sum(flags) / n == pytest.approx(res["accuracy"]["0.05"])
    assert sum(unpack_outcomes(result["clean_outcomes"], n)) / n == pytest.approx(result["clean"])
