"""Detection with classifiers: sliding window, and the fully convolutional heat map."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import run_cli
from lumos.deploy import Bundle, BundleError, save_bundle
from lumos.models import ModelError, NetworkSpec, build_model, build_network
from lumos.models.fcn import convert_to_fcn
from lumos.models.normalization import identity, normalized_model
from lumos.tasks.detection.search import compare_methods, detect, heatmap_scores, window_scores
from lumos.workspace import Workspace

UNPADDED = [
    {"conv": {"out": 6, "kernel": 5}}, "relu", {"maxpool": 2},
    {"conv": {"out": 12, "kernel": 3}}, "relu", {"maxpool": 2},
    "flatten", {"linear": 32}, "relu", {"linear": "classes"},
]  # fmt: skip
LABELS = ["background", "square"]


def classifier_bundle(
    workspace: Workspace, name: str, layers: list | None = None, network: str = "custom"
) -> Bundle:
    torch.manual_seed(0)
    spec = NetworkSpec(
        name=network, num_classes=2, in_channels=1, input_size=(20, 20), layers=layers
    )
    model = normalized_model(build_network(spec), identity(1))
    meta = {
        "task": "classification", "network": spec.model_dump(mode="json"), "labels": LABELS,
        "preprocessing": {
            "size": [20, 20], "input_size": [20, 20], "channels": 1, "resize_mode": "squash"
        },
        "provenance": {},
    }  # fmt: skip
    save_bundle(name, meta=meta, weights=model.state_dict(), workspace=workspace)
    return Bundle.load(name, workspace)


def test_heatmap_equals_sliding_window_without_padding(tmp_path: Path) -> None:
    bundle = classifier_bundle(Workspace(tmp_path), "unpadded", UNPADDED)
    image = torch.rand(1, 1, 84, 100)
    heat, stride = heatmap_scores(bundle, image)
    assert stride == 4
    slide = window_scores(bundle, image, stride)
    assert heat.shape == slide.shape == (2, (84 - 20) // 4 + 1, (100 - 20) // 4 + 1)
    assert torch.allclose(heat, slide, atol=1e-4)


def test_padded_networks_differ_and_the_difference_is_measured(tmp_path: Path) -> None:
    padded = [{"conv": {"out": 6, "kernel": 5, "padding": 2}}, *UNPADDED[1:]]
    bundle = classifier_bundle(Workspace(tmp_path), "padded", padded)
    difference, stride = compare_methods(bundle, torch.rand(1, 1, 60, 60))
    assert stride == 4 and difference > 1e-4


def test_conversion_names_the_layer_it_cannot_convert() -> None:
    with pytest.raises(
        ModelError, match=r"layer layer2\.0\.downsample\.0 \(Conv2d\) .* residual connections"
    ):
        convert_to_fcn(build_model("resnet18", 5, 3, (32, 32)), (3, 32, 32))
    converted = convert_to_fcn(build_model("lenet5", 5, 1, (32, 32)), (1, 32, 32))
    assert converted.replaced[0] == "classifier.1: Linear(400, 120) -> Conv2d(16, 120, kernel 5x5)"
    assert converted.network(torch.zeros(1, 1, 64, 64)).shape == (1, 5, 9, 9)


def square_scene(path: Path) -> Path:
    pixels = np.zeros((80, 120), np.uint8)
    pixels[30:50, 60:80] = 255
    Image.fromarray(pixels).save(path)
    return path


def test_detect_and_cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    workspace = Workspace(tmp_path / "ws")
    bundle = classifier_bundle(workspace, "finder", UNPADDED)
    scene = square_scene(tmp_path / "scene.png")
    for method in ("sliding-window", "heatmap"):
        found = detect(bundle, scene, method=method, stride=4, threshold=0.0, scales=(1.0, 0.5))
        assert len(found.boxes) == len(found.scores) == len(found.labels) and set(found.labels) <= {
            "square"
        }
        assert (found.boxes[:, 2] <= 120.5).all() and (found.boxes[:, 3] <= 80.5).all()
    monkeypatch.setenv("LUMOS_HOME", str(workspace.root))
    code, out, err = run_cli(
        monkeypatch,
        capsys,
        "detect",
        "finder",
        str(scene),
        "--method",
        "heatmap",
        "--threshold",
        "0",
        "--out",
        str(tmp_path / "out"),
    )
    assert code == 0, err
    detections = json.loads((tmp_path / "out" / "detections.json").read_text())
    assert (
        detections and detections[0]["file_name"] == "scene.png" and len(detections[0]["bbox"]) == 4
    )
    assert Image.open(tmp_path / "out" / "scene-detections.png").size == (360, 240)  # enlarged
    code, out, _ = run_cli(monkeypatch, capsys, "models", "convert-fcn", "finder")
    assert code == 0 and "stride 4 px" in out and "max difference" in out


def test_models_without_background_or_chain_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    workspace = Workspace(tmp_path / "ws")
    bundle = classifier_bundle(workspace, "nobg", UNPADDED)
    bundle.meta.labels = ["cat", "dog"]
    with pytest.raises(BundleError, match="detection needs a model with a 'background' class"):
        detect(bundle, np.zeros((40, 40, 1), np.uint8))
    classifier_bundle(workspace, "res", network="resnet18")
    monkeypatch.setenv("LUMOS_HOME", str(workspace.root))
    _, _, err = run_cli(
        monkeypatch,
        capsys,
        "detect",
        "res",
        str(square_scene(tmp_path / "s.png")),
        "--method",
        "heatmap",
        "--out",
        str(tmp_path / "o"),
    )
    assert "residual connections" in err


def test_tiled_search_never_feeds_the_whole_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from lumos.tasks.detection import search as detect_module

    bundle = classifier_bundle(Workspace(tmp_path), "tiles", UNPADDED)
    image = np.random.default_rng(0).integers(0, 256, (130, 250, 1), dtype=np.uint8)
    whole = detect(bundle, image, method="heatmap", threshold=0.0, iou=1.0)
    same = detect(bundle, image, method="heatmap", threshold=0.0, iou=1.0, tile=400)
    np.testing.assert_array_equal(whole.boxes, same.boxes)
    seen = []
    real_search = detect_module._search
    monkeypatch.setattr(
        detect_module,
        "_search",
        lambda b, part, *a: seen.append(tuple(part.shape[2:])) or real_search(b, part, *a),
    )
    tiled = detect(bundle, image, method="heatmap", threshold=0.0, tile=64, overlap=0.25)
    assert max(max(s) for s in seen) == 64 and len(seen) == 3 * 5
    assert (
        len(tiled.boxes) and (tiled.boxes[:, 2] <= 250).all() and (tiled.boxes[:, 3] <= 130).all()
    )
    with pytest.raises(BundleError, match="--overlap must be at least 0 and below 1"):
        detect(bundle, image, tile=64, overlap=1.5)
