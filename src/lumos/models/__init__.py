"""Networks: the zoo (ours, torchvision's, timm's), YAML layer lists, summaries and surgery."""

from lumos.models.network import NetworkSpec, build_network
from lumos.models.registry import InputChoice, input_for
from lumos.models.summary import ModelSummary, summarize
from lumos.models.zoo import (
    ModelError,
    build_model,
    default_input,
    default_normalize,
    list_models,
)

__all__ = [
    "InputChoice",
    "ModelError",
    "ModelSummary",
    "NetworkSpec",
    "build_model",
    "build_network",
    "default_input",
    "default_normalize",
    "input_for",
    "list_models",
    "summarize",
]
