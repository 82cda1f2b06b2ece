"""The choices a user picks from, each defined once: the library validates against these
types, the CLI offers them as its options' choices and the web's request models publish
them in the OpenAPI schema. Light on purpose (typing alone), so that ``lumos --help``
lists them without loading PyTorch. A recipe's own choices (optimiser, precision, ...) are
in :mod:`lumos.recipe`, as light.
"""

from __future__ import annotations

from typing import Literal

# Importing a dataset
TaskKind = Literal["classification", "detection", "segmentation"]  # what a source is labelled for
ResizeMode = Literal["squash", "crop", "fill", "half-crop"]  # how an image meets the size
ImageEncoding = Literal["auto", "raw", "jpeg", "png"]  # how imported images are stored
VocCorners = Literal["pixels", "edges"]  # VOC box numbers: 1-based pixels or 0-based edges

# Importing weights: how their inputs are resized (Pillow's filters, as torchvision and timm)
Interpolation = Literal["bilinear", "bicubic", "nearest"]

# Deploying a model
ExportFormat = Literal["onnx", "torchscript"]
ArtefactPrecision = Literal["fp32", "fp16", "int8", "int8-dynamic"]  # an optimised artefact's
Pruning = Literal["unstructured", "channels"]  # weights zeroed, or channels removed
Backend = Literal["torch", "torch-cuda", "onnxruntime", "onnxruntime-cuda", "tensorrt"]

# Using a model
DetectionMethod = Literal["sliding-window", "heatmap", "model"]  # how boxes are found
