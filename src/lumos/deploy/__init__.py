"""Deployment: bundles (a trained model you can carry), prediction, export, serving."""

from lumos.bundle import Bundle, BundleError, list_bundles, remove_bundle, save_bundle

__all__ = [
    "Bundle",
    "BundleError",
    "list_bundles",
    "remove_bundle",
    "save_bundle",
]
