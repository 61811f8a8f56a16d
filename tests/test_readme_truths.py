"""The README says only what the code makes true: counts the code can change are checked against the code
(or not written), the set-up commands are the ones CI runs, and the PyTorch note says what a stock machine gets."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
CPU_INDEX = "https://download.pytorch.org/whl/cpu"


def _counts(noun: str) -> list[int]:
    """Every "N <noun>" (N written with digits, thousands with commas) in the README."""
    return [int(n.replace(",", "")) for n in re.findall(rf"\b(\d[\d,]*)\s+{noun}\b", README)]


def test_counts_of_presets_entries_and_experiments_are_the_codes_or_absent():
    from stablenets.experiments import list_experiments
    from stablenets.models import list_models
    from stablenets.reproduce import list_entries

    for noun, actual in (("presets", len(list_models())), ("entries", len(list_entries())),
                         ("experiments", len(list_experiments()))):
        wrong = [n for n in _counts(noun) if n != actual]
        assert not wrong, f"README says {wrong[0]} {noun}; the code has {actual}: generate it or leave it out"


def test_the_count_check_can_fail():
    global README
    saved = README
    try:
        README = saved + "\nlists all 2 presets\n"
        assert 2 in _counts("presets")
    finally:
        README = saved


def test_the_embedded_digits_are_as_many_as_it_says():
    from stablenets.data.mnist import load_embedded

    quoted = re.search(r"the ([\d,]+) training and ([\d,]+) test\s+MNIST digits embedded", README)
    assert quoted, "README's demo section names the embedded digits"
    train, test = (int(q.replace(",", "")) for q in quoted.groups())
    assert len(load_embedded("train")[1]) == train and len(load_embedded("test")[1]) == test


def test_the_pytorch_note_says_what_a_stock_machine_gets_and_how_to_get_the_cpu_build():
    setup = README[README.index("## Set-up"):README.index("**1. Install and run the demo**")]
    words = " ".join(setup.split())
    assert "the small CPU build" not in words  # true only where the index serves a CPU wheel by default
    assert re.search(r"PyPI on a stock Linux machine it is the CUDA build", words), words
    assert f"python -m pip install torch==2.13.0 --index-url {CPU_INDEX}" in words


def test_the_two_setup_commands_are_as_written_and_ci_runs_the_second():
    blocks = re.findall(r"```bash\n(.*?)\n```", README[README.index("## Set-up"):README.index("## What the demo")],
                        re.S)
    demo, tests = blocks
    assert demo == "python -m pip install torch==2.13.0 && python -m pip install -e . && stablenets demo"
    assert tests.startswith("python -m pip install -q torch==2.13.0 && ") and tests.endswith("python -m pytest")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert ci[-1] == tests, ".ci/run must run the README's test command verbatim"
