"""Bad CVAT, VOC colour masks and label maps: each problem named, the rest imported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lumos.data import Dataset, import_dataset
from lumos.errors import DataError
from lumos.workspace import Workspace

_META = "<meta><task><labels><label><name>red</name></label></labels></task></meta>"


def _cvat(root: Path, images: str) -> Path:
    (root / "images").mkdir(parents=True)
    for name in ("a.png", "b.png", "c.png"):
        Image.new("RGB", (20, 10)).save(root / "images" / name)
    (root / "annotations.xml").write_text(
        f"<annotations><version>1.1</version>{_META}{images}</annotations>"
    )
    return root


def test_bad_cvat_shapes_and_images_are_named(workspace: Workspace, tmp_path: Path) -> None:
    images = (
        '<image id="0" name="a.png" width="20" height="10">'
        '<box label="red" xtl="1" ytl="1" xbr="5" ybr="5"/>'
        '<box label="red" xtl="x" ytl="1" xbr="5" ybr="5"/>'
        '<points label="red" points="1,1"/></image>'
        '<image id="1" name="missing.png" width="20" height="10"/>'
        '<image id="2" name="../../escape.png" width="20" height="10"/>'
        '<image id="3" name="b.png" width="20" height="10">'
        '<box label="red" xtl="2" ytl="2" xbr="8" ybr="8"/></image>'
        '<image id="4" name="c.png"><box label="red" xtl="2" ytl="2" xbr="8" ybr="8"/></image>'
    )
    import_dataset(_cvat(tmp_path / "src", images), "cvat", workspace=workspace)
    data = Dataset.open("cvat", workspace)
    assert sorted(Path(s.source).name for s in data) == ["a.png", "b.png"]
    assert [len(s.boxes) for s in data] == [1, 1]
    reasons = " | ".join(p["reason"] for p in data.report["problems"])
    for reason in ("box 2 is malformed", "points 3 left out", "image file not found",
                   "leads outside the source folder", "no numeric width and height"):  # fmt: skip
        assert reason in reasons, reasons


@pytest.mark.parametrize(
    ("rle", "reason"), [("5, 4", "do not fill the mask's box"), ("a, b", "is malformed")]
)
def test_a_bad_cvat_mask_is_dropped_with_its_reason(
    workspace: Workspace, tmp_path: Path, rle: str, reason: str
) -> None:
    images = (
        '<image id="0" name="a.png" width="20" height="10">'
        f'<mask label="red" rle="{rle}" left="0" top="0" width="4" height="2"/>'
        '<polygon label="red" points="1,1;8,1;8,8"/></image>'
    )
    import_dataset(_cvat(tmp_path / "src", images), "cvat", workspace=workspace)
    data = Dataset.open("cvat", workspace)
    assert data.task == "segmentation" and int((data[0].mask == 1).sum()) > 0
    assert reason in " | ".join(p["reason"] for p in data.report["problems"])


@pytest.mark.parametrize(
    "text",
    ["<annotations><image", "<!DOCTYPE x [<!ENTITY a 'aaaa'>]><annotations>&a;</annotations>"],
)
def test_malformed_or_hostile_cvat_xml_is_refused(
    workspace: Workspace, tmp_path: Path, text: str
) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "annotations.xml").write_text(text)
    with pytest.raises(DataError, match="annotations.xml.*(malformed|refused) XML"):
        import_dataset(tmp_path / "src", "bad", format="cvat", workspace=workspace)
    assert not (workspace.datasets_dir / "bad").exists()


def _voc_segmentation(root: Path, labelmap: str, mask: np.ndarray) -> Path:
    for folder in ("JPEGImages", "SegmentationClass"):
        (root / folder).mkdir(parents=True)
    Image.new("RGB", (4, 2)).save(root / "JPEGImages" / "a.jpg")
    Image.fromarray(mask).save(root / "SegmentationClass" / "a.png")
    (root / "labelmap.txt").write_text(labelmap)
    return root


def test_rgb_masks_follow_the_label_maps_colours(workspace: Workspace, tmp_path: Path) -> None:
    mask = np.zeros((2, 4, 3), np.uint8)
    mask[0, :2] = (255, 0, 0)
    mask[1, 3] = (224, 224, 192)  # VOC's border colour: ignored pixels
    labelmap = "background:0,0,0::\nsky:0,0,255::\nwall:255,0,0::\n"
    import_dataset(_voc_segmentation(tmp_path / "src", labelmap, mask), "voc", workspace=workspace)
    data = Dataset.open("voc", workspace)
    assert data.classes == ["sky", "wall"]
    assert data[0].mask.tolist() == [[2, 2, 0, 0], [0, 0, 0, 255]]


def test_a_colour_outside_the_label_map_is_named(workspace: Workspace, tmp_path: Path) -> None:
    mask = np.zeros((2, 4, 3), np.uint8)
    mask[0, 0] = (9, 9, 9)
    source = _voc_segmentation(tmp_path / "src", "sky:0,0,255::\n", mask)
    with pytest.raises(DataError, match=r"a.png has colour \(9, 9, 9\), which is no class"):
        import_dataset(source, "voc", workspace=workspace)  # its only image: nothing left


def test_a_label_map_colour_that_is_not_rgb_is_named(workspace: Workspace, tmp_path: Path) -> None:
    source = _voc_segmentation(tmp_path / "src", "sky:blue::\n", np.zeros((2, 4, 3), np.uint8))
    with pytest.raises(DataError, match="labelmap.txt: colour 'blue' is not r,g,b"):
        import_dataset(source, "voc", workspace=workspace)
    assert not (workspace.datasets_dir / "voc").exists()
