"""Each paper's evaluation protocol, quoted from its section or table, is what the suite runs.

The quotes are the papers' words (../shared/papers/); each test checks the suite's validated
attack plan (what evaluation actually calls), not the raw dict.
"""
from __future__ import annotations

import pytest

from stablenets.evaluation.suites import STABLENETS, get_suite, validate_suite


def plan(name: str, overrides: dict | None = None) -> dict:
    return {p["name"]: p for p in validate_suite(get_suite(name, overrides))}


def settings(p: dict) -> list[dict]:
    import dataclasses

    return [dataclasses.asdict(s) for s in p["settings"]]


def test_paper_a_fgsm_ifgsm_pgd_at_the_table3_radii():
    # A §4.2: "we set α = 2/255 and iteration times M = 20"; PGD "is the same with IFGSM, except that
    # x(0) = x + δ with δ ~ U[−ε, ε]"; A-table3: "attack radii of 1/255, 2/255, and 4/255"
    p = plan("A")
    for name in ("fgsm", "ifgsm", "pgd"):
        assert p[name]["radii"] == pytest.approx([1 / 255, 2 / 255, 4 / 255]), name
    assert {(s["alpha"], s["steps"]) for s in settings(p["ifgsm"])} == {(2 / 255, 20)}
    for s in settings(p["pgd"]):
        assert (s["alpha"], s["steps"], s["random_start"], s["restarts"], s["keep_best"]) == (2 / 255, 20, True, 1, False)
    # A-table4 to A-table6: "at the attack radius of 2/255"
    assert plan("A-table4")["pgd"]["radii"] == pytest.approx([2 / 255])
    assert get_suite("A")["noise"]["cifar10c"]["groups"] == ["gaussian_noise", "shot_noise", "impulse_noise",
                                                             "speckle_noise"]


def test_paper_b_has_no_attacks_only_the_clean_test():
    # B §4.2: "we train on noisy input data ... provide the test accuracy ... on the clean input data"
    b = get_suite("B")
    assert b["attacks"] == {} and b["noise"] == {} and not b["diagnostics"]["enabled"]


def test_paper_c_pgd20_fgsm_cw_and_transfer():
    # C §5.1: "δ = 8/255 ... α = 1/255 for evaluation", x(0) = x, x' = x(M); PGD-20 (C-table3)
    p = plan("C")
    (s,) = settings(p["pgd20"])
    assert (s["eps"], s["alpha"], s["steps"], s["random_start"], s["keep_best"], s["restarts"]) == \
        (8 / 255, 1 / 255, 20, False, False, 1)
    # C §5.1: "Adam for 50 iterations with learning rate equaling 6 × 10^-4 and c = 10 for C&W"
    (cw,) = settings(p["cw_l2"])
    assert (cw["steps"], cw["lr"], cw["c"], cw["binary_search_steps"]) == (50, 6e-4, 10.0, 1)
    assert cw["target"] == "random"  # §5.1: "F(w, x + η) = t … t is the target label"
    # C §5.2 / C-table2: FGSM "δ = 1/255 for CIFAR-10"; C-table1: "δ = 0.15 for MNIST"
    assert p["fgsm"]["radii"] == [1 / 255]
    assert plan("C-table1")["fgsm"]["radii"] == [0.15]
    # C-table4: "applying the FGSM attack (ε = 16/255) to the oracle model"
    assert p["transfer"]["spec"].name == "fgsm" and p["transfer"]["radii"] == [16 / 255]
    # C-table5: PGD-100; C-fig5: "PGD attacks with different steps: {10, 20, 30, 50, 80, 100}"
    assert settings(plan("C-table5")["pgd100"])[0]["steps"] == 100
    fig5 = plan("C-fig5")
    assert sorted(settings(fig5[f"pgd{k}"])[0]["steps"] for k in (10, 20, 30, 50, 80, 100)) == [10, 20, 30, 50, 80, 100]
    assert {settings(fig5[f"pgd{k}"])[0]["alpha"] for k in (10, 20, 30, 50, 80, 100)} == {1 / 255}


def test_paper_d_pgd_cw_spsa():
    # D §5.1: "ε = 0.031, the attack step size η1 = 0.003 for ℓ∞ PGD attack, ... ε = 0.5, the attack step
    # size η1 = 0.1 for ℓ2 PGD attack. For CW∞ attack, ... ε = 0.031, the max-iterations K = 100. ...
    # ε = 0.031, the number of iterations K = 20 and the number of samples to be 32 for SPSA"
    # and "x′i is initialized as the original input xi"
    p = plan("D")
    for name, steps in (("pgd20", 20), ("pgd1000", 1000)):
        (s,) = settings(p[name])
        assert (s["eps"], s["alpha"], s["steps"], s["norm"], s["random_start"]) == (0.031, 0.003, steps, "linf", False)
    (s,) = settings(p["pgd20_l2"])
    assert (s["eps"], s["alpha"], s["norm"]) == (0.5, 0.1, "l2")
    (s,) = settings(p["cw_linf"])
    assert p["cw_linf"]["spec"].name == "cw_linf" and (s["eps"], s["steps"]) == (0.031, 100)
    (s,) = settings(p["spsa"])
    assert (s["eps"], s["steps"], s["samples"]) == (0.031, 20, 32)


def test_paper_e_table6_noise():
    # E-table6: "[−0.08, 0]  [0, 0.08]  δ = 0.01  δ = 0.02  δ = 0.04  μ = 0.3"; appendix: "The random seeds
    # of PyTorch for generating the uniform and Gaussian noises are both 1"
    e = get_suite("E")
    assert e["noise"]["zerosnet"] == {"uniform": [[-0.08, 0.0], [0.0, 0.08]], "gaussian": [0.01, 0.02, 0.04],
                                      "constant": [0.3]}
    assert e["noise_seed"] == 1 and e["attacks"] == {}


@pytest.mark.parametrize("name", ["A", "C", "C-table1", "D"])
def test_every_paper_protocol_number_has_our_stronger_attack_beside_it(name):
    p = plan(name)
    ours = [q for q in p.values() if q["source"] == STABLENETS]
    assert {settings(q)[0]["loss"] for q in ours} == {"ce", "margin"}
    for q in ours:
        s = settings(q)[0]
        assert s["random_start"] and s["keep_best"] and s["restarts"] >= 2
    papers = [q for q in p.values() if q["source"] != STABLENETS and q["spec"].name == "pgd"]
    for q in papers:  # same ball as the paper's attack
        assert set(q["radii"]) <= {r for o in ours for r in o["radii"] if o["norm"] == q["norm"]}


def test_a_suite_sets_eps_once_and_its_attacks_inherit_it():
    p = plan("D", {"eps.linf": [0.3]})
    for name in ("pgd20", "pgd1000", "cw_linf", "spsa", "pgd_ours", "autoattack"):
        assert p[name]["radii"] == [0.3], name
    assert p["pgd20_l2"]["radii"] == [0.5]   # the L2 ball keeps its own radius
    assert plan("D", {"eps.linf": 0.1})["pgd20"]["radii"] == [0.1]   # a scalar is one radius


def test_every_protocol_value_names_where_it_comes_from():
    from stablenets.evaluation.suites import SUITES

    for name in SUITES:
        for attack, p in plan(name).items():
            assert p["source"], (name, attack)


def test_no_guess_is_left_in_the_evaluation_code():
    import re
    from pathlib import Path

    import stablenets

    root = Path(stablenets.__file__).parent
    for folder in ("evaluation", "attacks"):
        for path in (root / folder).glob("*.py"):
            assert not re.search(r"unverified|placeholder", path.read_text(), re.I), path
