"""Where a label project's images come from: a folder, uploaded files, or a dataset (whose
labels become the starting point to correct)."""

from __future__ import annotations

import shutil
from pathlib import Path

from lumos.data.dataset import Dataset
from lumos.data.formats.common import export_stems, save_image
from lumos.data.images import is_image_name
from lumos.errors import DataError
from lumos.label.project import LabelProject
from lumos.workspace import Workspace


def images_below(folder: Path) -> list[tuple[Path, str]]:
    """Every image file below ``folder`` with its name relative to it (hidden ones and
    symlinks leading outside left out)."""
    if not folder.is_dir():
        raise DataError(folder, "not a folder")
    root = folder.resolve()
    found = []
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if any(part.startswith(".") for part in relative.parts) or not is_image_name(path):
            continue
        if path.is_file() and path.resolve().is_relative_to(root):
            found.append((path, relative.as_posix()))
    if not found:
        raise DataError(folder, "no image files found")
    return found


def add_dataset(project: LabelProject, name: str, workspace: Workspace | None = None) -> int:
    """Copy dataset ``name``'s images into ``project`` (split kept) with its labels as the
    labels of annotator ``dataset:<name>`` and as pre-labels, so the editor starts from them
    and corrections are counted; returns how many labels came with it."""
    dataset = Dataset.open(name, workspace)
    if dataset.task != project.kind.dataset_kind or dataset.classes != project.info.classes:
        raise DataError(None, f"dataset {name!r} is not a {project.info.task} set of these classes")
    stems = export_stems(dataset)
    staging = project.folder / "incoming"
    labels = []
    for sample in dataset:
        file = f"{sample.split}/{stems[sample.index]}.png"
        save_image(staging / file, sample.image)
        labels.append((file, project.kind.from_sample(sample, dataset.classes)))
    for split in ("train", "val", "test"):
        if (staging / split).is_dir():
            project.add_images(
                ((p, f"{split}/{n}") for p, n in images_below(staging / split)), split
            )
    ids = {row["file"]: row["id"] for row in project.rows("SELECT id, file FROM images")}
    given = [(ids[file], value) for file, value in labels if value is not None]
    annotator = f"dataset:{name}"
    for image_id, value in given:
        project.save(image_id, annotator, value, project.label(image_id, annotator)["revision"])
    project.set_prelabels(annotator, ((i, v, 0.0) for i, v in given))
    shutil.rmtree(staging, ignore_errors=True)
    return len(given)


def start_project(
    name: str,
    task: str,
    classes: list[str],
    *,
    images: Path | None = None,
    dataset: str | None = None,
    multi_label: bool = False,
    workspace: Workspace | None = None,
) -> tuple[LabelProject, list[str]]:
    """A new project on a folder of images, a dataset to correct, or nothing yet (uploads
    come later); returns it and the files left out, each named. Nothing half-made stays
    behind if a step fails."""
    if images is not None and dataset is not None:
        raise DataError(None, "give a folder of images or a dataset, not both")
    files = images_below(images) if images is not None else []
    source = str(images.resolve()) if images is not None else dataset or "uploads"
    project = LabelProject.create(name, task, classes, multi_label=multi_label, source=source,
                                  workspace=workspace)  # fmt: skip
    try:
        problems = project.add_images(files)
        if dataset is not None:
            add_dataset(project, dataset, workspace)
    except BaseException:
        shutil.rmtree(project.folder, ignore_errors=True)
        raise
    return project, problems
