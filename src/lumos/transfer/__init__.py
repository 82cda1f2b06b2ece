"""Transfer learning: the model store (weights a user has, imported as saved models),
starting a training from one of them, and estimating beforehand how well each would suit a
target (:mod:`lumos.transfer.estimators`)."""

from lumos.transfer.store import IMAGENET, ImportRequest, import_model
from lumos.transfer.weights import read_weights

__all__ = ["IMAGENET", "ImportRequest", "import_model", "read_weights"]
