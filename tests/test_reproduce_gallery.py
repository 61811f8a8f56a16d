"""The README's gallery is made from the committed small-scale reports, never typed by hand."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from stablenets.reproduce import gallery

ROOT = Path(__file__).resolve().parents[1]


def _report(folder: Path, entry: str, claims: list[dict], **extra) -> None:
    (folder / entry).mkdir(parents=True)
    report = {"entry": entry, "scale": "small", "claims": claims, "seeds": [0, 1], "trained_runs": 4,
              "rows": [{"ours": {"acc": {"test_points": 1000}}}], "wall_seconds": 5.0, "train_seconds": 750.0}
    (folder / entry / "table.json").write_text(json.dumps(report | extra))


def test_one_row_per_claim_with_its_verdict_evidence_and_budget(tmp_path):
    _report(tmp_path, "E-table1", [
        {"text": "a > b | c", "verdict": "holds", "p_value": 0.003, "method": "t"},
        {"text": "α = 1 best", "verdict": "inconclusive", "p_value": 0.4, "method": "t"}])
    _report(tmp_path, "E-table10", [{"text": "moduli", "verdict": "holds", "p_value": 0.0, "method": "exact"}],
            trained_runs=0, seeds=[0], rows=[], train_seconds=0.0, wall_seconds=0.4)
    _report(tmp_path, "C-table1", [{"text": "x", "verdict": "holds"}], scale="paper")  # not a small report
    rows = gallery.gallery_rows(tmp_path)
    assert rows == [
        ["E", "[E-table1](docs/results/E-table1/table.md)", "a > b \\| c", "✔ holds", "p = 0.003",
         "2 seeds, 1,000 test points", "12 min"],
        ["E", "[E-table1](docs/results/E-table1/table.md)", "α = 1 best", "? inconclusive at this n", "p = 0.4",
         "2 seeds, 1,000 test points", "12 min"],
        ["E", "[E-table10](docs/results/E-table10/table.md)", "moduli", "✔ holds", "exact", "no training", "0 s"]]
    table = gallery.gallery_markdown(tmp_path).splitlines()
    assert len({line.replace("\\|", "").count("|") for line in table}) == 1  # a valid Markdown table


def test_update_rewrites_only_the_block_and_check_sees_a_stale_one(tmp_path):
    _report(tmp_path / "results", "B-fig1", [{"text": "grows", "verdict": "holds", "method": "exact"}],
            trained_runs=0)
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{gallery.START}\nSTALE-ROWS\n{gallery.END}\nrest\n")
    assert not gallery.update_readme(readme, tmp_path / "results", check=True)
    gallery.update_readme(readme, tmp_path / "results")
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith(f"{gallery.END}\nrest\n") and "STALE-ROWS" not in text
    assert "| B | [B-fig1]" in text and gallery.update_readme(readme, tmp_path / "results", check=True)
    readme.write_text("no block")
    with pytest.raises(ValueError, match="no gallery block"):
        gallery.update_readme(readme, tmp_path / "results", check=True)


def test_the_readme_gallery_is_the_committed_reports():
    if not (ROOT / "docs" / "results").is_dir():
        pytest.skip("no docs/results in this checkout")
    assert gallery.update_readme(ROOT / "README.md", ROOT / "docs" / "results", check=True), \
        "README's gallery is stale: run python -m stablenets.reproduce.gallery"
