"""Bundles: a trained model a user can carry (typed metadata and safetensors weights), and
the workspace's store of them. Below train, evaluate and deploy, which all use them."""

from lumos.bundle.bundle import ARTEFACTS, META, SUFFIX, WEIGHTS, Bundle
from lumos.bundle.meta import BUNDLE_VERSION, DEFAULT_SCORE_THRESHOLD, BundleMeta
from lumos.bundle.store import (
    list_bundles,
    model_folder,
    remove_bundle,
    save_bundle,
    saved_meta,
    serving,
)
from lumos.errors import BundleError

__all__ = [
    "ARTEFACTS",
    "BUNDLE_VERSION",
    "DEFAULT_SCORE_THRESHOLD",
    "META",
    "SUFFIX",
    "WEIGHTS",
    "Bundle",
    "BundleError",
    "BundleMeta",
    "list_bundles",
    "model_folder",
    "remove_bundle",
    "save_bundle",
    "saved_meta",
    "serving",
]
