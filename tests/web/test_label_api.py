"""Label projects through the REST API: what the labelling page does, and bad requests."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from helpers import api_error, class_folders, lenet_workspace, workbench_client
from lumos.data import Dataset
from lumos.workspace import Workspace


def _png(colour: int = 0) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (20, 10), (colour, 0, 0)).save(buffer, format="PNG")
    return buffer.getvalue()


def test_label_a_folder_through_the_api(workspace: Workspace, tmp_path: Path) -> None:
    client = workbench_client(workspace, roots=[tmp_path], run_jobs=False)
    folder = class_folders(tmp_path / "src", {"a": 3}, size=(32, 24))
    body = {"name": "p", "task": "detection", "classes": ["cat", "dog"], "images": str(folder)}
    made = client.post("/api/label", json=body)
    assert made.status_code == 201 and made.json()["progress"]["images"] == 3
    ids = client.get("/api/label/p/queue", params={"annotator": "ann"}).json()["images"]
    picture = client.get(f"/api/label/p/images/{ids[0]}/file")
    assert picture.status_code == 200 and picture.content[:4] == b"\x89PNG"
    box = {"x1": 1, "y1": 2, "x2": 10, "y2": 12, "class": "cat"}
    saved = client.put(
        f"/api/label/p/images/{ids[0]}",
        json={"annotator": "ann", "value": {"boxes": [box]}, "base": 0},
    )
    assert saved.json() == {"revision": 1}
    stale = client.put(
        f"/api/label/p/images/{ids[0]}",
        json={"annotator": "ann", "value": {"boxes": []}, "base": 0},
    )
    assert stale.status_code == 409 and "since you opened revision 0" in stale.json()["error"]
    assert stale.json()["current"]["value"] == {"boxes": [box]}
    got = client.get(f"/api/label/p/images/{ids[0]}", params={"annotator": "ann"}).json()
    assert got["value"] == {"boxes": [box]} and got["revision"] == 1
    cleared = client.delete(f"/api/label/p/images/{ids[0]}", params={"annotator": "ann", "base": 1})
    assert cleared.json() == {"revision": 2}
    stale = client.put(
        f"/api/label/p/images/{ids[0]}",
        json={"annotator": "ann", "value": {"boxes": []}, "base": 1},
    )
    assert stale.status_code == 409  # an editor that saw revision 1 cannot save over the undo
    for image in ids:
        client.put(
            f"/api/label/p/images/{image}",
            json={
                "annotator": "ann",
                "value": {"boxes": [box]},
                "base": 2 if image == ids[0] else 0,
            },
        )
        client.put(
            f"/api/label/p/images/{image}",
            json={"annotator": "bob", "value": {"boxes": [{**box, "x2": 11}]}, "base": 0},
        )
    reviewed = client.post(
        f"/api/label/p/images/{ids[0]}/review",
        json={"annotator": "bob", "reviewer": "rev", "verdict": "accepted"},
    )
    assert reviewed.status_code == 200
    (pair,) = client.get("/api/label/p/agreement").json()["pairs"]
    assert pair["annotators"] == ["ann", "bob"] and pair["box_f1"] == 1.0
    agreed = client.get("/api/label/p/conflicts").json()
    assert agreed["conflicts"] == [] and "latest" in agreed["rule"]
    client.put(
        f"/api/label/p/images/{ids[1]}",
        json={"annotator": "cy", "value": {"boxes": []}, "base": 0},
    )  # a third annotator saw nothing there: listed, not taken
    [conflict] = client.get("/api/label/p/conflicts").json()["conflicts"]
    assert conflict["chosen"] == "bob" and conflict["overruled"] == ["cy"]
    assert "no label project named 'q'" in api_error(client.get("/api/label/q/conflicts"), 404)
    finished = client.post("/api/label/p/dataset", json={"dataset": "boxes"})
    assert finished.json() == {"dataset": "boxes"}
    data = Dataset.open("boxes", workspace)
    assert len(data) == 3 and data.manifest["provenance"]["labels_by"] == {"bob": 3}
    assert (
        client.get("/label/p").status_code == 200
        and 'id="label-canvas"' in client.get("/label/p").text
    )
    assert client.get("/label").status_code == 200


def test_uploads_add_images_and_name_the_bad_ones(workspace: Workspace, tmp_path: Path) -> None:
    client = workbench_client(workspace, roots=[tmp_path], run_jobs=False)
    client.post("/api/label", json={"name": "up", "task": "classification", "classes": ["a", "b"]})
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("inner/one.png", _png(1))
        z.writestr("inner/two.png", _png(2))
    files = [
        ("files", ("x.png", _png(), "image/png")),
        ("files", ("broken.png", b"not a png", "image/png")),
        ("files", ("notes.txt", b"hello", "text/plain")),
        ("files", ("more.zip", archive.getvalue(), "application/zip")),
    ]
    answer = client.post("/api/label/up/images", files=files).json()
    assert answer["progress"]["images"] == 3
    problems = " | ".join(answer["problems"])
    assert (
        "broken.png: cannot read image header" in problems and "notes.txt: not an image" in problems
    )
    assert not list(workspace.root.rglob("label-*"))  # the uploads are gone once added


def test_bad_label_requests_are_one_line_errors(workspace: Workspace, tmp_path: Path) -> None:
    client = workbench_client(workspace, roots=[tmp_path / "allowed"], run_jobs=False)
    (tmp_path / "allowed").mkdir()
    outside = class_folders(tmp_path / "outside", {"a": 2})
    body = {"name": "p", "task": "classification", "classes": ["a", "b"]}
    assert "outside the folders" in api_error(
        client.post("/api/label", json=body | {"images": str(outside)}), 400
    )
    assert not (workspace.root / "labels" / "p").exists()
    assert "invalid label project name" in api_error(
        client.post("/api/label", json=body | {"name": "../x"}), 400
    )
    assert "unknown kind of project" in api_error(
        client.post("/api/label", json=body | {"task": "pose"}), 400
    )
    assert "no dataset named 'nope'" in api_error(
        client.post("/api/label", json=body | {"dataset": "nope"}), 404
    )
    assert not (workspace.root / "labels" / "p").exists()  # nothing half-made is left
    assert "no label project named 'q'" in api_error(client.get("/api/label/q"), 404)
    client.post("/api/label", json=body)
    assert "no image 5" in api_error(client.get("/api/label/p/images/5"), 404)
    client.post("/api/label/p/images", files=[("files", ("x.png", _png(), "image/png"))])
    save = {"annotator": "ann", "value": {"classes": ["zebra"]}, "base": 0}
    assert "unknown class 'zebra'" in api_error(client.put("/api/label/p/images/1", json=save), 400)
    assert "name yourself" in api_error(
        client.put("/api/label/p/images/1", json=save | {"annotator": ""}), 400
    )
    assert "base" in api_error(client.put("/api/label/p/images/1", json=save | {"base": -1}), 422)
    assert "unknown filter 'class:zebra'" in api_error(
        client.get("/api/label/p/queue", params={"show": "class:zebra"}), 400
    )
    verdict = {"annotator": "ann", "reviewer": "r", "verdict": "maybe"}
    assert "'accepted' or 'rejected'" in api_error(
        client.post("/api/label/p/images/1/review", json=verdict), 400
    )
    assert "no model named 'nope'" in api_error(
        client.post("/api/label/p/prelabel", json={"model": "nope"}), 404
    )
    assert "no usable images" in api_error(
        client.post("/api/label/p/dataset", json={"dataset": "d"}), 400
    )
    assert client.get("/label/nope").status_code == 404


def test_a_classifier_prelabels_through_a_job(tmp_path: Path) -> None:
    workspace = lenet_workspace(tmp_path / "workspace")
    client = workbench_client(workspace, roots=[tmp_path], run_jobs=False)
    classes = Dataset.open("digits", workspace).classes
    body = {"name": "digits", "task": "classification", "classes": classes, "dataset": "digits"}
    assert client.post("/api/label", json=body).status_code == 201
    wrong = {"name": "boxes", "task": "detection", "classes": classes}
    client.post("/api/label", json=wrong)
    assert "lenet is a classifier: a detection project" in api_error(
        client.post("/api/label/boxes/prelabel", json={"model": "lenet"}), 400
    )
    job = client.post("/api/label/digits/prelabel", json={"model": "lenet"}).json()
    from lumos.worker import run_job

    assert run_job(workspace, job["id"]) == 0
    project = client.get("/api/label/digits").json()
    assert project["progress"]["prelabels"] == project["progress"]["images"]
    ids = client.get("/api/label/digits/queue", params={"order": "uncertain"}).json()["images"]
    first = client.get(f"/api/label/digits/images/{ids[0]}").json()["prelabel"]
    last = client.get(f"/api/label/digits/images/{ids[-1]}").json()["prelabel"]
    assert first["model"] == "lenet" and first["uncertainty"] >= last["uncertainty"]
