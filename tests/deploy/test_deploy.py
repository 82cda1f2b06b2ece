import csv
import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from helpers import (
    PYTHON_NETWORK,
    colour_labels,
    colours_recipe,
    import_squares,
    lenet_workspace,
    run_cli,
    square_boxes,
    squares_recipe,
)
from lumos.data import Dataset, import_dataset
from lumos.deploy import Bundle, BundleError, list_bundles, remove_bundle
from lumos.deploy.from_job import bundle_from_job
from lumos.errors import NotFoundError
from lumos.evaluate import run_evaluation
from lumos.train import Recipe, train
from lumos.workspace import Workspace


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    return lenet_workspace(tmp_path_factory.mktemp("deploy") / "workspace")


def test_bundle_carries_everything_needed(home: Workspace, tmp_path: Path) -> None:
    bundle = Bundle.load("lenet", home)
    assert bundle.labels == [str(d) for d in range(10)]
    assert bundle.preprocessing.size == (28, 28) and bundle.preprocessing.channels == 1
    provenance = bundle.meta.provenance
    assert provenance["dataset"] == "digits" and len(provenance["fingerprint"]) == 64
    assert bundle.meta.metrics["val_accuracy"] > 0.85
    portable = bundle.save(tmp_path / "lenet")
    assert portable.suffix == ".lumos"
    again = Bundle.load(portable)
    assert again.meta == bundle.meta
    assert all(np.array_equal(again.weights[k], v) for k, v in bundle.weights.items())
    assert [row["name"] for row in list_bundles(home)] == ["lenet"]


def test_predict_arrays_files_and_folders(home: Workspace, tmp_path: Path) -> None:
    bundle = Bundle.load("lenet", home)
    test = Dataset.open("digits", home).split("test")
    arrays = [s.image for s in test][:40]
    truth = [test.classes[s.label] for s in test][:40]
    predictions = bundle.predict(arrays, top=3)
    assert len(predictions[0].top) == 3 and predictions[0].top[0][1] >= predictions[0].top[1][1]
    correct = sum(p.labels == [t] for p, t in zip(predictions, truth, strict=True))
    assert correct >= 34
    folder = tmp_path / "inbox"
    folder.mkdir()
    rgba = np.dstack([np.repeat(arrays[0], 3, axis=2), np.full((28, 28, 1), 255, np.uint8)])
    Image.fromarray(rgba, "RGBA").save(folder / "rgba.png")
    Image.fromarray(arrays[0][:, :, 0]).resize((56, 56)).save(folder / "big gray.png")
    (folder / "broken.png").write_bytes(b"\x89PNG broken")
    results = {Path(p.source).name: p for p in bundle.predict([folder])}
    assert (
        results["broken.png"].error.startswith("not an image")
        or "corrupt" in results["broken.png"].error
    )
    assert results["rgba.png"].labels == results["big gray.png"].labels == [truth[0]]


def test_cli_predict_formats(
    home: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("LUMOS_HOME", str(home.root))
    image = tmp_path / "eight.png"
    sample = next(s for s in Dataset.open("digits", home).split("test") if s.label == 8)
    Image.fromarray(sample.image[:, :, 0]).save(image)
    code, out, _ = run_cli(monkeypatch, capsys, "predict", "lenet", str(image), "--top", "2")
    assert (
        code == 0
        and out.splitlines()[1].strip().startswith("8  ")
        and out.splitlines()[1].strip().endswith("%")
    )
    code, out, _ = run_cli(monkeypatch, capsys, "predict", "lenet", str(image), "--format", "json")
    assert json.loads(out)[0]["top"][0]["label"] == "8"
    code, out, _ = run_cli(monkeypatch, capsys, "predict", "lenet", str(image), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["label"] == "8" and len(rows) == 5
    (tmp_path / "bad.jpg").write_bytes(b"")
    code, _, err = run_cli(monkeypatch, capsys, "predict", "lenet", str(tmp_path / "bad.jpg"))
    assert code == 2 and "bad.jpg: empty file (0 bytes)" in err
    code, _, err = run_cli(monkeypatch, capsys, "predict", "nomodel", str(image))
    assert code == 2 and "no model named 'nomodel'" in err


def test_evaluation_report(home: Workspace, tmp_path: Path) -> None:
    report, folder = run_evaluation(
        "lenet", "digits", "test", out=tmp_path / "report", workspace=home
    )
    assert report.metrics["top1"] > 0.85 and report.metrics["top5"] >= report.metrics["top1"]
    assert 0 <= report.metrics["ece"] < 0.2
    matrix = np.loadtxt(folder / "confusion.csv", delimiter=",", skiprows=1, usecols=range(1, 11))
    assert (
        matrix.sum() == report.metrics["records"] == len(Dataset.open("digits", home).split("test"))
    )
    assert np.trace(matrix) / matrix.sum() == pytest.approx(report.metrics["top1"])
    for name in (
        "confusion.png",
        "top_losses.png",
        "calibration.png",
        "per_class.csv",
        "metrics.json",
    ):
        assert (folder / name).stat().st_size > 0
    assert Image.open(folder / "top_losses.png").size[0] == 4 * 128
    with pytest.raises(Exception, match="has no val records|no val"):
        import_dataset(
            "sample:digits", "tiny", workspace=home, val_percent=0, test_percent=0, max_per_class=3
        )
        run_evaluation("lenet", "tiny", "val", workspace=home)


def test_cli_eval(
    home: Workspace, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("LUMOS_HOME", str(home.root))
    code, out, _ = run_cli(
        monkeypatch, capsys, "eval", "lenet", "--data", "digits", "--split", "val"
    )
    assert code == 0 and "digits val: top1 0." in out and "report in" in out
    code, _, err = run_cli(
        monkeypatch, capsys, "eval", "lenet", "--data", "digits", "--split", "dev"
    )
    assert code == 2 and "unknown split 'dev'" in err


def test_cli_eval_on_a_dataset_of_another_task_says_what_fits(
    home: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import_dataset(square_boxes(tmp_path / "squares"), "boxes", workspace=home)
    monkeypatch.setenv("LUMOS_HOME", str(home.root))
    code, _, err = run_cli(monkeypatch, capsys, "eval", "lenet", "--data", "boxes")
    assert code == 2 and "Traceback" not in err
    assert (
        "model 'lenet' is a classifier and dataset 'boxes' has no class labels; "
        "datasets that fit: digits" in err
    )


@pytest.mark.parametrize("content", [{}, {"notes.txt": "not an image"}])
def test_cli_predict_on_a_folder_without_images_says_so(
    home: Workspace,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    content: dict[str, str],
) -> None:
    folder = tmp_path / "inbox"
    folder.mkdir()
    for name, text in content.items():
        (folder / name).write_text(text)
    monkeypatch.setenv("LUMOS_HOME", str(home.root))
    code, _, err = run_cli(monkeypatch, capsys, "predict", "lenet", str(folder))
    assert code == 2 and f"{folder}: no image found in this folder" in err


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def test_bad_bundles(home: Workspace, tmp_path: Path) -> None:
    good = Bundle.load("lenet", home).save(tmp_path / "good.lumos")
    raw = good.read_bytes()
    (tmp_path / "cut.lumos").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(BundleError, match="cut.lumos: not a lumos bundle or truncated"):
        Bundle.load(tmp_path / "cut.lumos")
    (tmp_path / "text.lumos").write_text("hello")
    with pytest.raises(BundleError, match="not a lumos bundle"):
        Bundle.load(tmp_path / "text.lumos")
    with zipfile.ZipFile(good) as archive:
        meta, weights = json.loads(archive.read("bundle.json")), archive.read("weights.safetensors")
    evil = _zip(tmp_path / "evil.lumos", {"bundle.json": b"{}", "../weights.safetensors": weights})
    with pytest.raises(BundleError, match="not a lumos bundle"):
        Bundle.load(evil)
    future = _zip(
        tmp_path / "future.lumos",
        {
            "bundle.json": json.dumps({**meta, "lumos_bundle": 99}).encode(),
            "weights.safetensors": weights,
        },
    )
    with pytest.raises(BundleError, match="bundle version 99 is not supported"):
        Bundle.load(future)
    damaged = _zip(
        tmp_path / "damaged.lumos",
        {"bundle.json": json.dumps(meta).encode(), "weights.safetensors": weights[:100]},
    )
    with pytest.raises(BundleError, match="weights are damaged"):
        Bundle.load(damaged)
    other = _zip(tmp_path / "other.lumos", {"bundle.json": b"[1]", "weights.safetensors": weights})
    with pytest.raises(BundleError, match="does not describe a lumos bundle"):
        Bundle.load(other)
    with pytest.raises(BundleError, match="no such bundle"):
        Bundle.load(tmp_path / "missing.lumos")


def test_save_twice_and_remove(home: Workspace) -> None:
    job_id = Bundle.load("lenet", home).meta.provenance["job"]
    with pytest.raises(BundleError, match="model 'lenet' already exists"):
        bundle_from_job(job_id, "lenet", workspace=home)
    bundle_from_job(job_id, "copy", workspace=home)
    remove_bundle("copy", home)
    with pytest.raises(NotFoundError):
        remove_bundle("copy", home)


def test_multi_label_bundle_thresholds_and_metrics(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    colour_labels(tmp_path / "src", workspace, 90, val_percent=20, test_percent=20)
    recipe = colours_recipe()
    job = train(recipe, workspace=workspace, progress=False)
    bundle_from_job(job.id, "colours", workspace=workspace)
    bundle = Bundle.load("colours", workspace)
    assert len(bundle.meta.thresholds) == 2
    magenta = np.full((16, 16, 3), (255, 0, 255), np.uint8)
    assert sorted(bundle.predict([magenta])[0].labels) == ["blue", "red"]
    report, _ = run_evaluation(
        "colours", "colours", "test", out=tmp_path / "r", workspace=workspace
    )
    assert report.metrics["map"] > 0.9 and report.metrics["micro_f1"] > 0.9


def test_bundle_of_a_python_network_needs_trust(home: Workspace, tmp_path: Path) -> None:
    net = tmp_path / "net.py"
    net.write_text(PYTHON_NETWORK)
    recipe = Recipe(dataset="digits", network=str(net), epochs=1, batch_size=32, lr=0.05, workers=0)
    job = train(recipe, workspace=home, progress=False)
    bundle_from_job(job.id, "pynet", workspace=home)
    bundle = Bundle.load("pynet", home)
    image = Dataset.open("digits", home)[0].image
    with pytest.raises(Exception, match="trust its author"):
        bundle.predict([image])
    assert bundle.predict([image], trust_code=True)[0].top


def test_segmentation_bundle_predicts_masks_and_evaluates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    workspace = Workspace(tmp_path / "ws")
    import_squares(tmp_path / "src", workspace, test_percent=20)
    recipe = squares_recipe()
    job = train(recipe, workspace=workspace, progress=False)
    bundle_from_job(job.id, "squares-unet", workspace=workspace)
    bundle = Bundle.load("squares-unet", workspace)
    assert bundle.meta.task == "segmentation" and bundle.labels == ["background", "square"]
    report, folder = run_evaluation(
        "squares-unet", "squares", "test", out=tmp_path / "eval", workspace=workspace
    )
    assert report.metrics["miou"] > 0.7 and (folder / "per_class.csv").is_file()
    monkeypatch.setenv("LUMOS_HOME", str(workspace.root))
    code, out, err = run_cli(
        monkeypatch,
        capsys,
        "predict",
        "squares-unet",
        str(tmp_path / "src" / "images" / "0.png"),
        "--out",
        str(tmp_path / "pred"),
    )
    assert code == 0, err
    assert "square" in out
    mask = np.asarray(Image.open(tmp_path / "pred" / "0-mask.png"))
    assert mask.shape == (32, 32) and set(np.unique(mask)) <= {0, 1} and (mask == 1).any()
    assert (tmp_path / "pred" / "0-overlay.png").is_file()
