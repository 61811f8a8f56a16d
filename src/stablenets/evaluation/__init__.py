"""Robustness evaluation: named suites per paper, noise, attacks, masking diagnostics, reports.

    from stablenets.evaluation import evaluate_robustness, write_report
    result = evaluate_robustness(model, x, y, suite="D", overrides={"attacks.pgd.steps": 50})
    write_report(result, run_dir)        # robustness-D.json + robustness-D.md, atomically
"""
from stablenets.evaluation.suites import SUITES, get_suite, list_suites

# Loaded on first use (PEP 562): the command line starts without torch.
_LAZY = {
    "masking_flags": "stablenets.evaluation.diagnostics",
    "run_probes": "stablenets.evaluation.diagnostics",
    "to_markdown": "stablenets.evaluation.report",
    "write_report": "stablenets.evaluation.report",
    "evaluate_robustness": "stablenets.evaluation.robustness",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'stablenets.evaluation' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = ["evaluate_robustness", "write_report", "to_markdown", "get_suite", "list_suites", "SUITES",
           "run_probes", "masking_flags"]
