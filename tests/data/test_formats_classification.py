import pickle
from pathlib import Path

import numpy as np
import pytest

from helpers import cifar_source, mnist_source, write_idx, write_image
from lumos.data import Dataset, import_dataset
from lumos.errors import DataError
from lumos.workspace import Workspace


def test_mnist_idx_gzip_and_plain(tmp_path: Path, workspace: Workspace) -> None:
    dataset = Dataset(import_dataset(mnist_source(tmp_path / "mnist"), "mnist"))
    assert dataset.manifest["format"] == "mnist"
    assert dataset.classes == [str(d) for d in range(10)]
    assert dataset.manifest["splits"] == {"train": 30, "val": 10, "test": 10}  # 1 of 4 per class
    assert dataset.size == (28, 28) and dataset.channels == 1
    assert dataset[0].source == "train-images-idx3-ubyte.gz[0]"


def test_mnist_truncated_and_mismatched(tmp_path: Path, workspace: Workspace) -> None:
    folder = mnist_source(tmp_path / "m")
    images = folder / "t10k-images-idx3-ubyte"
    images.write_bytes(images.read_bytes()[:-100])
    with pytest.raises(
        DataError,
        match=r"t10k-images-idx3-ubyte: IDX file holds 7740 data bytes, its header declares 7840",
    ):
        import_dataset(folder, "m")
    folder = mnist_source(tmp_path / "m2")
    write_idx(folder / "t10k-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(DataError, match="3 labels for 10 images"):
        import_dataset(folder, "m2")
    (folder / "t10k-labels-idx1-ubyte").write_bytes(b"PK\x03\x04 not idx")
    with pytest.raises(DataError, match="bad magic number"):
        import_dataset(folder, "m2")


def test_cifar_batches(tmp_path: Path, workspace: Workspace) -> None:
    source = cifar_source(tmp_path / "cifar-10-batches-py")
    dataset = Dataset(import_dataset(source, "cifar"))
    assert dataset.classes == ["airplane", "automobile", "bird"]
    assert dataset.size == (32, 32) and dataset.channels == 3
    assert dataset.manifest["splits"]["test"] == 10
    batch = pickle.loads((source / "data_batch_1").read_bytes())
    first = batch[b"data"][0].reshape(3, 32, 32).transpose(1, 2, 0)
    match = next(s for s in dataset if s.source == "data_batch_1[0]")
    np.testing.assert_array_equal(match.image, first)


class Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_hostile_cifar_pickle_is_not_run(tmp_path: Path, workspace: Workspace) -> None:
    source = cifar_source(tmp_path / "cifar")
    marker = tmp_path / "pwned"
    (source / "data_batch_1").write_bytes(pickle.dumps({b"data": Exploit(marker)}))
    with pytest.raises(
        DataError, match=r"data_batch_1: not a CIFAR batch: refusing to load pathlib"
    ):
        import_dataset(source, "evil")
    assert not marker.exists()


def test_cifar_with_wrong_shape(tmp_path: Path, workspace: Workspace) -> None:
    source = cifar_source(tmp_path / "cifar")
    (source / "test_batch").write_bytes(
        pickle.dumps({b"data": np.zeros((2, 10), np.uint8), b"labels": [0, 1]})
    )
    with pytest.raises(DataError, match="expected 'data' of N x 3072 bytes"):
        import_dataset(source, "bad")


def test_list_file_with_spaces_numbers_and_multi_label(
    tmp_path: Path, workspace: Workspace
) -> None:
    root = tmp_path / "lists"
    write_image(root / "img" / "a cat.png", seed=1)
    write_image(root / "img" / "dog.png", seed=2)
    write_image(root / "img" / "both.png", seed=3)
    write_image(tmp_path / "outside.png", seed=4)
    (root / "train.txt").write_text(
        "# DIGITS list\nimg/a cat.png 0\nimg/dog.png 1\nimg/both.png 0,1\n"
        "img/missing.png 0\n../outside.png 1\nimg/dog.png\nimg/dog.png 7\n"
    )
    (root / "labels.txt").write_text("cat\ndog\n")
    dataset = Dataset(import_dataset(root, "multi", val_percent=0, test_percent=0))
    assert dataset.multi_label and dataset.classes == ["cat", "dog"]
    labels = {s.source: s.label for s in dataset}
    assert labels == {"img/a cat.png": [0], "img/dog.png": [1], "img/both.png": [0, 1]}
    skipped = {p["file"]: p["reason"] for p in dataset.report["problems"]}
    assert skipped["train.txt:5 img/missing.png"] == "image file not found"
    assert skipped["train.txt:6 ../outside.png"].startswith("path leads outside the source folder")
    assert skipped["train.txt:7"] == "expected 'path label'"
    assert skipped["train.txt:8"] == "label '7' is not a line number of labels.txt"


def test_list_file_single_label_names(tmp_path: Path, workspace: Workspace) -> None:
    write_image(tmp_path / "a.png", seed=1)
    write_image(tmp_path / "b.png", seed=2)
    (tmp_path / "list.txt").write_text("a.png red\nb.png blue\n")
    dataset = Dataset(import_dataset(tmp_path / "list.txt", "named", val_percent=0, test_percent=0))
    assert not dataset.multi_label and dataset.classes == ["blue", "red"]


def test_list_file_not_utf8(tmp_path: Path, workspace: Workspace) -> None:
    (tmp_path / "list.txt").write_bytes(b"\xff\xfe\x00garbage 1\n")
    with pytest.raises(DataError, match="list.txt: list file is not UTF-8 text"):
        import_dataset(tmp_path / "list.txt", "x")


def test_unknown_format_and_undetectable_source(tmp_path: Path, workspace: Workspace) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="cannot tell the format"):
        import_dataset(tmp_path / "empty", "x")
    with pytest.raises(DataError, match="unknown format 'tiff'"):
        import_dataset(tmp_path / "empty", "x", format="tiff")
    with pytest.raises(DataError, match="no such sample"):
        import_dataset("sample:cats", "x")
