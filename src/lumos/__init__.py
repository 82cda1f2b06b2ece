"""lumos: a visual recognition workbench.

``lumos.train(recipe)`` trains, ``lumos.evaluate(model, dataset)`` scores a model,
``lumos.data`` imports datasets and ``lumos.deploy.Bundle.load(path).predict(images)`` uses a
trained model.
Sub-packages load on first use, so ``import lumos`` stays light.
"""

import importlib
from types import ModuleType

__version__ = "0.1.0"
_LAZY = ("data", "deploy", "evaluate", "models", "train")


def __getattr__(name: str) -> ModuleType:
    if name in _LAZY:
        return importlib.import_module(f"lumos.{name}")
    raise AttributeError(f"module 'lumos' has no attribute {name!r}")
