"""Label projects in the library: images in, labels saved without silent overwrites,
filters, reviews, agreement, and the project out as a dataset with its provenance."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score

from helpers import class_folders
from lumos.data import Dataset
from lumos.errors import NotFoundError, WorkspaceError
from lumos.label import (
    ConflictError,
    LabelError,
    LabelProject,
    add_dataset,
    agreement,
    conflicts,
    finish,
    images_below,
    list_projects,
    progress,
    queue,
)
from lumos.workspace import Workspace


def _project(
    workspace: Workspace, tmp_path: Path, task: str = "classification", **kw
) -> LabelProject:
    folder = class_folders(tmp_path / "src", {"x": 4, "y": 2}, size=(32, 24))
    project = LabelProject.create("p", task, ["cat", "dog"], workspace=workspace, **kw)
    assert project.add_images(images_below(folder)) == []
    return project


def test_images_are_copied_in_and_broken_files_named(workspace: Workspace, tmp_path: Path) -> None:
    folder = class_folders(tmp_path / "src", {"x": 3}, size=(32, 24))
    (folder / "x" / "broken.png").write_bytes(b"not a png")
    (folder / ".hidden.png").write_bytes(b"")
    project = LabelProject.create("p", "classification", ["cat", "dog"], workspace=workspace)
    problems = project.add_images(images_below(folder))
    assert len(problems) == 1 and problems[0].startswith("x/broken.png: cannot read image header")
    assert len(queue(project, "ann")) == 3
    assert project.add_images(images_below(folder))[0].startswith("x/broken.png")  # no doubles
    assert len(queue(project, "ann")) == 3
    first = queue(project, "ann")[0]
    assert (
        project.image_path(first).read_bytes()
        == (folder / project.image(first)["file"]).read_bytes()
    )
    assert [p.name for p in list_projects(workspace)] == ["p"]


def test_a_save_that_started_from_an_old_revision_is_refused(
    workspace: Workspace, tmp_path: Path
) -> None:
    project = _project(workspace, tmp_path)
    image = queue(project, "ann")[0]
    assert project.save(image, "ann", {"classes": ["cat"]}, 0) == 1
    assert project.save(image, "ann", {"classes": ["dog"]}, 1) == 2  # the next edit (or undo)
    with pytest.raises(
        ConflictError, match="saved by you \\(revision 2\\) since you opened revision 1"
    ) as e:
        project.save(image, "ann", {"classes": ["cat"]}, 1)  # a second tab, still at 1
    assert e.value.current["value"] == {"classes": ["dog"]}
    with pytest.raises(ConflictError, match="was saved by ann"):
        project.save(image, "ann", {"classes": ["cat"]}, 1, saved_by="rev")  # a reviewer
    assert project.label(image, "ann")["value"] == {"classes": ["dog"]}
    assert project.save(image, "bob", {"classes": ["cat"]}, 0) == 1  # everyone has their own
    history = project.rows("SELECT revision, value FROM history WHERE annotator = 'ann'")
    assert [row["revision"] for row in history] == [1, 2]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"classes": ["cow"]}, "unknown class 'cow': choose from cat, dog"),
        ({"classes": ["cat", "dog"]}, "one class per image in this project"),
        ({"classes": []}, "needs 'classes': a non-empty list"),
        ("cat", "a label is a JSON object"),
    ],
)
def test_a_label_that_does_not_fit_is_refused(
    workspace: Workspace, tmp_path: Path, value: object, message: str
) -> None:
    project = _project(workspace, tmp_path)
    with pytest.raises(LabelError, match=message):
        project.save(queue(project, "ann")[0], "ann", value, 0)
    assert progress(project)["labelled"] == 0


@pytest.mark.parametrize(
    ("box", "message"),
    [
        ({"x1": 40, "y1": 0, "x2": 50, "y2": 5, "class": "cat"}, "smaller than a pixel inside"),
        ({"x1": "a", "y1": 0, "x2": 5, "y2": 5, "class": "cat"}, "needs numbers"),
        ({"x1": 1, "y1": 1, "x2": 5, "y2": 5, "class": "cow"}, "unknown class 'cow'"),
    ],
)
def test_a_box_that_does_not_fit_is_refused(
    workspace: Workspace, tmp_path: Path, box: dict, message: str
) -> None:
    project = _project(workspace, tmp_path, "detection")
    with pytest.raises(LabelError, match=message):
        project.save(queue(project, "ann")[0], "ann", {"boxes": [box]}, 0)


def test_bad_projects_are_refused(workspace: Workspace) -> None:
    with pytest.raises(LabelError, match="distinct class names"):
        LabelProject.create("p", "classification", ["a", "a"], workspace=workspace)
    with pytest.raises(LabelError, match="multi-label is for classification"):
        LabelProject.create("p", "detection", ["a"], multi_label=True, workspace=workspace)
    with pytest.raises(LabelError, match="unknown kind of project 'pose'"):
        LabelProject.create("p", "pose", ["a"], workspace=workspace)
    with pytest.raises(WorkspaceError, match="invalid label project name"):
        LabelProject.create("../x", "detection", ["a"], workspace=workspace)
    with pytest.raises(NotFoundError, match="no label project named 'q'"):
        LabelProject.open("q", workspace)
    LabelProject.create("p", "detection", ["a"], workspace=workspace)
    with pytest.raises(WorkspaceError, match="already exists"):
        LabelProject.create("p", "detection", ["a"], workspace=workspace)
    with pytest.raises(LabelError, match="name yourself"):
        LabelProject.open("p", workspace).save(1, " ", {"skip": True}, 0)


def test_filters_order_and_progress(workspace: Workspace, tmp_path: Path) -> None:
    project = _project(workspace, tmp_path)
    ids = queue(project, "ann")
    project.save(ids[0], "ann", {"classes": ["cat"]}, 0)
    project.save(ids[1], "ann", {"skip": True}, 0)
    project.save(ids[2], "bob", {"classes": ["dog"]}, 0)
    assert queue(project, "ann", show="unlabelled") == ids[2:]
    assert queue(project, "ann", show="class:dog") == [ids[2]]
    assert queue(project, "ann", show="annotator:bob") == [ids[2]]
    with pytest.raises(LabelError, match="unknown filter 'class:cow'"):
        queue(project, "ann", show="class:cow")
    project.set_prelabels(
        "m", [(ids[5], {"classes": ["cat"]}, 0.9), (ids[4], {"classes": ["dog"]}, 0.2)]
    )
    assert queue(project, "ann", order="uncertain")[:2] == [ids[5], ids[4]]
    project.save(ids[5], "ann", {"classes": ["cat"]}, 0)  # the pre-label kept
    project.save(ids[4], "ann", {"classes": ["cat"]}, 0)  # corrected
    done = progress(project)
    assert done["images"] == 6 and done["labelled"] == 4 and done["skipped"] == 1
    assert done["annotators"] == {"ann": 4, "bob": 1} and done["prelabels_accepted"] == 0.5


def test_agreement_matches_cohen_and_fleiss(workspace: Workspace, tmp_path: Path) -> None:
    project = _project(workspace, tmp_path)
    ids = queue(project, "a")
    answers = {  # three annotators on six images
        "a": ["cat", "cat", "dog", "dog", "cat", "dog"],
        "b": ["cat", "dog", "dog", "dog", "cat", "cat"],
        "c": ["cat", "cat", "dog", "cat", "cat", "dog"],
    }
    for name, classes in answers.items():
        for image, name_of_class in zip(ids, classes, strict=True):
            project.save(image, name, {"classes": [name_of_class]}, 0)
    found = agreement(project)
    pair = next(p for p in found["pairs"] if p["annotators"] == ["a", "b"])
    assert pair["images"] == 6
    assert pair["cohen_kappa"] == pytest.approx(cohen_kappa_score(answers["a"], answers["b"]))
    # Fleiss' kappa by hand: per image counts of (cat, dog)
    counts = np.array([[3, 0], [2, 1], [0, 3], [1, 2], [3, 0], [1, 2]], dtype=float)
    p_i = ((counts * (counts - 1)).sum(1) / 6).mean()
    p_e = ((counts.sum(0) / counts.sum()) ** 2).sum()
    assert found["all"]["fleiss_kappa"] == pytest.approx((p_i - p_e) / (1 - p_e))


def test_box_agreement_matches_boxes_by_iou(workspace: Workspace, tmp_path: Path) -> None:
    project = _project(workspace, tmp_path, "detection")
    image = queue(project, "a")[0]
    box = {"x1": 2, "y1": 2, "x2": 12, "y2": 12, "class": "cat"}
    project.save(image, "a", {"boxes": [box, {**box, "x1": 20, "x2": 30}]}, 0)
    project.save(image, "b", {"boxes": [{**box, "x2": 11}]}, 0)  # IoU 0.9 with the first
    (pair,) = agreement(project)["pairs"]
    assert pair["box_f1"] == pytest.approx(2 / 3) and pair["mean_iou"] == pytest.approx(0.9)


def test_the_project_becomes_a_dataset_with_its_provenance(
    workspace: Workspace, tmp_path: Path
) -> None:
    project = _project(workspace, tmp_path)
    ids = queue(project, "a")
    for number, image in enumerate(ids[:5]):
        project.save(image, "a", {"classes": ["cat" if number % 2 else "dog"]}, 0)
    project.save(ids[0], "b", {"classes": ["cat"]}, 0)  # disagrees with a on the first
    project.save(ids[0], "c", {"classes": ["cat"]}, 0)  # two against one: cat
    project.save(ids[1], "b", {"classes": ["dog"]}, 0)
    project.review(ids[1], "a", "rev", "accepted")  # a's cat on the second, accepted
    project.save(ids[2], "b", {"classes": ["cat"]}, 0)
    project.review(ids[2], "b", "rev", "rejected")  # b's cat on the third: out, a's dog stands
    data = Dataset(finish(project, "labelled", workspace=workspace))
    labels = {s.source: data.classes[s.label] for s in data}
    files = [project.image(i)["file"] for i in ids]
    assert len(data) == 5 and labels[files[0]] == "cat"  # the majority
    assert labels[files[1]] == "cat" and labels[files[2]] == "dog"  # accepted; rejected
    provenance = data.manifest["provenance"]
    assert provenance["label_project"] == "p" and provenance["labels_by"] == {"c": 1, "a": 4}
    assert "not labelled yet" in str(data.report["problems"])
    again = finish(project, "labelled", new_version=True, workspace=workspace)
    assert again.name == "labelled-v2"
    assert Dataset(again).manifest["provenance"]["previous_version"] == "labelled"
    with pytest.raises(WorkspaceError, match="already exists"):
        finish(project, "labelled", workspace=workspace)


def test_a_dataset_opens_as_a_project_to_correct(workspace: Workspace, tmp_path: Path) -> None:
    from lumos.data import import_dataset

    folder = class_folders(tmp_path / "src", {"cat": 4, "dog": 4}, size=(32, 24))
    import_dataset(folder, "pets", workspace=workspace, val_percent=25, test_percent=0)
    project = LabelProject.create("fix", "classification", ["cat", "dog"], workspace=workspace)
    assert add_dataset(project, "pets", workspace) == 8
    ids = queue(project, "me")
    first = project.label(ids[0], "me")
    assert first["prelabel"]["value"] == first["others"][0]["value"]  # the editor starts there
    wrong = "dog" if first["prelabel"]["value"]["classes"] == ["cat"] else "cat"
    project.save(ids[0], "me", {"classes": [wrong]}, 0)  # one corrected
    project.save(ids[1], "me", project.label(ids[1], "me")["prelabel"]["value"], 0)  # one kept
    assert progress(project)["prelabels_accepted"] == 0.5
    data = Dataset(finish(project, "pets-fixed", workspace=workspace))
    assert len(data) == 8 and data.manifest["provenance"]["labels_by"] == {
        "dataset:pets": 6,
        "me": 2,
    }
    splits = sorted(s.split for s in data)
    assert splits.count("val") == 2
    stored = {s.source: data.classes[s.label] for s in data}
    assert stored[project.image(ids[0])["file"]] == wrong


def test_polygons_become_masks(workspace: Workspace, tmp_path: Path) -> None:
    project = _project(workspace, tmp_path, "segmentation")
    ids = queue(project, "a")
    square = {"class": "dog", "points": [[4, 4], [12, 4], [12, 12], [4, 12]]}
    for image in ids:
        project.save(image, "a", {"polygons": [square]}, 0)
    with pytest.raises(LabelError, match="polygon 1 needs at least 3 finite points"):
        project.save(ids[0], "b", {"polygons": [{"class": "dog", "points": [[0, 0], [1, 1]]}]}, 0)
    data = Dataset(finish(project, "painted", workspace=workspace))
    assert data.task == "segmentation" and data.classes == ["cat", "dog"]
    mask = data[0].mask
    assert set(np.unique(mask)) == {0, 2} and 60 <= int((mask == 2).sum()) <= 90  # 8x8, edges


@pytest.mark.parametrize("order", list(itertools.permutations(range(5))))
def test_two_annotators_in_any_order_lose_no_label(
    workspace: Workspace, tmp_path: Path, order: tuple[int, ...]
) -> None:
    """Five saves of two annotators (empty ones among them) made in any of 120 orders: the
    finished dataset holds every image's label with boxes, and the disagreements are listed."""
    project = _project(workspace, tmp_path, "detection")
    first, second, third = queue(project, "a")[:3]
    box = {"x1": 2, "y1": 2, "x2": 12, "y2": 12, "class": "cat"}
    elsewhere = {"x1": 14, "y1": 10, "x2": 30, "y2": 22, "class": "dog"}
    saves = [
        (first, "a", {"boxes": [box]}),
        (first, "b", {"boxes": []}),  # b saw nothing: never replaces a's box
        (second, "b", {"boxes": [elsewhere]}),
        (second, "a", {"boxes": []}),
        (third, "a", {"boxes": []}),  # nobody saw anything: an image with no objects
    ]
    for index in order:
        image, annotator, value = saves[index]
        project.save(image, annotator, value, 0)
    data = Dataset(finish(project, "boxes", workspace=workspace))
    files = {i: project.image(i)["file"] for i in (first, second, third)}
    boxes = {s.source: [data.classes[c] for c in s.box_labels.tolist()] for s in data}
    assert boxes == {files[first]: ["cat"], files[second]: ["dog"], files[third]: []}
    assert conflicts(project) == sorted(
        [
            {"image": files[first], "chosen": "a", "rule": "only label", "overruled": ["b"]},
            {"image": files[second], "chosen": "b", "rule": "only label", "overruled": ["a"]},
        ],
        key=lambda c: c["image"],
    )


def test_the_latest_label_with_objects_wins_unless_two_agree(
    workspace: Workspace, tmp_path: Path
) -> None:
    project = _project(workspace, tmp_path, "detection")
    image = queue(project, "a")[0]
    box = {"x1": 2, "y1": 2, "x2": 12, "y2": 12, "class": "cat"}
    project.save(image, "a", {"boxes": [box]}, 0)
    project.save(image, "b", {"boxes": [{**box, "class": "dog"}]}, 0)
    [conflict] = conflicts(project)
    assert conflict["chosen"] == "b" and conflict["rule"] == "latest non-empty"
    project.save(image, "c", {"boxes": [{**box, "x2": 11.5}]}, 0)  # agrees with a
    project.save(image, "d", {"boxes": []}, 0)
    [conflict] = conflicts(project)
    assert conflict["rule"] == "agreement" and conflict["chosen"] == "c"
    assert conflict["overruled"] == ["b", "d"]
    project.review(image, "b", "rev", "accepted")  # a reviewer decides
    [conflict] = conflicts(project)
    assert conflict["chosen"] == "b" and conflict["rule"] == "review"
