"""The reports people read: valid Markdown tables for every entry, verdicts regenerated from a run folder,
report.html rendered as a real page (and checked in a headless browser where one is installed)."""
from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from stablenets.evaluation.summary import pack_outcomes
from stablenets.reproduce import report as rep
from stablenets.reproduce.registry import expand_runs, get_entry, list_entries
from stablenets.reproduce.runner import plan_tasks, reproduce


def markdown_tables(text: str) -> list[list[list[str]]]:
    """Every table of a Markdown text as rows of cells (pipes escaped as \\| stay inside a cell)."""
    tables, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = re.split(r"(?<!\\)\|", line.strip())
            current.append([c.strip() for c in cells[1:-1]])
        elif current:
            tables.append(current)
            current = []
    return tables


def assert_valid_tables(text: str, where: str) -> int:
    tables = markdown_tables(text)
    for table in tables:
        assert len(table) >= 2, f"{where}: a table needs a header and a delimiter row"
        head, delim, *rows = table
        assert all(re.fullmatch(r":?-{3,}:?", c) for c in delim), f"{where}: delimiter row {delim}"
        for row in [delim, *rows]:
            assert len(row) == len(head), f"{where}: {len(head)} header cells, a row has {len(row)}: {row}"
    return len(tables)


def _fake_report(entry_id: str) -> dict:
    """A report of ``entry_id`` as the runner builds it, our numbers the paper's plus a little."""
    entry = get_entry(entry_id)
    runs = expand_runs(entry, "paper")
    paper = rep.paper_rows(entry, runs)
    labels = list(dict.fromkeys([r.label for r in runs] + list(paper)))
    rows, values = [], {}
    for i, label in enumerate(labels):
        p = paper.get(label, {})
        seeds = [{m["key"]: (p[m["key"]]["mean"] if m["key"] in p else 50.0) + 0.1 * s for m in entry.metrics}
                 for s in range(2)]
        stats = rep.row_stats(seeds, entry.metrics)
        for s in stats.values():
            s.update(test_points=1000, se=0.3)
        delta = {k: stats[k]["mean"] - p[k]["mean"] for k in p if k in stats}
        rows.append({"label": label, "series": None, "x": None, "ours": stats, "paper": p, "delta": delta,
                     "failed": i % 3 == 2, "runs": 2})
        values[label] = {k: s["mean"] for k, s in stats.items()}
    claims = [{**c, "paper_holds": True} for c in rep.check_claims(entry, values, {}, paper={
        label: {k: c["mean"] for k, c in p.items()} for label, p in paper.items()})]
    return {"entry": entry.id, "title": entry.title, "source": entry.source, "claim": entry.claim,
            "kind": entry.kind, "scale": "small", "scale_note": "", "stat": "mean", "exact": False,
            "trains": "", "seeds": [0, 1], "metrics": entry.metrics, "rows": rows, "claims": claims,
            "decisions": entry.decisions, "needs": entry.needs, "hardware": ["CPU"], "train_seconds": 1.0,
            "trained_runs": 2, "wall_seconds": 2.0}


def test_every_entrys_report_has_valid_markdown_tables():
    """Header, delimiter and every row have as many cells, for every entry (B-fig1's heading holds |x|)."""
    checked = 0
    for entry_id in list_entries():
        report = _fake_report(entry_id)
        for exact in (False, True):
            text = rep._markdown({**report, "exact": exact})
            checked += assert_valid_tables(text, entry_id)
            assert "-0.00" not in text and "seeds []" not in text
    assert checked >= 2 * len(list_entries())
    index = "\n".join(["| a | b |", "|---|---|", "| x \\| y | z |"])
    assert assert_valid_tables(index, "escaped pipe") == 1
    with pytest.raises(AssertionError, match="header cells"):
        assert_valid_tables("| a | b |\n|---|---|\n| x | y | z |", "a bad table")


def _fake_run_folder(tmp_path: Path, accuracy: dict[str, list[float]], n: int) -> None:
    """C-table1 at small scale, trained and evaluated, without training: the files a run leaves."""
    entry = get_entry("C-table1")
    seeds = list(range(len(next(iter(accuracy.values())))))
    _, tasks = plan_tasks(entry, "small", seeds=seeds, out=tmp_path)
    for t in tasks:
        t.run_dir.mkdir(parents=True, exist_ok=True)
        acc = accuracy[t.label][t.seed]
        flags = [i < round(acc * n) for i in range(n)]
        random.Random(hash(t.label) % 1000 + t.seed).shuffle(flags)
        (t.run_dir / "summary.json").write_text(json.dumps({"dataset": "mnist", "final": {"test_acc": 0.985}}))
        t.eval_path.write_text(json.dumps({"n": n, "clean": 0.985, "clean_outcomes": pack_outcomes([True] * n),
                                           "attacks": {"fgsm": {"accuracy": {"0.15": sum(flags) / n},
                                                                "outcomes": {"0.15": pack_outcomes(flags)}}}}))
        (t.run_dir / "timing.json").write_text(json.dumps({"device": "CPU (test)", "train_seconds": 1.0}))


@pytest.mark.parametrize("case, accuracy, n, verdict", [
    ("a real gap", {"IE-ResNet-3-18": [0.40], "IE-ResNet-1-18": [0.30], "ResNet-18": [0.20]}, 500, "holds"),
    ("reversed", {"IE-ResNet-3-18": [0.20], "IE-ResNet-1-18": [0.30], "ResNet-18": [0.40]}, 500, "contradicted"),
    ("inside the noise", {"IE-ResNet-3-18": [0.28], "IE-ResNet-1-18": [0.19], "ResNet-18": [0.17]}, 500,
     "inconclusive"),
    ("three seeds", {"IE-ResNet-3-18": [0.40, 0.41, 0.39], "IE-ResNet-1-18": [0.30, 0.31, 0.29],
                     "ResNet-18": [0.20, 0.22, 0.21]}, 500, "holds"),
])
def test_reports_regenerate_from_a_run_folder_with_verdicts(tmp_path, case, accuracy, n, verdict):
    _fake_run_folder(tmp_path, accuracy, n)
    result = reproduce("C-table1", "small", seeds=list(range(len(accuracy["ResNet-18"]))), launcher="inline",
                       out=tmp_path, log=lambda *_: None)
    order = result["report"]["claims"][0]
    assert order["verdict"] == verdict, (case, order)
    text = result["paths"]["table.md"].read_text()
    assert_valid_tables(text, "C-table1")
    seeds = len(accuracy["ResNet-18"])
    assert re.search(rf"\| ResNet-18 \| {seeds} \| 10,000 / {n} \|", text), "seeds and test points on every row"
    if verdict == "inconclusive":
        assert "would be decided by a test set about" in text
    if seeds == 1:
        assert "McNemar" in text
    page = result["paths"]["report.html"].read_text()
    assert "<table>" in page and "<pre" not in page and f'class="{verdict}"' in page
    index = (tmp_path / "report.html").read_text()
    assert 'href="C-table1/report.html"' in index and re.search(rf"\d {verdict}", index)


def test_report_html_is_one_self_contained_page_with_the_figure(tmp_path):
    pytest.importorskip("matplotlib")
    result = reproduce("B-fig1", "small", launcher="inline", out=tmp_path, log=lambda *_: None)
    page = result["paths"]["report.html"].read_text()
    assert page.count("<table>") == 1 and "data:image/png;base64," in page
    assert not re.search(r"(src|href)=\"(https?:)?//", page), "nothing fetched from the network"
    assert "**" not in page and "| ---" not in page, "Markdown rendered, not shown"
    assert "<th>max |Euler − exact| on [0, 5] (ours)</th>" in page.replace(' style="text-align:right"', "")
    assert page.index("<img") < page.index("Decisions") < page.index("Cost")


def _browser() -> str | None:
    return next((shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome") if shutil.which(b)), None)


def test_report_html_renders_in_a_headless_browser(tmp_path):
    browser = _browser()
    if browser is None:
        pytest.skip("no headless browser: install Debian's chromium (apt-get install chromium; .ci/browser.sh)")
    _fake_run_folder(tmp_path, {"IE-ResNet-3-18": [0.40], "IE-ResNet-1-18": [0.30], "ResNet-18": [0.20]}, 500)
    result = reproduce("C-table1", "small", seeds=[0], launcher="inline", out=tmp_path, log=lambda *_: None)
    page = result["paths"]["report.html"]
    dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert "<table>" in dom and dom.count("<tr>") == 1 + 3, "the header and three rows, rendered as a table"
    assert re.search(r"<th[^>]*>Robust Acc \(%\) paper</th>", dom)
    assert re.search(r'<li class="holds"><strong>✔ holds</strong>', dom), "the verdict is coloured"
    shot = tmp_path / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={shot}",
                    "--window-size=1100,900", page.as_uri()], capture_output=True, timeout=120)
    assert shot.read_bytes()[:4] == b"\x89PNG"
    index = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                            (tmp_path / "report.html").as_uri()], capture_output=True, text=True, timeout=120).stdout
    assert '<a href="C-table1/report.html">C-table1</a>' in index


def test_b_fig1_is_drawn_as_the_paper_draws_it_trajectories_not_bars(tmp_path, monkeypatch):
    """Figure 1 shows x(t) of the exact solution and of Euler at each h; the report's figure is that
    plot (stability.plot_ivp with the entry's step factors), not a bar chart of the errors."""
    pytest.importorskip("matplotlib")
    from stablenets.analysis import stability

    drawn = []
    real = stability.plot_ivp
    monkeypatch.setattr(stability, "plot_ivp", lambda ivp, path: (drawn.append(ivp), real(ivp, path))[1])
    result = reproduce("B-fig1", "small", launcher="inline", out=tmp_path, log=lambda *_: None)
    assert len(drawn) == 1 and "figure.png" in result["paths"]
    assert [r["h"] for r in drawn[0]["runs"]] == [0.1, 0.5, 0.8, 0.9, 1.0]
    assert drawn[0]["exact"]["x"][0] == pytest.approx(1.0)


def test_bar_figure_has_no_paper_entry_where_the_paper_prints_no_number(monkeypatch):
    pytest.importorskip("matplotlib")
    import matplotlib.axes

    from stablenets.reproduce import report as rep

    labels = []
    real = matplotlib.axes.Axes.bar
    monkeypatch.setattr(matplotlib.axes.Axes, "bar",
                        lambda self, *a, **k: (labels.append(k.get("label")), real(self, *a, **k))[1])
    rows = [{"label": f"r{i}", "ours": {"m": {"mean": float(i)}}, "paper": {}} for i in range(3)]
    report = {"entry": "X", "scale": "small", "stat": "mean", "rows": rows, "out": ".",
              "metrics": [{"key": "m", "column": "m"}]}
    assert rep._figure(report, {}, {}, {})
    assert labels == ["ours (small)"]
    rows[0]["paper"] = {"m": {"mean": 1.0}}
    labels.clear()
    rep._figure(report, {}, {}, {})
    assert labels == ["paper", "ours (small)"]


def test_an_entry_that_trains_nothing_lists_no_training_differences_of_the_code(tmp_path):
    result = reproduce("B-fig1", "small", launcher="inline", out=tmp_path, log=lambda *_: None)
    text = result["paths"]["table.md"].read_text()
    section = text[text.index("## Protocol"):text.index("## Decisions")]
    assert "Nothing is trained here" in section and "weight decay" not in section
    report = {"protocol": "paper", "trained_runs": 3, "code": {"differences": [
        {"id": "wd", "what": "no weight decay", "source": "x", "built": True}]}, "rows": []}
    assert any("no weight decay" in line for line in rep.protocol_lines(report))


def test_a_metric_the_paper_prints_no_number_for_is_one_column_of_ours():
    rows = [{"label": "a", "ours": {"m": {"mean": 1.0, "n": 1}, "q": {"mean": 2.0, "n": 1}},
             "paper": {"q": {"mean": 2.5}}, "delta": {"q": -0.5}, "runs": 1}]
    report = {"exact": True, "stat": "mean", "rows": rows,
              "metrics": [{"key": "m", "column": "M"}, {"key": "q", "column": "Q"}]}
    head, delim, row = rep.table_lines(report)
    assert head == "| row | M (ours) | Q paper | ours | Δ |"
    report["metrics"][0]["column"] = "M (cos, ours)"
    assert rep.table_lines(report)[0] == "| row | M (cos, ours) | Q paper | ours | Δ |"
    assert row.count("|") == head.count("|") == delim.count("|") and "| 1.00 | 2.50 | 2.00 |" in row
