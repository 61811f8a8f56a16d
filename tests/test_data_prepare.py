"""Data as later stages take it: one uint8 → [0, 1] conversion, subsets, fallbacks, label checks."""
from __future__ import annotations

import pytest
import torch

from stablenets.data import load, load_splits, load_test_points, to_model_input
from stablenets.data.prepare import check_labels, synthetic_text


def test_uint8_images_become_float32_in_the_unit_interval_within_one_ulp_of_k_over_255():
    k = torch.arange(256, dtype=torch.uint8)
    x = to_model_input(k)
    assert x.dtype == torch.float32 and x[0] == 0 and x[-1] == 1
    exact = k.double() / 255
    ulp = torch.finfo(torch.float32).eps * exact
    assert ((x.double() - exact).abs() <= ulp + 1e-12).all() and (x[1:] > x[:-1]).all()
    codes = torch.randint(0, 70, (2, 5))
    assert to_model_input(codes) is codes  # text codes and points pass through


def test_splits_are_cut_to_their_subsets_and_checked(tmp_path):
    s = load_splits("embedded-mnist", train_subset=40, test_subset=10)
    x, y = load("embedded-mnist", split="train")
    assert s.dataset == "embedded-mnist" and torch.equal(s.x_train, x[:40]) and len(s.y_test) == 10
    with pytest.raises(ValueError, match="train_subset"):
        load_splits("embedded-mnist", train_subset=-3)


def test_missing_files_fall_back_only_when_asked_and_say_so(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_splits("cifar10", tmp_path)
    said = []
    s = load_splits("cifar10", tmp_path, fallback="embedded-mnist", train_subset=8, test_subset=8, log=said.append)
    assert s.dataset == "embedded-mnist" and len(said) == 1 and "cifar10 not on disk" in said[0]
    t = load_splits("ag_news", tmp_path, fallback="embedded-mnist", train_subset=8, log=said.append)
    assert t.dataset == "ag_news" and "synthetic" in said[-1]
    assert torch.equal(t.x_train[:, 0], t.y_train + 1)  # the learnable cue: the first code names the class


def test_synthetic_text_uses_only_alphabet_codes():
    x, y = synthetic_text(50, 4, 30, seed=0)
    assert x.min() >= 1 and x.max() <= 70 and set(y.tolist()) <= {0, 1, 2, 3}


@pytest.mark.parametrize("y, words", [
    (torch.tensor([0, 10]), "0..9"), (torch.tensor([-1, 2]), "0..9"),
    (torch.zeros(3, 2, dtype=torch.long), "shape"), (torch.tensor([0.0, 1.0]), "integers"),
])
def test_labels_out_of_range_or_of_the_wrong_shape_are_refused(y, words):
    with pytest.raises(ValueError, match=words):
        check_labels(y, 10, "test labels")


def test_test_points_are_model_inputs_from_an_index():
    x, y, raw = load_test_points("embedded-mnist", n=3, start=5)
    xa, ya = load("embedded-mnist", split="test")
    assert torch.equal(raw, xa[5:8]) and torch.equal(x, to_model_input(xa[5:8])) and torch.equal(y, ya[5:8])
    with pytest.raises(ValueError, match="outside"):
        load_test_points("embedded-mnist", start=10**6)
    with pytest.raises(ValueError, match="at least 1"):
        load_test_points("embedded-mnist", n=0)
