"""stablenets: neural networks built from numerical ODE schemes, and how robust they are.

A network is a backbone (stages of residual branches, a stem, a head) times a
scheme (how the history of states and the branch output make the next state)::

    import stablenets
    model = stablenets.create_model("zerosnet-opt-56", num_classes=10)
    stablenets.list_models()
"""
# Loaded on first use (PEP 562): the command line starts without torch.
_LAZY = {
    "create_model": "stablenets.models.registry",
    "list_models": "stablenets.models.registry",
    "get_scheme": "stablenets.schemes",
    "list_schemes": "stablenets.schemes",
}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module 'stablenets' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def train(config, run_dir, **kwargs):
    """Train one run; see :func:`stablenets.training.train`."""
    from stablenets.training import train as _train

    return _train(config, run_dir, **kwargs)


def evaluate_robustness(model, x, y, suite="quick", **kwargs):
    """Robustness report of a model; see :func:`stablenets.evaluation.evaluate_robustness`."""
    from stablenets.evaluation import evaluate_robustness as _evaluate

    return _evaluate(model, x, y, suite, **kwargs)


__all__ = ["create_model", "list_models", "get_scheme", "list_schemes", "train", "evaluate_robustness"]
__version__ = "0.1.0"
