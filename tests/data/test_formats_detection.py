import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import write_image
from lumos.data import Dataset, import_dataset
from lumos.errors import DataError
from lumos.workspace import Workspace


def reasons(dataset: Dataset) -> str:
    return "\n".join(f"{p['kind']} {p['file']}: {p['reason']}" for p in dataset.report["problems"])


def coco_source(root: Path) -> Path:
    write_image(root / "images" / "a.png", (40, 30), seed=1)
    write_image(root / "images" / "b.png", (40, 30), seed=2)
    document = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 40, "height": 30},
            {"id": 2, "file_name": "b.png", "width": 40, "height": 30},
            {"id": 3, "file_name": "missing.png", "width": 40, "height": 30},
            {"id": 4, "file_name": "../../etc/passwd", "width": 40, "height": 30},
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 3, "name": "dog"}],
        "annotations": [
            {
                "id": 10,
                "image_id": 1,
                "category_id": 1,
                "bbox": [5, 5, 10, 8],
                "iscrowd": 0,
                "segmentation": [[5, 5, 15, 5, 15, 13, 5, 13]],
            },
            {
                "id": 11,
                "image_id": 1,
                "category_id": 3,
                "bbox": [30, 20, 20, 20],
                "iscrowd": 1,
                "segmentation": {"size": [30, 40], "counts": [600, 600]},
            },
            {"id": 12, "image_id": 1, "category_id": 99, "bbox": [1, 1, 2, 2]},
            {"id": 13, "image_id": 2, "category_id": 1, "bbox": [10, 10, 0, 5]},
            {"id": 14, "image_id": 2, "category_id": 3, "bbox": "wide"},
            {"id": 15, "image_id": 2, "category_id": 3, "bbox": [60, 60, 5, 5]},
            {"id": 16, "image_id": 77, "category_id": 1, "bbox": [1, 1, 2, 2]},
        ],
    }
    (root / "instances.json").write_text(json.dumps(document))
    return root / "instances.json"


def test_coco_boxes_crowd_masks_and_bad_annotations(tmp_path: Path, workspace: Workspace) -> None:
    dataset = Dataset(
        import_dataset(coco_source(tmp_path / "coco"), "coco", val_percent=0, test_percent=0)
    )
    assert dataset.classes == ["cat", "dog"] and dataset.task == "detection"
    assert dataset.manifest["has_masks"]
    by_source = {s.source: s for s in dataset}
    assert set(by_source) == {"a.png", "b.png"}
    a = by_source["a.png"]
    np.testing.assert_allclose(a.boxes, [[5, 5, 15, 13], [30, 20, 40, 30]])
    assert a.box_labels.tolist() == [0, 1] and a.crowd.tolist() == [False, True]
    assert (a.mask[6:12, 6:14] == 1).all()  # polygon of "cat" is class 1
    assert (a.mask == 2).sum() == 600 and (a.mask[:, 20:] == 2).all()  # RLE: right half
    text = reasons(dataset)
    assert "skipped missing.png: image file not found" in text
    assert "skipped ../../etc/passwd: path leads outside the source folder" in text
    assert "unknown category id 99" in text
    assert "malformed bbox 'wide'" in text
    assert "b.png: box 1 cat [10, 10, 10, 15] has zero area: dropped" in text
    assert "b.png: box 2 dog [60, 60, 65, 65] is outside the image: dropped" in text
    assert "1 annotations refer to no image" in text
    assert "a.png: box 2 dog [30, 20, 50, 40] extends outside the 40x30 image: clipped" in text


def test_coco_malformed_json(tmp_path: Path, workspace: Workspace) -> None:
    (tmp_path / "bad.json").write_text('{"images": [1, 2,, ]}')
    with pytest.raises(
        DataError, match=r"bad.json: malformed JSON: Expecting value at line 1 column 18"
    ):
        import_dataset(tmp_path / "bad.json", "bad")
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="not a COCO file"):
        import_dataset(tmp_path / "list.json", "bad")


def voc_source(root: Path) -> Path:
    write_image(root / "JPEGImages" / "one.jpg", (50, 40), seed=1)
    write_image(root / "JPEGImages" / "two.jpg", (50, 40), seed=2)
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "one.xml").write_text(
        "<annotation><filename>one.jpg</filename><size><width>50</width><height>40</height></size>"
        "<object><name>car</name><difficult>0</difficult><bndbox><xmin>1</xmin><ymin>1</ymin>"
        "<xmax>20</xmax><ymax>10</ymax></bndbox></object>"
        "<object><name>person</name><difficult>1</difficult><bndbox><xmin>30</xmin><ymin>5</ymin>"
        "<xmax>45</xmax><ymax>35</ymax></bndbox></object></annotation>"
    )
    (root / "Annotations" / "two.xml").write_text(
        "<annotation><filename>two.jpg</filename><object>"
    )
    (root / "Annotations" / "three.xml").write_text(
        "<annotation><filename>three.jpg</filename></annotation>"
    )
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "val.txt").write_text("one\n")
    return root


def test_voc_corners_difficult_and_broken_files(tmp_path: Path, workspace: Workspace) -> None:
    dataset = Dataset(import_dataset(voc_source(tmp_path / "voc"), "voc"))
    assert dataset.classes == ["car", "person"]
    assert len(dataset) == 1
    sample = dataset[0]
    assert sample.split == "val"
    np.testing.assert_allclose(sample.boxes, [[0, 0, 20, 10], [29, 4, 45, 35]])
    assert sample.crowd.tolist() == [False, True]
    text = reasons(dataset)
    assert "skipped Annotations/two.xml: malformed XML" in text
    assert "skipped JPEGImages/three.jpg: image file not found" in text


def test_voc_lists_of_any_name_keep_images_without_objects(
    tmp_path: Path, workspace: Workspace
) -> None:
    """A split's list gives its split, any other list of names (datumaro's default.txt) none;
    per-class lists (two columns) add nothing; an image neither listed nor annotated is named."""
    root = voc_source(tmp_path / "voc")
    for stem in ("four", "five", "six"):
        write_image(root / "JPEGImages" / f"{stem}.jpg", (50, 40), seed=len(stem))
    lists = root / "ImageSets" / "Main"
    (lists / "default.txt").write_text("one\nfour\n\n")
    (lists / "train.txt").write_text("five\n")
    (lists / "car_train.txt").write_text("one  1\nseven -1\n")
    dataset = Dataset(import_dataset(root, "voc"))
    assert {Path(s.source).stem: (s.split, len(s.boxes)) for s in dataset} == {
        "one": ("val", 2),
        "four": ("train", 0),
        "five": ("train", 0),
    }  # four has no split of its own: the import put it in train
    assert "skipped JPEGImages/six.jpg: no annotation file and not listed in ImageSets" in (
        reasons(dataset)
    )
    assert "seven" not in reasons(dataset)


def test_voc_billion_laughs_is_refused(tmp_path: Path, workspace: Workspace) -> None:
    root = voc_source(tmp_path / "voc")
    (root / "Annotations" / "one.xml").write_text(
        '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
        "<annotation><filename>&lol2;</filename></annotation>"
    )
    with pytest.raises(DataError, match="no usable images"):
        import_dataset(root, "lol")


def test_voc_segmentation_masks(tmp_path: Path, workspace: Workspace) -> None:
    root = voc_source(tmp_path / "voc")
    (root / "SegmentationClass").mkdir()
    mask = np.zeros((40, 50), np.uint8)
    mask[0:10, 0:20] = 7  # car in the VOC list
    mask[0, :] = 255
    Image.fromarray(mask, "L").save(root / "SegmentationClass" / "one.png")
    dataset = Dataset(import_dataset(root, "vocseg"))
    assert dataset.classes[6] == "car" and len(dataset.classes) == 20
    assert set(np.unique(dataset[0].mask)) == {0, 7, 255}


def yolo_source(root: Path) -> Path:
    write_image(root / "images" / "train" / "a.png", (100, 50), seed=1)
    write_image(root / "images" / "train" / "negative.png", (100, 50), seed=2)
    write_image(root / "images" / "val" / "b.png", (100, 50), seed=3)
    (root / "labels" / "train").mkdir(parents=True)
    (root / "labels" / "val").mkdir(parents=True)
    (root / "labels" / "train" / "a.txt").write_text(
        "0 0.5 0.5 0.2 0.4\n5 0.5 0.5 0.1 0.1\n1 0.1 0.1\n"
        "x 0.5 0.5 0.1 0.1\n1 0.1 0.1 0.3 0.1 0.2 0.5\n"
    )
    (root / "labels" / "val" / "b.txt").write_text("1 0.25 0.5 0.5 1.0\n")
    (root / "data.yaml").write_text(
        "path: ../../elsewhere\ntrain: images/train\nval: images/val\nnames: [ball, cone]\n"
    )
    return root


def test_yolo_boxes_polygons_negatives_and_bad_lines(tmp_path: Path, workspace: Workspace) -> None:
    dataset = Dataset(import_dataset(yolo_source(tmp_path / "yolo"), "yolo", test_percent=0))
    assert dataset.classes == ["ball", "cone"]
    by_source = {s.source: s for s in dataset}
    a = by_source["images/train/a.png"]
    np.testing.assert_allclose(a.boxes[0], [40, 15, 60, 35], atol=1e-4)
    np.testing.assert_allclose(a.boxes[1], [10, 5, 30, 25], atol=1e-4)  # polygon bounds
    assert a.mask is not None and (a.mask == 2).any()
    assert len(by_source["images/train/negative.png"].boxes) == 0
    assert by_source["images/val/b.png"].split == "val"
    text = reasons(dataset)
    assert "labels/train/a.txt:2: class id 5 is not in names (0-1): dropped" in text
    assert (
        "labels/train/a.txt:3: expected 'class cx cy w h' or a polygon of 3+ points: dropped"
        in text
    )
    assert "labels/train/a.txt:4: expected numbers" in text
    assert "'path: ../../elsewhere' leads outside the dataset folder: ignored" in text


def test_yolo_bad_yaml(tmp_path: Path, workspace: Workspace) -> None:
    (tmp_path / "data.yaml").write_text("names: [a, b\ntrain: [")
    with pytest.raises(DataError, match="data.yaml: malformed YAML"):
        import_dataset(tmp_path, "y")
    (tmp_path / "data.yaml").write_text("train: images\n")
    with pytest.raises(DataError, match="not a YOLO data file: no 'names'"):
        import_dataset(tmp_path, "y", format="yolo")


def test_kitti_labels_with_dontcare(tmp_path: Path, workspace: Workspace) -> None:
    root = tmp_path / "kitti"
    write_image(root / "train" / "image_2" / "000001.png", (120, 40), seed=1)
    write_image(root / "val" / "image_2" / "000002.png", (120, 40), seed=2)
    (root / "train" / "label_2").mkdir(parents=True)
    (root / "val" / "label_2").mkdir(parents=True)
    zeros = " ".join(["0"] * 7)
    (root / "train" / "label_2" / "000001.txt").write_text(
        f"Car 0.0 0 0.0 10 5 50 30 {zeros}\nDontCare -1 -1 -10 0 0 5 5 {zeros}\nCar 1 2 3\n"
        f"Pedestrian 0.0 0 0.0 60 10 70 38 {zeros} 0.9\n"
    )
    (root / "val" / "label_2" / "000002.txt").write_text(f"Car 0.0 0 0.0 0 0 20 20 {zeros}\n")
    dataset = Dataset(import_dataset(root, "kitti", test_percent=0))
    assert dataset.manifest["format"] == "kitti"
    assert dataset.classes == ["Car", "Pedestrian"]
    first = next(s for s in dataset if s.source.endswith("000001.png"))
    np.testing.assert_allclose(first.boxes, [[10, 5, 50, 30], [60, 10, 70, 38]])
    assert "label_2/000001.txt:3: expected 15 or 16 fields, got 4: dropped" in reasons(dataset)


def test_labelme_rectangles_polygons_and_escapes(tmp_path: Path, workspace: Workspace) -> None:
    root = tmp_path / "labelme"
    write_image(root / "a.png", (60, 40), seed=1)
    write_image(tmp_path / "outside.png", (60, 40), seed=2)
    shapes = [
        {"label": "box", "points": [[50, 30], [10, 5]], "shape_type": "rectangle"},
        {"label": "blob", "points": [[0, 0], [20, 0], [20, 20], [0, 20]], "shape_type": "polygon"},
        {"label": "pin", "points": [[3, 3]], "shape_type": "point"},
    ]
    document = {"imagePath": "a.png", "imageHeight": 40, "imageWidth": 60, "shapes": shapes}
    (root / "a.json").write_text(json.dumps(document))
    (root / "evil.json").write_text(json.dumps({**document, "imagePath": "../outside.png"}))
    (root / "broken.json").write_text("{")
    dataset = Dataset(import_dataset(root, "labelme", val_percent=0, test_percent=0))
    assert dataset.classes == ["blob", "box"]
    sample = dataset[0]
    np.testing.assert_allclose(sample.boxes, [[10, 5, 50, 30], [0, 0, 20, 20]])
    assert (sample.mask[2:18, 2:18] == 1).all()
    text = reasons(dataset)
    assert "shape 3 (point) is not a rectangle or polygon: dropped" in text
    assert "skipped evil.json: path leads outside the source folder" in text
    assert "skipped broken.json: malformed JSON" in text


def masks_source(root: Path, classes: str | None = "background\nroad\ncar\n") -> Path:
    for i in range(4):
        write_image(root / "images" / f"{i}.jpg", (32, 16), seed=i)
        mask = np.zeros((16, 32), np.uint8)
        mask[:8] = 1
        mask[8:, :4] = 2
        Image.fromarray(mask).save(root / "masks" / f"{i}.png") if (root / "masks").is_dir() else (
            (root / "masks").mkdir(),
            Image.fromarray(mask).save(root / "masks" / f"{i}.png"),
        )
    if classes is not None:
        (root / "classes.txt").write_text(classes)
    return root


def test_png_masks_with_class_list(tmp_path: Path, workspace: Workspace) -> None:
    root = masks_source(tmp_path / "seg")
    write_image(root / "images" / "nomask.jpg", (32, 16), seed=9)
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(root / "masks" / "small.png")
    write_image(root / "images" / "small.jpg", (32, 16), seed=10)
    Image.fromarray(np.full((16, 32), 9, np.uint8)).save(root / "masks" / "nine.png")
    write_image(root / "images" / "nine.jpg", (32, 16), seed=11)
    write_image(root / "masks" / "rgb.png", (32, 16), seed=12)
    write_image(root / "images" / "rgb.jpg", (32, 16), seed=13)
    dataset = Dataset(import_dataset(root, "seg", val_percent=0, test_percent=0, size=(8, 16)))
    assert dataset.task == "segmentation" and dataset.classes == ["road", "car"]
    assert len(dataset) == 4
    mask = dataset[0].mask
    assert mask.shape == (8, 16) and (mask[:4] == 1).all() and mask[6, 0] == 2
    assert dataset.manifest["class_counts"]["train"] == {"road": 4, "car": 4}
    text = reasons(dataset)
    assert "skipped images/nomask.jpg: no mask with the same name" in text
    assert "skipped images/small.jpg: mask is 10x10 but the image is 32x16" in text
    assert "skipped images/nine.jpg: mask value 9 is not a class" in text
    assert "skipped images/rgb.jpg: mask rgb.png has mode RGB" in text


def test_png_masks_without_class_list(tmp_path: Path, workspace: Workspace) -> None:
    dataset = Dataset(import_dataset(masks_source(tmp_path / "seg", classes=None), "seg2"))
    assert dataset.classes == ["class_1", "class_2"]


def test_yolo_list_file_with_missing_image(tmp_path: Path, workspace: Workspace) -> None:
    root = yolo_source(tmp_path / "yolo")
    (root / "train.txt").write_text("images/train/a.png\nimages/train/gone.png\n../../x.png\n")
    (root / "data.yaml").write_text("train: train.txt\nval: images/val\nnames: [ball, cone]\n")
    dataset = Dataset(import_dataset(root, "yolo-list", test_percent=0))
    assert len(dataset) == 2
    text = reasons(dataset)
    assert "skipped images/train/gone.png: image file not found" in text
    assert "skipped ../../x.png: path leads outside the source folder" in text


def test_masks_under_images_split_folders(tmp_path: Path, workspace: Workspace) -> None:
    root = tmp_path / "seg"
    for split in ("train", "val"):
        write_image(root / "images" / split / "0.png", (8, 8), seed=1 if split == "train" else 2)
        (root / "masks" / split).mkdir(parents=True)
        Image.fromarray(np.ones((8, 8), np.uint8)).save(root / "masks" / split / "0.png")
    dataset = Dataset(import_dataset(root, "seg-splits"))
    assert sorted(s.split for s in dataset) == ["train", "val"]
