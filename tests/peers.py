"""Small datasets built and read by the peers (datumaro), for the format round-trip tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = ["red", "blue"]
SPLITS = {"a": "train", "empty": "train", "b": "val"}
BOXES = {  # x1, y1, x2, y2 as 0-based edges
    "a": [("blue", 2, 3, 12, 11), ("red", 30, 10, 50, 35)],
    "empty": [],
    "b": [("red", 5, 5, 9, 9)],
}


def _image(seed: int) -> object:
    from datumaro.components.media import Image

    pixels = np.random.default_rng(seed).integers(0, 255, (40, 60, 3), dtype=np.uint8)
    return Image.from_numpy(pixels)


def unsplit_boxes_dataset(count: int, *, without_objects: int) -> object:
    """``count`` images in datumaro's ``default`` subset (no split lists), the first
    ``without_objects`` of them with no boxes, the others with one box of each class."""
    import datumaro as dm
    from datumaro.components.annotation import Bbox
    from datumaro.components.dataset_base import DatasetItem

    items = [
        DatasetItem(
            id=f"image{i:02d}",
            media=_image(i),
            annotations=[] if i < without_objects else [
                Bbox(2 + i % 9, 3, 12, 8, label=0), Bbox(30, 10 + i % 5, 20, 25, label=1)
            ],
        )
        for i in range(count)
    ]  # fmt: skip
    return dm.Dataset.from_iterable(items, categories=_categories())


def _categories() -> dict:
    from datumaro.components.annotation import AnnotationType, LabelCategories

    return {AnnotationType.label: LabelCategories.from_iterable(CLASSES)}


def boxes_dataset() -> object:
    """Three images, one without objects, classes red and blue, train and val (BOXES)."""
    import datumaro as dm
    from datumaro.components.annotation import Bbox
    from datumaro.components.dataset_base import DatasetItem

    items = [
        DatasetItem(
            id=stem,
            subset=SPLITS[stem],
            media=_image(seed),
            annotations=[
                Bbox(x1, y1, x2 - x1, y2 - y1, label=CLASSES.index(name))
                for name, x1, y1, x2, y2 in BOXES[stem]
            ],
        )
        for seed, stem in enumerate(BOXES)
    ]
    return dm.Dataset.from_iterable(items, categories=_categories())


def masks() -> dict[str, np.ndarray]:
    """Class-index masks (0 background, 1 red, 2 blue) of the segmentation set."""
    a = np.zeros((40, 60), np.uint8)
    a[5:20, 10:30] = 2
    a[25:35, 40:55] = 1
    b = np.zeros((40, 60), np.uint8)
    b[0:10, 0:60] = 1
    return {"a": a, "empty": np.zeros((40, 60), np.uint8), "b": b}


def masks_dataset() -> object:
    """The three images with MASKS, one Mask annotation per class present."""
    import datumaro as dm
    from datumaro.components.annotation import Mask
    from datumaro.components.dataset_base import DatasetItem

    items = []
    for seed, (stem, mask) in enumerate(masks().items()):
        regions = [
            Mask((mask == v).astype(np.uint8), label=int(v) - 1) for v in np.unique(mask) if v
        ]
        items.append(
            DatasetItem(id=stem, subset=SPLITS[stem], media=_image(seed), annotations=regions)
        )
    return dm.Dataset.from_iterable(items, categories=_categories())


def peer_boxes(dataset: object) -> dict[str, tuple[str, list]]:
    """{item id: (subset, sorted [(class, x1, y1, x2, y2)])} of a datumaro dataset."""
    from datumaro.components.annotation import AnnotationType

    names = [c.name for c in dataset.categories()[AnnotationType.label]]
    found = {}
    for item in dataset:
        boxes = sorted(
            (names[a.label], a.x, a.y, a.x + a.w, a.y + a.h)
            for a in item.annotations
            if a.type == AnnotationType.bbox
        )
        found[Path(item.id).name] = (item.subset, boxes)
    return found


def peer_masks(dataset: object) -> dict[str, np.ndarray]:
    """{item id: class-index mask} of a datumaro dataset (its Mask annotations painted)."""
    from datumaro.components.annotation import AnnotationType

    names = [c.name for c in dataset.categories()[AnnotationType.label]]
    found = {}
    for item in dataset:
        mask = np.zeros((40, 60), np.uint8)
        for a in item.annotations:
            if a.type == AnnotationType.mask and names[a.label] in CLASSES:
                mask[a.image.astype(bool)] = CLASSES.index(names[a.label]) + 1
        found[Path(item.id).name] = mask
    return found


def same_boxes(found: dict, *, atol: float = 1.0) -> bool:
    """Whether ``found`` ({id: (split, boxes)}) is BOXES in SPLITS, corners within ``atol``."""
    if set(found) != set(BOXES):
        return False
    for stem, (split, boxes) in found.items():
        want = sorted(BOXES[stem])
        if split != SPLITS[stem] or [b[0] for b in boxes] != [w[0] for w in want]:
            return False
        if want and not np.allclose([b[1:] for b in boxes], [w[1:] for w in want], atol=atol):
            return False
    return True
