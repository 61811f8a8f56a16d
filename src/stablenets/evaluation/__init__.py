"""Robustness evaluation: named suites per paper, noise, attacks, masking diagnostics, reports.

    from stablenets.evaluation import evaluate_robustness, write_report
    result = evaluate_robustness(model, x, y, suite="D", overrides={"attacks.pgd.steps": 50})
    write_report(result, run_dir)        # robustness-D.json + robustness-D.md, atomically
"""
from stablenets.evaluation.diagnostics import masking_flags, run_probes
from stablenets.evaluation.report import to_markdown, write_report
from stablenets.evaluation.robustness import evaluate_robustness
from stablenets.evaluation.suites import SUITES, get_suite, list_suites

__all__ = ["evaluate_robustness", "write_report", "to_markdown", "get_suite", "list_suites", "SUITES",
           "run_probes", "masking_flags"]
