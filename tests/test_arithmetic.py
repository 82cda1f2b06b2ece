"""The arithmetic `precision: auto` chooses, and a fast training down each path.

LUMOS_NATIVE_BF16=1 (or 0) makes lumos believe the CPU computes bf16 natively (or not), so
both paths run on every machine; the whole suite is run both ways before a release
(docs/training.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from helpers import colour_folders
from lumos.arithmetic import NATIVE_BF16_VARIABLE, choose
from lumos.data import import_dataset
from lumos.models import build_model
from lumos.models.normalization import identity, normalized_model
from lumos.tasks import task_named
from lumos.train import Recipe, train
from lumos.workspace import Workspace


@pytest.mark.parametrize(
    ("native", "task", "expected"),
    [
        ("1", "classification", "cpu bf16 autocast"),
        ("1", "detection", "cpu bf16 autocast"),
        ("1", "segmentation", "cpu fp32"),  # bf16 cost segmenters mIoU: BENCHMARKS.md
        ("0", "classification", "cpu fp32"),
        ("0", "detection", "cpu fp32"),
    ],
)
def test_auto_follows_the_cpu_and_the_task(
    monkeypatch: pytest.MonkeyPatch, native: str, task: str, expected: str
) -> None:
    monkeypatch.setenv(NATIVE_BF16_VARIABLE, native)
    allowed = task_named(task).cpu_autocast
    assert choose("auto", "cpu", cpu_autocast=allowed).describe() == expected
    assert choose("fp32", "cpu", cpu_autocast=allowed).describe() == "cpu fp32"
    assert choose("bf16", "cpu", cpu_autocast=allowed).describe() == "cpu bf16 autocast"


@pytest.mark.parametrize(("native", "arithmetic"), [("1", "bf16 autocast"), ("0", "fp32")])
def test_a_classifier_learns_down_each_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, native: str, arithmetic: str
) -> None:
    monkeypatch.setenv(NATIVE_BF16_VARIABLE, native)
    workspace = Workspace(tmp_path / "ws")
    import_dataset(colour_folders(tmp_path / "src"), "colours", workspace=workspace)
    recipe = Recipe(dataset="colours", network="lenet5", epochs=6, batch_size=4, lr=0.05, workers=0)
    job = train(recipe, workspace=workspace, progress=False)
    assert f"(cpu {arithmetic})" in (job.folder / "log.txt").read_text()
    epochs = [json.loads(line) for line in (job.folder / "metrics.jsonl").read_text().splitlines()]
    assert max(r.get("val_accuracy", 0) for r in epochs) >= 0.9


def test_detector_steps_stay_finite_in_bf16_at_small_inputs() -> None:
    """At 64 pixels P7 sees a 1x1 map: oneDNN's bf16 convolution gave NaN weight gradients
    there in about one step of five on AMX CPUs, so the coarse levels run in fp32."""
    torch.manual_seed(0)
    model = normalized_model(build_model("fcos_resnet18_fpn", 3, 3, (64, 64)), identity(3))
    model.train()
    images = torch.rand(2, 3, 64, 64)
    targets = [{"boxes": torch.tensor([[8.0, 8.0, 30.0, 30.0]]), "labels": torch.tensor([1])}] * 2
    for _ in range(12):
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            loss = sum(model(images, targets).values())
        loss.backward()
        assert torch.isfinite(loss)
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
