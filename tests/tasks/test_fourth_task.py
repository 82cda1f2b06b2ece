"""A fourth task, added from outside lumos: an ordinal regressor, which places each image on
its classes' scale as one number (blue 0, green 1, red 2 here). Adding it touches only this
module: the task (its objective, its reading of the graph, its result) and its network in
the zoo. It then goes through import, training, prediction, evaluation, export and serving
as the three built-in tasks do (docs/architecture.md, "Adding a task")."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import lumos
from helpers import colour_folders, running_server
from lumos.bundle import Bundle
from lumos.data import Dataset, import_dataset
from lumos.data.loader import BatchLoader, at_size
from lumos.deploy.export import export_bundle
from lumos.deploy.from_job import bundle_from_job
from lumos.deploy.runtime import load_predictor
from lumos.deploy.serve import ServeSettings, create_server
from lumos.models.registry import REGISTRY, register
from lumos.tasks import TASKS, register_task
from lumos.tasks.base import (
    Batches,
    GraphRun,
    Merge,
    Objective,
    Prepare,
    Seen,
    Setup,
    Task,
    TrainedModel,
    alone,
)
from lumos.tasks.inputs import seen
from lumos.tasks.predictor import Predictor
from lumos.tasks.report import Report
from lumos.train import Recipe
from lumos.workspace import Workspace


@dataclass
class Placed:
    """Where one image falls on the scale, and the class nearest to it."""

    source: str
    value: float
    classes: list[str]
    error: str | None = None

    @property
    def label(self) -> str:
        return self.classes[int(np.clip(np.rint(self.value), 0, len(self.classes) - 1))]

    def as_dict(self) -> dict[str, Any]:
        if self.error:
            return {"source": self.source, "error": self.error}
        return {"source": self.source, "value": self.value, "label": self.label}

    def served(self) -> dict[str, Any]:
        return self.as_dict()

    def describe(self) -> str:
        return f"{self.source}: {self.value:.2f} ({self.label})"

    def rows(self) -> list[dict[str, Any]]:
        return [self.as_dict()]

    def display(self) -> list[dict[str, Any]]:
        return [{"label": self.label, "value": self.value}]

    def draw(self, image: Path | np.ndarray, out: Path) -> Path:
        raise NotImplementedError("an ordinal answer has nothing to draw")


class Squared(Objective):
    """The class index as the target of a squared error; right where it rounds to it."""

    def targets(self, labels: Any, stored: tuple[int, ...], *, train: bool) -> Any:
        return labels.to(self.setup.device).float()

    def loss(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(logits.float()[:, 0], targets)

    def validate(
        self, model: nn.Module, loader: Batches, prepare: Prepare, merge: Merge = alone
    ) -> dict[str, float]:
        total, right, loss_sum = 0, 0.0, 0.0
        for values, labels, _, loss in self.scored_batches(model, loader, prepare):
            total, loss_sum = total + len(labels), loss_sum + loss
            right += (values[:, 0].cpu().round() == labels).sum().item()
        parts = merge((total, right, loss_sum))  # every process's counts
        total, right, loss_sum = (sum(p[i] for p in parts) for i in range(3))
        return {"val_loss": loss_sum / total, "val_accuracy": right / total}


class Ordinal(Task):
    name = "ordinal"
    noun = "ordinal regressor"
    does = "places images on their classes' scale"
    targets = "labels"
    default_metric = "val_accuracy"
    needs = "class labels"
    example_network = "ordinal_net"

    def fits(self, dataset: Dataset) -> bool:
        return dataset.has_class_labels

    def suggested_network(self, size: tuple[int, int], channels: int) -> str:
        return "ordinal_net"

    def objective(self, setup: Setup) -> Objective:
        return Squared(setup, 1)

    def score(
        self, bundle: TrainedModel, part: Dataset, split: str, folder: Path, *, trust_code: bool
    ) -> Report:
        run = Predictor(bundle, trust_code=trust_code).outputs
        metric, value = self.graph_score(bundle, run, part)
        per_class = [{"class": name} for name in bundle.labels]
        return Report(part.name, split, bundle.labels, {metric: value}, per_class)

    def graph_answer(
        self, bundle: TrainedModel, outputs: list[np.ndarray], seen: Seen, top: int
    ) -> Placed:
        return Placed(seen.source, float(outputs[0][0]), bundle.labels)

    def failed(self, bundle: TrainedModel, source: str, reason: str) -> Placed:
        return Placed(source, float("nan"), bundle.labels, error=reason)

    def graph_score(self, bundle: TrainedModel, run: GraphRun, part: Dataset) -> tuple[str, float]:
        size = bundle.preprocessing.input_size
        values = [
            run(at_size(images, size).numpy())[0][:, 0] for images, _ in BatchLoader(part, 64)
        ]
        return "accuracy", float((np.rint(np.concatenate(values)) == part.labels()).mean())

    def tensors(self, bundle: TrainedModel, results: Sequence[Placed]) -> dict[str, np.ndarray]:
        return {"value": np.array([[r.value] for r in results], dtype=np.float32)}

    def tensor_specs(self, bundle: TrainedModel) -> list[tuple[str, str, list[int]]]:
        return [("value", "FP32", [-1, 1])]


def ordinal_net(num_classes: int, in_channels: int, input_size: tuple[int, int]) -> nn.Module:
    """One number per image, whatever the number of classes."""
    return nn.Sequential(
        nn.Conv2d(in_channels, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 1),
    )


@pytest.fixture
def ordinal() -> Iterator[Task]:
    """The task and its network, registered for this test alone."""
    task = register_task(Ordinal())
    register("ordinal_net", "toy", "a number per image", task="ordinal", default_input=(3, 16, 16))(
        ordinal_net
    )
    yield task
    del TASKS["ordinal"], REGISTRY["ordinal_net"]


def test_a_task_registered_from_outside_imports_trains_predicts_exports_and_serves(
    ordinal: Task, workspace: Workspace, tmp_path: Path
) -> None:
    import_dataset(colour_folders(tmp_path / "colours"), "colours", workspace=workspace)
    recipe = Recipe(dataset="colours", network="ordinal_net", epochs=40, batch_size=8,
                    optimizer="adam", lr=0.02, precision="fp32", seed=0)  # fmt: skip
    job = lumos.train(recipe, workspace=workspace, progress=False)
    assert job.state == "done"
    bundle = Bundle.load(bundle_from_job(job.id, "ordinal", workspace=workspace))
    assert bundle.task is ordinal

    images = sorted((tmp_path / "colours").glob("*/*.png"))
    answers = bundle.predict([*images, tmp_path / "missing.png"])
    right = [a.label == Path(a.source).parent.name for a in answers[:-1]]
    assert sum(right) >= 0.9 * len(images), [a.describe() for a in answers]
    assert answers[-1].as_dict() == {
        "source": str(tmp_path / "missing.png"),
        "error": "no such file",
    }

    report, _ = lumos.evaluate("ordinal", "colours", "test", workspace=workspace)
    assert report.metrics["accuracy"] >= 0.75

    exported = export_bundle(bundle)
    assert exported.path.suffix == ".onnx" and exported.check.agreement == 1.0
    pixels = [seen(image, bundle).pixels for image in images[:4]]
    eager, onnx = (
        np.stack([share[0] for share in predictor.shares(pixels)])
        for predictor in (Predictor(bundle), load_predictor(bundle, "onnxruntime"))
    )
    assert np.abs(eager - onnx).max() <= 1e-5 * max(1.0, float(np.abs(eager).max()))

    app = create_server(load_predictor(bundle, "onnxruntime"), ServeSettings())
    with running_server(app) as (url, _):
        native = httpx.post(f"{url}/v1/predict", files={"file": ("a.png", images[0].read_bytes())})
        served = native.json()["predictions"][0]
        assert served["label"] == answers[0].label
        encoded = base64.b64encode(images[0].read_bytes()).decode()
        request = {"inputs": [{"name": "image_bytes", "shape": [1], "datatype": "BYTES",
                               "data": [encoded]}]}  # fmt: skip
        v2 = httpx.post(f"{url}/v2/models/ordinal/infer", content=json.dumps(request)).json()
    (value,) = v2["outputs"]
    assert value["name"] == "value" and value["shape"] == [1, 1]
    assert value["data"][0] == pytest.approx(served["value"], abs=1e-5)
