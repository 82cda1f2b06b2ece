"""The model zoo: every network lumos can build, registered when the package is imported.

``build_model(name, num_classes, in_channels, input_size)`` builds any registered network
(classifiers, detectors, segmenters) or any timm model as ``timm:NAME``.
"""

from lumos.models import classifiers, detection, segmentation  # noqa: F401 - they register
from lumos.models.registry import (
    REGISTRY,
    ModelEntry,
    ModelError,
    build_model,
    default_input,
    default_normalize,
    list_models,
    model_task,
    register,
)

__all__ = [
    "REGISTRY",
    "ModelEntry",
    "ModelError",
    "build_model",
    "default_input",
    "default_normalize",
    "list_models",
    "model_task",
    "register",
]
