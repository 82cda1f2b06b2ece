"""Detectors and segmenters through the whole deploy path: INT8 scored by mAP50 or mIoU,
`lumos bench`, and `lumos serve` answering boxes in the file's pixels or masks (its own
routes and the Open Inference Protocol, spoken by the real tritonclient)."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Iterator

import httpx
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.ops import box_iou

from helpers import (
    detector_recipe,
    import_squares,
    run_cli,
    running_server,
    square_boxes,
    squares_recipe,
)
from lumos.data import Dataset, import_dataset
from lumos.deploy import Bundle
from lumos.deploy.from_job import bundle_from_job
from lumos.deploy.optimize import run_optimization
from lumos.deploy.runtime import predictor_for
from lumos.deploy.serve import ServeSettings, create_server
from lumos.train import train
from lumos.workspace import Workspace


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """``boxes``: the light FCOS trained on red and blue squares (64x64, fp32); ``masks``: a
    U-Net trained on bright squares (32x32)."""
    root = tmp_path_factory.mktemp("task-deploy")
    workspace = Workspace(root / "ws").ensure()
    import_dataset(square_boxes(root / "boxes"), "boxes", workspace=workspace)
    detector = detector_recipe(
        "boxes", network="fcos_cs3darknet_n_fpn", input_size=(64, 64), epochs=20, lr=0.004
    )
    bundle_from_job(train(detector, workspace=workspace, progress=False).id, "boxes",
                    workspace=workspace)  # fmt: skip
    import_squares(root / "masks", workspace, test_percent=20)
    segmenter = squares_recipe().model_copy(update={"precision": "fp32"})
    bundle_from_job(train(segmenter, workspace=workspace, progress=False).id, "masks",
                    workspace=workspace)  # fmt: skip
    return workspace


@pytest.fixture(scope="module")
def served(home: Workspace) -> Iterator[str]:
    predictors = [predictor_for(Bundle.load(n, home), "onnxruntime") for n in ("boxes", "masks")]
    with running_server(create_server(predictors, ServeSettings(max_delay_ms=2))) as (url, _):
        yield url


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _test_scene(home: Workspace) -> tuple[np.ndarray, torch.Tensor, list[str]]:
    """The first test image of ``boxes`` at twice its size, with its boxes and classes."""
    part = Dataset.open("boxes", home).split("test")
    record = part[0]
    image = np.asarray(Image.fromarray(record.image).resize((128, 128), Image.Resampling.NEAREST))
    boxes = torch.as_tensor(record.boxes, dtype=torch.float32) * 2
    return image, boxes, [part.classes[int(k)] for k in record.box_labels]


def test_a_detector_quantises_to_int8_scored_by_map50(
    home: Workspace, tmp_path, monkeypatch, capsys
):
    artefact = run_optimization("boxes", precision="int8", workspace=home)
    assert artefact.metric == "mAP50"
    assert artefact.baseline >= 0.7 and abs(artefact.delta) <= 0.05
    assert Bundle.load("boxes", home).meta.artefacts["int8"]["metric"] == "mAP50"
    monkeypatch.setenv("LUMOS_HOME", str(home.root))
    code, _, err = run_cli(
        monkeypatch, capsys, "bench", "boxes", "--backends", "torch,onnxruntime:int8",
        "--batch-sizes", "1,2", "--seconds", "0", "--out", str(tmp_path / "bench"),
    )  # fmt: skip
    assert code == 0, err
    rows = list(csv.DictReader((tmp_path / "bench" / "bench.csv").open()))
    assert [(r["target"], r["batch"]) for r in rows] == [
        ("torch", "1"), ("torch", "2"), ("onnxruntime:int8", "1"), ("onnxruntime:int8", "2"),
    ]  # fmt: skip
    code, _, err = run_cli(
        monkeypatch, capsys, "optimize", "boxes", "--precision", "int8", "--prune", "0.5"
    )
    assert code == 2 and "is a detector: pruning covers classifiers" in err


def test_a_segmenter_quantises_to_int8_scored_by_miou(home: Workspace) -> None:
    artefact = run_optimization("masks", precision="int8", workspace=home)
    assert artefact.metric == "mIoU"
    assert artefact.baseline >= 0.6 and abs(artefact.delta) <= 0.05


def test_served_boxes_are_in_the_files_pixels(served: str, httpclient, home: Workspace) -> None:
    image, truth, classes = _test_scene(home)
    answer = httpx.post(f"{served}/v1/models/boxes/predict", files={"f": ("s.png", _png(image))})
    assert answer.status_code == 200, answer.text
    found = answer.json()["predictions"][0]
    assert found["source"] == "s.png" and found["error"] is None
    boxes = torch.tensor([o["box"] for o in found["objects"]])
    overlap = box_iou(truth, boxes)
    best = overlap.max(1)
    assert (best.values >= 0.6).all()  # every square found where it is in this 128-pixel file
    assert [found["objects"][i]["label"] for i in best.indices.tolist()] == classes

    client = httpclient.InferenceServerClient(served.removeprefix("http://"))
    model = client.get_model_metadata("boxes")
    assert [o["name"] for o in model["outputs"]] == ["image", "boxes", "scores", "labels"]
    files = httpclient.InferInput("image_bytes", [2], "BYTES")
    files.set_data_from_numpy(np.array([_png(image), _png(image)], dtype=object))
    result = client.infer("boxes", [files])
    count = len(found["objects"])
    assert result.as_numpy("image").tolist() == [0] * count + [1] * count
    np.testing.assert_allclose(result.as_numpy("boxes")[:count], boxes.numpy(), atol=0.06)
    assert [v.decode() for v in result.as_numpy("labels")[:count]] == [
        o["label"] for o in found["objects"]
    ]
    tensor = httpclient.InferInput("images", [1, 3, 64, 64], "FP32")
    small = np.asarray(Image.fromarray(image).resize((64, 64), Image.Resampling.NEAREST))
    tensor.set_data_from_numpy((small.transpose(2, 0, 1)[None] / 255).astype(np.float32))
    in_input_pixels = client.infer("boxes", [tensor]).as_numpy("boxes")
    assert box_iou(truth / 2, torch.tensor(in_input_pixels)).max(1).values.min() >= 0.6


def test_served_masks_come_as_png_and_as_a_tensor(served: str, httpclient, home: Workspace) -> None:
    part = Dataset.open("squares", home).split("test")
    record = part[0]
    answer = httpx.post(
        f"{served}/v1/models/masks/predict",
        json={"image": base64.b64encode(_png(record.image[:, :, 0])).decode()},
    )
    assert answer.status_code == 200, answer.text
    found = answer.json()["predictions"][0]
    mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(found["mask_png"]))))
    assert mask.shape == (32, 32) and set(found["shares"]) <= {"background", "square"}
    truth = record.mask == 1
    assert (mask == 1)[truth].mean() >= 0.6 and (mask == 0)[~truth].mean() >= 0.9
    client = httpclient.InferenceServerClient(served.removeprefix("http://"))
    files = httpclient.InferInput("image_bytes", [1], "BYTES")
    files.set_data_from_numpy(np.array([_png(record.image[:, :, 0])], dtype=object))
    tensor = client.infer("masks", [files]).as_numpy("mask")
    assert tensor.dtype == np.uint8 and tensor.shape == (1, 32, 32)
    np.testing.assert_array_equal(tensor[0], mask)
