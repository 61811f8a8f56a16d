"""Section ``attacks``: attack throughput, ours against torchattacks' on the same model, in one run, as ratios.

Pairs with equal budgets (images per second, higher is better; ratio = ours / theirs, target ≥ 1.0):

- PGD-20, L∞, ε = 8/255, α = 2/255, random start, last iterate: ``stablenets.attacks.pgd``
  with ``keep_best=False`` (the same algorithm) against ``torchattacks.PGD``; ours with its
  default best-iterate tracking (one more, no-grad, evaluation) is timed too;
- CW-L2, c = 1, κ = 0, lr = 0.01, one binary-search step: ``cw_l2`` against ``torchattacks.CW``;
- SPSA, L∞, ε = 8/255, S samples (2S model evaluations) per iteration: ``spsa`` against
  ``torchattacks.SPSA`` with ``nb_sample = S``, ``max_batch_size = S``.

Each pair is timed interleaved (round-robin) on one fixed batch; the model is in eval mode.
The budgets are equal but the work need not be: torchattacks' CW stops early when its cost
stops falling (checked every steps/10 iterations), and our PGD/SPSA evaluate the model once
more per run/iteration to keep the best iterate. So every attack is also run once with a
forward hook counting the images pushed through the model, and the ratio is reported both
per attack (time) and per model evaluation (forwarded images per second).
torchattacks is an optional, benchmark-only dependency (``pip install --no-deps torchattacks``).
"""
from __future__ import annotations

import torch

import stablenets
from benchmarks._common import interleaved, markdown_table, prepare, random_batch
from stablenets.attacks import cw_l2, pgd, spsa

EPS, ALPHA = 8 / 255, 2 / 255


def attack_cases(model, x, y, pgd_steps=20, cw_steps=20, spsa_steps=5, spsa_samples=32) -> dict:
    """{attack: {"ours": fn, "torchattacks": fn or None}} with equal budgets."""
    try:
        import torchattacks
    except ImportError:
        torchattacks = None
    n_spsa = min(len(x), 8)  # torchattacks' SPSA expands every image to a batch of samples
    xs, ys = x[:n_spsa], y[:n_spsa]
    cases = {
        f"PGD-{pgd_steps}": {"ours": lambda: pgd(model, x, y, EPS, ALPHA, pgd_steps, keep_best=False),
                             "images": len(x)},
        f"PGD-{pgd_steps} best iterate": {"ours": lambda: pgd(model, x, y, EPS, ALPHA, pgd_steps), "images": len(x),
                                          "vs": f"PGD-{pgd_steps}"},
        f"CW-L2-{cw_steps}": {"ours": lambda: cw_l2(model, x, y, c=1.0, steps=cw_steps, lr=0.01), "images": len(x)},
        f"SPSA-{spsa_steps}x{spsa_samples}": {
            "ours": lambda: spsa(model, xs, ys, EPS, spsa_steps, spsa_samples, lr=0.01), "images": n_spsa},
    }
    if torchattacks is not None:
        ta_pgd = torchattacks.PGD(model, eps=EPS, alpha=ALPHA, steps=pgd_steps, random_start=True)
        ta_cw = torchattacks.CW(model, c=1.0, kappa=0, steps=cw_steps, lr=0.01)
        ta_spsa = torchattacks.SPSA(model, eps=EPS, delta=0.01, lr=0.01, nb_iter=spsa_steps,
                                    nb_sample=spsa_samples, max_batch_size=spsa_samples)
        cases[f"PGD-{pgd_steps}"]["torchattacks"] = lambda: ta_pgd(x, y)
        cases[f"CW-L2-{cw_steps}"]["torchattacks"] = lambda: ta_cw(x, y)
        cases[f"SPSA-{spsa_steps}x{spsa_samples}"]["torchattacks"] = lambda: ta_spsa(xs, ys)
    return cases


def attack_speed(model_name="resnet-20", batch=64, device=torch.device("cpu"), repeats=3, **budgets) -> dict:
    torch.manual_seed(0)
    model = prepare(stablenets.create_model(model_name), device).eval()
    x, y = random_batch(batch, device)
    cases = attack_cases(model, x, y, **budgets)
    flat = {f"{a}:{who}": fn for a, c in cases.items() for who, fn in c.items() if who in ("ours", "torchattacks")}
    forwarded = {key: forwarded_images(model, fn) for key, fn in flat.items()}
    timed = interleaved(flat, device, repeats)
    out = {}
    for attack, c in cases.items():
        ours = timed[f"{attack}:ours"]["median_s"]
        ref = c.get("vs", attack)  # the torchattacks run this one is compared with
        theirs = timed.get(f"{ref}:torchattacks", {}).get("median_s")
        f_ours, f_theirs = forwarded[f"{attack}:ours"], forwarded.get(f"{ref}:torchattacks")
        out[attack] = {"images": c["images"], "ours_s": ours, "ours_images_per_s": c["images"] / ours,
                       "torchattacks_s": theirs,
                       "torchattacks_images_per_s": None if theirs is None else c["images"] / theirs,
                       "ratio": None if theirs is None else theirs / ours,
                       "forwarded_ours": f_ours, "forwarded_torchattacks": f_theirs,
                       "ratio_per_evaluation": None if theirs is None else (f_ours / ours) / (f_theirs / theirs),
                       "spread_ours": timed[f"{attack}:ours"]["spread"]}
    return {"model": model_name, "batch": batch, "attacks": out}


def forwarded_images(model, fn) -> int:
    """Images pushed through ``model`` by one call of ``fn`` (a forward hook counts them)."""
    count = [0]
    handle = model.register_forward_pre_hook(lambda _m, args: count.__setitem__(0, count[0] + args[0].shape[0]))
    try:
        fn()
    finally:
        handle.remove()
    return count[0]


def markdown(res: dict) -> str:
    def fmt(v):
        return None if v is None else f"{v:.2f}"

    rows = [[a, r["images"], r["ours_images_per_s"], r["torchattacks_images_per_s"], fmt(r["ratio"]),
             f"{r['forwarded_ours']:,} / {r['forwarded_torchattacks'] or 0:,}", fmt(r.get("ratio_per_evaluation")),
             "—" if r["ratio"] is None else ("met" if max(r["ratio"], r.get("ratio_per_evaluation") or 0) >= 1.0
                                             else "MISSED")]
            for a, r in res["attacks"].items()]
    return (f"{res['model']}, batch {res['batch']}: ours against torchattacks (target ratio ≥ 1.0).\n\n"
            + markdown_table(["attack", "images", "ours img/s", "torchattacks img/s", "ratio (time)",
                              "images forwarded (ours / theirs)", "ratio per evaluation", ""], rows))
