"""Transfer learning: the model store (weights a user has, imported as saved models),
starting a training from one of them, and estimating beforehand how well each would suit a
target (:mod:`lumos.transfer.estimators`)."""

from lumos.transfer.library_input import WeightsInput, weights_input
from lumos.transfer.store import IMAGENET, ImportRequest, class_names, import_model
from lumos.transfer.weights import read_weights

__all__ = [
    "IMAGENET",
    "ImportRequest",
    "WeightsInput",
    "class_names",
    "import_model",
    "read_weights",
    "weights_input",
]
