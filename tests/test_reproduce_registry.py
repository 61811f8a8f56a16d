"""The registry of papers A–E: complete, well-formed, buildable, and true to the papers' own numbers."""
from __future__ import annotations

import re
import warnings

import pytest
import torch

from stablenets.models import list_models
from stablenets.reproduce import expand_runs, get_entry, list_entries, protocol_of
from stablenets.reproduce.jobs import evaluation_suite
from stablenets.reproduce.registry import _check_entry, numbers
from stablenets.reproduce.report import canonical_key, check_claims, paper_rows
from stablenets.reproduce.runner import _check_model, missing_presets
from stablenets.training.config import config_from_dict

# Every table and figure of the five papers (../shared/papers/README.md lists them).
PAPERS = {"A": (6, 3), "B": (0, 17), "C": (6, 6), "D": (4, 2), "E": (10, 4)}
EXPECTED = {f"{p}-table{i}" for p, (t, _) in PAPERS.items() for i in range(1, t + 1)} | \
           {f"{p}-fig{i}" for p, (_, f) in PAPERS.items() for i in range(1, f + 1)}
ENTRIES = list_entries()


def test_every_table_and_figure_of_the_five_papers_has_one_entry():
    assert set(ENTRIES) == EXPECTED
    assert len(ENTRIES) == len(EXPECTED) == 58


@pytest.mark.parametrize("entry_id", ENTRIES)
def test_entry_is_well_formed_at_every_scale(entry_id):
    entry = get_entry(entry_id)
    assert entry.title and entry.source and entry.claim, "every entry says where it is and what it shows"
    if entry.kind == "paper-only":
        assert not entry.trains and entry.decisions, "a paper-only entry says why nothing is run"
        return
    keys = {m["key"] for m in entry.metrics}
    assert keys, "every runnable entry names its columns"
    known = set(list_models())
    for scale in ("paper", "small", "smoke") + (("demo",) if entry.demo else ()):
        for protocol in ("paper", "code"):
            for run in expand_runs(entry, scale, protocol=protocol):
                config_from_dict(run.config).validate()  # the run's training settings are valid TrainConfig
                if run.model in known:  # the model takes the run's data set (a budget's MNIST is no text input)
                    _check_model(run.config)
    if entry.trains and entry.analysis.get("train") is not False:
        assert entry.small.get("note"), "the small scale documents its CPU budget"
    for claim in entry.claims:
        assert claim.get("metric") in keys, f"claim {claim.get('text')!r} checks a column the entry has"
        assert set(claim.get("metrics", [])) <= keys, f"claim {claim.get('text')!r} checks columns the entry has"


@pytest.mark.parametrize("entry_id", [e for e in ENTRIES if get_entry(e).protocol.get("suite")])
def test_protocol_names_a_suite_and_parses(entry_id):
    entry = get_entry(entry_id)
    for scale in ("paper", "small"):
        protocol = protocol_of(entry, scale)
        if not (protocol.get("attacks") or protocol.get("noise")):
            continue
        suite = evaluation_suite(protocol)
        assert set(suite["attacks"]) == set(protocol.get("attacks") or [])
        for metric in entry.metrics:  # every eval column names an attack or noise family of the protocol
            source, _, key = metric["from"].partition(":")
            if source == "eval" and scale == "paper" and not key.startswith(("clean", "transfer", "worst")):
                head = key.split("@")[0].split("/")[0]
                assert head in suite["attacks"] or head in suite["noise"], (scale, metric)


def test_paper_numbers_are_present_for_every_table():
    for entry_id in ENTRIES:
        entry = get_entry(entry_id)
        if entry.kind != "table":
            continue
        keys = {m["key"] for m in entry.metrics}
        labels = [r.label for r in expand_runs(entry, "paper")]
        rows = paper_rows(entry, expand_runs(entry, "paper"))
        with_numbers = {label: row for label, row in rows.items() if row}
        assert with_numbers, f"{entry_id}: the paper's cells are in the registry"
        for label, row in with_numbers.items():
            assert set(row) <= keys, f"{entry_id} {label}: paper numbers for unknown columns {set(row) - keys}"
        assert set(with_numbers) - set(labels) <= set(entry.paper_values), entry_id


# Spot checks of cells against the paper text (table, row, column, value).
CELLS = [("C-table1", "IE-ResNet-3-18", "fgsm", 92.27), ("C-table5", "IE-WideResNet-1-34", "cw", 66.25),
         ("A-table3", "In-ResNet-110 (CIFAR-10)", "pgd2", 31.74), ("A-table1", "ResNeXt (CIFAR-100)", "avg", 24.47),
         ("D-table2", "SOBlock Dopri5 (tol=0.1)", "pgd20", 71.20), ("D-table4", "SONet 64", "cw", 11.20),
         ("E-table1", "α=2.0", "acc", 79.13), ("E-table3", "56 layers, roots 0.33, 0.33, 1.00", "acc", 94.04),
         ("E-table6", "roots 0.94, 0.33, 0.33", "g04", 76.74), ("E-table7", "ZeroSNet326 roots 1.00, 0.33, 0.33",
                                                             "gap", 20.69), ("E-table8", "LMResNet-110", "params", 1.14)]


@pytest.mark.parametrize("entry_id, label, key, value", CELLS)
def test_paper_cells_read_as_the_paper_prints_them(entry_id, label, key, value):
    entry = get_entry(entry_id)
    rows = paper_rows(entry, expand_runs(entry, "paper"))
    assert rows[label][key]["mean"] == pytest.approx(value)


def test_claims_hold_on_the_papers_own_numbers():
    """Each claim, evaluated on the paper's cells, says what the paper says (a check of the registry)."""
    checked = 0
    for entry_id in ENTRIES:
        entry = get_entry(entry_id)
        rows = paper_rows(entry, expand_runs(entry, "paper"))
        values = {label: {k: c["mean"] for k, c in row.items()} for label, row in rows.items()}
        series: dict = {}
        for run in expand_runs(entry, "paper"):
            if run.series is not None and (run.x, run.label) not in series.setdefault(run.series, []):
                series[run.series].append((run.x, run.label))
        for claim, result in zip(entry.claims, check_claims(entry, values, series)):
            if claim["kind"] == "close" and claim.get("paper"):
                continue  # compares ours with the paper: nothing to say about the paper alone
            if result["holds"] is not None:
                checked += 1
                assert result["holds"], f"{entry_id}: {result['text']}: {result['detail']}"
    assert checked >= 40


def test_every_run_builds_or_its_missing_preset_is_named():
    """The models of every entry build (on the meta device: no memory), or are listed as pending."""
    from stablenets.models import list_models
    from stablenets.reproduce.analyses import build_model_for

    known = set(list_models())
    seen = set()
    pending = {}
    for entry_id in ENTRIES:
        entry = get_entry(entry_id)
        runs = expand_runs(entry, "paper")
        missing = set(missing_presets(entry))
        assert missing == {r.model for r in runs} - known
        if missing:
            pending[entry_id] = missing
        for run in runs:
            key = (run.model, repr(sorted(run.config["model"]["overrides"].items())), run.config["data"]["dataset"])
            if run.model in missing or key in seen:
                continue
            seen.add(key)
            with torch.device("meta"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = build_model_for(run.config)
            assert sum(p.numel() for p in model.parameters()) > 0
    assert len(seen) > 100


def test_e_table10_coefficients_are_the_papers_and_consistent_where_the_paper_says():
    """Table 10's rows are eq-2 coefficient sets; the optimal one is Theorem 3's (1/3, 5/9, 1/9, 16/9)."""
    entry = get_entry("E-table10")
    runs = expand_runs(entry, "paper")
    assert len(runs) == 10 and all(r.seed == 0 for r in runs)
    optimal = runs[-1].config["model"]["overrides"]
    assert optimal["alphas"] == pytest.approx([1 / 3, 5 / 9, 1 / 9]) and optimal["beta"] == pytest.approx(16 / 9)


def test_fractions_and_keys_are_read_as_numbers():
    assert numbers({"eps": ["1/255", "16/9", "x/2"]}) == {"eps": [1 / 255, 16 / 9, "x/2"]}
    assert canonical_key("fgsm@1/255") == canonical_key("fgsm@0.00392157") == "fgsm@0.00392157"
    assert canonical_key("zerosnet/uniform@[-0.08, 0.0]") == "zerosnet/uniform@-0.08,0"


def test_a_malformed_entry_is_one_error_naming_the_key():
    with pytest.raises(ValueError, match="unknown key"):
        _check_entry({"id": "C-table1", "kind": "table", "title": "t", "source": "s", "colums": []}, "C", "x")
    with pytest.raises(ValueError, match="kind"):
        _check_entry({"id": "C-table1", "kind": "tabel", "title": "t", "source": "s"}, "C", "x")
    with pytest.raises(ValueError, match="C-table<N>"):
        _check_entry({"id": "C-tab1", "kind": "table", "title": "t", "source": "s"}, "C", "x")


def test_seeds_follow_the_papers():
    assert get_entry("A-table1").seeds == [0, 1, 2, 3, 4]      # A §4.1: 5 runs
    assert get_entry("E-table1").seeds == [0, 1, 2]            # E §5.6: three runs
    assert len(expand_runs(get_entry("E-table1"), "paper")) == 15
    assert len(expand_runs(get_entry("E-table1"), "paper", seeds=[7])) == 5


def test_schedules_follow_the_papers():
    a = expand_runs(get_entry("A-table2"), "paper")
    c100 = next(r for r in a if r.label == "ResNet-110 (CIFAR-100)").config
    assert (c100["run"]["epochs"], c100["schedule"]["milestones"]) == (300, [150, 225])      # A §4.1
    d = expand_runs(get_entry("D-table1"), "paper")[0].config
    assert (d["run"]["epochs"], d["data"]["batch_size"], d["optim"]["lr"], d["optim"]["weight_decay"]) == \
        (350, 100, 0.01, 0.0)                                                                   # D §5.1
    c = expand_runs(get_entry("C-table1"), "paper")[0].config
    assert c["run"]["epochs"] == 35 and c["data"]["dataset"] == "mnist"                       # C §5.2
    b = expand_runs(get_entry("B-fig3"), "paper")[0].config
    assert (b["run"]["epochs"], b["schedule"]["milestones"]) == (80, [40, 60])                # B §4
    e = expand_runs(get_entry("E-table7"), "paper")[0].config
    assert e["run"]["epochs"] == 500 and e["data"]["dataset"] == "cifar100"                   # E §5.4
    pgd = expand_runs(get_entry("C-table3"), "paper")[0].config["mode"]
    assert pgd["steps"] == 10 and pgd["eps"] == pytest.approx(8 / 255) and pgd["alpha"] == pytest.approx(2 / 255)


def test_entry_ids_read_letter_kind_number():
    assert all(re.fullmatch(r"[A-E]-(table|fig)\d+", e) for e in ENTRIES)


def test_the_demo_scale_needs_no_download_and_keeps_the_entries_models():
    from stablenets.data import dataset_info
    from stablenets.reproduce.registry import demo_entries

    assert demo_entries(), "stablenets demo runs at least one entry"
    for entry_id in demo_entries():
        entry = get_entry(entry_id)
        assert entry.demo.get("note"), f"{entry_id}: the demo budget says what shrank"
        small = {r.label: r.model for r in expand_runs(entry, "small")}
        for run in expand_runs(entry, "demo"):
            dataset = run.config.get("data", {}).get("dataset")
            assert dataset in ("embedded-mnist", "moons"), f"{entry_id} {run.label}: {dataset} needs a download"
            assert run.model == small[run.label], "the demo trains the small scale's model, only less"
            assert dataset_info(dataset) is not None
    with pytest.raises(ValueError, match="no demo budget; entries with one: "):
        expand_runs(get_entry("C-table1"), "demo")


def test_a_group_claim_is_checked_on_the_rows_that_ran_and_names_the_others():
    entry = get_entry("E-table1")
    groups = [c for c in entry.claims if c["kind"] == "groups"]
    shadow = type(entry)(**{**entry.__dict__, "claims": groups})
    ran = {"α=2.0": {"acc": 40.0}, "α=1.5": {"acc": 60.0}, "α=1.0": {"acc": 95.0}}
    (result,) = check_claims(shadow, ran, {})
    assert result["holds"] is True and "without α=0.5, α=0.7" in result["detail"]
    (result,) = check_claims(shadow, {**ran, "α=0.7": {"acc": 50.0}}, {})
    assert result["holds"] is False  # a high-group row below a low-group row breaks the claim
    (result,) = check_claims(shadow, {"α=1.0": {"acc": 95.0}}, {})
    assert result["holds"] is None  # nothing of the low group: not checked


@pytest.mark.parametrize("entry_id", ["E-table1", "E-table2"])
def test_e_table1_and_2_rows_build_the_papers_named_presets(entry_id):
    """The registry writes these rows as the base preset plus the row's coefficients; each must be
    the very network of its named preset (preresnet-alpha*-32, lm-resnet-{eq8,consistent}-k*-44)."""
    from stablenets.models import create_model

    for run in expand_runs(get_entry(entry_id), "paper", [0]):
        ov = run.config["model"]["overrides"]
        if entry_id == "E-table1":
            named = f"preresnet-alpha{ov['alphas'][0]:g}-32"
        else:
            form = "eq8" if run.label.endswith("eq 8") else "consistent"
            named = f"lm-resnet-{form}-k{ov['alphas'][1]:g}-44"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the non-zero-stable rows warn, as they should
            torch.manual_seed(0)
            ours = create_model(run.model, 10, **ov).eval()
            torch.manual_seed(0)
            theirs = create_model(named, 10).eval()
        assert {k: v.shape for k, v in ours.state_dict().items()} == \
               {k: v.shape for k, v in theirs.state_dict().items()}, named
        theirs.load_state_dict(ours.state_dict())
        x = torch.rand(2, 3, 32, 32)
        with torch.no_grad():
            assert torch.allclose(ours(x), theirs(x), atol=1e-6, rtol=1e-5), f"{run.label} differs from {named}"


def test_a_best_claim_names_the_rows_it_could_not_compare():
    entry = get_entry("E-table1")
    best = [c for c in entry.claims if c["kind"] == "best"]
    shadow = type(entry)(**{**entry.__dict__, "claims": best})
    values = {"α=2.0": {"acc": 40.0}, "α=1.0": {"acc": 95.0}, "α=0.7": {"acc": None}}
    (result,) = check_claims(shadow, values, {})
    assert result["holds"] is True and "without α=0.7" in result["detail"]
    (result,) = check_claims(shadow, {**values, "α=0.7": {"acc": 96.0}}, {})
    assert result["holds"] is False


def test_d_table3_cells_are_the_papers_step_lists():
    """D-table3's scalar cells restate the paper's lists: t₁ = the second entry, the accepted steps = the
    list's length − 1, and the shift = the largest move of a shared interior step time (PGD-1 → PGD-1000)."""
    from stablenets.reproduce.analyses import step_shift

    entry = get_entry("D-table3")
    first, *_, last = entry.analysis["iterations"]
    assert entry.analysis["iterations"] == [1, 100, 1000]
    for label, cells in entry.paper_values.items():
        for k in entry.analysis["iterations"]:
            steps = cells[f"steps_{k}"]
            assert steps[0] == 0.0 and steps[-1] == 1.0 and steps == sorted(steps)
            assert cells[f"t1_{k}"] == steps[1]
        assert cells[f"accepted_{last}"] == len(cells[f"steps_{last}"]) - 1
        assert step_shift(cells[f"steps_{first}"], cells[f"steps_{last}"]) == pytest.approx(cells["shift"], abs=1e-9)


def _claims_on_paper(entry_id: str, change: dict | None = None) -> dict[str, dict]:
    """The entry's claims on the paper's own numbers ({text: result}); ``change`` edits cells first."""
    entry = get_entry(entry_id)
    rows = paper_rows(entry, expand_runs(entry, "paper"))
    values = {label: {k: c["mean"] for k, c in row.items()} for label, row in rows.items()}
    for (label, key), value in (change or {}).items():
        values[label][key] = value
    return {r["text"]: r for r in check_claims(entry, values, {})}


def _claim(results: dict, start: str) -> dict:
    return next(r for text, r in results.items() if text.startswith(start))


def test_the_papers_full_statements_hold_on_their_own_numbers_and_fail_when_a_cell_does():
    # D-table1: the SONet-64 headline, ℓ2 and PGD-1000.
    d1 = _claims_on_paper("D-table1")
    assert _claim(d1, "The headline (§5.2)")["holds"] and _claim(d1, "Under PGD-20 ℓ2")["holds"]
    assert _claim(d1, "Under PGD-1000 ℓ∞ SOBlock-64")["holds"] and _claim(d1, "Under PGD-1000 ℓ∞ SONet-64")["holds"]
    worse = _claims_on_paper("D-table1", {("SONet 64", "pgd20_linf"): 45.0})  # below TRADES-6's 45.24
    assert _claim(worse, "The headline (§5.2)")["holds"] is False
    # E-table6: the drop under noise, 12.38 against 6.40 points on average (E §5.3's numbers).
    drop = _claim(_claims_on_paper("E-table6"), "the claim itself")
    assert drop["holds"] and "mean 12.38 over 4 vs 6.395 over 6" in drop["detail"]  # the paper rounds to 6.40
    # A-table6: all 30 comparisons.
    a6 = _claim(_claims_on_paper("A-table6"), "the claim itself")
    assert a6["holds"] and a6["detail"].startswith("30 of 30")
    broken = _claim(_claims_on_paper("A-table6", {("λ-In-ResNet-164, ens", "fgsm"): 50.0}), "the claim itself")
    assert broken["holds"] is False and "29 of 30" in broken["detail"]
    # D-table3: |Δt₁| 0.018 at tol 0.1 against 0.003 at tol 0.001, an order of magnitude.
    d3 = _claim(_claims_on_paper("D-table3"), "the claim itself")
    assert d3["holds"] and "0.018" in d3["detail"] and "0.003" in d3["detail"]
    # C-fig5 and B-fig6 are figures without cells: their claims are checked on our numbers only.
    gap = check_claims(get_entry("C-fig5"), {"IE-ResNet-1-50": {"pgd10": 40, "pgd20": 35, "pgd30": 33, "pgd50": 32,
                                                                 "pgd80": 31, "pgd100": 31},
                                             "ResNet-50": {"pgd10": 38, "pgd20": 31, "pgd30": 28, "pgd50": 26,
                                                           "pgd80": 25, "pgd100": 24}}, {})
    assert [r["holds"] for r in gap] == [True, True, True]
    shrink = check_claims(get_entry("C-fig5"), {"IE-ResNet-1-50": {"pgd10": 40, "pgd100": 25},
                                                "ResNet-50": {"pgd10": 30, "pgd100": 24}}, {})
    assert shrink[2]["holds"] is False
    fails = check_claims(get_entry("B-fig6"), {"h=1.0 adam lr 0.5": {"acc": 10.0}, "h=0.1 adam lr 0.5": {"acc": 80.0}},
                         {})
    assert [r["holds"] for r in fails[1:]] == [True, True]
    trains = check_claims(get_entry("B-fig6"), {"h=1.0 adam lr 0.5": {"acc": 85.0}}, {})
    assert trains[1]["holds"] is False


def test_e_table4_trains_each_resnet_row_as_the_caption_marks_it():
    """E Table 4's caption: * marks the pre-activation ResNet. The CIFAR-10 'ResNet' cells at 20–56 layers carry
    † only (He et al. 2016a's original ResNet via Lu et al.): those rows train the post-activation network;
    ResNet-110 on CIFAR-10 (*†) and every CIFAR-100 ResNet (*) stay pre-activation."""
    from stablenets.training.trainer import build_model

    rows = {r.label: r for r in expand_runs(get_entry("E-table4"), "paper") if r.seed == 0}
    for label, run in rows.items():
        if not label.startswith("ResNet-"):
            continue
        post = label in {f"ResNet-{d} C10" for d in (20, 32, 44, 56)}
        assert run.config["model"]["overrides"].get("post_activation", False) is post, label
    cfg = config_from_dict(rows["ResNet-20 C10"].config).validate()
    model = build_model(cfg, "cifar10")
    assert all(isinstance(b.after, torch.nn.ReLU) for b in model.trunk.blocks)
    assert len(rows) == 40  # 4 models × 5 depths × 2 data sets, each once


def test_a_budget_that_puts_a_text_model_on_images_fails_before_any_training(tmp_path):
    """B-fig8's small budget once swapped MNIST in for AG-NEWS on the character ResNet rows: the runs failed one
    by one inside the workers. Planning now refuses it, under either protocol, naming the run."""
    import dataclasses

    from stablenets.reproduce.runner import plan_tasks

    entry = get_entry("B-fig8")
    every_row = dataclasses.replace(entry, small={k: v for k, v in entry.small.items() if k != "runs"})
    for protocol in ("paper", "code"):
        with pytest.raises(ValueError, match=r"B-fig8 run 'AG-NEWS h=1\.0 p 0\.05'.*in_channels"):
            plan_tasks(every_row, "smoke", out=tmp_path, run_protocol=protocol)
    runs, tasks = plan_tasks(entry, "smoke", out=tmp_path)
    assert tasks and all(t.label.startswith("CIFAR-10") for t in tasks)
