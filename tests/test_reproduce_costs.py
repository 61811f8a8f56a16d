"""The paper-scale cost model (reproduce/costs.py) and the model sizes it scales by (reproduce/sizes.py)."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from stablenets.reproduce.costs import (Throughput, entry_cost, evaluation_iterations, load_throughput, model_rate,
                                        ode_evaluations, run_cost)
from stablenets.reproduce.registry import expand_runs, get_entry, protocol_of
from stablenets.reproduce.sizes import count_size, load_sizes, model_size, registry_keys, size_key

OLD = {"id": "old", "device": "GPU A", "torch": "2.0", "commit": "a", "date": "2025-01-01 00:00:00 UTC", "command": "b"}
NEW = {"id": "new", "device": "GPU B", "torch": "2.1", "commit": "b", "date": "2026-01-01 00:00:00 UTC", "command": "b"}


def table(*rows, sources=(OLD,)) -> Throughput:
    base = {"source": sources[0]["id"], "dataset": "cifar10", "path": "eager", "pack": 1, "attack_images_per_s": None}
    return Throughput.from_document({"sources": list(sources), "rows": [base | r for r in rows]})


def config(model, epochs=1, batch=512, dataset="cifar10", overrides=None, **extra) -> dict:
    return {"model": {"name": model, "overrides": overrides or {}}, "data": {"dataset": dataset, "batch_size": batch},
            "run": {"epochs": epochs}, **extra}


def d_table2(label: str) -> dict:
    return next(r.config for r in expand_runs(get_entry("D-table2"), "paper") if r.label == label)


def test_a_measured_row_prices_its_own_model_exactly_and_adversarial_training_by_its_passes():
    t = table({"model": "resnet-20", "batch": 512, "train_images_per_s": 1000.0})
    cost = run_cost(config("resnet-20"), table=t)
    assert cost.train_hours * 3600 == pytest.approx(50.0)            # 50,000 images at 1,000 images/s
    assert cost.basis == "measured" and cost.eval_hours == 0
    pgd = run_cost(config("resnet-20", mode={"kind": "pgd", "steps": 10}), table=t)
    trades = run_cost(config("resnet-20", mode={"kind": "trades", "steps": 10}), table=t)
    assert pgd.train_hours == pytest.approx(11 * cost.train_hours)     # 1 + k
    assert trades.train_hours == pytest.approx(12 * cost.train_hours)  # 2 + k
    assert run_cost(config("resnet-20", epochs=3), table=t).train_hours == pytest.approx(3 * cost.train_hours)


def test_the_newest_device_then_the_fastest_path_that_applies():
    t = table({"model": "resnet-20", "batch": 512, "train_images_per_s": 1000.0},
              {"model": "resnet-20", "batch": 512, "path": "fast", "train_images_per_s": 9000.0},
              {"source": "new", "model": "resnet-20", "batch": 512, "train_images_per_s": 2000.0},
              {"source": "new", "model": "resnet-20", "batch": 512, "path": "packed", "pack": 4,
               "train_images_per_s": 8000.0},
              sources=(OLD, NEW))
    alone = model_rate("train", "resnet-20", {}, "cifar10", 512, table=t)
    assert (alone.images_per_s, alone.device, alone.path) == (2000.0, "GPU B", "eager")
    packed = model_rate("train", "resnet-20", {}, "cifar10", 512, group_size=4, table=t)
    assert (packed.images_per_s, packed.path, packed.pack, packed.measured) == (8000.0, "packed", 4, True)


def test_an_entry_packs_its_runs_of_one_model_when_a_packed_row_fits_them():
    """E-table1: five α × three seeds of resnet-32 at batch 128; the runs of one α share everything but
    the seed, so a 3-run packed row prices each at the aggregate rate, and a 4-run one does not apply."""
    entry = get_entry("E-table1")
    rows = ({"model": "resnet-32", "batch": 128, "train_images_per_s": 10000.0},
            {"model": "resnet-32", "batch": 128, "path": "packed", "pack": 3, "train_images_per_s": 60000.0})
    cost = entry_cost(entry, table=table(*rows))
    assert len(cost.runs) == 15 and {c.train.path for _, c in cost.runs} == {"packed"}
    assert cost.train_hours * 3600 == pytest.approx(15 * 160 * 50000 / 60000.0)
    too_big = entry_cost(entry, table=table(rows[0], rows[1] | {"pack": 4}))
    assert {c.train.path for _, c in too_big.runs} == {"eager"}


def test_an_unmeasured_model_is_derived_from_the_nearest_measured_one_and_says_so():
    t = table({"model": "resnet-20", "batch": 512, "train_images_per_s": 40000.0},
              {"model": "resnet-56", "batch": 512, "train_images_per_s": 20000.0},
              {"model": "resnet-110", "batch": 512, "train_images_per_s": 9000.0},
              {"model": "in-resnet-110", "batch": 512, "train_images_per_s": 7000.0})
    assert run_cost(config("resnet-44"), table=t).basis == "derived from resnet-56 (cifar10)"      # closest FLOPs
    assert run_cost(config("lambda-in-resnet-110"), table=t).basis == "derived from in-resnet-110 (cifar10)"
    assert run_cost(config("resnet-110", dataset="cifar100"), table=t).basis == "derived from resnet-110 (cifar10)"
    # the same measured model at another batch stays "measured"; a smaller batch never costs less per image
    small = model_rate("train", "resnet-110", {}, "cifar10", 128, table=t)
    assert small.measured and small.images_per_s <= 9000.0
    shipped = load_throughput()
    assert run_cost(config("resnet-20", batch=128)).basis == "measured"
    derived = run_cost(config("resnext-29", batch=128))
    reference = re.fullmatch(r"derived from (\S+) \((\w+)\)", derived.basis)
    assert reference and (reference[1], reference[2]) in {(r.model, r.dataset) for r in shipped.rows}


def test_ode_blocks_multiply_only_their_own_flops():
    """soblock-32 is resnet10-w32 with its stem convolution replaced by the skew ODE block, whose field
    applies that convolution and its transpose: the counts must say exactly that."""
    so, plain = model_size("soblock-32", {}, "cifar10"), model_size("resnet10-w32", {}, "cifar10")
    stem = plain["flops"] - (so["flops"] - so["ode_flops"])
    assert stem == 2 * 3 * 9 * 32 * 32 * 32                    # 3 → 32 channels, 3×3, 32×32 pixels
    assert so["ode_flops"] == 2 * stem
    sonet = model_size("sonet-32", {}, "cifar10")
    assert sonet["ode_flops"] == sonet["flops"]                 # SONet: every layer is an ODE block
    assert ode_evaluations(so, {}) == 32 and ode_evaluations(so, {"solver": "rk4", "step_size": 0.25}) == 16
    assert ode_evaluations(plain, {"solver": "rk4"}) == 1


def test_an_soblock_costs_its_ode_flops_more_not_32_times_its_euler_twin():
    t = table({"model": "resnet-20", "batch": 128, "train_images_per_s": 13000.0},
              {"model": "resnet-20", "batch": 512, "train_images_per_s": 50000.0})
    dopri = run_cost(d_table2("SOBlock Dopri5 (tol=0.1)"), table=t)
    euler = run_cost(d_table2("SOBlock Euler"), table=t)
    size = model_size("soblock-wrn-34-10", {}, "cifar10")
    flops = (size["flops"] + 31 * size["ode_flops"]) / size["flops"]
    layers = (size["layers"] + 31 * size["ode_layers"]) / size["layers"]
    ratio = dopri.train_hours / euler.train_hours
    assert min(flops, layers) - 1e-9 <= ratio <= max(flops, layers) + 1e-9
    assert ratio < 1.05                                         # the stem is 0.01% of WRN-34-10's FLOPs
    wrn = run_cost({**d_table2("SOBlock Euler"), "model": {"name": "wrn-34-10", "overrides": {}}}, table=t)
    assert euler.train_hours / wrn.train_hours == pytest.approx(size["flops"] / model_size("wrn-34-10", {}, "cifar10")
                                                                ["flops"], rel=1e-6)
    shipped = [run_cost(d_table2(f"SOBlock {s}")).train_hours for s in ("Dopri5 (tol=0.1)", "Euler")]
    assert shipped[0] < 3 * shipped[1]


def test_every_attack_of_d_table2s_suite_is_counted_pgd_1000_above_all():
    cost = entry_cost(get_entry("D-table2"))
    assert len(cost.runs) == 16 and not cost.error
    for _run, c in cost.runs:
        parts = {p["what"]: (p["points"], p["iterations"]) for p in c.parts}
        assert parts == {"pgd20@0.031": (10000, 20.0), "pgd1000@0.031": (10000, 1000.0)}
        assert c.eval_hours * 3600 == pytest.approx(10000 * 1020 / c.attack.images_per_s)
    assert cost.eval_hours > 0.25 * cost.hours
    d1 = evaluation_iterations(protocol_of(get_entry("D-table1")), "cifar10")
    assert sum(p["iterations"] for p in d1) == 2 * 1020          # PGD-1000 in L∞ and in L2, PGD-20 in both


def test_suite_attacks_noise_and_spsa_queries_are_counted():
    spsa = evaluation_iterations(protocol_of(get_entry("D-table4")), "cifar10")
    assert {p["what"]: p["iterations"] for p in spsa} == {"cw_linf@0.031": 100, "spsa@0.031": 20 * 2 * 32 * 0.5}
    noise = evaluation_iterations(protocol_of(get_entry("A-table1")), "cifar10")
    assert [(p["what"], p["iterations"]) for p in noise] == [("cifar10c (20 noisy copies)", 10.0)]
    a3 = evaluation_iterations(protocol_of(get_entry("A-table3")), "cifar10")
    assert sum(p["iterations"] for p in a3) == 3 * (1 + 20 + 20)  # FGSM, IFGSM-20, PGD-20 at three radii
    assert evaluation_iterations(protocol_of(get_entry("E-table1")), "cifar10") == []


def test_resnext_29_for_300_epochs_costs_more_than_resnet_164():
    runs = {r.model: r.config for r in expand_runs(get_entry("A-table1"), "paper")
            if r.config["data"]["dataset"] == "cifar100"}
    resnext, resnet = run_cost(runs["resnext-29"]), run_cost(runs["resnet-164"])
    assert runs["resnext-29"]["run"]["epochs"] == runs["resnet-164"]["run"]["epochs"] == 300
    assert resnext.train_hours > 1.5 * resnet.train_hours
    # where both are compute-bound, the cost is in the ratio of their FLOPs
    big = table({"model": "resnet-20", "batch": 8, "train_images_per_s": 1000.0})
    data = {"data": {"dataset": "cifar100", "batch_size": 4096}}
    ratio = run_cost(runs["resnext-29"] | data, table=big).train_hours / run_cost(runs["resnet-164"] | data,
                                                                                   table=big).train_hours
    assert ratio == pytest.approx(model_size("resnext-29", {}, "cifar100")["flops"]
                                  / model_size("resnet-164", {}, "cifar100")["flops"])


def test_a_wrong_throughput_row_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"rows\[0\]: path 'turbo'"):
        table({"model": "resnet-20", "batch": 512, "path": "turbo", "train_images_per_s": 1.0})
    with pytest.raises(ValueError, match=r"rows\[0\]: source 'nowhere'"):
        table({"source": "nowhere", "model": "resnet-20", "batch": 512, "train_images_per_s": 1.0})
    with pytest.raises(ValueError, match=r"rows\[0\]: pack 4 with path 'fast'"):
        table({"model": "resnet-20", "batch": 512, "path": "fast", "pack": 4, "train_images_per_s": 1.0})
    with pytest.raises(ValueError, match=r"rows\[0\]: train_images_per_s / attack_images_per_s must be > 0"):
        table({"model": "resnet-20", "batch": 512, "train_images_per_s": None})


def test_shipped_model_sizes_cover_the_registry_and_match_a_fresh_count():
    """`python -m stablenets.reproduce.sizes --check` recounts all; here every key and a few recounts."""
    keys = registry_keys()
    missing = sorted(set(keys) - set(load_sizes()))
    assert not missing, f"run `python -m stablenets.reproduce.sizes --missing`: model_sizes.json lacks {missing[:5]}"
    text = next(k for k in keys if k.endswith("|ag_news"))
    for key in (size_key("resnet-20", {}, "cifar10"), size_key("soblock-32", {"solver": "rk4"}, "cifar10"), text):
        assert load_sizes()[key] == count_size(*keys[key]), f"{key}: run `python -m stablenets.reproduce.sizes`"


def test_reproduce_list_prints_each_entrys_hours_basis_and_the_total(capsys):
    from stablenets.cli import main

    assert main(["reproduce", "list", "--scale", "paper"]) == 0
    out = capsys.readouterr()
    assert "counting the FLOPs" not in out.err                  # every size ships with the package
    rows = [line.split() for line in out.out.splitlines() if re.match(r"[A-E]-(table|fig)\d+ ", line)]
    priced = [(r[3], r[4]) for r in rows if r[3] != "—"]
    assert priced and {basis for _, basis in priced} <= {"measured", "derived"}
    total = re.search(r"(\d+) entries; about ([\d,]+) GPU-hours at paper scale", out.out)
    assert total and int(total[1]) == len(rows)
    assert int(total[2].replace(",", "")) == pytest.approx(sum(float(h) for h, _ in priced), abs=1)
    readme = (Path(__file__).parents[1] / "README.md").read_text(encoding="utf-8")
    quoted = re.search(r"prints about \*\*([\d,]+) GPU-hours\*\*", readme)
    assert quoted and quoted[1] == total[2], \
        f"README's 'Cost estimates' quotes {quoted and quoted[1]} GPU-hours; the list prints {total[2]}: update it"


def test_the_code_protocol_is_priced_with_its_own_epochs_and_models(capsys):
    """E's code trains CIFAR-10 for 159 epochs, same models: exactly 159/160 of the paper's training hours.
    C's code trains 150 epochs (not 180) of GroupNorm networks: priced from their own sizes, cheaper."""
    from stablenets.cli import main

    paper, code = entry_cost(get_entry("E-table3")), entry_cost(get_entry("E-table3"), protocol="code")
    assert code.train_hours == pytest.approx(paper.train_hours * 159 / 160, rel=1e-9)
    assert [r.protocol for r, _ in code.runs] == ["code"] * len(code.runs)
    c_paper, c_code = entry_cost(get_entry("C-table2")), entry_cost(get_entry("C-table2"), protocol="code")
    assert all(r.config["run"]["epochs"] == 150 for r, _ in c_code.runs)
    assert c_code.train_hours < c_paper.train_hours
    assert main(["reproduce", "list", "C-table2", "--scale", "paper", "--protocol", "code"]) == 0
    out = capsys.readouterr()
    assert "counting the FLOPs" not in out.err  # the code protocol's models ship their sizes too
    total = re.search(r"about ([\d,.]+) GPU-hours at paper scale under the code protocol", out.out)
    assert total and float(total[1].replace(",", "")) == pytest.approx(c_code.hours, abs=0.01)


def test_the_initialisation_is_no_part_of_a_models_size():
    """init changes no shape and no FLOPs: a code protocol's init = "torch" shares the paper model's counts."""
    assert size_key("resnet-20", {"init": "torch", "h": 0.1}, "cifar10") == size_key("resnet-20", {"h": 0.1}, "cifar10")
    assert size_key("resnet-20", {"post_activation": True}, "cifar10") != size_key("resnet-20", {}, "cifar10")
