"""Label Studio tasks, tested with Label Studio's own converter (label-studio-converter)."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from lumos.data import Dataset, import_dataset
from lumos.data.export import export_dataset
from lumos.errors import DataError
from lumos.workspace import Workspace
from needs import peer_module
from peers import BOXES, CLASSES, boxes_dataset, same_boxes


@pytest.fixture(autouse=True)
def converter() -> ModuleType:
    """Label Studio's own converter (label-studio-converter): every test here runs it."""
    return peer_module("label_studio_converter")


def _found(data: Dataset, *, splits: bool = True) -> dict[str, tuple[str | None, list]]:
    """{image stem: (split, sorted boxes)}; the split left None unless ``splits``."""
    found = {}
    for sample in data:
        pairs = zip(sample.boxes.tolist(), sample.box_labels.tolist(), strict=True)
        boxes = sorted((data.classes[label], *box) for box, label in pairs)
        found[Path(sample.source).stem] = (sample.split if splits else None, boxes)
    return found


def _close(boxes: list, want: list) -> bool:
    return np.allclose([b[1:] for b in boxes], [w[1:] for w in want], atol=0.01) if want else True


def test_tasks_written_by_label_studios_converter_are_imported(
    workspace: Workspace, tmp_path: Path
) -> None:
    from label_studio_converter.imports.coco import convert_coco_to_ls

    boxes_dataset().export(str(tmp_path / "peer"), "coco_instances", save_media=True)
    tasks = []
    for split in ("train", "val"):
        out = tmp_path / f"{split}.json"
        convert_coco_to_ls(
            str(tmp_path / "peer" / "annotations" / f"instances_{split}.json"), str(out)
        )
        tasks += json.loads(out.read_text())
    (tmp_path / "peer" / "tasks.json").write_text(json.dumps(tasks))
    import_dataset(tmp_path / "peer" / "tasks.json", "ls", workspace=workspace)
    data = Dataset.open("ls", workspace)
    assert data.manifest["format"] == "labelstudio" and sorted(data.classes) == sorted(CLASSES)
    found = _found(data, splits=False)
    assert set(found) == set(BOXES)  # the image without objects too
    for stem, (_, boxes) in found.items():
        want = sorted(BOXES[stem])
        assert [b[0] for b in boxes] == [w[0] for w in want]
        assert _close(boxes, want)


def test_label_studios_converter_reads_the_lumos_export(
    workspace: Workspace, tmp_path: Path
) -> None:
    from label_studio_converter import Converter

    boxes_dataset().export(str(tmp_path / "peer"), "coco_instances", save_media=True)
    import_dataset(tmp_path / "peer", "boxes", workspace=workspace)
    out = export_dataset("boxes", "labelstudio", tmp_path / "ls", workspace=workspace)
    config = (out / "label_config.xml").read_text()
    converter = Converter(config, str(out), download_resources=False)
    converter.convert_to_coco(str(out / "tasks.json"), str(tmp_path / "coco"), is_dir=False)
    coco = json.loads((tmp_path / "coco" / "result.json").read_text())
    names = {c["id"]: c["name"] for c in coco["categories"]}
    found = {Path(i["file_name"]).stem: [] for i in coco["images"]}
    image_names = {i["id"]: Path(i["file_name"]).stem for i in coco["images"]}
    for a in coco["annotations"]:
        x, y, w, h = a["bbox"]
        found[image_names[a["image_id"]]].append((names[a["category_id"]], x, y, x + w, y + h))
    assert set(found) == set(BOXES)
    for stem, boxes in found.items():
        want = sorted(BOXES[stem])
        assert [b[0] for b in sorted(boxes)] == [w[0] for w in want]
        assert _close(sorted(boxes), want)
    import_dataset(out, "again", workspace=workspace)  # and lumos reads its own, splits kept
    assert same_boxes(_found(Dataset.open("again", workspace)), atol=0.01)


def test_classes_go_out_to_label_studio_and_back(digits: Workspace, tmp_path: Path) -> None:
    from label_studio_converter import Converter

    workspace = digits
    out = export_dataset("digits", "labelstudio", tmp_path / "ls", workspace=workspace)
    converter = Converter(
        (out / "label_config.xml").read_text(), str(out), download_resources=False
    )
    converter.convert_to_json_min(str(out / "tasks.json"), str(tmp_path / "min"), is_dir=False)
    rows = json.loads((tmp_path / "min" / "result.json").read_text())
    original = Dataset.open("digits", workspace)
    assert len(rows) == len(original)
    by_image = {Path(r["image"].split("=")[-1]).stem: r["class"] for r in rows}
    # array elements ("digits[7]") are written under their record number
    expected = {f"{s.index:06d}": (original.classes[s.label], s.split) for s in original}
    assert by_image == {stem: name for stem, (name, _) in expected.items()}
    import_dataset(out, "again", workspace=workspace)
    again = Dataset.open("again", workspace)
    assert again.task == "classification" and again.classes == original.classes
    labels = {Path(s.source).stem: (again.classes[s.label], s.split) for s in again}
    assert labels == expected


def _task(image: str, *results: dict) -> dict:
    return {"data": {"image": image}, "annotations": [{"result": list(results)}]}


def _box(rotation: float = 0, **value: object) -> dict:
    return {
        "type": "rectanglelabels", "original_width": 60, "original_height": 40,
        "value": {"x": 10, "y": 10, "width": 20, "height": 20, "rotation": rotation,
                  "rectanglelabels": ["red"], **value},
    }  # fmt: skip


def test_what_lumos_cannot_read_is_named_and_the_rest_kept(
    workspace: Workspace, tmp_path: Path
) -> None:
    boxes_dataset().export(str(tmp_path / "src"), "coco_instances", save_media=True)
    brush = {"type": "brushlabels", "value": {"format": "rle", "rle": [1], "brushlabels": ["red"]}}
    tasks = [
        _task("/data/upload/3/1a2b3c4d-a.jpg", _box(), _box(rotation=30), brush),
        _task("https://example.com/b.jpg", _box()),
        _task("/data/local-files/?d=images/train/missing.jpg", _box()),
        {"id": 9, "annotations": []},
        _task("/data/local-files/?d=images/val/b.jpg", _box(), {"type": "rectanglelabels"}),
        _task("/data/local-files/?d=../../../etc/passwd", _box()),
    ]
    (tmp_path / "src" / "tasks.json").write_text(json.dumps(tasks))
    import_dataset(tmp_path / "src" / "tasks.json", "mixed", workspace=workspace)
    data = Dataset.open("mixed", workspace)
    assert sorted(Path(s.source).name for s in data) == ["a.jpg", "b.jpg"]
    assert all(len(s.boxes) == 1 for s in data)
    problems = json.dumps(data.report["problems"])
    for reason in ("rotated rectangle", "lumos reads choices", "lumos does not download",
                   "'missing.jpg' not found", "no 'data' object", "is malformed"):  # fmt: skip
        assert reason in problems, reason


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[{"data": ', "malformed Label Studio JSON"),
        ("[1, 2, 3]", "no JSON list of Label Studio tasks"),
        ('{"data": {}}', "no JSON list of Label Studio tasks"),
        ("", "no JSON list of Label Studio tasks"),
    ],
)
def test_a_bad_tasks_file_is_named(
    workspace: Workspace, tmp_path: Path, text: str, message: str
) -> None:
    (tmp_path / "tasks.json").write_text(text)
    with pytest.raises(DataError, match=message):
        import_dataset(tmp_path / "tasks.json", "bad", format="labelstudio", workspace=workspace)
    assert not (workspace.datasets_dir / "bad").exists()
