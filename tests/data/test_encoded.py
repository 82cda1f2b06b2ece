"""Re-encoded image shards (JPEG, PNG): what is stored, read back, trained on, and refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from helpers import class_folders, run_cli
from lumos.data import Dataset, ImportOptions, import_dataset
from lumos.data import encoded as encoded_module
from lumos.data.loader import BatchLoader
from lumos.errors import DataError
from lumos.train import Recipe, train
from lumos.workspace import Workspace


def _imported(workspace: Workspace, tmp_path: Path, name: str, encoding: str) -> Dataset:
    source = class_folders(tmp_path / "src", {"cat": 12, "dog": 12}, size=(40, 32))
    import_dataset(source, name, ImportOptions(encoding=encoding), workspace=workspace)
    return Dataset.open(name, workspace)


def test_png_keeps_every_pixel_jpeg_keeps_them_close_and_both_train(
    workspace: Workspace, tmp_path: Path
) -> None:
    raw = _imported(workspace, tmp_path, "raw", "raw")
    png = _imported(workspace, tmp_path, "png", "png")
    jpeg = _imported(workspace, tmp_path, "jpeg", "jpeg")
    assert not list(png.folder.glob("*.u8")) and list(png.folder.glob("images-*.png"))
    everything = np.arange(len(raw))
    assert np.array_equal(png.images(everything), raw.images(everything))
    error = np.abs(jpeg.images(everything).astype(int) - raw.images(everything).astype(int))
    assert error.mean() < 4 and jpeg.store.image(3).shape == raw.store.image(3).shape
    batch, _ = next(iter(BatchLoader(jpeg, 8, shuffle=True, workers=2)))
    assert batch.shape == (8, 3, 32, 40) and batch.dtype == torch.float32
    recipe = Recipe(dataset="jpeg", network="lenet5", epochs=1, batch_size=8, workers=2,
                    precision="fp32")  # fmt: skip
    assert train(recipe, workspace=workspace, progress=False).state == "done"


def test_auto_stores_large_sets_as_jpeg(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _imported(workspace, tmp_path, "small", "auto").store.encoding == "raw"
    monkeypatch.setattr(encoded_module, "AUTO_ABOVE", 1000)
    assert _imported(workspace, tmp_path, "large", "auto").store.encoding == "jpeg"


def test_a_damaged_encoded_store_is_named(workspace: Workspace, tmp_path: Path) -> None:
    jpeg = _imported(workspace, tmp_path, "jpeg", "jpeg")
    shard = jpeg.folder / "images-00000.jpeg"
    data = bytearray(shard.read_bytes())
    data[0:4] = b"junk"  # the first image no longer starts as a JPEG
    shard.write_bytes(bytes(data))
    with pytest.raises(DataError, match="record 0: its stored image is damaged"):
        Dataset.open("jpeg", workspace).images(np.arange(3))
    shard.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(DataError, match="images-00000.jpeg is shorter than its index says"):
        Dataset.open("jpeg", workspace)


def test_the_encoding_from_the_command_line(
    workspace: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    source = class_folders(tmp_path / "src", {"a": 6, "b": 6})
    code, _, err = run_cli(monkeypatch, capsys, "data", "import", str(source), "--name", "x",
                           "--encoding", "png")  # fmt: skip
    assert code == 0, err
    assert Dataset.open("x", workspace).store.encoding == "png"
