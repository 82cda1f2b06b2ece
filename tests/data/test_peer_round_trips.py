"""Every direction with the real peers: datumaro writes, lumos imports and exports, datumaro
reads lumos's export; boxes, masks, classes, splits and images without objects survive."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from lumos.data import Dataset, ImportOptions, import_dataset
from lumos.data.export import export_dataset
from lumos.workspace import Workspace
from needs import missing
from peers import (
    BOXES,
    CLASSES,
    SPLITS,
    boxes_dataset,
    masks,
    masks_dataset,
    peer_boxes,
    peer_masks,
    same_boxes,
    unsplit_boxes_dataset,
)


def lumos_boxes(data: Dataset) -> dict[str, tuple[str, list]]:
    found = {}
    for sample in data:
        pairs = zip(sample.boxes.tolist(), sample.box_labels.tolist(), strict=True)
        boxes = sorted((data.classes[label], *box) for box, label in pairs)
        found[Path(sample.source).stem] = (sample.split, boxes)
    return found


@pytest.mark.parametrize(
    ("peer_format", "lumos_format"),
    [
        ("voc_detection", "voc"),
        ("coco_instances", "coco"),
        ("kitti_detection", "kitti"),
        ("cvat", "cvat"),
        ("label_me", "labelme-xml"),
        ("yolo", "yolo"),  # datumaro writes Darknet's layout, lumos Ultralytics'; both read
    ],
)
def test_boxes_go_from_datumaro_through_lumos_and_back_exactly(
    workspace: Workspace, tmp_path: Path, peer_format: str, lumos_format: str, dm
) -> None:
    boxes_dataset().export(str(tmp_path / "peer"), peer_format, save_media=True)
    options = ImportOptions(corners="edges")  # datumaro's VOC convention; others ignore it
    import_dataset(tmp_path / "peer", "boxes", options, workspace=workspace)
    data = Dataset.open("boxes", workspace)
    assert data.manifest["format"] == lumos_format and sorted(data.classes) == sorted(CLASSES)
    assert same_boxes(lumos_boxes(data), atol=0.01), lumos_boxes(data)
    export_dataset("boxes", lumos_format, tmp_path / "back", workspace=workspace, corners="edges")
    back = dm.Dataset.import_from(str(tmp_path / "back"), peer_format)
    assert same_boxes(peer_boxes(back), atol=0.01), peer_boxes(back)


@pytest.mark.parametrize(
    "peer_format",
    ["voc_detection", "coco_instances", "kitti_detection", "cvat", "label_me", "yolo"],
)
def test_every_image_of_datumaros_default_subset_arrives(
    workspace: Workspace, tmp_path: Path, peer_format: str, dm
) -> None:
    """datumaro's own subset when none is named (``default``: for VOC one
    ``ImageSets/Main/default.txt``, no train/val lists): the 5 images of 30 without objects
    (for VOC: without an XML) are imported too, and nothing is reported."""
    unsplit_boxes_dataset(30, without_objects=5).export(
        str(tmp_path / "peer"), peer_format, save_media=True
    )
    import_dataset(tmp_path / "peer", "unsplit", ImportOptions(corners="edges"),
                   workspace=workspace)  # fmt: skip
    data = Dataset.open("unsplit", workspace)
    assert data.report["problems"] == []
    found = lumos_boxes(data)
    assert sorted(found) == [f"image{i:02d}" for i in range(30)]
    assert [stem for stem, (_, boxes) in sorted(found.items()) if not boxes] == [
        f"image{i:02d}" for i in range(5)
    ]
    assert all(len(boxes) == 2 for stem, (_, boxes) in found.items() if stem >= "image05")


def test_voc_corners_are_one_based_pixels_unless_told_otherwise(
    workspace: Workspace, tmp_path: Path, dm
) -> None:
    boxes_dataset().export(str(tmp_path / "peer"), "voc_detection", save_media=True)
    import_dataset(tmp_path / "peer", "pixels", workspace=workspace)
    found = lumos_boxes(Dataset.open("pixels", workspace))
    assert same_boxes(found) and not same_boxes(found, atol=0.5)  # one pixel up and left
    a = dict((name, corners) for name, *corners in found["a"][1])
    assert a["blue"] == [1, 2, 12, 11]  # xmin 2 is the second pixel column: edge 1
    export_dataset("pixels", "voc", tmp_path / "back", workspace=workspace)
    assert "<xmin>2.0000</xmin>" in (tmp_path / "back" / "Annotations" / "a.xml").read_text()


@pytest.mark.parametrize(
    ("peer_format", "lumos_format"), [("voc_segmentation", "voc"), ("cvat", "cvat")]
)
def test_masks_go_from_datumaro_through_lumos_and_back_identical(
    workspace: Workspace, tmp_path: Path, peer_format: str, lumos_format: str, dm
) -> None:
    masks_dataset().export(str(tmp_path / "peer"), peer_format, save_media=True)
    import_dataset(tmp_path / "peer", "masks", workspace=workspace)
    data = Dataset.open("masks", workspace)
    assert data.task == "segmentation" and data.classes == CLASSES
    stored = {Path(s.source).stem: s for s in data}
    assert {stem: s.split for stem, s in stored.items()} == SPLITS
    for stem, mask in masks().items():
        assert np.array_equal(stored[stem].mask, mask), stem
    export_dataset("masks", lumos_format, tmp_path / "back", workspace=workspace)
    back = dm.Dataset.import_from(str(tmp_path / "back"), peer_format)
    painted = peer_masks(back)
    assert set(painted) == set(BOXES)
    for stem, mask in masks().items():
        assert np.array_equal(painted[stem], mask), stem


def _globox_read(out: Path, lumos_format: str) -> object:
    from globox import AnnotationSet

    if lumos_format == "voc":
        return AnnotationSet.from_pascal_voc(out / "Annotations")
    if lumos_format == "cvat":
        return AnnotationSet.from_cvat(out / "annotations.xml")
    parts = []
    for split in ("train", "val"):
        if lumos_format == "labelme":
            parts.append(AnnotationSet.from_labelme(out / split))
        elif lumos_format == "coco":
            parts.append(AnnotationSet.from_coco(out / "annotations" / f"instances_{split}.json"))
        else:
            labels, images = out / "labels" / split, out / "images" / split
            parts.append(
                AnnotationSet.from_yolo_v5(labels, image_folder=images, image_extension=".png")
            )
    return parts[0] | parts[1]


@pytest.mark.parametrize("lumos_format", ["voc", "coco", "cvat", "yolo", "labelme"])
def test_globox_reads_every_lumos_export(
    workspace: Workspace, tmp_path: Path, lumos_format: str, dm, globox
) -> None:
    boxes_dataset().export(str(tmp_path / "peer"), "voc_detection", save_media=True)
    import_dataset(tmp_path / "peer", "boxes", ImportOptions(corners="edges"), workspace=workspace)
    export_dataset("boxes", lumos_format, tmp_path / "out", workspace=workspace, corners="edges")
    annotations = _globox_read(tmp_path / "out", lumos_format)
    names = dict(enumerate(CLASSES))
    found = {
        Path(a.image_id).stem: sorted(
            (names.get(int(b.label), b.label) if b.label.isdigit() else b.label, *b.ltrb)
            for b in a.boxes
        )
        for a in annotations
    }
    assert set(found) == set(BOXES)
    for stem, boxes in BOXES.items():
        assert [b[0] for b in found[stem]] == [b[0] for b in sorted(boxes)], stem
        assert np.allclose([b[1:] for b in found[stem]], [b[1:] for b in sorted(boxes)], atol=0.01)


_CHECK = """
import json, sys
from ultralytics.data.utils import check_det_dataset
checked = check_det_dataset(sys.argv[1])
print(json.dumps({k: checked[k] for k in ("train", "val", "names")}))
"""


def test_ultralytics_finds_the_yolo_export_from_anywhere(
    workspace: Workspace, tmp_path: Path, dm
) -> None:
    """Ultralytics' own dataset check, in a process of its own: importing ultralytics
    replaces PIL.Image.open for the whole process."""
    if importlib.util.find_spec("ultralytics") is None:
        missing("package", "ultralytics is not installed")
    boxes_dataset().export(str(tmp_path / "peer"), "yolo", save_media=True)
    import_dataset(tmp_path / "peer", "boxes", workspace=workspace)
    export_dataset("boxes", "yolo", tmp_path / "out", workspace=workspace)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "YOLO_CONFIG_DIR": str(tmp_path / "settings"), "YOLO_OFFLINE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", _CHECK, str(tmp_path / "out" / "data.yaml")],
        cwd=elsewhere, env=env, capture_output=True, text=True, check=True, timeout=300,
    )  # fmt: skip
    checked = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(checked["train"]) == tmp_path / "out" / "images" / "train"
    assert Path(checked["val"]) == tmp_path / "out" / "images" / "val"
    assert checked["names"] == {str(i): name for i, name in enumerate(CLASSES)}


def _globox_set(images: Path) -> object:
    """BOXES as globox annotations, and their images (60x40) written into ``images``."""
    from globox import Annotation, AnnotationSet, BoundingBox
    from PIL import Image

    images.mkdir(parents=True)
    annotations = []
    for seed, (stem, boxes) in enumerate(BOXES.items()):
        pixels = np.random.default_rng(seed).integers(0, 255, (40, 60, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(images / f"{stem}.png")
        found = [
            BoundingBox(label=n, xmin=x1, ymin=y1, xmax=x2, ymax=y2) for n, x1, y1, x2, y2 in boxes
        ]
        annotations.append(Annotation(image_id=f"{stem}.png", image_size=(60, 40), boxes=found))
    return AnnotationSet(annotations)


@pytest.mark.parametrize("peer_format", ["coco", "voc", "cvat", "yolo"])
def test_what_globox_writes_lumos_imports(
    workspace: Workspace, tmp_path: Path, peer_format: str, globox
) -> None:
    source = tmp_path / "globox"
    images = source / {"voc": "JPEGImages", "yolo": "images/train"}.get(peer_format, "images")
    annotations = _globox_set(images)
    if peer_format == "coco":
        (source / "annotations").mkdir()
        annotations.save_coco(source / "annotations" / "instances_train.json", auto_ids=True)
    elif peer_format == "voc":
        annotations.save_pascal_voc(source / "Annotations")
    elif peer_format == "cvat":
        annotations.save_cvat(source / "annotations.xml")
    else:
        (source / "labels").mkdir()
        annotations.save_yolo_v5(source / "labels" / "train", label_to_id={"red": 0, "blue": 1})
        (source / "data.yaml").write_text("train: images/train\nnames: [red, blue]\n")
    import_dataset(source, "globox", ImportOptions(corners="edges", val_percent=0,
                   test_percent=0), workspace=workspace)  # fmt: skip
    found = lumos_boxes(Dataset.open("globox", workspace))
    assert set(found) == set(BOXES)  # the image without boxes too
    for stem, (_, boxes) in found.items():
        want = sorted(BOXES[stem])
        assert [b[0] for b in boxes] == [w[0] for w in want], (stem, boxes)
        if want:
            assert np.allclose([b[1:] for b in boxes], [w[1:] for w in want], atol=0.01)
