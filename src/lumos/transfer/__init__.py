"""Transfer learning: the model store (weights a user has, imported as saved models), and
starting a training from one of them."""

from lumos.transfer.store import IMAGENET, ImportRequest, import_model
from lumos.transfer.weights import read_weights

__all__ = ["IMAGENET", "ImportRequest", "import_model", "read_weights"]
