"""The one prediction pipeline: PyTorch runs the graph that is exported, so for every task
the eager and the exported answers are the same, and bad inputs carry their errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lumos.bundle import Bundle
from lumos.bundle.meta import BundleMeta
from lumos.deploy.runtime import Predictor, load_predictor
from lumos.models import NetworkSpec, build_network
from lumos.models.normalization import identity, normalized_model
from lumos.tasks import task_named
from lumos.tasks.inputs import network_input, preprocess

CLASSES = ["circle", "square", "triangle"]
TASKS = {  # task: (network, input size)
    "classification": ("resnet18", (48, 40)),
    "detection": ("fcos_resnet18_fpn", (64, 64)),
    "segmentation": ("fpn_resnet18", (64, 48)),
}


def _bundle(task: str) -> Bundle:
    """An untrained bundle of ``task`` whose detector finds boxes everywhere: its class
    scores start near one half, not at the prior of 1%, each class apart from the others
    (untrained, the classes of a box would score alike and tie)."""
    network, size = TASKS[task]
    labels = task_named(task).outputs(CLASSES)
    spec = NetworkSpec(name=network, num_classes=len(labels), in_channels=3, input_size=size)
    torch.manual_seed(0)
    model = normalized_model(build_network(spec), identity(3))
    head = getattr(getattr(model.net, "head", None), "classification_head", None)
    if head is not None:
        with torch.no_grad():
            head.cls_logits.bias.copy_(torch.linspace(0.5, -1.0, len(labels)))
    meta = BundleMeta(
        name=task, task=task, network=spec, labels=labels, score_threshold=0.3,
        preprocessing={"size": [size[0] * 2, size[1] * 2], "input_size": list(size),
                       "channels": 3},
    )  # fmt: skip
    return Bundle(meta, model.state_dict(), f"untrained {task}")


def _images(count: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    sizes = [(50 + 13 * i, 70 - 7 * i, 3) for i in range(count)]  # each placed its own way
    return [rng.integers(0, 256, size, dtype=np.uint8) for size in sizes]


@pytest.mark.parametrize("task", TASKS)
def test_eager_and_exported_graphs_give_the_same_outputs_and_answers(task: str) -> None:
    bundle = _bundle(task)
    eager, exported = Predictor(bundle), load_predictor(bundle, "onnxruntime")
    images = _images(4)
    batch = network_input([preprocess(image, bundle) for image in images], bundle).numpy()
    found, expected = exported.outputs(batch), eager.outputs(batch)
    assert [o.shape for o in found] == [o.shape for o in expected]
    for mine, theirs in zip(found, expected, strict=True):
        scale = max(1.0, float(np.abs(theirs).max()))
        assert np.abs(mine.astype(np.float64) - theirs).max() <= 1e-5 * scale
    answers = [r.as_dict() for r in exported.predict(images)]
    _assert_alike(answers, [r.as_dict() for r in eager.predict(images)])
    if task == "detection":  # the comparison holds boxes, not an empty list
        assert sum(len(a["objects"]) for a in answers) > 0


def _assert_alike(found: object, expected: object, key: str = "") -> None:
    """Equal answers, numbers to 1e-4 (box corners, rounded to 0.1 pixel, to one step)."""
    if isinstance(expected, dict):
        assert isinstance(found, dict) and found.keys() == expected.keys()
        for k in expected:
            _assert_alike(found[k], expected[k], k)
    elif isinstance(expected, list):
        assert isinstance(found, list) and len(found) == len(expected), key
        for a, b in zip(found, expected, strict=True):
            _assert_alike(a, b, key)
    elif isinstance(expected, float):
        assert found == pytest.approx(expected, abs=0.11 if key == "box" else 1e-4), key
    else:
        assert found == expected, key


@pytest.mark.parametrize("task", TASKS)
def test_an_unreadable_input_carries_its_error_and_the_rest_are_answered(
    task: str, tmp_path: Path
) -> None:
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    results = _bundle(task).predict([corrupt, *_images(2), tmp_path / "missing.png"])
    assert [r.error is None for r in results] == [False, True, True, False]
    assert results[0].source == str(corrupt) and results[1].source == "array"
    assert "no such file" in results[3].error
