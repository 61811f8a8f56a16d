"""stablenets: neural networks built from numerical ODE schemes, and how robust they are.

A network is a backbone (stages of residual branches, a stem, a head) times a
scheme (how the history of states and the branch output make the next state)::

    import stablenets
    model = stablenets.create_model("zerosnet-opt-56", num_classes=10)
    stablenets.list_models()
"""
from stablenets.models.registry import create_model, list_models
from stablenets.schemes import get_scheme, list_schemes

__all__ = ["create_model", "list_models", "get_scheme", "list_schemes"]
__version__ = "0.1.0"
