"""A semantic FPN learns to segment, and its bundle evaluates and predicts.

The goal on the shapes sample (mIoU >= 0.7 in minutes) is measured by `benchmarks/goals.py`.
"""

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import import_squares, run_cli
from lumos.data import Dataset
from lumos.train import Recipe, train
from lumos.workspace import Workspace

SEGMENTER = Recipe(
    dataset="squares", network="fpn_resnet18", epochs=6, batch_size=8, optimizer="adamw",
    lr=0.002, weight_decay=1e-4, warmup_epochs=1, hflip=True, vflip=True, workers=1,
    precision="fp32",
)  # fmt: skip


def test_semantic_fpn_segments_squares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """mIoU >= 0.75 within 6 epochs (0.82 measured in fp32); then eval, predict and export
    through the CLI."""
    workspace = Workspace(tmp_path / "ws")
    import_squares(tmp_path / "squares", workspace, test_percent=10)
    job = train(SEGMENTER, workspace=workspace, progress=False)
    lines = (job.folder / "metrics.jsonl").read_text().splitlines()
    epochs = [r for r in map(json.loads, lines) if r["kind"] == "epoch"]
    assert max(r["val_miou"] for r in epochs) >= 0.75
    monkeypatch.setenv("LUMOS_HOME", str(workspace.root))
    assert run_cli(monkeypatch, capsys, "models", "save", job.id, "--name", "seg")[0] == 0
    code, out, err = run_cli(
        monkeypatch, capsys, "eval", "seg", "--data", "squares", "--out", str(tmp_path / "ev")
    )
    assert code == 0, err
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["miou"] >= 0.6 and metrics["pixel_accuracy"] > 0.9
    sample = Dataset.open("squares", workspace).split("test")[0]
    Image.fromarray(sample.image[:, :, 0]).save(tmp_path / "scene.png")  # grayscale
    code, out, err = run_cli(
        monkeypatch, capsys, "predict", "seg", str(tmp_path / "scene.png"),
        "--out", str(tmp_path / "pred"),
    )  # fmt: skip
    assert code == 0 and "background" in out, err
    mask = np.asarray(Image.open(tmp_path / "pred" / "scene-mask.png"))
    assert (mask == sample.mask).mean() > 0.9
    assert (tmp_path / "pred" / "scene-overlay.png").is_file()
    # Exported, the segmenter gives the same class on (almost) every pixel as PyTorch.
    code, out, err = run_cli(
        monkeypatch, capsys, "export", "seg", "--out", str(tmp_path / "s.onnx")
    )
    assert code == 0, err
    assert "checked on 'squares' test images" in out and "pixel agreement" in out
