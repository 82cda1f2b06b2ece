"""Weights trained elsewhere, as saved models: a file a user has (``import_model``), or
weights a library publishes, pulled by name (``pull``: ``torchvision:NAME.TAG``,
``timm:NAME.TAG``, ``hf-hub:ORG/NAME``), each with the input transform and class names its
library states and where it came from. A training run starts from one by name (``init``)."""

from lumos.pretrained.library_input import WeightsInput, weights_input
from lumos.pretrained.store import IMAGENET, ImportRequest, class_names, import_model
from lumos.pretrained.weights import read_weights

__all__ = [
    "IMAGENET",
    "ImportRequest",
    "WeightsInput",
    "class_names",
    "import_model",
    "read_weights",
    "weights_input",
]
