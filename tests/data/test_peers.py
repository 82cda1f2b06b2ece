"""Other tools' files as those tools write them: datumaro writes, lumos imports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lumos.data import Dataset, import_dataset
from lumos.data.export import export_dataset
from lumos.errors import DataError
from lumos.workspace import Workspace


def _boxes_dataset(dm) -> object:
    """Three images, one without objects, classes red and blue, train and val."""
    from datumaro.components.annotation import AnnotationType, Bbox, LabelCategories
    from datumaro.components.dataset_base import DatasetItem
    from datumaro.components.media import Image

    def image(seed: int) -> Image:
        pixels = np.random.default_rng(seed).integers(0, 255, (40, 60, 3), dtype=np.uint8)
        return Image.from_numpy(pixels)

    items = [
        DatasetItem(id="a", subset="train", media=image(0),
                    annotations=[Bbox(2, 3, 10, 8, label=1), Bbox(30, 10, 20, 25, label=0)]),
        DatasetItem(id="empty", subset="train", media=image(1)),
        DatasetItem(id="b", subset="val", media=image(2), annotations=[Bbox(5, 5, 4, 4, label=0)]),
    ]  # fmt: skip
    categories = {AnnotationType.label: LabelCategories.from_iterable(["red", "blue"])}
    return dm.Dataset.from_iterable(items, categories=categories)


def test_datumaros_pascal_voc_keeps_its_label_map_and_its_images_without_objects(
    workspace: Workspace, tmp_path: Path, dm
) -> None:
    _boxes_dataset(dm).export(str(tmp_path / "voc"), "voc_detection", save_media=True)
    import_dataset(tmp_path / "voc", "voc", workspace=workspace)
    data = Dataset.open("voc", workspace)
    assert data.classes == ["red", "blue"] and len(data) == 3
    by_source = {Path(s.source).stem: s for s in data}
    assert {k: s.split for k, s in by_source.items()} == {
        "a": "train",
        "empty": "train",
        "b": "val",
    }
    assert len(by_source["empty"].boxes) == 0
    a = by_source["a"]
    pairs = zip(a.boxes, a.box_labels, strict=True)
    found = sorted((data.classes[int(label)], *np.round(box).tolist()) for box, label in pairs)
    # datumaro writes 0-based edges, which lumos reads as VOC's 1-based pixels: within 1 px.
    expected = [("blue", 2, 3, 12, 11), ("red", 30, 10, 50, 35)]
    for (name, *corners), (want, *wanted) in zip(found, expected, strict=True):
        assert name == want and np.allclose(corners, wanted, atol=1), (found, expected)


def test_darknet_yolo_as_datumaro_writes_it(workspace: Workspace, tmp_path: Path, dm) -> None:
    _boxes_dataset(dm).export(str(tmp_path / "darknet"), "yolo", save_media=True)
    assert (tmp_path / "darknet" / "obj.data").is_file()
    import_dataset(tmp_path / "darknet", "darknet", workspace=workspace)
    data = Dataset.open("darknet", workspace)
    assert data.manifest["format"] == "yolo" and data.classes == ["red", "blue"] and len(data) == 3
    by_source = {Path(s.source).stem: s for s in data}
    splits = {stem: sample.split for stem, sample in by_source.items()}
    assert splits == {"a": "train", "empty": "train", "b": "val"}
    assert len(by_source["empty"].boxes) == 0
    a = by_source["a"]
    found = sorted((data.classes[int(label)], *box.tolist())
                   for box, label in zip(a.boxes, a.box_labels, strict=True))  # fmt: skip
    expected = [("blue", 2, 3, 12, 11), ("red", 30, 10, 50, 35)]
    for (name, *corners), (want, *wanted) in zip(found, expected, strict=True):
        assert name == want and np.allclose(corners, wanted, atol=1), (found, expected)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("classes = 1\nnames = data/missing.names\n", "names file 'data/missing.names' not found"),
        ("names = ../../etc/passwd\n", "leads outside the source folder"),
    ],
)
def test_a_bad_darknet_file_is_named(
    workspace: Workspace, tmp_path: Path, text: str, message: str, dm
) -> None:
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "obj.data").write_text(text)
    with pytest.raises(DataError, match=message):
        import_dataset(tmp_path / "bad", "bad", workspace=workspace)
    assert not (workspace.datasets_dir / "bad").exists()


def test_kitti_as_datumaro_writes_it_under_a_subset_folder(
    workspace: Workspace, tmp_path: Path, dm
) -> None:
    from datumaro.components.dataset_base import DatasetItem

    whole = _boxes_dataset(dm)
    one_subset = dm.Dataset.from_iterable(
        [DatasetItem(id=i.id, media=i.media, annotations=i.annotations) for i in whole],
        categories=whole.categories(),
    )
    one_subset.export(str(tmp_path / "kitti"), "kitti_detection", save_media=True)
    assert (tmp_path / "kitti" / "default" / "image_2").is_dir()
    import_dataset(tmp_path / "kitti", "kitti", workspace=workspace)
    data = Dataset.open("kitti", workspace)
    assert data.task == "detection" and len(data) == 3
    assert set(data.classes) == {"red", "blue"}
    by_source = {Path(s.source).stem: s for s in data}
    assert len(by_source["empty"].boxes) == 0 and len(by_source["a"].boxes) == 2


def test_labelme_xml_both_ways_with_datumaro(workspace: Workspace, tmp_path: Path, dm) -> None:
    _boxes_dataset(dm).export(str(tmp_path / "labelme"), "label_me", save_media=True)
    import_dataset(tmp_path / "labelme", "labelme", workspace=workspace)
    data = Dataset.open("labelme", workspace)
    assert data.manifest["format"] == "labelme-xml" and len(data) == 3
    assert set(data.classes) == {"red", "blue"}
    by_source = {Path(s.source).stem: s for s in data}
    assert {stem: s.split for stem, s in by_source.items()} == {
        "a": "train", "empty": "train", "b": "val"
    }  # fmt: skip
    a = by_source["a"]
    found = sorted((data.classes[int(label)], *box.tolist())
                   for box, label in zip(a.boxes, a.box_labels, strict=True))  # fmt: skip
    assert found == [("blue", 2, 3, 12, 11), ("red", 30, 10, 50, 35)]
    export_dataset("labelme", "labelme-xml", tmp_path / "back", workspace=workspace)
    again = dm.Dataset.import_from(str(tmp_path / "back"), "label_me")
    assert len(again) == 3
    boxes = sorted((b.x, b.y, b.x + b.w, b.y + b.h) for item in again for b in item.annotations)
    assert np.allclose(boxes, sorted(b[1:] for b in [*found, ("", 5, 5, 9, 9)]), atol=0.01)
