"""`stablenets analyze`: report files for a few kinds, on runs written by the real trainer."""
import pytest

from stablenets.cli import main

PNG = b"\x89PNG\r\n\x1a\n"



@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from stablenets.training import TrainConfig, train

    root = tmp_path_factory.mktemp("runs")
    for name, log_norms in (("mlp-moons", True), ("mlp-moons-h0.1", False)):
        cfg = TrainConfig()
        cfg.model.name, cfg.model.overrides = name, {"blocks": 3, "hidden": 8}
        cfg.data.dataset, cfg.data.batch_size, cfg.data.test_subset = "moons", 50, 100
        cfg.optim.name, cfg.optim.lr, cfg.schedule.kind = "adam", 0.01, "constant"
        cfg.run.epochs, cfg.run.max_steps_per_epoch, cfg.run.log_norms, cfg.run.progress = 2, 3, log_norms, False
        train(cfg, root / name, device="cpu", log=lambda *a: None)
    return root


def _report(folder, kind):
    md = (folder / f"{kind}.md").read_text()
    assert (folder / f"{kind}.json").is_file() and (folder / f"{kind}.html").is_file()
    images = [line.split("](")[1].rstrip(")") for line in md.splitlines() if line.startswith("![")]
    assert images, f"{kind}.md embeds no figure"
    for name in images:
        data = (folder / name).read_bytes()
        assert data[:8] == PNG and len(data) > 5000
    return md


def test_analyze_stability(tmp_path, capsys):
    assert main(["analyze", "stability", "resnet-20", "zerosnet:-0.5", "--out", str(tmp_path)]) == 0
    md = _report(tmp_path, "stability")
    assert "zerosnet" in md.lower() and "not zero-stable" in md and md.count("![") == 4


def test_analyze_flow_dynamics_sweeps_on_trained_runs(runs, tmp_path):
    a, b = runs / "mlp-moons", runs / "mlp-moons-h0.1"
    assert main(["analyze", "flow", str(a), str(b / "model.safetensors"), "--out", str(tmp_path),
                 "--points", "80", "--device", "cpu"]) == 0
    assert "mlp-moons-h0.1: accuracy" in _report(tmp_path, "flow")
    assert main(["analyze", "dynamics", str(a), "--device", "cpu"]) == 0      # default output: the run dir
    _report(a, "dynamics")
    assert main(["analyze", "sweeps", str(runs), "--out", str(tmp_path)]) == 0
    assert "| mlp-moons-h0.1 | 1 |" in _report(tmp_path, "sweeps")


def test_analyze_errors_are_one_clear_line(runs, tmp_path, capsys):
    assert main(["analyze", "dynamics", str(runs / "mlp-moons-h0.1"), "--out", str(tmp_path)]) == 2
    assert "log_norms" in capsys.readouterr().err
    assert main(["analyze", "coefficients", str(runs / "mlp-moons"), "--out", str(tmp_path)]) == 2
    assert "no learned scheme coefficients" in capsys.readouterr().err


@pytest.mark.parametrize("argv, named", [
    (["--index", "-1"], "--index"), (["--grid", "20"], "--grid"), (["--severity", "6"], "--severity"),
    (["--k", "0"], "--k"), (["--tolerances", "0.1", "-1"], "--tolerances[1]"), (["--points", "0"], "--points"),
])
def test_analyze_options_out_of_range_are_one_line_before_any_work(argv, named, tmp_path, capsys):
    assert main(["analyze", "landscape", str(tmp_path / "not-loaded"), "--out", str(tmp_path / "o"), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and named in err and not (tmp_path / "o").exists()
