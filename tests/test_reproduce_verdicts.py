"""Verdicts with uncertainty, on constructed outcomes whose truth is known: for every claim kind, a real
gap holds, a reversed one is contradicted, and the same gap on too few points is inconclusive."""
from __future__ import annotations

import math
import random
from types import SimpleNamespace

import pytest

from stablenets.evaluation.diagnostics import binomial_tail
from stablenets.evaluation.summary import pack_outcomes, unpack_outcomes
from stablenets.reproduce.registry import CLAIM_KINDS
from stablenets.reproduce.report import check_claims
from stablenets.reproduce.verdicts import Evidence, compare, t_sf

METRIC = "acc"


def _outcomes(acc: float, n: int, seed: int) -> tuple[bool, ...]:
    """n per-example outcomes with exactly round(acc·n) correct, scattered by ``seed``."""
    right = round(acc * n)
    flags = [True] * right + [False] * (n - right)
    random.Random(seed).shuffle(flags)
    return tuple(flags)


def _row(accs: list[float], n: int, seed: int, paired: bool = True) -> Evidence:
    """A row of len(accs) seeds, each an accuracy (in %) over the same n test points."""
    outs = tuple(_outcomes(a, n, seed * 100 + i) for i, a in enumerate(accs))
    return Evidence(values=tuple(100.0 * sum(o) / n for o in outs), n=n, scale=100.0,
                    outcomes=outs if paired else None)


# Each kind: its claim, the rows' labels from highest to lowest under "the claim is true", series.
CASES = {
    "order": ({"kind": "order", "metric": METRIC, "runs": ["a", "b", "c"]}, ["a", "b", "c"], {}),
    "greater": ({"kind": "greater", "metric": METRIC, "a": "a", "b": "b"}, ["a", "b"], {}),
    "groups": ({"kind": "groups", "metric": METRIC, "high": ["a", "b"], "low": ["c", "d"]}, ["a", "b", "c", "d"], {}),
    "series_above": ({"kind": "series_above", "metric": METRIC, "above": "new", "below": "old"},
                     ["a", "c", "b", "d"], {"new": [(1, "a"), (2, "c")], "old": [(1, "b"), (2, "d")]}),
    "trend": ({"kind": "trend", "metric": METRIC, "series": "s", "direction": "decreasing"}, ["a", "b", "c"],
              {"s": [(1, "a"), (2, "b"), (3, "c")]}),
    "best": ({"kind": "best", "metric": METRIC, "run": "a"}, ["a", "b", "c"], {}),
    "means": ({"kind": "means", "metric": METRIC, "high": ["a", "b"], "low": ["c", "d"]}, ["a", "b", "c", "d"], {}),
    "all_greater": ({"kind": "all_greater", "pairs": [["a", "b"], ["c", "d"]], "metrics": [METRIC]},
                    ["a", "b", "c", "d"], {}),
}
# Kinds over several columns or orders of magnitude: their own constructed cases below.
OWN_CASES = ("gap_grows", "magnitude")
LEVELS = [0.85, 0.70, 0.55, 0.40]


def _check(claim, evidence, series):
    values = {label: {METRIC: e.center} for label, e in evidence.items()}
    (result,) = check_claims(SimpleNamespace(claims=[claim]), values, series,
                             {label: {METRIC: e} for label, e in evidence.items()})
    return result


@pytest.mark.parametrize("kind", list(CASES))
@pytest.mark.parametrize("seeds", [1, 3])
def test_a_real_gap_holds_a_reversed_one_is_contradicted_too_few_points_are_inconclusive(kind, seeds):
    claim, order, series = CASES[kind]
    for truth, n, expected in (("real", 2000, "holds"), ("reversed", 2000, "contradicted"),
                               ("real", 12, "inconclusive")):
        ranked = order if truth == "real" else order[::-1]
        # When a series has two curves ("above"/"below" at each x), the gaps are between the curves.
        levels = dict(zip(ranked, LEVELS if kind != "series_above" else [0.85, 0.80, 0.45, 0.40]))
        if truth == "real" and n < 100:  # the same kind of gap, as far as 12 points can show
            levels = dict(zip(ranked, [0.60, 0.55, 0.50, 0.45]))
        evidence = {label: _row([levels[label] + 0.01 * s for s in range(seeds)], n, seed=i)
                    for i, label in enumerate(order)}
        result = _check(claim, evidence, series)
        assert result["verdict"] == expected, (kind, truth, n, result)
        assert result["holds"] is {"holds": True, "contradicted": False}.get(expected)
        if expected == "holds":
            assert result["p_value"] < 0.05 and "p = " in result["evidence"]
        if expected == "inconclusive":
            assert "would be decided by" in result["evidence"] and result["decide"]


@pytest.mark.parametrize("seeds", [1, 3])
def test_close_holds_within_tolerance_is_contradicted_beyond_it_and_undecided_on_few_points(seeds):
    claim = {"kind": "close", "metric": METRIC, "runs": ["a", "b"], "tol": 3.0}
    for gap, n, expected in ((0.005, 20000, "holds"), (0.10, 2000, "contradicted"), (0.005, 30, "inconclusive")):
        evidence = {"a": _row([0.80 + gap + 0.001 * s for s in range(seeds)], n, 1),
                    "b": _row([0.80 + 0.001 * s for s in range(seeds)], n, 2)}
        assert _check(claim, evidence, {})["verdict"] == expected, (gap, n)


def test_close_to_the_papers_numbers_judges_each_row_against_its_printed_value():
    claim = {"kind": "close", "metric": METRIC, "paper": True, "tol": 2.0}
    paper = {"a": {METRIC: 80.0}, "b": {METRIC: 60.0}}
    for ours, n, expected in (({"a": 0.80, "b": 0.605}, 20000, "holds"), ({"a": 0.80, "b": 0.70}, 2000, "contradicted"),
                              ({"a": 0.80, "b": 0.605}, 20, "inconclusive")):
        evidence = {label: _row([acc], n, i) for i, (label, acc) in enumerate(ours.items())}
        values = {label: {METRIC: e.center} for label, e in evidence.items()}
        (result,) = check_claims(SimpleNamespace(claims=[claim]), values, {},
                                 {label: {METRIC: e} for label, e in evidence.items()}, paper=paper)
        assert result["verdict"] == expected


def test_every_claim_kind_of_the_registry_is_covered_here():
    assert set(CLAIM_KINDS) == set(CASES) | set(OWN_CASES) | {"close"}


def test_numbers_without_evidence_are_exact_as_the_papers_printed_numbers_are():
    claim = {"kind": "order", "metric": METRIC, "runs": ["a", "b"]}
    ns = SimpleNamespace(claims=[claim])
    assert check_claims(ns, {"a": {METRIC: 92.27}, "b": {METRIC: 91.36}}, {})[0]["verdict"] == "holds"
    assert check_claims(ns, {"a": {METRIC: 91.36}, "b": {METRIC: 91.36}}, {})[0]["verdict"] == "contradicted"
    assert check_claims(ns, {"a": {METRIC: 91.36}}, {})[0]["verdict"] == "not checked"


def test_one_seed_of_a_number_with_no_test_points_is_inconclusive_and_asks_for_seeds():
    claim = {"kind": "order", "metric": METRIC, "runs": ["a", "b"]}
    evidence = {"a": Evidence(values=(0.9,)), "b": Evidence(values=(0.1,))}
    result = _check(claim, evidence, {})
    assert result["verdict"] == "inconclusive" and "more seeds" in result["decide"]
    evidence = {"a": Evidence(values=(0.90, 0.91, 0.92)), "b": Evidence(values=(0.10, 0.11, 0.12))}
    assert _check(claim, evidence, {})["verdict"] == "holds"


def test_one_seed_each_on_the_same_points_uses_mcnemars_exact_test():
    """a and b agree on all but 9 points; a gets 8 of them right: p = P(Bin(9, 1/2) ≥ 8)."""
    n = 200
    base = [i % 2 == 0 for i in range(n)]
    a, b = list(base), list(base)
    for i in range(1, 17, 2):     # 8 points only a gets right
        a[i] = True
    b[0] = True if not b[0] else b[0]
    a[0], b[0] = False, True      # 1 point only b gets right
    ea = Evidence(values=(100 * sum(a) / n,), n=n, scale=100.0, outcomes=(tuple(a),))
    eb = Evidence(values=(100 * sum(b) / n,), n=n, scale=100.0, outcomes=(tuple(b),))
    c = compare(ea, eb)
    assert c.method.startswith("McNemar b=8 c=1")
    assert c.p_greater == pytest.approx(binomial_tail(8, 9, 0.5))
    unpaired = compare(Evidence(ea.values, n, 100.0), Evidence(eb.values, n, 100.0))
    assert unpaired.p_greater > c.p_greater, "pairing removes the shared points' noise"


def test_the_t_tail_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    for t in (-3.0, -0.4, 0.0, 0.7, 2.1, 6.0):
        for df in (1, 2.5, 4, 30, 1e6):
            assert t_sf(t, df) == pytest.approx(stats.t.sf(t, df), rel=1e-9, abs=1e-13)


def test_outcomes_pack_and_unpack_exactly():
    flags = [bool(i % 3 == 0 or i % 7 == 1) for i in range(1003)]
    assert unpack_outcomes(pack_outcomes(flags), len(flags)) == flags
    assert math.ceil(len(flags) / 8) * 4 / 3 <= len(pack_outcomes(flags)) <= 1400


@pytest.mark.parametrize("seeds", [1, 3])
def test_gap_grows_holds_when_the_gap_widens_is_contradicted_when_it_shrinks_and_undecided_on_few_points(seeds):
    """a − b over three columns (weaker to stronger attack): 5, 15, 30 points, or the reverse."""
    claim = {"kind": "gap_grows", "runs": ["a", "b"], "metrics": ["m1", "m2", "m3"]}
    grows = {"a": [0.80, 0.70, 0.60], "b": [0.75, 0.55, 0.30]}
    shrinks = {"a": [0.80, 0.70, 0.60], "b": [0.50, 0.55, 0.55]}
    for accs, n, expected in ((grows, 2000, "holds"), (shrinks, 2000, "contradicted"), (grows, 12, "inconclusive")):
        evidence = {label: {m: _row([acc + 0.01 * s for s in range(seeds)], n, seed=10 * i + j)
                            for j, (m, acc) in enumerate(zip(claim["metrics"], levels))}
                    for i, (label, levels) in enumerate(accs.items())}
        values = {label: {m: e.center for m, e in by.items()} for label, by in evidence.items()}
        (result,) = check_claims(SimpleNamespace(claims=[claim]), values, {}, evidence)
        assert result["verdict"] == expected, (accs, n, result)
    exact = {"a": {"m1": 80.0, "m2": 70.0, "m3": 60.0}, "b": {"m1": 75.0, "m2": 60.0, "m3": 60.0}}
    (result,) = check_claims(SimpleNamespace(claims=[claim]), exact, {})
    assert result["verdict"] == "contradicted"  # the gap 5, 10, 0 does not grow: as printed, it falls


def test_magnitude_on_exact_numbers_counts_decades_and_with_seeds_tests_the_decade_boundary():
    """D-table3's kind: |Δt₁| 0.018 against 0.003 is one order of magnitude; 0.009 against 0.003 is none."""
    claim = {"kind": "magnitude", "metric": METRIC, "a": "a", "b": "b", "by": 1}
    ns = SimpleNamespace(claims=[claim])
    assert check_claims(ns, {"a": {METRIC: 0.018}, "b": {METRIC: 0.003}}, {})[0]["verdict"] == "holds"
    assert check_claims(ns, {"a": {METRIC: 0.009}, "b": {METRIC: 0.003}}, {})[0]["verdict"] == "contradicted"
    b = Evidence(values=(0.0029, 0.0030, 0.0031))
    for a_values, expected in (((0.017, 0.018, 0.019), "holds"), ((0.0049, 0.0050, 0.0051), "contradicted"),
                               ((0.004, 0.018, 0.032), "inconclusive")):
        assert _check(claim, {"a": Evidence(values=a_values), "b": b}, {})["verdict"] == expected, a_values


def test_a_larger_test_set_is_asked_for_only_up_to_the_whole_test_set():
    """A small gap on one seed each over 400 points: 'a larger test set' decides it where the data has
    enough points; where the whole test set is already smaller than needed, only more seeds can."""
    claim = {"kind": "greater", "metric": METRIC, "a": "a", "b": "b"}
    evidence = {"a": _row([0.62], 400, 1, paired=False), "b": _row([0.58], 400, 2, paired=False)}
    values = {label: {METRIC: e.center} for label, e in evidence.items()}
    ev = {label: {METRIC: e} for label, e in evidence.items()}
    (free,) = check_claims(SimpleNamespace(claims=[claim]), values, {}, ev)
    assert free["verdict"] == "inconclusive" and "test set about" in free["decide"]
    needed = int(free["decide"].split("about ")[2].split(" test points")[0].replace(",", ""))
    (bounded,) = check_claims(SimpleNamespace(claims=[claim]), values, {}, ev, population=needed - 1)
    assert bounded["decide"].startswith("more seeds: the whole test set") and f"{needed - 1:,}" in bounded["decide"]
    (enough,) = check_claims(SimpleNamespace(claims=[claim]), values, {}, ev, population=needed + 1)
    assert enough["decide"] == free["decide"]
