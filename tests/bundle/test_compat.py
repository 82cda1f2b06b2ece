"""Bundles written before the tasks and typed metadata still load, predict and re-save."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lumos.bundle import Bundle, BundleError
from lumos.workspace import Workspace

# Saved by lumos 0.1 at commit 7263e93 (before issue 12): an untrained LeNet-5, three classes.
OLD_BUNDLE = Path(__file__).parents[1] / "fixtures" / "written-by-lumos-0.1.lumos"
OLD_TOP = [("circle", 0.359624058), ("square", 0.348873615), ("triangle", 0.291502267)]


def _image() -> np.ndarray:
    return (np.arange(28 * 28).reshape(28, 28, 1) * 7 % 256).astype(np.uint8)


def test_a_bundle_of_lumos_0_1_predicts_as_it_did(tmp_path: Path) -> None:
    bundle = Bundle.load(OLD_BUNDLE)
    assert bundle.task.name == "classification" and bundle.labels == [
        "circle",
        "square",
        "triangle",
    ]
    assert (
        bundle.preprocessing.size == (28, 28) and bundle.meta.provenance["dataset"] == "shapes-gray"
    )
    [prediction] = bundle.predict([_image()], top=3)
    assert [label for label, _ in prediction.top] == [label for label, _ in OLD_TOP]
    np.testing.assert_allclose([p for _, p in prediction.top], [p for _, p in OLD_TOP], atol=1e-5)
    again = Bundle.load(bundle.save(tmp_path / "again"))  # re-saved: the same description
    original = json.loads(zipfile.ZipFile(OLD_BUNDLE).read("bundle.json"))
    assert again.meta.as_json() == original


def test_a_bundle_with_a_wrong_field_names_it(tmp_path: Path) -> None:
    original = json.loads(zipfile.ZipFile(OLD_BUNDLE).read("bundle.json"))
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "bundle.json").write_text(json.dumps({**original, "labels": "circle"}))
    (folder / "weights.safetensors").write_bytes(
        zipfile.ZipFile(OLD_BUNDLE).read("weights.safetensors")
    )
    with pytest.raises(BundleError, match="bundle.json: labels: Input should be a valid list"):
        Bundle.load(folder, Workspace(tmp_path))
