"""torchvision's COCO detectors and segmenters by name: pulled into the store with their
class names and normalisation, predicting, and starting a fine-tune whose head keeps the
rows of the classes it shares by name (from torch.hub's cache here: no network)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torchvision.models import get_model

from helpers import cache_torchvision_weights, run_cli, square_boxes, square_masks
from lumos.bundle import Bundle
from lumos.data import import_dataset
from lumos.jobs import list_jobs, open_job
from lumos.pretrained import IMAGENET
from lumos.pretrained.library_input import torchvision_weights
from lumos.workspace import Workspace

DETECTOR = "torchvision:fcos_resnet50_fpn.COCO_V1"
SEGMENTER = "torchvision:deeplabv3_mobilenet_v3_large.COCO_WITH_VOC_LABELS_V1"
TRAIN = ("epochs=1", "batch_size=4", "workers=0", "precision=fp32")


def _cache(
    spec: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **options: object
) -> dict[str, torch.Tensor]:
    """Random weights of torchvision's model for ``spec`` (nothing is downloaded), as its
    file holds them (batch norms without step counts, as frozen batch norms save them), in
    torch.hub's cache; returns them."""
    network, weights = torchvision_weights(spec.partition(":")[2])
    outputs = len(weights.meta["categories"])
    model = get_model(network, weights=None, weights_backbone=None, num_classes=outputs, **options)
    state = {k: v for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")}
    cache_torchvision_weights(weights, state, tmp_path / "torch", monkeypatch)
    return state


def _kept(pulled: Bundle, state: dict[str, torch.Tensor]) -> bool:
    """Whether every tensor of ``state`` is in the pulled model as it was (under the name
    lumos gives it)."""
    prefix = next(k for k in pulled.weights if k.endswith(next(iter(state))))[
        : -len(next(iter(state)))
    ]
    return all(torch.equal(pulled.weights[prefix + k], v) for k, v in state.items())


def _trained(workspace: Workspace, network: str) -> str:
    """The log of the one training job, which trained ``network`` to the end."""
    job = open_job(workspace, next(j["id"] for j in list_jobs(workspace) if j["kind"] == "train"))
    assert job.state == "done" and job.params["network"] == network, job.error
    return (job.folder / "log.txt").read_text()


def test_a_coco_detector_is_pulled_predicts_and_starts_a_fine_tune_by_class_name(
    workspace: Workspace, tmp_path: Path, monkeypatch, capsys
) -> None:
    state = _cache(DETECTOR, tmp_path, monkeypatch)
    code, _, err = run_cli(monkeypatch, capsys, "models", "pull", DETECTOR)
    assert code == 0, err
    pulled = Bundle.load("fcos_resnet50_fpn-coco_v1", workspace)
    assert pulled.task.name == "detection" and len(pulled.labels) == 91
    assert pulled.labels[:3] == ["background", "person", "bicycle"]
    pre = pulled.preprocessing
    assert pre.size == (512, 512) and pre.resize_shorter is None
    assert [*pre.mean, *pre.std] == pytest.approx([*IMAGENET[0], *IMAGENET[1]])
    image = np.random.default_rng(0).integers(0, 255, (96, 128, 3), dtype=np.uint8)
    (answer,) = pulled.predict([image])
    assert answer.error is None and answer.boxes.shape[1:] == (4,) and _kept(pulled, state)

    boxes = square_boxes(tmp_path / "boxes", count=8, names=("person", "kite"))
    import_dataset(boxes, "boxes", workspace=workspace)
    code, _, err = run_cli(monkeypatch, capsys, "train", "dataset=boxes", f"init={DETECTOR}",
                           "warmup_epochs=0", *TRAIN)  # fmt: skip
    assert code == 0, err
    log = _trained(workspace, "fcos_resnet50_fpn")
    assert "its head shares 3 of 3 classes by name" in log, log  # background, person, kite


def test_a_coco_segmenter_is_pulled_without_its_training_head_and_fine_tuned(
    workspace: Workspace, tmp_path: Path, monkeypatch, capsys
) -> None:
    state = _cache(SEGMENTER, tmp_path, monkeypatch, aux_loss=True)  # an auxiliary head, as saved
    code, _, err = run_cli(monkeypatch, capsys, "models", "pull", SEGMENTER)
    assert code == 0, err
    pulled = Bundle.load("deeplabv3_mobilenet_v3_large-coco_with_voc_labels_v1", workspace)
    assert pulled.task.name == "segmentation" and pulled.labels[:2] == ["background", "aeroplane"]
    assert not [k for k in pulled.weights if "aux_classifier" in k]
    assert _kept(pulled, {k: v for k, v in state.items() if not k.startswith("aux_classifier.")})
    assert pulled.preprocessing.size == (520, 520)
    (answer,) = pulled.predict([np.zeros((60, 80, 3), np.uint8)])
    assert answer.error is None and answer.mask.shape == (520, 520)  # at the stored size

    import_dataset(square_masks(tmp_path / "squares", count=12), "squares", val_percent=25,
                   workspace=workspace)  # fmt: skip
    code, _, err = run_cli(monkeypatch, capsys, "train", "dataset=squares", f"init={SEGMENTER}",
                           *TRAIN)  # fmt: skip
    assert code == 0, err
    log = _trained(workspace, "deeplabv3_mobilenet_v3_large")
    assert "its head shares 1 of 2 classes by name" in log, log  # background
