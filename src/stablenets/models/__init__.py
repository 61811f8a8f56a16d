"""Backbones, residual branches and the preset registry (timm layout)."""
from stablenets.models.layers import input_normalization
from stablenets.models.network import SchemeNet, scheme_coefficients, scheme_parameters, scheme_steps
from stablenets.models.registry import create_model, get_preset, list_models, register_model

__all__ = ["input_normalization", "create_model", "list_models", "get_preset", "register_model", "SchemeNet",
           "scheme_coefficients", "scheme_parameters", "scheme_steps"]
