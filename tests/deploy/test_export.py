"""Every format round-trips: import, export, import again gives the same records."""

from pathlib import Path

import pytest

from helpers import assert_same_records, write_image
from lumos.data import Dataset, export_dataset, import_dataset
from lumos.errors import DataError
from lumos.workspace import Workspace


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    workspace = Workspace(tmp_path_factory.mktemp("roundtrip")).ensure()
    import_dataset("sample:digits", "digits", workspace=workspace)
    import_dataset("sample:digits", "digits32", workspace=workspace, size=(32, 32), channels=3)
    import_dataset("sample:shapes", "shapes", workspace=workspace)
    return workspace


BOTH = {"boxes", "masks"}


@pytest.mark.parametrize(
    ("dataset", "format_name", "carried"),
    [
        ("digits", "folder", set()),
        ("digits", "list", set()),
        ("digits", "mnist", set()),
        ("digits32", "cifar", set()),
        ("shapes", "coco", BOTH),
        ("shapes", "voc", BOTH),
        ("shapes", "masks", {"masks"}),
        ("shapes", "yolo", {"boxes"}),
        ("shapes", "kitti", {"boxes"}),
        ("shapes", "labelme", {"boxes"}),
    ],
)
def test_round_trip(
    stored: Workspace, tmp_path: Path, dataset: str, format_name: str, carried: set[str]
) -> None:
    out = export_dataset(dataset, format_name, tmp_path / format_name, workspace=stored)
    again = Dataset(import_dataset(out, f"{dataset}-{format_name}", workspace=stored))
    assert again.manifest["format"] == format_name
    assert again.report["problems"] == []
    original = Dataset.open(dataset, stored)
    boxes = "boxes" in carried or original.task == "classification"
    masks = "masks" in carried or original.task == "classification"
    assert_same_records(original, again, boxes=boxes, masks=masks)


def test_formats_refuse_what_they_cannot_hold(stored: Workspace, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="folder format holds single-label classification only"):
        export_dataset("shapes", "folder", tmp_path / "a", workspace=stored)
    with pytest.raises(DataError, match="MNIST format holds single-label grayscale"):
        export_dataset("digits32", "mnist", tmp_path / "b", workspace=stored)
    with pytest.raises(DataError, match="CIFAR format holds 32x32 RGB images only"):
        export_dataset("digits", "cifar", tmp_path / "c", workspace=stored)
    with pytest.raises(DataError, match="COCO format holds detection and segmentation only"):
        export_dataset("digits", "coco", tmp_path / "d", workspace=stored)
    with pytest.raises(DataError, match="unknown format 'png'"):
        export_dataset("digits", "png", tmp_path / "e", workspace=stored)
    assert not any((tmp_path / n).exists() for n in "abcde")


def test_export_never_clobbers_without_overwrite(stored: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="folder exists and is not empty: use --overwrite"):
        export_dataset("digits", "mnist", out, workspace=stored)
    assert (out / "keep.txt").read_text() == "mine"
    export_dataset("digits", "mnist", out, workspace=stored, overwrite=True)
    assert not (out / "keep.txt").exists() and (out / "train-images-idx3-ubyte").is_file()


def test_multi_label_list_round_trip(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    for i in range(12):
        write_image(tmp_path / "src" / f"{i}.png", (8, 8), seed=i)
    lines = [f"{i}.png {['a', 'b', 'a,b'][i % 3]}" for i in range(12)]
    (tmp_path / "src" / "all.txt").write_text("\n".join(lines))
    import_dataset(tmp_path / "src" / "all.txt", "multi", workspace=workspace)
    out = export_dataset("multi", "list", tmp_path / "out", workspace=workspace)
    again = Dataset(import_dataset(out, "again", workspace=workspace))
    assert again.multi_label
    assert_same_records(Dataset.open("multi", workspace), again)
