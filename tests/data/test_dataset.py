from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import class_folders
from lumos.data import Dataset, import_dataset, sample_grid
from lumos.data.loader import BatchLoader
from lumos.errors import DataError
from lumos.workspace import Workspace


@pytest.fixture
def pets(tmp_path: Path, workspace: Workspace) -> Dataset:
    import_dataset(
        class_folders(tmp_path / "src", {"cat": 10, "dog": 10}),
        "pets",
        val_percent=20,
        test_percent=0,
    )
    return Dataset.open("pets")


def test_sequence_api(pets: Dataset) -> None:
    assert len(pets) == 20 and pets.classes == ["cat", "dog"]
    assert [s.index for s in pets] == list(range(20))
    assert pets[-1].index == 19
    with pytest.raises(IndexError):
        pets[20]
    train = pets.split("train")
    assert len(train) == 16 and all(s.split == "train" for s in train)
    np.testing.assert_array_equal(train.images([0, 3]), np.stack([train[0].image, train[3].image]))
    assert repr(pets) == "Dataset('pets', task='classification', records=20)"


def test_damaged_store_is_reported(pets: Dataset) -> None:
    shard = next(pets.folder.glob("images-*.u8"))
    shard.write_bytes(shard.read_bytes()[:-10])
    with pytest.raises(DataError, match="dataset store is damaged: images-00000.u8 holds"):
        Dataset.open("pets")


def test_batch_loader_covers_every_record_once_per_epoch(pets: Dataset) -> None:
    for workers in (0, 2):
        loader = BatchLoader(pets, 6, shuffle=True, workers=workers, seed=1)
        seen = []
        for images, labels in loader:
            assert images.dtype == torch.float32 and images.shape[1:] == (3, 24, 32)
            assert images.min() >= 0.0 and images.max() <= 1.0
            seen.append(labels)
        assert len(loader) == 4 and sum(len(s) for s in seen) == 20
        assert sorted(torch.cat(seen).tolist()) == sorted(pets.labels().tolist())


def test_batch_loader_order_follows_seed_and_epoch(pets: Dataset) -> None:
    loader = BatchLoader(pets, 20, shuffle=True, seed=4, to_float=False)
    first = next(iter(loader))[0]
    assert torch.equal(first, next(iter(loader))[0])
    loader.set_epoch(1)
    assert not torch.equal(first, next(iter(loader))[0])
    plain = next(iter(BatchLoader(pets, 20, to_float=False)))[0]
    assert torch.equal(plain[0], torch.from_numpy(pets[0].image).permute(2, 0, 1))


def test_sample_grid_draws_boxes_and_filters(tmp_path: Path, workspace: Workspace) -> None:
    import_dataset("sample:shapes", "shapes")
    shapes = Dataset.open("shapes")
    out = sample_grid(shapes, tmp_path / "grid.png", class_name="triangle", count=9)
    picture = np.asarray(Image.open(out))
    assert picture.shape == (3 * (128 + 16), 3 * 128, 3)
    with pytest.raises(DataError, match="unknown class"):
        sample_grid(shapes, tmp_path / "x.png", class_name="hexagon")
