import numpy as np

from lumos.data import Dataset, import_dataset
from lumos.data.samples import SHAPE_CLASSES, digits, shapes
from lumos.workspace import Workspace


def test_digits_sample_is_sklearn_digits_at_28x28(workspace: Workspace) -> None:
    scan = digits()
    assert len(scan.items) == 1797 and scan.classes == [str(d) for d in range(10)]
    dataset = Dataset(import_dataset("sample:digits", "digits"))
    assert dataset.size == (28, 28) and dataset.channels == 1 and len(dataset) == 1797
    assert (
        sum(dataset.manifest["class_counts"]["train"].values())
        == dataset.manifest["splits"]["train"]
    )


def test_shapes_boxes_enclose_exactly_their_mask_pixels() -> None:
    scan = shapes(count=40, size=96, seed=3)
    assert scan.classes == SHAPE_CLASSES
    for item in scan.items:
        assert item.pixels.shape == (96, 96, 3) and 1 <= len(item.boxes) <= 4
        for box in item.boxes:
            value = SHAPE_CLASSES.index(box.label) + 1
            region = item.mask[int(box.y1) : int(box.y2), int(box.x1) : int(box.x2)]
            assert (region == value).any()
            assert region[0].any() or region[:, 0].any()  # the box is tight: touches the shape
        labelled = np.isin(item.mask, [1, 2, 3]).sum()
        covered = sum((b.x2 - b.x1) * (b.y2 - b.y1) for b in item.boxes)
        assert labelled <= covered


def test_shapes_are_repeatable_and_varied() -> None:
    a, b = shapes(count=5, seed=1), shapes(count=5, seed=1)
    assert all(np.array_equal(x.pixels, y.pixels) for x, y in zip(a.items, b.items, strict=True))
    labels = {box.label for item in shapes(count=30).items for box in item.boxes}
    assert labels == set(SHAPE_CLASSES)
