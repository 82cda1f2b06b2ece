"""The REST API: every endpoint answers, and bad input gets a 4xx with one JSON error line."""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from helpers import (
    api_error,
    coco_with_negatives_and_crowds,
    colour_folders,
    import_squares,
    run_cli,
    workbench_client,
)
from lumos.access import ServerError, check_exposure
from lumos.data import import_dataset
from lumos.deploy import Bundle
from lumos.deploy.from_job import bundle_from_job
from lumos.jobs import open_job
from lumos.train import Recipe
from lumos.train.run import queue_training
from lumos.worker import run_job
from lumos.workspace import Workspace

TOKEN = "s3cret-token-of-32-characters-xx"


def _client(workspace: Workspace, tmp_path: Path, **settings) -> TestClient:
    options = {"roots": [tmp_path], "run_jobs": False, **settings}
    return workbench_client(workspace, **options)


@pytest.fixture
def client(workspace: Workspace, tmp_path: Path) -> TestClient:
    return _client(workspace, tmp_path, max_upload_bytes=200_000)


@pytest.fixture
def colours(tmp_path: Path, workspace: Workspace) -> str:
    import_dataset(
        colour_folders(tmp_path / "src"), "colours", workspace=workspace, test_percent=20
    )
    return "colours"


def _trained_model(workspace: Workspace) -> str:
    recipe = Recipe(dataset="colours", network="lenet5", epochs=3, batch_size=4, lr=0.05, workers=0,
                    precision="fp32")  # fmt: skip
    job = queue_training(recipe, workspace)
    assert run_job(workspace, job.id) == 0
    bundle_from_job(job.id, "colour-net", workspace=workspace)
    return "colour-net"


def _zip(entries: dict[str, bytes], *, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return buffer.getvalue()


def _png(colour: tuple[int, int, int] = (220, 20, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buffer, format="PNG")
    return buffer.getvalue()


# ---- datasets ---------------------------------------------------------------------------


def test_import_from_folder_then_browse(
    client: TestClient, tmp_path: Path, workspace: Workspace
) -> None:
    source = colour_folders(tmp_path / "src")
    options = json.dumps({"size": [16, 16], "val_percent": 25, "test_percent": 0})
    response = client.post(
        "/api/datasets", data={"name": "colours", "source": str(source), "options": options}
    )
    assert response.status_code == 202, response.text
    job = response.json()
    assert job["state"] == "queued" and job["title"] == "import colours"
    assert run_job(workspace, job["id"]) == 0
    assert client.get(f"/api/jobs/{job['id']}").json()["state"] == "done"

    listed = client.get("/api/datasets").json()
    assert [(d["name"], d["records"], d["classes"]) for d in listed] == [("colours", 36, 3)]
    info = client.get("/api/datasets/colours").json()
    assert info["classes"] == ["blue", "green", "red"] and info["report"]["problems"] == []

    page = client.get(
        "/api/datasets/colours/records", params={"class": "red", "split": "train", "per_page": 5}
    ).json()
    assert page["total"] == 9 and page["pages"] == 2
    assert {r["caption"] for r in page["records"]} == {"red"}
    assert {r["split"] for r in page["records"]} == {"train"}
    picture = client.get(f"/api/datasets/colours/records/{page['records'][0]['index']}.png")
    assert picture.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(picture.content)).size == (128, 128)

    assert client.delete("/api/datasets/colours").json() == {"deleted": "colours"}
    assert client.get("/api/datasets").json() == []


@pytest.mark.parametrize("top", ["", "colours/"])  # zipping a folder puts it on top
def test_import_from_uploaded_zip(client: TestClient, workspace: Workspace, top: str) -> None:
    archive = _zip(
        {
            f"{top}{c}/{i}.png": _png(rgb)
            for c, rgb in (("a", (255, 0, 0)), ("b", (0, 0, 255)))
            for i in range(4)
        }
    )
    response = client.post(
        "/api/datasets",
        data={"name": "zipped", "options": "{}"},
        files={"archive": ("shapes.zip", archive, "application/zip")},
    )
    assert response.status_code == 202, response.text
    assert run_job(workspace, response.json()["id"]) == 0
    info = client.get("/api/datasets/zipped").json()
    assert info["records"] == 8 and info["classes"] == ["a", "b"]
    assert list((workspace.root / "uploads").iterdir()) == []  # the unpacked copy is gone


@pytest.mark.parametrize(
    ("entries", "reason"),
    [
        ({"../evil.png": b"x"}, "points outside the archive"),
        ({"/etc/evil.png": b"x"}, "points outside the archive"),
        ({"a/bomb.png": b"\0" * 5_000_000}, "refused as a zip bomb"),
    ],
)
def test_hostile_zip_refused_and_nothing_written(
    client: TestClient, workspace: Workspace, tmp_path: Path, entries: dict, reason: str
) -> None:
    response = client.post(
        "/api/datasets",
        data={"name": "evil"},
        files={"archive": ("evil.zip", _zip(entries), "application/zip")},
    )
    assert reason in api_error(response, 400)
    assert not (tmp_path / "evil.png").exists()
    assert list((workspace.root / "uploads").iterdir()) == []
    assert client.get("/api/jobs").json() == []


def test_import_bad_input(client: TestClient, tmp_path: Path, colours: str) -> None:
    def post(**fields):
        files = fields.pop("files", None)
        return client.post("/api/datasets", data={"name": "x", **fields}, files=files)

    assert "outside the folders" in api_error(post(source="/etc"), 400)
    taken = client.post("/api/datasets", data={"name": colours, "source": str(tmp_path)})
    assert "dataset 'colours' already exists" in api_error(taken, 400)
    assert "no such file" in api_error(post(source=str(tmp_path / "nope")), 400)
    assert "either a source folder or a zip" in api_error(post(), 400)
    assert "options are not JSON" in api_error(post(source=str(tmp_path), options="{oops"), 400)
    assert "val_percent" in api_error(
        post(source=str(tmp_path), options='{"val_percent": 150}'), 400
    )
    assert "invalid dataset name" in api_error(
        client.post("/api/datasets", data={"name": "../x", "source": str(tmp_path)}), 400
    )
    assert "must be .zip" in api_error(
        post(files={"archive": ("a.tar", b"x", "application/x-tar")}), 400
    )
    assert "not a readable zip" in api_error(
        post(files={"archive": ("a.zip", b"not a zip", "application/zip")}), 400
    )
    assert "empty upload" in api_error(
        post(files={"archive": ("a.zip", b"", "application/zip")}), 400
    )
    assert "larger than this server accepts" in api_error(
        post(files={"archive": ("a.zip", b"\0" * 300_000, "application/zip")}), 413
    )
    assert "name" in api_error(client.post("/api/datasets", data={}), 422)
    assert "no dataset named 'nope'" in api_error(client.get("/api/datasets/nope"), 404)
    assert "invalid dataset name" in api_error(client.get("/api/datasets/.x"), 400)
    assert "page 9 out of range" in api_error(
        client.get("/api/datasets/colours/records?page=9"), 400
    )
    assert "unknown class 'cat'" in api_error(
        client.get("/api/datasets/colours/records?class=cat"), 400
    )
    api_error(client.get("/api/datasets/colours/records?split=bogus"), 422)
    assert "record 999 out of range" in api_error(
        client.get("/api/datasets/colours/records/999.png"), 400
    )
    assert "no dataset named" in api_error(client.delete("/api/datasets/nope"), 404)


def test_resize_preview_of_upload_and_folder(client: TestClient, tmp_path: Path) -> None:
    upload = client.post(
        "/api/resize-preview",
        data={"width": 32, "height": 16},
        files={"image": ("a.png", _png(), "image/png")},
    ).json()
    assert set(upload) == {"squash", "crop", "fill", "half-crop"}
    assert all(url.startswith("data:image/png;base64,") for url in upload.values())
    folder = client.post(
        "/api/resize-preview",
        data={"width": 8, "height": 8, "path": str(colour_folders(tmp_path / "c"))},
    )
    assert folder.status_code == 200

    def preview(**fields) -> object:
        return client.post("/api/resize-preview", data={"width": 8, "height": 8}, **fields)

    assert "not an image file" in api_error(preview(files={"image": ("a.exe", b"MZ", "x")}), 400)
    assert "a.png" in api_error(preview(files={"image": ("a.png", b"garbage", "image/png")}), 400)
    assert "outside the folders" in api_error(
        client.post("/api/resize-preview", data={"width": 8, "height": 8, "path": "/etc/passwd"}),
        400,
    )
    assert "give an image" in api_error(
        client.post("/api/resize-preview", data={"width": 8, "height": 8}), 400
    )
    api_error(client.post("/api/resize-preview", data={"width": 0, "height": 8}), 422)


# ---- training and jobs ------------------------------------------------------------------


def test_train_watch_clone_and_save(client: TestClient, workspace: Workspace, colours: str) -> None:
    recipe = {
        "dataset": colours,
        "network": "lenet5",
        "epochs": 3,
        "batch_size": 4,
        "lr": 0.05,
        "workers": 0,
    }
    job = client.post("/api/train", json={"recipe": recipe}).json()
    assert job["state"] == "queued" and job["title"] == "lenet5 on colours"
    assert run_job(workspace, job["id"]) == 0

    detail = client.get(f"/api/jobs/{job['id']}").json()
    assert detail["state"] == "done"
    assert detail["summary"]["epochs_done"] == 3 and detail["summary"]["metric"] == "val_accuracy"
    assert detail["summary"]["best"] >= 0.9
    listed = client.get("/api/jobs").json()
    assert [j["kind"] for j in listed] == ["train", "import"] and listed[0]["id"] == job["id"]
    metrics = client.get(f"/api/jobs/{job['id']}/metrics").json()
    assert [r["epoch"] for r in metrics if r["kind"] == "epoch"] == [1, 2, 3]
    assert client.get(f"/api/jobs/{job['id']}/metrics?since={len(metrics)}").json() == []
    assert any(
        "state done" in line for line in client.get(f"/api/jobs/{job['id']}/log").json()["log"]
    )

    with client.stream("GET", f"/api/jobs/{job['id']}/events") as events:
        text = "".join(events.iter_text())
    assert "event: state" in text and '"state": "done"' in text and "event: metrics" in text

    clone = client.get(f"/api/jobs/{job['id']}/clone").json()
    assert clone["kind"] == "train" and clone["params"]["epochs"] == 3
    assert "network: lenet5" in clone["yaml"]
    again = client.post("/api/train", json={"yaml": clone["yaml"]}).json()
    assert again["params"] == job["params"]

    saving = client.post("/api/models", json={"job": job["id"], "name": "net"})
    assert saving.status_code == 202 and saving.json()["title"] == f"save net from job {job['id']}"
    assert "being saved already" in api_error(
        client.post("/api/models", json={"job": job["id"], "name": "net"}), 400
    )
    assert run_job(workspace, saving.json()["id"]) == 0
    saved = client.get(f"/api/jobs/{saving.json()['id']}").json()
    assert saved["result"] == {"model": "net"} and saved["progress"]["stage"] == "saved"
    assert "already exists" in api_error(
        client.post("/api/models", json={"job": job["id"], "name": "net"}), 400
    )
    assert [m["name"] for m in client.get("/api/models").json()] == ["net"]

    assert "abort it before deleting" in api_error(client.delete(f"/api/jobs/{again['id']}"), 400)
    assert client.post(f"/api/jobs/{again['id']}/abort").json()["state"] == "aborted"
    assert client.delete(f"/api/jobs/{again['id']}").json() == {"deleted": again["id"]}
    assert "already done" in api_error(client.post(f"/api/jobs/{job['id']}/abort"), 400)


def test_save_bad_input(client: TestClient, workspace: Workspace, colours: str) -> None:
    def save(body):
        return client.post("/api/models", json=body)

    imported = client.get("/api/jobs").json()[0]["id"]
    queued = queue_training(Recipe(dataset=colours, network="lenet5", batch_size=4), workspace)
    assert "is not a training job (it is 'import')" in api_error(
        save({"job": imported, "name": "x"}), 400
    )
    assert "has no checkpoint yet" in api_error(save({"job": queued.id, "name": "x"}), 400)
    assert "no job 'train-0-none'" in api_error(save({"job": "train-0-none", "name": "x"}), 404)
    assert "model name" in api_error(save({"job": queued.id, "name": "../up"}), 400)
    assert "name" in api_error(save({"job": queued.id}), 422)
    assert "job" in api_error(save({"job": ["x"], "name": "x"}), 422)
    assert client.get("/api/jobs").json()[0]["id"] == queued.id  # nothing else was queued


def test_train_bad_input(client: TestClient, tmp_path: Path, colours: str) -> None:
    def train(body):
        return client.post("/api/train", json=body)

    assert "unknown key 'epochz'" in api_error(
        train({"recipe": {"dataset": colours, "epochz": 3}}), 400
    )
    assert "epochs" in api_error(train({"recipe": {"dataset": colours, "epochs": -1}}), 400)
    assert "no dataset named 'nope'" in api_error(train({"recipe": {"dataset": "nope"}}), 404)
    assert "malformed YAML" in api_error(train({"yaml": "a: [1"}), 400)
    assert "either recipe fields or recipe YAML" in api_error(train({}), 400)
    assert "Python networks cannot be trained from the web" in api_error(
        train({"recipe": {"dataset": colours, "network": "/tmp/x.py"}}), 400
    )
    assert "outside the folders" in api_error(
        train({"recipe": {"dataset": colours, "network": "/etc/net.yaml"}}), 400
    )
    layers_error = api_error(
        train({"recipe": {"dataset": colours}, "network_yaml": "nope: 1"}), 400
    )
    assert layers_error == "network_yaml: a network file needs a 'layers:' list"  # no temp path
    bad_layers = (
        "layers:\n  - conv: {out: 4, kernel: 99}\n  - flatten\n  - linear: {out: classes}\n"
    )
    assert "/tmp" not in api_error(
        train({"recipe": {"dataset": colours}, "network_yaml": bad_layers}), 400
    )
    # Refused at the submit, not in the worker: nothing is queued.
    assert "unknown network '/etc/passwd'" in api_error(
        train({"recipe": {"dataset": colours, "batch_size": 4, "network": "/etc/passwd"}}), 400
    )
    assert "input_size.0: Input should be greater than or equal to 1" in api_error(
        train({"recipe": {"dataset": colours, "batch_size": 4, "input_size": [0, -3]}}), 400
    )
    assert "lenet5 needs inputs of at least 12x12" in api_error(
        train(
            {
                "recipe": {
                    "dataset": colours,
                    "batch_size": 4,
                    "network": "lenet5",
                    "input_size": [8, 8],
                }
            }
        ),
        400,
    )
    assert "fcos_resnet18_fpn detects objects, but dataset 'colours' has no boxes" in api_error(
        train({"recipe": {"dataset": colours, "batch_size": 4, "network": "fcos_resnet18_fpn"}}),
        400,
    )
    assert [job["kind"] for job in client.get("/api/jobs").json()] == ["import"]
    assert "invalid init model name" in api_error(
        train({"recipe": {"dataset": colours, "init": "../../x"}}), 400
    )
    assert "(nearest: resnet18.IMAGENET1K_V1" in api_error(
        train({"recipe": {"dataset": colours, "init": "torchvision:resnet18.IMAGENET1K_V9"}}), 400
    )
    api_error(
        client.post(
            "/api/train", content=b"{not json", headers={"content-type": "application/json"}
        ),
        422,
    )
    assert "no job" in api_error(client.get("/api/jobs/train-1-x"), 404)
    assert "invalid job id" in api_error(client.get("/api/jobs/..."), 400)
    assert "no job" in api_error(client.post("/api/jobs/train-1-x/abort"), 404)


def test_custom_yaml_network_from_the_web(
    client: TestClient, workspace: Workspace, colours: str
) -> None:
    layers = "layers:\n  - conv: {out: 4, kernel: 3}\n  - relu\n  - flatten\n  - linear: {out: classes}\n"  # noqa: E501
    job = client.post(
        "/api/train",
        json={
            "recipe": {"dataset": colours, "epochs": 1, "batch_size": 4, "workers": 0},
            "network_yaml": layers,
        },
    )
    assert job.status_code == 202, job.text
    assert run_job(workspace, job.json()["id"]) == 0, open_job(workspace, job.json()["id"]).error


def test_networks_summary_and_schedule(client: TestClient, colours: str) -> None:
    names = {n["name"]: n["task"] for n in client.get("/api/networks").json()}
    assert names["lenet5"] == "classification" and names["fcos_resnet18_fpn"] == "detection"
    summary = client.get("/api/networks/lenet5/summary", params={"dataset": colours}).json()
    assert summary["input_shape"] == [3, 16, 16] and summary["layers"][-1]["output_shape"][-1] == 3
    assert "unknown network" in api_error(client.get("/api/networks/nope/summary"), 404)
    curve = client.post(
        "/api/schedule", json={"lr": 0.1, "epochs": 10, "lr_policy": "step", "step_size": 5}
    ).json()
    assert curve["lr"][0] == pytest.approx(0.1) and curve["lr"][-1] == pytest.approx(0.01)
    assert max(curve["epoch"]) < 10
    assert "lr_policy" in api_error(
        client.post("/api/schedule", json={"lr_policy": "sometimes"}), 400
    )
    assert "properties" in client.get("/api/recipe/schema").json()


# ---- models -----------------------------------------------------------------------------


def test_model_predict_download_evaluate(
    client: TestClient, workspace: Workspace, colours: str
) -> None:
    name = _trained_model(workspace)
    answer = client.post(
        f"/api/models/{name}/predict",
        files={"image": ("red.png", _png((230, 30, 20)), "image/png")},
    ).json()
    assert answer["task"] == "classification"
    assert answer["top"][0]["label"] == "red" and len(answer["top"]) == 3
    assert answer["picture"].startswith("data:image/png;base64,")
    # The network is built once per saved version of the model, not once per request.
    predictor = client.app.state.lumos.predictor(name)
    again = client.post(
        f"/api/models/{name}/predict", files={"image": ("b.png", _png((20, 30, 230)), "image/png")}
    ).json()
    assert (
        again["top"][0]["label"] == "blue" and client.app.state.lumos.predictor(name) is predictor
    )

    download = client.get(f"/api/models/{name}/download")
    assert download.headers["content-disposition"] == f'attachment; filename="{name}.lumos"'
    assert zipfile.ZipFile(io.BytesIO(download.content)).namelist() == [
        "bundle.json",
        "weights.safetensors",
    ]

    job = client.post(
        "/api/evaluate", json={"model": name, "dataset": colours, "split": "test"}
    ).json()
    assert run_job(workspace, job["id"]) == 0
    files = client.get(f"/api/jobs/{job['id']}/report").json()["files"]
    assert "confusion.png" in files
    png = client.get(f"/api/jobs/{job['id']}/files/confusion.png")
    assert png.headers["content-type"] == "image/png"
    detail = client.get(f"/api/models/{name}").json()
    assert detail["meta"]["labels"] == ["blue", "green", "red"]
    assert detail["evaluations"][0]["files"] == files

    assert "not an image file" in api_error(
        client.post(f"/api/models/{name}/predict", files={"image": ("a.txt", b"hi", "text/plain")}),
        400,
    )
    assert "bad.png" in api_error(
        client.post(
            f"/api/models/{name}/predict",
            files={"image": ("bad.png", b"\x89PNG broken", "image/png")},
        ),
        400,
    )
    assert "no model named 'nope'" in api_error(
        client.post("/api/models/nope/predict", files={"image": ("a.png", _png(), "image/png")}),
        404,
    )
    assert "no file" in api_error(client.get(f"/api/jobs/{job['id']}/files/log.txt"), 404)
    assert "invalid file name" in api_error(
        client.get(f"/api/jobs/{job['id']}/files/.lumos.db"), 400
    )
    assert client.get(f"/api/jobs/{job['id']}/files/..%2F..%2Flumos.db").status_code == 404
    assert "unknown split" in api_error(
        client.post("/api/evaluate", json={"model": name, "dataset": colours, "split": "all"}), 400
    )
    assert "no model named" in api_error(client.get("/api/models/nope/download"), 404)
    assert "no model named" in api_error(client.delete("/api/models/nope"), 404)
    assert client.delete(f"/api/models/{name}").json() == {"deleted": name}


# ---- pages and security -----------------------------------------------------------------


def test_pages_render_and_missing_entries_are_404(client: TestClient, colours: str) -> None:
    for path in ("/", "/datasets/new", f"/datasets/{colours}", "/models/new"):
        page = client.get(path)
        assert page.status_code == 200 and "<title>" in page.text, path
    assert 'name="lr_policy"' in client.get("/models/new").text
    for path in ("/datasets/nope", "/jobs/nope", "/models/nope"):
        assert client.get(path).status_code == 404
    assert client.get("/vendor/plotly.min.js").status_code == 200
    assert "/api/jobs" in client.get("/openapi.json").json()["paths"]


def test_token_required_on_every_request(workspace: Workspace, tmp_path: Path) -> None:
    client = _client(workspace, tmp_path, token=TOKEN)
    assert "access token" in api_error(client.get("/api/jobs"), 401)
    assert client.get("/").status_code == 401
    assert client.get("/api/jobs", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/api/jobs", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    first = client.get(f"/?token={TOKEN}")
    assert first.status_code == 200
    assert client.get("/api/jobs").status_code == 200  # the cookie set by the first visit


def test_public_host_needs_a_long_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LUMOS_TOKEN", raising=False)
    assert check_exposure("127.0.0.1", None) is None
    with pytest.raises(ServerError, match="give --token"):
        check_exposure("0.0.0.0", None)
    with pytest.raises(ServerError, match="at least 16 characters"):
        check_exposure("0.0.0.0", "short")
    monkeypatch.setenv("LUMOS_TOKEN", TOKEN)
    assert check_exposure("0.0.0.0", None) == TOKEN


def test_cli_ui_refuses_public_host_without_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, workspace: Workspace
) -> None:
    monkeypatch.delenv("LUMOS_TOKEN", raising=False)
    code, _, err = run_cli(monkeypatch, capsys, "ui", "--host", "0.0.0.0")
    assert code == 2
    assert "give --token" in err and "Traceback" not in err


def test_uploaded_image_file_name_cannot_escape(
    client: TestClient, workspace: Workspace, colours: str, tmp_path: Path
) -> None:
    name = _trained_model(workspace)
    response = client.post(
        f"/api/models/{name}/predict", files={"image": ("../../escape.png", _png(), "image/png")}
    )
    assert response.status_code == 200
    assert not (workspace.root / "escape.png").exists() and not (tmp_path / "escape.png").exists()


def test_layer_views_and_augmentation_preview(
    client: TestClient, workspace: Workspace, colours: str
) -> None:
    name = _trained_model(workspace)
    image = {"image": ("red.png", _png(), "image/png")}
    layers = client.post(f"/api/models/{name}/layers", files=image).json()
    convolution = next(layer for layer in layers if layer["kind"] == "Conv2d")
    assert convolution["weights"]["picture"].startswith("data:image/png;base64,")
    assert len(convolution["activations"]["histogram"]["counts"]) == 30
    assert convolution["activations"]["std"] > 0
    assert layers[-1]["kind"] == "Linear" and layers[-1]["output_shape"] == [3]
    bad = {"image": ("bad.png", b"nope", "image/png")}
    assert "bad.png" in api_error(client.post(f"/api/models/{name}/layers", files=bad), 400)

    recipe = {"dataset": colours, "network": "lenet5", "batch_size": 4, "rotation": 30}
    preview = client.post("/api/augment-preview", json=recipe).json()["picture"]
    picture = Image.open(io.BytesIO(base64.b64decode(preview.split(",", 1)[1])))
    assert picture.size == (6 * 96 + 8, 4 * 96)
    missing = {**recipe, "dataset": "nope"}
    assert "no dataset named" in api_error(client.post("/api/augment-preview", json=missing), 404)
    assert "rotation" in api_error(
        client.post("/api/augment-preview", json={**recipe, "rotation": 500}), 400
    )


def test_classify_many_gives_per_class_accuracy(
    client: TestClient, workspace: Workspace, colours: str, tmp_path: Path
) -> None:
    name = _trained_model(workspace)
    folder = colour_folders(tmp_path / "check", per_class=4)
    (folder / "unsorted.png").write_bytes(_png((20, 20, 230)))
    (folder / "red" / "broken.png").write_bytes(b"not an image")
    result = client.post(f"/api/models/{name}/classify-many", data={"path": str(folder)}).json()
    assert len(result["images"]) == 14
    assert result["per_class"]["red"]["images"] == 4  # the broken file is listed, not counted
    assert {row["truth"] for row in result["images"]} == {"red", "green", "blue", None}
    assert result["accuracy"] >= 0.9
    assert next(r for r in result["images"] if r["file"] == "red/broken.png")["error"]
    uploads = [("images", (f"{i}.png", _png(), "image/png")) for i in range(2)]
    uploaded = client.post(f"/api/models/{name}/classify-many", files=uploads).json()
    assert [r["top"][0]["label"] for r in uploaded["images"]] == ["red", "red"]
    assert uploaded["accuracy"] is None and uploaded["per_class"] == {}
    many = f"/api/models/{name}/classify-many"
    assert "either a folder or some images" in api_error(client.post(many), 400)
    assert "outside the folders" in api_error(client.post(many, data={"path": "/etc"}), 400)
    assert "not a folder" in api_error(
        client.post(many, data={"path": str(folder / "unsorted.png")}), 400
    )


def test_detector_and_segmenter_answers_are_drawn(
    client: TestClient, workspace: Workspace, tmp_path: Path
) -> None:
    coco_with_negatives_and_crowds(tmp_path / "coco", workspace)
    import_squares(tmp_path / "squares", workspace, test_percent=0)
    recipes = {
        "boxes": Recipe(dataset="crowded", network="fcos_resnet18_fpn", epochs=1, batch_size=4),
        "masks": Recipe(dataset="squares", network="unet", epochs=1, batch_size=8),
    }
    for name, recipe in recipes.items():
        job = queue_training(recipe.model_copy(update={"workers": 0}), workspace)
        assert run_job(workspace, job.id) == 0, open_job(workspace, job.id).error
        bundle_from_job(job.id, name, workspace=workspace)
    image = {"image": ("scene.png", (tmp_path / "coco" / "1.png").read_bytes(), "image/png")}
    boxes = client.post("/api/models/boxes/predict", files=image).json()
    assert boxes["task"] == "detection" and boxes["picture"].startswith("data:image/png")
    assert all(set(o) == {"label", "score", "box"} for o in boxes["objects"])
    square = {
        "image": ("sq.png", (tmp_path / "squares" / "images" / "0.png").read_bytes(), "image/png")
    }
    masks = client.post("/api/models/masks/predict", files=square).json()
    assert masks["task"] == "segmentation" and sum(masks["shares"].values()) == pytest.approx(1)
    assert "is a detector: classify many needs a classifier" in api_error(
        client.post(
            "/api/models/boxes/classify-many", files=[("images", ("a.png", _png(), "image/png"))]
        ),
        400,
    )
    tile = client.get("/api/datasets/crowded/records/1.png")
    assert tile.status_code == 200  # boxes drawn on the explorer tile
    # The Deploy card: precision for every task, pruning for classifiers only.
    assert client.get("/api/models/boxes").json()["prunable"] is False
    pruned = client.post("/api/optimize", json={"model": "boxes", "prune": 0.5})
    assert "is a detector: pruning covers classifiers" in api_error(pruned, 400)
    queued = client.post("/api/optimize", json={"model": "masks", "precision": "int8-dynamic"})
    assert queued.status_code == 202
    assert run_job(workspace, queued.json()["id"]) == 0
    assert Bundle.load("masks", workspace).meta.artefacts["int8-dynamic"]["metric"] == "mIoU"


@pytest.mark.parametrize(
    "path",
    [
        "/api/jobs/{}/events",
        "/api/jobs/{}/log",
        "/api/jobs/{}/metrics",
        "/api/jobs/{}/clone",
        "/api/jobs/{}/report",
    ],
)
def test_job_endpoints_name_a_missing_job(client: TestClient, path: str) -> None:
    assert "no job 'train-0-none'" in api_error(client.get(path.format("train-0-none")), 404)


def test_published_weights_and_the_preset_from_the_web(client: TestClient, colours: str) -> None:
    weights = client.get("/api/networks/resnet18/weights").json()
    assert [w["spec"] for w in weights] == ["torchvision:resnet18.IMAGENET1K_V1"]
    assert weights[0]["reported"] == "acc@1 69.8 on ImageNet-1K" and weights[0]["file_mb"] > 40
    assert client.get("/api/networks/lenet5/weights").json() == []
    assert "unknown network" in api_error(client.get("/api/networks/nosuch/weights"), 404)
    chosen = client.post("/api/preset", json={"dataset": colours, "time_limit": 1e-9}).json()
    assert chosen["recipe"]["network"] == "resnet18"  # nothing fits: the cheapest
    assert chosen["said"][0].startswith("preset finetune: resnet18 from torchvision:resnet18.")
    assert "no dataset" in api_error(client.post("/api/preset", json={"dataset": "nosuch"}), 404)
    for body in ({}, {"dataset": 5}, {"dataset": colours, "time_limit": -1}, [1]):
        api_error(client.post("/api/preset", json=body), 422)
    hub = client.get(f"/api/datasets/{colours}/transfer", params={"hub": "resnet5O"})
    assert "(nearest: resnet50" in api_error(hub, 400)
