"""``stablenets demo`` as the README runs it: the papers' findings at the demo scale, on packaged data."""
from __future__ import annotations

import json
import time

import torch

from stablenets.cli import main
from stablenets.reproduce.registry import demo_entries


def test_demo_reproduces_its_claims_and_reuses_finished_runs(tmp_path, capsys):
    n = torch.get_num_threads()
    try:
        assert main(["demo", "--out", str(tmp_path)]) == 0
        first = capsys.readouterr().out
        t0 = time.perf_counter()
        assert main(["demo", "--out", str(tmp_path)]) == 0  # everything is trained: reports only
        again = time.perf_counter() - t0
    finally:
        torch.set_num_threads(n)
    record = json.loads((tmp_path / "demo.json").read_text())
    assert list(record["entries"]) == demo_entries()
    for entry_id, result in record["entries"].items():
        assert result["claims"], f"{entry_id} checks a claim"
        for claim in result["claims"]:
            # At the demo's budget a claim may be undecided (said, with what would decide it), never refuted.
            assert claim["verdict"] in ("holds", "inconclusive"), f"{entry_id}: {claim['text']} — {claim['detail']}"
            assert claim["verdict"] == "holds" or claim["decide"], "an undecided claim says what would decide it"
            assert claim["paper_holds"] is not False, "the claim is the paper's"
        if entry_id == "E-table10":  # exact
            assert all(c["verdict"] == "holds" for c in result["claims"])
        assert (tmp_path / entry_id / "table.md").is_file() and (tmp_path / entry_id / "report.html").is_file()
    md = (tmp_path / "demo.md").read_text()
    (row,) = [line for line in md.splitlines() if line.startswith("| α=2.0 |")]
    assert "| 79.13 ± 0.30 |" in row  # the paper's cell beside ours (E-table1)
    assert "| α=0.7 |" not in md  # rows the demo does not run are left out of its tables
    assert all(f"stablenets reproduce {e} --scale paper" in md for e in demo_entries())
    assert "claims holding" in first and again < 30, "a second demo reuses the finished runs"
