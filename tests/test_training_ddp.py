"""DDP under torchrun: 2 gloo processes on CPU end with identical weights, equal to one process
training on the union of their batches (the residual MLP has no batch norm, so this is exact
up to float summation order)."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import torch

SCRIPT = textwrap.dedent("""
    import sys, torch
    torch.set_num_threads(1)
    from stablenets.training import TrainConfig, apply_overrides, train, trainer
    out, batch = sys.argv[1], int(sys.argv[2])
    real = trainer.evaluate_accuracy
    def spy(model, *args, **kwargs):
        import torch.distributed as dist
        rank = dist.get_rank() if dist.is_initialized() else 0
        torch.save({k: v.clone() for k, v in model.state_dict().items()}, f"{out}-rank{rank}.pt")
        return real(model, *args, **kwargs)
    trainer.evaluate_accuracy = spy
    cfg = apply_overrides(TrainConfig(), ["data.dataset=moons", "model.name=mlp-moons", "data.augment=false",
        "data.train_subset=64", "data.test_subset=32", f"data.batch_size={batch}", "run.epochs=2",
        "optim.lr=0.1", "schedule.kind=constant", "run.progress=false"])
    train(cfg, out, device="cpu", log=lambda *a: None)
""")


def test_two_gloo_processes_end_with_identical_weights_equal_to_one_process(tmp_path):
    script = tmp_path / "ddp_train.py"
    script.write_text(SCRIPT)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", str(script),
           str(tmp_path / "ddp"), "8"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    single = subprocess.run([sys.executable, str(script), str(tmp_path / "single"), "16"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert single.returncode == 0, single.stderr[-3000:]
    r0, r1 = (torch.load(tmp_path / f"ddp-rank{r}.pt") for r in (0, 1))
    one = torch.load(tmp_path / "single-rank0.pt")
    assert all(torch.equal(r0[k], r1[k]) for k in r0)
    assert all(torch.allclose(r0[k], one[k], atol=1e-5) for k in r0)
    assert (tmp_path / "ddp" / "model.safetensors").is_file() and not (tmp_path / "ddp-rank2.pt").exists()
