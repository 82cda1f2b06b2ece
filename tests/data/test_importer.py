import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from helpers import class_folders, write_image
from lumos.data import Dataset, import_dataset, list_datasets, remove_dataset
from lumos.errors import DataError, NotFoundError, WorkspaceError
from lumos.jobs import list_jobs
from lumos.workspace import Workspace
from needs import withheld


def problems_of(dataset: Dataset, kind: str) -> dict[str, str]:
    return {p["file"]: p["reason"] for p in dataset.report["problems"] if p["kind"] == kind}


def test_folder_import_end_to_end(tmp_path: Path, workspace: Workspace) -> None:
    source = class_folders(tmp_path / "src", {"cat": 20, "dog": 20, "owl": 10})
    dataset = Dataset(import_dataset(source, "pets", val_percent=20, test_percent=10))
    assert dataset.classes == ["cat", "dog", "owl"]
    assert len(dataset) == 50 and dataset.size == (24, 32) and dataset.channels == 3
    assert dataset.manifest["splits"] == {"train": 35, "val": 10, "test": 5}
    assert dataset.manifest["class_counts"]["val"] == {"cat": 4, "dog": 4, "owl": 2}
    train = dataset.split("train")
    pixels = train.images(np.arange(len(train))).astype(np.float64)
    np.testing.assert_allclose(dataset.mean, pixels.mean(axis=(0, 1, 2)) / 255, atol=1e-6)
    np.testing.assert_allclose(dataset.std, pixels.std(axis=(0, 1, 2)) / 255, atol=1e-6)
    np.testing.assert_allclose(dataset.mean_image, pixels.mean(axis=0), atol=1e-3)
    assert (dataset.folder / "mean.png").is_file()
    sample = dataset[0]
    assert sample.source.startswith(("cat/", "dog/", "owl/"))
    assert dataset.classes[sample.label] == sample.source.split("/")[0]
    assert [row["name"] for row in list_datasets()] == ["pets"]


def test_nested_folders_any_case_extension_unicode_and_spaces(
    tmp_path: Path, workspace: Workspace
) -> None:
    src = tmp_path / "src"
    write_image(src / "chats noirs" / "été 2024" / "IMG 1.JPG", seed=1)
    write_image(src / "chats noirs" / "b.PnG", seed=2)
    write_image(src / "猫" / "x.jpeg", seed=3)
    dataset = Dataset(import_dataset(src, "unicode", val_percent=0, test_percent=0))
    assert dataset.classes == ["chats noirs", "猫"]
    assert sorted(s.source for s in dataset) == [
        "chats noirs/b.PnG",
        "chats noirs/été 2024/IMG 1.JPG",
        "猫/x.jpeg",
    ]


def test_bad_files_are_reported_and_the_import_goes_on(
    tmp_path: Path, workspace: Workspace
) -> None:
    src = class_folders(tmp_path / "src", {"a": 3, "b": 3})
    (src / "a" / "zero.jpg").write_bytes(b"")
    (src / "a" / "text.png").write_text("not a picture")
    cut = write_image(src / "b" / "cut.jpg", (64, 64), seed=9)
    cut.write_bytes(cut.read_bytes()[:300])
    (src / "b" / "README.txt").write_text("hello")
    (src / "loose.png").write_bytes((src / "a" / "0.png").read_bytes())
    dataset = Dataset(import_dataset(src, "messy"))
    assert len(dataset) == 6
    skipped = problems_of(dataset, "skipped")
    assert skipped["a/zero.jpg"] == "empty file (0 bytes)"
    assert skipped["a/text.png"].startswith("not an image")
    assert skipped["b/cut.jpg"].startswith("corrupt or truncated image")
    assert skipped["b/README.txt"].startswith("not an image file")
    assert skipped["loose.png"] == "not inside a class folder"


def test_symlinks_inside_are_followed_and_escaping_ones_refused(
    tmp_path: Path, workspace: Workspace
) -> None:
    src = class_folders(tmp_path / "src", {"a": 2, "b": 2})
    secret = write_image(tmp_path / "outside" / "secret.png", seed=50)
    (src / "a" / "escape.png").symlink_to(secret)
    (src / "a" / "inside.png").symlink_to(src / "b" / "0.png")
    (src / "b" / "linked-folder").symlink_to(tmp_path / "outside")
    dataset = Dataset(import_dataset(src, "links", val_percent=0, test_percent=0))
    assert sorted(s.source for s in dataset) == [
        "a/0.png",
        "a/1.png",
        "a/inside.png",
        "b/0.png",
        "b/1.png",
    ]
    skipped = problems_of(dataset, "skipped")
    reasons = " ".join(f"{k}: {v}" for k, v in skipped.items())
    assert "escape.png: symlink leads outside the source folder" in reasons
    assert "linked-folder: symlinked folder not followed" in reasons


def test_empty_class_folder_warns_and_one_class_is_refused_unless_asked(
    tmp_path: Path, workspace: Workspace
) -> None:
    src = class_folders(tmp_path / "src", {"only": 4})
    (src / "empty").mkdir()
    with pytest.raises(DataError, match=r"only one class \('only'\).*--allow-one-class"):
        import_dataset(src, "single")
    assert not (workspace.datasets_dir / "single").exists()
    dataset = Dataset(import_dataset(src, "single", allow_one_class=True))
    assert dataset.classes == ["only"]
    warnings = " | ".join(problems_of(dataset, "warning").values())
    assert "empty class folder: ignored" in warnings


def _cvat_export(root: Path) -> None:
    """A CVAT export one folder down (at the top it is read as CVAT)."""
    class_folders(root / "export" / "images", {"default": 3})
    for i in range(3):
        (root / "export" / f"task_{i}.xml").write_text(
            '<?xml version="1.0"?><annotations><version>1.1</version></annotations>'
        )


def _kitti_subset(root: Path) -> None:
    """A KITTI export two folders down (one subset folder is read as KITTI itself)."""
    subset = root / "export" / "default"
    class_folders(subset, {"image_2": 2})
    (subset / "label_2").mkdir()
    line = "Car 0 0 0 1 2 30 40 0 0 0 0 0 0 0\n"
    for i in range(2):
        (subset / "label_2" / f"{i}.txt").write_text(line)


def _darknet(root: Path) -> None:
    """Darknet files one folder down (at the top they are read as YOLO)."""
    class_folders(root / "export", {"obj_train_data": 3})
    (root / "export" / "obj.data").write_text("classes = 1\ntrain = train.txt\nnames = obj.names\n")
    (root / "export" / "obj.names").write_text("car\n")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda root: class_folders(root / "digits", {"0": 2, "1": 2, "2": 2}),
         r"one class 'digits' holding 3 class folders: did you mean .*src/digits\?"),
        (_cvat_export, r"found a CVAT export in .*src/export: import that folder"),
        (_kitti_subset, r"found a KITTI export in .*src/export/default: import that folder"),
        (_darknet, r"found Darknet YOLO files in .*src/export: import that folder"),
    ],
)  # fmt: skip
def test_one_class_refusal_says_what_the_folder_holds(
    tmp_path: Path, workspace: Workspace, build, message: str
) -> None:
    build(tmp_path / "src")
    with pytest.raises(DataError, match=message):
        import_dataset(tmp_path / "src", "x")
    assert list_datasets(workspace) == []


def test_duplicates_are_reported_and_dropped_on_request(
    tmp_path: Path, workspace: Workspace
) -> None:
    src = class_folders(tmp_path / "src", {"a": 3, "b": 3})
    shutil.copy(src / "a" / "0.png", src / "b" / "copy.png")
    kept = Dataset(import_dataset(src, "dups"))
    assert kept.report["duplicates"] == [["a/0.png", "b/copy.png"]]
    assert len(kept) == 7
    deduped = Dataset(import_dataset(src, "dedup", dedupe=True))
    assert len(deduped) == 6
    assert (
        problems_of(deduped, "skipped")["b/copy.png"] == "duplicate of a/0.png: skipped (--dedupe)"
    )


def test_nothing_usable_fails_and_stores_nothing(tmp_path: Path, workspace: Workspace) -> None:
    src = tmp_path / "src"
    for name in ("a", "b"):
        (src / name).mkdir(parents=True)
        (src / name / "bad.jpg").write_bytes(b"garbage")
    with pytest.raises(
        DataError, match=r"no usable images: 2 skipped \(first: a/bad.jpg: not an image"
    ):
        import_dataset(src, "broken")
    assert not (workspace.datasets_dir / "broken").exists()
    assert [p.name for p in workspace.datasets_dir.iterdir()] == []


def test_existing_dataset_is_untouched_without_overwrite(
    tmp_path: Path, workspace: Workspace
) -> None:
    first = class_folders(tmp_path / "one", {"a": 2, "b": 2})
    import_dataset(first, "d")
    second = class_folders(tmp_path / "two", {"x": 3, "y": 3})
    with pytest.raises(WorkspaceError, match="already exists: use --overwrite"):
        import_dataset(second, "d")
    assert Dataset.open("d").classes == ["a", "b"]
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "c").mkdir()
    with pytest.raises(DataError):
        import_dataset(empty, "d", overwrite=True, format="folder")
    assert Dataset.open("d").classes == ["a", "b"]
    import_dataset(second, "d", overwrite=True)
    assert Dataset.open("d").classes == ["x", "y"]


def test_killed_import_leaves_no_half_dataset(tmp_path: Path, workspace: Workspace) -> None:
    source = class_folders(tmp_path / "src", {"a": 400, "b": 400}, size=(64, 64))
    script = (
        "import sys; from lumos.data import import_dataset; "
        "import_dataset(sys.argv[1], 'victim', workers=0)"
    )
    process = subprocess.Popen([sys.executable, "-c", script, str(source)], env={**os.environ})
    deadline = time.monotonic() + 600
    while not any(p.name.startswith(".staging-") for p in workspace.datasets_dir.iterdir()):
        assert process.poll() is None, "import ended before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (workspace.datasets_dir / "victim").exists()
    Workspace(workspace.root).ensure()  # the next user of the workspace sweeps the leftovers
    assert list(workspace.datasets_dir.iterdir()) == []
    with pytest.raises(NotFoundError):
        Dataset.open("victim")


def test_size_mode_and_channels(tmp_path: Path, workspace: Workspace) -> None:
    src = class_folders(tmp_path / "src", {"a": 2, "b": 2}, size=(40, 20))
    dataset = Dataset(import_dataset(src, "small", size=(16, 12), resize_mode="crop", channels=1))
    assert dataset.size == (16, 12) and dataset.channels == 1
    assert dataset[0].image.shape == (16, 12, 1)
    assert dataset.manifest["resize_mode"] == "crop"


def test_grayscale_sources_default_to_one_channel(tmp_path: Path, workspace: Workspace) -> None:
    for i in range(4):
        write_image(tmp_path / "src" / f"c{i % 2}" / f"{i}.png", (10, 10), mode="L", seed=i)
    assert Dataset(import_dataset(tmp_path / "src", "gray")).channels == 1


def test_min_and_max_per_class_and_given_classes(tmp_path: Path, workspace: Workspace) -> None:
    src = class_folders(tmp_path / "src", {"big": 12, "mid": 5, "tiny": 2})
    limited = Dataset(import_dataset(src, "limited", min_per_class=3, max_per_class=6))
    assert limited.classes == ["big", "mid"]
    assert len(limited) == 11
    assert (
        problems_of(limited, "skipped")["tiny/0.png"]
        == "class 'tiny' has 2 images, fewer than --min-per-class 3"
    )
    given = Dataset(import_dataset(src, "given", classes=["mid", "big"]))
    assert given.classes == ["mid", "big"] and len(given) == 17
    assert problems_of(given, "skipped")["tiny/1.png"] == "class 'tiny' is not in the class list"


def test_split_folders_are_used(tmp_path: Path, workspace: Workspace) -> None:
    class_folders(tmp_path / "src" / "train", {"a": 6, "b": 6})
    class_folders(tmp_path / "src" / "valid", {"a": 2, "b": 2})
    dataset = Dataset(import_dataset(tmp_path / "src", "given", test_percent=0))
    assert dataset.manifest["splits"] == {"train": 12, "val": 4, "test": 0}


def test_parallel_decoding_matches_serial(tmp_path: Path, workspace: Workspace) -> None:
    src = class_folders(tmp_path / "src", {"a": 150, "b": 150}, size=(8, 8))
    serial = Dataset(import_dataset(src, "serial", workers=0))
    parallel = Dataset(import_dataset(src, "parallel", workers=2))
    assert serial.manifest["fingerprint"] == parallel.manifest["fingerprint"]


def test_remove_and_missing(tmp_path: Path, workspace: Workspace) -> None:
    import_dataset(class_folders(tmp_path / "src", {"a": 2, "b": 2}), "gone")
    remove_dataset("gone")
    assert list_datasets() == []
    with pytest.raises(NotFoundError, match="no dataset named 'gone'"):
        Dataset.open("gone")
    with pytest.raises(NotFoundError):
        remove_dataset("gone")


def test_list_follows_the_folders(tmp_path: Path, workspace: Workspace) -> None:
    import_dataset(class_folders(tmp_path / "src", {"a": 2, "b": 2}), "kept")
    with workspace.db() as db:
        db.execute("DELETE FROM datasets")
        db.execute("INSERT INTO datasets VALUES ('ghost', 'classification', 1, 1, 'x', 'now')")
    assert [row["name"] for row in list_datasets()] == ["kept"]


def test_progress_is_reported_per_record(tmp_path: Path, workspace: Workspace) -> None:
    calls: list[tuple[str, int, int]] = []
    import_dataset(
        class_folders(tmp_path / "src", {"a": 3, "b": 3}), "p", progress=lambda *a: calls.append(a)
    )
    assert calls[0] == ("import", 1, 6) and calls[-1] == ("import", 6, 6)


def test_imports_are_recorded_as_jobs(tmp_path: Path, workspace: Workspace) -> None:
    from lumos.jobs import list_jobs

    import_dataset(class_folders(tmp_path / "src", {"a": 2, "b": 2}), "recorded")
    with pytest.raises(DataError):
        import_dataset(tmp_path / "missing", "never")
    done, failed = list_jobs(workspace)[1], list_jobs(workspace)[0]
    assert (done["kind"], done["state"]) == ("import", "done")
    assert failed["state"] == "failed" and "no such file or folder" in failed["error"]
    assert "imported 4 records" in (workspace.jobs_dir / done["id"] / "log.txt").read_text()


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 6 MB file system (tmpfs; mounting needs root)."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        withheld("mounting a small tmpfs needs root")
    folder = tmp_path / "small-disk"
    folder.mkdir()
    mount = ["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", str(folder)]
    if subprocess.run(mount, capture_output=True, check=False).returncode != 0:
        withheld("this machine does not let tests mount a tmpfs")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=True)


def test_a_full_disk_is_named_and_the_job_ends_failed_with_it(
    tmp_path: Path, small_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = Workspace(small_disk / "ws").ensure()
    kept = Dataset(
        import_dataset(
            class_folders(tmp_path / "small", {"a": 3, "b": 3}), "small", workspace=workspace
        )
    )
    big = class_folders(tmp_path / "big", {"a": 40, "b": 40}, size=(160, 160))  # 6 MB raw
    with pytest.raises(WorkspaceError, match="cannot store dataset .big.: No space left on device"):
        import_dataset(big, "big", workspace=workspace, workers=0)
    job = list_jobs(workspace)[0]
    assert job["state"] == "failed" and "No space left on device" in job["error"]
    assert len(Dataset.open("small", workspace)) == len(kept) == 6
    assert [d["name"] for d in list_datasets(workspace)] == ["small"]
