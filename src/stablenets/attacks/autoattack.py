"""AutoAttack (Croce & Hein, ICML 2020) through whichever package is installed.

Two packages provide it, with different APIs:

- ``autoattack``: the upstream code (github.com/fra31/auto-attack) that RobustBench uses,
  ``AutoAttack(model, norm=, eps=, version=, device=, seed=, log_path=)`` and
  ``run_standard_evaluation(x, y, bs=)`` returning x_adv;
- ``pyautoattack``: its PyPI fork (``pip install pyautoattack``), keyword-only
  ``AutoAttack(model, norm=, eps=, version=, device=, seed=)`` and
  ``run_standard_evaluation(x, y, batch_size=)`` returning (x_adv, y_adv); it logs through
  the ``auto-attack`` logger instead of printing.

Both run the same standard version (APGD-CE, APGD-T, FAB-T, Square, each on the survivors
of the previous ones) and give the same x_adv for the same seed. :func:`autoattack_run`
returns x_adv together with what ran: the package, its version, and AutoAttack's own
warnings (randomised model, non-logit outputs, dynamic defence, Square beating the
gradient attacks), which the evaluation report carries. The upstream package is preferred
when both are installed (it is the reference RobustBench numbers come from).

AutoAttack is meant to run once over the whole evaluation set (its cascade and its checks
see every point); the evaluation calls it that way (``whole_set`` in the registry).
"""
from __future__ import annotations

import contextlib
import importlib
import importlib.metadata
import io
import logging
import os
import tempfile
import warnings
from dataclasses import dataclass

import torch
from torch import nn

from stablenets.attacks.base import Norm, attack_mode, check_attack_inputs
from stablenets.settings import setting

__all__ = ["autoattack", "autoattack_run", "autoattack_available", "autoattack_backend", "AutoAttackSettings",
           "INSTALL_HINT", "BACKENDS"]

BACKENDS = ("autoattack", "pyautoattack")   # import names, in order of preference
INSTALL_HINT = ("AutoAttack needs one of the optional packages 'pyautoattack' (PyPI) or 'autoattack' "
                "(github.com/fra31/auto-attack): pip install 'stablenets[autoattack]'  (or: pip install pyautoattack)")


@dataclass
class AutoAttackSettings:
    eps: float = setting(8 / 255, "radius of the ball around the clean x, pixel units", ge=0)
    norm: str = setting("linf", "norm of the ball", choices=("linf", "l2"))
    version: str = setting("standard", "AutoAttack version", choices=("standard", "plus", "rand"))
    batch_size: int = setting(500, "AutoAttack's own batch size", ge=1, integer=True)


def autoattack_backend() -> str | None:
    """The import name of the installed AutoAttack package (upstream preferred), or None."""
    for name in BACKENDS:
        try:
            found = importlib.util.find_spec(name) is not None
        except (ImportError, ValueError):   # a module set to None in sys.modules (tests) or a broken one
            found = False
        if found:
            return name
    return None


def autoattack_available() -> bool:
    return autoattack_backend() is not None


def _version(module, name: str) -> str:
    version = getattr(module, "__version__", None)
    if version:
        return str(version)
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.DEBUG)
        self.messages: list[tuple[int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append((record.levelno, record.getMessage()))


def _reset_dynamic_check(backend: str) -> None:
    """Zero the call counters of AutoAttack's dynamic-defence check.

    Both packages keep them in a module-level dict (``checks.funcs``) that is never reset, so
    once one model that calls autograd in its forward was checked, every later run in the same
    process would warn "dynamic defense" too.
    """
    try:
        checks = importlib.import_module(f"{backend}.checks")
    except ImportError:
        return
    for key in getattr(checks, "funcs", {}):
        checks.funcs[key] = 0


def _fit_classes(aa, classes: int) -> list[str]:
    """Standard AutoAttack targets 9 classes; with fewer, target all others (APGD-T needs ≥ 4 classes)."""
    if classes >= 10:
        return []
    k = classes - 1
    aa.apgd_targeted.n_target_classes = k
    aa.fab.n_target_classes = k
    if classes < 4:
        aa.attacks_to_run = [a for a in aa.attacks_to_run if a != "apgd-t"]
    return [f"the model has {classes} classes (standard AutoAttack assumes ≥ 10): APGD-T and FAB-T target the "
            f"{k} other classes" + ("; APGD-T (DLR loss needs ≥ 4 classes) is left out" if classes < 4 else "")]


def autoattack_run(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float = 8 / 255, *,
                   norm: str = "linf", version: str = "standard", batch_size: int = 500, seed: int = 0,
                   backend: str | None = None, log=None) -> tuple[torch.Tensor, dict]:
    """(x_adv, info): info = {"package", "version", "warnings", "log"}.

    ``log`` (optional) receives AutoAttack's progress lines as they come (pyautoattack) or
    after the run (upstream, which writes them to a log file).
    """
    from stablenets.attacks.registry import get_attack_spec

    norm = Norm.parse(norm)
    get_attack_spec("autoattack").make(dict(eps=eps, norm=norm.value, version=version, batch_size=batch_size))
    check_attack_inputs(x, y, eps)
    backend = backend or autoattack_backend()
    if backend is None:
        raise ImportError(INSTALL_HINT)
    try:
        module = importlib.import_module(backend)
    except ImportError as err:
        raise ImportError(INSTALL_HINT) from err
    aa_norm = {"linf": "Linf", "l2": "L2"}[norm.value]
    with attack_mode(model), torch.no_grad():
        classes = int(model(x[:1]).shape[1])
    _reset_dynamic_check(backend)
    caught: list[str] = []
    lines: list[str] = []
    with attack_mode(model), warnings.catch_warnings(record=True) as raised:
        warnings.simplefilter("always")
        if backend == "pyautoattack":
            handler = _Records()
            logger = logging.getLogger("auto-attack")
            old_level = logger.level
            logger.addHandler(handler)
            logger.setLevel(logging.DEBUG)
            if log is not None:
                forward = logging.Handler(logging.DEBUG)
                forward.emit = lambda record: log(record.getMessage())
                logger.addHandler(forward)
            try:
                aa = module.AutoAttack(model, norm=aa_norm, eps=float(eps), version=version, device=x.device,
                                       seed=seed)
                caught += _fit_classes(aa, classes)
                out = aa.run_standard_evaluation(x.detach(), y, batch_size=batch_size)
            finally:
                logger.removeHandler(handler)
                if log is not None:
                    logger.removeHandler(forward)
                logger.setLevel(old_level)
            caught += [m for level, m in handler.messages if level >= logging.WARNING]
            lines += [m for _, m in handler.messages]
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "autoattack.log")
                with contextlib.redirect_stdout(io.StringIO()) as printed:
                    aa = module.AutoAttack(model, norm=aa_norm, eps=float(eps), version=version,
                                           device=x.device, seed=seed, log_path=path)
                    caught += _fit_classes(aa, classes)
                    out = aa.run_standard_evaluation(x.detach(), y, bs=batch_size)
                text = open(path).read() if os.path.exists(path) else printed.getvalue()
            lines += [line for line in text.splitlines() if line.strip()]
            caught += [line.split("Warning:", 1)[1].strip() for line in lines if "Warning:" in line]
            if log is not None:
                for line in lines:
                    log(line)
        caught += [str(w.message) for w in raised]
    x_adv = out[0] if isinstance(out, tuple) else out
    info = {"package": backend, "version": _version(module, backend),
            "warnings": list(dict.fromkeys(caught)), "log": lines}
    return x_adv.detach(), info


def autoattack(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float = 8 / 255, *,
               norm: str = "linf", version: str = "standard", batch_size: int = 500,
               seed: int = 0) -> torch.Tensor:
    """x_adv from AutoAttack's ``run_standard_evaluation`` (ball around x, pixels in [0, 1])."""
    return autoattack_run(model, x, y, eps, norm=norm, version=version, batch_size=batch_size, seed=seed)[0]
