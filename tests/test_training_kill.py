"""kill -9 in the middle of an epoch loses at most that epoch; the resumed run ends like an uninterrupted one."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import torch
from safetensors.torch import load_file

from stablenets.training import TrainConfig, apply_overrides, train

SETTINGS = ["data.dataset=embedded-mnist", "model.name=resnet-8", "model.overrides.widths=[4, 8, 8]",
            "data.batch_size=16", "data.train_subset=96", "data.test_subset=16", "run.epochs=3",
            "run.progress=false"]

CHILD = textwrap.dedent("""
    import sys, time, torch
    torch.set_num_threads(1)
    from stablenets.training import TrainConfig, apply_overrides, train, trainer
    real, calls = trainer.training_loss, [0]
    def slow(*args):
        calls[0] += 1
        if calls[0] > 6:          # epoch 2 onwards: slow enough to be killed inside it
            time.sleep(0.5)
        return real(*args)
    trainer.training_loss = slow
    train(apply_overrides(TrainConfig(), sys.argv[2:]), sys.argv[1], device="cpu", log=lambda *a: None)
""")


def test_kill_9_mid_epoch_then_resume(tmp_path):
    run = tmp_path / "run"
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), str(run), *SETTINGS],
                             env=dict(os.environ, OMP_NUM_THREADS="1"))
    metrics = run / "metrics.jsonl"
    deadline = time.time() + 60
    while time.time() < deadline and not (metrics.exists() and metrics.read_text().count("\n") >= 1):
        time.sleep(0.05)
    time.sleep(1.0)  # two steps into epoch 2
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    lines = [json.loads(x) for x in metrics.read_text().splitlines()]
    assert [r["epoch"] for r in lines] == [1]  # epoch 2 was in progress: only it is lost
    train(apply_overrides(TrainConfig(), SETTINGS), run, device="cpu", resume=True, log=lambda *_: None)
    train(apply_overrides(TrainConfig(), SETTINGS), tmp_path / "whole", device="cpu", log=lambda *_: None)
    a, b = load_file(str(run / "model.safetensors")), load_file(str(tmp_path / "whole" / "model.safetensors"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [json.loads(x)["epoch"] for x in metrics.read_text().splitlines()] == [1, 2, 3]
