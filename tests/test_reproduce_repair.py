"""Damaged JSON files in a finished run of a sweep: each is named in one line; summary.json is rebuilt
exactly as the trainer wrote it, evaluations are done again, and a damaged per-epoch record stops the
sweep with one error that names the file and what to do."""
from __future__ import annotations

import json

import pytest

from stablenets.reproduce.jobs import SUMMARY, Task, run_task, task_state
from stablenets.reproduce.repair import DamagedFile, repair_runs
from stablenets.training import TrainConfig, apply_overrides, config_to_dict
from stablenets.training.lease import LEASE_FILE
from stablenets.training.metrics import MetricsLog


@pytest.fixture
def finished(tmp_path, monkeypatch):
    monkeypatch.delenv("STABLENETS_DATA", raising=False)
    cfg = apply_overrides(TrainConfig(), ["data.dataset=embedded-mnist", "model.name=resnet-8",
                                          "model.overrides.widths=[4, 4, 8]", "data.batch_size=16",
                                          "data.train_subset=32", "data.test_subset=16", "run.epochs=2",
                                          "run.progress=false"])
    task = Task(entry="T", label="tiny", seed=0, config=config_to_dict(cfg), scale="small", out=str(tmp_path),
                protocol={"suite": "C", "attacks": ["fgsm"], "noise": [], "n": 8, "smoke": True})
    assert run_task(task, log=lambda *_: None) == "done"
    return task


def test_each_damaged_file_is_named_once_and_rebuilt_or_redone(finished):
    run = finished.run_dir
    original = (run / SUMMARY).read_text()
    evaluation = finished.eval_path
    (run / SUMMARY).write_text("")                      # what the probe found: "Expecting value: line 1 column 1"
    evaluation.write_text(evaluation.read_text()[:40])  # a copy cut short
    (run / "timing.json").write_bytes(b"\xff\xfe\x00")  # not even text
    lines: list[str] = []
    repair_runs([run], lines.append)
    assert len(lines) == 3, lines
    named = {name: [line for line in lines if str(run / name) in line] for name in
             (SUMMARY, evaluation.name, "timing.json")}
    assert all(len(v) == 1 for v in named.values()), lines
    assert "rebuilt from metrics.jsonl and the checkpoint" in named[SUMMARY][0]
    assert json.loads((run / SUMMARY).read_text()) == json.loads(original)  # exactly what the trainer wrote
    assert "evaluated again" in named[evaluation.name][0] and (run / (evaluation.name + ".damaged")).is_file()
    assert task_state(finished) == "trained" and not (run / "timing.json").exists()
    assert run_task(finished, log=lambda *_: None) == "done"
    assert "clean" in json.dumps(json.loads(evaluation.read_text()))
    lines.clear()
    repair_runs([run], lines.append)  # nothing damaged now: nothing said
    assert lines == [] and not (run / LEASE_FILE).exists()


def test_a_damaged_metrics_record_is_one_error_naming_the_file_and_what_to_do(finished):
    run = finished.run_dir
    rows = (run / "metrics.jsonl").read_text().splitlines()
    (run / "metrics.jsonl").write_text(rows[0] + "\n" + rows[1][:25] + "\n")
    with pytest.raises(DamagedFile) as info:
        repair_runs([run], print)
    message = str(info.value)
    assert f"{run / 'metrics.jsonl'} line 2 is damaged" in message and f"delete {run}" in message
    assert "\n" not in message
    with pytest.raises(ValueError, match="metrics.jsonl line 2 is damaged .*restore the file"):
        MetricsLog(run)  # a resume of the run says the same, not a bare JSONDecodeError
