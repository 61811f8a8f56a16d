"""``stablenets analyze KIND [CHECKPOINT|RUN_DIR …]``: PNG + JSON + Markdown/HTML report.

Kinds: stability (roots, ZeroSNet region, Euler regions, IVP; inputs: preset names, "zerosnet:λ",
coefficients "α0,α1,…[:β]", or checkpoints for their learned coefficients), jacobian, landscape
(1–4 checkpoints on the same test point), coefficients, dynamics (run directories), flow
(mlp-moons checkpoints), solver (continuous models), sweeps (run directories or a folder of them).
Output goes to ``--out``, else the (first) run directory given, else ./analysis. The numeric
options are checked (:data:`RANGES`) and the output folder made before any model is loaded.
"""
from __future__ import annotations

from pathlib import Path


def _out_dir(args) -> Path:
    if args.out:
        return Path(args.out)
    first = Path(args.inputs[0]) if args.inputs else None
    if first is not None and first.exists():
        return first.parent if first.is_file() else first
    return Path("analysis")


# The accepted values of the numeric options (stablenets.settings.check keywords), checked before any work.
RANGES = {"index": dict(integer=True, ge=0), "points": dict(integer=True, ge=1),
          "block": dict(optional=True, each=dict(integer=True, ge=0)), "k": dict(integer=True, ge=1),
          "radius": dict(gt=0), "radius_255": dict(gt=0), "grid": dict(integer=True, ge=3),
          "severity": dict(integer=True, ge=1, le=5), "threshold": dict(), "eps": dict(ge=0, le=255),
          "alpha": dict(gt=0, le=255), "pgd_steps": dict(integer=True, ge=1),
          "tolerances": dict(nonempty=True, each=dict(gt=0))}


def _check(args) -> None:
    from stablenets.settings import SettingError, check

    for name, range_ in RANGES.items():
        check(f"--{name.replace('_', '-')}", getattr(args, name), **range_)
    if args.grid % 2 == 0:
        raise SettingError(f"--grid = {args.grid}: must be odd (the input sits at the centre of the grid)")


def _run(args) -> int:
    from stablenets.analysis.kinds import KINDS
    from stablenets.analysis.report import write_report
    from stablenets.atomic import check_writable
    from stablenets.device import resolve_device

    _check(args)
    args.device = resolve_device(args.device)
    out = _out_dir(args)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} is a file, not a folder")
    check_writable(out, "the analysis", "nothing was analysed")
    title, sections, data = KINDS[args.kind](args, out)
    paths = write_report(out, args.kind, title, sections, data)
    print(f"wrote {paths['markdown']} (with {paths['json'].name}, {paths['html'].name} and the PNGs)")
    return 0


# The kinds of analysis.kinds.KINDS, named here so that parsing the arguments imports no analysis
# (a test keeps the two equal).
KIND_NAMES = ("coefficients", "dynamics", "flow", "jacobian", "landscape", "solver", "stability", "sweeps")


def register(subparsers) -> None:
    from stablenets.device import add_device_argument

    p = subparsers.add_parser("analyze", help="figures and tables of the papers for your models and runs",
                              description=__doc__)
    p.add_argument("kind", choices=KIND_NAMES)
    p.add_argument("inputs", nargs="*", help="checkpoints (model.safetensors or run dirs), run dirs, or schemes")
    p.add_argument("--out", help="output directory (default: the first run directory, else ./analysis)")
    add_device_argument(p)
    p.add_argument("--dataset", help="data set of the test point (default: the checkpoint's)")
    p.add_argument("--data-root", help="data root (default: the checkpoint's config, else $STABLENETS_DATA)")
    p.add_argument("--index", type=int, default=0, help="index of the test point (default 0)")
    p.add_argument("--points", type=int, default=500, help="flow: number of test points (default 500)")
    p.add_argument("--block", type=int, action="append", help="jacobian: block index (repeatable; default all)")
    p.add_argument("--k", type=int, default=6, help="jacobian: eigen/singular values per block (default 6)")
    p.add_argument("--radius", type=float, default=1e-3, help="jacobian: C-stability perturbation norm")
    p.add_argument("--radius-255", type=float, default=8.0, help="landscape: half-width in units of 1/255")
    p.add_argument("--grid", type=int, default=21, help="landscape: odd number of points per axis")
    p.add_argument("--corruption", help="landscape: CIFAR-10-C noise on the input, e.g. gaussian_noise")
    p.add_argument("--severity", type=int, default=3, help="landscape: corruption severity 1..5")
    p.add_argument("--threshold", type=float, default=0.01, help="coefficients: share above this value")
    p.add_argument("--eps", type=float, default=8.0, help="solver: PGD radius in units of 1/255")
    p.add_argument("--alpha", type=float, default=2.0, help="solver: PGD step in units of 1/255")
    p.add_argument("--pgd-steps", type=int, default=10, help="solver: PGD iterations")
    p.add_argument("--tolerances", type=float, nargs="+", default=[1e-1, 1e-2, 1e-3, 1e-4],
                   help="solver: rtol = atol values")
    p.add_argument("--metric", default="test_acc", choices=["test_acc", "train_acc", "gap"],
                   help="sweeps: metric against h and depth")
    p.set_defaults(func=_run)
