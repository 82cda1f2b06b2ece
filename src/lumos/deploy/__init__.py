"""Deployment: bundles (a trained model you can carry), prediction, export, serving."""

from lumos.deploy.bundle import Bundle, BundleError, list_bundles, remove_bundle, save_bundle
from lumos.deploy.predict import Prediction, predict

__all__ = [
    "Bundle",
    "BundleError",
    "Prediction",
    "list_bundles",
    "predict",
    "remove_bundle",
    "save_bundle",
]
